"""Fixtures: an app per database (SQLite always; PostgreSQL when
WIZARD_TEST_DATABASE_URL is set — then an unreachable server fails the tests),
a client, a CLI runner, factories and a login helper.

Speed without sharing state (docs: README 测试):
- one app per database and pytest worker, reused while tests leave its set-up as they found it:
  each test gets the seeded database anew, its own upload, PDF-cache and instance folders under
  its tmp_path, and a test that changes the app (app.config, a URL rule, a hook, a filter …) makes
  the next test build a fresh app.  `@pytest.mark.fresh_app` (or WIZARD_TEST_SHARED_APP=0) gives a
  test an app of its own from the start;
- SQLite: one migrated, seeded template file per worker, copied over the app's database file;
- templates: an app built for a test loads the ones an earlier app of its worker compiled
  (TEMPLATE_CODE, Jinja's bytecode cache, checked against each template's source);
- PostgreSQL: one database per pytest-xdist worker (test_gw0, test_gw1 … created from the
  configured database's server), migrated and seeded once; before each test every table is
  emptied and the seed rows put back from a copy taken after seeding (tables found in the
  database itself: a new table needs no edit here), and every id sequence restarts after them;
- report PDFs: one real render consumer per pytest worker (render_consumer), started by the first
  job the worker queues, on a SQLite queue file every app of the worker uses; each job carries
  its test's cache folder (tests marked shared_pdf_cache share one per worker: a document is
  rendered once per worker);
- markers (setup.cfg): browser, pdf, budget, fuzz, crawl, server, office are set here by
  folder/file/kind, so `make test-fast` deselects them (a test outside the pdf family that queues
  a render is named in the closing summary); `needs(tool)` (tests/tools.py) skips locally and fails in CI.
"""
import copy
import os
import shutil
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from jinja2 import MemcachedBytecodeCache
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

import tools
import wizard
from wizard.extensions import db
from factories import ALLOY, LINXIANG, AuthActions, make_user, submission_of
from wizard.models import Edition, EvidenceFile, HistoryEntry, Snapshot, User
from review.helpers import assign, make_expert
PG_URL = os.environ.get("WIZARD_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
SHARE_APPS = os.environ.get("WIZARD_TEST_SHARED_APP", "1") != "0"
SEED_COPY = "test_seed"  # the schema holding the seed rows' copy (PostgreSQL)
TESTS_DIR = Path(__file__).resolve().parent


class _Compiled(dict):
    """Jinja's bytecode cache client (MemcachedBytecodeCache's get/set) kept in this process: an app
    built for a test loads the templates an earlier app of the worker compiled (checked against the
    template's source, so an edited template compiles anew) instead of parsing and compiling them
    again: 0.4 s of CPU per app built (views+workflow+review: 459 compiles of 280 tests, 13.6 s
    of the 118 s)."""

    def set(self, key, value, timeout=None):
        self[key] = value


TEMPLATE_CODE = MemcachedBytecodeCache(_Compiled())


def create_app(config):
    """wizard.create_app, its templates compiled once per pytest worker (TEMPLATE_CODE)."""
    app = wizard.create_app(config)
    app.jinja_env.bytecode_cache = TEMPLATE_CODE
    return app


def _config(tmp, uri):
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "INSTANCE_PATH": str(tmp),
        "UPLOAD_FOLDER": str(tmp / "uploads"),
        "PDF_CACHE_FOLDER": str(tmp / "pdf-cache"),
        # one cheap hash per password: the tests create accounts by the hundred; the production
        # method (scrypt) is checked by tests/security/test_sessions.py::test_password_length_and_hash
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        # a download waits for its render (tests/pdf/test_render_pool.py sets 0 to see the waiting page);
        # generous: on a loaded 2-core CI machine a hostile-payload report took over 60 s (never a
        # timing assertion)
        "PDF_WAIT_SECONDS": 300,
        # report PDFs are rendered by this pytest worker's render consumer (fixture render_consumer)
        "RENDER_QUEUE_URL": RENDER_QUEUE.get("url"),
    }


RENDER_QUEUE = {}  # "url": this pytest worker's render queue (a SQLite file), set by render_consumer
RUNNING = {}  # "item": the test this worker runs (set by pytest_runtest_setup)
#: the families `make test-fast` leaves out (Makefile FAST): a render queued by a test outside them is named
SLOW_FAMILIES = ("pdf", "browser", "crawl", "budget", "fuzz", "server", "office")


