"""Keep what a user typed when the login expired before the save arrived.

Only a login that really expired is trusted with this (issue #11, finding 1): the
POST must carry a CSRF token valid for the session it presents, and that session
must have belonged to a user (``_uid``, stamped at login).  The stash is bound to
that user; it is resumed only when the same user logs in again in the same browser
(the stash's random token lives in that browser's session).  Anything else is
refused like any other CSRF failure, stores nothing and leaves the session alone.

The posted form is stored server-side (a signed cookie is too small for long
narratives), capped at what a real step form can hold, one row per user."""
import json
from datetime import timedelta

from flask import current_app, request, session
from flask_wtf.csrf import ValidationError, validate_csrf

from ..extensions import db
from ..models import PendingSave, utcnow

PENDING_LIFETIME = timedelta(days=1)
#: a stash larger than this is refused; the longest real step form is well under it
PENDING_MAX_BYTES = 256 * 1024
#: the session key naming the user a session belonged to (survives the login's expiry)
SESSION_USER_KEY = "_uid"


def stash_owner() -> int | None:
    """The user whose expired login this request comes from, or None when the request
    is not entitled to a stash (no user's session, or no valid CSRF token for it)."""
    uid = session.get(SESSION_USER_KEY)
    if not isinstance(uid, int):
        return None
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return None
    return uid


def stash_pending_save(user_id: int) -> bool:
    """Store this POST's form for ``user_id``; False (nothing stored) when it is too large."""
    form = {k: request.form.getlist(k) for k in request.form if k != "csrf_token"}
    if len(json.dumps(form, ensure_ascii=False).encode()) > current_app.config.get("PENDING_MAX_BYTES",
                                                                                 PENDING_MAX_BYTES):
        return False
    db.session.execute(db.delete(PendingSave).where(
        (PendingSave.user_id == user_id) | (PendingSave.created_at < utcnow() - PENDING_LIFETIME)))
    row = PendingSave(user_id=user_id, path=request.path[:255], form=form)
    db.session.add(row)
    db.session.commit()
    session["pending_save"] = row.token
    return True


def take_pending_save(user) -> PendingSave | None:
    """Pop this browser's pending save (if any) from the session and the database; only
    ``user``'s own stash is returned (another account's is discarded)."""
    token = session.pop("pending_save", None)
    if not token:
        return None
    row = db.session.execute(db.select(PendingSave).filter_by(token=token)).scalar_one_or_none()
    if row is None:
        return None
    db.session.delete(row)
    if row.user_id != user.id or row.created_at < utcnow() - PENDING_LIFETIME:
        return None
    return row
