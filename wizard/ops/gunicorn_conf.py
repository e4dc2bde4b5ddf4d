"""gunicorn settings for production (README: 生产部署), used as
``gunicorn -c python:wizard.ops.gunicorn_conf -b 127.0.0.1:8000 'wizard:create_app()'``.

Robust on its own against slow clients (issue #22, item 11): threaded workers (many connections
per process; an idle connection waits in the worker's poller, not in a thread), each request's
head bounded to ``WIZARD_HEADER_TIMEOUT`` seconds (wizard/ops/gunicorn_worker.py), kept-alive
connections closed after a few idle seconds, and a cap on connections per worker.  A reverse
proxy in front (nginx, which buffers whole requests) remains the recommended set-up; it is no
longer what keeps the service answering.  Command-line options override what is set here.
"""
import os

bind = os.environ.get("WIZARD_BIND", "127.0.0.1:8000")
#: worker processes (WEB_CONCURRENCY, as gunicorn's own default reads it); each holds the app (~230 MB)
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
