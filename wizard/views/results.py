"""Administrators: the result list of an edition (附件3 style), snapshots, the round comparison,
deadline extensions and the Excel downloads."""
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..access import current_edition, filtered_submissions, get_submission
from ..exports.excel import submissions_filename, submissions_xlsx
from ..exports.results import result_list, result_list_filename, result_list_xlsx
from ..exports.summary import summary_filename, summary_xlsx
from ..extensions import db
from ..models import ROLE_ADMIN, Edition, Snapshot, Submission, User, local_now, to_local
from ..params import ParamError, clean_param, parse_datetime, parse_id
from ..report.compare import compare_rounds
from ..report.definition import CODE_LABEL, get_report
from ..report.model import ROUND_LABELS, ROUNDS
from ..report.view import effective_answers
from ..web.forms import AppForm
from ..web.http import content_disposition
from ..web.security import audit, client_address, require_role
from ..workflow.deadlines import effective_deadline, extend_deadline
from ..workflow.snapshots import latest_snapshot
from ..workflow.states import STATES, MoveRefused, current_round
from .shared import send_snapshot_pdf, submission_page

bp = Blueprint("results", __name__, url_prefix="/admin")
bp.before_request(require_role(ROLE_ADMIN))

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATETIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


# --- snapshots ---------------------------------------------------------------------------

def snapshots_of(sub: Submission) -> list[Snapshot]:
    return db.session.execute(
        db.select(Snapshot).filter_by(submission_id=sub.id).order_by(Snapshot.id.desc())
    ).scalars().all()


def snapshot_label(snap: Snapshot) -> str:
    return f"{ROUND_LABELS[snap.round]}提交快照 {to_local(snap.created_at):%Y-%m-%d %H:%M} {CODE_LABEL} {snap.code}"


@bp.route("/snapshots/<int:snapshot_id>")
def snapshot(snapshot_id):
    """A submitted report exactly as frozen: its answers, verification code, digest and evidence list."""
    snap = db.session.get(Snapshot, snapshot_id)
    if snap is None:
        abort(404)
    sub = get_submission(snap.submission_id, current_user)
    by = db.session.get(User, snap.created_by_id) if snap.created_by_id else None
    return render_template("admin/snapshot.html", snap=snap, sub=sub, by=by, report=get_report(snap.round),
                           label=snapshot_label(snap))


@bp.route("/snapshots/<int:snapshot_id>.pdf")
def snapshot_pdf(snapshot_id):
    """A snapshot's frozen answers as the report PDF, with the snapshot's 校验码."""
    snap = db.session.get(Snapshot, snapshot_id)
    if snap is None:
        abort(404)
    return send_snapshot_pdf(snap, get_submission(snap.submission_id, current_user))


# --- round comparison --------------------------------------------------------------------

def _source(sub: Submission, round_: str) -> tuple[str, dict, bool]:
    """(label, answers, exists) of a round: its latest snapshot, else the current answers."""
    snap = latest_snapshot(sub, round_)
    if snap is not None:
        return snapshot_label(snap), snap.answers, True
    return f"{ROUND_LABELS[round_]}当前草稿（未提交）", effective_answers(sub, round_), bool(sub.answers_for(round_))


@bp.route("/submissions/<int:submission_id>/compare")
def compare(submission_id):
    """What changed between the preliminary and the final report, field by field (?changed=1: changes only)."""
    sub = get_submission(submission_id, current_user)
    pre_label, pre_answers, _ = _source(sub, "preliminary")
    fin_label, fin_answers, has_final = _source(sub, "final")
    comparison = None
    if has_final:
        comparison = compare_rounds(pre_answers, fin_answers, sub.cluster.category, sub.edition.years)
    only_changed = request.args.get("changed") == "1"
    shown = comparison.only_changed() if comparison and only_changed else comparison
    return render_template("admin/compare.html", sub=sub, comparison=comparison, shown=shown,
                           only_changed=only_changed, pre_label=pre_label, fin_label=fin_label)


# --- deadline ----------------------------------------------------------------------------

class DeadlineForm(AppForm):
    deadline_until = StringField("延长至", validators=[DataRequired("请填写新的截止时间。")],
                                 render_kw={"type": "datetime-local"})
    deadline_reason = TextAreaField("延期原因", validators=[DataRequired("请填写延期原因。"),
                                                         Length(max=500, message="延期原因不能超过 500 字。")],
                                    render_kw={"rows": 2})


def admin_extras(sub: Submission) -> dict:
    """What _submission_extras.html shows administrators: snapshots and the deadline form."""
    round_ = current_round(sub)
    snapshots = snapshots_of(sub)
    ids = {s.created_by_id for s in snapshots if s.created_by_id}
    users = db.session.execute(db.select(User).where(User.id.in_(ids))).scalars() if ids else []
    return {"snapshots": snapshots, "submitters": {u.id: u.display_name or u.username for u in users},
            "round": round_, "deadline": effective_deadline(sub, round_),
            "can_extend": STATES[sub.state].editable_round is not None,  # only while a report is being written
            "form": g.get("deadline_form") or DeadlineForm(formdata=None)}


