"""County-level (or city-level) government: the review queue and approval."""
from flask import Blueprint, render_template
from flask_login import current_user

from ..access import get_submission, visible_submissions
from ..extensions import db
from ..models import ROLE_COUNTY, Submission
from ..report.checks import consistency_warnings, report_problems
from ..report.definition import get_report
from ..security import require_role
from ..workflow import current_round, moves_for
from .main import history_of

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
    sub = get_submission(submission_id, current_user)
    round_ = current_round(sub)
    answers = sub.answers_for(round_)
    return render_template("shared/submission.html", sub=sub, report=get_report(round_), answers=answers,
                           round_=round_, moves=moves_for(sub, current_user.role), history=history_of(sub),
                           problems=report_problems(round_, answers, sub.cluster.category, sub.edition.years),
                           warnings=consistency_warnings(round_, answers, sub.edition.years))


@bp.route("/submissions/<int:submission_id>/report.pdf")
def report_pdf(submission_id):
    """The report PDF of a submission this user may see (any other id answers 404)."""
    from .main import send_report_pdf

    sub = get_submission(submission_id, current_user)
    return send_report_pdf(sub, current_round(sub))
