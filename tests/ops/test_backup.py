"""Backup and restore (`flask backup` / `flask restore`): a round trip brings back submissions,
answers, history and upload files byte-identical; a tampered archive changes nothing."""
import hashlib
import io
import json
import os
import tarfile

import pytest
from sqlalchemy import text

from factories import ALLOY, AuthActions, submission_of
from fill import complete_answers
from wizard.extensions import db
from wizard.models import AuditEntry, HistoryEntry, Region, Snapshot, Submission, User
from wizard.workflow.moves import apply_move

UPLOADS = {
    "ab/evidence-1.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n",
    "cd/photo.png": b"\x89PNG\r\n\x1a\n" + os.urandom(5000),
}


def user(name):
    return db.session.execute(db.select(User).filter_by(username=name)).scalar_one()


def state_of_everything():
    """What a restore must bring back, as plain data."""
    subs = {s.id: (s.cluster_id, s.state, s.version, s.preliminary_answers, s.opinions, s.updated_at)
            for s in db.session.execute(db.select(Submission)).scalars()}
    history = [(h.submission_id, h.move, h.from_state, h.to_state, h.comment, h.at)
               for h in db.session.execute(db.select(HistoryEntry).order_by(HistoryEntry.id)).scalars()]
    snaps = [(s.submission_id, s.round, s.digest, s.answers)
             for s in db.session.execute(db.select(Snapshot).order_by(Snapshot.id)).scalars()]
    users = {u.username: (u.role, u.password_hash, u.cluster_id, u.region_id)
             for u in db.session.execute(db.select(User)).scalars()}
    regions = db.session.execute(db.select(db.func.count()).select_from(Region)).scalar_one()
    return {"subs": subs, "history": history, "snaps": snaps, "users": users, "regions": regions}


def upload_bytes(folder):
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            full = os.path.join(root, name)
            out[os.path.relpath(full, folder).replace(os.sep, "/")] = open(full, "rb").read()
    return out


