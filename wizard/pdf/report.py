"""The report as PDF: the same read-only report partial the review page shows,
in print layout, with running header, page numbers, a verification code and a
草稿 watermark on drafts, followed by the evidence files (佐证材料), each page
stamped with its appendix page number.

The request does the database work: it names the cache file and, when the file is
missing, makes the HTML and lists the evidence paths (a :class:`~wizard.pdf.jobs.RenderJob`)
and puts it on the render queue (:mod:`wizard.pdf.queue`); a render consumer renders it.  This
module never imports the PDF engine.  Cache files are named (docs/pdf-engine.md):

* a draft: ``draft-<submission>-<round>-<h>``, ``h`` a hash of the answers, the opinion, the
  state, the evidence files and the templates' stamp, as it is edited (only the newest draft
  of a submission and round is kept: wizard/pdf/cache.py);
* a submitted report: ``report-<snapshot digest>-t<TEMPLATE_VERSION>-<h>``, rendered once from
  the frozen snapshot (``h``: the county's opinion and scan, the cluster's name, the years);
* a snapshot: ``snapshot-<digest>-t<TEMPLATE_VERSION>-<h>``.
"""
from __future__ import annotations

import atexit
import glob
import hashlib
import json
import os
import threading
import time
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
from .jobs import GENERIC_FAILURE, CachePaths, Evidence, RenderJob, cache_paths, read_failure
from .queue import Outcome, default_url, obtain, open_queue, slot_of
from .worker import RenderProcess

#: Names the stored PDF of a submitted report: raise it when the printed layout changes.
TEMPLATE_VERSION = "5"


class ReportPdfError(RuntimeError):
    """A report PDF rendered for the CLI failed; the message is the Chinese sentence."""


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


#: Handwriting on the blank template (issue 23, item 16): a Chinese character written by pen
#: needs a square of about 8 mm, on ruled rows 8 mm apart.  A narrative's box gets ruled rows for
#: its limit (field.max_chars) at this density: a row across the box (about 16.6 cm) holds 20
#: characters, so 2,500 characters take 125 rows, about four and a half A4 pages.  A narrative
#: the form sets no limit for gets rows for ``unlimited`` characters (a page) and says that more
#: pages may be attached.
HANDWRITING = {"row_cm": 0.8, "per_row": 20, "unlimited": 600, "more": "（篇幅不限，不够可另附页，注明所续栏目）"}


def paper_of(round_: str) -> dict:
    """What only the printed report carries (templates/print/report.html reads it as ``paper``)."""
    return {"attachment": ATTACHMENTS[round_], "issuer": BLANK_AUTHOR, "corners": CORNER_HEADERS,
            "hand": HANDWRITING}


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
    slot: str  # a draft's submission and round; the key for every other PDF (wizard/pdf/queue.py)


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
         stamp: str = EVIDENCE_STAMP, slot: str | None = None) -> RenderJob:
    """``stamp``: the foot of each evidence page (:func:`evidence_stamp`); a draft's evidence
    pages carry the watermark too."""
    config = current_app.config
    return RenderJob(key=key, folder=config["PDF_CACHE_FOLDER"], html=html, static_root=current_app.static_folder,
                     font_path=config.get("PDF_FONT_PATH"), watermark=DRAFT_WATERMARK if draft else None,
                     evidence=tuple(evidence), stamp_format=stamp,
                     outline_title=get_report(round_ or "preliminary").parts["evidence"],
                     slot=slot, draft_prefix=f"{slot}-" if slot else None)


def _evidence(rows) -> list[Evidence]:
    return [Evidence(path_of(r), r.kind, r.original_name) for r in rows]


def _prepared(key: str, make_job, slot: str | None = None) -> Prepared:
    folder = current_app.config["PDF_CACHE_FOLDER"]
    return Prepared(cache_paths(folder, key), make_job, slot_of(folder, slot or key))


