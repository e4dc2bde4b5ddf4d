"""The audit log for administrators (logins, moves, downloads, exports, account changes).

Rows store keys (``submission:1``, ``evidence:18``, move and round keys); the page shows what
they name: cluster and file names (loaded for the whole page at once, never per row) and the
labels of moves, states and rounds from the workflow's table and the report's definition."""
import re
from datetime import date, datetime, timedelta

from flask import Blueprint, flash, render_template, request, url_for
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import (CATEGORY_LABELS, LOCAL_OFFSET, ROLE_ADMIN, AuditEntry, Cluster, Edition, EvidenceFile, Submission,
                      User)
from ..params import ParamError, clean_param, parse_date, parse_page
from ..report.definition import CODE_LABEL
from ..report.model import ROUND_LABELS
from ..web.security import require_role
from ..workflow.states import MOVES_BY_KEY, OTHER_ENTRIES, UNDO, state_label

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
    "profile_saved": "修改个人信息",
    "password_reset_requested": "申请邮件重置密码",
    "password_reset_throttled": "申请重置密码受限（次数过多）",
    "password_reset": "通过邮件重置密码",
    "cluster_saved": "保存集群",
    "move": "流程操作",
    "deadline": OTHER_ENTRIES["deadline"],
    "round_deadline": "设置各轮截止时间",
    "evidence_upload": "上传佐证材料",
    "evidence_delete": "删除佐证材料",
    "evidence_download": "下载佐证材料",
    "download": "下载",
    "export": "导出",
    "backup": "备份",
    "restore": "恢复",
    "verify": "核验校验码",
    "report_download": "下载报告 PDF",
    "template_import": OTHER_ENTRIES["import"],
    # expert review, the administrators' side (wizard/review/assign.py, scheme.py, advance.py)
    "review_scheme": "修改评分细则",
    "review_assign": "指派评审专家",
    "review_unassign": "移除评审专家",
    "review_withdraw": "撤回专家评分",
    "review_remind": "提醒评审专家",
    "review_advance": "依据评审排名办理",
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
        q = q.where(target_condition(target))
    if day_from:
        q = q.where(AuditEntry.at >= datetime.combine(day_from, datetime.min.time()) - LOCAL_OFFSET)
    if day_to:  # inclusive: everything before the next midnight
        q = q.where(AuditEntry.at < datetime.combine(day_to + timedelta(days=1), datetime.min.time()) - LOCAL_OFFSET)
    page = db.paginate(q.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()), page=parse_page(args.get("page")),
                       per_page=PER_PAGE, error_out=False)

    recorded = db.session.execute(db.select(AuditEntry.action).distinct()).scalars().all()
    actions = [(k, action_label(k)) for k in sorted(set(ACTION_LABELS) | set(recorded), key=_action_order)]
    return render_template("admin/audit.html", page=page, actions=actions, action_label=action_label, args=args,
                           rows=readable_rows(page.items), people=people_of(page.items), qargs={k: v for k, v in args.items() if k != "page"})


def people_of(entries) -> dict:
    """The accounts behind the page's rows (one query, with their cluster and region), by id:
    each row names the person and the organisation (templating.person)."""
    ids = {e.user_id for e in entries if e.user_id}
    if not ids:
        return {}
    q = db.select(User).where(User.id.in_(ids)).options(selectinload(User.cluster), selectinload(User.region))
    return {u.id: u for u in db.session.execute(q).scalars()}


def _action_order(key: str):
    keys = list(ACTION_LABELS)
    return (keys.index(key) if key in keys else len(keys), key)


# --- what a row's keys name ----------------------------------------------------------------

TARGET = re.compile(r"^(submission|evidence|edition):(\d{1,10})$")
SUMMARY_TARGET = re.compile(r"^summary-(\w+)\.xlsx$")
CODE_TARGET = re.compile(r"^code:(\w+)$")
MOVE_KEY = re.compile(r"（([a-z_]+)）")  # "纳入初赛（accept）：…" as moves.py records a move
OLD_DEADLINE = re.compile(r"^(\w+): (.+)$")  # "final: 2026-03-31 18:00" as extensions were once recorded
PAIR = re.compile(r"\b(state|category|edition|round)=([A-Za-z0-9_-]+)", re.ASCII)
#: the actions whose detail the app writes as key=value filters (never a user's free text)
PAIR_ACTIONS = {"export"}
#: the detail's key=value filters, in words (values from the workflow, the models, the report)
PAIR_LABELS = {"state": "状态", "category": "类别", "edition": "届次", "round": "轮次"}
GONE_LABELS = {"submission": "申报", "evidence": "文件", "edition": "届次"}
#: at most this many clusters or files a name typed into the 对象 filter stands for
TARGET_MATCHES = 500