class _LazyConsumer:
    """This pytest worker's render consumer (python -m wizard.pdf.worker: the queue's consumer
    without the app), started by the first job queued in this worker: a session whose tests render
    nothing (`make test-fast`) never pays for its start."""

    def __init__(self, url):
        import threading

        self.url = url
        self.proc = None
        self.lock = threading.Lock()

    def start(self):
        import subprocess
        import sys

        with self.lock:
            if self.proc is None:
                self.proc = subprocess.Popen([sys.executable, "-m", "wizard.pdf.worker", "--queue", self.url,
                                              "--time-limit", "600"], cwd=TESTS_DIR.parent)
        return self.proc

    def stop(self):
        import subprocess

        with self.lock:
            proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session", autouse=True)
def render_consumer(tmp_path_factory):
    """One real render consumer per pytest worker, serving every app of the worker through one
    SQLite queue file: the jobs carry their cache folder, so each test's PDFs land in its own
    folder.  Started on the first job this worker queues (wizard.pdf.queue.enqueue, wrapped here;
    the consumer loads the engine only for the first render); stopped (SIGTERM, then SIGKILL) at
    the end of the session."""
    from wizard.pdf import queue

    url = f"sqlite:///{tmp_path_factory.mktemp('render-queue') / 'queue.db'}"
    RENDER_QUEUE["url"] = url
    consumer = _LazyConsumer(url)
    enqueue = queue.enqueue

    def enqueue_and_start(*args, **kwargs):
        consumer.start()
        item = RUNNING.get("item")
        if item is not None and not any(item.get_closest_marker(m) for m in SLOW_FAMILIES) and \
                ("queued a render", True) not in item.user_properties:
            item.user_properties.append(("queued a render", True))  # listed by the closing summary
        return enqueue(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(queue, "enqueue", enqueue_and_start)
        yield consumer
    consumer.stop()


def _upgrade_and_seed(app):
    """Migrate, seed, and open the current edition's rounds until 2099 (what every test starts from)."""
    from flask_migrate import upgrade

    from wizard.ops.seed import seed_all

    with app.app_context():
        upgrade()
        seed_all()
        db.session.execute(db.update(Edition).values(preliminary_deadline=datetime(2099, 1, 1),
                                                     final_deadline=datetime(2099, 6, 1)))
        db.session.commit()


def _worker():
    """'gw0', 'gw1' … under pytest-xdist, else ''."""
    return os.environ.get("PYTEST_XDIST_WORKER", "")


# ---------------------------------------------------------------- SQLite


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """One migrated and seeded SQLite file (rounds open until 2099), copied for every test."""
    tmp = tmp_path_factory.mktemp("template")
    path = tmp / "template.db"
    app = create_app(_config(tmp, f"sqlite:///{path}"))
    _upgrade_and_seed(app)
    with app.app_context():
        db.engine.dispose()
    return path


def _restore_sqlite(app, template):
    """Put the template file in place of the app's database (its connections closed first)."""
    path = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    shutil.copy(template, path)


# ---------------------------------------------------------------- PostgreSQL


def _pg_database(url):
    """This worker's database: the configured one, or <name>_gw0 … under pytest-xdist (created anew
    from a connection to the configured one).  Returns its URL."""
    from wizard.config import normalise_db_url

    url = make_url(normalise_db_url(url))
    worker = _worker()
    if not worker:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SEED_COPY} CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return url.render_as_string(hide_password=False)
    name = f"{url.database}_{worker}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    for attempt in range(5):  # the workers create theirs at the same moment, all from template1
        try:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            break
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.5 + attempt)
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _pg_reset_sql(conn):
    """Two statement lists that empty every table, put the seed rows back and restart the ids: the
    quick one (DELETE, children first) and, should a foreign-key cycle ever defeat that order, one
    that TRUNCATEs every table at once.

    Run once after seeding: copies every non-empty table into the SEED_COPY schema.  The tables
    come from the database (not a list here), so a table added by a migration is reset too."""
    meta = MetaData()
    meta.reflect(conn, schema="public")
    tables = [t for t in meta.sorted_tables if t.name != "alembic_version"]
    seeded = [t for t in tables if conn.execute(text(f'SELECT EXISTS (SELECT 1 FROM public."{t.name}")')).scalar()]
    conn.execute(text(f"DROP SCHEMA IF EXISTS {SEED_COPY} CASCADE"))
    conn.execute(text(f"CREATE SCHEMA {SEED_COPY}"))
    for t in seeded:
        conn.execute(text(f'CREATE TABLE {SEED_COPY}."{t.name}" AS SELECT * FROM public."{t.name}"'))
    sequences = conn.execute(text(
        "SELECT c.relname, a.attname, pg_get_serial_sequence(format('public.%I', c.relname), a.attname) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' "
        "AND pg_get_serial_sequence(format('public.%I', c.relname), a.attname) IS NOT NULL")).all()
    refill = [f'INSERT INTO public."{t.name}" OVERRIDING SYSTEM VALUE SELECT * FROM {SEED_COPY}."{t.name}"'
              for t in seeded]
    refill += [f"SELECT setval('{seq}', COALESCE((SELECT max(\"{col}\") FROM public.\"{table}\"), 0) + 1, false)"
               for table, col, seq in sequences]
    # DELETE, children first: on these small tables far cheaper than TRUNCATE (new files for each table)
    quick = [f'DELETE FROM public."{t.name}"' for t in reversed(tables)]
    sure = ["TRUNCATE " + ", ".join(f'public."{t.name}"' for t in tables)]
    return ";\n".join(quick + refill), ";\n".join(sure + refill)


