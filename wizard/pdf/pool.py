"""The rendering pool: report PDFs are rendered in separate, low-priority processes, never in
the page worker that received the request.

Each page worker (a gunicorn worker, the development server, a CLI command) owns one
:class:`concurrent.futures.ProcessPoolExecutor` of ``size`` processes (config
``RENDER_PROCESSES``, default 1), created on the first render, from a "forkserver" (where the
platform has one; "spawn" elsewhere) that has imported the PDF engine once, so a rendering
process starts in milliseconds and never inherits a worker's database connections or
threads.  Each rendering process lowers its priority (``os.nice``) so page requests win the
CPU.  The executor is replaced, when idle, after ``RECYCLE_AFTER`` renders, which returns the
memory a long run of renders may have fragmented (``max_tasks_per_child`` is not used: it can
deadlock a queue on Python 3.11, CPython issue 115634).

:func:`obtain` is what a request calls: the finished file, or a render started (at most one per
file, across processes: ``<key>.lock`` is created exclusively) and awaited for ``wait`` seconds,
or the failure of the last render.  No Flask here: the views give it the paths and a function
that builds the job (the database work and the HTML, in the request).
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable

from .jobs import (GENERIC_FAILURE, CachePaths, RenderJob, RenderResult, read_failure, remove_file, run_job,
                   write_atomically)

log = logging.getLogger("wizard.pdf.pool")

NICENESS = 10  # added to a rendering process's niceness: page workers come first
RECYCLE_AFTER = 50  # renders before an idle executor is replaced by a fresh one
LOCK_STALE_SECONDS = 300  # a lock this old belongs to a render that died (a render is limited to 60 s)
POLL_SECONDS = 0.05  # how often a request waiting for another process's render looks again
READY, PENDING, FAILED = "ready", "pending", "failed"


@dataclass(frozen=True)
class Outcome:
    """What a request gets: READY (``path`` is the PDF), PENDING, or FAILED (``message``)."""

    state: str
    path: str | None = None
    message: str | None = None


class _Pool:
    """This process's executor, the renders it started and what they reported."""

    def __init__(self):
        self.guard = threading.Lock()
        self.executor: ProcessPoolExecutor | None = None
        self.owner = None  # pid that created the executor (a forked child must make its own)
        self.used = 0  # renders submitted to the current executor
        self.futures: dict[str, Future] = {}
        self.results: dict[str, RenderResult] = {}
        self.submitted = 0  # renders this process started (all executors)


_pool = _Pool()


def _context():
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload([run_job.__module__])  # the engine, imported once by the server
    return ctx


def _start_renderer() -> None:
    """Initializer of each rendering process: a lower priority, and a log on standard error."""
    try:
        os.nice(NICENESS)
    except OSError:  # not permitted here: render at normal priority
        pass
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s [render %(process)d] %(name)s: %(message)s")


def _executor(size: int) -> ProcessPoolExecutor:
    """The current executor (call with the guard held): made on first use, after a fork, after
    it broke, or replaced when idle after RECYCLE_AFTER renders."""
    pool = _pool
    stale = pool.executor is not None and (pool.used >= RECYCLE_AFTER and not pool.futures)
    if pool.executor is not None and pool.owner == os.getpid() and not stale and not getattr(
            pool.executor, "_broken", False):
        return pool.executor
    if pool.executor is not None and pool.owner == os.getpid():
        pool.executor.shutdown(wait=False)
    pool.executor = ProcessPoolExecutor(max_workers=max(1, int(size)), mp_context=_context(),
                                        initializer=_start_renderer)
    pool.owner, pool.used = os.getpid(), 0
    return pool.executor


def submit(job: RenderJob, paths: CachePaths, size: int = 1) -> Future:
    """Queue ``job`` (its lock already taken); a broken executor is replaced once."""
    with _pool.guard:
        try:
            future = _executor(size).submit(run_job, job)
        except (BrokenProcessPool, RuntimeError):
            _pool.executor = None
            future = _executor(size).submit(run_job, job)
        _pool.used += 1
        _pool.submitted += 1
        _pool.futures[job.key] = future
    future.add_done_callback(lambda f: _finished(job.key, paths, f))
    return future


