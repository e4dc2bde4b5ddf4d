"""What several role blueprints show the same way: each role's home page, a submission's page
(county and administrator), and the report PDF download."""
from flask import Response, abort, current_app, render_template, url_for
from flask_login import current_user

from ..evidence.storage import appendix
from ..extensions import db
from ..models import HistoryEntry
from ..pdf import PdfRenderError
from ..pdf.report import pdf_filename, report_pdf, snapshot_filename, snapshot_pdf
from ..report.definition import COUNTY_SCAN_LABEL, get_report
from ..report.view import effective_answers
from ..web.http import content_disposition
from ..web.security import audit
from ..workflow.moves import moves_for
from ..workflow.readiness import review_lists
from ..workflow.states import current_round

HOMES = {"applicant": "applicant.tasks", "county": "county.queue", "admin": "admin.dashboard"}


def home_for(user) -> str:
    return url_for(HOMES[user.role])


def submission_page(sub, move_error=None, typed=None, status=200, extras=None):
    """The read-only report of a submission with its moves and history (county and admin pages);
    ``extras``: what only administrators see (snapshots, the deadline form), see results.admin_extras."""
    round_ = current_round(sub)
    answers = effective_answers(sub, round_)
    problems, warnings = review_lists(sub, round_, answers)
    return render_template("shared/submission.html", sub=sub, report=get_report(round_), answers=answers,
                           round_=round_, moves=moves_for(sub, current_user.role), history=history_of(sub),
                           problems=problems, warnings=warnings, ev=appendix(sub, round_),
                           move_error=move_error, typed=typed or {}, scan_label=COUNTY_SCAN_LABEL,
                           extras=extras), status


def history_of(sub):
    return db.session.execute(
        db.select(HistoryEntry).filter_by(submission_id=sub.id).order_by(HistoryEntry.id.desc())
    ).scalars().all()


def pdf_response(pdf: bytes, filename: str) -> Response:
    return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": content_disposition(filename)})


def send_report_pdf(sub, round_):
    """The report PDF of a submission the caller has already been allowed to see (audited)."""
    return _send_pdf(lambda: report_pdf(sub, round_), pdf_filename(sub, round_), sub, round_)


def send_snapshot_pdf(snap, sub):
    """A snapshot's report PDF (the report as submitted), for a caller allowed to see it (audited)."""
    return _send_pdf(lambda: snapshot_pdf(snap, sub), snapshot_filename(snap, sub), sub, f"snapshot:{snap.id}")


def _send_pdf(render, filename: str, sub, what: str):
    """Render, audit the download (``what``: the round or the snapshot), answer with the file."""
    try:
        pdf = render()
    except PdfRenderError:
        current_app.logger.exception("PDF render failed for submission %s (%s)", sub.id, what)
        abort(500)
    audit("report_download", f"submission:{sub.id}", what)
    db.session.commit()
    return pdf_response(pdf, filename)
