"""Deny by default, sessions that end when they should, and response headers.

Every endpoint needs a logged-in user unless it is in PUBLIC_ENDPOINTS; each
role blueprint adds its own role check (``require_role``).  The session
cookie carries the account's ``session_token`` (see models.User), so logging
out, changing the password or disabling the account ends every session.
"""
from datetime import datetime, timezone

from flask import abort, current_app, flash, g, has_request_context, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import check_password_hash, generate_password_hash

from ..auditlog import record, record_at_once
from ..dbsetup import SAFE_METHODS
from ..extensions import csrf, db, login_manager
from ..models import LoginAttempt, User, utcnow
from . import deadline_lock
from .pending import SESSION_USER_KEY, stash_owner, stash_pending_save
from .templating import remember_unread, unread_of_user


PUBLIC_ENDPOINTS = frozenset({"auth.login", "static", "main.blank_pdf",  # blank templates: from the login page
                              "profile.forgot", "profile.reset"})  # password reset by e-mail (issue #26)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


#: the account a session cookie names, with its unread messages (the header's badge: no statement
#: of its own, templating.unread), built once (every request runs it; building it anew cost about
#: as much as running it)
USER_BY_TOKEN = db.select(User, unread_of_user()).where(User.session_token == db.bindparam("token"))


@login_manager.user_loader
def load_user(token):
    if not token:
        return None
    row = db.session.execute(USER_BY_TOKEN, {"token": token}).one_or_none()
    if row is None or not row[0].active:
        return None
    remember_unread(row[0].id, row[1])
    return row[0]


def _now_ts() -> int:
    return int(datetime.now(timezone.utc).timestamp())


def start_session(user) -> None:
    """Called at login: a fresh session (no fixation) stamped for the timeouts, and with
    the user it belongs to (so input posted after the login expires can be kept for
    this user alone, see pending.py)."""
    pending = session.get("pending_save")
    session.clear()
    if pending:
        session["pending_save"] = pending
    login_user(user, remember=False)
    session.permanent = True
    session["_auth_at"] = session["_seen_at"] = _now_ts()
    session[SESSION_USER_KEY] = user.id


def end_session() -> None:
    """Logout: nothing of the session is kept (no stash can be bound to it afterwards)."""
    logout_user()
    session.clear()


# --- passwords and login throttling -------------------------------------------------------

def _hash_for_unknown_names() -> str:
    """A hash of the same method as real accounts', checked when the name is unknown, so the
    answer takes as long as for a real account with a wrong password (no user enumeration).
    Made once per app, at start-up (security.init_app)."""
    return current_app.extensions["wizard_dummy_hash"]


def authenticate(username: str, password: str) -> User | None:
    """The active account with this name and password, or None; one hash check either way."""
    user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
    if user is None:
        check_password_hash(_hash_for_unknown_names(), password)
        return None
    return user if user.check_password(password) and user.active else None


def login_throttled(username: str) -> bool:
    """Too many recent failures for this account from this address, or from this address
    at all.  There is no account-wide lock: failures elsewhere never stop a correct login
    from an address that has none (issue #11, finding 4)."""
    cfg = current_app.config
    since = utcnow() - cfg["LOGIN_THROTTLE_WINDOW"]
    q = db.select(db.func.count()).select_from(LoginAttempt).where(
        LoginAttempt.success.is_(False), LoginAttempt.at >= since, LoginAttempt.address == client_address()
    )
    per_pair = db.session.execute(q.where(LoginAttempt.username == username)).scalar_one()
    if per_pair >= cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]:
        return True
    return address_throttled(q)


def address_throttled(query=None) -> bool:
    cfg = current_app.config
    if query is None:
        query = db.select(db.func.count()).select_from(LoginAttempt).where(
            LoginAttempt.success.is_(False), LoginAttempt.at >= utcnow() - cfg["LOGIN_THROTTLE_WINDOW"],
            LoginAttempt.address == client_address())
    return db.session.execute(query).scalar_one() >= cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]


def record_attempt(username: str, success: bool) -> None:
    """Count an attempt (the caller commits)."""
    db.session.add(LoginAttempt(username=username[:64], address=client_address(), success=success))


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


