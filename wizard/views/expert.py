"""The expert's workspace (评审专家): the assigned reports with their progress, and one report's
page: the report as submitted (read-only), its evidence and PDF, and the score sheet beside it
with autosave, 暂存, 提交 (after a confirmation naming the total) and the declaration of a
conflict (回避).

An expert reaches only its own active assignments (404 otherwise, like any id out of scope) and
sees nothing of other experts: no names, no scores.  Writes go through review/scoring.py, which
refuses them once the assignment has ended, the sheet is submitted, the report has left its
round's scoring state or the round's review deadline has passed."""
from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import bindparam
from sqlalchemy.orm import defer

from ..access import current_edition, get_submission
from ..dbsetup import reads_deferred
from ..evidence.storage import appendix
from ..extensions import db
from ..models import ROLE_EXPERT, ReviewAssignment, ReviewScheme, Snapshot, Submission, local_now
from ..params import parse_version
from ..report.definition import get_report
from ..report.fragments import DeferredAnswers
from ..report.model import ROUND_LABELS
from ..review import scheme as schemes
from ..review import scoring
from ..web.security import client_address, require_role
from ..workflow.states import ROUNDS

bp = Blueprint("expert", __name__, url_prefix="/expert")
bp.before_request(require_role(ROLE_EXPERT))

SCORE_SHEET_ENDPOINT = "sheets.score_sheet_pdf"  # the printed 专家评分表 (views/sheets.py)


def _own(assignment_id: int, active_only: bool = True) -> ReviewAssignment:
    """This expert's assignment (active only, unless a write is to be refused with its reason);
    any other id answers 404, as an id that does not exist."""
    query = db.select(ReviewAssignment).where(ReviewAssignment.id == assignment_id,
                                              ReviewAssignment.expert_id == current_user.id)
    if active_only:
        query = query.where(ReviewAssignment.status == "active")
    row = db.session.execute(query).scalar_one_or_none()
    if row is None:
        abort(404)
    return row


def _fetch() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


@bp.route("/")
def home():
    """The reports assigned to this expert in the current edition, per round, with the progress
    of each sheet and the round's review deadline."""
    edition = current_edition()
    rows = [] if edition is None else db.session.execute(
        db.select(ReviewAssignment).join(ReviewAssignment.submission)
        .where(ReviewAssignment.expert_id == current_user.id, ReviewAssignment.status == "active",
               Submission.edition_id == edition.id)
        .order_by(ReviewAssignment.round, ReviewAssignment.id)
    ).scalars().all()
    deadlines = {} if edition is None else {s.round: s.deadline for s in db.session.execute(
        db.select(ReviewScheme).filter_by(edition_id=edition.id)).scalars()}
    rounds = []
    for round_ in ROUNDS:
        mine = sorted((a for a in rows if a.round == round_), key=lambda a: a.submission.cluster.name)
        if mine:
            counts = {key: sum(1 for a in mine if scoring.progress(a) == key) for key in scoring.PROGRESS_LABELS}
            rounds.append({"key": round_, "label": ROUND_LABELS[round_], "assignments": mine,
                           "deadline": deadlines.get(round_), "counts": counts})
    return render_template("expert/home.html", rounds=rounds, progress=scoring.progress,
                           labels=scoring.PROGRESS_LABELS, score_text=scoring.score_text, now=local_now(),
                           sheet_endpoint=SCORE_SHEET_ENDPOINT if SCORE_SHEET_ENDPOINT in current_app.view_functions
                           else None)


@bp.route("/reviews/<int:assignment_id>", methods=["GET", "POST"])
@reads_deferred  # a POST saves a draft: SQLite's write lock only for its UPDATE (scoring._write)
def report(assignment_id):
    """The report to score, and its score sheet.  POST: 暂存 (action=save) or 提交 (action=submit:
    saved first, then the confirmation page)."""
    if request.method == "POST":
        if g.get("csrf_failed"):  # web/errors.py: the sheet as typed again, nothing saved
            return _csrf_redisplay(_own(assignment_id, active_only=False))
        return _post_sheet(_own(assignment_id, active_only=False), fetch=False)
    assignment = _own(assignment_id)
    return _render(assignment, scoring.stored_sheet(assignment))


@bp.route("/reviews/<int:assignment_id>/autosave", methods=["POST"])
@reads_deferred
def autosave(assignment_id):
    """The sheet saved as a draft while the expert types (static/js/wizard.js, form[data-autosave-url]):
    JSON for the script; a plain form post is answered as 暂存."""
    return _post_sheet(_own(assignment_id, active_only=False), fetch=_fetch())


def _csrf_redisplay(assignment: ReviewAssignment):
    """A post whose CSRF check failed (a page open past the session's token): the sheet as typed,
    with the reason, and nothing saved; a report no longer this expert's answers as a write would."""
    if assignment.status != "active":
        abort(409, description=scoring.refusal(assignment, scoring.scheme_of(assignment)))
    sheet = scoring.read_sheet(scoring.scheme_of(assignment), request.form)
    return _render(assignment, sheet, status=400,
                   message="安全校验未通过（页面已过期），本次评分尚未保存。请核对后再次暂存或提交。")


