"""Accounts at the scale of a province (issue #26), for administrators: the account workbook
(download, upload → preview → confirm), password resets, bulk enable / disable / reset, the Excel
list.  The list and the one-account form stay in views/admin.py ('admin.accounts', 'admin.account').

Every response that issues one-time passwords carries their letters (账号通知书) as a PDF inside
the page itself (a data: link, made in this request): the passwords are never stored in clear,
never written to disk, and cannot be downloaded again once the page is left."""
import base64
import os

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ..accounts import issue_one_time_password, password_status
from ..exports.accounts import (
    PENDING_FOLDER,
    WorkbookRefused,
    accounts_workbook,
    apply_import,
    preview_import,
    save_pending,
    take_pending,
    template_workbook,
)
from ..extensions import db
from ..models import ROLE_ADMIN, ROLE_LABELS, Cluster, Region, User, local_now
from ..params import clean_param, parse_int
from ..pdf.inline import PdfError
from ..pdf.letters import letter_for, letters_filename, letters_pdf
from ..web.http import content_disposition
from ..web.lists import pinyin_key
from ..web.security import audit, client_address, require_role

bp = Blueprint("accounts", __name__, url_prefix="/admin/accounts")
bp.before_request(require_role(ROLE_ADMIN))

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BULK_ACTIONS = {"disable": "停用", "enable": "启用", "reset": "重置密码并生成账号通知书"}


#: the list's filters: query parameter → what it narrows
ACCOUNT_FILTERS = ("role", "region", "cluster", "status", "q", "sort")
ACCOUNT_STATUSES = {"active": "启用", "disabled": "已停用", "pending": "一次性密码待修改", "expired": "一次性密码已过期",
                    "never": "从未登录"}


def account_filters(args) -> dict:
    """The filters of the account list from query (or form) parameters, validated."""
    role = args.get("role", "")
    return {"role": role if role in ROLE_LABELS else "", "region": parse_int(args.get("region"), 0),
            "cluster": parse_int(args.get("cluster"), 0),
            "status": args.get("status", "") if args.get("status", "") in ACCOUNT_STATUSES else "",
            "q": clean_param(args.get("q"), 64), "sort": "login" if args.get("sort") == "login" else ""}


def _account_query(f: dict):
    query = db.select(User).options(selectinload(User.cluster), selectinload(User.region))
    if f["role"]:
        query = query.where(User.role == f["role"])
    if f["cluster"]:
        query = query.where(User.cluster_id == f["cluster"])
    if f["region"]:  # the region itself, its counties, and the clusters there
        inside = db.select(Region.id).where((Region.id == f["region"]) | (Region.parent_id == f["region"]))
        query = query.where(User.region_id.in_(inside) | User.cluster_id.in_(
            db.select(Cluster.id).where(Cluster.region_id.in_(inside))))
    if f["q"]:
        like = "%" + f["q"].replace("\\", "").replace("%", "").replace("_", "") + "%"
        query = query.where(User.username.ilike(like) | User.display_name.ilike(like) | User.phone.ilike(like))
    status = f["status"]
    if status in ("active", "disabled"):
        query = query.where(User.active.is_(status == "active"))
    elif status == "never":
        query = query.where(User.last_login_at.is_(None))
    elif status in ("pending", "expired"):
        query = query.where(User.password_one_time.is_(True))
    return query


def filtered_accounts(f: dict) -> list:
    """The accounts the filters select: by role, then the pinyin order of the organisation and
    the person (or by last login, latest first)."""
    users = db.session.execute(_account_query(f)).scalars().all()
    if f["status"] in ("pending", "expired"):
        users = [u for u in users if password_status(u) == f["status"]]
    if f["sort"] == "login":
        return sorted(users, key=lambda u: (u.last_login_at is None, -(u.last_login_at.timestamp()
                                                                          if u.last_login_at else 0)))
    roles = list(ROLE_LABELS)
    return sorted(users, key=lambda u: (roles.index(u.role) if u.role in roles else len(roles),
                                        pinyin_key(u.binding_label), pinyin_key(u.display_name or u.username),
                                        u.username))


def _max_bytes() -> int:
    return current_app.config["TEMPLATE_MAX_BYTES"]


def _folder() -> str:
    return os.path.join(current_app.instance_path, PENDING_FOLDER)


def _xlsx(data: bytes, filename: str):
    response = make_response(data)
    response.headers["Content-Type"] = XLSX
    response.headers["Content-Disposition"] = content_disposition(filename)
    return response


