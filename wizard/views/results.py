"""Administrators: the result list of an edition (附件3 style), a submission's snapshots and the
comparison of its two rounds, and the Excel downloads of the lists.  The lists' filters and
pinyin order are in web/lists.py, deadlines in views/deadlines.py."""
from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from ..access import current_edition, filtered_submissions, get_submission
from ..exports.excel import submissions_filename, submissions_xlsx
from ..exports.results import AWARDED_STATE, result_list, result_list_filename, result_list_xlsx
from ..extensions import db
from ..models import ROLE_ADMIN, Edition, Snapshot, User, local_now
from ..params import parse_id
from ..report.compare import compare_rounds
from ..report.definition import get_report
from ..report.model import ROUNDS
from ..web.downloads import summary_download, xlsx_response
from ..web.lists import filters_text, list_filters, sorted_like_the_list
from ..web.security import audit, require_role
from ..workflow.snapshots import round_source, snapshot_label
from ..workflow.states import MOVES_BY_KEY, state_label
from .shared import send_snapshot_pdf

bp = Blueprint("results", __name__, url_prefix="/admin")
bp.before_request(require_role(ROLE_ADMIN))


# --- snapshots ---------------------------------------------------------------------------

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

@bp.route("/submissions/<int:submission_id>/compare")
def compare(submission_id):
    """What changed between the preliminary and the final report, field by field (?changed=1: changes only)."""
    sub = get_submission(submission_id, current_user)
    pre_label, pre_answers, _ = round_source(sub, "preliminary")
    fin_label, fin_answers, has_final = round_source(sub, "final")
    comparison = None
    if has_final:
        comparison = compare_rounds(pre_answers, fin_answers, sub.cluster.category, sub.edition.years)
    only_changed = request.args.get("changed") == "1"
    shown = comparison.only_changed() if comparison and only_changed else comparison
    return render_template("admin/compare.html", sub=sub, comparison=comparison, shown=shown,
                           only_changed=only_changed, pre_label=pre_label, fin_label=fin_label)


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


@bp.route("/results")
def results():
    """The recognised clusters of an edition, grouped and numbered like 附件3."""
    editions = db.session.execute(db.select(Edition).order_by(Edition.id.desc())).scalars().all()
    award = MOVES_BY_KEY["award"]  # the move that puts a cluster on the list (the workflow's table)
    return render_template("admin/results.html", results=result_list(_edition(), current_user), editions=editions,
                           awarded_label=state_label(AWARDED_STATE), award=award,
                           award_source_label=state_label(award.source))


@bp.route("/results.xlsx")
def results_xlsx():
    results = result_list(_edition(), current_user)
    audit("export", "results.xlsx", f"{results.edition.name}；{results.total} 个集群")
    db.session.commit()
    return xlsx_response(result_list_xlsx(results), result_list_filename(results))


@bp.route("/submissions.xlsx")
def submissions_export():
    """The submissions summary with the same filters as the administrators' list."""
    args = request.args
    edition_id = _edition_id()
    filters = list_filters()
    query = filtered_submissions(current_user, edition_id=edition_id, **filters)
    subs = sorted_like_the_list(db.session.execute(query).scalars().all(), filters)
    audit("export", "submissions.xlsx", f"{filters_text(args)}；{len(subs)} 条")
    db.session.commit()
    return xlsx_response(submissions_xlsx(subs), submissions_filename(local_now()))


@bp.route("/summary/<round_>.xlsx")
def summary_export(round_):
    """The summary workbook of one round (初赛 or 决赛 report) for the submissions the list's
    filters select, in one edition (``?edition=``, else the current one)."""
    if round_ not in ROUNDS:
        abort(404)
    edition = _edition()
    filters = list_filters()
    query = filtered_submissions(current_user, edition_id=edition.id, answers=True, **filters)  # the summary reads them
    subs = db.session.execute(query).scalars().all()
    return summary_download(sorted_like_the_list(subs, filters), round_, edition, filters=filters)