def _post_sheet(assignment: ReviewAssignment, fetch: bool):
    """Check and save what was typed; on any refusal nothing is saved and what was typed is shown
    again with the reason (a refused autosave answers JSON with the reason)."""
    if assignment.status != "active":  # the report has left this expert's list: say so, show nothing of it
        reason = scoring.refusal(assignment, scoring.scheme_of(assignment))
        return (jsonify(ok=False, error=reason), 409) if fetch else abort(409, description=reason)
    scheme = scoring.scheme_of(assignment)
    sheet = scoring.read_sheet(scheme, request.form)
    version = parse_version(request.form.get("version"))
    try:
        new_version = scoring.save_draft(assignment, scheme, sheet, version)
    except scoring.SheetInvalid as invalid:
        if fetch:
            return jsonify(ok=False, error="有填写错误，未自动保存。请检查标红的内容后再保存。"), 422
        return _render(assignment, invalid.sheet, status=422, message=invalid.message)
    except scoring.ScoringRefused as refused:
        if fetch:
            return jsonify(ok=False, error=refused.message), 409
        return _render(assignment, sheet, status=409, message=refused.message)
    if fetch:
        return jsonify(ok=True, version=new_version, saved_at=local_now().strftime("%H:%M"))
    if request.form.get("action") == "submit":
        needs = scoring.missing(scheme, sheet)
        if needs:
            sheet.errors.update(needs)
            return _render(assignment, sheet, status=422, saved=True,
                           message="已暂存。评分表尚未填写完整，不能提交：每一项都须打分，并填写总体评价。")
        return redirect(url_for("expert.confirm", assignment_id=assignment.id))
    flash("评分表已暂存（尚未提交）。", "success")
    return redirect(url_for("expert.report", assignment_id=assignment.id))


@bp.route("/reviews/<int:assignment_id>/confirm")
def confirm(assignment_id):
    """Before submitting: the scores as saved, the total, and the one button that submits."""
    assignment = _own(assignment_id)
    scheme = scoring.scheme_of(assignment)
    sheet = scoring.checked_stored_sheet(assignment, scheme)
    closed = scoring.closed_reason(assignment, scheme)
    if closed or not sheet.ok or scoring.missing(scheme, sheet):
        flash(closed or "评分表尚未填写完整或有误：每一项都须在满分以内打分，并填写总体评价。", "warning")
        return redirect(url_for("expert.report", assignment_id=assignment.id))
    return render_template("expert/confirm.html", a=assignment, scheme=scheme, sheet=sheet,
                           total=scoring.score_text(sheet.total), max_total=scoring.score_text(schemes.max_total(scheme)),
                           round_label=ROUND_LABELS[assignment.round])


@bp.route("/reviews/<int:assignment_id>/submit", methods=["POST"])
def submit(assignment_id):
    """Submit the saved sheet, once (the confirmation page posts here with the sheet's version)."""
    assignment = _own(assignment_id, active_only=False)
    try:
        total = scoring.submit(assignment, current_user._get_current_object(),
                               parse_version(request.form.get("version")), client_address())
    except scoring.ScoringRefused as refused:
        if assignment.status != "active":
            abort(409, description=refused.message)
        flash(f"评分未提交：{refused.message}", "warning")
        return redirect(url_for("expert.report", assignment_id=assignment.id))
    flash(f"评分已提交：{assignment.submission.cluster.name}，总分 {scoring.score_text(total)} 分。", "success")
    return redirect(url_for("expert.home"))


@bp.route("/reviews/<int:assignment_id>/conflict", methods=["POST"])
def conflict(assignment_id):
    """Declare a conflict of interest (回避) with a reason: the report leaves this expert's list."""
    assignment = _own(assignment_id, active_only=False)
    reason = request.form.get("reason", "")
    try:
        scoring.declare_conflict(assignment, current_user._get_current_object(), reason, client_address())
    except scoring.ScoringRefused as refused:
        if assignment.status != "active":
            abort(409, description=refused.message)
        return _render(assignment, scoring.stored_sheet(assignment), status=422, conflict_error=refused.message,
                       typed_reason=reason)
    flash(f"已声明回避：{assignment.submission.cluster.name}。该报告已从您的评审任务中移除，管理员将另行安排专家。",
          "success")
    return redirect(url_for("expert.home"))


#: the round's latest snapshot (as workflow/snapshots.latest_snapshot), its answers left unread
#: until asked for; built once
LATEST_SNAPSHOT_UNREAD = (
    db.select(Snapshot).where(Snapshot.submission_id == bindparam("sid"), Snapshot.round == bindparam("round"))
    .options(defer(Snapshot.answers)).order_by(Snapshot.id.desc()).limit(1)
)


def _render(assignment: ReviewAssignment, sheet, status=200, message=None, saved=False, conflict_error=None,
            typed_reason=""):
    """The report page: the round's latest submitted report (read-only, the shared partial), its
    evidence, the PDF link, and the score sheet as typed (or as saved)."""
    sub = get_submission(assignment.submission_id, current_user)
    round_ = assignment.round
    scheme = scoring.scheme_of(assignment)
    snap = db.session.execute(LATEST_SNAPSHOT_UNREAD, {"sid": sub.id, "round": round_}).scalar_one_or_none()
    # a snapshot never changes: its report's body is kept under its id and digest, and its answers
    # (hundreds of kB of JSON) are read only when the body is written (report_body_html)
    answers = DeferredAnswers(f"snapshot:{snap.id}:{snap.digest}", lambda: snap.answers or {}) if snap else {}
    return render_template(
        "expert/report.html", a=assignment, sub=sub, report=get_report(round_), round_=round_,
        round_label=ROUND_LABELS[round_], answers=answers, snap=snap,
        ev=appendix(sub, round_), scheme=scheme, sheet=sheet, closed=scoring.closed_reason(assignment, scheme),
        progress_label=scoring.PROGRESS_LABELS[scoring.progress(assignment)], message=message, saved=saved,
        conflict_error=conflict_error, typed_reason=typed_reason, score_text=scoring.score_text,
        limits={"comment": scoring.COMMENT_MAX, "overall": scoring.OVERALL_MAX, "reason": scoring.REASON_MAX},
        max_total=scoring.score_text(schemes.max_total(scheme))), status
