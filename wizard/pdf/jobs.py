"""One report PDF render as plain data, and the cache files it produces.

No Flask, no database, no PDF engine: a :class:`RenderJob` carries everything the render needs
(the HTML already made by Jinja in the request, the paths of the evidence files, the font and
the cache file to write), so it can be pickled onto the render queue (:mod:`wizard.pdf.queue`)
and rendered by a consumer (:mod:`wizard.pdf.worker`, whose render process runs
:mod:`wizard.pdf.render`).  Page workers import this module, never the engine.

The cache folder holds, per key (see docs/pdf-engine.md):

* ``<key>.pdf``: the finished PDF;
* ``<key>.failed``: the last render failed; a Chinese sentence for the page that says so.

Whether a render is queued or running is kept in the queue's storage, not in a file: a
consumer killed mid-render leaves no lock behind (its record's heartbeat stops).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

#: What the failure page says when the cause is not one the user can act on.
GENERIC_FAILURE = "生成报告 PDF 时出错，详细原因已记录在系统日志中。请稍后重试；如仍失败，请联系管理员。"
MISSING_FILE = "佐证材料文件缺失，无法生成报告，请联系管理员。"
#: A render stopped by its overall time limit (RENDER_TIME_LIMIT, binding included).
TIMED_OUT = "生成报告 PDF 超过了时间上限，已停止。请稍后点击“重新生成”；如仍失败，请联系管理员。"
#: A render whose process died twice (a consumer killed, the memory limit): not tried a third time.
INTERRUPTED = "生成报告 PDF 的进程两次中断，已停止重试。请稍后点击“重新生成”；如仍失败，请联系管理员。"


@dataclass(frozen=True)
class Evidence:
    """One evidence file to bind: its stored path, kind ('pdf', 'png', 'jpeg') and name."""

    path: str
    kind: str
    label: str


@dataclass(frozen=True)
class RenderJob:
    """Everything one render needs, as plain data (picklable)."""

    key: str  # the cache file's name without ".pdf"
    folder: str  # the cache folder
    html: str
    static_root: str | None = None
    font_path: str | None = None
    watermark: str | None = None
    evidence: tuple = field(default_factory=tuple)  # of Evidence, in appendix order
    stamp_format: str = "- {n} -"
    outline_title: str = "佐证材料"
    slot: str | None = None  # the submission and round of a draft: a newer job of the slot replaces this one
    draft_prefix: str | None = None  # the names of this slot's draft files (only the newest is kept)


@dataclass(frozen=True)
class CachePaths:
    key: str
    pdf: str
    failed: str


def cache_paths(folder: str, key: str) -> CachePaths:
    base = os.path.join(folder, key)
    return CachePaths(key, f"{base}.pdf", f"{base}.failed")


@dataclass(frozen=True)
class RenderResult:
    """What the render process reports back: who rendered, how long, how large."""

    key: str
    pid: int
    seconds: float
    size: int
    peak_rss_mb: float  # the render process's peak resident memory so far
    cpu_seconds: float  # CPU time of the render (on a busy machine, what it would take alone)
    folder: str = ""
    #: "" when the Chinese font was embedded; else what the administrator is told (fonts.FontStatus)
    font_message: str = ""
    #: when the render process took the job and when its file was in place (time.time(): what
    #: benchmarks/bench_pdf.py splits a cold download's time by)
    started_at: float = 0.0
    written_at: float = 0.0


def write_atomically(path: str, data: bytes | Callable[[BinaryIO], object]) -> None:
    """Write ``data`` (bytes, or a function writing into the open file) to ``path`` through a
    temporary file renamed into place (readers see the whole file or none; ``ops/maintenance``
    removes the temporaries a killed process leaves)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        remove_file(tmp)
        raise


def write_failure(path: str, message: str) -> None:
    """The ``.failed`` marker with the sentence the page shows."""
    write_atomically(path, json.dumps({"message": message}, ensure_ascii=False).encode())


def read_failure(path: str) -> str | None:
    """The sentence of a ``.failed`` marker, or None when there is none."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh).get("message") or GENERIC_FAILURE
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return GENERIC_FAILURE


def remove_file(path: str) -> None:
    """Remove ``path``; one already gone is fine (another process cleaned up first)."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
