"""Promises of the security issue not covered elsewhere:

- extra form fields (state, owner, region, cluster, ids, versions, hashes) are ignored;
- no GET request changes anything, for any route of the URL map and any kind of user (checked by the
  access matrix's walk, tests/security/test_access_matrix.py);
- a forced exception shows the Chinese 500 page, no traceback, no SQL, and is logged with the request id;
- NUL and other control characters typed into the wizard are removed, identically on SQLite and PostgreSQL.
"""
import io
import json
import re

import pytest
from sqlalchemy import text

from factories import ALLOY, LINXIANG, PASSWORD, AuthActions, csrf_from, submission_of
from wizard.extensions import db
from wizard.models import Cluster, Submission, User
from wizard.report.definition import get_report

HOSTILE_EXTRAS = {
    "state": "awarded", "to_state": "awarded", "owner": "applicant-b", "owner_id": "2", "user_id": "1",
    "region_id": "1", "cluster_id": "1", "edition_id": "999", "submission_id": "2", "id": "2",
    "submission_version": "999", "version_override": "999", "expected_version": "0",
    "return_comment": "注入的退回意见", "opinions": '{"preliminary": {"text": "伪造"}}',
    "deadline_override": "2199-01-01T00:00", "preliminary_answers": "{}", "final_answers": "{}",
    "role": "admin", "is_admin": "1", "active": "y", "session_token": "attacker-chosen-token",
    "password_hash": "plain", "created_at": "2000-01-01",
}


def row_of(model, **by):
    return db.session.execute(db.select(model).filter_by(**by)).scalar_one()


def columns(obj, names):
    return {n: getattr(obj, n) for n in names}


SUB_COLUMNS = ("id", "cluster_id", "edition_id", "state", "opinions", "return_comment", "deadline_override",
               "final_answers")
USER_COLUMNS = ("id", "role", "cluster_id", "region_id", "active", "session_token", "password_hash", "created_at")


# --- (a) extra form fields are ignored --------------------------------------------------------

def test_extra_fields_on_a_wizard_step_are_ignored(app, client, auth, people):
    auth.login("applicant-a")
    with app.app_context():
        mine, other = submission_of(ALLOY), submission_of(LINXIANG)
        before, other_before = columns(mine, SUB_COLUMNS), columns(other, SUB_COLUMNS + ("version", "preliminary_answers"))
        version = mine.version
    page = client.get("/applicant/step/basic")
    extras = {**HOSTILE_EXTRAS, "cluster_id": str(other_before["cluster_id"]), "submission_id": str(other_before["id"]),
              "id": str(other_before["id"])}
    r = client.post("/applicant/step/basic", data={**extras, "csrf_token": csrf_from(page), "version": str(version),
                                                   "industry_field": "新材料", "action": "save"})
    assert r.status_code == 302
    with app.app_context():
        mine, other = submission_of(ALLOY), submission_of(LINXIANG)
        assert columns(mine, SUB_COLUMNS) == before
        assert mine.version == version + 1  # the save itself, nothing more
        assert mine.preliminary_answers["industry_field"] == "新材料"
        keys = {f.key for f in get_report("preliminary").fields}
        assert set(mine.preliminary_answers) <= keys, set(mine.preliminary_answers) - keys
        assert columns(other, SUB_COLUMNS + ("version", "preliminary_answers")) == other_before


def test_extra_fields_on_the_account_form_are_ignored(app, client, auth, people):
    auth.login("admin")
    with app.app_context():
        target = row_of(User, username="applicant-a")
        before = columns(target, USER_COLUMNS)
        form = {"username": "applicant-a", "display_name": "新名字", "role": "applicant",
                "cluster_id": str(target.cluster_id), "region_id": "0", "active": "y"}
    r = client.post(f"/admin/accounts/{before['id']}",
                    data={**HOSTILE_EXTRAS, **form, "csrf_token": auth.csrf("/admin/accounts/new")})
    assert r.status_code == 302
    with app.app_context():
        target = row_of(User, username="applicant-a")
        assert target.display_name == "新名字"  # the real field was saved …
        assert columns(target, USER_COLUMNS) == before  # … and nothing else
        assert row_of(User, username="applicant-b").role == "applicant"


