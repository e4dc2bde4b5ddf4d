"""The render queue: report PDFs are rendered by consumers of a Huey queue, never in a page worker.

A page worker only enqueues and serves finished files; it never imports the PDF engine.  The
queue is Huey's: ``SqliteHuey`` on a file under ``instance/`` by default (one machine),
``RedisHuey`` when RENDER_QUEUE_URL is ``redis://…`` (several app servers and render machines
share one queue).  Consumers: ``flask --app wizard render-worker`` (:mod:`wizard.pdf.worker`).

What the storage holds, per *slot* (a draft's submission and round; for every other PDF its
cache key), all under names scoped by the cache folder:

* ``job:<slot>``: the newest job asked for.  A newer request replaces it, so at most one render
  per submission and round is ever queued, and one applicant's requests cannot line up before
  another's (the queue holds one message per slot, in order of arrival);
* ``latest:<slot>``: that job's key, read by the consumer while it renders: a render whose
  result an edit has made stale (a newer key) is stopped and dropped;
* ``queued:<slot>``: a message for the slot is in the queue (set once, atomically);
* ``running:<slot>``: a consumer renders it; refreshed every second (``beat``).  When the
  beat stops for RENDER_ORPHAN_SECONDS the consumer died (SIGKILL, power): the job is queued
  once more, and after a second such death it is reported as failed (the page offers 重新生成);
* ``runjob:<slot>``: the job that consumer runs, written before the job leaves ``job:<slot>``
  (a consumer killed as it took the job leaves it in one place or the other: recover finds it).

No Flask here: the views pass the queue URL, the paths and a function that builds the job.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

from huey import RedisHuey, SqliteHuey

from .jobs import GENERIC_FAILURE, INTERRUPTED, CachePaths, RenderJob, RenderResult, read_failure, remove_file, \
    write_failure

log = logging.getLogger("wizard.pdf.queue")

NAME = "wizard-render"
TASK = "wizard.render"
ATTEMPTS = 2  # a job whose render process dies is queued once more, then reported as failed
POLL_SECONDS = 0.02  # how often a waiting request looks for the file (a stat and a failed open: microseconds)
CHECK_SECONDS = 1.0  # how often it asks the queue whether the render is still under way
RESULTS_KEPT = 200
READY, PENDING, FAILED = "ready", "pending", "failed"


@dataclass(frozen=True)
class Outcome:
    """What a request gets: READY (``path`` is the PDF), PENDING, or FAILED (``message``)."""

    state: str
    path: str | None = None
    message: str | None = None


# --- the Huey instance ------------------------------------------------------------------

_queues: dict = {}  # (url, pid) -> Queue
_guard = threading.Lock()
_handler: list = [None]  # set by the consumer (wizard.pdf.worker): what the task does


def _run(slot: str):
    """The task: only a consumer has a handler; a page worker never executes a render."""
    if _handler[0] is None:
        raise RuntimeError("PDF renders run in a render consumer (flask render-worker), not here")
    return _handler[0](slot)


def set_handler(handler: Callable[[str], object] | None) -> None:
    _handler[0] = handler


@dataclass
class Queue:
    """One queue: the Huey instance, its render task and how long a silent render may be."""

    huey: object
    task: object
    orphan_seconds: float = 30.0

    def get(self, name: str):
        return self.huey.get(name, peek=True)

    def pop(self, name: str):
        return self.huey.get(name)

    def put(self, name: str, value) -> None:
        self.huey.put(name, value)


def open_queue(url: str, orphan_seconds: float = 30.0) -> Queue:
    """The queue at ``url`` in this process (made once per process: gunicorn forks)."""
    marker = (url, os.getpid())
    with _guard:
        queue = _queues.get(marker)
        if queue is None:
            huey = _make(url)
            queue = _queues[marker] = Queue(huey, huey.task(name=TASK)(_run))
        queue.orphan_seconds = float(orphan_seconds)
        return queue


def _make(url: str):
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(NAME, url=url, results=False)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return SqliteHuey(NAME, filename=path, results=False, timeout=30)


def default_url(instance_path: str) -> str:
    return "sqlite:///" + os.path.join(instance_path, "render-queue.db")


def slot_of(folder: str, slot: str) -> str:
    """The storage name of a slot: scoped by its cache folder (two apps may share one queue)."""
    scope = hashlib.sha1(os.path.abspath(folder).encode()).hexdigest()[:12]
    return f"{scope}:{slot}"


def job_slot(job: RenderJob) -> str:
    return slot_of(job.folder, job.slot or job.key)


def enqueue(queue: Queue, job: RenderJob, attempt: int = 1) -> None:
    """Make ``job`` its slot's newest job; queue one message for the slot unless one is queued."""
    slot = job_slot(job)
    queue.put(f"job:{slot}", {"job": job, "attempt": attempt, "at": time.time()})
    queue.put(f"latest:{slot}", job.key)
    _queue_message(queue, slot)


