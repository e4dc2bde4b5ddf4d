"""What the PDF cache keeps: the newest draft PDF per submission and round, the stored PDFs of
submitted reports and snapshots, all within a total size (PDF_CACHE_MAX_MB), the least
recently used evicted first (a stored PDF evicted is rendered again, from its snapshot, when
it is asked for).  "Used": the access time the page worker sets when it sends a file
(wizard/pdf/queue.used); the modification time stays the render's.

Draft files are named ``draft-<submission>-<round>-<digest>.pdf`` (wizard/pdf/report.py), so
the drafts of one submission and round are found by their prefix.  Called by the consumer
after each render and by ``flask cleanup`` (which reports what it freed).  No Flask here.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from .jobs import remove_file

DRAFT = re.compile(r"\A(draft-\d+-[a-z]+-)[0-9a-f]+\.pdf\Z")
MARKERS = (".pdf", ".failed")


@dataclass
class Freed:
    files: int = 0
    bytes: int = 0

    def add(self, other: "Freed") -> "Freed":
        return Freed(self.files + other.files, self.bytes + other.bytes)


def _entries(folder: str) -> list[os.DirEntry]:
    try:
        return [e for e in os.scandir(folder) if e.is_file(follow_symlinks=False) and e.name.endswith(MARKERS)]
    except FileNotFoundError:
        return []


def _remove(entry: os.DirEntry) -> Freed:
    try:
        size = entry.stat(follow_symlinks=False).st_size
        os.remove(entry.path)
    except FileNotFoundError:
        return Freed()
    return Freed(1, size)


def keep_newest_draft(folder: str, prefix: str, key: str) -> Freed:
    """Remove the other drafts of ``prefix``'s submission and round (just rendered: ``key``)."""
    freed = Freed()
    for entry in _entries(folder):
        if entry.name.startswith(prefix) and not entry.name.startswith(key + "."):
            freed = freed.add(_remove(entry))
    return freed


def older_drafts(folder: str) -> Freed:
    """Every draft but the newest (by render time) of each submission and round."""
    newest: dict[str, tuple[int, str]] = {}
    drafts = []
    for entry in _entries(folder):
        match = DRAFT.match(entry.name)
        if match:
            drafts.append((match.group(1), entry))
            stamp = (entry.stat().st_mtime_ns, entry.name)
            newest[match.group(1)] = max(newest.get(match.group(1), stamp), stamp)
    freed = Freed()
    for prefix, entry in drafts:
        if entry.name != newest[prefix][1]:
            freed = freed.add(_remove(entry))
    return freed


def within(folder: str, max_bytes: int, keep: str | None = None) -> Freed:
    """Evict the least recently used PDFs until the folder holds ``max_bytes`` at most;
    ``keep``: a file just rendered, never evicted by its own render."""
    files = []
    for entry in _entries(folder):
        if entry.name.endswith(".pdf") and entry.name != keep:
            st = entry.stat(follow_symlinks=False)
            files.append((st.st_atime_ns, entry.name, st.st_size, entry))
    total = sum(e.stat().st_size for e in _entries(folder))
    freed = Freed()
    for _used, _name, _size, entry in sorted(files, key=lambda f: f[:2]):
        if total <= max_bytes:
            break
        done = _remove(entry)
        remove_file(entry.path[:-4] + ".failed")
        total -= done.bytes
        freed = freed.add(done)
    return freed


def tidy(folder: str, max_bytes: int) -> Freed:
    """``flask cleanup``: older drafts out, then the bound."""
    return older_drafts(folder).add(within(folder, max_bytes))
