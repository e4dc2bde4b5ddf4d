"""County-level (or city-level) government: the review queue and approval."""
from flask import Blueprint, render_template
from flask_login import current_user

from ..access import get_submission, visible_submissions
from ..extensions import db
from ..models import ROLE_COUNTY
from ..web.security import require_role
from ..workflow.states import states_waiting_for
from .shared import submission_page

bp = Blueprint("county", __name__, url_prefix="/county")
bp.before_request(require_role(ROLE_COUNTY))
WAITING = states_waiting_for(ROLE_COUNTY)


@bp.route("/")
def queue():
    """The region's submissions, those waiting for this reviewer first."""
    subs = db.session.execute(visible_submissions(current_user)).scalars().all()
    subs.sort(key=lambda s: (s.state not in WAITING, s.cluster.name))
    return render_template("county/queue.html", subs=subs, waiting=WAITING)


@bp.route("/submissions/<int:submission_id>")
def submission(submission_id):
    return submission_page(get_submission(submission_id, current_user))
