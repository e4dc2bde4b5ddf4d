"""Deny by default, sessions that end when they should, and response headers.

Every endpoint needs a logged-in user unless it is in PUBLIC_ENDPOINTS; each
role blueprint adds its own role check (``require_role``).  The session
cookie carries the account's ``session_token`` (see models.User), so logging
out, changing the password or disabling the account ends every session.
"""
from datetime import datetime, timezone
from functools import wraps

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user

from .extensions import db, login_manager
from .models import AuditEntry, User

PUBLIC_ENDPOINTS = frozenset({"auth.login", "static"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


@login_manager.user_loader
def load_user(token):
    if not token:
        return None
    user = db.session.execute(db.select(User).filter_by(session_token=token)).scalar_one_or_none()
    if user is None or not user.active:
        return None
    return user


def _now_ts() -> int:
    return int(datetime.now(timezone.utc).timestamp())


def start_session(user) -> None:
    """Called at login: a fresh session (no fixation) stamped for the timeouts."""
    from flask_login import login_user

    pending = session.get("pending_save")
    session.clear()
    if pending:
        session["pending_save"] = pending
    login_user(user, remember=False)
    session.permanent = True
    session["_auth_at"] = session["_seen_at"] = _now_ts()


def _session_expired() -> bool:
    cfg = current_app.config
    now = _now_ts()
    auth_at = session.get("_auth_at", 0)
    seen_at = session.get("_seen_at", 0)
    if now - auth_at > cfg["SESSION_ABSOLUTE_TIMEOUT"].total_seconds():
        return True
    if now - seen_at > cfg["SESSION_IDLE_TIMEOUT"].total_seconds():
        return True
    if now - seen_at > 60:  # refresh the idle stamp at most once a minute
        session["_seen_at"] = now
    return False


def _guard():
    """before_request: the deny-by-default gate."""
    endpoint = request.endpoint
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_user.is_authenticated and _session_expired():
        logout_user()
        session.pop("_auth_at", None)
        flash("登录已超时，请重新登录。", "warning")
    if current_user.is_authenticated:
        return None
    if endpoint is None:
        abort(404)
    if request.method == "POST" and endpoint in current_app.config.get("RESUMABLE_ENDPOINTS", ()):
        from .pending import stash_pending_save

        stash_pending_save()
        flash("登录已过期。您刚才填写的内容已暂存，重新登录后将自动保存。", "warning")
    elif request.method != "GET":
        flash("请先登录。", "warning")
    if request.headers.get("X-Requested-With") == "fetch":
        return {"ok": False, "error": "登录已过期，请重新登录后再保存。"}, 401
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else request.path))


def require_role(*roles):
    """A blueprint before_request hook: only these roles may use the blueprint."""

    def check():
        if not current_user.is_authenticated:
            return None  # the global gate has already answered
        if current_user.role not in roles:
            abort(403)
        return None

    return check


def roles_required(*roles):
    """Decorator form of require_role for single views."""

    def deco(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return deco


def _headers(response):
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    if request.endpoint != "static":
        h["Cache-Control"] = "no-store"
        h.setdefault("Pragma", "no-cache")
    if g.get("request_id"):
        h["X-Request-Id"] = g.request_id
    return response


def client_address() -> str:
    from flask import has_request_context

    return (request.remote_addr or "")[:64] if has_request_context() else "cli"


def audit(action: str, target: str = "", detail: str = "", user=None) -> None:
    """Add an audit row to the current transaction (the caller commits)."""
    actor = user if user is not None else (current_user if current_user.is_authenticated else None)
    db.session.add(
        AuditEntry(
            user_id=getattr(actor, "id", None),
            username=getattr(actor, "username", "") or "",
            action=action,
            target=target[:128],
            detail=detail,
            address=client_address(),
        )
    )


def init_app(app):
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "warning"
    app.config.setdefault("RESUMABLE_ENDPOINTS", ("applicant.step",))
    app.before_request(_guard)
    app.after_request(_headers)
