"""What a page worker computes once, done before it serves (issue #25).

A fresh process's first request of a report page cost about 180 ms of CPU against 7 ms for the
second (measured in process, N = 2,000), most of it Jinja compiling the templates.  gunicorn
(wizard/ops/gunicorn_conf.py) therefore creates the app in its master (``preload_app``), calls
``warm_up`` there and forks the workers warm: they share the compiled templates copy-on-write.
``warm_up`` touches no database, no file but the templates, starts no thread and opens no render
queue, so the master holds nothing at the fork that a worker could share by mistake; each worker
drops the engine's pool it inherits all the same (``forget_connections``; SQLAlchemy: "Using
Connection Pools with Multiprocessing or os.fork()").  Then each worker, on its own connection,
renders the pages every role opens most once before it serves (``warm_pages``: the SQL they run
compiled, the steps' form classes made, the administrators' list's pinyin keys computed).
"""
from __future__ import annotations

import logging
import time

from flask import Flask, url_for
from flask_login import login_user

from ..access import CURRENT_EDITION_ID
from ..extensions import db
from ..models import CATEGORY_LABELS, ROLE_ADMIN, ROLE_APPLICANT, ROLE_COUNTY, Cluster, Submission, User
from ..report.definition import get_report
from ..report.model import ROUNDS
from ..workflow.states import FINAL, STATES, round_of

log = logging.getLogger(__name__)

#: each round's states (workflow/states.py), for the reports the page warm-up picks
_STATES_OF = {r: [k for k, s in STATES.items() if s.round == r] for r in ROUNDS}


def warm_up(app: Flask) -> dict:
    """Compile every template, import the macro libraries the pages import and build the report
    definitions with what the pages compute from them alone; returns counts and the seconds taken.
    Another app served with the same gunicorn config (the load benchmark's bare route) is left as is."""
    if not _is_wizard(app):
        return {"skipped": True}
    started = time.perf_counter()
    try:
        with app.app_context():
            reports = _definitions()
            compiled, modules = _templates(app)
    except Exception:  # never keeps the server from starting: the pages then compile what they use
        app.logger.exception("Warm-up failed; the pages will compile their templates on first use")
        return {"error": True, "seconds": time.perf_counter() - started}
    took = time.perf_counter() - started
    app.logger.info("Warm-up: %d templates compiled (%d macro modules), %d report definitions, in %.2f s",
                    compiled, modules, reports, took)
    return {"templates": compiled, "modules": modules, "reports": reports, "seconds": took}


def _definitions() -> int:
    """Both rounds' report definitions (built once per process: report/definition.get_report)."""
    for round_ in ROUNDS:
        get_report(round_)
    return len(ROUNDS)


def _templates(app: Flask) -> tuple[int, int]:
    """Every template compiled into the environment's cache; each one's module (what an
    ``{% import %}`` without context uses, macros only) built where the template has one that
    needs no request (a page's template fails here and is only compiled)."""
    env = app.jinja_env
    names = [n for n in env.list_templates() if n.endswith(".html")]
    if env.cache is not None and env.cache.capacity < len(names) * 2:
        log.warning("Jinja's template cache (%d) is smaller than twice the templates (%d)", env.cache.capacity,
                    len(names))
    modules = 0
    for name in names:
        template = env.get_template(name)
        if not _is_library(name):
            continue
        try:
            template.module  # builds the module and keeps it
        except Exception:  # a partial that needs a page's variables: compiled is enough
            continue
        modules += 1
    return len(names), modules


def _is_library(name: str) -> bool:
    """Templates that only define macros, by the project's naming: partials (``_x.html``), the
    kind partials and the macro folder."""
    base = name.rsplit("/", 1)[-1]
    return base.startswith("_") or name.startswith(("_macros/", "report/kinds/"))


