"""gunicorn's threaded worker with a bound on how long a request's head may take to arrive
(issue #22, item 11).

With sync workers, each connection holds a whole worker while its client sends the request: 50
connections sending their headers a byte at a time (slowloris) left no worker for anyone else.
gunicorn's gthread worker answers many connections per process and parks idle ones in its poller,
but a thread that has started reading a request still waits for as long as the client drips it.
This worker gives every request ``HEADER_SECONDS`` to deliver its request line and headers; a
client still sending them then is disconnected, and the thread goes back to the pool.  Once the
headers are in, the request runs as usual (an upload's body and the app's own time are bounded by
gunicorn's ``timeout``, and by the upload limits).

It overrides three public methods of gunicorn's ``ThreadWorker`` (``handle``: a connection's turn
in a thread, ``handle_request``: called once the head is parsed, ``accept``: see its docstring,
connections spread over the workers) and keeps one watchdog thread per worker process.  Used
by ``wizard/ops/gunicorn_conf.py``.
"""
from __future__ import annotations

import os
import socket
import threading
import time

from gunicorn.workers.gthread import ThreadWorker

#: how long a client may take to send a request's line and headers (a real browser: milliseconds)
HEADER_SECONDS = float(os.environ.get("WIZARD_HEADER_TIMEOUT", "10"))
#: how often the watchdog looks for clients past their time
TICK_SECONDS = 0.5
#: before taking a new connection, a worker waits this long for each connection it holds that is
#: not idle (at most ACCEPT_DELAY_MAX): an idle worker, woken by the same connection, takes it
#: first.  Idle kept-alive connections do not count: counting them put every worker of a server
#: with a few hundred clients to sleep for each new connection (the load benchmark's open loop:
#: p50 7 -> 20 ms)
ACCEPT_DELAY_PER_CONNECTION, ACCEPT_DELAY_MAX = 0.0005, 0.002


class HeaderDeadlines:
    """Connections whose request head is still being read, each with the time it must be in by."""

    def __init__(self, log):
        self._lock = threading.Lock()
        self._deadlines: dict = {}
        self._log = log
        threading.Thread(target=self._watch, name="header-deadlines", daemon=True).start()

    def arm(self, conn) -> None:
        with self._lock:
            self._deadlines[conn] = time.monotonic() + HEADER_SECONDS

    def disarm(self, conn) -> None:
        with self._lock:
            self._deadlines.pop(conn, None)

    def _watch(self) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            now = time.monotonic()
            with self._lock:
                late = [conn for conn, deadline in self._deadlines.items() if deadline <= now]
                for conn in late:
                    del self._deadlines[conn]
            for conn in late:
                self._cut(conn)

    def _cut(self, conn) -> None:
        """Shut the socket down: the thread blocked reading it gets end-of-file and lets it go."""
        self._log.info("closing a connection from %s: request headers not received within %.0f s",
                       conn.client, HEADER_SECONDS)
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by its thread


class BoundedThreadWorker(ThreadWorker):
    """ThreadWorker whose requests must deliver their head within HEADER_SECONDS."""

    def init_process(self):
        self.header_deadlines = HeaderDeadlines(self.log)
        super().init_process()

    def accept(self, listener):
        """Take a waiting connection, leaving it a moment to idle workers first while this one has
        connections in progress (``keepalived_conns``: gunicorn's idle kept-alive ones).  Every
        worker's poller wakes for a new connection, and the one already running wins the race: a
        burst of connections (a client opening 8 at once) could all land on one worker and share
        its one core (and its GIL) while the others stayed idle.  A kept-alive connection stays
        with the worker that took it, so that halved the throughput for as long as the client
        stayed."""
        active = self.nr_conns - len(self.keepalived_conns)  # being read or served, or just taken
        if active > 0:
            time.sleep(min(active * ACCEPT_DELAY_PER_CONNECTION, ACCEPT_DELAY_MAX))
        return super().accept(listener)

    def handle(self, conn):
        self.header_deadlines.arm(conn)
        try:
            return super().handle(conn)
        finally:
            self.header_deadlines.disarm(conn)

    def handle_request(self, req, conn):
        self.header_deadlines.disarm(conn)  # the head is in: the request's own time starts
        return super().handle_request(req, conn)
