"""County-level (or city-level) government: the review queue and approval."""
from flask import Blueprint, render_template
from flask_login import current_user

from ..access import get_submission, visible_submissions
from ..extensions import db
from ..models import ROLE_COUNTY
from ..security import require_role
from ..workflow import current_round
from .main import submission_page

bp = Blueprint("county", __name__, url_prefix="/county")
bp.before_request(require_role(ROLE_COUNTY))
WAITING = ("submitted", "final_submitted")


@bp.route("/")
def queue():
    """The region's submissions, those waiting for this reviewer first."""
    subs = db.session.execute(visible_submissions(current_user)).scalars().all()
    subs.sort(key=lambda s: (s.state not in WAITING, s.cluster.name))
    return render_template("county/queue.html", subs=subs, waiting=WAITING)


@bp.route("/submissions/<int:submission_id>")
def submission(submission_id):
    return submission_page(get_submission(submission_id, current_user))


@bp.route("/submissions/<int:submission_id>/report.pdf")
def report_pdf(submission_id):
    """The report PDF of a submission this user may see (any other id answers 404)."""
    from .main import send_report_pdf

    sub = get_submission(submission_id, current_user)
    return send_report_pdf(sub, current_round(sub))
