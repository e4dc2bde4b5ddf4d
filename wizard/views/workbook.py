"""The applicant's Excel template (填报模板): download it, upload it filled, see what would change,
confirm.  Only the applicant's own submission; an import only into a report being edited.

Between the preview and the confirmation the uploaded file is kept under instance/ (a folder of
its own, the file named by a random token bound to the user, the submission and the report
version previewed); a confirmation against a report changed meanwhile is refused as stale."""
import os

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ..access import own_submission
from ..exports.template import template_filename, template_xlsx
from ..exports.template_import import (
    PENDING_FOLDER,
    TemplateRefused,
    apply_import,
    discard_pending,
    load_pending,
    preview_import,
    save_pending,
)
from ..extensions import db
from ..models import ROLE_APPLICANT, Submission, local_now
from ..report.definition import ATTACHMENTS, get_report
from ..report.service import StaleSave
from ..web.http import content_disposition
from ..web.deadline_lock import readonly_message, refuse_writes_after_deadline, writable_round
from ..web.security import audit, client_address, require_role
from ..workflow.states import STATES, current_round

bp = Blueprint("workbook", __name__, url_prefix="/applicant/workbook")
bp.before_request(require_role(ROLE_APPLICANT))
bp.before_request(refuse_writes_after_deadline)  # past the deadline the report is read-only (issue #22, 7)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READ_ONLY = "报告已提交或当前状态不允许修改，不能导入填报模板。"


def _own() -> Submission:
    sub = own_submission(current_user)
    if sub is None:
        abort(404)
    return sub


def _max_bytes() -> int:
    return current_app.config["TEMPLATE_MAX_BYTES"]


def _folder() -> str:
    return os.path.join(current_app.instance_path, PENDING_FOLDER)


def _page(sub, round_, status=200, error=None):
    return render_template("workbook/upload.html", sub=sub, report=get_report(round_), round_=round_,
                           attachment=ATTACHMENTS[round_], error=error, max_bytes=_max_bytes()), status


@bp.route("/template.xlsx")
def download():
    """The template of the report being edited (or, read-only, of the current round), filled in."""
    sub = _own()
    round_ = STATES[sub.state].editable_round or current_round(sub)
    now = local_now()
    data = template_xlsx(sub, round_, now)
    audit("download", f"submission:{sub.id}", f"填报模板（{ATTACHMENTS[round_]}）")
    db.session.commit()
    response = make_response(data)
    response.headers["Content-Type"] = XLSX
    response.headers["Content-Disposition"] = content_disposition(template_filename(sub, round_, now))
    return response


@bp.route("/upload", methods=["GET"])
def upload_page():
    """Choose the filled template to upload."""
    sub = _own()
    round_ = writable_round(sub)
    if round_ is None:
        flash(readonly_message(sub), "info")
        return redirect(url_for("applicant.tasks"))
    return _page(sub, round_)


def _read_upload(limit: int) -> bytes | None:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return None
    return upload.stream.read(limit + 1)


@bp.route("/upload", methods=["POST"])
def upload():
    """Check and read the uploaded template; show what would change (nothing is saved here)."""
    sub = _own()
    round_ = STATES[sub.state].editable_round
    if round_ is None:
        abort(409, description=READ_ONLY)
    data = _read_upload(_max_bytes())
    if data is None:
        return _page(sub, round_, 422, "请选择要上传的填报模板文件（.xlsx）。")
    try:
        preview = preview_import(data, sub, round_, _max_bytes())
    except TemplateRefused as refused:
        return _page(sub, round_, 422, str(refused))
    token = save_pending(_folder(), preview, current_user.id, sub) if preview.can_apply else None
    return render_template("workbook/preview.html", sub=sub, report=get_report(round_), preview=preview,
                           token=token, filename=request.files["file"].filename), 422 if preview.problems else 200


@bp.route("/confirm", methods=["POST"])
def confirm():
    """Apply the previewed template: one version step, with its history entry."""
    sub = _own()
    round_ = STATES[sub.state].editable_round
    token = request.form.get("token", "")
    if round_ is None:
        discard_pending(_folder(), token)
        abort(409, description=READ_ONLY)
    preview = load_pending(_folder(), token, current_user.id, sub)  # the preview's answers: the file is not read again
    if preview is None:
        flash("预览已失效或不存在（超过 1 小时未确认、已经导入，或之后又上传了新的文件）。请重新上传填报模板。", "warning")
        return redirect(url_for("workbook.upload_page"))
    if preview.round != round_ or preview.version != sub.version:
        discard_pending(_folder(), token)
        flash("预览之后报告已被修改（其他窗口或他人保存了报告），本次导入未执行。请重新上传填报模板，核对改动后再确认。", "warning")
        return redirect(url_for("workbook.upload_page"))
    try:
        changed = apply_import(sub, preview, current_user._get_current_object(), client_address())
    except StaleSave:
        discard_pending(_folder(), token)
        flash("预览之后报告已被修改（其他窗口或他人保存了报告），本次导入未执行。请重新上传填报模板。", "warning")
        return redirect(url_for("workbook.upload_page"))
    discard_pending(_folder(), token)
    added, modified, cleared = preview.counts
    flash(f"已导入填报模板：共 {changed} 个字段有改动（新增 {added} 个，修改 {modified} 个，清空 {cleared} 个）。", "success")
    return redirect(url_for("applicant.tasks"))
