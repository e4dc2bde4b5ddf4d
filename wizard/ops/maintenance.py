"""Housekeeping: remove the temporary files an interrupted write leaves behind.

Evidence files are written as ``<name>.part`` and renamed into place (wizard/evidence/storage.py); the
PDF cache writes ``<key>.pdf.<pid>.tmp`` and renames it (wizard/pdf/report.py).  A worker
killed in between (kill -9, OOM, power loss) leaves the temporary file for ever: nothing else
refers to it.  ``remove_partial_files`` deletes them, but only those not modified for a while,
so a worker starting beside another worker's upload in progress does not delete it.

Only regular files inside the configured folders are touched.  The walk does not follow
symbolic links (a link inside the folders is neither followed nor deleted), and files are
examined and removed relative to their directory's descriptor (``os.fwalk``), so a directory
swapped for a link during the walk cannot lead the removal out of the folders.  The folders
themselves come from the configuration and may be links (e.g. to a data volume).
"""
from __future__ import annotations

import os
import re
import stat
import time
from datetime import timedelta

from ..pdf import cache as pdf_cache

PARTIAL_SUFFIX = ".part"
PDF_CACHE_TEMP = re.compile(r"\.(pdf|failed)\.\d+\.tmp\Z")  # wizard/pdf/jobs.py: f"{path}.{os.getpid()}.tmp"
DEFAULT_AGE = timedelta(minutes=10)


def _is_partial(name: str, in_pdf_cache: bool) -> bool:
    return name.endswith(PARTIAL_SUFFIX) or (in_pdf_cache and PDF_CACHE_TEMP.search(name) is not None)


def _folders(app) -> list[tuple[str, bool]]:
    """(resolved folder, is the PDF cache) for each configured folder that exists, once each."""
    out, seen = [], set()
    for key in ("UPLOAD_FOLDER", "PDF_CACHE_FOLDER"):
        folder = app.config.get(key)
        if not folder:
            continue
        real = os.path.realpath(folder)
        if real in seen or not os.path.isdir(real):
            continue
        seen.add(real)
        out.append((real, key == "PDF_CACHE_FOLDER"))
    return out


def _remove_stale(name: str, dir_fd: int, cutoff: float) -> int | None:
    """Remove one candidate if it is a regular file older than ``cutoff``; its size, or None."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode) or st.st_mtime > cutoff:
            return None
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:  # renamed into place or removed by someone else meanwhile
        return None
    return st.st_size


def _sweep(folder: str, in_pdf_cache: bool, cutoff: float, logger) -> tuple[int, int]:
    count = size = 0
    for root, _dirs, files, dir_fd in os.fwalk(folder, follow_symlinks=False):
        for name in files:
            if not _is_partial(name, in_pdf_cache):
                continue
            try:
                removed = _remove_stale(name, dir_fd, cutoff)
            except OSError as exc:
                logger.warning("could not remove partial file %s: %s", os.path.join(root, name), exc)
                continue
            if removed is not None:
                logger.info("removed partial file %s (%d bytes)", os.path.join(root, name), removed)
                count += 1
                size += removed
    return count, size


def remove_partial_files(app, older_than: timedelta = DEFAULT_AGE) -> tuple[int, int]:
    """Delete the interrupted writes (``*.part``; ``*.pdf.<pid>.tmp`` in the PDF cache) under
    UPLOAD_FOLDER and PDF_CACHE_FOLDER not modified within ``older_than``.
    Returns (files removed, bytes freed)."""
    cutoff = time.time() - older_than.total_seconds()
    count = size = 0
    for folder, in_pdf_cache in _folders(app):
        n, b = _sweep(folder, in_pdf_cache, cutoff, app.logger)
        count += n
        size += b
    return count, size


def format_size(size: int) -> str:
    """A byte count for people: 512 字节, 3.4 KB, 101.0 MB."""
    if size < 1024:
        return f"{size} 字节"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def tidy_pdf_cache(app) -> tuple[int, int]:
    """The PDF cache's rules (wizard/pdf/cache.py): only the newest draft per submission and round,
    the whole within PDF_CACHE_MAX_BYTES (least recently used out first).  (files, bytes) freed."""
    folder = app.config.get("PDF_CACHE_FOLDER")
    if not folder or not os.path.isdir(folder):
        return 0, 0
    freed = pdf_cache.tidy(folder, int(app.config["PDF_CACHE_MAX_BYTES"]))
    if freed.files:
        app.logger.info("PDF cache: removed %d files (%d bytes)", freed.files, freed.bytes)
    return freed.files, freed.bytes
