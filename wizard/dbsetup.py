"""Engine tuning.  SQLite: WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE
for write transactions.

With SQLite's default deferred BEGIN, two requests that both read then write
deadlock on the lock upgrade and one fails at once with "database is locked"
(the busy timeout does not help there).  Starting the transaction with BEGIN
IMMEDIATE takes the write lock first, so concurrent writers queue on the busy
timeout instead.  GET/HEAD requests never write (a rule of this app), so they
start plain deferred transactions and keep WAL's concurrent reads.
"""
from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
BUSY_TIMEOUT_MS = 30000


def _begin_statement() -> str:

    if has_request_context() and request.method in SAFE_METHODS:
        return "BEGIN"
    return "BEGIN IMMEDIATE"


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
        conn.exec_driver_sql(_begin_statement())
