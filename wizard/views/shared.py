"""What several role blueprints show the same way: each role's home page, a submission's page
(county and administrator), and the report PDF download (queued on wizard/pdf/queue.py and
rendered by a render consumer, never in this worker, which never imports the PDF engine;
docs/pdf-engine.md)."""
import os
from urllib.parse import urlencode

from flask import Response, current_app, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import bindparam
from sqlalchemy.orm import joinedload

from ..evidence.storage import appendix, files_of
from ..extensions import db
from ..models import HistoryEntry
from ..pdf.queue import FAILED, READY
from ..pdf.report import fetch, pdf_filename, report_request, snapshot_filename, snapshot_request
from ..report.checks import shown_answers_identity
from ..report.definition import COUNTY_SCAN_LABEL, get_report
from ..report.fragments import known_answers
from ..report.view import effective_answers
from ..web.http import content_disposition
from ..web.security import audit
from ..workflow.moves import moves_for
from ..workflow.readiness import review_lists
from ..workflow.states import current_round

#: How often the page of a PDF still being rendered refreshes (how long a request waits for its
#: render first: config PDF_WAIT_SECONDS, environment WIZARD_PDF_WAIT_SECONDS).
PDF_REFRESH_SECONDS = 2

HOMES = {"applicant": "applicant.tasks", "county": "county.queue", "admin": "admin.dashboard",
         "expert": "expert.home"}


def home_for(user) -> str:
    return url_for(HOMES[user.role])


def shown_answers(sub, round_) -> dict:
    """The round's answers as a page shows them (``effective_answers``), named when they can be
    (``shown_answers_identity``): the report's body and review lists are then kept under the name
    (no 50 kB digest a page, the checks not run again)."""
    answers = effective_answers(sub, round_)
    identity = shown_answers_identity(sub, round_)
    if identity is not None:
        known_answers(answers, identity)
    return answers


def submission_page(sub, move_error=None, typed=None, status=200, extras=None):
    """The read-only report of a submission with its moves and history (county and admin pages);
    ``extras``: what only administrators see (snapshots, the deadline form), see deadlines.admin_extras."""
    round_ = current_round(sub)
    answers = shown_answers(sub, round_)
    files = files_of(sub, round_)  # one query: the appendix and the files still missing
    problems, warnings = review_lists(sub, round_, answers, files)
    return render_template("shared/submission.html", sub=sub, report=get_report(round_), answers=answers,
                           round_=round_, moves=moves_for(sub, current_user.role), history=history_of(sub),
                           problems=problems, warnings=warnings, ev=appendix(sub, round_, files=files),
                           move_error=move_error, typed=typed or {}, scan_label=COUNTY_SCAN_LABEL,
                           extras=extras), status


#: a submission's history, newest first, with each entry's account (the table names it: one
#: statement, not one more per account), built once
HISTORY = (db.select(HistoryEntry).where(HistoryEntry.submission_id == bindparam("sid"))
           .options(joinedload(HistoryEntry.user)).order_by(HistoryEntry.id.desc()))


def history_of(sub):
    return db.session.execute(HISTORY, {"sid": sub.id}).scalars().all()


def send_report_pdf(sub, round_):
    """The report PDF of a submission the caller has already been allowed to see (audited)."""
    return _send_pdf(report_request(sub, round_), pdf_filename(sub, round_), sub, round_)


def send_snapshot_pdf(snap, sub):
    """A snapshot's report PDF (the report as submitted), for a caller allowed to see it (audited)."""
    return _send_pdf(snapshot_request(snap, sub), snapshot_filename(snap, sub), sub, f"snapshot:{snap.id}")


def send_blank_pdf(round_, years):
    """The blank template of a round (public: not audited)."""
    return _send_pdf(report_request(None, round_, blank=True, years=years), pdf_filename(None, round_, blank=True))


def send_page_pdf(prepared, filename: str, on_sent=None, label: str = "PDF 文件"):
    """A short PDF (the declaration page, a score sheet) as the report is sent; ``on_sent``: called
    (its audit row) when the file goes out, not for the page that says it is being made."""
    return _send_pdf(prepared, filename, on_sent=on_sent, label=label)


def _send_pdf(prepared, filename: str, sub=None, what: str = "", on_sent=None, label: str = "报告 PDF"):
    """The stored PDF (its download audited: ``what`` is the round or the snapshot); else its
    render is queued or awaited for PDF_WAIT_SECONDS, then a page that says it is being made
    (202, refreshing itself) or that it failed (503, with a link that tries again)."""
    wait = float(current_app.config["PDF_WAIT_SECONDS"])
    outcome = fetch(prepared, wait, retry=request.args.get("retry") == "1")
    if outcome.state == FAILED:
        current_app.logger.warning("PDF of submission %s (%s) not available: %s", getattr(sub, "id", "-"), what,
                                   outcome.message)
        return _pdf_status_page(failed=outcome.message, status=503, label=label)
    if outcome.state != READY:
        return _pdf_status_page(status=202, label=label)
    if not os.path.exists(outcome.path):  # removed by the cleanup since the check: make it again
        return _pdf_status_page(status=202, label=label)
    if sub is not None:
        audit("report_download", f"submission:{sub.id}", what)
    if on_sent is not None:
        on_sent()
    if sub is not None or on_sent is not None:
        db.session.commit()
    try:
        fh = open(outcome.path, "rb")
    except FileNotFoundError:  # removed in the moment since: make it again
        return _pdf_status_page(status=202, label=label)
    response = send_file(fh, mimetype="application/pdf", etag=False, conditional=False, max_age=0)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.content_length = os.fstat(fh.fileno()).st_size
    return response


def _pdf_status_page(status: int, failed: str | None = None, label: str = "报告 PDF"):
    """The PDF is being made (refreshes itself: a meta refresh and the Refresh header, no
    script) or failed (no refresh; the link asks for a new render)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "retry"]  # e.g. a ranking's ?cut=
    again = request.path + (f"?{urlencode(args)}" if args else "")
    html = render_template("shared/pdf_rendering.html", failed=failed, again=again,
                           retry=again + ("&" if args else "?") + "retry=1", refresh=PDF_REFRESH_SECONDS,
                           label=label)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    if failed is None:
        response.headers["Refresh"] = f"{PDF_REFRESH_SECONDS}; url={again}"
    return response
