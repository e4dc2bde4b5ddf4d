"""Issue #22, item 11: the documented production command (gunicorn with
wizard/ops/gunicorn_conf.py) keeps answering while slow clients hold connections open sending
their headers a byte at a time.  A real gunicorn on 127.0.0.1 and real sockets (marked `server`
by tests/conftest.py: not in `make test-fast`); the dripping ends as soon as the server has hung
up on every slow client (SLOW_SECONDS is only its bound), and the probes' time-outs are
generous: the test fails only when a page does not come at all."""
import http.client
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLOW_CLIENTS = 40  # more than the config's threads (2 workers × 16): the header deadline must free them
SLOW_SECONDS = 120  # a bound: the dripping stops once the server has hung up on every slow client
HEADER_SECONDS = 2  # WIZARD_HEADER_TIMEOUT for this run (production: 10)
PROBES = 4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path="/login", timeout=90):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


@pytest.fixture
def gunicorn(sqlite_template, tmp_path):
    """gunicorn as the README starts it (its config file), 2 workers, on a free local port."""
    shutil.copy(sqlite_template, tmp_path / "wizard.db")
    port = free_port()
    settings = {"INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "slow-clients-test",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'wizard.db'}"}
    env = {**os.environ, "WEB_CONCURRENCY": "2", "WIZARD_HEADER_TIMEOUT": str(HEADER_SECONDS)}
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:wizard.ops.gunicorn_conf",
                             "-b", f"127.0.0.1:{port}", f"wizard:create_app({settings!r})"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_up(proc, port, tmp_path / "gunicorn.log")
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGQUIT)  # gunicorn's quick shutdown (TERM waits out graceful_timeout)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


def _wait_until_up(proc, port, log, limit=180):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if get(port, timeout=10)[0] == 200:
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"gunicorn did not answer: {log.read_text(errors='replace')[-2000:]}")


class SlowClients:
    """Connections that send a request line, then one header byte a second, never finishing; a
    connection the server hung up on (end of file or reset) is counted in ``cut`` and left."""

    def __init__(self, port, n):
        self.socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            self.socks.append(s)
        self.cut = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _hung_up(self, s):
        """Whether the server closed this connection (it never answers a request still in its head)."""
        if not select.select([s], [], [], 0)[0]:
            return False
        try:
            return s.recv(4096, socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:  # reset
            return True

    def _drip(self):
        end = time.monotonic() + SLOW_SECONDS
        while not self.stop.is_set() and time.monotonic() < end and len(self.cut) < len(self.socks):
            for i, s in enumerate(self.socks):
                if i in self.cut:
                    continue
                try:
                    if self._hung_up(s):
                        self.cut.add(i)
                        continue
                    s.sendall(b"a")
                except OSError:  # the server closed it
                    self.cut.add(i)
            self.stop.wait(1)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=SLOW_SECONDS + 30)
        for s in self.socks:
            s.close()


def test_pages_answer_while_slow_clients_drip_their_headers(gunicorn):
    slow = SlowClients(gunicorn, SLOW_CLIENTS)
    try:
        time.sleep(0.5)  # every slow connection has started its request
        answers = []
        for _ in range(PROBES):
            answers.append(get(gunicorn))
            time.sleep(0.5)
        assert all(status == 200 and "登录" in body for status, body in answers), [s for s, _ in answers]
        slow.thread.join(timeout=SLOW_SECONDS + 30)  # until every slow client is cut off (or the bound)
        # the server hung up on the clients that never finished their headers
        assert len(slow.cut) == SLOW_CLIENTS, f"{len(slow.cut)} of {SLOW_CLIENTS} slow connections closed"
        assert get(gunicorn)[0] == 200
    finally:
        slow.close()
