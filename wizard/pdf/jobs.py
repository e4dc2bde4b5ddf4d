"""One report PDF render as plain data, and what a rendering process does with it.

No Flask, no database: a :class:`RenderJob` carries everything the render needs (the HTML
already made by Jinja in the request, the paths of the evidence files, the font and the cache
file to write), so it can be pickled to a rendering process (:mod:`wizard.pdf.pool`).  The
process renders with xhtml2pdf, binds the evidence with pypdf, and writes the PDF into the
cache folder atomically (a temporary file renamed into place).

The cache folder holds, per key (see docs/pdf-engine.md):

* ``<key>.pdf``: the finished PDF;
* ``<key>.lock``: a render of it is queued or running (created exclusively by the request
  that starts it, so two requests, from two workers too, start one render);
* ``<key>.failed``: the last render failed; a Chinese sentence for the page that says so.
"""
from __future__ import annotations

import json
import logging
import os
import resource
import time
import traceback
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from ..evidence.binding import EvidenceMergeError, EvidenceSource, merge_evidence
from .engine import PdfRenderError, count_pages, render_pdf
from .fonts import register_cjk_fonts

log = logging.getLogger("wizard.pdf.render")

#: What the failure page says when the cause is not one the user can act on.
GENERIC_FAILURE = "生成报告 PDF 时出错，详细原因已记录在系统日志中。请稍后重试；如仍失败，请联系管理员。"
MISSING_FILE = "佐证材料文件缺失，无法生成报告，请联系管理员。"


@dataclass(frozen=True)
class Evidence:
    """One evidence file to bind: its stored path, kind ('pdf', 'png', 'jpeg') and name."""

    path: str
    kind: str
    label: str


@dataclass(frozen=True)
class RenderJob:
    """Everything one render needs, as plain data (picklable)."""

    key: str  # the cache file's name without ".pdf"
    folder: str  # the cache folder
    html: str
    static_root: str | None = None
    font_path: str | None = None
    watermark: str | None = None
    evidence: tuple = field(default_factory=tuple)  # of Evidence, in appendix order
    stamp_format: str = "- {n} -"
    outline_title: str = "佐证材料"
    pages_hint: str | None = None  # names the file keeping this report's last page count (one layout pass)


@dataclass(frozen=True)
class CachePaths:
    key: str
    pdf: str
    lock: str
    failed: str


def cache_paths(folder: str, key: str) -> CachePaths:
    base = os.path.join(folder, key)
    return CachePaths(key, f"{base}.pdf", f"{base}.lock", f"{base}.failed")


@dataclass(frozen=True)
class RenderResult:
    """What the rendering process reports back: who rendered, how long, how large."""

    key: str
    pid: int
    seconds: float
    size: int
    peak_rss_mb: float  # the rendering process's peak resident memory so far
    cpu_seconds: float  # CPU time of the render (on a busy machine, what it would take alone)


def run_job(job: RenderJob) -> RenderResult:
    """Render ``job`` into its cache file (runs in a rendering process).  On failure the
    ``.failed`` marker gets a Chinese sentence, the traceback goes to the log and the
    exception is raised again (the page worker logs it too); the lock is released either way."""
    paths = cache_paths(job.folder, job.key)
    started, cpu = time.perf_counter(), time.process_time()
    _touch(paths.lock)  # the render starts now: the lock is not stale while it runs
    try:
        pdf = render_pdf(job.html, static_root=job.static_root, font_path=job.font_path, watermark=job.watermark,
                         page_count=_read_hint(job))
        _write_hint(job, count_pages(pdf))
        write_atomically(paths.pdf, (lambda fh: bind(pdf, job, fh)) if job.evidence else pdf)
        remove_file(paths.failed)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return RenderResult(job.key, os.getpid(), time.perf_counter() - started, os.path.getsize(paths.pdf), peak,
                            time.process_time() - cpu)
    except Exception as exc:
        log.error("PDF render %s failed in process %d:\n%s", job.key, os.getpid(), traceback.format_exc())
        write_atomically(paths.failed, json.dumps({"message": failure_message(exc)}, ensure_ascii=False).encode())
        raise
    finally:
        remove_file(paths.lock)


def _hint_path(job: RenderJob) -> str | None:
    """Page counts live beside the cache folder (``<folder>-pages/``): the folder holds PDFs only."""
    return os.path.join(f"{job.folder.rstrip(os.sep)}-pages", job.pages_hint) if job.pages_hint else None


def _read_hint(job: RenderJob) -> int | None:
    """The page count of this report's last render (see render_pdf's ``page_count``)."""
    path = _hint_path(job)
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().strip() or 0) or None
    except (TypeError, OSError, ValueError):
        return None


def _write_hint(job: RenderJob, pages: int) -> None:
    """Keep the page count for the next render (best effort: only speed depends on it)."""
    if job.pages_hint and pages != _read_hint(job):
        try:
            write_atomically(_hint_path(job), str(pages).encode())
        except OSError:
            log.warning("could not keep the page count of %s", job.pages_hint, exc_info=True)


def bind(report: bytes, job: RenderJob, out: BinaryIO | None = None) -> bytes:
    """The report followed by the evidence files, each page stamped (see evidence/binding.py):
    written to ``out`` (read one file at a time, large streams spooled to disk), or returned."""
    try:
        items = [EvidenceSource(b"", e.kind, label=e.label, path=e.path) for e in job.evidence]
        font = register_cjk_fonts(job.font_path).family
        return merge_evidence(report, None, items, stamp_start=1, stamp_format=job.stamp_format, stamp_font=font,
                              outline_title=job.outline_title, out=out, watermark=job.watermark)
    except FileNotFoundError as exc:
        raise PdfRenderError(MISSING_FILE) from exc
    except EvidenceMergeError as exc:
        raise PdfRenderError(str(exc)) from exc


def failure_message(exc: BaseException) -> str:
    """A Chinese sentence for the user: the evidence errors say which file; others are generic."""
    if isinstance(exc, PdfRenderError) and isinstance(exc.__cause__, (EvidenceMergeError, FileNotFoundError)):
        return str(exc)
    return GENERIC_FAILURE


def write_atomically(path: str, data: bytes | Callable[[BinaryIO], object]) -> None:
    """Write ``data`` (bytes, or a function writing into the open file) to ``path`` through a
    temporary file renamed into place (readers see the whole file or none; ``ops/maintenance``
    removes the temporaries a killed process leaves)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        remove_file(tmp)
        raise


def read_failure(path: str) -> str | None:
    """The sentence of a ``.failed`` marker, or None when there is none."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh).get("message") or GENERIC_FAILURE
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return GENERIC_FAILURE


def _touch(path: str) -> None:
    try:
        os.utime(path)
    except FileNotFoundError:
        pass


def remove_file(path: str) -> None:
    """Remove ``path``; one already gone is fine (another process cleaned up first)."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
