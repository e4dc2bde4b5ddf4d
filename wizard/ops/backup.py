"""Backup and restore: the database as JSON (one file per table) plus the uploaded files.

A backup is either a .tar.gz archive or a plain directory with the same layout:
``manifest.json`` (every other member with its SHA-256 and size),
``db/<table>.json`` and ``uploads/<path>``.  The dump goes through SQLAlchemy
and the model metadata, so a backup taken on SQLite restores into PostgreSQL and
back.

Consistency while the app keeps serving: every table is read inside ONE
read-only transaction on its own connection — REPEATABLE READ on PostgreSQL (one
snapshot for all SELECTs), a plain deferred ``BEGIN`` on SQLite (in WAL mode the
snapshot is fixed at the first read; writers are not blocked).  The app's own
engine is not used for SQLite because it starts every transaction outside a GET
request with ``BEGIN IMMEDIATE`` (wizard/dbsetup.py), which would hold the write
lock for the whole dump.  Upload files are copied after the database snapshot:
the app writes a file before committing its row and deletes it only after
deleting the row, so every file the snapshot refers to is normally still there;
one that vanished in between is listed in the manifest's ``missing_files``.

The manifest is signed: HMAC-SHA256 over its canonical JSON (every field but ``signature``),
with a key derived from the app's SECRET_KEY or from a key file (``--key-file``).  The member
checksums alone prove nothing against someone who can write the backup: they rewrite a member
and recompute its hash.  Without the key they cannot sign the new manifest, so restore refuses
an unsigned or wrongly signed backup unless the operator says ``--trust-unsigned``.

Restoring checks the signature and every checksum before it touches anything, refuses a database
that already holds rows (unless ``force``), loads the tables in dependency
order in one transaction and resets PostgreSQL's id sequences.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
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
from flask_migrate import upgrade
from sqlalchemy.pool import NullPool

from ..extensions import db

FORMAT = "cluster-wizard-backup"
FORMAT_VERSION = 2  # 2: the manifest carries a signature
MANIFEST = "manifest.json"
SIGNATURE_ALGORITHM = "HMAC-SHA256"
_KEY_LABEL = b"cluster-wizard backup manifest signing key v1"
MIN_KEY_FILE_BYTES = 16


class BackupError(Exception):
    """A refusal with a message for the operator (Chinese, like the rest of the CLI)."""


# --- signature ----------------------------------------------------------------------------

def signing_key(key_file: str | None = None) -> bytes:
    """The key that signs and checks manifests: derived from the contents of ``key_file`` when
    given, otherwise from the app's SECRET_KEY (never the SECRET_KEY itself: a derived key
    with its own label, so a manifest signature is no use for forging session cookies)."""
    if key_file:
        try:
            with open(key_file, "rb") as fh:
                material = fh.read().strip()
        except OSError as exc:
            raise BackupError(f"无法读取密钥文件 {key_file}（{exc.strerror or exc}），未做任何更改。") from None
        if len(material) < MIN_KEY_FILE_BYTES:
            raise BackupError(f"密钥文件 {key_file} 太短（至少 {MIN_KEY_FILE_BYTES} 个字符），未做任何更改。"
                              "可用 openssl rand -hex 32 生成。")
    else:
        secret = current_app.config.get("SECRET_KEY") or ""
        material = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if not material:
            raise BackupError("没有配置 SECRET_KEY，无法签名或验证备份；请使用 --key-file。")
    return hmac.new(material, _KEY_LABEL, hashlib.sha256).digest()


def _canonical(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign_manifest(manifest: dict, key: bytes) -> dict:
    """Add the signature (HMAC-SHA256 of every other field) to the manifest; returns it."""
    manifest["signature"] = {"algorithm": SIGNATURE_ALGORITHM,
                             "value": hmac.new(key, _canonical(manifest), hashlib.sha256).hexdigest()}
    return manifest


def signature_valid(manifest: dict, key: bytes) -> bool:
    sig = manifest.get("signature")
    if not isinstance(sig, dict) or sig.get("algorithm") != SIGNATURE_ALGORITHM:
        return False
    value = sig.get("value")
    expected = hmac.new(key, _canonical(manifest), hashlib.sha256).hexdigest()
    return isinstance(value, str) and hmac.compare_digest(expected, value)


def check_signature(manifest: dict, key: bytes, trust_unsigned: bool = False) -> None:
    """Refuse a manifest that is not signed with ``key`` (unless the operator trusts it)."""
    if trust_unsigned or signature_valid(manifest, key):
        return
    if not manifest.get("signature"):
        raise BackupError("备份清单没有签名，无法确认备份未被改动，拒绝恢复，未做任何更改。"
                          "如确认备份来源可信（如旧版本生成的备份），可加 --trust-unsigned 恢复。")
    raise BackupError("备份清单的签名无效：备份被改动过，或备份时使用的密钥与本次不同"
                      "（SECRET_KEY 或 --key-file），拒绝恢复，未做任何更改。")


# --- values -------------------------------------------------------------------------------

def _dump_value(value):
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


def default_name(directory: bool = False) -> str:
    stamp = datetime.now().strftime("wizard-backup-%Y%m%d-%H%M%S")
    return stamp if directory else stamp + ".tar.gz"


def is_archive_name(path: str) -> bool:
    return path.endswith((".tar.gz", ".tgz"))


def _read_engine():
    """The engine the dump reads through: the app's for PostgreSQL, a plain one for SQLite."""
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return engine, False

    reader = sa.create_engine(engine.url, poolclass=NullPool)

    @sa.event.listens_for(reader, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @sa.event.listens_for(reader, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")  # deferred: a read transaction, never the write lock

    return reader, True


def _dump_database():
    """Yield (table name, JSON bytes, row count) for every table, then ("", alembic revision, 0);
    all read in one transaction, so the tables are consistent with each other."""
    engine, own = _read_engine()
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                for table in _tables():
                    rows = [
                        {c.name: _dump_value(row._mapping[c.name]) for c in table.columns}
                        for row in conn.execute(sa.select(table).order_by(*table.primary_key.columns))
                    ]
                    data = json.dumps({"table": table.name, "columns": [c.name for c in table.columns],
                                       "rows": rows}, ensure_ascii=False, indent=0).encode("utf-8")
                    yield table.name, data, len(rows)
                try:
                    with conn.begin_nested():
                        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
                except sa.exc.DBAPIError:
                    revision = None
                yield "", revision, 0
    finally:
        if own:
            engine.dispose()


class _ArchiveWriter:
    def __init__(self, path):
        self.tar = tarfile.open(path, "w:gz")

    def add_bytes(self, name, data):
        _add_bytes(self.tar, name, data)

    def add_file(self, name, source):
        """Copy a file in; returns (sha256, size) of the bytes written, or None if it vanished."""
        try:
            fh = open(source, "rb")
        except FileNotFoundError:
            return None
        with fh:
            data = fh.read()
        _add_bytes(self.tar, name, data)
        return hashlib.sha256(data).hexdigest(), len(data)

    def close(self):
        self.tar.close()


class _DirectoryWriter:
    def __init__(self, path):
        self.root = path
        os.makedirs(path)

    def _target(self, name):
        target = os.path.join(self.root, *name.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        return target

    def add_bytes(self, name, data):
        with open(self._target(name), "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def add_file(self, name, source):
        try:
            src = open(source, "rb")
        except FileNotFoundError:
            return None
        h, size = hashlib.sha256(), 0
        with src, open(self._target(name), "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        return h.hexdigest(), size

    def close(self):
        pass


def create_backup(output: str, directory: bool | None = None, key: bytes | None = None) -> tuple[str, dict]:
    """Write a backup; returns its path and its manifest.

    ``directory=False`` (the default for ``-o``): a .tar.gz archive; ``output`` is a file name, or
    an existing directory in which a dated file name is chosen.  ``directory=True``: a backup
    directory at ``output`` (created; an existing empty directory is used; in an existing
    non-empty directory a dated sub-directory is created).  ``directory=None``: a directory
    unless ``output`` ends with .tar.gz/.tgz.  The database is read in one transaction (see the
    module docstring), then the upload files are copied, each hashed as it is written.  The
    manifest is signed with ``key`` (default: derived from SECRET_KEY, see ``signing_key``)."""
    key = key if key is not None else signing_key()
    if directory is None:
        directory = not is_archive_name(output)
    output = _backup_target(os.path.abspath(output), directory)
    tmp_path = output + ".part"
    if os.path.lexists(tmp_path):
        raise BackupError(f"{tmp_path} 已存在（可能有另一个备份正在进行），未做任何更改。")
    writer = _DirectoryWriter(tmp_path) if directory else _ArchiveWriter(tmp_path)
    try:
        manifest = _write_members(writer)
        sign_manifest(manifest, key)
        writer.add_bytes(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
        writer.close()
        writer = None
        if directory and os.path.isdir(output):
            os.rmdir(output)  # the empty directory the operator named
        os.replace(tmp_path, output)
    finally:
        if writer is not None:
            writer.close()
        if os.path.isdir(tmp_path):
            shutil.rmtree(tmp_path, ignore_errors=True)
        elif os.path.exists(tmp_path):
            os.remove(tmp_path)
    return output, manifest


def _backup_target(output: str, directory: bool) -> str:
    """Where the backup goes: a dated name inside an existing (non-empty) directory."""
    if directory:
        if os.path.isdir(output) and os.listdir(output):
            output = os.path.join(output, default_name(directory=True))
        if os.path.exists(output) and not (os.path.isdir(output) and not os.listdir(output)):
            raise BackupError(f"{output} 已存在，未做任何更改。")
    elif os.path.isdir(output):
        output = os.path.join(output, default_name())
    return output


def _write_members(writer) -> dict:
    """Dump the tables, then copy the upload files; returns the (unsigned) manifest."""
    members, table_counts, stored_names, revision = [], {}, [], None
    for name, data, count in _dump_database():
        if not name:
            revision = data
            continue
        path = f"db/{name}.json"
        writer.add_bytes(path, data)
        members.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
        table_counts[name] = count
        if name == "evidence_file":
            stored_names = [r["stored_name"] for r in json.loads(data)["rows"]]
    folder = _upload_folder()
    copied = set()
    for rel in _upload_files(folder):
        if rel.endswith(".part"):  # a file still being written; its row is not committed yet
            continue
        result = writer.add_file(f"uploads/{rel}", os.path.join(folder, rel))
        if result is None:  # deleted while we were copying
            continue
        members.append({"path": f"uploads/{rel}", "sha256": result[0], "size": result[1]})
        copied.add(rel)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "created_at": datetime.now().isoformat(timespec="seconds"),
        "database": db.engine.dialect.name, "alembic_revision": revision,
        "tables": table_counts, "members": members,
        "missing_files": sorted(n for n in stored_names if n not in copied),
    }


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


def _check_manifest(manifest, authenticate) -> dict:
    """The manifest's members by path, once the manifest is known to be ours and authentic."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("这不是本系统的备份文件，拒绝恢复。")
    authenticate(manifest)
    try:
        return {m["path"]: m for m in manifest.get("members", [])}
    except (TypeError, KeyError):
        raise BackupError("备份文件中没有有效的 manifest.json，拒绝恢复。") from None


def _check_member(name: str, entry: dict | None, fh) -> None:
    if not _safe_member_name(name):
        raise BackupError(f"备份文件包含不允许的条目：{name}，拒绝恢复。")
    if entry is None:
        raise BackupError(f"备份文件包含清单之外的文件：{name}，拒绝恢复。")
    h, size = hashlib.sha256(), 0
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        h.update(chunk)
        size += len(chunk)
    if h.hexdigest() != entry["sha256"] or size != entry["size"]:
        raise BackupError(f"校验失败：{name} 的 SHA-256 与清单不符，备份文件已损坏或被改动，拒绝恢复。")


def _check_complete(expected: dict, seen: set) -> None:
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"备份文件缺少 {len(missing)} 个文件（如 {missing[0]}），拒绝恢复。")


def _directory_members(root: str) -> list[str]:
    """Every entry under a backup directory as a relative '/' path; anything but a regular file refuses."""
    out = []
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(base, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if os.path.islink(full) or not (os.path.isdir(full) or os.path.isfile(full)):
                raise BackupError(f"备份目录包含不允许的条目：{rel}，拒绝恢复。")
            if os.path.isfile(full):
                out.append(rel)
    return sorted(out)


def _verify_directory(path: str, authenticate) -> dict:
    try:
        with open(os.path.join(path, MANIFEST), "rb") as fh:
            manifest = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError):
        raise BackupError("备份目录中没有有效的 manifest.json，拒绝恢复。") from None
    expected = _check_manifest(manifest, authenticate)
    seen = set()
    try:
        for rel in _directory_members(path):
            if rel == MANIFEST:
                continue
            with open(os.path.join(path, *rel.split("/")), "rb") as fh:
                _check_member(rel, expected.get(rel), fh)
            seen.add(rel)
    except OSError as exc:
        raise BackupError(f"无法读取备份目录（{exc}），拒绝恢复。") from None
    _check_complete(expected, seen)
    return manifest


def _verify_tar(path: str, authenticate) -> dict:
    try:
        with tarfile.open(path, "r:gz") as tar:
            try:
                manifest = json.loads(tar.extractfile(MANIFEST).read().decode("utf-8"))
            except (KeyError, AttributeError, ValueError):
                raise BackupError("备份文件中没有有效的 manifest.json，拒绝恢复。") from None
            expected = _check_manifest(manifest, authenticate)
            seen = set()
            for info in tar:
                if info.name == MANIFEST:
                    continue
                if not info.isfile():
                    raise BackupError(f"备份文件包含不允许的条目：{info.name}，拒绝恢复。")
                _check_member(info.name, expected.get(info.name), tar.extractfile(info))
                seen.add(info.name)
            _check_complete(expected, seen)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"无法读取备份文件（{exc}），拒绝恢复。") from None
    return manifest


def verify_backup(path: str, key: bytes | None = None, trust_unsigned: bool = False) -> dict:
    """Read the manifest of a backup (archive or directory), check its signature with ``key``
    (default: derived from SECRET_KEY), then every member against it; raise BackupError on an
    unsigned or wrongly signed manifest (unless ``trust_unsigned``), any mismatch, missing or
    unlisted member.  Nothing is written."""
    if os.path.isdir(path):
        verify = _verify_directory
    elif os.path.isfile(path):
        verify = _verify_tar
    else:
        raise BackupError(f"备份文件不存在：{path}")
    key = key if key is not None else signing_key()
    return verify(path, lambda manifest: check_signature(manifest, key, trust_unsigned))




def _read_members(path: str, staging: str, manifest: dict) -> dict[str, list[dict]]:
    """The tables of a verified backup; its upload files copied into ``staging``.  The backup is
    read a second time here, so every member must still be in the (verified) manifest and every
    table still match its checksum; upload files are checked in ``_verify_staged``."""
    tables, expected = {}, {m["path"]: m for m in manifest.get("members", [])}

    def take(name, fh):
        entry = expected.get(name)
        if entry is None:
            raise BackupError(f"备份文件包含清单之外的文件：{name}，拒绝恢复。")
        if name.startswith("db/"):
            data = fh.read()
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise BackupError(f"校验失败：{name} 的 SHA-256 与清单不符，拒绝恢复。")
            doc = json.loads(data.decode("utf-8"))
            tables[doc["table"]] = doc["rows"]
        elif name.startswith("uploads/"):
            target = os.path.join(staging, *name[len("uploads/"):].split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as dst:
                shutil.copyfileobj(fh, dst)

    if os.path.isdir(path):
        for rel in _directory_members(path):
            if rel != MANIFEST:
                with open(os.path.join(path, *rel.split("/")), "rb") as fh:
                    take(rel, fh)
    else:
        with tarfile.open(path, "r:gz") as tar:
            for info in tar:
                if info.name != MANIFEST:
                    with tar.extractfile(info) as fh:
                        take(info.name, fh)
    return tables


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


def restore_backup(path: str, force: bool = False, key: bytes | None = None, trust_unsigned: bool = False) -> dict:
    """Verify (signature with ``key``, see ``verify_backup``; then every checksum), then restore a
    backup (archive or directory) into the database and the uploads folder.  Returns the manifest."""
    manifest = verify_backup(path, key=key, trust_unsigned=trust_unsigned)
    if not _schema_ready():

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
        tables = _read_members(path, staging, manifest)
        _verify_staged(manifest, staging)  # the bytes about to be restored are the ones verified
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


def _verify_staged(manifest: dict, staging: str) -> None:
    """Check the staged upload files against the manifest again (a backup could change between
    the verification and the copy)."""
    for m in manifest.get("members", []):
        if m["path"].startswith("uploads/"):
            full = os.path.join(staging, *m["path"][len("uploads/"):].split("/"))
            if not os.path.isfile(full) or _sha256_file(full) != (m["sha256"], m["size"]):
                raise BackupError(f"校验失败：{m['path']} 的 SHA-256 与清单不符，拒绝恢复。")


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
