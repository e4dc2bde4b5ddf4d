"""Pages every logged-in user has: home, messages, a submission's moves and history."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..access import get_submission
from ..extensions import db
from ..models import HistoryEntry, Message, utcnow
from ..params import parse_version
from ..security import client_address
from ..workflow import MoveRefused, apply_move
from .auth import home_for

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
    if current_user.is_applicant:
        abort(403)
    sub = get_submission(submission_id, current_user)
    version = parse_version(request.form.get("version"))  # not a version number: refused as a stale page
    scan = request.files.get("scan")
    attachment = (scan.filename or "", scan.read()) if scan and scan.filename else None
    try:
        apply_move(sub, request.form.get("move", ""), current_user._get_current_object(),
                   comment=request.form.get("comment"), expected_version=version, attachment=attachment,
                   address=client_address())
    except MoveRefused as refused:
        # the page again, with the reason and the opinion as typed (the file must be chosen again)
        return submission_page(sub, move_error=refused.message,
                               typed={request.form.get("move", ""): request.form.get("comment", "")}, status=409)
    flash("操作成功。", "success")
    return redirect(url_for("county.submission" if current_user.is_county else "admin.submission",
                            submission_id=sub.id))


def submission_page(sub, move_error=None, typed=None, status=200):
    """The read-only report of a submission with its moves and history (county and admin pages)."""
    from flask import render_template

    from ..evidence import appendix
    from ..report.checks import review_lists
    from ..report.definition import COUNTY_SCAN_LABEL, get_report
    from ..report.view import effective_answers
    from ..workflow import current_round, moves_for

    round_ = current_round(sub)
    answers = effective_answers(sub, round_)
    problems, warnings = review_lists(sub, round_, answers)
    return render_template("shared/submission.html", sub=sub, report=get_report(round_), answers=answers,
                           round_=round_, moves=moves_for(sub, current_user.role), history=history_of(sub),
                           problems=problems, warnings=warnings, ev=appendix(sub, round_),
                           move_error=move_error, typed=typed or {}, scan_label=COUNTY_SCAN_LABEL), status


def history_of(sub):
    return db.session.execute(
        db.select(HistoryEntry).filter_by(submission_id=sub.id).order_by(HistoryEntry.id.desc())
    ).scalars().all()


def send_report_pdf(sub, round_):
    """The report PDF of a submission the caller has already been allowed to see."""
    from flask import Response

    from ..pdf import PdfRenderError
    from ..pdf.report import pdf_filename, report_pdf
    from ..uploads import content_disposition

    from ..security import audit

    try:
        pdf = report_pdf(sub, round_)
    except PdfRenderError:
        from flask import current_app

        current_app.logger.exception("PDF render failed for submission %s", sub.id)
        abort(500)
    audit("report_download", f"submission:{sub.id}", round_)
    db.session.commit()
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": content_disposition(pdf_filename(sub, round_))})


@bp.route("/report/blank/<round_>.pdf")
def blank_pdf(round_):
    """A blank template of the preliminary or final report, to prepare offline."""
    from flask import Response

    from ..access import current_edition
    from ..pdf.report import pdf_filename, report_pdf
    from ..uploads import content_disposition

    if round_ not in ("preliminary", "final"):
        abort(404)
    edition = current_edition()
    pdf = report_pdf(None, round_, blank=True, years=edition.years if edition else None)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": content_disposition(pdf_filename(None, round_, blank=True))})
