"""Whether the database a CLI command needs is there (issue #22, item 13).

On a fresh clone, before ``flask --app wizard db upgrade``, or with PostgreSQL stopped, a command
used to end in a SQLAlchemy traceback ("no such table: edition").  Every command that reads or
writes the database now checks first and, if it cannot work, says in one Chinese line what to run
and exits with status 1.  ``schema`` needs no database (cli.py reads the edition's years when it
can and says so when it cannot).
"""
from __future__ import annotations

import functools
import os

import click
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..extensions import db

UPGRADE = "flask --app wizard db upgrade"
#: the line for a database without the tables (a fresh clone, an empty SQLite file)
NOT_MIGRATED = (f"数据库尚未初始化（没有数据表）：请先运行 {UPGRADE} 和 flask --app wizard seed"
                f"（开发环境可直接运行 make run），再执行本命令。")
#: the line for a database whose tables are older than this code
OUTDATED = f"数据库结构不是最新版本：请先运行 {UPGRADE}，再执行本命令。"


def _unreachable(url) -> str:
    return (f"无法连接数据库（{url}）：请确认数据库服务已启动、DATABASE_URL 设置正确，"
            f"然后运行 {UPGRADE}（开发环境可运行 make run），再执行本命令。")


def _heads() -> set[str]:
    directory = current_app.extensions["migrate"].directory
    return set(ScriptDirectory(os.fspath(directory)).get_heads())


def database_problem() -> str | None:
    """Why the configured database cannot serve a command (one Chinese line), or None."""
    url = db.engine.url.render_as_string(hide_password=True)
    try:
        with db.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except DBAPIError as exc:
        if exc.connection_invalidated or exc.statement is None:  # refused, unknown host, no such file
            return _unreachable(url)
        return NOT_MIGRATED
    except SQLAlchemyError:
        return _unreachable(url)
    if not current:
        return NOT_MIGRATED
    return None if current == _heads() else OUTDATED


def refuse_without_database() -> None:
    """Print the reason the database cannot be used and end the command with status 1."""
    problem = database_problem()
    if problem:
        click.echo(problem, err=True)
        raise click.exceptions.Exit(1)


def needs_database(callback):
    """Wrap a command's callback: check the database first (in the app's context)."""
    if getattr(callback, "checks_database", False):
        return callback

    @functools.wraps(callback)
    def run(*args, **kwargs):
        refuse_without_database()
        return callback(*args, **kwargs)

    checked = with_appcontext(run)
    checked.checks_database = True
    return checked


def guard_commands(commands) -> None:
    """Make every command (and every sub-command of a group) check the database first."""
    for cmd in commands:
        if isinstance(cmd, click.Group):
            guard_commands(cmd.commands.values())
        elif cmd.callback is not None:
            cmd.callback = needs_database(cmd.callback)