def letters_page(issued, title: str, changed: int = 0):
    """The page that hands over the letters of ``issued`` [(user, password)], once."""
    users = [u for u, _ in issued]
    error = href = None
    try:
        pdf = letters_pdf([letter_for(u, p) for u, p in issued])
        href = "data:application/pdf;base64," + base64.b64encode(pdf).decode("ascii")
    except PdfError:
        current_app.logger.exception("Account letters could not be rendered")
        error = "账号通知书 PDF 生成失败。账号已处理；请对这些账号再次“重置密码”以生成新的账号通知书。"
    return render_template("admin/letters.html", title=title, users=users, href=href, error=error, changed=changed,
                           filename=letters_filename(len(users)))


@bp.route("/template.xlsx")
def template():
    """The empty account workbook, its lists (角色, 集群, 地区, 市州, 擅长类别) from the database."""
    audit("download", "accounts:template", "账号导入模板")
    return _xlsx(template_workbook(), f"账号导入模板-{local_now():%Y%m%d}.xlsx")


def _upload_page(status=200, error=None):
    return render_template("admin/account_import.html", error=error, max_bytes=_max_bytes()), status


@bp.route("/import", methods=["GET"])
def import_page():
    """Choose the filled account workbook."""
    return _upload_page()


@bp.route("/import", methods=["POST"])
def import_upload():
    """Check and read the workbook: every account to be created or changed, every problem."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_page(422, "请选择要上传的账号导入模板（.xlsx）。")
    data = upload.stream.read(_max_bytes() + 1)
    try:
        preview = preview_import(data, _max_bytes())
    except WorkbookRefused as refused:
        return _upload_page(422, str(refused))
    token = save_pending(_folder(), data, current_user.id) if preview.can_apply else None
    return render_template("admin/account_preview.html", preview=preview, token=token,
                           filename=upload.filename), 422 if preview.problems else 200


@bp.route("/import/confirm", methods=["POST"])
def import_confirm():
    """Create and change the previewed accounts; the page offers the letters once."""
    data = take_pending(_folder(), request.form.get("token"), current_user.id)
    if data is None:
        flash("预览已失效或不存在（超过 1 小时未确认、已经导入，或之后又上传了新的文件）。请重新上传账号导入模板。", "warning")
        return redirect(url_for("accounts.import_page"))
    try:
        preview = preview_import(data, _max_bytes())  # again: the database may have changed since
        issued = apply_import(preview, current_user._get_current_object(), client_address())
    except WorkbookRefused as refused:
        db.session.rollback()
        flash(f"{refused} 请重新上传核对。", "error")
        return redirect(url_for("accounts.import_page"))
    db.session.commit()
    return letters_page(issued, f"已导入：新建 {len(issued)} 个账号", changed=len(preview.changed))


@bp.route("/<int:user_id>/reset", methods=["POST"])
def reset(user_id):
    """A new one-time password for one account, and its letter; its sessions end."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    if user.id == current_user.id:
        flash("不能重置自己的密码，请使用“修改密码”。", "error")
        return redirect(url_for("admin.account", user_id=user.id))
    password = issue_one_time_password(user)
    audit("password_reset", user.username, "一次性密码，账号通知书")
    db.session.commit()
    return letters_page([(user, password)], f"已重置密码：{user.username}")


def _ticked():
    ids = [i for i in (parse_int(raw, lo=1) for raw in request.form.getlist("ids")[:5000]) if i]
    if not ids:
        return []
    return db.session.execute(db.select(User).where(User.id.in_(ids))).scalars().all()


@bp.route("/bulk", methods=["POST"])
def bulk():
    """Disable, enable or reset the ticked accounts (never one's own); a reset offers the letters."""
    action = request.form.get("action", "")
    users = [u for u in _ticked() if u.id != current_user.id]
    back = redirect(url_for("admin.accounts", **{k: v for k, v in request.form.items()
                                                 if k.startswith("f_") and v}))
    if action not in BULK_ACTIONS or not users:
        flash("请先勾选账号（不能包括您自己），再选择操作。", "error")
        return back
    if action == "reset":
        issued = [(u, issue_one_time_password(u)) for u in users]
    for u in users:
        if action != "reset":
            if u.active and action == "disable":
                u.end_sessions()
            u.active = action == "enable"
        audit(f"account_{action}", u.username, "批量操作")
    db.session.commit()
    if action == "reset":
        return letters_page(issued, f"已重置 {len(issued)} 个账号的密码")
    flash(f"已{BULK_ACTIONS[action]} {len(users)} 个账号：{'、'.join(u.username for u in users[:20])}"
          f"{' 等' if len(users) > 20 else ''}。", "success")
    return back


@bp.route("/export.xlsx")
def export():
    """The accounts as the list shows them (same filters), as Excel; never a password."""
    filters = account_filters(request.args)
    users = filtered_accounts(filters)
    audit("export", "accounts", f"账号列表 {len(users)} 个")
    return _xlsx(accounts_workbook(users), f"账号列表-{local_now():%Y%m%d-%H%M}.xlsx")
