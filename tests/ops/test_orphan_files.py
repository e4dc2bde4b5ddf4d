"""Issue #22, item 9: evidence files no row references (a worker killed between writing the file
and committing its row, or between deleting the row and the file) are found and removed by
``flask cleanup`` once older than its grace period, and reported; referenced files, young files
and anything the storage did not name are left alone."""
import os
import time
from pathlib import Path

import pytest

from builders import pdf_bytes
from factories import ALLOY, attach, submission_of
from wizard.extensions import db
from wizard.models import EvidenceFile

TWO_HOURS_AGO = time.time() - 2 * 3600


def age(path: Path, when=TWO_HOURS_AGO) -> Path:
    os.utime(path, (when, when))
    return path


@pytest.fixture
def uploads(app, people):
    """Two real stored files with rows, then the row of one deleted as a crash after the
    deletion's commit would leave it: a real orphan, besides a fresh one and a foreign file."""
    folder = Path(app.config["UPLOAD_FOLDER"])
    with app.app_context():
        sub = submission_of(ALLOY)
        kept = attach(sub, "listed_enterprises", name="上市公告.pdf", data=pdf_bytes(2))
        gone = attach(sub, "listed_enterprises", name="挂牌证书.pdf", data=pdf_bytes(3))
        young = attach(sub, "listed_enterprises", name="刚上传.pdf", data=pdf_bytes(1))
        names = kept.stored_name, gone.stored_name, young.stored_name
        db.session.execute(db.delete(EvidenceFile).where(EvidenceFile.id.in_([gone.id, young.id])))
        db.session.commit()
    kept_path, orphan, fresh = (folder / n for n in names)
    age(kept_path), age(orphan)  # the young orphan keeps its mtime: an upload that may still commit
    foreign = age(folder / "README.txt") if (folder / "README.txt").write_text("运维说明") else None
    return {"kept": kept_path, "orphan": orphan, "fresh": fresh, "foreign": foreign}


def test_cleanup_removes_and_reports_orphans_older_than_the_grace(app, runner, uploads):
    size = uploads["orphan"].stat().st_size
    r = runner.invoke(args=["cleanup"])
    assert r.exit_code == 0, r.output
    assert "已删除 1 个没有任何记录引用的佐证材料文件" in r.output and f"（{size} 字节）" in r.output
    assert uploads["orphan"].name in r.output
    assert not uploads["orphan"].exists()
    assert uploads["kept"].exists() and uploads["fresh"].exists() and uploads["foreign"].exists()
    # the file that has a row is still the report's file
    with app.app_context():
        row = db.session.execute(db.select(EvidenceFile)).scalar_one()
        assert row.stored_name == uploads["kept"].name
    # a second run finds nothing more; with no grace the young orphan goes too
    assert "没有任何记录引用" not in runner.invoke(args=["cleanup"]).output
    r = runner.invoke(args=["cleanup", "--orphans-older-than", "0"])
    assert "已删除 1 个没有任何记录引用" in r.output and not uploads["fresh"].exists() and uploads["kept"].exists()


def test_a_link_named_like_a_stored_file_is_neither_followed_nor_removed(app, runner, uploads, tmp_path):
    target = tmp_path / "outside.pdf"
    target.write_bytes(b"%PDF-1.4 outside")
    link = Path(app.config["UPLOAD_FOLDER"]) / ("f" * 32)
    link.symlink_to(target)
    runner.invoke(args=["cleanup", "--orphans-older-than", "0"])
    assert link.is_symlink() and target.exists()


CRASH_SCRIPT = r"""
import os, signal, sys
sys.path.insert(0, {tests!r})
from sqlalchemy import event
from builders import pdf_bytes
from factories import ALLOY, submission_of
from wizard import create_app
from wizard.evidence.storage import store
from wizard.extensions import db

app = create_app({config!r})
with app.app_context():
    @event.listens_for(db.engine, "before_cursor_execute")
    def die_at_the_row(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO EVIDENCE_FILE"):
            os.kill(os.getpid(), signal.SIGKILL)  # the file is in place; its row never commits
    store(submission_of(ALLOY), "preliminary", "listed_enterprises", "断电前.pdf", pdf_bytes(2), None,
          check_editable=False)
print("not killed")
"""


def test_a_worker_killed_between_file_and_row_leaves_an_orphan_that_cleanup_removes(app, runner, people):
    """A real kill -9 of a process storing a file, at the moment its row is inserted."""
    import subprocess
    import sys

    tests = str(Path(__file__).resolve().parents[1])
    config = {"TESTING": True, "SECRET_KEY": "test-secret", "INSTANCE_PATH": app.instance_path,
              "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
              "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"], "PDF_CACHE_FOLDER": app.config["PDF_CACHE_FOLDER"]}
    with app.app_context():
        db.session.remove()  # no lock of ours in the way (SQLite)
    done = subprocess.run([sys.executable, "-c", CRASH_SCRIPT.format(tests=tests, config=config)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stdout + done.stderr
    folder = Path(app.config["UPLOAD_FOLDER"])
    [orphan] = [p for p in folder.iterdir() if p.is_file() and len(p.name) == 32]
    with app.app_context():
        assert db.session.execute(db.select(EvidenceFile)).first() is None
    assert "没有任何记录引用" not in runner.invoke(args=["cleanup"]).output  # within the grace: kept
    age(orphan)
    r = runner.invoke(args=["cleanup"])
    assert r.exit_code == 0 and "已删除 1 个没有任何记录引用" in r.output and orphan.name in r.output
    assert not orphan.exists()
