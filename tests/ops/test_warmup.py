"""Issue #25: gunicorn with the production config (wizard/ops/gunicorn_conf.py) creates the app in
its master, warms it there (wizard/ops/warmup.py) and forks the workers from it.  A real gunicorn
on 127.0.0.1 serves a logged-in page after the warm-up; the master holds no database file open at
the fork (each worker opens its own).  Marked `server`, as tests/ops/test_slow_clients.py is
(tests/conftest.py marks that file by its place; this one marks itself)."""
import http.client
import os
import re
import shutil
import time
from urllib.parse import urlencode

import pytest

import servers
from factories import LINXIANG, PASSWORD, SMART_CAR, make_user, submission_of
from wizard import create_app
from wizard.extensions import db
from wizard.models import Submission
from wizard.ops.warmup import forget_connections, warm_pages, warm_up
from wizard.report import fragments
from wizard.workflow.states import round_of

pytestmark = pytest.mark.server

class Browser:
    """Cookies and one request at a time, no redirects followed."""

    def __init__(self, port):
        self.port, self.cookies = port, {}

    def request(self, method, path, fields=None, timeout=90):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if fields is not None:
            body = urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            text = r.read().decode("utf-8", "replace")
            for cookie in r.headers.get_all("Set-Cookie") or []:
                name, _, value = cookie.partition(";")[0].partition("=")
                self.cookies[name.strip()] = value.strip()
            return r.status, text
        finally:
            conn.close()


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]


def _open_files(pid):
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


