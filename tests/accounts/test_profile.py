"""Self-service profile (issue #26): every user changes their own 姓名, 手机 and 邮箱."""
import re

import pytest

from factories import AuthActions, csrf_from
from wizard.extensions import db
from wizard.models import AuditEntry, User


def user_row(app, username):
    with app.app_context():
        u = db.session.execute(db.select(User).filter_by(username=username)).scalar_one()
        return u.display_name, u.phone, u.email


def save(client, **data):
    token = csrf_from(client.get("/account/profile"))
    return client.post("/account/profile", data={"csrf_token": token, **data})


@pytest.mark.parametrize("username", ["applicant-a", "county-x", "admin", "expert-e"])
def test_the_header_links_to_the_profile_and_every_role_can_change_it(app, client, auth, people, username):
    auth.login(username)
    page = client.get("/messages").get_data(as_text=True)
    assert 'href="/account/profile"' in page and "个人信息" in page and "修改密码" in page
    r = save(client, display_name="张 三", phone="138 0000 1234", email=" zhangsan@hunan.gov.cn ")
    assert r.status_code == 302
    assert "个人信息已保存" in client.get(r.headers["Location"]).get_data(as_text=True)
    assert user_row(app, username) == ("张 三", "13800001234", "zhangsan@hunan.gov.cn")
    with app.app_context():
        entry = db.session.execute(db.select(AuditEntry).filter_by(action="profile_saved")).scalar_one()
        assert entry.username == username and "姓名" in entry.detail and "邮箱" in entry.detail
    # the header now names the person
    assert "张 三" in client.get("/messages").get_data(as_text=True)


@pytest.mark.parametrize("field, value, message", [
    ("phone", "12345", "不是有效的手机号"),
    ("phone", "1380000123x", "不是有效的手机号"),
    ("email", "zhangsan-at-hunan", "不是有效的电子邮箱地址"),
    ("email", "a@b", "不是有效的电子邮箱地址"),
    ("display_name", "", "请填写姓名"),
])
def test_a_bad_value_is_refused_and_what_was_typed_is_kept(app, client, auth, people, field, value, message):
    auth.login("county-x")
    before = user_row(app, "county-x")
    data = {"display_name": "李四", "phone": "0731-88886666", "email": "lisi@example.cn", field: value}
    r = save(client, **data)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and message in page
    for typed in data.values():
        if typed:
            assert f'value="{typed}"' in page
    assert user_row(app, "county-x") == before


def test_a_landline_and_empty_contacts_are_accepted(app, client, auth, people):
    auth.login("applicant-a")
    assert save(client, display_name="王五", phone="0731-88886666-123", email="").status_code == 302
    assert user_row(app, "applicant-a") == ("王五", "0731-88886666-123", "")


def test_without_the_csrf_token_nothing_changes(app, client, auth, people):
    auth.login("county-x")
    before = user_row(app, "county-x")
    r = client.post("/account/profile", data={"display_name": "攻击者", "phone": "", "email": ""})
    assert r.status_code == 400 and user_row(app, "county-x") == before


def test_the_profile_changes_only_ones_own_account(app, client, auth, people):
    auth.login("county-x")
    other = user_row(app, "county-y")
    save(client, display_name="赵六", phone="", email="", username="county-y", id="4")
    assert user_row(app, "county-y") == other and user_row(app, "county-x")[0] == "赵六"


def test_anonymous_visitors_are_sent_to_the_login_page(client, people):
    r = client.get("/account/profile")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


# --- several people per organisation: who did it is named with the organisation ---------------

def rename(app, **names):
    with app.app_context():
        for username, name in names.items():
            db.session.execute(db.select(User).filter_by(username=username)).scalar_one().display_name = name
        db.session.commit()


def test_the_audit_log_and_the_history_name_the_person_and_the_organisation(app, people, world):
    rename(app, **{"applicant-a": "张三", "county-x": "李四"})
    county = app.test_client()
    assert AuthActions(county).login("county-x").status_code == 302
    history = county.get(f"/county/submissions/{world['submission_id']}").get_data(as_text=True)
    who = re.search(r'<td class="history-who">(.*?)</td>', history, re.S).group(1)
    assert "张三（长沙新型合金材料产业集群）" in who  # the world's submit move, by applicant A
    admin = app.test_client()
    AuthActions(admin).login("admin")
    log = admin.get("/admin/audit/?action=login").get_data(as_text=True)
    rows = re.findall(r'<td class="audit-who">(.*?)</td>', log, re.S)
    assert any("李四（长沙市人民政府）" in r and "county-x" in r for r in rows)
    assert any("admin（湖南省工业和信息化厅）" in r for r in rows)
