"""Session timeouts (idle and absolute) and login throttling (per account, per address).

Time is moved by rewriting the session's stamps and the attempts' times, never by sleeping."""
from datetime import timedelta

import pytest

from factories import LOCKED, PASSWORD, AuthActions, age_session, csrf_from, login_from, now_ts
from wizard.extensions import db
from wizard.models import AuditEntry, LoginAttempt

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


def test_timeouts_come_from_the_configuration(app, client, auth, people, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_IDLE_TIMEOUT", timedelta(minutes=5))  # restored after: the shared app is kept
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

def test_account_is_locked_from_one_address_after_repeated_failures(app, client, people):
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
    # the lock is on the (account, address) pair: the real owner elsewhere still logs in …
    assert login_from(app.test_client(), "applicant-a", PASSWORD, "10.9.9.9").status_code == 302
    # … and so do other accounts from the same address
    assert login_from(app.test_client(), "applicant-b", PASSWORD).status_code == 302
    with app.app_context():
        throttled = db.session.execute(db.select(AuditEntry).filter_by(action="login_throttled")).scalars().all()
        assert [e.target for e in throttled] == ["applicant-a"]


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
        db.session.add_all([LoginAttempt(username="admin", address="127.0.0.1", success=False)
                            for _ in range(failures)])
        db.session.commit()
    page = login_from(client, "admin", PASSWORD).get_data(as_text=True)
    assert (LOCKED in page) is locked


# --- sessions end when they should ------------------------------------------------------------

def session_cookie(client):
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def replay(app, value, path):
    """Another browser (the thief's) sending a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", value)
    return thief.get(path)


def assert_replay_goes_to_login(app, value, path):
    r = replay(app, value, path)
    assert r.status_code == 302 and "/login" in r.headers["Location"], (path, r.status_code)


def test_copied_cookie_is_dead_after_logout(app, client, auth, people):
    auth.login("applicant-a")
    copied = session_cookie(client)
    assert replay(app, copied, "/applicant/").status_code == 200  # the copy works while the session lives
    auth.logout()
    assert_replay_goes_to_login(app, copied, "/applicant/")
    assert_replay_goes_to_login(app, copied, "/messages")


def test_copied_cookie_is_dead_after_a_password_change(app, client, auth, people):
    other = app.test_client()  # the same account logged in on another computer
    AuthActions(other).login("county-x")
    copied = session_cookie(other)
    auth.login("county-x")
    token = auth.csrf("/account/password")
    r = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                "new": "brand-new-pass-1", "confirm": "brand-new-pass-1"})
    assert r.status_code == 302
    assert client.get("/county/").status_code == 200  # the browser that changed it stays logged in
    assert_replay_goes_to_login(app, copied, "/county/")
    assert other.get("/county/").status_code == 302


def test_copied_cookie_is_dead_after_the_account_is_disabled(app, client, auth, people):
    victim = app.test_client()
    AuthActions(victim).login("applicant-b")
    copied = session_cookie(victim)
    assert replay(app, copied, "/applicant/").status_code == 200
    auth.login("admin")
    with app.app_context():
        from wizard.models import User

        b = db.session.execute(db.select(User).filter_by(username="applicant-b")).scalar_one()
        form = {"username": b.username, "display_name": b.display_name, "role": "applicant",
                "cluster_id": str(b.cluster_id), "region_id": "0"}  # "active" unticked
        uid = b.id
    r = client.post(f"/admin/accounts/{uid}", data={**form, "csrf_token": auth.csrf("/admin/accounts/new")})
    assert r.status_code == 302
    assert_replay_goes_to_login(app, copied, "/applicant/")
    assert_replay_goes_to_login(app, copied, "/applicant/step/basic")


def test_login_issues_a_fresh_session(app, client, auth, people):
    """Session fixation: whatever the browser carried before logging in is not kept."""
    client.get("/login")
    with client.session_transaction() as s:
        s["planted"] = "by-the-attacker"
        s["_user_id"] = "forged-token"
    before = session_cookie(client)
    assert client.get("/applicant/").status_code == 302  # the forged id logs no one in
    r = auth.login("applicant-a")
    assert r.status_code == 302
    after = session_cookie(client)
    assert after != before
    with client.session_transaction() as s:
        assert "planted" not in s and s.get("_user_id") != "forged-token"
    # the cookie planted before login does not work for the logged-in account
    assert_replay_goes_to_login(app, before, "/applicant/")


@pytest.mark.parametrize("target", ["//evil.com", "//evil.com/applicant/", "https://evil.com", "http://evil.com/x",
                                    "/\\evil.com", "\\\\evil.com", "javascript:alert(1)", " //evil.com",
                                    "https:/evil.com", "evil.com", "/\t/evil.com"])
def test_next_accepts_only_local_paths(app, client, people, target):
    token = csrf_from(client.get("/login"))
    r = client.post("/login", query_string={"next": target},
                    data={"username": "applicant-a", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    assert r.headers["Location"] == "/applicant/", r.headers["Location"]  # ignored: the user's home page


def test_next_keeps_a_local_path(app, client, people):
    token = csrf_from(client.get("/login"))
    r = client.post("/login", query_string={"next": "/applicant/history?x=1"},
                    data={"username": "applicant-a", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/applicant/history?x=1"


# --- cookies ---------------------------------------------------------------------------------

def set_cookie_header(response):
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert headers, "no session cookie set"
    return [p.strip().lower() for p in headers[-1].split(";")]


def test_session_cookie_is_httponly_and_samesite_lax(app, client, people):
    attrs = set_cookie_header(client.get("/login"))
    assert "httponly" in attrs and "samesite=lax" in attrs and "secure" not in attrs
    token = csrf_from(client.get("/login"))
    r = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    attrs = set_cookie_header(r)
    assert "httponly" in attrs and "samesite=lax" in attrs


def test_session_cookie_is_secure_when_configured(app, monkeypatch, people):
    from wizard import create_app

    monkeypatch.setenv("WIZARD_SESSION_COOKIE_SECURE", "1")
    keys = ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "INSTANCE_PATH", "UPLOAD_FOLDER", "PDF_CACHE_FOLDER",
            "PASSWORD_HASH_METHOD")  # the tests' cheap hash (conftest.py), not scrypt's at start-up
    secure_app = create_app({k: app.config[k] for k in keys})
    try:
        assert secure_app.config["SESSION_COOKIE_SECURE"] is True
        client = secure_app.test_client()
        attrs = set_cookie_header(client.get("/login", base_url="https://localhost"))
        assert "secure" in attrs and "httponly" in attrs and "samesite=lax" in attrs
    finally:
        with secure_app.app_context():
            db.engine.dispose()


# --- passwords -------------------------------------------------------------------------------

def test_password_length_and_hash(app, client, auth, people, monkeypatch):
    from wizard.models import User

    from wizard.config import Defaults

    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", Defaults.PASSWORD_HASH_METHOD)  # what production uses
    auth.login("applicant-a")
    token = auth.csrf("/account/password")
    r = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                "new": "1234567", "confirm": "1234567"})
    assert r.status_code == 200 and "新密码至少 10 个字符" in r.get_data(as_text=True)
    long_one = "长密码-Long-x" * 20  # 200 characters
    assert len(long_one) == 200
    r = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                "new": long_one, "confirm": long_one})
    assert r.status_code == 302
    fresh = app.test_client()
    assert AuthActions(fresh).login("applicant-a", "1234567").status_code == 200  # refused one was never set
    assert AuthActions(fresh).login("applicant-a", long_one).status_code == 302
    with app.app_context():
        stored = db.session.execute(db.select(User).filter_by(username="applicant-a")).scalar_one().password_hash
    method = stored.split("$", 1)[0]
    if method.startswith("pbkdf2"):
        assert int(method.split(":")[2]) >= 600_000, method
    else:
        assert method.startswith("scrypt:"), method
        n = int(method.split(":")[1])
        assert n >= 2 ** 14, method
    assert long_one not in stored and "长密码" not in stored


def test_administrator_cannot_set_a_seven_character_password(app, client, auth, people):
    from wizard.models import User

    auth.login("admin")
    token = auth.csrf("/admin/accounts/new")
    r = client.post("/admin/accounts/new", data={"csrf_token": token, "username": "seven-chars", "role": "admin",
                                                 "cluster_id": "0", "region_id": "0", "password": "1234567",
                                                 "active": "y"})
    assert r.status_code == 200 and "密码至少 8 个字符" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(db.select(User).filter_by(username="seven-chars")).scalar_one_or_none() is None
