"""The answer when the server's storage is full (issue #22, item 12): a Chinese page (or the
autosave's JSON) saying so and that the administrators have been told, status 507, so users do
not retry in a loop.  The detection and the once-an-hour report are evidence/diskfull.py's.

Used by the error handlers (web/errors.py ``storage_full_response``: any unhandled error whose
cause is a full disk, on any route); a view that catches a failed write itself (the PDF
download's failure page) calls ``storage_full_message`` to report it and say the same.
"""
from __future__ import annotations

from ..evidence.diskfull import MESSAGE, is_storage_full, report_storage_full

__all__ = ["JSON_MESSAGE", "MESSAGE", "STATUS", "TITLE", "is_storage_full", "storage_full_message"]

TITLE = "存储空间已满"
#: HTTP 507 Insufficient Storage
STATUS = 507
#: the autosave's status line: the typed text stays in the page (and the browser's copy)
JSON_MESSAGE = "未保存：服务器的存储空间已满，系统已通知管理员。您填写的内容仍在本页，请不要关闭页面，等管理员处理后再保存。"


def storage_full_message(where: str, exc: BaseException | None = None) -> str:
    """Report the full storage (at most once an hour) and return the sentence for the user."""
    report_storage_full(where, exc)
    return MESSAGE