@pytest.fixture(scope="session")
def pg_ready(tmp_path_factory):
    """This worker's PostgreSQL database, emptied, migrated and seeded once; returns its URL.

    _PG_RESET[url] holds the SQL that puts it back to the seed (run before every test)."""
    url = _pg_database(PG_URL)
    tmp = tmp_path_factory.mktemp("pg")
    app = create_app(_config(tmp, url))
    _upgrade_and_seed(app)
    with app.app_context():
        with db.engine.begin() as conn:
            _PG_RESET[url] = _pg_reset_sql(conn)
        db.engine.dispose()
    return url


_PG_RESET = {}  # database URL -> the reset SQL


def _restore_postgresql(app):
    quick, sure = _PG_RESET[app.config["SQLALCHEMY_DATABASE_URI"]]
    with app.app_context():
        db.session.remove()
        try:
            with db.engine.begin() as conn:
                conn.exec_driver_sql(quick)
        except IntegrityError:  # a foreign-key cycle: empty every table at once
            with db.engine.begin() as conn:
                conn.exec_driver_sql(sure)


# ---------------------------------------------------------------- the app


def _ids(mapping):
    return {k: id(v) for k, v in mapping.items()}


def _fingerprint(app):
    """What a test could change on an app and leave behind; compared before and after each test."""
    def config_value(v):
        try:
            return copy.copy(v)
        except Exception:  # an object that does not copy: compare it by identity
            return id(v)

    env = app.jinja_env
    return (
        {k: config_value(v) for k, v in app.config.items()},
        sorted(f"{r.rule} {r.endpoint} {sorted(r.methods or ())}" for r in app.url_map.iter_rules()),
        _ids(app.view_functions),
        repr(app.before_request_funcs), repr(app.after_request_funcs), repr(app.teardown_request_funcs),
        repr(app.teardown_appcontext_funcs), repr(app.template_context_processors),
        repr(app.url_value_preprocessors), repr(app.url_default_functions), repr(app.error_handler_spec),
        _ids(env.globals), _ids(env.filters), _ids(env.tests), _ids(app.extensions),
        app.logger.level, list(app.logger.handlers), app.logger.propagate,
        id(app.session_interface), id(app.json), sorted(app.cli.commands), app.secret_key, app.testing,
    )


def _set_paths(app, tmp):
    """Give a shared app this test's own instance, upload and PDF-cache folders."""
    app.instance_path = str(tmp)
    app.config.update(INSTANCE_PATH=str(tmp), UPLOAD_FOLDER=str(tmp / "uploads"),
                      PDF_CACHE_FOLDER=str(tmp / "pdf-cache"))


class _SharedApps:
    """One app per backend in this worker, kept while the tests leave it as they found it."""

    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory
        self.apps = {}
        self.built = Counter()

    def get(self, backend, uri_for):
        if backend not in self.apps:
            tmp = self.tmp_path_factory.mktemp(f"shared-{backend}")
            app = create_app(_config(tmp, uri_for(tmp)))
            app.config["BACKEND"] = backend
            self.apps[backend] = app
            self.built[backend] += 1
        return self.apps[backend]

    def drop(self, backend):
        app = self.apps.pop(backend)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def _shared_apps(tmp_path_factory):
    shared = _SharedApps(tmp_path_factory)
    yield shared
    for backend in list(shared.apps):
        shared.drop(backend)


def _share_pdf_cache(request, app):
    """A test marked shared_pdf_cache renders into its worker's one cache folder: the PDFs are named
    by what they show (pdf/report.py), so the blank templates and the same filled report are
    rendered once per worker instead of once per test (tests/pdf/test_paper*.py)."""
    if request.node.get_closest_marker("shared_pdf_cache"):
        folder = request.getfixturevalue("tmp_path_factory").getbasetemp() / "shared-pdf-cache"
        app.config["PDF_CACHE_FOLDER"] = str(folder)


