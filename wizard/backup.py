"""Backup and restore: the database as JSON (one file per table) plus the uploaded files.

The archive is a .tar.gz with ``manifest.json`` (every other member with its
SHA-256 and size), ``db/<table>.json`` and ``uploads/<path>``.  The dump goes
through SQLAlchemy and the model metadata, so a backup taken on SQLite restores
into PostgreSQL and back.  Restoring checks every checksum before it touches
anything, refuses a database that already holds rows (unless ``force``), loads
the tables in dependency order in one transaction and resets PostgreSQL's id
sequences.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from datetime import date, datetime, time
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from .extensions import db

FORMAT = "cluster-wizard-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class BackupError(Exception):
    """A refusal with a message for the operator (Chinese, like the rest of the CLI)."""


# --- values -------------------------------------------------------------------------------

def _dump_value(column: sa.Column, value):
    if value is None:
        return None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value  # str, int, bool, float and JSON documents


def _load_value(column: sa.Column, value):
    if value is None:
        return None
    t = column.type
    if isinstance(t, sa.DateTime):
        return datetime.fromisoformat(value)
    if isinstance(t, sa.Date):
        return date.fromisoformat(value)
    if isinstance(t, sa.Time):
        return time.fromisoformat(value)
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
        return Decimal(value)
    if isinstance(t, sa.LargeBinary):
        return base64.b64decode(value)
    return value


def _self_ordered(table: sa.Table, rows: list[dict]) -> list[dict]:
    """Rows of a self-referencing table (region.parent_id) with every parent before its children."""
    self_fks = [fk for fk in table.foreign_keys if fk.column.table is table]
    if not self_fks or len(table.primary_key.columns) != 1:
        return rows
    pk = list(table.primary_key.columns)[0].name
    pairs = [(fk.parent.name, fk.column.name) for fk in self_fks]
    done, ordered, pending = set(), [], list(rows)
    while pending:
        ready = [r for r in pending
                 if all(r.get(col) is None or r.get(col) in done or r.get(col) == r.get(pk) for col, _ in pairs)]
        if not ready:  # a cycle: keep the remaining order and let the database decide
            ordered += pending
            break
        for r in ready:
            done.add(r[pk])
        ordered += ready
        pending = [r for r in pending if r[pk] not in done]
    return ordered


# --- backup -------------------------------------------------------------------------------

def _tables() -> list[sa.Table]:
    return list(db.metadata.sorted_tables)


def _alembic_revision() -> str | None:
    try:
        return db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:
        db.session.rollback()
        return None


def _upload_folder() -> str:
    return current_app.config["UPLOAD_FOLDER"]


def _upload_files(folder: str) -> list[str]:
    """Relative paths (with '/') of every regular file under the uploads folder."""
    out = []
    if not os.path.isdir(folder):
        return out
    for root, _dirs, files in os.walk(folder):
        for name in files:
            full = os.path.join(root, name)
            if os.path.isfile(full) and not os.path.islink(full):
                out.append(os.path.relpath(full, folder).replace(os.sep, "/"))
    return sorted(out)


def _sha256_file(path: str) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def default_name() -> str:
    return datetime.now().strftime("wizard-backup-%Y%m%d-%H%M%S.tar.gz")


def create_backup(output: str) -> tuple[str, dict]:
    """Write a backup archive; ``output`` is a file name or an existing directory.

    Returns the archive path and its manifest.  The dump is read in one
    transaction so the tables are consistent with each other."""
    if os.path.isdir(output):
        output = os.path.join(output, default_name())
    members, table_counts = [], {}
    tmp_path = output + ".part"
    try:
        with tarfile.open(tmp_path, "w:gz") as tar:
            for table in _tables():
                rows = [
                    {c.name: _dump_value(c, row._mapping[c.name]) for c in table.columns}
                    for row in db.session.execute(sa.select(table).order_by(*table.primary_key.columns))
                ]
                data = json.dumps({"table": table.name, "columns": [c.name for c in table.columns], "rows": rows},
                                  ensure_ascii=False, indent=0).encode("utf-8")
                name = f"db/{table.name}.json"
                _add_bytes(tar, name, data)
                members.append({"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
                table_counts[table.name] = len(rows)
            folder = _upload_folder()
            for rel in _upload_files(folder):
                full = os.path.join(folder, rel)
                digest, size = _sha256_file(full)
                tar.add(full, arcname=f"uploads/{rel}", recursive=False)
                members.append({"path": f"uploads/{rel}", "sha256": digest, "size": size})
            manifest = {
                "format": FORMAT, "format_version": FORMAT_VERSION,
                "created_at": datetime.now().isoformat(timespec="seconds"),
                "database": db.engine.dialect.name, "alembic_revision": _alembic_revision(),
                "tables": table_counts, "members": members,
            }
            _add_bytes(tar, MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
        db.session.rollback()
        os.replace(tmp_path, output)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
    return output, manifest


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now().timestamp())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


# --- restore ------------------------------------------------------------------------------

def _safe_member_name(name: str) -> bool:
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and ".." not in parts and "\\" not in name and "" not in parts


def verify_archive(path: str) -> dict:
    """Read the manifest and check every member against it; raise BackupError on any mismatch.
    Nothing is written."""
    if not os.path.isfile(path):
        raise BackupError(f"备份文件不存在：{path}")
    try:
        with tarfile.open(path, "r:gz") as tar:
            try:
                manifest = json.loads(tar.extractfile(MANIFEST).read().decode("utf-8"))
            except (KeyError, AttributeError, ValueError):
                raise BackupError("备份文件中没有有效的 manifest.json，拒绝恢复。") from None
            if manifest.get("format") != FORMAT:
                raise BackupError("这不是本系统的备份文件，拒绝恢复。")
            expected = {m["path"]: m for m in manifest.get("members", [])}
            seen = set()
            for info in tar:
                if info.name == MANIFEST:
                    continue
                if not info.isfile() or not _safe_member_name(info.name):
                    raise BackupError(f"备份文件包含不允许的条目：{info.name}，拒绝恢复。")
                entry = expected.get(info.name)
                if entry is None:
                    raise BackupError(f"备份文件包含清单之外的文件：{info.name}，拒绝恢复。")
                h, size = hashlib.sha256(), 0
                fh = tar.extractfile(info)
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
                    size += len(chunk)
                if h.hexdigest() != entry["sha256"] or size != entry["size"]:
                    raise BackupError(f"校验失败：{info.name} 的 SHA-256 与清单不符，备份文件已损坏或被改动，拒绝恢复。")
                seen.add(info.name)
            missing = sorted(set(expected) - seen)
            if missing:
                raise BackupError(f"备份文件缺少 {len(missing)} 个文件（如 {missing[0]}），拒绝恢复。")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"无法读取备份文件（{exc}），拒绝恢复。") from None
    return manifest


def _database_has_rows() -> list[str]:
    busy = []
    for table in _tables():
        if db.session.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
            busy.append(table.name)
    db.session.rollback()
    return busy


def _schema_ready() -> bool:
    names = set(sa.inspect(db.engine).get_table_names())
    return all(t.name in names for t in _tables())


def restore_backup(path: str, force: bool = False) -> dict:
    """Verify, then restore the database and the uploads folder.  Returns the manifest."""
    manifest = verify_archive(path)
    if not _schema_ready():
        from flask_migrate import upgrade

        upgrade()  # a fresh database: create the schema the migrations describe
    revision = _alembic_revision()
    if manifest.get("alembic_revision") and revision and manifest["alembic_revision"] != revision:
        raise BackupError(f"备份的数据库版本（{manifest['alembic_revision']}）与当前数据库（{revision}）不同。"
                          "请先把数据库迁移到相同版本（flask db upgrade/downgrade）再恢复。")
    folder = _upload_folder()
    if not force:
        busy = _database_has_rows()
        if busy:
            raise BackupError(f"数据库不是空的（如表 {busy[0]} 已有数据），未做任何更改。"
                              "请恢复到新建的空数据库，或确认覆盖后使用 --force。")
        if _upload_files(folder):
            raise BackupError(f"上传文件目录 {folder} 不是空的，未做任何更改。确认覆盖请使用 --force。")

    parent = os.path.dirname(os.path.abspath(folder))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".restore-", dir=parent)
    try:
        with tarfile.open(path, "r:gz") as tar:
            tables = {}
            for info in tar:
                if info.name.startswith("db/"):
                    doc = json.loads(tar.extractfile(info).read().decode("utf-8"))
                    tables[doc["table"]] = doc["rows"]
                elif info.name.startswith("uploads/"):
                    target = os.path.join(staging, *info.name[len("uploads/"):].split("/"))
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with tar.extractfile(info) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        _load_tables(tables)
        old = None
        if os.path.isdir(folder):
            old = folder + ".old-" + datetime.now().strftime("%Y%m%d%H%M%S%f")
            os.replace(folder, old)
        os.replace(staging, folder)
        staging = None
        if old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging and os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _load_tables(tables: dict[str, list[dict]]) -> None:
    """Replace every table's rows in one transaction (children deleted first, parents loaded first)."""
    ordered = _tables()
    try:
        for table in reversed(ordered):
            db.session.execute(table.delete())
        for table in ordered:
            rows = tables.get(table.name, [])
            if not rows:
                continue
            cols = {c.name: c for c in table.columns}
            clean = [{k: _load_value(cols[k], v) for k, v in row.items() if k in cols} for row in rows]
            if any(fk.column.table is table for fk in table.foreign_keys):
                for row in _self_ordered(table, clean):  # parents first, one row at a time
                    db.session.execute(table.insert().values(**row))
            else:
                db.session.execute(table.insert(), clean)
        if db.engine.dialect.name == "postgresql":
            _reset_sequences(ordered)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def _reset_sequences(tables: list[sa.Table]) -> None:
    prep = db.engine.dialect.identifier_preparer
    for table in tables:
        pks = list(table.primary_key.columns)
        if len(pks) != 1 or not isinstance(pks[0].type, sa.Integer):
            continue
        qtable, qcol = prep.format_table(table), prep.quote(pks[0].name)
        seq = db.session.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                                 {"t": qtable, "c": pks[0].name}).scalar()
        if seq:
            db.session.execute(sa.text(
                f"SELECT setval(:seq, COALESCE((SELECT MAX({qcol}) FROM {qtable}), 1), "
                f"(SELECT MAX({qcol}) FROM {qtable}) IS NOT NULL)"), {"seq": seq})
