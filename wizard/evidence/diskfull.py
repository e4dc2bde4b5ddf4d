"""The server's storage is full (issue #22, item 12).

A write that fails with ENOSPC (or a quota's EDQUOT, SQLite's "database or disk is full",
PostgreSQL's disk_full) used to surface as 系统处理请求时出错…请稍后重试 or 生成报告 PDF 时出错, and
users retried in a loop.  The answer now says that the server's storage is full and that the
administrators have been told: an error-level log line, at most once an hour.  The hour is kept
in a stamp file under instance/ (its time is changed with ``os.utime``, which needs no free
space), so all workers of a server log once an hour in all; without the stamp (it could not be
created on the full disk) each process logs at most once an hour.

No audit row: the database may live on the full disk, and a second connection writing while
the request's own transaction holds SQLite's write lock would wait for it.

This module is below the web layer so that the evidence storage, the PDF cache and the CLI can
all use it; the page and the JSON answer are ``web/storage_full.py``'s.
"""
from __future__ import annotations

import errno
import os
import threading
import time
from datetime import timedelta

from flask import current_app

#: errno values that mean "no room to write": the disk, or the account's quota
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: PostgreSQL's SQLSTATE for disk_full
PG_DISK_FULL = "53100"
#: how often the administrators are told while the storage stays full
REPORT_EVERY = timedelta(hours=1)
#: the file under instance/ whose modification time is the last report's
STAMP = "storage-full.stamp"

#: what a user reads (the upload form, the error page, the autosave's status line)
MESSAGE = ("服务器的存储空间已满，本次内容未能保存（此前已保存的内容不受影响）。系统已通知管理员；"
           "请等管理员处理后再试，不必反复重试。")
#: what the PDF's failure page says (the render could not write its file)
PDF_MESSAGE = "服务器的存储空间已满，报告 PDF 未能生成。系统已通知管理员；请等管理员处理后再试，不必反复重试。"

_last_logged = {"at": float("-inf")}
_lock = threading.Lock()


def _chain(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        orig = getattr(exc, "orig", None)  # SQLAlchemy's wrapper of the driver's error
        if orig is not None and id(orig) not in seen:
            yield orig
        exc = exc.__cause__ or exc.__context__


def is_storage_full(exc: BaseException) -> bool:
    """Whether this error (or one it was raised from) means no space was left to write."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in FULL_ERRNOS:
            return True
        if getattr(e, "sqlstate", None) == PG_DISK_FULL:
            return True
        if "database or disk is full" in str(e).lower():  # SQLite's SQLITE_FULL
            return True
    return False


def _due_by_stamp(path: str, now: float) -> bool | None:
    """Whether the stamp says a report is due (and moves it to now), or None without a stamp."""
    try:
        if not os.path.exists(path):
            with open(path, "a"):
                pass
            os.utime(path, (0, 0))
        if now - os.stat(path).st_mtime < REPORT_EVERY.total_seconds():
            return False
        os.utime(path, (now, now))
        return True
    except OSError:
        return None


def report_storage_full(where: str, exc: BaseException | None = None, *, stamp_dir: str | None = None,
                        logger=None) -> bool:
    """Tell the administrators that a write failed for lack of space: an error-level log line, at
    most once an hour (per server with the stamp, else per process).  Returns whether it logged;
    never raises.  Outside the app (the PDF render process) ``stamp_dir`` and ``logger`` are given."""
    now = time.time()
    stamp_dir = stamp_dir if stamp_dir is not None else current_app.instance_path
    logger = logger if logger is not None else current_app.logger
    with _lock:
        due = _due_by_stamp(os.path.join(stamp_dir, STAMP), now)
        if due is None:
            due = now - _last_logged["at"] >= REPORT_EVERY.total_seconds()
        if not due:
            return False
        _last_logged["at"] = now
    logger.error("STORAGE FULL: %s failed (%s). Free space on the server (uploads, PDF cache, "
                             "database); users are told their input was not saved and to wait. "
                             "Logged at most once an hour.", where, exc)
    return True


def reset_reporting() -> None:
    """Forget this process's last report (tests; the stamp file is per instance folder)."""
    with _lock:
        _last_logged["at"] = float("-inf")
