"""Operations findings of the security review: temporary files left by interrupted writes are
removed (`flask cleanup`, and wizard.ops.maintenance.remove_partial_files at start-up), without
touching a write still in progress or anything outside the configured folders."""
import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

import pytest

from wizard.ops.maintenance import remove_partial_files

HOUR_AGO = time.time() - 3600


def write(path: Path, size: int, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def leftovers(app, tmp_path):
    """What killed workers leave behind, next to what must stay."""
    uploads, cache = Path(app.config["UPLOAD_FOLDER"]), Path(app.config["PDF_CACHE_FOLDER"])
    outside = tmp_path / "outside"
    stale = [  # an evidence upload killed before its rename; one in a sub-folder; PDF cache writes
        write(uploads / f"{secrets.token_hex(16)}.part", 300_000, HOUR_AGO),
        write(uploads / "ab" / f"{secrets.token_hex(16)}.part", 20_000, HOUR_AGO),
        write(cache / f"{'c' * 64}.pdf.4242.tmp", 7_000, HOUR_AGO),
        write(cache / f"{'d' * 64}.pdf.part", 1_000, HOUR_AGO),
    ]
    keep = [
        write(uploads / f"{secrets.token_hex(16)}.part", 50_000),  # another worker's upload, in progress
        write(uploads / secrets.token_hex(16), 10_000),  # a stored evidence file (recent: orphans, see test_orphan_files.py)
        write(uploads / "notes.partial", 100, HOUR_AGO),
        write(cache / f"{'e' * 64}.pdf", 5_000, HOUR_AGO),  # a cached PDF
        write(outside / "victim.part", 4_000, HOUR_AGO),  # outside the folders, reached by links only
        write(outside / "dir" / "deep.part", 4_000, HOUR_AGO),
    ]
    (uploads / "link.part").symlink_to(outside / "victim.part")
    (uploads / "linked-dir").symlink_to(outside / "dir", target_is_directory=True)
    (cache / "linked.part").symlink_to(outside / "victim.part")
    return {"stale": stale, "keep": keep, "links": [uploads / "link.part", uploads / "linked-dir",
                                                   cache / "linked.part"]}


def test_cleanup_command_removes_stale_partial_files_only(app, runner, leftovers):
    stale_bytes = sum(p.stat().st_size for p in leftovers["stale"])
    r = runner.invoke(args=["cleanup"])
    assert r.exit_code == 0, r.output
    assert f"已删除 {len(leftovers['stale'])} 个中断写入留下的临时文件" in r.output
    assert f"（{stale_bytes} 字节）" in r.output and "320.3 KB" in r.output
    assert [p for p in leftovers["stale"] if p.exists()] == []
    assert [p for p in leftovers["keep"] if not p.exists()] == []  # in-progress upload, real files, outside
    assert all(p.is_symlink() for p in leftovers["links"])  # links neither followed nor removed

    r = runner.invoke(args=["cleanup"])
    assert r.exit_code == 0 and "没有需要清理的临时文件" in r.output


def test_cleanup_age_threshold(app, runner, leftovers):
    """The fresh upload survives the default threshold; --older-than 0 takes it too."""
    fresh = leftovers["keep"][0]
    assert runner.invoke(args=["cleanup"]).exit_code == 0
    assert fresh.exists()
    r = runner.invoke(args=["cleanup", "--older-than", "0"])
    assert r.exit_code == 0 and "已删除 1 个" in r.output
    assert not fresh.exists() and all(p.exists() for p in leftovers["keep"][1:])


def test_remove_partial_files_reports_count_and_bytes(app, leftovers):
    expected = (len(leftovers["stale"]), sum(p.stat().st_size for p in leftovers["stale"]))
    assert remove_partial_files(app, older_than=timedelta(minutes=10)) == expected
    assert remove_partial_files(app) == (0, 0)
    assert leftovers["keep"][0].exists()


def test_remove_partial_files_without_folders(app):
    """A fresh installation has no uploads folder or PDF cache yet: nothing to do, no error."""
    assert not os.path.exists(app.config["UPLOAD_FOLDER"])
    assert remove_partial_files(app) == (0, 0)
