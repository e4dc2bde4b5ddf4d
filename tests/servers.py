"""A real gunicorn for the tests marked `server`: the production command (its config file,
wizard/ops/gunicorn_conf.py) on a free local port, with the app's settings given to the factory.
Started in its own session and stopped with gunicorn's quick shutdown (QUIT; TERM would wait out
graceful_timeout), killed if it has not stopped 5 s later (a threaded worker whose pool threads
are still reading slow clients waits for them up to graceful_timeout even on QUIT).  Imported as ``servers`` (tests/ is on the path)."""
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path="/login", timeout=90):
    """(status, text) of one GET on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


@contextmanager
def gunicorn(settings: dict, log_path: Path, env: dict, limit: float = 180):
    """gunicorn serving ``wizard:create_app(settings)`` with ``env`` added to this environment
    (variables set to None are removed); yields (port, process) once /login answers 200 (a bound
    of ``limit`` seconds on a busy machine, not a timing assertion)."""
    port = free_port()
    full = {**os.environ, **{k: v for k, v in env.items() if v is not None}}
    for name in [k for k, v in env.items() if v is None]:
        full.pop(name, None)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:wizard.ops.gunicorn_conf",
                                 "-b", f"127.0.0.1:{port}", f"wizard:create_app({settings!r})"],
                                cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_until_up(proc, port, log_path, limit)
            yield port, proc
        finally:
            os.killpg(proc.pid, signal.SIGQUIT)
            try:  # a threaded worker's pool threads still reading a client keep it up to graceful_timeout
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def _wait_until_up(proc, port, log_path, limit):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            if get(port, timeout=10)[0] == 200:
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"gunicorn did not answer: {log_path.read_text(errors='replace')[-2000:]}")
