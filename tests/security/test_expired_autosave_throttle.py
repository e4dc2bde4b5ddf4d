"""Issue #22, item 6: autosaves posted after the login expired are stashed, never counted as
failed logins; the user (and colleagues behind the same address) can still log back in, and
the stash is saved on that login."""
from datetime import timedelta

from factories import (ALLOY, LOCKED, PASSWORD, age_session, login_from, pending_rows, plan_answers,
                       step_token_and_version, submission_of)
from wizard.extensions import db
from wizard.models import LoginAttempt

AUTOSAVES = 30  # about seven minutes of typing: well over the address's failure limit


def expire_idle(app, client):
    age_session(client, idle=app.config["SESSION_IDLE_TIMEOUT"] + timedelta(minutes=1))


def failed_attempts(app):
    with app.app_context():
        return db.session.execute(db.select(db.func.count()).select_from(LoginAttempt)
                                  .where(LoginAttempt.success.is_(False))).scalar_one()


def test_thirty_autosaves_after_expiry_leave_the_login_open_and_the_text_kept(app, client, auth, people):
    assert AUTOSAVES > app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    auth.login("applicant-a")
    token, version = step_token_and_version(client)
    expire_idle(app, client)
    for i in range(AUTOSAVES):
        r = client.post("/applicant/step/plan", headers={"X-Requested-With": "fetch"},
                        data={"csrf_token": token, "version": version, "plan_background": f"过期后第{i}次自动保存"})
        assert r.status_code == 401 and "登录已过期" in r.get_json()["error"], i
    assert failed_attempts(app) == 0
    [row] = pending_rows(app)  # one stash per user, the newest
    assert row.form["plan_background"] == [f"过期后第{AUTOSAVES - 1}次自动保存"]
    # a colleague behind the same address logs in as usual
    other = login_from(app.test_client(), "county-x", PASSWORD)
    assert other.status_code == 302 and LOCKED not in other.get_data(as_text=True)
    # and the user logs back in: the stash is offered and saved
    r = auth.login("applicant-a")
    assert r.status_code == 302 and "/applicant/step/plan" in r.headers["Location"]
    assert "登录过期前填写的内容已保存" in client.get(r.headers["Location"]).get_data(as_text=True)
    assert plan_answers(app)["plan_background"] == f"过期后第{AUTOSAVES - 1}次自动保存"
    assert pending_rows(app) == []


def test_real_failed_logins_still_lock_the_address(app, client, people):
    """The throttle itself is unchanged: wrong passwords from one address still count."""
    for i in range(app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]):
        login_from(app.test_client(), f"nobody-{i}", "wrong", "127.0.0.9")
    r = login_from(app.test_client(), "applicant-a", PASSWORD, "127.0.0.9")
    assert LOCKED in r.get_data(as_text=True)
    with app.app_context():
        assert "过期" not in str(submission_of(ALLOY).answers_for("preliminary"))