def test_extra_fields_on_the_password_form_are_ignored(app, client, auth, people):
    auth.login("county-x")
    with app.app_context():
        before = columns(row_of(User, username="county-x"), ("id", "role", "region_id", "cluster_id", "active"))
    r = client.post("/account/password", data={**HOSTILE_EXTRAS, "username": "admin", "csrf_token": auth.csrf(),
                                                "current": PASSWORD, "new": "another-pass-1",
                                                "confirm": "another-pass-1"})
    assert r.status_code == 302
    with app.app_context():
        assert columns(row_of(User, username="county-x"), tuple(before)) == before
        assert row_of(User, username="admin").check_password(PASSWORD)
    assert client.get("/admin/").status_code == 403


def test_extra_fields_on_the_move_form_are_ignored(app, client, auth, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.state = "submitted"
        db.session.commit()
        sid, version, cluster_id = sub.id, sub.version, sub.cluster_id
    auth.login("county-x")
    r = client.post(f"/submissions/{sid}/move", data={**HOSTILE_EXTRAS, "csrf_token": auth.csrf(), "version": version,
                                                      "move": "county_approve", "comment": "同意。"})
    assert r.status_code == 302
    with app.app_context():
        sub = submission_of(ALLOY)
        assert (sub.state, sub.version, sub.cluster_id, sub.return_comment, sub.deadline_override) == \
            ("county_approved", version + 1, cluster_id, None, None)
        assert sub.opinions["preliminary"]["text"] == "同意。"


def test_extra_fields_on_the_cluster_form_are_ignored(app, client, auth, people):
    auth.login("admin")
    with app.app_context():
        seeded = row_of(Cluster, name=ALLOY)
        seeded_before = columns(seeded, ("id", "name", "category", "region_id", "designation", "active"))
        region_id = seeded.region_id
    form = {"name": "额外字段测试集群", "category": "sme", "region_id": str(region_id), "designation": "test",
            "active": "y"}
    r = client.post("/admin/clusters/new", data={**HOSTILE_EXTRAS, **form, "id": str(seeded_before["id"]),
                                                 "csrf_token": auth.csrf("/admin/clusters/new")})
    assert r.status_code == 302
    with app.app_context():
        made = row_of(Cluster, name="额外字段测试集群")  # designation 'test': the PostgreSQL fixture removes it
        assert made.id != seeded_before["id"] and made.category == "sme"
        seeded = db.session.get(Cluster, seeded_before["id"])
        assert columns(seeded, tuple(seeded_before)) == seeded_before
        sub = row_of(Submission, cluster_id=made.id)
        assert (sub.state, sub.version, sub.opinions, sub.return_comment) == ("draft", 1, {}, None)


# --- (b) no GET changes anything: tests/security/test_access_matrix.py::test_access_matrix (urlmap.crawl
# checks every GET of the URL map, as every kind of user, in the same walk as the access table) ----------


# --- (c) a crash shows the Chinese 500 page and is logged with the request id -------------------

def test_forced_exception_is_a_chinese_500_without_details(app, people):
    def boom():
        db.session.execute(text("SELECT secret_column FROM no_such_table_boom WHERE x = 'leak-me'"))
        return "unreachable"

    app.add_url_rule("/__test_boom", "test_boom", boom)  # before the app's first request
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does
    handler = app.logger.handlers[0]  # the app's own handler: its format and request-id filter
    log = io.StringIO()
    previous = handler.setStream(log)
    try:
        client = app.test_client()
        AuthActions(client).login("admin")
        r = client.get("/__test_boom")
    finally:
        handler.setStream(previous)
    page = r.get_data(as_text=True)
    assert r.status_code == 500
    assert "系统错误" in page and "已记录" in page
    for leak in ("Traceback", "no_such_table_boom", "secret_column", "leak-me", "SELECT", "sqlalchemy",
                 "psycopg", "sqlite3", "File \"", "boom"):
        assert leak not in page, leak
    request_id = r.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{12}", request_id)
    assert f"请求编号：{request_id}" in page  # the user can quote it …
    lines = [line for line in log.getvalue().splitlines() if f"[{request_id}]" in line]
    assert lines and "Unhandled error on GET /__test_boom" in lines[0]  # … and the log line carries it
    assert "no_such_table_boom" in log.getvalue()  # the details are in the log, not on the page
    # the failed transaction was rolled back: the next request works
    assert client.get("/admin/").status_code == 200


# --- (d) control characters are removed the same way on both databases --------------------------

def test_control_characters_are_removed_identically(app, client, auth, people):
    auth.login("applicant-a")
    posts = {
        "basic": {"industry_field": "\x00abc\x07", "org_head": "\x1b[31m张三\x7f", "leading_industry": "a\u200bb\ufeff"},
        "quality": {"self_assessment": "\x00第一行\x07\r\n第二行\x0b\x0c"},
    }
    for step, fields in posts.items():
        with app.app_context():
            version = submission_of(ALLOY).version
        page = client.get(f"/applicant/step/{step}")
        r = client.post(f"/applicant/step/{step}", data={**fields, "csrf_token": csrf_from(page),
                                                         "version": str(version), "action": "save"})
        assert r.status_code == 302, (step, r.status_code, app.config["BACKEND"])
    with app.app_context():
        answers = submission_of(ALLOY).preliminary_answers
        assert answers["industry_field"] == "abc"
        assert answers["org_head"] == "[31m张三"
        assert answers["leading_industry"] == "ab"
        assert answers["self_assessment"] == "第一行\n第二行"
        # what the database holds, read back raw, is the same text on SQLite and PostgreSQL
        raw = db.session.execute(text("SELECT preliminary_answers FROM submission WHERE id = :i"),
                                 {"i": submission_of(ALLOY).id}).scalar_one()
        raw = json.loads(raw) if isinstance(raw, str) else raw
        assert raw["industry_field"] == "abc" and raw["self_assessment"] == "第一行\n第二行"


# --- CSRF token lifetime, audit of downloads and exports ----------------------------------------

def test_csrf_token_does_not_expire_while_the_session_lives(app, client, auth, people):
    """A token signed three days ago (a tab left open) is still accepted: the token lives as long as
    the session, whose own idle/absolute timeouts are tested in test_sessions.py."""
    import time

    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    class ThreeDaysAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 3 * 24 * 3600

    auth.login("applicant-a")
    client.get("/messages")
    with client.session_transaction() as s:
        raw = s["csrf_token"]
    old = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token", signer=ThreeDaysAgo).dumps(raw)
    with app.app_context():
        version = submission_of(ALLOY).version
    r = client.post("/applicant/step/basic", data={"csrf_token": old, "version": str(version),
                                                   "industry_field": "三天前打开的页面", "action": "save"})
    assert r.status_code == 302
    with app.app_context():
        assert submission_of(ALLOY).preliminary_answers["industry_field"] == "三天前打开的页面"


def audit_actions():
    from wizard.models import AuditEntry

    rows = db.session.execute(db.select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    return [(a.action, a.username, a.target) for a in rows]


def test_downloads_and_exports_are_audited(app, client, auth, world):  # noqa: F811
    auth.login("county-x")
    assert client.get(f"/evidence/{world['file_id']}").status_code == 200
    auth.logout()
    auth.login("admin")
    assert client.get("/admin/results.xlsx").status_code == 200
    assert client.get("/admin/submissions.xlsx?q=合金").status_code == 200
    with app.app_context():
        actions = audit_actions()
    assert ("evidence_download", "county-x", f"evidence:{world['file_id']}") in actions
    assert ("export", "admin", "results.xlsx") in actions and ("export", "admin", "submissions.xlsx") in actions
    page = client.get("/admin/audit/?action=evidence_download").get_data(as_text=True)
    assert "下载佐证材料" in page and "county-x" in page  # an administrator can read and filter them


@pytest.mark.pdf  # renders the report (the render consumer)
def test_report_pdf_downloads_are_audited(app, client, auth, world):  # noqa: F811
    auth.login("county-x")
    r = client.get(f"/submissions/{world['submission_id']}/report.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    with app.app_context():
        actions = audit_actions()
    assert any(a[1] == "county-x" and str(world["submission_id"]) in a[2] for a in actions
               if a[0] not in ("login", "logout")), actions


def test_offline_audit_fails_on_an_affected_version(tmp_path):
    """CI's offline dependency audit: an installed version inside an advisory's range fails it."""
    import json
    import subprocess
    import sys
    from importlib import metadata
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / ".ci" / "offline_audit.py"
    flask_version = metadata.version("flask")

    def run(affected):
        path = tmp_path / "advisories.json"
        path.write_text(json.dumps({"updated": "test", "advisories": [
            {"package": "Flask", "affected": affected, "id": "TEST-1", "summary": "test advisory"}]}))
        return subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True)

    hit = run(f"<={flask_version}")
    assert hit.returncode == 1 and f"Flask {flask_version} is affected by TEST-1" in hit.stdout
    assert run("<0.1").returncode == 0  # (.ci/run checks the real list against the real environment)
