"""Session timeouts (idle and absolute) and login throttling (per account, per address).

Time is moved by rewriting the session's stamps and the attempts' times, never by sleeping."""
from datetime import datetime, timedelta, timezone

import pytest

from factories import PASSWORD, csrf_from
from wizard.extensions import db
from wizard.models import AuditEntry, LoginAttempt

LOCKED = "登录失败次数过多"


def now_ts():
    return int(datetime.now(timezone.utc).timestamp())


def age_session(client, *, idle=None, since_login=None):
    """Pretend the last request was ``idle`` ago and the login ``since_login`` ago."""
    with client.session_transaction() as s:
        if idle is not None:
            s["_seen_at"] = now_ts() - int(idle.total_seconds())
        if since_login is not None:
            s["_auth_at"] = now_ts() - int(since_login.total_seconds())


def assert_sent_to_login(client, path="/applicant/"):
    r = client.get(path)
    assert r.status_code == 302 and "/login" in r.headers["Location"], r.status_code
    return r


# --- timeouts ---------------------------------------------------------------------------

def test_idle_timeout_logs_out_with_a_chinese_notice(app, client, auth, people):
    auth.login("applicant-a")
    idle = app.config["SESSION_IDLE_TIMEOUT"]
    age_session(client, idle=idle + timedelta(seconds=30))
    r = assert_sent_to_login(client)
    assert "next=/applicant/" in r.headers["Location"]  # back to the same page after logging in
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "登录已超时，请重新登录。" in page
    # the session is gone, not just this one request
    assert_sent_to_login(client)
    assert auth.login("applicant-a").status_code == 302
    assert client.get("/applicant/").status_code == 200


def test_activity_inside_the_idle_window_keeps_the_session(app, client, auth, people):
    auth.login("applicant-a")
    idle = app.config["SESSION_IDLE_TIMEOUT"]
    age_session(client, idle=idle - timedelta(minutes=2))
    assert client.get("/applicant/").status_code == 200
    with client.session_transaction() as s:
        assert now_ts() - s["_seen_at"] < 60  # the request renewed the idle stamp
    age_session(client, since_login=timedelta(0))
    # another almost-full idle period later the user is still logged in, because of that request
    age_session(client, idle=idle - timedelta(minutes=2))
    assert client.get("/applicant/").status_code == 200


def test_absolute_timeout_ends_even_an_active_session(app, client, auth, people):
    auth.login("county-x")
    limit = app.config["SESSION_ABSOLUTE_TIMEOUT"]
    age_session(client, idle=timedelta(seconds=10), since_login=limit - timedelta(minutes=1))
    assert client.get("/county/").status_code == 200
    age_session(client, idle=timedelta(seconds=10), since_login=limit + timedelta(minutes=1))
    r = assert_sent_to_login(client, "/county/")
    assert "登录已超时" in client.get(r.headers["Location"]).get_data(as_text=True)


def test_timeouts_come_from_the_configuration(app, client, auth, people):
    app.config["SESSION_IDLE_TIMEOUT"] = timedelta(minutes=5)
    auth.login("admin")
    age_session(client, idle=timedelta(minutes=4))
    assert client.get("/admin/").status_code == 200
    age_session(client, idle=timedelta(minutes=6))
    assert_sent_to_login(client, "/admin/")


def test_expired_session_cannot_post(app, client, auth, people):
    """A state change posted from an expired session is not carried out."""
    auth.login("admin")
    token = auth.csrf("/admin/accounts/new")
    age_session(client, idle=app.config["SESSION_IDLE_TIMEOUT"] + timedelta(minutes=1))
    r = client.post("/admin/accounts/new", data={"csrf_token": token, "username": "made-after-expiry",
                                                 "role": "admin", "cluster_id": 0, "region_id": 0,
                                                 "password": "password-123", "active": "y"})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    with app.app_context():
        from wizard.models import User

        assert db.session.execute(db.select(User).filter_by(username="made-after-expiry")).scalar_one_or_none() is None


# --- throttling -------------------------------------------------------------------------

def login_from(client, username, password, address="127.0.0.1"):
    env = {"REMOTE_ADDR": address}
    token = csrf_from(client.get("/login", environ_base=env))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base=env)


def test_account_is_locked_after_repeated_failures(app, client, people):
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    minutes = int(app.config["LOGIN_THROTTLE_WINDOW"].total_seconds() // 60)
    for i in range(limit):
        page = login_from(client, "applicant-a", f"wrong-{i}").get_data(as_text=True)
        assert "用户名或密码错误" in page and LOCKED not in page
    # now even the right password is refused, with a Chinese message saying when to retry
    r = login_from(client, "applicant-a", PASSWORD)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and f"登录失败次数过多，请 {minutes} 分钟后再试。" in page
    assert client.get("/applicant/").status_code == 302  # not logged in
    # the lock is on the account: another address is refused too …
    assert LOCKED in login_from(app.test_client(), "applicant-a", PASSWORD, "10.9.9.9").get_data(as_text=True)
    # … while other accounts from the same address still log in
    assert login_from(app.test_client(), "applicant-b", PASSWORD).status_code == 302
    with app.app_context():
        throttled = db.session.execute(db.select(AuditEntry).filter_by(action="login_throttled")).scalars().all()
        assert [e.target for e in throttled] == ["applicant-a", "applicant-a"]


def test_address_is_locked_after_failures_on_many_accounts(app, client, people):
    limit = app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    attacker = "203.0.113.7"
    for i in range(limit):
        login_from(client, f"guess-{i}", "whatever-1", attacker)  # a different account each time
    page = login_from(client, "county-x", PASSWORD, attacker).get_data(as_text=True)
    assert LOCKED in page and "分钟后再试" in page
    # the same account from another address is fine: only the address is locked
    assert login_from(app.test_client(), "county-x", PASSWORD, "198.51.100.1").status_code == 302


def test_login_works_again_after_the_window(app, client, people):
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for i in range(limit):
        login_from(client, "county-y", f"wrong-{i}")
    assert LOCKED in login_from(client, "county-y", PASSWORD).get_data(as_text=True)
    window = app.config["LOGIN_THROTTLE_WINDOW"]
    with app.app_context():  # the window passes
        for row in db.session.execute(db.select(LoginAttempt)).scalars():
            row.at = row.at - window - timedelta(minutes=1)
        db.session.commit()
    r = login_from(client, "county-y", PASSWORD)
    assert r.status_code == 302 and r.headers["Location"].endswith("/county/")
    assert client.get("/county/").status_code == 200


@pytest.mark.parametrize("failures,locked", [(4, False), (5, True)])
def test_only_failures_inside_the_window_count(app, client, people, failures, locked):
    """Old failures do not count: four recent ones leave the account open, five lock it."""
    window = app.config["LOGIN_THROTTLE_WINDOW"]
    with app.app_context():
        from wizard.models import utcnow

        old = utcnow() - window - timedelta(minutes=5)
        db.session.add_all([LoginAttempt(username="admin", address="127.0.0.1", success=False, at=old)
                            for _ in range(10)])
        db.session.add_all([LoginAttempt(username="admin", address="10.1.1.1", success=False)
                            for _ in range(failures)])
        db.session.commit()
    page = login_from(client, "admin", PASSWORD).get_data(as_text=True)
    assert (LOCKED in page) is locked
