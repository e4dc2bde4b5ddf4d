"""The audit log's one writer.  Services pass the actor and the client address in
explicitly (views take them from the request: see security.audit)."""
from __future__ import annotations

from .extensions import db
from .models import AuditEntry


def record(actor, action: str, target: str = "", detail: str = "", address: str = "") -> None:
    """Add an audit row to the current transaction (the caller commits).  ``actor`` is a
    User, or None for an anonymous attempt."""
    db.session.add(AuditEntry(
        user_id=getattr(actor, "id", None),
        username=getattr(actor, "username", "") or "",
        action=action,
        target=target[:128],
        detail=detail,
        address=address[:64],
    ))
