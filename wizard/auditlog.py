"""The audit log's one writer.  Services pass the actor and the client address in
explicitly (views take them from the request: see security.audit)."""
from __future__ import annotations

from .extensions import db
from .models import AuditEntry


def _values(actor, action: str, target: str, detail: str, address: str) -> dict:
    return {"user_id": getattr(actor, "id", None), "username": getattr(actor, "username", "") or "",
            "action": action, "target": target[:128], "detail": detail, "address": address[:64]}


def record(actor, action: str, target: str = "", detail: str = "", address: str = "") -> None:
    """Add an audit row to the current transaction (the caller commits).  ``actor`` is a
    User, or None for an anonymous attempt."""
    db.session.add(AuditEntry(**_values(actor, action, target, detail, address)))


def record_at_once(actor, action: str, target: str = "", detail: str = "", address: str = "") -> None:
    """Write an audit row in a transaction of its own, on a connection of its own: for requests
    that only read (a download).  Their transaction on SQLite is a deferred reader, which cannot
    become a writer once another request has committed since it began (WAL answers "database is
    locked" at once, whatever the busy timeout); a transaction whose first statement is the
    insert waits for the lock instead."""
    with db.engine.begin() as conn:
        conn.execute(db.insert(AuditEntry).values(**_values(actor, action, target, detail, address)))
