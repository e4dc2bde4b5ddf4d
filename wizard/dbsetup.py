"""Engine tuning.  SQLite: WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE
for write transactions.

With SQLite's default deferred BEGIN, two requests that both read then write
deadlock on the lock upgrade and one fails at once with "database is locked"
(the busy timeout does not help there: SQLite never waits to upgrade a read
transaction, and in WAL a snapshot older than the last commit cannot write at all).
Starting the transaction with BEGIN IMMEDIATE takes the write lock first, so
concurrent writers queue on the busy timeout instead.  GET/HEAD requests never
write (a rule of this app), so they start plain deferred transactions and keep
WAL's concurrent reads.

The write lock only around the write (issue #25): a view whose writes are all
optimistic (a conditional ``UPDATE … WHERE version = :expected`` that matches nothing
when another save came between its read and its write) is marked ``reads_deferred``.
Its POST reads outside any transaction (SQLite's autocommit: each SELECT sees the last
commit, as PostgreSQL's READ COMMITTED does; no read transaction is ever upgraded), and
each write runs in a short transaction of its own, ``write_window()``, begun with BEGIN
IMMEDIATE on the same connection.  A process's threads queue for the window on one
Python lock (no polling), so SQLite's busy handler sees one writer per process at most.
Every other POST keeps BEGIN IMMEDIATE for the whole request.  PostgreSQL is left as it
is (READ COMMITTED, one transaction per request): there ``write_window`` does nothing, the
conditional UPDATE is what protects.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar

from flask import current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from .extensions import db

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
BUSY_TIMEOUT_MS = 30000

#: set on a view function by ``reads_deferred``
READS_DEFERRED = "reads_deferred"

_in_window: ContextVar[bool] = ContextVar("in_write_window", default=False)
_writer = threading.Lock()  # this process's writers, one at a time (write_window)


def reads_deferred(view):
    """Mark a view whose POST reads without SQLite's write lock (autocommit reads) and writes
    inside ``write_window()`` (its writes must be optimistic: a conditional UPDATE; a statement
    written outside a window commits on its own)."""
    setattr(view, READS_DEFERRED, True)
    return view


def _reads_deferred_post() -> bool:
    """Whether this request is a write whose view is marked ``reads_deferred``."""
    if not has_request_context() or request.method in SAFE_METHODS or not request.endpoint:
        return False
    return bool(getattr(current_app.view_functions.get(request.endpoint), READS_DEFERRED, False))


def _begin_statement() -> str | None:
    """The statement that begins a transaction on SQLite: None (none at all, autocommit) for
    the reads of a ``reads_deferred`` POST."""
    if _in_window.get():
        return "BEGIN IMMEDIATE"
    if not has_request_context():
        return "BEGIN IMMEDIATE"
    if request.method in SAFE_METHODS:
        return "BEGIN"
    return None if _reads_deferred_post() else "BEGIN IMMEDIATE"


def _busy() -> OperationalError:
    """What SQLite's busy timeout raises: web/errors.py answers it with the Chinese 503."""
    return OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked (waited for this process's writer)"))


@contextmanager
def write_window():
    """A short write transaction (SQLite, in a ``reads_deferred`` POST): this thread waits for
    the process's writer lock (the busy timeout at most, then the database's Chinese 503), and
    BEGIN IMMEDIATE starts a transaction on the session's connection.  Leaving it commits what is
    still open; an exception rolls back.  The lock is released either way.  Nested windows are
    one window.  It does nothing where the request holds the write lock throughout (a view not
    marked ``reads_deferred``, the CLI) and on PostgreSQL."""
    if _in_window.get() or not _reads_deferred_post() or db.engine.dialect.name != "sqlite":
        yield
        return
    if not _writer.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
        raise _busy()
    token = _in_window.set(True)
    try:
        connection = db.session.connection()  # a connection drawn now begins BEGIN IMMEDIATE itself
        if not connection.connection.dbapi_connection.in_transaction:  # one that only read: autocommit
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield
        if db.session().in_transaction():  # (save_answers commits its own)
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _in_window.reset(token)
        _writer.release()


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy (below) emit BEGIN itself instead of pysqlite.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        statement = _begin_statement()
        if statement:
            conn.exec_driver_sql(statement)
