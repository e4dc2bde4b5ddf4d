"""Submission deadlines: the round's, or a later one given to one submission."""
from __future__ import annotations

from datetime import datetime

from ..auditlog import record
from ..extensions import db
from ..models import ROLE_ADMIN, HistoryEntry, Submission, User
from ..text import clean_text
from .states import MoveRefused, round_of


def effective_deadline(submission: Submission, round_: str) -> datetime | None:
    base = submission.edition.deadline(round_)
    override = submission.deadline_override
    if override and (base is None or override > base):
        return override
    return base


def extend_deadline(submission: Submission, actor: User, until: datetime, reason: str, address: str = "") -> None:
    """Give one submission a later deadline; recorded in its history and the audit log."""
    reason = clean_text(reason, multiline=True)
    if actor.role != ROLE_ADMIN:
        raise MoveRefused("只有省级管理员可以延长截止时间。")
    if not reason:
        raise MoveRefused("请填写延期原因。")
    submission.deadline_override = until
    record(actor, "deadline", f"submission:{submission.id}",
           f"{round_of(submission.state)}: {until:%Y-%m-%d %H:%M}", address)
    db.session.add(HistoryEntry(submission_id=submission.id, user_id=actor.id, role=actor.role, move="deadline",
                                from_state=submission.state, to_state=submission.state,
                                comment=f"截止时间延长至 {until:%Y-%m-%d %H:%M}：{reason}"))
    db.session.commit()