def target_condition(text: str):
    """The 对象 filter: the stored key contains the text, or the key names a submission whose
    cluster name, or a file whose name, contains it (two bounded look-ups)."""
    condition = AuditEntry.target.contains(text, autoescape=True)
    subs = db.session.execute(db.select(Submission.id).join(Submission.cluster)
                              .where(Cluster.name.contains(text, autoescape=True)).limit(TARGET_MATCHES)).scalars()
    files = db.session.execute(db.select(EvidenceFile.id).where(EvidenceFile.original_name.contains(text, autoescape=True))
                               .limit(TARGET_MATCHES)).scalars()
    keys = [f"submission:{i}" for i in subs] + [f"evidence:{i}" for i in files]
    return condition | AuditEntry.target.in_(keys) if keys else condition


def target_names(entries) -> dict:
    """{stored target: (label, link or None)} for the submissions, files and editions the rows
    name: one statement per kind of object on the page, whatever the number of rows."""
    wanted = {"submission": set(), "evidence": set(), "edition": set()}
    for e in entries:
        m = TARGET.match(e.target or "")
        if m:
            wanted[m[1]].add(int(m[2]))
    names = {}
    if wanted["submission"]:
        for sid, name in db.session.execute(db.select(Submission.id, Cluster.name).join(Submission.cluster)
                                            .where(Submission.id.in_(wanted["submission"]))):
            names[f"submission:{sid}"] = (name, url_for("admin.submission", submission_id=sid))
    if wanted["evidence"]:
        for fid, file_name, cluster in db.session.execute(
                db.select(EvidenceFile.id, EvidenceFile.original_name, Cluster.name)
                .join(Submission, Submission.id == EvidenceFile.submission_id).join(Submission.cluster)
                .where(EvidenceFile.id.in_(wanted["evidence"]))):
            names[f"evidence:{fid}"] = (f"{file_name}（{cluster}）", None)
    if wanted["edition"]:
        for eid, name in db.session.execute(db.select(Edition.id, Edition.name).where(Edition.id.in_(wanted["edition"]))):
            names[f"edition:{eid}"] = (name, None)
    return names


def target_label(target: str, names: dict) -> tuple[str, str | None]:
    """What a stored target names: a cluster, a file, an edition, a summary workbook or a
    verification code; anything else (a user name, a file name) as stored."""
    if target in names:
        return names[target]
    summary = SUMMARY_TARGET.match(target)
    if summary and summary[1] in ROUND_LABELS:
        return f"汇总表（{ROUND_LABELS[summary[1]]}）", None
    code = CODE_TARGET.match(target)
    if code:
        return f"{CODE_LABEL} {code[1]}", None
    gone = TARGET.match(target)
    if gone:  # the row was deleted since (a file removed by its applicant)
        return f"{GONE_LABELS[gone[1]]} #{gone[2]}（已删除）", None
    return target, None


def _pair_value(key: str, value: str, editions: dict) -> str:
    if key == "state":
        return state_label(value)
    if key == "category":
        return CATEGORY_LABELS.get(value, value)
    if key == "round":
        return ROUND_LABELS.get(value, value)
    return editions.get(int(value), value) if value.isascii() and value.isdigit() else value


def readable_detail(entry, editions: dict) -> str:
    """A row's detail with move keys dropped (the label is there already) and the keys of rounds,
    states, categories and editions in words."""
    text = entry.detail or ""
    if entry.action == "move":
        text = MOVE_KEY.sub(lambda m: "" if m[1] in MOVES_BY_KEY or m[1] == UNDO.key else m[0], text)
    old = OLD_DEADLINE.match(text) if entry.action == "deadline" else None
    if old and old[1] in ROUND_LABELS:
        text = f"{ROUND_LABELS[old[1]]}截止时间延长至 {old[2]}"
    if entry.action not in PAIR_ACTIONS:
        return text
    return PAIR.sub(lambda m: f"{PAIR_LABELS[m[1]]}={_pair_value(m[1], m[2], editions)}", text)


def readable_rows(entries) -> list:
    """(entry, target label, target link, detail) of every row of the page."""
    names = target_names(entries)
    editions = {}
    if any("edition=" in (e.detail or "") for e in entries):
        editions = dict(db.session.execute(db.select(Edition.id, Edition.name)).all())
    return [(e, *target_label(e.target or "", names), readable_detail(e, editions)) for e in entries]