def wipe(app):
    """Empty every table and the uploads folder (a fresh server: PostgreSQL ids start again at 1,
    so a restore that forgot to reset the sequences fails at the next insert)."""
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(db.engine.dialect.identifier_preparer.format_table(t) for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
    db.session.commit()
    for rel in upload_bytes(app.config["UPLOAD_FOLDER"]):
        os.remove(os.path.join(app.config["UPLOAD_FOLDER"], rel))


@pytest.fixture
def filled(app, people):
    """Submission A submitted, approved and accepted (answers, history, snapshot), two upload files."""
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary")
        sub.state = "submitted"
        db.session.add(Snapshot(submission_id=sub.id, round="preliminary", answers=sub.preliminary_answers,
                                evidence=[], digest="ab" * 32, created_by_id=user("applicant-a").id))
        db.session.commit()
        apply_move(sub, "county_approve", user("county-x"), comment="同意推荐。")
        apply_move(sub, "accept", user("admin"))
    folder = app.config["UPLOAD_FOLDER"]
    for rel, data in UPLOADS.items():
        os.makedirs(os.path.dirname(os.path.join(folder, rel)), exist_ok=True)
        with open(os.path.join(folder, rel), "wb") as fh:
            fh.write(data)
    return app


@pytest.fixture
def reseed_if_empty(app):
    """The PostgreSQL test database is shared: never leave it empty, even when a test fails."""
    yield
    with app.app_context():
        db.session.rollback()
        if db.session.execute(db.select(db.func.count()).select_from(Region)).scalar_one() == 0:
            from wizard.ops.seed import seed_all

            seed_all()


def test_backup_wipe_restore_round_trip(filled, runner, tmp_path, reseed_if_empty):
    app = filled
    archive = tmp_path / "backup.tar.gz"
    r = runner.invoke(args=["backup", "-o", str(archive)])
    assert r.exit_code == 0, r.output
    assert "已写入备份" in r.output

    # the manifest lists every member with its SHA-256 and size
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        names = set(tar.getnames()) - {"manifest.json"}
        for m in manifest["members"]:
            data = tar.extractfile(m["path"]).read()
            assert hashlib.sha256(data).hexdigest() == m["sha256"] and len(data) == m["size"]
    assert names == {m["path"] for m in manifest["members"]}
    assert {"db/submission.json", "db/history_entry.json", "db/user.json"} <= names
    assert {f"uploads/{rel}" for rel in UPLOADS} <= names

    with app.app_context():
        before = state_of_everything()
        sid = submission_of(ALLOY).id
    assert len(before["history"]) == 2 and len(before["snaps"]) == 1

    # restoring over a database that has data is refused without --force
    r = runner.invoke(args=["restore", str(archive)])
    assert r.exit_code != 0 and "数据库不是空的" in r.output

    with app.app_context():
        wipe(app)
    r = runner.invoke(args=["restore", str(archive)])
    assert r.exit_code == 0, r.output

    with app.app_context():
        after = state_of_everything()
        assert after == before
        assert submission_of(ALLOY).preliminary_answers == complete_answers("preliminary")
        # ids keep counting after the restored rows (PostgreSQL sequences were reset)
        sub = db.session.get(Submission, sid)
        apply_move(sub, "advance", user("admin"))
        assert db.session.execute(db.select(db.func.count()).select_from(HistoryEntry)).scalar_one() == 3
    assert upload_bytes(app.config["UPLOAD_FOLDER"]) == UPLOADS

    # the restored accounts can log in with their passwords
    client = app.test_client()
    assert AuthActions(client).login("county-x").status_code == 302
    assert "同意推荐。" in client.get(f"/county/submissions/{sid}").get_data(as_text=True)


def test_restore_force_replaces_changed_data(filled, runner, tmp_path, reseed_if_empty):
    app = filled
    archive = tmp_path / "b.tar.gz"
    assert runner.invoke(args=["backup", "-o", str(archive)]).exit_code == 0
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = {"industry_field": "改坏了"}
        db.session.commit()
    os.remove(os.path.join(app.config["UPLOAD_FOLDER"], "cd/photo.png"))
    r = runner.invoke(args=["restore", "--force", str(archive)])
    assert r.exit_code == 0, r.output
    with app.app_context():
        assert submission_of(ALLOY).preliminary_answers == complete_answers("preliminary")
    assert upload_bytes(app.config["UPLOAD_FOLDER"]) == UPLOADS


def _rewrite(archive, target, change):
    """A copy of the archive with one member's bytes changed (the manifest left as it was)."""
    out = archive.with_name("tampered.tar.gz")
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read()
            if info.name == target:
                data = change(data)
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


@pytest.mark.parametrize("target,change", [
    ("db/submission.json", lambda d: d.replace("同意推荐".encode(), "不同意的".encode())),
    ("uploads/ab/evidence-1.pdf", lambda d: d[:-1] + b"X"),
    ("uploads/cd/photo.png", lambda d: b""),
])
def test_tampered_archive_is_refused_and_changes_nothing(filled, runner, tmp_path, reseed_if_empty, target, change):
    app = filled
    archive = tmp_path / "backup.tar.gz"
    assert runner.invoke(args=["backup", "-o", str(archive)]).exit_code == 0
    bad = _rewrite(archive, target, change)
    with app.app_context():
        wipe(app)
    r = runner.invoke(args=["restore", "--force", str(bad)])
    assert r.exit_code != 0
    assert "校验失败" in r.output and target in r.output and "拒绝恢复" in r.output
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Submission)).scalar_one() == 0
    assert upload_bytes(app.config["UPLOAD_FOLDER"]) == {}
    # the untouched archive still restores
    assert runner.invoke(args=["restore", str(archive)]).exit_code == 0


