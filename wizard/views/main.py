"""Pages every logged-in user has: home, messages, a submission's moves, its report PDF and the
blank templates."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..access import current_edition, get_submission
from ..extensions import db
from ..models import Message, utcnow
from ..params import parse_version
from ..web.security import client_address
from ..workflow.moves import apply_move
from ..workflow.states import DECIDE, MOVES_BY_KEY, ROUNDS, UNDO, MoveRefused, current_round
from .county import county_extras
from .deadlines import admin_extras
from .shared import home_for, send_blank_pdf, send_report_pdf, submission_page

bp = Blueprint("main", __name__)


@bp.route("/")
def index():
    return redirect(home_for(current_user))


@bp.route("/messages")
def messages():
    """The user's notifications, newest first."""
    rows = db.session.execute(
        db.select(Message).filter_by(user_id=current_user.id).order_by(Message.id.desc()).limit(200)
    ).scalars().all()
    return render_template("shared/messages.html", messages=rows)


@bp.route("/messages/read", methods=["POST"])
def mark_read():
    db.session.execute(
        db.update(Message).where(Message.user_id == current_user.id, Message.read_at.is_(None)).values(read_at=utcnow())
    )
    db.session.commit()
    return redirect(url_for("main.messages"))


@bp.route("/submissions/<int:submission_id>/move", methods=["POST"])
def move(submission_id):
    """Apply one workflow move (county and administrator pages post here)."""
    if current_user.is_applicant or current_user.is_expert:  # experts score; they make no moves
        abort(403)
    sub = get_submission(submission_id, current_user)
    version = parse_version(request.form.get("version"))  # not a version number: refused as a stale page
    scan = request.files.get("scan")
    attachment = (scan.filename or "", scan.read()) if scan and scan.filename else None
    try:
        entry = apply_move(sub, request.form.get("move", ""), current_user._get_current_object(),
                           comment=request.form.get("comment"), expected_version=version, attachment=attachment,
                           address=client_address())
    except MoveRefused as refused:
        # the page again, with the reason and the opinion as typed (the file must be chosen again)
        extras = admin_extras(sub) if current_user.is_admin else county_extras(sub)
        return submission_page(sub, move_error=refused.message,
                               typed={request.form.get("move", ""): request.form.get("comment", "")}, status=409,
                               extras=extras)
    flash(move_done_message(entry.move, sub), "success")
    return redirect(url_for("county.submission" if current_user.is_county else "admin.submission",
                            submission_id=sub.id))


def move_done_message(move_key: str, sub) -> str:
    """What was done to whom, in the move's own words (states.py): "已审核通过：长沙…产业集群";
    a decision names the outcome it recorded: "已记为初赛未胜出：…"."""
    done = MOVES_BY_KEY.get(move_key, UNDO)
    verb = "已记为" if done.kind == DECIDE else "已"
    return f"{verb}{done.label}：{sub.cluster.name}"


@bp.route("/report/blank/<round_>.pdf")
def blank_pdf(round_):
    """A blank template of the preliminary or final report, to prepare offline."""
    if round_ not in ROUNDS:
        abort(404)
    edition = current_edition()
    return send_blank_pdf(round_, edition.years if edition else None)


@bp.route("/submissions/<int:submission_id>/report.pdf")
def report_pdf_of(submission_id):
    """The report PDF of a submission this user may see (any other id answers 404): one route
    for the applicant, the county reviewer and the administrator."""
    sub = get_submission(submission_id, current_user)
    return send_report_pdf(sub, current_round(sub))
