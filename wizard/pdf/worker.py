"""The rendering service: a Huey consumer of the render queue (``flask --app wizard render-worker``,
or ``python -m wizard.pdf.worker --queue URL`` without the app).

Each of its ``processes`` worker threads renders one job at a time in a render process of its own
(:mod:`wizard.pdf.render`, started with the engine imported once, kept for RECYCLE_AFTER renders).
Render processes are started ahead of the jobs: one per worker thread when the consumer starts,
and the successor of a recycled one as soon as its last job is answered, so that no request waits
for a process to import and warm the engine (about 1.5 s).
The consumer itself never imports the engine.  While a job renders the thread beats its
``running`` record every second, and stops the render process (SIGKILL) when

* the job's overall wall-clock limit (``time_limit``, binding included) is over: the page then
  says it failed, with 重新生成;
* a newer job of the same slot arrived (an edit made this result stale): the render is dropped;

and when the render process dies on its own (killed, out of memory), the job is queued once more,
then reported as failed.  A consumer killed outright (SIGKILL) takes its render processes with it
(they die with their parent, ``PR_SET_PDEATHSIG``); its jobs are recovered by the other consumers'
watchdog, or by the next request, once its beat has been silent for ``orphan_seconds``.
"""
from __future__ import annotations

import argparse
import logging
import os
import pickle
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from . import cache
from .jobs import TIMED_OUT, RenderJob, cache_paths, write_failure
from .queue import Queue, open_queue, record_result, recover, retry_or_fail, set_handler

log = logging.getLogger("wizard.pdf.worker")

RECYCLE_AFTER = 50  # renders before a render process is replaced (returns fragmented memory)
BEAT_SECONDS = 1.0
#: How often a consumer looks at an empty queue (SQLite; Redis blocks and wakes at once).  It was
#: Huey's backing off to 0.5 s, so an idle consumer took a job up to 0.5 s late (0.34 s on
#: average in benchmarks/bench_pdf.py --idle 5); now a fixed poll: a job waits 25 ms on average,
#: and an idle consumer takes about 0.3 % of a core instead of 0.1 % (an indexed SELECT of about
#: 7 µs and Huey's loop per poll; measured over 30 s, 0.4 % at a 20 ms poll).
POLL_SECONDS = 0.05
COMPANION_GRACE = 15.0  # seconds the companion loop (the outbox's mail) may take to stop


@dataclass
class Settings:
    url: str
    processes: int = 1
    time_limit: float = 300.0
    memory_mb: int = 0
    orphan_seconds: float = 30.0
    cache_max_bytes: int = 2048 * 1024 * 1024


