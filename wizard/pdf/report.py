"""The report as PDF: the same read-only report partial the review page shows,
in print layout, with running header, page numbers, a verification code and a
草稿 watermark on drafts, followed by the evidence files (佐证材料), each page
stamped with its appendix page number.

The request does the database work: it names the cache file and, when the file is
missing, makes the HTML and lists the evidence paths (a :class:`~wizard.pdf.jobs.RenderJob`);
a rendering process of :mod:`wizard.pdf.pool` renders it.  Cache files are named
(docs/pdf-engine.md):

* a draft: by a hash of the answers, the opinion, the state, the evidence files and the
  templates' stamp, as it is edited;
* a submitted report: ``report-<snapshot digest>-t<TEMPLATE_VERSION>-<h>``, rendered once from
  the frozen snapshot (``h``: the county's opinion and scan, the cluster's name, the years);
* a snapshot: ``snapshot-<digest>-t<TEMPLATE_VERSION>-<h>``.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Callable

from flask import current_app, render_template

from ..evidence.storage import appendix, files_of, manifest, path_of
from ..extensions import db
from ..report import definition
from ..report.definition import (ATTACHMENTS, BLANK_AUTHOR, CODE_LABEL, CORNER_HEADERS, DRAFT_WATERMARK,
                                 EVIDENCE_STAMP, get_report)
from ..report.view import opinion_for
from ..workflow.snapshots import answers_digest, evidence_manifest, latest_snapshot
from ..workflow.states import STATES
from .engine import PdfRenderError
from .jobs import CachePaths, Evidence, RenderJob, bind, cache_paths
from .pool import FAILED, READY, Outcome, obtain

#: Names the stored PDF of a submitted report: raise it when the printed layout changes.
TEMPLATE_VERSION = "4"
#: How long report_pdf (the CLI, the blank template) waits for a render before it gives up.
SYNC_WAIT_SECONDS = 600


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


@dataclass(frozen=True)
class Prepared:
    """A report PDF a request asks for: its cache paths, and how to make its render job (the
    HTML and the evidence paths; called only when the file is missing)."""

    paths: CachePaths
    make_job: Callable[[], RenderJob]


def _digest(src) -> str:
    return hashlib.sha256(json.dumps(src, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def evidence_stamp(submission, code: str | None) -> str:
    """What each evidence page carries at its foot: the cluster, the report's 校验码 and its page
    number in the appendix (佐证材料第 N 页), so that a loose page can be traced to its report."""
    if submission is None:
        return EVIDENCE_STAMP
    name = submission.cluster.name.replace("{", "{{").replace("}", "}}")  # a format string
    return f"{name}　{CODE_LABEL}：{code}　{EVIDENCE_STAMP}" if code else f"{name}　{EVIDENCE_STAMP}"


def _job(key: str, html: str, round_: str | None, evidence=(), draft: bool = False,
         hint: str | None = None, stamp: str = EVIDENCE_STAMP) -> RenderJob:
    """``hint``: the report whose last page count is kept (the submission and round), so that its
    next render is laid out once (engine.render_pdf's ``page_count``).  ``stamp``: the foot of
    each evidence page (:func:`evidence_stamp`); a draft's evidence pages carry the watermark too."""
    config = current_app.config
    return RenderJob(key=key, folder=config["PDF_CACHE_FOLDER"], html=html, static_root=current_app.static_folder,
                     font_path=config.get("PDF_FONT_PATH"), watermark=DRAFT_WATERMARK if draft else None,
                     evidence=tuple(evidence), stamp_format=stamp,
                     outline_title=get_report(round_ or "preliminary").parts["evidence"], pages_hint=hint)


def _hint(submission, round_) -> str:
    return f"pages-{submission.id}-{round_}" if submission is not None else f"pages-blank-{round_}"


def _evidence(rows) -> list[Evidence]:
    return [Evidence(path_of(r), r.kind, r.original_name) for r in rows]


def _prepared(key: str, make_job) -> Prepared:
    return Prepared(cache_paths(current_app.config["PDF_CACHE_FOLDER"], key), make_job)


def report_request(submission=None, round_="preliminary", blank=False, years=None) -> Prepared:
    """The report PDF of a round (or the blank template): cache paths and job."""
    if blank or submission is None:
        key = _digest({"blank": round_, "years": years, "template": _template_stamp()})
        return _prepared(key, lambda: _job(key, report_html(None, round_, True, years), round_,
                                           hint=_hint(None, round_)))
    snap = latest_snapshot(submission, round_)
    if snap is not None and not is_draft(submission, round_):
        return _submitted_request(submission, round_, snap)
    key = _digest({"id": submission.id, "round": round_, "state": submission.state,
                   "answers": submission.answers_for(round_), "opinions": submission.opinions,
                   "evidence": manifest(submission, round_), "name": submission.cluster.name,
                   "category": submission.cluster.category, "years": submission.edition.years,
                   "template": _template_stamp()})
    draft = is_draft(submission, round_)
    return _prepared(key, lambda: _job(key, report_html(submission, round_), round_,
                                       _evidence(files_of(submission, round_)), draft, _hint(submission, round_),
                                       evidence_stamp(submission, verification_code(submission, round_)[0])))


def _submitted_request(submission, round_, snap) -> Prepared:
    """A submitted round: rendered once from its snapshot; what was added after the submit (the
    county's opinion and sealed scan) and the names printed on it are part of the name."""
    rows = files_of(submission, round_)
    extra = _digest({"opinion": (submission.opinions or {}).get(round_), "evidence": manifest(submission, round_),
                     "name": submission.cluster.name, "category": submission.cluster.category,
                     "years": submission.edition.years})
    key = f"report-{snap.digest[:32]}-t{TEMPLATE_VERSION}-{extra[:16]}"

    def make_job():
        html = render_template("print/report.html", report=get_report(round_), answers=snap.answers or {},
                               sub=submission, blank=False, years=submission.edition.years, draft=False,
                               code=snap.code, paper=paper_of(round_), opinion=opinion_for(submission, round_),
                               ev=appendix(submission, round_, links=False))
        return _job(key, html, round_, _evidence(rows), hint=_hint(submission, round_),
                    stamp=evidence_stamp(submission, snap.code))
    return _prepared(key, make_job)


def snapshot_request(snapshot, submission) -> Prepared:
    """A snapshot's report (as it was submitted): rendered once, named by its digest."""
    round_ = snapshot.round
    same_files = evidence_manifest(submission, round_) == (snapshot.evidence or [])
    bound = manifest(submission, round_) if same_files else None  # with the county's scan, as the TOC lists it
    extra = _digest({"name": submission.cluster.name, "category": submission.cluster.category,
                     "years": submission.edition.years, "files": bound})
    key = f"snapshot-{snapshot.digest[:32]}-t{TEMPLATE_VERSION}-{extra[:16]}"

    def make_job():
        rows = files_of(submission, round_) if same_files else []
        return _job(key, snapshot_html(snapshot, submission), round_, _evidence(rows), hint=_hint(submission, round_),
                    stamp=evidence_stamp(submission, snapshot.code))
    return _prepared(key, make_job)


def fetch(prepared: Prepared, wait: float, retry: bool = False) -> Outcome:
    """The PDF if it is stored; else its render started (once) and awaited ``wait`` seconds."""
    return obtain(prepared.paths, prepared.make_job, wait, retry=retry,
                  size=current_app.config["RENDER_PROCESSES"], before_wait=db.session.commit)


def report_pdf(submission=None, round_="preliminary", blank=False, years=None) -> bytes:
    """PDF bytes, from the cache or rendered by the pool, waiting for it (the CLI, the blank
    template and scripts; web pages use :func:`fetch` with a short wait)."""
    return _bytes(fetch(report_request(submission, round_, blank, years), SYNC_WAIT_SECONDS, retry=True))


def snapshot_pdf(snapshot, submission) -> bytes:
    """The report as it was submitted (a snapshot), as PDF bytes, waiting for the render."""
    return _bytes(fetch(snapshot_request(snapshot, submission), SYNC_WAIT_SECONDS, retry=True))


def _bytes(outcome: Outcome) -> bytes:
    if outcome.state == FAILED:
        raise PdfRenderError(outcome.message)
    if outcome.state != READY:
        raise PdfRenderError("报告 PDF 生成超时。")
    with open(outcome.path, "rb") as fh:
        return fh.read()


def bind_evidence(report: bytes, submission, round_) -> bytes:
    """The report followed by every evidence file, each page stamped 佐证材料第 N 页 (in this
    process: benchmarks and scripts)."""
    rows = files_of(submission, round_)
    if not rows:
        return report
    return bind(report, _job("-", "", round_, _evidence(rows), is_draft(submission, round_),
                             stamp=evidence_stamp(submission, verification_code(submission, round_)[0])))


def snapshot_html(snapshot, submission) -> str:
    """A snapshot's frozen answers in the print layout, with its 校验码 and no watermark.  The
    evidence table and files are those of today only when they are still the snapshot's files."""
    round_ = snapshot.round
    same_files = evidence_manifest(submission, round_) == (snapshot.evidence or [])
    return render_template("print/report.html", report=get_report(round_), answers=snapshot.answers or {},
                           sub=submission, blank=False, years=submission.edition.years, draft=False,
                           code=snapshot.code, opinion=None, paper=paper_of(round_),
                           ev=appendix(submission, round_, links=False) if same_files else None)


def snapshot_filename(snapshot, submission) -> str:
    return f"{submission.cluster.name}-{get_report(snapshot.round).title}-{snapshot.code}.pdf"


def pdf_filename(submission, round_, blank=False) -> str:
    title = get_report(round_).title
    return f"{title}（空白模板）.pdf" if blank else f"{submission.cluster.name}-{title}.pdf"