def under_way(queue: Queue, slot: str, key: str) -> bool:
    """Whether the render of ``key`` is queued or running (a dead consumer's is recovered first)."""
    running = queue.get(f"running:{slot}")
    if running is not None and running["key"] == key:
        if time.time() - running["beat"] > queue.orphan_seconds:
            return recover(queue, slot) == "queued"
        return True
    # queued: the newest job of the slot is this key (its key is read, not the job's HTML)
    return queue.get(f"latest:{slot}") == key and queue.huey.storage.has_data_for_key(f"job:{slot}")


def recover(queue: Queue, slot: str) -> str | None:
    """The consumer rendering ``slot`` stopped beating (killed): queue its job once more, or after
    ATTEMPTS deaths report it as failed.  Returns what was done ('queued', 'failed') or None."""
    running = queue.get(f"running:{slot}")
    if running is None or time.time() - running["beat"] <= queue.orphan_seconds:
        return None
    taken = queue.pop(f"running:{slot}")  # one recoverer wins; a fresh record popped by mistake goes back
    if taken is None:
        return None
    if time.time() - taken["beat"] <= queue.orphan_seconds:
        queue.put(f"running:{slot}", taken)
        return None
    why = f"consumer {taken.get('consumer')} stopped beating"
    entry = queue.pop(f"runjob:{slot}")
    if entry is None:  # killed as it took the job, before it wrote runjob: the job still waits
        waiting = queue.get(f"job:{slot}")
        if waiting is not None and waiting["job"].key == taken.get("key"):
            entry = queue.pop(f"job:{slot}")
        if entry is None:
            _queue_message(queue, slot)  # whatever waits has its message (a duplicate finds nothing)
            return None
    return retry_or_fail(queue, entry, why)


def _queue_message(queue: Queue, slot: str) -> None:
    """One message for the slot in the queue, unless one is there (a consumer that died after
    taking the message leaves the job without one)."""
    if queue.huey.put_if_empty(f"queued:{slot}", 1):
        queue.huey.enqueue(queue.task.s(slot))


def retry_or_fail(queue: Queue, entry: dict, why: str) -> str:
    """A render died (its process or its consumer): queue it again once, else the failure page."""
    job, attempt = entry["job"], entry["attempt"]
    slot = job_slot(job)
    newer = queue.get(f"latest:{slot}")
    if newer is not None and newer != job.key:
        log.info("PDF render %s died (%s); a newer job replaced it", job.key, why)
        return "stale"
    if attempt < ATTEMPTS:
        log.warning("PDF render %s died (%s): queued again (attempt %d)", job.key, why, attempt + 1)
        if queue.huey.put_if_empty(f"job:{slot}", {"job": job, "attempt": attempt + 1, "at": time.time()}):
            queue.put(f"latest:{slot}", job.key)
        _queue_message(queue, slot)  # also for a job still waiting (its consumer died as it took it)
        return "queued"
    log.error("PDF render %s died %d times (%s): reported as failed", job.key, attempt, why)
    write_failure(os.path.join(job.folder, f"{job.key}.failed"), INTERRUPTED)
    return "failed"