def _expire():
    """before_request, ahead of the CSRF check: an idle or too old login ends here."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    if current_user.is_authenticated and _session_expired():
        logout_user()
        session.pop("_auth_at", None)
        flash("登录已超时，请重新登录。", "warning")


def _guard():
    """before_request: the deny-by-default gate."""
    endpoint = request.endpoint
    if endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    if endpoint is None:
        abort(404)
    if request.method == "POST" and endpoint in current_app.config.get("RESUMABLE_ENDPOINTS", ()):
        _stash_or_refuse()
    elif request.method != "GET":
        flash("请先登录。", "warning")
    if request.headers.get("X-Requested-With") == "fetch":
        return {"ok": False, "error": "登录已过期，请重新登录后再保存。"}, 401
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else request.path))


#: what a user holding a one-time password may still do: set a new one, or log out
FIRST_PASSWORD_ENDPOINTS = frozenset({"auth.change_password", "auth.logout"})


def _new_password_first():
    """before_request, after the gate: a user logged in with a one-time password (账号通知书)
    does nothing but choose a new password; other pages redirect there, other POSTs are
    refused (nothing carried out)."""
    if not current_user.is_authenticated or not current_user.password_one_time:
        return None
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint in FIRST_PASSWORD_ENDPOINTS:
        return None
    if request.headers.get("X-Requested-With") == "fetch":
        return {"ok": False, "error": "请先设置新密码。"}, 403
    if request.method in SAFE_METHODS:
        return redirect(url_for("auth.change_password"))
    flash("请先设置新密码，之后才能进行其他操作。刚才的操作未执行。", "warning")
    return redirect(url_for("auth.change_password"), 303)


def _stash_or_refuse() -> None:
    """A step form posted after the login expired: keep it for the same user, or refuse
    as a CSRF failure (nothing stored, the session left alone)."""
    owner = stash_owner()
    if owner is None:
        raise CSRFError("登录已过期且无法确认本次提交来自您本人，内容未暂存。")
    # A stash is not a failed login (issue #22, item 6): counting each autosave after the expiry
    # locked the user, and everyone behind the same address, out of the login that saves it.
    # What bounds stashes is pending.py: one row per user, capped in size, a valid token required.
    if stash_pending_save(owner):
        flash("登录已过期。您刚才填写的内容已暂存，重新登录后将自动保存。", "warning")
    else:
        db.session.commit()
        flash("登录已过期。提交的内容超过暂存上限，未能暂存，请重新登录后再填写。", "warning")


def _no_session_for_cookieless_changes(response):
    """A state-changing request that arrived without a session cookie (a cross-site POST
    under SameSite=Lax) never sets one: it must not replace, and so log out, the
    browser's real session (issue #11, finding 1)."""
    if request.method not in SAFE_METHODS and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        session.modified = False
    return response


def require_role(*roles):
    """A blueprint before_request hook: only these roles may use the blueprint."""

    def check():
        if not current_user.is_authenticated:
            return None  # the global gate has already answered
        if current_user.role not in roles:
            abort(403)
        return None

    check.roles = frozenset(roles)  # whom the gate admits (the hostile-input walk asks the app)
    return check


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
    return (request.remote_addr or "")[:64] if has_request_context() else "cli"


def audit(action: str, target: str = "", detail: str = "", user=None) -> None:
    """Add an audit row for this request (the caller commits; a request that only reads, such
    as a download, has it written at once, in its own transaction): the actor is ``user``, or
    the logged-in user; ``user=False`` records an anonymous attempt."""
    actor = user if user is not None else (current_user if current_user.is_authenticated else None)
    write = record_at_once if request.method in SAFE_METHODS else record
    write(actor or None, action, target, detail, client_address())


def init_app(app):
    proxies = app.config.get("TRUSTED_PROXIES", 0)
    if proxies:  # the client address and scheme come from that many reverse proxies in front
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.extensions["wizard_dummy_hash"] = generate_password_hash(
        "unknown-account-dummy", method=app.config["PASSWORD_HASH_METHOD"])
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "warning"
    app.config.setdefault("RESUMABLE_ENDPOINTS", ("applicant.step",))
    # The gate's order: an expired login ends first, then the CSRF check, then deny-by-default.
    app.before_request(_expire)
    csrf.init_app(app)
    app.before_request(_guard)
    app.before_request(_new_password_first)
    app.after_request(_headers)
    app.after_request(_no_session_for_cookieless_changes)
    deadline_lock.init_app(app)  # the read-only notice of a report past its deadline
