"""The render process: what a rendering consumer (:mod:`wizard.pdf.worker`) runs its jobs in.

Started by the consumer as ``python -m wizard.pdf.render <consumer pid>``; it imports the PDF
engine once and warms it while it waits for its first job (:func:`warm_up`), then reads pickled
:class:`~wizard.pdf.jobs.RenderJob` objects from its standard input and answers each with one
pickled reply on the descriptor that was its standard output (the engine's own output goes to
standard error).  It renders with xhtml2pdf, binds the
evidence, and writes the PDF into the cache folder atomically.

It never outlives its consumer: the kernel kills it when the consumer dies, even by SIGKILL
(``PR_SET_PDEATHSIG``), and it exits when its input closes.  Its priority is lowered (page
requests on the same machine come first) and its address space may be bounded
(``RENDER_MEMORY_MB``).  The consumer kills it when a job exceeds its time limit or was made
stale by an edit.
"""
from __future__ import annotations

import ctypes
import gc
import logging
import os
import pickle
import resource
import signal
import sys
import time
import traceback
from typing import BinaryIO

from ..evidence.binding import EvidenceMergeError, EvidenceSource, merge_evidence
from ..evidence.diskfull import PDF_MESSAGE as STORAGE_FULL, is_storage_full, report_storage_full
from . import cjk_patch
from .engine import PdfRenderError, render_pdf
from .fonts import register_cjk_fonts
from .jobs import (GENERIC_FAILURE, MISSING_FILE, RenderJob, RenderResult, cache_paths, remove_file,
                   write_atomically, write_failure)

log = logging.getLogger("wizard.pdf.render")

NICENESS = 10  # added to the render process's niceness: page workers come first
PR_SET_PDEATHSIG = 1  # prctl(2)


def run_job(job: RenderJob) -> RenderResult:
    """Render ``job`` into its cache file.  On failure the ``.failed`` marker gets a Chinese
    sentence, the traceback goes to the log and the exception is raised again."""
    paths = cache_paths(job.folder, job.key)
    started_at, started, cpu = time.time(), time.perf_counter(), time.process_time()
    try:
        pdf = render_pdf(job.html, static_root=job.static_root, font_path=job.font_path, watermark=job.watermark)
        write_atomically(paths.pdf, (lambda fh: bind(pdf, job, fh)) if job.evidence else pdf)
        written_at = time.time()
        remove_file(paths.failed)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        font = register_cjk_fonts(job.font_path)  # what render_pdf used (registered once per process)
        return RenderResult(job.key, os.getpid(), time.perf_counter() - started, os.path.getsize(paths.pdf), peak,
                            time.process_time() - cpu, job.folder, "" if font.embedded else font.message,
                            started_at, written_at)
    except Exception as exc:
        log.error("PDF render %s failed in process %d:\n%s", job.key, os.getpid(), traceback.format_exc())
        if is_storage_full(exc):  # told once an hour (the stamp beside the cache folder), not per render
            report_storage_full("生成报告 PDF", exc, stamp_dir=os.path.dirname(job.folder.rstrip(os.sep)), logger=log)
        try:
            write_failure(paths.failed, failure_message(exc))
        except OSError:  # the disk is full: the queue's own failure record still reaches the page
            log.error("could not write the failure marker of %s", job.key, exc_info=True)
        raise


def bind(report: bytes, job: RenderJob, out: BinaryIO | None = None) -> bytes:
    """The report followed by the evidence files, each page stamped (see evidence/binding.py):
    written to ``out`` (qpdf assembles the pages from temporary files, see evidence/binding.py), or returned."""
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
    if is_storage_full(exc):
        return STORAGE_FULL
    if isinstance(exc, PdfRenderError) and isinstance(exc.__cause__, (EvidenceMergeError, FileNotFoundError)):
        return str(exc)
    return GENERIC_FAILURE


# --- the process -------------------------------------------------------------------------

def _bind_to_parent(parent: int) -> None:
    """Die with the consumer (SIGKILL included), lower the priority, bound the memory."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the closed input still ends the process
        pass
    if os.getppid() != parent:  # the consumer died before the line above
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the consumer's to handle (it stops this process)
    try:
        os.nice(NICENESS)
    except OSError:
        pass
    limit = int(os.environ.get("WIZARD_RENDER_MEMORY_MB") or 0)
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit * 1024 * 1024, limit * 1024 * 1024))


def serve(source: BinaryIO, replies: BinaryIO) -> None:
    """Render the jobs read from ``source`` one at a time, one reply each, until it closes."""
    while True:
        try:
            job = pickle.load(source)
        except EOFError:
            return
        try:
            reply = ("ok", run_job(job))
        except Exception as exc:  # the .failed marker says it; the consumer logs the reply
            reply = ("failed", f"{type(exc).__name__}: {exc}")
        pickle.dump(reply, replies)
        replies.flush()


#: What the process renders before its first job (see :func:`warm_up`).
WARM_UP_HTML = "<html><body><p>预热 warm-up</p></body></html>"


def warm_up() -> None:
    """Ready the process for its first job while it waits for one: the Chinese font registered
    (its file read and parsed, about 0.4 s of CPU: the font the app's WIZARD_PDF_FONT_PATH names,
    else the one found on the system, as for a job without PDF_FONT_PATH), xhtml2pdf's lazily
    loaded parts loaded by one small render; then everything alive so far (the libraries, the
    font's tables) is frozen out of the cyclic garbage collector's sight (``gc.freeze``).  A report
    render allocates hundreds of thousands of objects, and each of its full collections walked
    these long-lived ones too: the collector took about 0.17 s of a 28-page render, 0.05 s after
    the freeze (docs/benchmarks.md).  A warm-up that fails is logged: the first job says why."""
    try:
        render_pdf(WARM_UP_HTML, font_path=os.environ.get("WIZARD_PDF_FONT_PATH") or None)
    except Exception:
        log.warning("render process %d: the warm-up render failed", os.getpid(), exc_info=True)
    gc.collect()
    gc.freeze()


def main() -> None:
    _bind_to_parent(int(sys.argv[1]))
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the libraries print goes to the log, not into the replies
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s [render %(process)d] %(name)s: %(message)s")
    cjk_patch.check_version()
    warm_up()
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
