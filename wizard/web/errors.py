"""Chinese error pages; never a traceback.  Errors are logged with the request id."""
from flask import current_app, flash, g, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from ..evidence.names import file_size
from ..extensions import db
from .storage_full import JSON_MESSAGE as STORAGE_FULL_JSON
from .storage_full import STATUS as STORAGE_FULL
from .storage_full import TITLE as STORAGE_FULL_TITLE
from .storage_full import is_storage_full, storage_full_message

MESSAGES = {
    400: ("请求无效", "提交的内容无法处理，请返回上一页重试。"),
    403: ("没有权限", "您的账号没有访问此页面的权限。"),
    404: ("页面不存在", "您要访问的页面不存在，或您无权查看。"),
    405: ("请求方式不允许", "此页面不支持该请求方式。"),
    409: ("操作冲突", "该操作与当前状态冲突，未做任何更改。请刷新页面后重试。"),
    413: ("文件过大", "上传的内容超过大小限制。"),
    429: ("尝试次数过多", "请稍后再试。"),
    500: ("系统错误", "系统处理请求时出错，已记录。请稍后重试或联系管理员。"),
    STORAGE_FULL: (STORAGE_FULL_TITLE, "服务器的存储空间已满，本次操作未能完成。系统已通知管理员，请等管理员处理后再试。"),
    503: ("系统暂时无法使用", "系统暂时无法连接数据库，本次操作未执行、未保存。请稍后重试；如多次出现，请联系管理员。"),
}
#: what a save that reached a database that is away answers (the wizard's script keeps the typed
#: text in this browser and offers it again: the JSON answer says so)
DATABASE_AWAY_JSON = ("未保存：系统暂时无法连接数据库。您填写的内容已保留在此浏览器中，"
                      "恢复后将自动重新保存；请不要关闭页面。")


def wants_json() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def error_page(code: int, message: str | None = None):
    title, default = MESSAGES.get(code, MESSAGES[500])
    text = message or default
    if code == 413:

        limit = file_size(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
        text = f"上传的内容超过大小限制：单次上传不能超过 {limit}。请压缩或拆分文件后重新上传；已保存的内容不受影响。"
    if wants_json():
        return {"ok": False, "error": text}, code
    try:
        return render_template("errors/error.html", code=code, title=title, message=text), code
    except Exception:  # the usual page needs the login and the database: show one that needs neither
        current_app.logger.exception("Error page %s could not be rendered; showing the standalone one", code)
        return standalone_page(code, title, text), code


def standalone_page(code: int, title: str, text: str) -> str:
    """Rendered by Jinja alone: no context processors (they read the login and the database)."""
    return current_app.jinja_env.get_template("errors/standalone.html").render(
        code=code, title=title, message=text, request_id=g.get("request_id"))


def unreachable(exc) -> bool:
    """Whether a database error means the database is away (refused or lost connection, an
    exhausted pool, a lock held too long), not a fault of the statement (a bug: a 500)."""
    if isinstance(exc, (InterfaceError, PoolTimeout)) or getattr(exc, "connection_invalidated", False):
        return True
    if getattr(exc, "statement", None) is None:  # raised while connecting, before any statement
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    return any(sign in text for sign in ("database is locked", "connection", "server closed", "terminating"))


def _database_away(exc):
    """The database cannot be reached (stopped, restarting, locked too long): a Chinese 503 that
    needs no database, never Flask's English 500."""
    if is_storage_full(exc) or not unreachable(exc):  # SQLite's "database or disk is full" is no outage
        return _server_error(exc)
    current_app.logger.error("Database unavailable on %s %s: %s", request.method, request.path, exc)
    try:
        db.session.rollback()
    except Exception:  # the connection is gone: nothing to roll back
        current_app.logger.debug("rollback after a database error failed", exc_info=True)
    title, text = MESSAGES[503]
    if wants_json():
        return {"ok": False, "error": DATABASE_AWAY_JSON}, 503
    return standalone_page(503, title, text), 503


def _http_error(exc: HTTPException):
    code = exc.code or 500
    message = exc.description if code == 409 and isinstance(exc.description, str) and not exc.description.startswith("The ") else None
    return error_page(code, message)


def _csrf_error(exc: CSRFError):
    """A missing or stale CSRF token.  Without a logged-in user nothing is stored and the
    session is left alone (a cross-site POST must not log the victim out); with one, the
    form is shown again with what the user typed where the view supports it."""
    if not current_user.is_authenticated:
        if wants_json():
            return {"ok": False, "error": "登录已过期，请重新登录后再保存。"}, 401
        reason = exc.description if _is_chinese(exc.description) else "页面已过期（安全校验未通过），操作未执行。"
        return error_page(400, f"{reason}请重新登录后再试。")
    endpoint = request.endpoint
    if endpoint in current_app.config.get("REDISPLAY_ENDPOINTS", ()):
        g.csrf_failed = True
        flash("页面已过期（安全校验未通过），您填写的内容保留在下方，请核对后再次提交。", "warning")
        try:
            return current_app.view_functions[endpoint](**(request.view_args or {}))
        except HTTPException as err:  # e.g. the report became read-only: answer as that view would
            return _http_error(err)
    return error_page(400, "页面已过期（安全校验未通过），操作未执行。请刷新页面后重试。")


def _is_chinese(text) -> bool:
    return isinstance(text, str) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


def storage_full_response(exc=None):
    """The server's storage is full (issue #22, item 12): say so, and that the administrators have
    been told (an error-level log line at most once an hour), never "please retry"."""
    try:
        db.session.rollback()
    except Exception:  # the connection is gone too: nothing to roll back
        current_app.logger.debug("rollback after a full disk failed", exc_info=True)
    message = storage_full_message(f"{request.method} {request.path}", exc)
    if wants_json():
        return {"ok": False, "error": STORAGE_FULL_JSON}, STORAGE_FULL
    return error_page(STORAGE_FULL, message)


def _server_error(exc):
    if is_storage_full(exc):
        return storage_full_response(exc)
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    try:

        db.session.rollback()
    except Exception:  # pragma: no cover - best effort
        pass
    return error_page(500)


def init_app(app):
    # forms shown again with what was typed after a failed CSRF check (the view reads g.csrf_failed
    # and saves nothing): the wizard's steps and the expert's score sheet
    app.config.setdefault("REDISPLAY_ENDPOINTS", ("applicant.step", "expert.report"))
    app.register_error_handler(CSRFError, _csrf_error)
    for away in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(away, _database_away)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