def warm_pages(app: Flask) -> int:
    """In a worker, before it serves (gunicorn's post_worker_init): the pages every role opens
    most (the administrators' dashboard and list, a report's administrator, comparison and county
    pages, the county's queue, an applicant's task list, review page and every step of a draft,
    and the administrator's page of a report of each other round and category) rendered once, so
    that the SQL statements they run are compiled, the statements scoped per role built, the
    steps' form classes made, the list's pinyin keys computed and the report bodies' skeletons
    written.  In process at N = 2,000, after ``warm_up``: a first county report page 25 ms of
    CPU, after this 15 ms (a second: 7–12 ms); a first list sorted by name about 275 ms of
    pinyin, after this none.

    Read-only: the views are called directly as a user that is not stored (logged in for that
    request alone: no cookie leaves, no audit row), on reports of the current edition, and the
    session is rolled back after each page.  Runs after the fork, so the connection it opens is
    the worker's own; a failure is logged and the worker serves all the same.  Returns the number
    of pages rendered."""
    if not _is_wizard(app):
        return 0
    started, done = time.perf_counter(), 0
    with app.app_context():
        try:
            pages = _pages_to_warm()
        except Exception:  # no database yet, or not migrated: nothing to warm
            app.logger.warning("Page warm-up skipped: the database could not be read", exc_info=True)
            pages = []
        finally:
            db.session.rollback()
        for endpoint, args, user, *query in pages:
            try:
                with app.test_request_context(_path(app, endpoint, args), query_string=dict(query)):
                    login_user(user)  # this request's user only: its session is never sent
                    app.view_functions[endpoint](**args)
                done += 1
            except Exception:  # the page then warms on its first request
                app.logger.warning("Page warm-up: %s failed", endpoint, exc_info=True)
            finally:
                db.session.rollback()
        db.session.remove()
    app.logger.info("Page warm-up: %d pages in %.2f s", done, time.perf_counter() - started)
    return done


def _pages_to_warm() -> list[tuple]:
    """(endpoint, view arguments, user[, one query argument]) of each page ``warm_pages``
    renders: the first report of the current edition for the reviewers (its first report in the
    final round for the round comparison), its first draft for the applicant's pages."""
    def first(*where):
        return db.session.execute(
            db.select(Submission.id, Submission.state, Submission.cluster_id, Cluster.region_id, Cluster.category)
            .join(Submission.cluster)
            .where(Submission.edition_id == CURRENT_EDITION_ID, *where)
            .order_by(Submission.id).limit(1)).first()

    def user(role, **binding):
        return User(username="warm-up", display_name="warm-up", role=role, active=True, **binding)

    admin = user(ROLE_ADMIN)
    pages = [("admin.dashboard", {}, admin),
             ("admin.submissions", {}, admin),  # by name: the pinyin keys of every cluster
             ("admin.submissions", {}, admin, ("sort", "updated"))]  # by last change: a page in SQL
    any_report = first()
    if any_report is not None:
        final = first(Submission.state.in_(_STATES_OF[FINAL]))
        county = user(ROLE_COUNTY, region_id=any_report.region_id)
        pages += [("admin.submission", {"submission_id": any_report.id}, admin),
                  ("results.compare", {"submission_id": (final or any_report).id}, admin),
                  ("county.queue", {}, county), ("county.submission", {"submission_id": any_report.id}, county)]
        pages += [("admin.submission", {"submission_id": one}, admin) for one in _one_per_body(first, any_report)]
    drafts = {k: s.editable_round for k, s in STATES.items() if s.editable_round}
    draft = first(Submission.state.in_(drafts)) if drafts else None
    if draft is not None:
        applicant = user(ROLE_APPLICANT, cluster_id=draft.cluster_id)
        pages += [("applicant.tasks", {}, applicant), ("applicant.review", {}, applicant)]
        pages += [("applicant.step", {"step_key": step.key}, applicant)
                  for step in get_report(drafts[draft.state]).steps]
    return pages


def _one_per_body(first, warmed) -> list[int]:
    """A report of each round and category but ``warmed``'s: the first page of a report of each
    writes its body's skeleton and most of its fields' (report/fragments.py, about 25 ms of CPU in
    process against 7 ms for the next report: a reviewer's first page of such a report waited
    200-280 ms for it in the open loop of the load benchmark)."""
    out = []
    for round_ in ROUNDS:
        for category in CATEGORY_LABELS:
            if (round_, category) != (round_of(warmed.state), warmed.category):
                one = first(Submission.state.in_(_STATES_OF[round_]), Cluster.category == category)
                if one is not None:
                    out.append(one.id)
    return out


def _path(app: Flask, endpoint: str, args: dict) -> str:
    with app.test_request_context():
        return url_for(endpoint, **args)


def forget_connections(app: Flask) -> None:
    """In a process just forked from one that used the database: drop the pool inherited from the
    parent without closing its connections (they are the parent's), so this process opens its own."""
    if not _is_wizard(app):
        return
    with app.app_context():
        db.engine.dispose(close=False)


def _is_wizard(app) -> bool:
    """Whether ``app`` is this package's app (wizard.create_app), with its database."""
    return getattr(app, "import_name", None) == __package__.rsplit(".", 1)[0] and "sqlalchemy" in app.extensions