def _own_app(request, tmp_path):
    """An app for this test alone (its database a copy of the template, or the worker's PG database)."""
    if request.param == "sqlite":
        path = tmp_path / "wizard.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        uri = f"sqlite:///{path}"
    else:
        uri = request.getfixturevalue("pg_ready")
    app = create_app(_config(tmp_path, uri))
    app.config["BACKEND"] = request.param
    if request.param == "postgresql":
        _restore_postgresql(app)
    return app


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path, _shared_apps):
    """The app on one database (the test runs once per entry of BACKENDS), with the seeded data:
    app.config["BACKEND"] says which.  Shared with other tests in this worker unless the test is
    marked fresh_app; a test that changes the app leaves it to be rebuilt for the next test."""
    backend = request.param
    if not SHARE_APPS or request.node.get_closest_marker("fresh_app"):
        app = _own_app(request, tmp_path)
        _share_pdf_cache(request, app)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        return
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        app = _shared_apps.get(backend, lambda tmp: f"sqlite:///{tmp / 'wizard.db'}")
        _restore_sqlite(app, template)
    else:
        url = request.getfixturevalue("pg_ready")
        app = _shared_apps.get(backend, lambda tmp: url)
        _restore_postgresql(app)
    _set_paths(app, tmp_path)
    _share_pdf_cache(request, app)
    app._got_first_request = False  # a test may add a URL rule "before the app's first request"
    before = _fingerprint(app)
    yield app
    with app.app_context():
        db.session.remove()
    if _fingerprint(app) != before:
        _shared_apps.drop(backend)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def people(app):
    """Two applicants, two county reviewers, an administrator and two experts.

    applicant A (alloy, 长沙市) · applicant B (linxiang, 临湘市) · county X (长沙市) ·
    county Y (临湘市) · admin · expert E (湘潭市; assigned to A in ``world``) · expert other (株洲市)."""
    with app.app_context():
        make_user("applicant-a", "applicant", cluster=ALLOY)
        make_user("applicant-b", "applicant", cluster=LINXIANG)
        make_user("county-x", "county", region="长沙市")
        make_user("county-y", "county", region="临湘市")
        make_user("admin", "admin")
        make_expert("expert-e", "湘潭市", "湘潭大学")  # not conflicted with A (长沙市)
        make_expert("expert-other", "株洲市", "湖南工业大学")
    return {"applicant_a": "applicant-a", "applicant_b": "applicant-b", "county_x": "county-x",
            "county_y": "county-y", "admin": "admin", "expert": "expert-e", "expert_other": "expert-other"}


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def world(app, people):
    """Submission A with a snapshot, a history row, an evidence file (with its bytes on disk) and
    expert E's assignment to score it."""
    with app.app_context():
        sub = submission_of(ALLOY)
        owner = db.session.execute(db.select(User).filter_by(username="applicant-a")).scalar_one()
        snap = Snapshot(submission_id=sub.id, round="preliminary", answers={}, evidence=[], digest="0" * 64)
        hist = HistoryEntry(submission_id=sub.id, user_id=owner.id, role="applicant", move="submit",
                            from_state="draft", to_state="submitted")
        pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
        ev = EvidenceFile(submission_id=sub.id, round="preliminary", slot="basic", original_name="证明.pdf",
                          stored_name="matrix-evidence.pdf", kind="pdf", size=len(pdf), pages=1,
                          sha256="0" * 64, uploaded_by_id=owner.id)
        db.session.add_all([snap, hist, ev])
        db.session.commit()
        expert = db.session.execute(db.select(User).filter_by(username="expert-e")).scalar_one()
        assignment = assign(sub, expert)  # expert-e scores A's preliminary report (A stays a draft here)
        os.makedirs(app.config["UPLOAD_FOLDER"], exist_ok=True)
        with open(os.path.join(app.config["UPLOAD_FOLDER"], ev.stored_name), "wb") as fh:
            fh.write(pdf)
        ids = {"submission_id": sub.id, "cluster_id": sub.cluster_id, "user_id": owner.id,
               "snapshot_id": snap.id, "history_id": hist.id, "entry_id": hist.id,
               "file_id": ev.id, "evidence_id": ev.id, "assignment_id": assignment.id, "expert_id": expert.id}
    return ids


# ---------------------------------------------------------------- markers, tools, the closing lines

