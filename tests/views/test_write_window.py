"""Issue #25: an autosave holds SQLite's write lock only for its write (wizard/dbsetup.py:
``reads_deferred`` views, ``write_window``).  Before, a step's POST began BEGIN IMMEDIATE at its
first statement, so every other save waited in SQLite's busy handler while one request read,
validated and answered.

Deterministic: a request is held in its read phase by a hook (threading.Event), never by sleeping;
the waits below only bound how long a broken build hangs.  On both databases (PostgreSQL never
held a lock there; what is checked is what the user sees)."""
import re
import sqlite3
import threading

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

import wizard.review.scoring as scoring_module
import wizard.views.applicant as applicant_view
from factories import ALLOY, LINXIANG, AuthActions, make_user, submission_of, submitted, user_named
from review.helpers import assign
from wizard.extensions import db
from wizard.models import Cluster, ReviewAssignment, Submission

BOUND = 120  # seconds: how long a broken build may hang before the test fails (never reached when it works)


class Hold:
    """Holds the request run by ``thread`` where the hooked function is called: ``reached`` is
    set, and the request waits there until ``release`` is set."""

    def __init__(self, monkeypatch, module, name):
        self.reached, self.release, self.thread = threading.Event(), threading.Event(), None
        original = getattr(module, name)

        def hooked(*args, **kwargs):
            if threading.current_thread() is self.thread:
                self.reached.set()
                assert self.release.wait(BOUND), "never released"
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, hooked)

    def start(self, fn):
        """Run ``fn`` in the held thread; returns the box its result (or error) lands in."""
        box = {}

        def run():
            try:
                box["result"] = fn()
            except BaseException as exc:  # reported by finish()
                box["error"] = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.reached.wait(BOUND), "the request never reached its read phase"
        box["thread"] = self.thread
        return box

    def finish(self, box):
        self.release.set()
        box["thread"].join(BOUND)
        assert not box["thread"].is_alive(), "the held request never finished"
        if "error" in box:
            raise box["error"]
        return box["result"]


def applicant_client(app, username):
    client = app.test_client()
    assert AuthActions(client).login(username).status_code == 302
    return client


def open_step(client, key="basic"):
    page = client.get(f"/applicant/step/{key}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return token, re.search(r'name="version"[^>]*value="(\d+)"', page).group(1)


def autosave_fn(client, token, version, value, key="basic", field="industry_field"):
    """The step's autosave as static/js/wizard.js sends it: the changed field alone."""
    return lambda: client.post(f"/applicant/step/{key}", headers={"X-Requested-With": "fetch"},
                               data={"csrf_token": token, "version": version, field: value, "fields": field})


def saved(app, cluster, key="industry_field"):
    with app.app_context():
        return submission_of(cluster).answers_for("preliminary").get(key)


@pytest.fixture
def two(app, people):
    return applicant_client(app, "applicant-a"), applicant_client(app, "applicant-b")


def test_another_applicants_autosave_completes_while_one_request_reads(app, two, monkeypatch):
    """A's autosave sits between its reads and its write; B's autosave is saved meanwhile (before,
    B waited in SQLite's busy handler until A's whole request ended), then A's is saved too."""
    a, b = two
    hold = Hold(monkeypatch, applicant_view, "make_step_form")
    held = hold.start(autosave_fn(a, *open_step(a), "新材料"))
    try:
        r = autosave_fn(b, *open_step(b), "钓具")()
        assert r.status_code == 200 and r.get_json()["ok"], r.get_data(as_text=True)
        assert saved(app, LINXIANG) == "钓具"
    finally:
        r = hold.finish(held)
    assert r.status_code == 200 and r.get_json()["ok"]
    assert saved(app, ALLOY) == "新材料"


def test_a_save_between_the_read_and_the_write_is_a_conflict_and_keeps_what_it_saved(app, two, monkeypatch):
    """Two tabs of one applicant, both at the same version: the second tab saves while the first
    sits in its read phase; the first then answers the two-tab conflict (409, nothing written)
    and the second tab's value is the one stored."""
    a, _ = two
    other_tab = applicant_client(app, "applicant-a")
    token, version = open_step(a)
    hold = Hold(monkeypatch, applicant_view, "make_step_form")
    held = hold.start(autosave_fn(a, token, version, "新材料"))
    try:
        r = autosave_fn(other_tab, *open_step(other_tab), "有色金属")()
        assert r.status_code == 200 and r.get_json()["version"] == int(version) + 1
    finally:
        r = hold.finish(held)
    assert r.status_code == 409 and "另一窗口或他人已保存" in r.get_json()["error"]
    assert saved(app, ALLOY) == "有色金属"
    with app.app_context():
        assert submission_of(ALLOY).version == int(version) + 1


def test_autosaves_of_many_applicants_at_once_all_succeed(app, people):
    """Eight applicants autosave at the same moment, three times each: every save answers 200 and
    is stored (no "database is locked": the write windows queue, no read transaction upgrades)."""
    with app.app_context():
        clusters = db.session.execute(
            db.select(Cluster).join(Submission, Submission.cluster_id == Cluster.id)
            .where(Submission.state == "draft").order_by(Cluster.id).limit(8)).scalars().all()
        names = {}
        for i, cluster in enumerate(clusters):
            make_user(f"many-{i}", "applicant", cluster=cluster)
            names[f"many-{i}"] = cluster.name
    assert len(names) == 8
    clients = {u: applicant_client(app, u) for u in names}
    start, results = threading.Barrier(len(clients)), {}

    def run(username, client):
        token, version = open_step(client)
        start.wait(BOUND)
        answers = []
        for n in range(3):
            r = autosave_fn(client, token, version, f"{username} 第{n}次")()
            answers.append(r.status_code)
            version = str(r.get_json()["version"]) if r.status_code == 200 else version
        results[username] = answers

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in clients.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BOUND)
    assert results == {u: [200, 200, 200] for u in names}
    for username, cluster in names.items():
        assert saved(app, cluster) == f"{username} 第2次"