@pytest.fixture
def gunicorn(sqlite_template, tmp_path):
    """gunicorn as the README starts it (its config file), 2 workers, on a free local port, with
    an administrator in its database."""
    database = tmp_path / "wizard.db"
    shutil.copy(sqlite_template, database)
    settings = {"INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "warm-up-test",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}
    app = create_app(settings)
    with app.app_context():
        make_user("admin", "admin")
        db.engine.dispose()
    log_path = tmp_path / "gunicorn.log"
    with servers.gunicorn(settings, log_path, {"WEB_CONCURRENCY": "2", "WIZARD_PRELOAD": None}) as (port, proc):
        yield {"port": port, "pid": proc.pid, "log": log_path, "database": str(database)}


def test_gunicorn_warms_the_app_in_its_master_and_its_workers_serve_pages(gunicorn):
    log = gunicorn["log"].read_text(errors="replace")
    warmed = re.findall(r"Warm-up: (\d+) templates compiled", log)
    assert len(warmed) == 1, log[-2000:]  # once, in the master: not again in each worker
    assert int(warmed[0]) >= 50
    # then each worker rendered the reviewers' pages once, before its first request (the second
    # worker may still be at it when the first answers: wait for its line, bounded)
    end = time.monotonic() + 120
    while len(re.findall(r"Page warm-up: \d+ pages", log)) < 2 and time.monotonic() < end:
        time.sleep(0.5)
        log = gunicorn["log"].read_text(errors="replace")
    pages = [int(n) for n in re.findall(r"Page warm-up: (\d+) pages", log)]
    assert len(pages) == 2 and min(pages) >= 3 and "failed" not in log, log[-2000:]
    browser = Browser(gunicorn["port"])
    status, page = browser.request("GET", "/login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    status, _ = browser.request("POST", "/login", {"csrf_token": token, "username": "admin", "password": PASSWORD})
    assert status == 302
    for _ in range(4):  # new connections: both workers get some
        status, page = browser.request("GET", "/admin/")
        assert status == 200 and "申报总数" in page
    # the master never opened the database; the workers did, each its own
    master_files = _open_files(gunicorn["pid"])
    assert not [f for f in master_files if f.startswith(gunicorn["database"])], master_files
    workers = _children(gunicorn["pid"])
    assert len(workers) == 2
    assert any(f.startswith(gunicorn["database"]) for w in workers for f in _open_files(w))
    assert "Traceback" not in gunicorn["log"].read_text(errors="replace")


def test_warm_up_compiles_every_template(app):
    result = warm_up(app)
    names = [n for n in app.jinja_env.list_templates() if n.endswith(".html")]
    assert result["templates"] == len(names) and "error" not in result
    loader_calls = []
    original = app.jinja_env.loader.get_source
    app.jinja_env.loader.get_source = lambda env, name: loader_calls.append(name) or original(env, name)
    try:
        for name in names:
            app.jinja_env.get_template(name)
    finally:
        app.jinja_env.loader.get_source = original
    assert loader_calls == []  # every template came from the cache the warm-up filled


def test_a_forked_process_queries_on_its_own_connection_and_leaves_the_parents_alone(app):
    """What post_fork does in each gunicorn worker, in a real fork: the child drops the pool it
    inherited (without closing the parent's connection) and opens its own; the parent's
    connection, checked out again after the child is gone, still answers."""
    with app.app_context():
        db.session.execute(db.text("SELECT 1")).scalar_one()  # the pool now holds a connection
        db.session.remove()
    pid = os.fork()
    if pid == 0:  # the child: report by exit code only, never return into pytest
        code = 1
        try:
            forget_connections(app)
            with app.app_context():
                code = 0 if db.session.execute(db.text("SELECT 2")).scalar_one() == 2 else 1
                db.session.remove()
                db.engine.dispose()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    with app.app_context():
        assert db.session.execute(db.text("SELECT 3")).scalar_one() == 3
        db.session.remove()


def test_another_app_served_with_the_same_config_is_left_alone():
    """The load benchmark serves its bare Flask route with this gunicorn config too."""
    from flask import Flask

    bare = Flask("bare")
    assert warm_up(bare) == {"skipped": True}
    forget_connections(bare)  # no database of ours: nothing to drop, no error


def _everything(app):
    """Every table's rows (the database as a value): what a read-only warm-up must leave as it was."""
    with app.app_context():
        out = {t.name: sorted(map(repr, db.session.execute(t.select()).all())) for t in db.metadata.sorted_tables}
        db.session.remove()
        return out


def test_the_page_warm_up_renders_the_pages_and_writes_nothing(app, world, caplog):
    """The administrators' dashboard, list (two orders), report and comparison pages, the county's queue and
    report page, a draft's task list, review page and steps: all rendered (no page failed), and
    the database is as it was."""
    before = _everything(app)
    with caplog.at_level("INFO"):
        rendered = warm_pages(app)
    assert not [r for r in caplog.records if "failed" in r.getMessage() or "skipped" in r.getMessage()]
    with app.app_context():
        from wizard.report.definition import get_report

        steps = len(get_report("preliminary").steps)
    # the list twice (by name, by last change); a report of each other round and category present
    with app.app_context():
        shown = {(round_of(s.state), s.cluster.category) for s in db.session.execute(db.select(Submission)).scalars()}
    assert rendered == 7 + 2 + steps + len(shown) - 1
    assert _everything(app) == before


def test_after_the_page_warm_up_no_first_report_page_writes_its_body_skeleton(app, people, auth, client):
    """A reviewer's first page of a report in a round or category other than the warmed report's
    used to write its body's skeleton (about 25 ms of CPU, 200-280 ms under load) while the
    reviewer waited: the warm-up writes one of each round and category, so none is written after."""
    with app.app_context():
        for name in (SMART_CAR, LINXIANG):  # 先进制造业, 中小企业特色: reports of the final round (附件2)
            submission_of(name).state = "finalist"
        db.session.commit()
        reports = {(round_of(s.state), s.cluster.category): s.id
                   for s in db.session.execute(db.select(Submission).order_by(Submission.id.desc())).scalars()}
    assert len(reports) == 4  # both rounds, both categories
    fragments._body_skeletons.clear()
    fragments._bodies.clear()  # a body kept by an earlier test in this process is not written again
    warm_pages(app)
    written = len(fragments._body_skeletons)
    auth.login("admin")
    for sid in reports.values():
        assert client.get(f"/admin/submissions/{sid}").status_code == 200
    assert len(fragments._body_skeletons) == written == 4