def _deadline_error(until, current) -> str | None:
    """Why ``until`` (a Beijing wall-clock time) cannot be the new deadline, or None."""
    if until is None:
        return "请填写新的截止时间。"
    if until <= local_now():
        return "新的截止时间必须晚于当前时间。"
    if current and until <= current:
        return f"新的截止时间必须晚于当前截止时间（{current:%Y-%m-%d %H:%M}）。"
    return None


@bp.route("/submissions/<int:submission_id>/deadline", methods=["POST"])
def deadline(submission_id):
    """Extend the submission's deadline for its current round; bad input shows the page again."""
    sub = get_submission(submission_id, current_user)
    round_ = current_round(sub)
    form = DeadlineForm()
    if form.validate_on_submit():
        try:  # ASCII digits, years 2000–2100
            until = parse_datetime(form.deadline_until.data, DATETIME_FORMATS)
            error = _deadline_error(until, effective_deadline(sub, round_))
        except ParamError as exc:
            until, error = None, f"{exc}。"
        if error:
            form.deadline_until.errors.append(error)
        else:
            try:
                extend_deadline(sub, current_user._get_current_object(), until, form.deadline_reason.data,
                                client_address())
            except MoveRefused as refused:
                db.session.rollback()
                form.deadline_reason.errors.append(refused.message)
            else:
                flash(f"{ROUND_LABELS[round_]}截止时间已延长至 {until:%Y-%m-%d %H:%M}。", "success")
                return redirect(url_for("admin.submission", submission_id=sub.id))
    g.deadline_form = form
    return submission_page(sub, extras=admin_extras(sub))


# --- result list and downloads -----------------------------------------------------------

def _edition_id() -> int | None:
    """``?edition=``: None when not given; an id that cannot exist (not ASCII digits, beyond
    2³¹−1) answers 404 like a missing edition."""
    raw = request.args.get("edition", "")
    if not raw:
        return None
    edition_id = parse_id(raw)
    if edition_id is None:
        abort(404)
    return edition_id


def _edition() -> Edition:
    edition_id = _edition_id()
    edition = db.session.get(Edition, edition_id) if edition_id else current_edition()
    if edition is None:
        abort(404)
    return edition


def xlsx_response(data: bytes, filename: str) -> Response:
    return Response(data, mimetype=XLSX, headers={"Content-Disposition": content_disposition(filename)})


@bp.route("/results")
def results():
    """The recognised clusters of an edition, grouped and numbered like 附件3."""
    editions = db.session.execute(db.select(Edition).order_by(Edition.id.desc())).scalars().all()
    return render_template("admin/results.html", results=result_list(_edition(), current_user), editions=editions)


@bp.route("/results.xlsx")
def results_xlsx():
    results = result_list(_edition(), current_user)
    audit("export", "results.xlsx", f"edition={results.edition.id}; {results.total} 个集群")
    db.session.commit()
    return xlsx_response(result_list_xlsx(results), result_list_filename(results))


LIST_FILTERS = ("state", "category", "city", "q", "sort")


def list_filters() -> dict:
    """The administrators' list filters of this request (state, category, city, q, sort)."""
    return {k: clean_param(request.args.get(k), 64) for k in LIST_FILTERS}


@bp.route("/submissions.xlsx")
def submissions_export():
    """The submissions summary with the same filters as the administrators' list."""
    args = request.args
    edition_id = _edition_id()
    filters = list_filters()
    query = filtered_submissions(current_user, edition_id=edition_id, **filters)
    subs = db.session.execute(query).scalars().all()
    detail = "; ".join(f"{clean_param(k, 32)}={clean_param(v)}" for k, v in args.items() if v) or "全部"
    audit("export", "submissions.xlsx", f"{detail}; {len(subs)} 条")
    db.session.commit()
    return xlsx_response(submissions_xlsx(subs), submissions_filename(local_now()))


def summary_download(subs, round_: str, edition: Edition, *, filters: dict | None = None,
                     scope: str = "全省") -> Response:
    """The summary workbook (汇总表) of the round's reports of ``subs``, audited: one download
    for the administrators' list and the county reviewer's queue."""
    now = local_now()
    data, n = summary_xlsx(subs, round_, edition, now=now, filters=filters, scope=scope)
    used = "; ".join(f"{k}={v}" for k, v in (filters or {}).items() if v) or "全部"
    audit("export", f"summary-{round_}.xlsx", f"edition={edition.id}; {scope}; {used}; {n} 份报告")
    db.session.commit()
    return xlsx_response(data, summary_filename(round_, now))


@bp.route("/summary/<round_>.xlsx")
def summary_export(round_):
    """The summary workbook of one round (初赛 or 决赛 report) for the submissions the list's
    filters select, in one edition (``?edition=``, else the current one)."""
    if round_ not in ROUNDS:
        abort(404)
    edition = _edition()
    filters = list_filters()
    subs = db.session.execute(filtered_submissions(current_user, edition_id=edition.id, **filters)).scalars().all()
    return summary_download(subs, round_, edition, filters=filters)