def test_a_failed_write_releases_the_write_window(app, two):
    """The write itself fails (SQLite busy past its timeout): the Chinese "database busy" answer,
    nothing stored, and the next autosaves, from another thread and from this one, are saved (the
    process's writer lock was released, the transaction rolled back)."""
    a, b = two
    fail = {"thread": threading.current_thread()}

    def busy(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE submission") and threading.current_thread() is fail.get("thread"):
            raise OperationalError(statement, parameters, sqlite3.OperationalError("database is locked"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", busy)
    try:
        token, version = open_step(a)
        r = autosave_fn(a, token, version, "不会保存")()
        assert r.status_code == 503 and not r.get_json()["ok"] and "数据库" in r.get_json()["error"]
        fail.clear()
    finally:
        event.remove(engine, "before_cursor_execute", busy)
    assert saved(app, ALLOY) != "不会保存"

    box = {}
    other = threading.Thread(target=lambda: box.setdefault("r", autosave_fn(b, *open_step(b), "钓具")()), daemon=True)
    other.start()
    other.join(BOUND)
    assert box["r"].status_code == 200 and saved(app, LINXIANG) == "钓具"
    r = autosave_fn(a, token, version, "新材料")()
    assert r.status_code == 200 and saved(app, ALLOY) == "新材料"


# --- the expert's score sheet: the same shape -----------------------------------------------------

@pytest.fixture
def sheet(app, people):
    """A in the 初赛 scoring state, assigned to expert-e."""
    with app.app_context():
        sub = submitted()
        sub.state = "preliminary"
        db.session.commit()
        return assign(sub, user_named("expert-e")).id


def expert_autosave_fn(client, assignment_id, version, score):
    return lambda: client.post(f"/expert/reviews/{assignment_id}/autosave",
                               headers={"X-Requested-With": "fetch", "Accept": "application/json"},
                               data={"csrf_token": client.token, "version": version, "score-industry_base": score})


def expert_client(app):
    client = app.test_client()
    auth = AuthActions(client)
    assert auth.login("expert-e").status_code == 302
    client.token = auth.csrf()
    return client


def test_a_score_sheet_saved_between_anothers_read_and_write_is_a_conflict(app, sheet, monkeypatch):
    """The expert's autosave reads without the write lock too: a second tab saves while the first
    sits in its read phase (before, it waited for the first's whole request); the first then
    answers the two-tab conflict and the second tab's score is the one stored."""
    first, second = expert_client(app), expert_client(app)
    hold = Hold(monkeypatch, scoring_module, "read_sheet")
    held = hold.start(expert_autosave_fn(first, sheet, "1", "3"))
    try:
        r = expert_autosave_fn(second, sheet, "1", "12.5")()
        assert r.status_code == 200 and r.get_json()["version"] == 2, r.get_data(as_text=True)
    finally:
        r = hold.finish(held)
    assert r.status_code == 409 and "另一窗口已保存" in r.get_json()["error"]
    with app.app_context():
        row = db.session.get(ReviewAssignment, sheet)
        assert row.scores == {"industry_base": 12.5} and row.version == 2


def test_a_report_moved_on_between_the_read_and_the_write_saves_no_draft(app, sheet, monkeypatch):
    """The administrator moves the report out of 初赛 while an autosave sits in its read phase:
    the sheet is not written (the UPDATE checks the state, as the read did) and the expert is told why."""
    client = expert_client(app)
    hold = Hold(monkeypatch, scoring_module, "read_sheet")
    held = hold.start(expert_autosave_fn(client, sheet, "1", "9"))
    try:
        with app.app_context():
            sub = db.session.get(ReviewAssignment, sheet).submission
            sub.state = "finalist"
            db.session.commit()
    finally:
        r = hold.finish(held)
    assert r.status_code == 409 and "已不在初赛评审阶段" in r.get_json()["error"]
    with app.app_context():
        row = db.session.get(ReviewAssignment, sheet)
        assert not row.scores and row.version == 1
