"""One-time passwords (账号通知书) and the forced change at the first login (issue #26)."""
from datetime import timedelta

import pytest

from factories import AuthActions, csrf_from
from wizard.accounts import PASSWORD_ALPHABET, generate_password, issue_one_time_password, password_problems
from wizard.extensions import db
from wizard.models import AuditEntry, User

LOOK_ALIKES = set("0Oo1lIi")


def one_time(app, username) -> str:
    """Give an account of the people fixture a one-time password, as the administrator's reset does."""
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one()
        password = issue_one_time_password(user)
        db.session.commit()
        return password


def test_generated_passwords_are_long_random_and_without_look_alikes():
    seen = {generate_password() for _ in range(500)}
    assert len(seen) == 500
    for password in seen:
        assert len(password) >= 12 and not LOOK_ALIKES & set(password) and set(password) <= set(PASSWORD_ALPHABET)


def test_the_password_is_stored_only_as_a_hash(app, people):
    password = one_time(app, "county-x")
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(username="county-x")).scalar_one()
        assert password not in user.password_hash and user.password_one_time and user.check_password(password)


def test_first_login_leads_to_the_new_password_page_and_nothing_else(app, client, auth, people, world):
    password = one_time(app, "county-x")
    r = auth.login("county-x", password)
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/password")
    page = client.get("/account/password").get_data(as_text=True)
    assert "首次登录：设置新密码" in page and "10,000" in page and "至少 10 个字符" in page  # rules before typing
    for url in ("/county/", "/messages", f"/submissions/{world['submission_id']}", "/"):
        r = client.get(url)
        assert r.status_code in (302, 303) and r.headers["Location"].endswith("/account/password"), url
    # a POST elsewhere is refused: nothing carried out
    token = csrf_from(client.get("/account/password"))
    r = client.post(f"/submissions/{world['submission_id']}/move",
                    data={"csrf_token": token, "move": "county_approve", "comment": "同意"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/account/password")
    assert "请先设置新密码" in client.get("/account/password").get_data(as_text=True)
    with app.app_context():
        assert not db.session.execute(db.select(AuditEntry).filter(AuditEntry.action.like("move%"))).scalars().all()


@pytest.mark.parametrize("new, message", [
    ("short-9", "至少 10 个字符"),
    ("county-x", "至少 10 个字符"),
    ("qwertyuiop", "最常见的密码"),
    ("1234567890", "最常见的密码"),
    ("Password123", "最常见的密码"),
])
def test_a_new_password_breaking_a_rule_is_refused(app, client, auth, people, new, message):
    password = one_time(app, "county-x")
    auth.login("county-x", password)
    token = csrf_from(client.get("/account/password"))
    r = client.post("/account/password", data={"csrf_token": token, "current": password, "new": new, "confirm": new})
    assert r.status_code == 200 and message in r.get_data(as_text=True)
    assert client.get("/county/").status_code == 302  # still held at the new-password page


def test_the_username_and_the_one_time_password_itself_are_refused(app, client, auth, people):
    with app.app_context():
        user = User(username="zhangsan-county", role="county")
        user.region_id = db.session.execute(db.select(User.region_id).filter_by(username="county-x")).scalar_one()
        password = issue_one_time_password(user)
        db.session.add(user)
        db.session.commit()
    auth.login("zhangsan-county", password)
    token = csrf_from(client.get("/account/password"))
    for new, message in (("ZhangSan-County", "不能与用户名相同"), (password, "不能与当前密码相同")):
        r = client.post("/account/password", data={"csrf_token": token, "current": password, "new": new,
                                                    "confirm": new})
        assert message in r.get_data(as_text=True), new


def test_after_the_change_everything_works_and_the_old_password_is_dead(app, client, auth, people):
    password = one_time(app, "county-x")
    auth.login("county-x", password)
    token = csrf_from(client.get("/account/password"))
    r = client.post("/account/password", data={"csrf_token": token, "current": password,
                                                "new": "湘江北去-橘子洲头-1925", "confirm": "湘江北去-橘子洲头-1925"})
    assert r.status_code == 302
    assert client.get("/county/").status_code == 200
    fresh = AuthActions(app.test_client())
    assert fresh.login("county-x", password).status_code == 200  # refused
    assert fresh.login("county-x", "湘江北去-橘子洲头-1925").headers["Location"].endswith("/county/")
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(username="county-x")).scalar_one()
        assert not user.password_one_time and user.last_login_at is not None


def test_an_expired_one_time_password_cannot_log_in_and_says_whom_to_ask(app, client, auth, people):
    password = one_time(app, "county-x")
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(username="county-x")).scalar_one()
        user.password_set_at -= timedelta(days=15)
        db.session.commit()
    page = auth.login("county-x", password).get_data(as_text=True)
    assert "已过期" in page and app.config["ACCOUNT_HELP"] in page and "有效期 14 天" in page
    assert client.get("/county/").status_code == 302
    app.config["ONE_TIME_PASSWORD_DAYS"] = 30  # configurable validity
    assert auth.login("county-x", password).headers["Location"].endswith("/account/password")


def test_the_common_password_list_ships_with_the_package():
    assert password_problems("iloveyou12") == ["这是最常见的密码之一，很容易被猜中，请换一个。"]
    assert password_problems("岳麓山下-爱晚亭前-枫林") == []
