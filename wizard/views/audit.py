"""The audit log for administrators (logins, moves, downloads, exports, account changes)."""
from datetime import date, datetime, timedelta

from flask import Blueprint, flash, render_template, request

from ..extensions import db
from ..models import LOCAL_OFFSET, ROLE_ADMIN, AuditEntry
from ..params import ParamError, clean_param, parse_date, parse_page
from ..web.security import require_role

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
bp.before_request(require_role(ROLE_ADMIN))

PER_PAGE = 50

# The one place where an audit action gets its Chinese label (security.audit() callers use these keys).
# An action missing here is shown by its key, so a new audit() call never breaks the page.
ACTION_LABELS = {
    "login": "登录",
    "login_failed": "登录失败",
    "login_throttled": "登录受限（失败次数过多）",
    "logout": "退出登录",
    "password_changed": "修改密码",
    "password_change_failed": "修改密码失败（当前密码不正确）",
    "password_change_throttled": "修改密码受限（失败次数过多）",
    "account_saved": "保存账号",
    "cluster_saved": "保存集群",
    "move": "流程操作",
    "deadline": "延长截止时间",
    "evidence_upload": "上传佐证材料",
    "evidence_delete": "删除佐证材料",
    "evidence_download": "下载佐证材料",
    "download": "下载",
    "export": "导出",
    "backup": "备份",
    "restore": "恢复",
    "verify": "核验校验码",
    "report_download": "下载报告 PDF",
}


def action_label(key: str) -> str:
    return ACTION_LABELS.get(key, key)


def _parse_day(text: str, name: str) -> date | None:
    """A filter date (2000–2100); a bad one is ignored with a message, the page still shown."""
    try:
        return parse_date(text, name)
    except ParamError as exc:
        flash(f"{exc}，已忽略此条件。", "warning")
        return None


@bp.route("/")
def index():
    """Audit entries, newest first, filtered by action, account, date range and target; 50 per page."""
    args = request.args
    action = clean_param(args.get("action"), 64)  # no NUL or other control character reaches SQL
    username = clean_param(args.get("username"), 64)
    target = clean_param(args.get("target"), 128)
    day_from = _parse_day(args.get("from", ""), "开始日期")
    day_to = _parse_day(args.get("to", ""), "结束日期")

    q = db.select(AuditEntry)
    if action:
        q = q.where(AuditEntry.action == action)
    if username:
        q = q.where(AuditEntry.username.contains(username, autoescape=True))
    if target:
        q = q.where(AuditEntry.target.contains(target, autoescape=True))
    if day_from:
        q = q.where(AuditEntry.at >= datetime.combine(day_from, datetime.min.time()) - LOCAL_OFFSET)
    if day_to:  # inclusive: everything before the next midnight
        q = q.where(AuditEntry.at < datetime.combine(day_to + timedelta(days=1), datetime.min.time()) - LOCAL_OFFSET)
    page = db.paginate(q.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()), page=parse_page(args.get("page")),
                       per_page=PER_PAGE, error_out=False)

    recorded = db.session.execute(db.select(AuditEntry.action).distinct()).scalars().all()
    actions = [(k, action_label(k)) for k in sorted(set(ACTION_LABELS) | set(recorded), key=_action_order)]
    return render_template("admin/audit.html", page=page, actions=actions, action_label=action_label, args=args,
                           qargs={k: v for k, v in args.items() if k != "page"})


def _action_order(key: str):
    keys = list(ACTION_LABELS)
    return (keys.index(key) if key in keys else len(keys), key)