def test_archive_with_an_unlisted_file_is_refused(filled, runner, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    assert runner.invoke(args=["backup", "-o", str(archive)]).exit_code == 0
    extra = tmp_path / "extra.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(extra, "w:gz") as dst:
        for info in src.getmembers():
            dst.addfile(info, src.extractfile(info))
        info = tarfile.TarInfo("uploads/../../evil.sh")
        info.size = 3
        dst.addfile(info, io.BytesIO(b"boo"))
    r = runner.invoke(args=["restore", "--force", str(extra)])
    assert r.exit_code != 0 and "拒绝恢复" in r.output
    assert not (tmp_path / "evil.sh").exists()
    with filled.app_context():
        assert submission_of(ALLOY).state == "preliminary"


def test_backup_into_a_directory_and_missing_file(filled, runner, tmp_path):
    r = runner.invoke(args=["backup", "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    made = [p for p in os.listdir(tmp_path) if p.startswith("wizard-backup-") and p.endswith(".tar.gz")]
    assert len(made) == 1
    r = runner.invoke(args=["restore", str(tmp_path / "nope.tar.gz")])
    assert r.exit_code != 0 and "备份文件不存在" in r.output
    with filled.app_context():  # audit rows are data too: they survive in the dump
        with tarfile.open(tmp_path / made[0]) as tar:
            rows = json.loads(tar.extractfile("db/audit_entry.json").read())["rows"]
        assert len(rows) == db.session.execute(db.select(db.func.count()).select_from(AuditEntry)).scalar_one() > 0


# --- backup directories ---------------------------------------------------------------------

def dir_files(root):
    return {os.path.relpath(os.path.join(b, n), root).replace(os.sep, "/")
            for b, _d, files in os.walk(root) for n in files}


def test_backup_directory_round_trip(filled, runner, tmp_path, reseed_if_empty):
    """`flask backup DIR` writes a plain directory (manifest, db/, uploads/); `flask restore DIR`
    brings everything back byte-identical."""
    app = filled
    target = tmp_path / "nightly"
    r = runner.invoke(args=["backup", str(target)])
    assert r.exit_code == 0, r.output
    assert "已写入备份" in r.output and str(target) in r.output
    manifest = json.loads((target / "manifest.json").read_text("utf-8"))
    assert dir_files(target) == {"manifest.json"} | {m["path"] for m in manifest["members"]}
    for m in manifest["members"]:
        data = (target / m["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == m["sha256"] and len(data) == m["size"]
    assert {f"uploads/{rel}" for rel in UPLOADS} <= {m["path"] for m in manifest["members"]}
    assert not list(tmp_path.glob("*.part"))  # written aside, then renamed into place

    # a second backup into the now non-empty directory gets a dated sub-directory
    r = runner.invoke(args=["backup", str(target)])
    assert r.exit_code == 0, r.output
    nested = [p for p in os.listdir(target) if p.startswith("wizard-backup-")]
    assert len(nested) == 1 and (target / nested[0] / "manifest.json").is_file()
    import shutil

    shutil.rmtree(target / nested[0])  # restore refuses files the manifest does not list

    with app.app_context():
        before = state_of_everything()
        wipe(app)
    r = runner.invoke(args=["restore", str(target)])
    assert r.exit_code == 0, r.output
    with app.app_context():
        assert state_of_everything() == before
    assert upload_bytes(app.config["UPLOAD_FOLDER"]) == UPLOADS


def _flip_last_byte(path):
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))


@pytest.mark.parametrize("damage,message", [
    (lambda d: _flip_last_byte(d / "uploads" / "ab" / "evidence-1.pdf"), "校验失败"),
    (lambda d: _flip_last_byte(d / "db" / "submission.json"), "校验失败"),
    (lambda d: (d / "uploads" / "cd" / "photo.png").unlink(), "缺少"),
    (lambda d: (d / "uploads" / "planted.sh").write_bytes(b"boo"), "清单之外"),
    (lambda d: (d / "manifest.json").unlink(), "manifest.json"),
])
def test_damaged_backup_directory_is_refused_and_changes_nothing(filled, runner, tmp_path, reseed_if_empty,
                                                                  damage, message):
    app = filled
    target = tmp_path / "b"
    assert runner.invoke(args=["backup", str(target)]).exit_code == 0
    damage(target)
    with app.app_context():
        wipe(app)
    r = runner.invoke(args=["restore", "--force", str(target)])
    assert r.exit_code != 0 and message in r.output and "拒绝恢复" in r.output, r.output
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Submission)).scalar_one() == 0
    assert upload_bytes(app.config["UPLOAD_FOLDER"]) == {}


def test_backup_needs_exactly_one_target(filled, runner, tmp_path):
    r = runner.invoke(args=["backup"])
    assert r.exit_code != 0 and "备份目录" in r.output
    r = runner.invoke(args=["backup", str(tmp_path / "x"), "-o", str(tmp_path / "y.tar.gz")])
    assert r.exit_code != 0
    r = runner.invoke(args=["backup", str(tmp_path / "named.tar.gz")])  # a positional .tar.gz is an archive
    assert r.exit_code == 0 and tarfile.is_tarfile(tmp_path / "named.tar.gz")


# --- backup while the app keeps writing -----------------------------------------------------

PAIRS_PER_FILE = 3  # the file writer stores one evidence file per this many committed pairs


def test_backup_under_concurrent_writes_is_consistent(filled, runner, tmp_path, reseed_if_empty):
    """Writers keep committing (a history row and a message in one transaction, and evidence files)
    while `flask backup DIR` runs.  The backup is paused between reading the two tables of a pair
    until more pairs have been committed: with one snapshot for the whole dump no pair is torn.
    After a restore into a wiped database every row committed before the backup is there, no row
    points at a missing parent and every file's SHA-256 matches.  The file writer ends its
    transaction after each file and takes turns with the pair writers (one file per PAIRS_PER_FILE
    pairs, synchronised on their progress, no sleeping): before, it kept SQLite's write lock between
    its files and starved them (a 14 s backup of hundreds of files)."""
    import threading

    import sqlalchemy as sa

    from factories import LINXIANG, attach, pdf_bytes
    from wizard.evidence.storage import DECLARATION_SCAN
    from wizard.models import EvidenceFile, Message

    app = filled
    with app.app_context():
        sid, other_sid = submission_of(ALLOY).id, submission_of(LINXIANG).id
        admin_id = user("admin").id
        order = [t.name for t in db.metadata.sorted_tables]
    later = max(("history_entry", "message"), key=order.index)  # read second of the pair

    stop, lock = threading.Event(), threading.Condition()  # lock: notified at every committed pair
    committed, files, errors = [], [], []
    progress, file_progress = threading.Semaphore(0), threading.Semaphore(0)

    def pairs(n):
        with app.app_context():
            try:
                i = 0
                while not stop.is_set():
                    i += 1
                    tag = f"pair-{n}-{i}"
                    target = sid if i % 2 else other_sid
                    db.session.add(HistoryEntry(submission_id=target, user_id=admin_id, role="admin", move="deadline",
                                                from_state="preliminary", to_state="preliminary", comment=tag))
                    db.session.add(Message(user_id=admin_id, submission_id=target, text=tag))
                    db.session.commit()
                    with lock:
                        committed.append(tag)
                        lock.notify_all()
                    progress.release()
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    def uploads():
        with app.app_context():
            try:
                i = 0
                while not stop.is_set():
                    i += 1
                    with lock:  # the pairs' turn first
                        turn = len(committed) + PAIRS_PER_FILE
                        lock.wait_for(lambda: len(committed) >= turn or stop.is_set() or errors, timeout=60)
                    if stop.is_set():
                        break
                    row = attach(db.session.get(Submission, sid), DECLARATION_SCAN, data=pdf_bytes(1, f"scan {i}"))
                    with lock:
                        files.append((row.stored_name, row.sha256))
                    # reading the row back began a transaction: end it (on SQLite it is BEGIN
                    # IMMEDIATE, wizard/dbsetup.py: it holds the write lock until it ends)
                    db.session.rollback()
                    file_progress.release()
            except Exception as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    main_thread = threading.get_ident()
    paused = {"done": False, "during": 0}

    def pause_between_tables(conn, cursor, statement, parameters, context, executemany):
        """In the backup's transaction, before it reads the second table of the pair: let the
        writers commit more pairs (synchronised on their progress, no sleeping)."""
        if paused["done"] or threading.get_ident() != main_thread or not statement.lstrip().upper().startswith("SELECT"):
            return
        if f"FROM {later}" not in statement and f'FROM "{later}"' not in statement:
            return
        paused["done"] = True
        with lock:
            start = len(committed)
        while True:
            assert progress.acquire(timeout=60), "writers stopped making progress"
            with lock:
                if len(committed) - start >= 6:
                    paused["during"] = len(committed) - start
                    return

    threads = [threading.Thread(target=pairs, args=(n,)) for n in range(2)] + [threading.Thread(target=uploads)]
    for t in threads:
        t.start()
    try:
        for _ in range(12):  # some work is committed before the backup starts
            assert progress.acquire(timeout=60), errors
        for _ in range(2):
            assert file_progress.acquire(timeout=60), errors
        with lock:
            before_pairs, before_files = set(committed), list(files)
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", pause_between_tables)
        try:
            r = runner.invoke(args=["backup", str(tmp_path / "live")])
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", pause_between_tables)
    finally:
        stop.set()
        with lock:
            lock.notify_all()
        for t in threads:
            t.join(timeout=120)
    assert not errors, errors
    assert r.exit_code == 0, r.output
    assert paused["done"] and paused["during"] >= 6  # the writers really wrote in the middle of the dump
    assert before_pairs and before_files

    with app.app_context():
        wipe(app)
    r = runner.invoke(args=["restore", str(tmp_path / "live")])
    assert r.exit_code == 0, r.output

    with app.app_context():
        history = {h.comment for h in db.session.execute(
            db.select(HistoryEntry).where(HistoryEntry.comment.like("pair-%"))).scalars()}
        messages = {m.text for m in db.session.execute(
            db.select(Message).where(Message.text.like("pair-%"))).scalars()}
        assert before_pairs <= history and before_pairs <= messages  # nothing committed earlier is lost
        assert history == messages, sorted(history ^ messages)[:5]  # no pair torn by the snapshot
        # foreign keys: no child row without its parent
        for child, col in ((HistoryEntry, HistoryEntry.submission_id), (Message, Message.submission_id),
                           (EvidenceFile, EvidenceFile.submission_id)):
            orphans = db.session.execute(
                db.select(db.func.count()).select_from(child).outerjoin(Submission, Submission.id == col)
                .where(col.is_not(None), Submission.id.is_(None))).scalar_one()
            assert orphans == 0, child.__tablename__
        rows = db.session.execute(db.select(EvidenceFile)).scalars().all()
    restored = upload_bytes(app.config["UPLOAD_FOLDER"])
    assert {name for name, _ in before_files} <= {r.stored_name for r in rows}
    for row in rows:  # every file of the restored database is there, byte for byte
        assert row.stored_name in restored, row.stored_name
        assert hashlib.sha256(restored[row.stored_name]).hexdigest() == row.sha256
    for name, digest in before_files:
        assert hashlib.sha256(restored[name]).hexdigest() == digest


# --- signed manifest ------------------------------------------------------------------------

def _rewrite_backup(path, change_member=None, change_manifest=None):
    """Rewrite a backup (archive or directory) the way someone with write access to it would:
    change a member, recompute its SHA-256 and size in the manifest, and/or edit the manifest."""
    members = {}
    if path.is_dir():
        for rel in dir_files(path):
            members[rel] = (path / rel).read_bytes()
    else:
        with tarfile.open(path) as tar:
            members = {info.name: tar.extractfile(info).read() for info in tar.getmembers()}
    manifest = json.loads(members.pop("manifest.json"))
    if change_member:
        name, change = change_member
        members[name] = change(members[name])
        for m in manifest["members"]:
            if m["path"] == name:
                m["sha256"], m["size"] = hashlib.sha256(members[name]).hexdigest(), len(members[name])
    if change_manifest:
        change_manifest(manifest)
    members["manifest.json"] = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
    if path.is_dir():
        for rel, data in members.items():
            (path / rel).write_bytes(data)
    else:
        with tarfile.open(path, "w:gz") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def _make_admin(data):
    """db/user.json with applicant-a turned into an administrator."""
    doc = json.loads(data)
    for row in doc["rows"]:
        if row["username"] == "applicant-a":
            row["role"], row["cluster_id"] = "admin", None
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _changed_since_backup(app):
    """Change the data after the backup, so a restore that went ahead would show; returns the
    state (database and upload files) that a refused restore must leave exactly as it is."""
    with app.app_context():
        submission_of(ALLOY).preliminary_answers = {"industry_field": "备份之后的修改"}
        db.session.commit()
    extra = os.path.join(app.config["UPLOAD_FOLDER"], "ef", "after-backup.pdf")
    os.makedirs(os.path.dirname(extra), exist_ok=True)
    with open(extra, "wb") as fh:
        fh.write(b"%PDF-1.4 later\n")
    return _everything(app)


def _everything(app):
    with app.app_context():
        db.session.rollback()
        return state_of_everything(), upload_bytes(app.config["UPLOAD_FOLDER"])


def _backup(runner, tmp_path, kind, *extra):
    target = tmp_path / ("b.tar.gz" if kind == "archive" else "b")
    r = runner.invoke(args=["backup", str(target), *extra])
    assert r.exit_code == 0, r.output
    return target


@pytest.mark.parametrize("kind", ["archive", "directory"])
def test_rewritten_member_with_recomputed_hashes_is_refused(filled, runner, tmp_path, reseed_if_empty, kind):
    """The review's attack: db/user.json rewritten (applicant-a made an administrator) and its
    SHA-256 recomputed in the manifest.  The signature no longer matches: nothing is restored."""
    app = filled
    backup = _backup(runner, tmp_path, kind)
    _rewrite_backup(backup, change_member=("db/user.json", _make_admin))
    before = _changed_since_backup(app)
    r = runner.invoke(args=["restore", "--force", str(backup)])
    assert r.exit_code != 0
    assert "签名无效" in r.output and "拒绝恢复" in r.output and "未做任何更改" in r.output, r.output
    assert _everything(app) == before
    with app.app_context():
        assert user("applicant-a").role == "applicant"


@pytest.mark.parametrize("kind", ["archive", "directory"])
def test_unsigned_backup_is_refused_unless_trusted(filled, runner, tmp_path, reseed_if_empty, kind):
    app = filled
    backup = _backup(runner, tmp_path, kind)
    with app.app_context():
        wanted = state_of_everything()
    _rewrite_backup(backup, change_manifest=lambda m: m.pop("signature", None))  # like a backup of the old format
    before = _changed_since_backup(app)
    r = runner.invoke(args=["restore", "--force", str(backup)])
    assert r.exit_code != 0
    assert "没有签名" in r.output and "拒绝恢复" in r.output and "--trust-unsigned" in r.output, r.output
    assert _everything(app) == before

    r = runner.invoke(args=["restore", "--force", "--trust-unsigned", str(backup)])
    assert r.exit_code == 0, r.output
    assert "没有有效签名" in r.output  # the operator is told what was skipped
    assert _everything(app) == (wanted, UPLOADS)


def test_wrong_key_is_refused_and_the_right_key_restores(filled, runner, tmp_path, reseed_if_empty):
    """Signed with a key file: another key file, or the SECRET_KEY, is refused; the same key file
    restores.  Signed with the SECRET_KEY: another SECRET_KEY is refused."""
    app = filled
    key, other = tmp_path / "backup.key", tmp_path / "other.key"
    key.write_text("9f2c4e1a7b3d5f60a8c2e4b6d8f0a1c3\n")
    other.write_text("0000000000000000000000000000000000000000\n")
    backup = _backup(runner, tmp_path, "archive", "--key-file", str(key))
    with tarfile.open(backup) as tar:
        signature = json.loads(tar.extractfile("manifest.json").read())["signature"]
    assert signature["algorithm"] == "HMAC-SHA256" and len(signature["value"]) == 64
    with app.app_context():
        wanted = state_of_everything()
    before = _changed_since_backup(app)
    for args in (["--key-file", str(other)], []):
        r = runner.invoke(args=["restore", "--force", *args, str(backup)])
        assert r.exit_code != 0 and "签名无效" in r.output, r.output
        assert _everything(app) == before
    r = runner.invoke(args=["restore", "--force", "--key-file", str(key), str(backup)])
    assert r.exit_code == 0, r.output
    assert _everything(app) == (wanted, UPLOADS)

    by_secret = _backup(runner, tmp_path / "s", "directory")
    app.config["SECRET_KEY"] = "another-secret-key"
    r = runner.invoke(args=["restore", "--force", str(by_secret)])
    assert r.exit_code != 0 and "签名无效" in r.output
    app.config["SECRET_KEY"] = "test-secret"
    assert runner.invoke(args=["restore", "--force", str(by_secret)]).exit_code == 0


def test_short_or_missing_key_file_is_refused(filled, runner, tmp_path):
    short = tmp_path / "short.key"
    short.write_text("abc")
    r = runner.invoke(args=["backup", str(tmp_path / "b"), "--key-file", str(short)])
    assert r.exit_code != 0 and "太短" in r.output and not (tmp_path / "b").exists()
    r = runner.invoke(args=["restore", "--key-file", str(tmp_path / "nope.key"), str(tmp_path / "b")])
    assert r.exit_code != 0 and "无法读取密钥文件" in r.output
