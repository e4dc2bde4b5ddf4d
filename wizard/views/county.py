"""County-level (or city-level) government: the review queue and approval."""
from flask import Blueprint, abort, render_template
from flask_login import current_user
from sqlalchemy.orm import defer

from ..access import current_edition, get_submission, visible_submissions
from ..evidence.storage import slots
from ..extensions import db
from ..models import ROLE_COUNTY, Cluster, HistoryEntry, Snapshot, Submission
from ..report.compare import compare_files, compare_submissions
from ..report.model import ROUND_LABELS, ROUNDS
from ..web.downloads import summary_download
from ..web.security import require_role
from ..workflow.states import MOVES, MOVES_BY_KEY, RETURN, current_round, states_waiting_for
from .shared import submission_page

bp = Blueprint("county", __name__, url_prefix="/county")
bp.before_request(require_role(ROLE_COUNTY))
WAITING = states_waiting_for(ROLE_COUNTY)


@bp.route("/")
def queue():
    """The region's submissions, those waiting for this reviewer first."""
    subs = db.session.execute(visible_submissions(current_user)).scalars().all()
    subs.sort(key=lambda s: (s.state not in WAITING, s.cluster.name))
    return render_template("county/queue.html", subs=subs, waiting=WAITING, rounds=ROUND_LABELS)


@bp.route("/summary/<round_>.xlsx")
def summary_export(round_):
    """The summary workbook of one round for this reviewer's region only (the current edition)."""
    edition = current_edition()
    if round_ not in ROUNDS or edition is None:
        abort(404)
    query = visible_submissions(current_user, answers=True).where(Submission.edition_id == edition.id)
    subs = db.session.execute(query.order_by(Cluster.name, Submission.id)).scalars().all()
    region = current_user.region
    scope = f"{region.government_name}辖区" if region else "无（账号未绑定地区）"
    return summary_download(subs, round_, edition, scope=scope)


@bp.route("/submissions/<int:submission_id>")
def submission(submission_id):
    """The report to review: what changed since it was returned first, the report, then the decision."""
    sub = get_submission(submission_id, current_user)
    return submission_page(sub, extras=county_extras(sub))


def county_extras(sub: Submission) -> dict:
    """What the county's submission page adds (templates/shared/_submission_extras.html)."""
    return {"changes": changes_since_return(sub)}


def changes_since_return(sub: Submission) -> dict | None:
    """What the applicant changed between the two latest submissions of the current round's
    report (a return lies between them, unless an administrator undid the submit): the
    answers, the evidence files, and the return that asked for it.  None before a resubmission.

    The answers at the return are those of the previous submission's snapshot (a submitted
    report cannot be edited until it is returned), so two snapshots tell the whole story."""
    round_ = current_round(sub)
    # the answers (hundreds of kB of JSON each) are read only when there are two to compare
    latest, previous = (db.session.execute(
        db.select(Snapshot).filter_by(submission_id=sub.id, round=round_).options(defer(Snapshot.answers))
        .order_by(Snapshot.id.desc()).limit(2)
    ).scalars().all() + [None, None])[:2]
    if previous is None:
        return None
    returns = [m.key for m in MOVES if m.kind == RETURN and m.round == round_]
    returned = db.session.execute(
        db.select(HistoryEntry).where(HistoryEntry.submission_id == sub.id, HistoryEntry.move.in_(returns),
                                      HistoryEntry.at >= previous.created_at, HistoryEntry.at <= latest.created_at)
        .order_by(HistoryEntry.id.desc()).limit(1)
    ).scalar_one_or_none()
    return {**snapshot_changes(previous, latest, round_, sub.cluster.category, sub.edition.years),
            "returned": returned, "returned_move": MOVES_BY_KEY[returned.move] if returned else None,
            "previous": previous, "latest": latest}


#: (the two snapshots' ids and digests, the round, the category, the years) → what changed between
#: them.  A snapshot never changes, so neither does their comparison: its answers (hundreds of kB
#: of JSON each) are read and compared once per worker, not on every view of the county's page.
#: The changed fields alone are kept (not the whole comparison).  Bounded, cleared when full.
_CHANGES: dict = {}
_CHANGES_MAX = 64


def snapshot_changes(previous: Snapshot, latest: Snapshot, round_: str, category: str, years: dict) -> dict:
    """{changed (the comparison's changed fields), changed_count, total (fields compared),
    files (evidence added and removed)}."""
    key = (previous.id, previous.digest, latest.id, latest.digest, round_, category, tuple(years.items()))
    hit = _CHANGES.get(key)
    if hit is None:
        comparison = compare_submissions(previous.answers, latest.answers, round_, category, years)
        labels = {s.key: s.label for s in slots(round_)}
        hit = {"changed": comparison.only_changed(), "changed_count": comparison.changed_count,
               "total": comparison.total, "files": compare_files(previous.evidence, latest.evidence, labels)}
        if len(_CHANGES) >= _CHANGES_MAX:
            _CHANGES.clear()
        _CHANGES[key] = hit
    return hit
