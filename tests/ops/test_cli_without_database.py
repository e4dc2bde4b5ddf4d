"""Issue #22, item 13: a command run before the database exists (a fresh clone, an empty SQLite
file, an unmigrated or unreachable PostgreSQL) says in one Chinese line what to run first and
exits non-zero, never a SQLAlchemy traceback; ``schema`` needs no database at all."""
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from wizard import create_app
from wizard.ops.cli import NO_DATABASE_COMMANDS

PG_URL = os.environ.get("WIZARD_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/wizard"  # nothing listens on port 1


def _args(tmp):
    """Arguments that would make each command do real work on a ready database.  Every command
    the app registers must be listed here (a new command fails the test until it is)."""
    answers = tmp / "answers.json"
    answers.write_text('{"answers": {}}', encoding="utf-8")
    sheet = tmp / "accounts.xlsx"
    sheet.write_bytes(b"PK")
    return {
        "seed": [], "seed-demo": [], "submissions": [], "cleanup": [],
        "create-user": ["newadmin", "--role", "admin", "--password", "a-long-password-1"],
        "answers export": ["1"], "answers import": ["1", str(answers)],
        "pdf": ["1", "-o", str(tmp / "out.pdf")],
        "backup": [str(tmp / "backup")], "restore": [str(tmp / "backup")],
        "accounts import": [str(sheet), "--dry-run"],
    }


def _commands(app):
    """Every database command of the app, as it is typed: 'seed', 'answers export' …"""
    out = []
    for name, cmd in app.cli.commands.items():
        if name in NO_DATABASE_COMMANDS:  # schema, Flask-Migrate's db, the render service: no check
            continue
        subs = getattr(cmd, "commands", None)
        out += [f"{name} {sub}" for sub in subs] if subs else [name]
    return out


def _empty_pg():
    """A PostgreSQL database that exists but was never migrated."""
    url = make_url(PG_URL)
    name = f"{url.database}_unmigrated"
    with psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, dbname=url.database,
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def _databases():
    cases = [("sqlite", "empty SQLite file"), ("unreachable", "PostgreSQL not reachable")]
    if PG_URL:
        cases.append(("postgresql", "PostgreSQL, never migrated"))
    return cases


@pytest.fixture(params=_databases(), ids=lambda c: c[0])
def bare_app(request, tmp_path):
    kind = request.param[0]
    if kind == "sqlite":
        (tmp_path / "empty.db").write_bytes(b"")
        uri = f"sqlite:///{tmp_path / 'empty.db'}"
    elif kind == "unreachable":
        uri = UNREACHABLE_PG
    else:
        uri = _empty_pg()
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": uri,
                      "INSTANCE_PATH": str(tmp_path / "instance"), "UPLOAD_FOLDER": str(tmp_path / "uploads"),
                      "PDF_CACHE_FOLDER": str(tmp_path / "pdf-cache"), "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1"})
    app.config["BARE_KIND"] = kind
    yield app
    with app.app_context():
        from wizard.extensions import db

        db.engine.dispose()


def test_every_command_says_what_to_run_first(bare_app, tmp_path):
    args = _args(tmp_path)
    commands = _commands(bare_app)
    assert set(commands) <= set(args), f"add arguments for {set(commands) - set(args)}"
    assert "seed" in commands and "answers export" in commands and "accounts import" in commands
    assert "schema" in NO_DATABASE_COMMANDS and "seed" not in NO_DATABASE_COMMANDS
    runner = bare_app.test_cli_runner()
    expected = "无法连接数据库" if bare_app.config["BARE_KIND"] == "unreachable" else "数据库尚未初始化"
    for command in commands:
        result = runner.invoke(args=command.split() + args[command])
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 1, (command, result.output)
        assert lines == [lines[0]] and expected in lines[0] and "flask --app wizard db upgrade" in lines[0], (
            command, result.output)
        assert "Traceback" not in result.output and "sqlalche.me" not in result.output, command
    assert not (tmp_path / "out.pdf").exists() and not (tmp_path / "backup").exists()


def test_schema_needs_no_database(bare_app):
    result = bare_app.test_cli_runner().invoke(args=["schema", "--round", "preliminary"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["round"] == "preliminary" and doc["years"]["data"] == [2021, 2022] and doc["steps"]
    assert "默认年份" in result.stderr  # it says which years it used


def test_fresh_clone_from_the_shell(tmp_path):
    """The real ``flask`` executable on an empty SQLite file, as a new developer types it."""
    (tmp_path / "wizard.db").write_bytes(b"")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'wizard.db'}", "WIZARD_ENV": "development",
           "SECRET_KEY": "test"}
    flask = [sys.executable, "-m", "flask", "--app", "wizard"]
    schema = subprocess.run(flask + ["schema", "--round", "preliminary"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert schema.returncode == 0 and json.loads(schema.stdout)["round"] == "preliminary", schema.stderr
    listing = subprocess.run(flask + ["submissions"], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
    assert listing.returncode == 1 and listing.stdout == ""
    assert listing.stderr.strip().count("\n") == 0 and "数据库尚未初始化" in listing.stderr
    assert "Traceback" not in listing.stderr and "no such table" not in listing.stderr