def report_request(submission=None, round_="preliminary", blank=False, years=None) -> Prepared:
    """The report PDF of a round (or the blank template): cache paths and job."""
    if blank or submission is None:
        key = _digest({"blank": round_, "years": years, "template": _template_stamp()})
        return _prepared(key, lambda: _job(key, report_html(None, round_, True, years), round_))
    snap = latest_snapshot(submission, round_)
    if snap is not None and not is_draft(submission, round_):
        return _submitted_request(submission, round_, snap)
    slot = f"draft-{submission.id}-{round_}"
    key = slot + "-" + _digest({"id": submission.id, "round": round_, "state": submission.state,
                   "answers": submission.answers_for(round_), "opinions": submission.opinions,
                   "evidence": manifest(submission, round_), "name": submission.cluster.name,
                   "category": submission.cluster.category, "years": submission.edition.years,
                   "template": _template_stamp()})
    draft = is_draft(submission, round_)
    return _prepared(key, lambda: _job(key, report_html(submission, round_), round_,
                                       _evidence(files_of(submission, round_)), draft,
                                       evidence_stamp(submission, verification_code(submission, round_)[0]),
                                       slot), slot)


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
        return _job(key, html, round_, _evidence(rows),
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
        return _job(key, snapshot_html(snapshot, submission), round_, _evidence(rows),
                    stamp=evidence_stamp(submission, snapshot.code))
    return _prepared(key, make_job)


def page_request(html: str, name: str) -> Prepared:
    """A short PDF without evidence (the declaration page to sign, the review's score sheets),
    rendered by the consumer as the report is: named by its HTML (the same page renders once; a
    change of data gives another name) and kept in the cache within its bound like any PDF."""
    key = f"{name}-{_digest({'html': html, 'template': TEMPLATE_VERSION})[:40]}"
    return _prepared(key, lambda: _job(key, html, None))


def page_pdf(html: str, name: str) -> bytes:
    """:func:`page_request`'s PDF rendered now in a render process of this command's own (the
    CLI, scripts and benchmarks; web pages use :func:`fetch`)."""
    return _render_now(page_request(html, name))


def render_queue():
    """This app's render queue (RENDER_QUEUE_URL; by default a SQLite file under instance/)."""
    config = current_app.config
    return open_queue(config.get("RENDER_QUEUE_URL") or default_url(current_app.instance_path),
                      config["RENDER_ORPHAN_SECONDS"])


def fetch(prepared: Prepared, wait: float, retry: bool = False) -> Outcome:
    """The PDF if it is stored; else its render queued (once) and awaited ``wait`` seconds."""
    return obtain(render_queue(), prepared.paths, prepared.slot, prepared.make_job, wait, retry=retry,
                  before_wait=db.session.commit)


def report_pdf(submission=None, round_="preliminary", blank=False, years=None) -> bytes:
    """PDF bytes, from the cache or rendered now in a render process of this command's own (the
    CLI and scripts: no consumer needed; web pages use :func:`fetch`)."""
    return _render_now(report_request(submission, round_, blank, years))


def snapshot_pdf(snapshot, submission) -> bytes:
    """The report as it was submitted (a snapshot), as PDF bytes, rendered now if not stored."""
    return _render_now(snapshot_request(snapshot, submission))


#: This process's own render process for :func:`_render_now` (a command or script that renders
#: several PDFs: the CLI, benchmarks, the tests): started with the first render and kept for the
#: next ones, so the engine is imported and warmed once (about 1.7 s of CPU a start), not once per
#: PDF; recycled after RECYCLE_AFTER jobs and restarted after a failure as a consumer's is, stopped
#: when this process exits (and killed by the kernel if this process dies: PR_SET_PDEATHSIG).
#: One render at a time (the lock).  A web page never uses it (pages queue renders: :func:`fetch`).
_OWN: list = []
_OWN_LOCK = threading.Lock()


def _own_renderer() -> RenderProcess:
    if not _OWN:
        _OWN.append(RenderProcess())
        atexit.register(_OWN[0].stop)
    return _OWN[0]


def _render_now(prepared: Prepared) -> bytes:
    paths = prepared.paths
    if not os.path.exists(paths.pdf):
        with _OWN_LOCK:
            renderer = _own_renderer()
            try:
                outcome = renderer.run(prepared.make_job(), time.monotonic() + current_app.config["RENDER_TIME_LIMIT"],
                                       lambda force=False: True)
            except BaseException:
                renderer.stop()  # interrupted mid-job: its reply is never read; the next render starts afresh
                raise
        if outcome[0] != "ok":
            raise ReportPdfError(read_failure(paths.failed) or GENERIC_FAILURE)
    with open(paths.pdf, "rb") as fh:
        return fh.read()


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
