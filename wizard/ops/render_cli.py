"""``flask --app wizard render-worker``: the rendering service, a consumer of the render queue
(wizard/pdf/worker.py).  Its renders need no database: the jobs carry their HTML and file paths.
When mail is configured (MAIL_SERVER) it also runs the outbox's background sender beside the
renders (wizard/mail.py, ``deliver_in_background``), which uses the database."""
from functools import partial

import click
from flask import current_app
from flask.cli import with_appcontext

from ..mail import deliver_in_background, mail_enabled
from ..pdf.queue import default_url
from ..pdf.worker import Settings, serve


def render_settings(app, processes=None) -> Settings:
    """The consumer's settings from the app's configuration (docs/deployment.md)."""
    config = app.config
    return Settings(url=config.get("RENDER_QUEUE_URL") or default_url(app.instance_path),
                    processes=int(processes or config["RENDER_PROCESSES"]),
                    time_limit=float(config["RENDER_TIME_LIMIT"]), memory_mb=int(config["RENDER_MEMORY_MB"]),
                    orphan_seconds=float(config["RENDER_ORPHAN_SECONDS"]),
                    cache_max_bytes=int(config["PDF_CACHE_MAX_BYTES"]))


@click.command("render-worker")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="同时渲染的进程数（默认 RENDER_PROCESSES）")
@with_appcontext
def render_worker_cmd(processes):
    """Render the queued report PDFs until stopped (SIGTERM: the render under way finishes first)."""
    settings = render_settings(current_app, processes)
    click.echo(f"PDF 渲染服务已启动：队列 {settings.url}，{settings.processes} 个渲染进程，"
               f"每份不超过 {settings.time_limit:.0f} 秒" + ("；同时发送发件箱中的通知邮件" if mail_enabled() else "")
               + "。按 Ctrl+C 停止。")
    mail = partial(deliver_in_background, current_app._get_current_object()) if mail_enabled() else None
    serve(settings, mail)
