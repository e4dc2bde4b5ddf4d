"""Connections spread over the page workers (wizard/ops/gunicorn_worker.py, ``accept``).

Every worker's poller wakes for a new connection and the one already running used to win: a
client opening 8 kept-alive connections at once sometimes had all 8 on one worker, which then
served them on one core while the other workers idled (the load benchmark's pages at half their
throughput in about 1 run of 15; ``worker_cpu`` in its JSON shows the spread).  A worker with
connections in progress now leaves a new one a moment to the idle workers first; idle kept-alive
connections do not count (a server with hundreds of clients must not wait on every accept).  How the kernel
schedules the race cannot be asserted without timing, so this checks the rule itself on a real
worker object and a real listening socket: the wait grows with the connections held, is capped,
and the connection is taken all the same."""
import socket

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from wizard.ops import gunicorn_worker
from wizard.ops.gunicorn_worker import ACCEPT_DELAY_MAX, ACCEPT_DELAY_PER_CONNECTION, BoundedThreadWorker


@pytest.fixture
def worker_and_listener(monkeypatch):
    cfg = Config()
    worker = BoundedThreadWorker(1, 1, [], None, 30, cfg, Logger(cfg))
    taken, waits = [], []
    monkeypatch.setattr(worker, "enqueue_req", taken.append)  # what a thread would then serve
    monkeypatch.setattr(gunicorn_worker.time, "sleep", waits.append)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    clients = []

    def connect_and_accept(held: int, idle: int = 0):
        """A new connection taken by a worker holding ``held`` connections, ``idle`` of them kept
        alive with nothing to do."""
        clients.append(socket.create_connection(listener.getsockname()))
        worker.nr_conns = held
        worker.keepalived_conns.clear()
        worker.keepalived_conns.extend(object() for _ in range(idle))
        worker.accept(listener)
        return worker.nr_conns

    yield connect_and_accept, taken, waits
    for c in clients:
        c.close()
    listener.close()


def test_an_idle_worker_takes_a_connection_at_once(worker_and_listener):
    connect_and_accept, taken, waits = worker_and_listener
    assert connect_and_accept(0) == 1
    assert connect_and_accept(300, idle=300) == 301  # kept-alive connections waiting: still idle
    assert len(taken) == 2 and waits == []


def test_a_worker_holding_connections_leaves_a_new_one_to_idle_workers_first(worker_and_listener):
    connect_and_accept, taken, waits = worker_and_listener
    assert connect_and_accept(6, idle=2) == 7  # 4 being read or served
    assert len(taken) == 1  # taken all the same when no other worker did
    assert waits == [pytest.approx(4 * ACCEPT_DELAY_PER_CONNECTION)]
    connect_and_accept(40)  # a worker serving many: the wait is capped
    assert waits[-1] == ACCEPT_DELAY_MAX and len(taken) == 2


def test_a_connection_another_worker_took_meanwhile_is_not_an_error(worker_and_listener, monkeypatch):
    connect_and_accept, taken, waits = worker_and_listener
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    worker = BoundedThreadWorker(1, 1, [], None, 30, Config(), Logger(Config()))
    worker.nr_conns = 2
    worker.accept(listener)  # nothing waiting any more (EAGAIN): nothing taken, nothing raised
    assert worker.nr_conns == 2
    listener.close()
