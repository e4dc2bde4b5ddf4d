"""Evidence files that no row references (issue #22, item 9).

``evidence.storage.store`` writes the file, renames it into place, then commits its row;
``remove`` commits the deletion of the row, then unlinks the file.  A worker killed between the
two steps (kill -9, OOM, power loss) leaves a file nothing points to: it takes space, is copied by
every backup, and nothing else would ever remove it.  The order is deliberate (a crash never
leaves a row without its file, which would break the report's appendix), so the leftovers are
collected here instead: ``flask cleanup`` removes the stored files that no ``EvidenceFile`` row
names and that have not been modified for a grace period (longer than any upload request), and
reports each one.

Only names the storage itself gives (32 hex digits, directly in UPLOAD_FOLDER) are candidates;
anything else in the folder is left alone, links are neither followed nor removed, and the
removal is made relative to the folder's descriptor.  The files are listed *before* the rows are
read, so a row committed after the listing can only belong to a file younger than the grace.
"""
from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import dataclass
from datetime import timedelta

from ..extensions import db
from ..models import EvidenceFile

#: the names evidence.storage.store gives (secrets.token_hex(16))
STORED_NAME = re.compile(r"[0-9a-f]{32}\Z")
#: files younger than this are never orphans: their upload may still be committing
DEFAULT_GRACE = timedelta(hours=1)
#: how many names one query looks up (bound parameters stay well under every database's limit)
BATCH = 500


@dataclass(frozen=True)
class Orphan:
    name: str
    size: int
    age_minutes: int


def _candidates(folder: str, dir_fd: int, cutoff: float) -> dict[str, os.stat_result]:
    out = {}
    for name in os.listdir(dir_fd):
        if not STORED_NAME.match(name):
            continue
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mtime <= cutoff:
            out[name] = st
    return out


def _referenced(names: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(names), BATCH):
        chunk = names[i:i + BATCH]
        found.update(db.session.execute(
            db.select(EvidenceFile.stored_name).where(EvidenceFile.stored_name.in_(chunk))).scalars())
    return found


def remove_orphan_files(app, older_than: timedelta = DEFAULT_GRACE) -> list[Orphan]:
    """Delete the stored evidence files no row references, unmodified for ``older_than``; each is
    logged at warning level.  Returns what was removed.  Needs an app context."""
    folder = app.config.get("UPLOAD_FOLDER")
    if not folder or not os.path.isdir(folder):
        return []
    now = time.time()
    removed = []
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        candidates = _candidates(folder, dir_fd, now - older_than.total_seconds())
        orphans = sorted(set(candidates) - _referenced(sorted(candidates)))
        for name in orphans:
            st = candidates[name]
            try:
                os.unlink(name, dir_fd=dir_fd)
            except FileNotFoundError:
                continue
            except OSError as exc:
                app.logger.warning("could not remove orphan evidence file %s: %s", os.path.join(folder, name), exc)
                continue
            app.logger.warning("removed orphan evidence file %s (%d bytes, no row references it)",
                               os.path.join(folder, name), st.st_size)
            removed.append(Orphan(name, st.st_size, int((now - st.st_mtime) // 60)))
    finally:
        os.close(dir_fd)
    return removed
