"""The report as PDF: the same read-only report partial the review page shows,
in print layout, with running header, page numbers, a verification code and a
草稿 watermark on drafts, followed by the evidence files (佐证材料), each page
stamped with its appendix page number.  Rendered PDFs are cached on disk, keyed
by a hash of the answers, the opinion, the state, the evidence files and the
template version."""
from __future__ import annotations

import glob
import hashlib
import json
import os

from flask import current_app, render_template

from ..evidence.binding import EvidenceMergeError, EvidenceSource, merge_evidence
from ..evidence.storage import appendix, files_of, manifest, read
from ..report import definition
from ..report.definition import (ATTACHMENTS, BLANK_AUTHOR, CORNER_HEADERS, DRAFT_WATERMARK, EVIDENCE_STAMP,
                                 get_report)
from ..report.view import opinion_for
from ..workflow.snapshots import answers_digest, evidence_manifest, latest_snapshot
from ..workflow.states import STATES
from .engine import PdfRenderError, render_pdf
from .fonts import register_cjk_fonts

TEMPLATE_VERSION = "2"


def _template_stamp() -> str:
    """Changes when a print template changes, so the cache never serves an old layout."""
    root = current_app.template_folder
    parts = [TEMPLATE_VERSION]
    printed = [os.path.join(root, "print", "report.html")] + sorted(glob.glob(os.path.join(root, "report", "**", "*.html"),
                                                                              recursive=True))
    parts += [str(os.path.getmtime(path)) for path in printed]  # the body, its kind partials, the TOC
    parts.append(str(os.path.getmtime(definition.__file__)))  # the labels and fixed texts
    return "|".join(parts)


def verification_code(submission, round_) -> tuple[str, bool]:
    """(code, frozen): the latest snapshot's code, or a draft hash of the current answers."""
    snap = latest_snapshot(submission, round_)
    draft = STATES[submission.state].editable_round == round_
    if snap is not None and not draft:
        return snap.code, True
    digest = answers_digest(submission.answers_for(round_), evidence_manifest(submission, round_))
    return digest[:12].upper(), False


def paper_of(round_: str) -> dict:
    """What only the printed report carries (templates/print/report.html reads it as ``paper``)."""
    return {"attachment": ATTACHMENTS[round_], "issuer": BLANK_AUTHOR, "corners": CORNER_HEADERS}


def is_draft(submission, round_) -> bool:
    """The report of this round is still being edited: printed with the 草稿 watermark."""
    return submission is not None and STATES[submission.state].editable_round == round_


def report_html(submission=None, round_="preliminary", blank=False, years=None) -> str:
    report = get_report(round_)
    if blank or submission is None:
        return render_template("print/report.html", report=report, answers={}, sub=None, blank=True,
                               years=years, draft=False, code=None, opinion=None, ev=None, paper=paper_of(round_))

    code, _ = verification_code(submission, round_)
    return render_template("print/report.html", report=report, answers=submission.answers_for(round_),
                           sub=submission, blank=False, years=submission.edition.years,
                           draft=is_draft(submission, round_), code=code, paper=paper_of(round_),
                           opinion=opinion_for(submission, round_), ev=appendix(submission, round_, links=False))


def report_pdf(submission=None, round_="preliminary", blank=False, years=None) -> bytes:
    """PDF bytes, from the cache when nothing that shapes the output changed."""
    if blank or submission is None:
        key_src = {"blank": round_, "years": years}
    else:
        key_src = {"id": submission.id, "round": round_, "state": submission.state,
                   "answers": submission.answers_for(round_), "opinions": submission.opinions,
                   "evidence": manifest(submission, round_), "name": submission.cluster.name,
                   "category": submission.cluster.category,
                   "years": submission.edition.years}
    key_src["template"] = _template_stamp()
    key = hashlib.sha256(json.dumps(key_src, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
    folder = current_app.config["PDF_CACHE_FOLDER"]
    path = os.path.join(folder, f"{key}.pdf")
    if os.path.exists(path):
        with open(path, "rb") as fh:
            return fh.read()
    draft = not blank and is_draft(submission, round_)
    pdf = render_pdf(report_html(submission, round_, blank, years), static_root=current_app.static_folder,
                     font_path=current_app.config.get("PDF_FONT_PATH"), watermark=DRAFT_WATERMARK if draft else None)
    if not blank and submission is not None:
        pdf = bind_evidence(pdf, submission, round_)
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(pdf)
    os.replace(tmp, path)
    return pdf


def bind_evidence(report: bytes, submission, round_) -> bytes:
    """The report followed by every evidence file, each page stamped 佐证材料第 N 页."""

    rows = files_of(submission, round_)
    if not rows:
        return report
    try:
        items = [EvidenceSource(read(r), r.kind, label=r.original_name) for r in rows]
    except OSError as exc:
        raise PdfRenderError("佐证材料文件缺失，无法生成报告，请联系管理员。") from exc
    font = register_cjk_fonts(current_app.config.get("PDF_FONT_PATH")).family
    try:
        return merge_evidence(report, None, items, stamp_start=1, stamp_format=EVIDENCE_STAMP, stamp_font=font,
                              outline_title=get_report(round_).parts["evidence"])
    except EvidenceMergeError as exc:
        raise PdfRenderError(str(exc)) from exc


def snapshot_html(snapshot, submission) -> str:
    """A snapshot's frozen answers in the print layout, with its 校验码 and no watermark.  The
    evidence table and files are those of today only when they are still the snapshot's files."""
    round_ = snapshot.round
    same_files = evidence_manifest(submission, round_) == (snapshot.evidence or [])
    return render_template("print/report.html", report=get_report(round_), answers=snapshot.answers or {},
                           sub=submission, blank=False, years=submission.edition.years, draft=False,
                           code=snapshot.code, opinion=None, paper=paper_of(round_),
                           ev=appendix(submission, round_, links=False) if same_files else None)


def snapshot_pdf(snapshot, submission) -> bytes:
    """The report as it was submitted (a snapshot), as PDF; not cached (rarely downloaded)."""
    pdf = render_pdf(snapshot_html(snapshot, submission), static_root=current_app.static_folder,
                     font_path=current_app.config.get("PDF_FONT_PATH"))
    if evidence_manifest(submission, snapshot.round) == (snapshot.evidence or []):
        pdf = bind_evidence(pdf, submission, snapshot.round)
    return pdf


def snapshot_filename(snapshot, submission) -> str:
    return f"{submission.cluster.name}-{get_report(snapshot.round).title}-{snapshot.code}.pdf"


def pdf_filename(submission, round_, blank=False) -> str:
    title = get_report(round_).title
    return f"{title}（空白模板）.pdf" if blank else f"{submission.cluster.name}-{title}.pdf"