# Slow families, marked by where they live (a new test in these places is marked too):
# folder or file (relative to tests/) -> marker.  Hypothesis tests are marked `fuzz` wherever they
# are, and a test that walks the URL map (calls tests/urlmap.py) `crawl`.
MARKED_PLACES = {
    "browser/": "browser",
    "pdf/": "pdf",
    "evidence/test_binding.py": "pdf",
    "security/test_fuzz.py": "fuzz",
    "security/test_hostile_inputs.py": "fuzz",
    "evidence/test_hostile_files.py": "budget",
    "ops/test_slow_clients.py": "server",  # gunicorn (the production command) and 40 slow sockets
    "ops/test_warmup.py": "server",  # gunicorn with the production config, warmed in its master
}

#: a test that needs one of these outside tools (``@pytest.mark.needs``, tests/tools.py) belongs to
#: the family: it starts the tool as a process of its own
TOOL_FAMILIES = {
    "libreoffice": "office",  # soffice --headless --convert-to, seconds per file
    "redis-server": "server",
}


def _walks_the_url_map(item):
    """Whether the test itself calls tests/urlmap.py (every route as each role: the slowest sweeps)."""
    function, module = getattr(item, "function", None), getattr(item, "module", None)
    if function is None or module is None:
        return False
    return any(getattr(getattr(module, name, None), "__module__", None) == "urlmap"
               for name in function.__code__.co_names)


#: the one database a family's tests run on: what they check does not depend on it (the pages and
#: queries they go through run on both databases in the other families)
ONE_BACKEND = {
    "browser": "sqlite",  # a live server on one file
    "pdf": BACKENDS[-1],  # production's PostgreSQL when configured, else SQLite
}


def _other_backend(item, backend):
    """Whether this parametrisation of a one-database family's test is on the other database."""
    return bool(backend) and any(item.get_closest_marker(m) and backend != only for m, only in ONE_BACKEND.items())


def pytest_collection_modifyitems(config, items):
    keep, dropped = [], []
    for item in items:
        if _walks_the_url_map(item):
            item.add_marker("crawl")
        where = Path(str(item.path)).resolve().relative_to(TESTS_DIR).as_posix()
        for place, marker in MARKED_PLACES.items():
            if where == place or (place.endswith("/") and where.startswith(place)):
                item.add_marker(marker)
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker("fuzz")
        for family in sorted({TOOL_FAMILIES[t] for m in item.iter_markers("needs") for t in m.args
                              if t in TOOL_FAMILIES}):
            item.add_marker(family)
        backend = getattr(item, "callspec", None) and item.callspec.params.get("app")
        if backend:
            item.user_properties.append(("backend", backend))
        (dropped if _other_backend(item, backend) else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_runtest_setup(item):
    RUNNING["item"] = item
    for mark in item.iter_markers("needs"):
        for tool in mark.args:
            tools.require(tool)


def _reason(report):
    if isinstance(report.longrepr, tuple):
        return report.longrepr[2].removeprefix("Skipped: ")
    return str(report.longrepr)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    stats = terminalreporter.stats
    missing = Counter()
    for report in stats.get("failed", []) + stats.get("error", []):
        tool = tools.missing_tool_of(getattr(report, "longreprtext", "") or str(report.longrepr))
        if tool:
            missing[tool] += 1
    skipped = Counter(_reason(r) for r in stats.get("skipped", []))
    write = terminalreporter.write_line
    if missing or skipped:
        terminalreporter.section("what did not run")
    for tool, n in sorted(missing.items()):
        write(f"MISSING IN CI: {tools.reason(tool).removeprefix(tools.MISSING + ': ')} — {n} test(s) failed",
              red=True, bold=True)
    for why, n in skipped.most_common():
        write(f"skipped {n}: {why}", yellow=True)
    unmarked = sorted({r.nodeid for key in ("passed", "failed", "error") for r in stats.get(key, [])
                       if ("queued a render", True) in getattr(r, "user_properties", ())})  # (collection errors: none)
    if unmarked:
        terminalreporter.section("PDF renders in make test-fast's families")
        write(f"{len(unmarked)} test(s) queued a PDF render without the pdf marker (add "
              "@pytest.mark.pdf: `make test-fast` renders no PDFs):", yellow=True)
        for nodeid in unmarked:
            write(f"  {nodeid}", yellow=True)
    ran = Counter(dict(r.user_properties).get("backend", "no database") for r in stats.get("passed", [])
                  if r.when == "call")
    parts = [f"{ran[b]} on {b}" for b in ("sqlite", "postgresql") if b in ran or b in BACKENDS]
    if ran.get("no database"):
        parts.append(f"{ran['no database']} without a database")
    terminalreporter.write_sep("=", "tests passed per database: " + ", ".join(parts), bold=True)
