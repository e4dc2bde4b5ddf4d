"""Submission deadlines: each round's (set on the edition by administrators), or a later one
given to one submission.  Deadlines are Beijing wall-clock times, as the department announces
them; every change writes an audit row (and, for a submission, a history row)."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from ..auditlog import record
from ..extensions import db
from ..models import ROLE_ADMIN, Edition, HistoryEntry, Submission, User
from ..report.model import ROUND_LABELS
from ..text import clean_text
from .states import STATES, MoveRefused, round_of, state_label

#: how far ahead the example in a deadline field's hint lies
EXAMPLE_DAYS = 14
#: the ways a deadline may be typed (the datetime-local field's, by hand, a date alone)
DATETIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def effective_deadline(submission: Submission, round_: str) -> datetime | None:
    base = submission.edition.deadline(round_)
    override = submission.deadline_override
    if override and (base is None or override > base):
        return override
    return base


def extended_from(submission: Submission, round_: str) -> datetime | None:
    """The round's own deadline when this submission was given a later one (延期), else None."""
    base = submission.edition.deadline(round_)
    override = submission.deadline_override
    return base if override and base and override > base else None


def deadline_text(submission: Submission, round_: str) -> str:
    """The deadline as the applicant reads it, saying when it is an extension (已延期)."""
    deadline = effective_deadline(submission, round_)
    if deadline is None:
        return ""
    base = extended_from(submission, round_)
    text = f"{deadline:%Y年%m月%d日 %H:%M}"
    return text + (f"（已为本申报延期，原截止时间为 {base:%Y年%m月%d日 %H:%M}）" if base else "")


def example_deadline(now: datetime) -> str:
    """A deadline example for a hint, two weeks after ``now`` at 18:00: never in the past."""
    return f"{datetime.combine(now.date() + timedelta(days=EXAMPLE_DAYS), time(18)):%Y-%m-%d %H:%M}"


def past_deadline_error(until: datetime | None, now: datetime) -> str | None:
    """Why ``until`` cannot be a new deadline at all (missing, or not after ``now``), or None."""
    if until is None:
        return "请填写新的截止时间。"
    if until <= now:
        return "新的截止时间必须晚于当前时间。"
    return None


def extension_refusal(submission: Submission, until: datetime) -> str | None:
    """Why this submission's deadline cannot be extended to ``until`` (in Chinese), or None."""
    state = STATES[submission.state]
    if state.editable_round is None:
        return f"当前状态为「{state_label(submission.state)}」，不在填报阶段，无需延长截止时间。"
    current = effective_deadline(submission, state.editable_round)
    if current and until <= current:
        return f"新的截止时间必须晚于当前截止时间（{current:%Y-%m-%d %H:%M}）。"
    return None


def extend_deadline(submission: Submission, actor: User, until: datetime, reason: str, address: str = "",
                    *, commit: bool = True) -> None:
    """Give one submission a later deadline; recorded in its history and the audit log.
    ``commit=False``: several extensions share one transaction (the caller commits)."""
    reason = clean_text(reason, multiline=True)
    if actor.role != ROLE_ADMIN:
        raise MoveRefused("只有省级管理员可以延长截止时间。")
    if not reason:
        raise MoveRefused("请填写延期原因。")
    submission.deadline_override = until
    round_label = ROUND_LABELS[round_of(submission.state)]
    record(actor, "deadline", f"submission:{submission.id}",
           f"{round_label}截止时间延长至 {until:%Y-%m-%d %H:%M}：{reason}", address)
    db.session.add(HistoryEntry(submission_id=submission.id, user_id=actor.id, role=actor.role, move="deadline",
                                from_state=submission.state, to_state=submission.state,
                                comment=f"截止时间延长至 {until:%Y-%m-%d %H:%M}：{reason}"))
    if commit:
        db.session.commit()


def set_round_deadlines(edition: Edition, changes: dict[str, datetime], actor: User, address: str = "") -> None:
    """Set the edition's deadline of each round in ``changes`` ({round: new deadline}), one audit
    row per round that changes, in one transaction."""
    if actor.role != ROLE_ADMIN:
        raise MoveRefused("只有省级管理员可以设置截止时间。")
    for round_, until in changes.items():
        before = edition.deadline(round_)
        if until == before:
            continue
        setattr(edition, f"{round_}_deadline", until)
        was = f"{before:%Y-%m-%d %H:%M}" if before else "未设置"
        record(actor, "round_deadline", f"edition:{edition.id}",
               f"{ROUND_LABELS[round_]}截止时间：{was} → {until:%Y-%m-%d %H:%M}", address)
    db.session.commit()