class RenderProcess:
    """One render process (python -m wizard.pdf.render) and the jobs sent to it, one at a time."""

    def __init__(self, memory_mb: int = 0):
        self.memory_mb = memory_mb
        self.proc: subprocess.Popen | None = None
        self.used = 0

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None or self.used >= RECYCLE_AFTER:
            self.stop()
            env = {**os.environ, "WIZARD_RENDER_MEMORY_MB": str(self.memory_mb or 0)}
            self.proc = subprocess.Popen([sys.executable, "-m", "wizard.pdf.render", str(os.getpid())],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            self.used = 0
        return self.proc

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        """Start the process now (it imports and warms the engine while no job waits for it)."""
        self._start()

    def run(self, job: RenderJob, deadline: float, keep_going) -> tuple:
        """('ok', RenderResult) | ('failed', text) | ('timeout',) | ('stale',) | ('died', code)."""
        outcome = self._run(job, deadline, keep_going)
        if self.used >= RECYCLE_AFTER and self.proc is not None:  # its successor starts now, not with the next job
            self.stop()
            self._start()
        return outcome

    def _run(self, job: RenderJob, deadline: float, keep_going) -> tuple:
        proc = self._start()
        self.used += 1
        keep_going(force=True)  # the record names the render process from the start
        try:
            pickle.dump(job, proc.stdin)
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return ("died", proc.poll())
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], BEAT_SECONDS / 2)
            if ready:
                try:
                    return pickle.load(proc.stdout)
                except (EOFError, pickle.UnpicklingError):
                    self.stop()
                    return ("died", proc.returncode)
            if proc.poll() is not None:
                return ("died", proc.returncode)
            if time.monotonic() >= deadline:
                self.stop()
                return ("timeout",)
            if not keep_going():
                self.stop()
                self._start()  # the next job (the newer one) need not wait for the engine's import
                return ("stale",)

    def stop(self) -> None:
        """Kill the render process and reap it (no zombie, no orphan)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass


class Consumer:
    """What the queue's task does in this consumer: one render process per worker thread."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.queue: Queue = open_queue(settings.url, settings.orphan_seconds)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.local = threading.local()
        self.processes: list[RenderProcess] = []
        self.spare: list[RenderProcess] = []  # started ahead, not yet a worker thread's
        self.lock = threading.Lock()

    def start_ahead(self, count: int) -> None:
        """Start ``count`` render processes before any job (the worker threads take them)."""
        for _ in range(count):
            renderer = RenderProcess(self.settings.memory_mb)
            renderer.start()
            with self.lock:
                self.processes.append(renderer)
                self.spare.append(renderer)

    def renderer(self) -> RenderProcess:
        if getattr(self.local, "renderer", None) is None:
            with self.lock:
                renderer = self.spare.pop() if self.spare else None
            if renderer is None:
                renderer = RenderProcess(self.settings.memory_mb)
                with self.lock:
                    self.processes.append(renderer)
            self.local.renderer = renderer
        return self.local.renderer

    def handle(self, slot: str) -> None:
        """The task: the slot's newest job, unless a request made it stale or it is done already.
        The running record is written before the job leaves the storage, so a request never
        finds neither (and queues the job a second time), and so is the job it runs (``runjob``),
        so a consumer killed at any point leaves a job to recover (queue.recover)."""
        queue = self.queue
        queue.pop(f"queued:{slot}")  # from now on a newer request queues a new message
        entry = queue.get(f"job:{slot}")
        if entry is None:
            return
        token, renderer = uuid.uuid4().hex, self.renderer()
        beat = self._beater(slot, entry, token, renderer)
        beat(force=True)
        queue.put(f"runjob:{slot}", entry)  # before the job leaves its place: never in neither
        taken = queue.pop(f"job:{slot}")
        if taken is None or os.path.exists(cache_paths(taken["job"].folder, taken["job"].key).pdf):
            self._release(slot, token)
            return
        entry.update(taken)  # a newer job may have replaced the one peeked at
        queue.put(f"runjob:{slot}", entry)
        beat(force=True)
        try:
            outcome = renderer.run(entry["job"], time.monotonic() + self.settings.time_limit, beat)
        finally:
            self._release(slot, token)
        self._finish(entry["job"], entry, outcome)

    def _release(self, slot: str, token: str) -> None:
        if (self.queue.get(f"running:{slot}") or {}).get("token") == token:
            self.queue.pop(f"running:{slot}")
            self.queue.pop(f"runjob:{slot}")

    def _beater(self, slot: str, entry: dict, token: str, renderer: RenderProcess):
        """A function that refreshes the running record (at most once a second) and says whether
        the render is still wanted (no newer job of its slot)."""
        last = [0.0]

        def beat(force: bool = False) -> bool:
            job, now = entry["job"], time.monotonic()
            if force or now - last[0] >= BEAT_SECONDS:
                last[0] = now
                self.queue.put(f"running:{slot}", {"key": job.key, "folder": job.folder, "token": token,
                                                   "beat": time.time(), "attempt": entry["attempt"],
                                                   "consumer": self.name, "pid": renderer.pid()})
            latest = self.queue.get(f"latest:{slot}")
            return latest is None or latest == job.key
        return beat

    def _finish(self, job: RenderJob, entry: dict, outcome: tuple) -> None:
        kind = outcome[0]
        if kind == "ok":
            result = outcome[1]
            record_result(self.queue, result)
            log.info("PDF %s rendered in %.2f s (CPU %.2f s) by process %d (%d bytes, peak RSS %.0f MB)", job.key,
                     result.seconds, result.cpu_seconds, result.pid, result.size, result.peak_rss_mb)
            freed = cache.Freed()
            if job.draft_prefix:
                freed = cache.keep_newest_draft(job.folder, job.draft_prefix, job.key)
            freed = freed.add(cache.within(job.folder, self.settings.cache_max_bytes, keep=f"{job.key}.pdf"))
            if freed.files:
                log.info("PDF cache: %d files (%d bytes) evicted", freed.files, freed.bytes)
        elif kind == "failed":
            log.error("PDF render %s failed: %s", job.key, outcome[1])
        elif kind == "timeout":
            log.error("PDF render %s stopped after its limit of %.0f s", job.key, self.settings.time_limit)
            write_failure(cache_paths(job.folder, job.key).failed, TIMED_OUT)
        elif kind == "stale":
            log.info("PDF render %s dropped: an edit made it stale", job.key)
        else:
            retry_or_fail(self.queue, entry, f"render process exit code {outcome[1]}")

    def watch(self, stop: threading.Event) -> None:
        """Recover the jobs of consumers that stopped beating (the watchdog thread)."""
        while not stop.wait(max(1.0, self.settings.orphan_seconds / 2)):
            try:
                for slot in running_slots(self.queue):
                    recover(self.queue, slot)
            except Exception:  # the storage away for a moment: try again next time
                log.warning("render watchdog could not look at the queue", exc_info=True)

    def stop(self) -> None:
        with self.lock:
            for renderer in self.processes:
                renderer.stop()


