"""Template globals: labels from the workflow and report definition, the unread count."""
from flask import g, has_app_context, has_request_context, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import event

from ..evidence.checks import ACCEPTED_KINDS
from ..evidence.names import file_size
from ..extensions import db
from ..kept import Kept
from ..models import ROLE_LABELS, Message, User, local_now, to_local
from ..report.model import EVIDENCE_MARK
from ..report.view import opinion_for, template_globals
from ..workflow.states import STATES, move_label, state_label


def time_left(deadline) -> str:
    """Time until a deadline (deadlines are Beijing wall-clock times)."""
    delta = deadline - local_now()
    if delta.total_seconds() <= 0:
        return "已截止"
    days, hours = delta.days, delta.seconds // 3600
    return f"剩余 {days} 天 {hours} 小时" if days else f"剩余 {hours} 小时 {delta.seconds % 3600 // 60} 分钟"


def state_badge(key: str) -> Markup:
    """A state's badge: its label in the style of its State (static/css/app.css)."""
    css = STATES[key].badge if key in STATES else ""
    return Markup('<span class="state-badge {}">{}</span>').format(css, state_label(key))


def person(user, fallback: str = "") -> str:
    """Who did something, everywhere it is shown (audit log, history, scores): the person's 姓名
    (or the username) and the organisation the account belongs to, e.g. 张三（长沙市人民政府）.
    ``fallback``: what to show when the account is gone (an audit row keeps its username)."""
    if user is None:
        return fallback or "—"
    name = user.display_name or user.username
    organisation = user.binding_label
    return f"{name}（{organisation}）" if organisation and organisation != name else name


def init_app(app):
    app.jinja_env.globals.update(template_globals())

    app.jinja_env.globals.update(state_label=state_label, state_badge=state_badge, time_left=time_left, move_label=move_label,
                                 role_label=lambda r: ROLE_LABELS.get(r, r), opinion_for=opinion_for,
                                 file_size=file_size, ACCEPTED_KINDS=ACCEPTED_KINDS, EVIDENCE_MARK=EVIDENCE_MARK)
    app.jinja_env.filters["person"] = person
    app.jinja_env.globals.update(once=once, url_once=url_once)
    app.jinja_env.filters["local"] = lambda moment, fmt="%Y-%m-%d %H:%M": to_local(moment).strftime(fmt) if moment else ""

    @app.context_processor
    def limits():
        return {"upload_limits": {"file": app.config["UPLOAD_MAX_FILE_BYTES"],
                                  "request": app.config["MAX_CONTENT_LENGTH"]}}

    @app.context_processor
    def unread():

        if not has_request_context() or not current_user.is_authenticated:
            return {"unread_count": 0}
        known = g.get(_UNREAD_KNOWN)
        if known is not None and known[0] == current_user.id:
            return {"unread_count": known[1]}
        n = db.session.execute(_unread_statement(), {"user_id": current_user.id}).scalar_one()
        return {"unread_count": n}

    if not event.contains(db.session, "after_flush", _forget_unread):
        event.listen(db.session, "after_flush", _forget_unread)
        event.listen(db.session, "do_orm_execute", _forget_unread_on_write)


# --- the unread count, read with the user (web/security.load_user) ---------------------------

_UNREAD_KNOWN = "unread_known"  # g: (user id, unread count) as the user's statement read them


def unread_of_user():
    """The unread messages of the ``User`` a statement selects, as a column of it."""
    return (db.select(db.func.count()).select_from(Message)
            .where(Message.user_id == User.id, Message.read_at.is_(None)).scalar_subquery())


def remember_unread(user_id: int, count: int) -> None:
    """The unread count read with the user: the page shows it unless this request writes
    anything first (a message read or added: _forget_unread)."""
    if has_app_context():
        g.setdefault(_UNREAD_KNOWN, (user_id, count))


def _forget_unread(*_args) -> None:
    if has_app_context():
        g.pop(_UNREAD_KNOWN, None)


def _forget_unread_on_write(state) -> None:
    if not state.is_select:  # an UPDATE, INSERT or DELETE through the session (e.g. messages marked read)
        _forget_unread()


_UNREAD = []


def _unread_statement():
    """The unread count's statement, built once per process (building it and its cache key cost
    more than running it); the user is its parameter."""
    if not _UNREAD:
        _UNREAD.append(db.select(db.func.count()).select_from(Message)
                       .where(Message.user_id == db.bindparam("user_id"), Message.read_at.is_(None)))
    return _UNREAD[0]


#: (the application's root, a template's key) → the markup a template block renders from its key
#: alone (base.html's navigation: the role and the page's endpoint; a round comparison's tables,
#: about 150 kB each): built once per process, not once per page (about 30 url_for and macro calls
#: per page, issue #25).  Bounded by entries and by characters (a few tens of MB at most, however
#: large the blocks).
_ONCE = Kept(1024, 8_000_000)


def once(*key, caller):
    """``{% call once(key...) %}markup{% endcall %}``: the block's markup, rendered the first
    time only.  The block must depend on nothing but ``key`` and the application's root (its
    URLs carry it)."""
    full = (request.script_root, *key) if has_request_context() else (None, *key)
    hit = _ONCE.get(full)
    if hit is None:
        hit = caller()
        _ONCE.put(full, hit, len(hit))
    return hit


def url_once(endpoint: str, **values) -> str:
    """``url_for(endpoint, **values)`` (a path: no ``_external`` or other options), kept per
    process and application root: a link every page carries (base.html) is built once."""
    if any(k.startswith("_") for k in values) or not has_request_context():
        return url_for(endpoint, **values)
    full = (request.script_root, "url", endpoint, *sorted(values.items()))
    hit = _ONCE.get(full)
    if hit is None:
        hit = url_for(endpoint, **values)
        _ONCE.put(full, hit, len(hit))
    return hit
