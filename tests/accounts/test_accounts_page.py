"""The accounts page: filters, experts with their profile, the form's one-time password, the
administrator's reset and bulk actions with letters, the Excel list without passwords (issue #26)."""
from io import BytesIO

from openpyxl import load_workbook

from accounts.helpers import letters_of, read_letters
from factories import AuthActions, csrf_from
from wizard.extensions import db
from wizard.models import AuditEntry, Region, User


def uid(app, username):
    with app.app_context():
        return db.session.execute(db.select(User.id).filter_by(username=username)).scalar_one()


def test_filters_and_expert_profile(app, client, auth, people):
    auth.login("admin")
    page = client.get("/admin/accounts?role=expert").get_data(as_text=True)
    assert "expert-e" in page and "湘潭大学" in page and "所在市州：湘潭市" in page and "county-x" not in page
    with app.app_context():
        changsha = db.session.execute(db.select(Region.id).filter_by(name="长沙市")).scalar_one()
    page = client.get(f"/admin/accounts?region={changsha}").get_data(as_text=True)
    assert "county-x" in page and "applicant-a" in page and "county-y" not in page
    page = client.get("/admin/accounts?status=disabled").get_data(as_text=True)
    assert "没有符合条件的账号" in page


def test_a_new_account_from_the_form_gets_a_one_time_password_and_its_letter(app, client, auth, people):
    auth.login("admin")
    token = csrf_from(client.get("/admin/accounts/new"))
    with app.app_context():
        city = db.session.execute(db.select(Region.id).filter_by(name="岳阳市")).scalar_one()
    r = client.post("/admin/accounts/new", data={"csrf_token": token, "username": "expert-new", "role": "expert",
                                                 "cluster_id": 0, "region_id": city, "employer": "湖南理工学院",
                                                 "expert_categories": "sme", "display_name": "钱专家",
                                                 "phone": "13900001111", "active": "y"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "letters-download" in page
    [(username, password, text)] = read_letters(letters_of(page))
    assert username == "expert-new" and "湖南理工学院" in text and "岳阳市" in text
    assert AuthActions(app.test_client()).login("expert-new", password).headers["Location"].endswith("/account/password")


def test_reset_and_bulk_actions(app, client, auth, people):
    auth.login("admin")
    victim = app.test_client()
    AuthActions(victim).login("county-x")
    token = csrf_from(client.get("/admin/accounts"))
    r = client.post(f"/admin/accounts/{uid(app, 'county-x')}/reset", data={"csrf_token": token})
    [(_, password, _)] = read_letters(letters_of(r.get_data(as_text=True)))
    assert victim.get("/county/").status_code == 302  # the old session ended
    assert AuthActions(app.test_client()).login("county-x", "correct-horse-9").status_code == 200
    r = client.post("/admin/accounts/bulk", data={"csrf_token": token, "action": "disable",
                                                  "ids": [uid(app, "county-y"), uid(app, "admin")]})
    assert r.status_code == 302
    with app.app_context():
        assert not db.session.execute(db.select(User).filter_by(username="county-y")).scalar_one().active
        assert db.session.execute(db.select(User).filter_by(username="admin")).scalar_one().active  # never oneself
    # disabling one person leaves the others of the organisation working
    assert AuthActions(app.test_client()).login("county-y").status_code == 200
    r = client.post("/admin/accounts/bulk", data={"csrf_token": token, "action": "reset",
                                                  "ids": [uid(app, "applicant-a"), uid(app, "applicant-b")]})
    assert [u for u, _, _ in read_letters(letters_of(r.get_data(as_text=True)))] == ["applicant-a", "applicant-b"]
    with app.app_context():
        actions = set(db.session.execute(db.select(AuditEntry.action)).scalars())
        assert {"password_reset", "account_disable", "account_reset"} <= actions


def test_the_excel_list_never_holds_a_password(app, client, auth, people):
    auth.login("admin")
    r = client.get("/admin/accounts/export.xlsx?role=county")
    ws = load_workbook(BytesIO(r.data)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0][0] == "用户名" and {r[0] for r in rows[1:]} == {"county-x", "county-y"}
    with app.app_context():
        hashes = set(db.session.execute(db.select(User.password_hash)).scalars())
    assert not any(str(v) in hashes for row in rows for v in row)
