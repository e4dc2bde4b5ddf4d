"""County-level (or city-level) government: the review queue and approval."""
from flask import Blueprint, abort, render_template
from flask_login import current_user

from ..access import current_edition, get_submission, visible_submissions
from ..extensions import db
from ..models import ROLE_COUNTY, Cluster, Submission
from ..report.model import ROUND_LABELS, ROUNDS
from ..web.security import require_role
from ..workflow.states import states_waiting_for
from .results import summary_download
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
    query = visible_submissions(current_user).where(Submission.edition_id == edition.id)
    subs = db.session.execute(query.order_by(Cluster.name, Submission.id)).scalars().all()
    region = current_user.region
    scope = f"{region.government_name}辖区" if region else "无（账号未绑定地区）"
    return summary_download(subs, round_, edition, scope=scope)


@bp.route("/submissions/<int:submission_id>")
def submission(submission_id):
    return submission_page(get_submission(submission_id, current_user))