def _finished(key: str, paths: CachePaths, future: Future) -> None:
    """Done callback (the executor's thread): remember the result, or log the failure with the
    rendering process's traceback and make sure the failure marker exists and the lock is gone."""
    with _pool.guard:
        _pool.futures.pop(key, None)
    try:
        exc = future.exception()
    except CancelledError:
        exc = CancelledError()
    if exc is None:
        result = future.result()
        with _pool.guard:
            _pool.results[key] = result
            while len(_pool.results) > 100:
                _pool.results.pop(next(iter(_pool.results)))
        log.info("PDF %s rendered in %.2f s (CPU %.2f s) by process %d (%d bytes, peak RSS %.0f MB)", key,
                 result.seconds, result.cpu_seconds, result.pid, result.size, result.peak_rss_mb)
        return
    log.error("PDF render %s failed", key, exc_info=exc)
    if not os.path.exists(paths.failed):  # the process died before it could say so
        write_atomically(paths.failed, json.dumps({"message": GENERIC_FAILURE}, ensure_ascii=False).encode())
    remove_file(paths.lock)


def result_of(key: str) -> RenderResult | None:
    """What the render of ``key`` started by this process reported (pid, seconds, size)."""
    with _pool.guard:
        return _pool.results.get(key)


def submitted_count() -> int:
    """How many renders this process has started."""
    return _pool.submitted


def shutdown() -> None:
    """Stop this process's rendering processes (queued renders are dropped, a running one ends)."""
    with _pool.guard:
        executor, _pool.executor = _pool.executor, None
    if executor is not None and _pool.owner == os.getpid():
        executor.shutdown(wait=True, cancel_futures=True)


# --- what a request calls ---------------------------------------------------------------

def obtain(paths: CachePaths, make_job: Callable[[], RenderJob], wait: float, retry: bool = False,
           size: int = 1, before_wait: Callable[[], None] | None = None) -> Outcome:
    """The PDF at ``paths.pdf`` if it exists; otherwise start its render (unless one is under
    way, here or in another process) and wait up to ``wait`` seconds for it.  A failed render
    is reported until ``retry`` asks for a new one.  ``before_wait`` runs before any waiting
    (the request ends its database transaction there: no lock or connection held meanwhile)."""
    for _ in range(3):  # a lock that vanishes without a result (a crash) is taken over
        if os.path.exists(paths.pdf):
            return Outcome(READY, paths.pdf)
        message = read_failure(paths.failed)
        if message is not None and not retry:
            return Outcome(FAILED, message=message)
        if _take_lock(paths):
            outcome = _start(paths, make_job, size)
            if outcome is not None:
                return outcome
        if before_wait is not None:
            before_wait()
        outcome = _await(paths, wait)
        if outcome is not None:
            return outcome
        retry = False
    return Outcome(PENDING)


def _start(paths: CachePaths, make_job: Callable[[], RenderJob], size: int) -> Outcome | None:
    """With the lock held: the file if it appeared meanwhile, else queue the render (None)."""
    if os.path.exists(paths.pdf):
        remove_file(paths.lock)
        return Outcome(READY, paths.pdf)
    remove_file(paths.failed)
    try:
        job = make_job()
    except Exception:  # a bug in the request's part (the HTML): logged, and tried again next time
        remove_file(paths.lock)
        log.exception("PDF job for %s could not be prepared", paths.pdf)
        return Outcome(FAILED, message=GENERIC_FAILURE)
    submit(job, paths, size)
    return None


def _await(paths: CachePaths, wait: float) -> Outcome | None:
    """Wait for the render under way: READY, FAILED, PENDING when ``wait`` is over, or None
    when the lock went away without a result (the caller looks again)."""
    deadline = time.monotonic() + max(0.0, wait)
    future = _pool.futures.get(paths.key)
    if future is not None and wait > 0:
        wait_futures([future], timeout=wait)
    while True:
        if os.path.exists(paths.pdf):
            return Outcome(READY, paths.pdf)
        message = read_failure(paths.failed)
        if message is not None:
            return Outcome(FAILED, message=message)
        if not os.path.exists(paths.lock):
            return None
        if time.monotonic() >= deadline:
            return Outcome(PENDING)
        time.sleep(POLL_SECONDS)


def _take_lock(paths: CachePaths) -> bool:
    """Create ``paths.lock`` exclusively (True), or find a render under way (False).  A lock
    older than LOCK_STALE_SECONDS is a render that died: it is removed and taken."""
    os.makedirs(os.path.dirname(paths.lock), exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(paths.lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            try:
                age = time.time() - os.path.getmtime(paths.lock)
            except FileNotFoundError:
                continue
            if age < LOCK_STALE_SECONDS:
                return False
            log.warning("PDF render lock %s is %.0f s old: taken over", paths.lock, age)
            remove_file(paths.lock)
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()} {time.time():.0f}\n")
        return True
    return False