# --- the results (what consumers report: who rendered, how long) -------------------------

def record_result(queue: Queue, result: RenderResult) -> None:
    """Keep the last RESULTS_KEPT results (diagnostics and tests; consumers racing may drop one)."""
    kept = (queue.get("results") or [])[-(RESULTS_KEPT - 1):]
    queue.put("results", kept + [result])


def results_of(queue: Queue, folder: str, key: str | None = None) -> list[RenderResult]:
    """The recorded renders into ``folder`` (of ``key``), oldest first."""
    folder = os.path.abspath(folder)
    return [r for r in (queue.get("results") or [])
            if os.path.abspath(r.folder) == folder and (key is None or r.key == key)]


# --- what a request calls ---------------------------------------------------------------

def obtain(queue: Queue, paths: CachePaths, slot: str, make_job: Callable[[], RenderJob], wait: float,
           retry: bool = False, before_wait: Callable[[], None] | None = None) -> Outcome:
    """The PDF at ``paths.pdf`` if it exists; otherwise its render queued (unless it is queued or
    running already) and awaited up to ``wait`` seconds.  A failed render is reported until
    ``retry`` asks for a new one.  ``before_wait`` runs before any waiting (the request ends its
    database transaction there: no lock or connection held meanwhile)."""
    for _ in range(3):  # a render that vanishes without a result (a dead consumer) is queued again
        if os.path.exists(paths.pdf):
            used(paths.pdf)
            return Outcome(READY, paths.pdf)
        message = read_failure(paths.failed)
        if message is not None and not retry:
            return Outcome(FAILED, message=message)
        if retry or not under_way(queue, slot, paths.key):
            message = None if retry else read_failure(paths.failed)  # a dead render just reported
            if message is not None:
                return Outcome(FAILED, message=message)
            outcome = _start(queue, paths, make_job)
            if outcome is not None:
                return outcome
        if before_wait is not None:
            before_wait()
        outcome = _await(queue, paths, slot, wait)
        if outcome is not None:
            return outcome
        retry = False
    return Outcome(PENDING)


def _start(queue: Queue, paths: CachePaths, make_job: Callable[[], RenderJob]) -> Outcome | None:
    remove_file(paths.failed)
    try:
        job = make_job()
    except Exception:  # a bug in the request's part (the HTML): logged, and tried again next time
        log.exception("PDF job for %s could not be prepared", paths.pdf)
        return Outcome(FAILED, message=GENERIC_FAILURE)
    enqueue(queue, job)
    return None


def _await(queue: Queue, paths: CachePaths, slot: str, wait: float) -> Outcome | None:
    """Wait for the render under way: READY, FAILED, PENDING when ``wait`` is over, or None
    when the queue no longer knows the render and there is no file (the caller looks again)."""
    deadline = time.monotonic() + max(0.0, wait)
    check = time.monotonic() + CHECK_SECONDS
    while True:
        if os.path.exists(paths.pdf):
            used(paths.pdf)
            return Outcome(READY, paths.pdf)
        message = read_failure(paths.failed)
        if message is not None:
            return Outcome(FAILED, message=message)
        now = time.monotonic()
        if now >= deadline:
            return Outcome(PENDING)
        if now >= check:
            if not under_way(queue, slot, paths.key) and not os.path.exists(paths.pdf) \
                    and read_failure(paths.failed) is None:
                return None
            check = now + CHECK_SECONDS
        time.sleep(POLL_SECONDS)


def used(path: str) -> None:
    """Mark a cache file as just used (its access time: the cache evicts the least recently used);
    its modification time, which says when it was rendered, stays."""
    try:
        os.utime(path, ns=(time.time_ns(), os.stat(path).st_mtime_ns))
    except OSError:  # removed meanwhile, or a read-only cache: only the eviction order depends on it
        pass