def running_slots(queue: Queue) -> list[str]:
    names = queue.huey.storage.result_items().keys()
    names = [n.decode() if isinstance(n, bytes) else n for n in names]
    return [n[len("running:"):] for n in names if n.startswith("running:")]


def serve(settings: Settings, companion: Callable[[threading.Event], None] | None = None) -> None:
    """Run the consumer until SIGTERM/SIGINT (then the render under way finishes first).
    ``companion``: a loop the app runs beside the consumer in a thread of its own until the
    event it is given is set (``flask render-worker``: the outbox's mail, wizard/mail.py)."""
    consumer = Consumer(settings)
    consumer.start_ahead(max(1, settings.processes))
    set_handler(consumer.handle)
    stop = threading.Event()
    watchdog = threading.Thread(target=consumer.watch, args=(stop,), name="render-watchdog", daemon=True)
    watchdog.start()
    beside = threading.Thread(target=companion, args=(stop,), name="companion", daemon=True) if companion else None
    if beside is not None:
        beside.start()
    for slot in running_slots(consumer.queue):  # what a consumer killed earlier left
        recover(consumer.queue, slot)
    huey_consumer = consumer.queue.huey.create_consumer(workers=max(1, settings.processes), worker_type="thread",
                                                        periodic=False, initial_delay=POLL_SECONDS, backoff=1.0,
                                                        max_delay=POLL_SECONDS, check_worker_health=True)
    log.info("render consumer %s on %s: %d render process(es), limit %.0f s per job", consumer.name,
             settings.url, settings.processes, settings.time_limit)
    try:
        huey_consumer.run()
    finally:
        stop.set()
        consumer.stop()
        set_handler(None)
        if beside is not None:
            beside.join(COMPANION_GRACE)  # a mail under way is finished, not cut off


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="PDF render consumer (without the Flask app)")
    parser.add_argument("--queue", required=True, help="sqlite:///path or redis://host:port/db")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--orphan-seconds", type=float, default=30.0)
    parser.add_argument("--cache-max-mb", type=int, default=2048)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
    serve(Settings(args.queue, args.processes, args.time_limit, args.memory_mb, args.orphan_seconds,
                   args.cache_max_mb * 1024 * 1024))


if __name__ == "__main__":
    main()
