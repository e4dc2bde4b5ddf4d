"""Issue #22, item 11: the documented production command (gunicorn with
wizard/ops/gunicorn_conf.py) keeps answering while slow clients hold connections open sending
their headers a byte at a time.  A real gunicorn on 127.0.0.1 and real sockets (marked `server`
by tests/conftest.py: not in `make test-fast`); the dripping ends as soon as the server has hung
up on every slow client (SLOW_SECONDS is only its bound), and the probes' time-outs are
generous: the test fails only when a page does not come at all."""
import select
import shutil
import socket
import threading
import time

import pytest

import servers

SLOW_CLIENTS = 40  # more than the config's threads (2 workers × 16): the header deadline must free them
SLOW_SECONDS = 120  # a bound: the dripping stops once the server has hung up on every slow client
HEADER_SECONDS = 2  # WIZARD_HEADER_TIMEOUT for this run (production: 10)
PROBES = 4


@pytest.fixture
def gunicorn(sqlite_template, tmp_path):
    """gunicorn as the README starts it (its config file), 2 workers, on a free local port."""
    shutil.copy(sqlite_template, tmp_path / "wizard.db")
    settings = {"INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "slow-clients-test",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'wizard.db'}"}
    with servers.gunicorn(settings, tmp_path / "gunicorn.log",
                          {"WEB_CONCURRENCY": "2", "WIZARD_HEADER_TIMEOUT": str(HEADER_SECONDS)}) as (port, _):
        yield port


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
            answers.append(servers.get(gunicorn))
            time.sleep(0.5)
        assert all(status == 200 and "登录" in body for status, body in answers), [s for s, _ in answers]
        slow.thread.join(timeout=SLOW_SECONDS + 30)  # until every slow client is cut off (or the bound)
        # the server hung up on the clients that never finished their headers
        assert len(slow.cut) == SLOW_CLIENTS, f"{len(slow.cut)} of {SLOW_CLIENTS} slow connections closed"
        assert servers.get(gunicorn)[0] == 200
    finally:
        slow.close()
