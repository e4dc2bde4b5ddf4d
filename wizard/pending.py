"""Keep what a user typed when the session expired before the save arrived.

The posted form is stored server-side (a signed cookie is too small for long
narratives); only its random token goes into the session.  After the same
browser logs in again, the login view hands the stored form to the step view,
which validates and saves it as that user (so nothing is trusted from the
anonymous request but the input itself)."""
from datetime import timedelta

from flask import request, session

from .extensions import db
from .models import PendingSave, utcnow

PENDING_LIFETIME = timedelta(days=1)


def stash_pending_save() -> None:
    form = {k: request.form.getlist(k) for k in request.form if k != "csrf_token"}
    row = PendingSave(path=request.path[:255], form=form)
    db.session.add(row)
    db.session.execute(db.delete(PendingSave).where(PendingSave.created_at < utcnow() - PENDING_LIFETIME))
    db.session.commit()
    session["pending_save"] = row.token


def take_pending_save() -> PendingSave | None:
    """Pop this browser's pending save (if any) from the session and database."""
    token = session.pop("pending_save", None)
    if not token:
        return None
    row = db.session.execute(db.select(PendingSave).filter_by(token=token)).scalar_one_or_none()
    if row is None or row.created_at < utcnow() - PENDING_LIFETIME:
        return None
    db.session.delete(row)
    return row
