"""gunicorn settings for production (README: 生产部署), used as
``gunicorn -c python:wizard.ops.gunicorn_conf -b 127.0.0.1:8000 'wizard:create_app()'``.

Robust on its own against slow clients (issue #22, item 11): threaded workers (many connections
per process; an idle connection waits in the worker's poller, not in a thread), each request's
head bounded to ``WIZARD_HEADER_TIMEOUT`` seconds (wizard/ops/gunicorn_worker.py), kept-alive
connections closed after a few idle seconds, and a cap on connections per worker.  A reverse
proxy in front (nginx, which buffers whole requests) remains the recommended set-up; it is no
longer what keeps the service answering.  Command-line options override what is set here.

Warm before serving (issue #25): the app is created and warmed in the master, the workers fork
from it and each renders the pages every role opens most once before its first request (the
hooks below).
"""
import os

from wizard.ops.warmup import forget_connections, warm_pages, warm_up

bind = os.environ.get("WIZARD_BIND", "127.0.0.1:8000")
#: worker processes (WEB_CONCURRENCY, as gunicorn's own default reads it); each holds the app (RSS ~160 MB,
#: about 60 MB of it its own: the rest shared with the master, preload_app below)
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "wizard.ops.gunicorn_worker.BoundedThreadWorker"
#: threads per worker: requests in progress at once per process (CPU work still shares one core per
#: process; the threads let slow or waiting clients not hold the others up)
threads = int(os.environ.get("WIZARD_THREADS", "16"))
#: open connections per worker, idle ones included; beyond it new connections wait in the backlog
worker_connections = 400
#: seconds an idle kept-alive connection (or one that sent nothing yet) stays open
keepalive = 5
#: seconds a worker may go silent (one request running longer than this gets the worker restarted)
timeout = 120
graceful_timeout = 30
#: request line and header limits (gunicorn's defaults, stated)
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

#: the app is created in the master and warmed there (wizard/ops/warmup.py: every template
#: compiled, the report definitions built), then the workers fork from it: no worker pays for that on
#: its first request of a page (about 180 ms of CPU a report page), and they share those pages of
#: memory copy-on-write (a worker's PSS after start about 55 MB, was 135; N = 2,000).  The master
#: never opens a database connection, a thread or the render queue before the fork; each worker
#: drops the engine's pool it inherits all the same (post_fork), then warms its SQL
#: (post_worker_init).
#: A new version of the code needs the master restarted (HUP re-forks workers from the code the
#: master loaded).  WIZARD_PRELOAD=0: each worker loads the app and warms itself before it serves.
preload_app = os.environ.get("WIZARD_PRELOAD", "1") != "0"


def when_ready(server):
    """In the master, once the sockets are bound and before the first worker is forked."""
    if server.cfg.preload_app:
        warm_up(server.app.wsgi())


def post_fork(server, worker):
    """In each worker just forked: its own database connections, never the master's."""
    if server.cfg.preload_app:
        forget_connections(server.app.wsgi())


def post_worker_init(worker):
    """In each worker, before it serves: without preloading (WIZARD_PRELOAD=0) it warms the app
    itself; then it renders the pages every role opens most once, read-only (their SQL compiled
    on its own connection: wizard/ops/warmup.py, warm_pages)."""
    if not worker.cfg.preload_app:
        warm_up(worker.wsgi)
    warm_pages(worker.wsgi)
