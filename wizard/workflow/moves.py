"""The only code that changes a submission's state.

A move is a conditional UPDATE ... WHERE state = expected AND version = expected;
when no row changes, the move was refused (stale page, double click, someone else
was faster) and nothing is written.  ``apply_move`` is a pipeline: resolve the move,
check it, collect the row's new values (one hook per move kind), update, record
(history, snapshot, notifications, audit), commit.  The e-mail the move tells is an outbox row
of its transaction, sent after the commit by the background sender (wizard/mail.py), never by
the request.  Every move writes one history row and notifies who must act next.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update

from ..auditlog import record
from ..evidence import storage as evidence
from ..evidence.checks import UploadRejected
from ..extensions import db
from ..models import ROLE_ADMIN, HistoryEntry, RankingSnapshot, Submission, User, to_local, utcnow
from ..report.definition import get_report
from ..report.service import carried_texts
from ..report.view import effective_answers
from ..text import clean_text
from .notifications import notify
from .readiness import submit_guard
from .snapshots import freeze
from .states import (
    APPROVE,
    FINAL,
    MOVES_BY_KEY,
    PRELIMINARY,
    RETURN,
    STATES,
    SUBMIT,
    UNDO,
    Move,
    MoveRefused,
    moves_from,
    state_label,
)

COMMENT_MAX = 5000


@dataclass
class _Moving:
    """One move in progress: what it acts on, and what it has collected so far."""
    submission: Submission
    move: Move
    actor: User
    source: str
    target: str
    now: datetime
    comment: str | None
    attachment: tuple[str, bytes] | None
    values: dict = field(default_factory=dict)
    stored: list = field(default_factory=list)  # files written by this move: removed again if it fails
    submitted_answers: dict | None = None
    ranking: RankingSnapshot | None = None  # the frozen ranking a move decided from the experts' scores

    @property
    def round(self) -> str:
        return self.move.round


def moves_for(submission: Submission, role: str) -> list[Move]:
    """The moves this role may offer on this submission now (guards are checked on POST)."""
    moves = moves_from(submission.state, role)
    if role == ROLE_ADMIN and last_undoable(submission) is not None:
        moves.append(UNDO)
    return moves


def last_undoable(submission: Submission) -> HistoryEntry | None:
    """The latest move not yet undone (undo entries cancel moves like a stack)."""
    entries = db.session.execute(
        db.select(HistoryEntry).filter_by(submission_id=submission.id).order_by(HistoryEntry.id.desc())
    ).scalars()
    skip = 0
    for entry in entries:
        if entry.move == UNDO.key:
            skip += 1
        elif entry.move not in MOVES_BY_KEY:  # a deadline extension is not a move
            continue
        elif skip:
            skip -= 1
        else:
            return entry if entry.to_state == submission.state else None
    return None


def apply_move(submission: Submission, move_key: str, actor: User, *, comment: str | None = None,
               expected_version: int | None = None, now: datetime | None = None,
               attachment: tuple[str, bytes] | None = None, address: str = "",
               ranking_id: int | None = None) -> HistoryEntry:
    """Make one move, or raise MoveRefused.  Commits on success; changes nothing on refusal.

    ``attachment`` (file name, bytes): the county's sealed opinion scan, stored with an
    approval in the same transaction (a refused file refuses the move).  ``address``: the
    client's, for the audit log.  ``ranking_id``: the frozen RankingSnapshot a move decided
    from the experts' ranking points to (history and audit name it)."""
    move, source, target = _resolve(submission, move_key, actor)
    m = _Moving(submission, move, actor, source, target, now or utcnow(),
                clean_text(comment, multiline=True) or None, attachment,
                ranking=db.session.get(RankingSnapshot, ranking_id) if ranking_id else None)
    _check(m, expected_version)
    _collect_values(m)
    _update_row(m)
    entry = _record(m, address)
    _commit(m)
    db.session.refresh(submission)
    return entry


# --- the pipeline's steps ---------------------------------------------------------------------

def _resolve(submission: Submission, move_key: str, actor: User) -> tuple[Move, str, str]:
    if move_key == UNDO.key:
        if actor.role != ROLE_ADMIN:
            raise MoveRefused("只有省级管理员可以撤销操作。")
        last = last_undoable(submission)
        if last is None:
            raise MoveRefused("没有可以撤销的操作。")
        return UNDO, submission.state, last.from_state
    move = MOVES_BY_KEY.get(move_key)
    if move is None:
        raise MoveRefused("未知的操作。")
    if move.role != actor.role:
        raise MoveRefused("您的角色不能执行此操作。")
    if submission.state != move.source:
        raise MoveRefused(
            f"此操作只能在“{state_label(move.source)}”状态下进行，当前状态为“{state_label(submission.state)}”。"
            "页面可能已过期，请刷新后查看。")
    return move, move.source, move.target


def _check(m: _Moving, expected_version: int | None) -> None:
    if m.move.comment_required and not m.comment:
        raise MoveRefused(f"请填写{m.move.comment_label}。")
    if m.comment and len(m.comment) > COMMENT_MAX:
        raise MoveRefused(f"{m.move.comment_label}不能超过 {COMMENT_MAX} 字。")
    if expected_version is not None and expected_version != m.submission.version:
        raise MoveRefused("页面已过期：该报告在您打开页面后已被更改或已处理。请刷新页面后重试。")
    if m.move.kind == SUBMIT:
        problems = submit_guard(m.submission, m.round, m.now)
        if problems:
            raise MoveRefused("报告尚不能提交，请先处理以下问题。", problems)
    if m.attachment is not None and m.attachment[1] and not m.move.takes_scan:
        raise MoveRefused("此操作不能附加文件。")


def _collect_values(m: _Moving) -> None:
    """The row's new values: the state and version, then what the move's kind adds."""
    m.values = {"state": m.target, "version": Submission.version + 1, "updated_at": m.now}
    _drop_reopened_opinion(m)
    hook = VALUE_HOOKS.get(m.move.kind)
    if hook is not None:  # advance, decide and undo change only the state
        hook(m)
    if m.move.opens_final:
        m.values["final_answers"] = prefill_final(m.submission)
        # the texts 附件2 asks anew are marked 沿用初赛内容 until edited or confirmed
        m.values["carried_texts"] = carried_texts(m.submission.preliminary_answers or {}, m.values["final_answers"])
        m.values["deadline_override"] = None  # a preliminary extension does not carry into the final round


def _drop_reopened_opinion(m: _Moving) -> None:
    """An opinion (and its sealed scan) belongs to the version the county approved: it goes
    when that round is back before approval (returned, or the approval undone)."""
    state = STATES.get(m.target)
    opinions = dict(m.submission.opinions or {})
    if state is not None and not state.approved and state.round in opinions:
        opinions.pop(state.round)
        m.values["opinions"] = opinions


def _submit_values(m: _Moving) -> None:
    m.values["return_comment"] = None
    m.submitted_answers = effective_answers(m.submission, m.round)
    m.values[f"{m.round}_answers"] = m.submitted_answers


def _return_values(m: _Moving) -> None:
    m.values["return_comment"] = m.comment


def _approve_values(m: _Moving) -> None:
    actor = m.actor
    # "by": the government, as sealed on paper; "person": who approved (shown on the pages, #26)
    opinion = {"text": m.comment, "date": to_local(m.now).date().isoformat(),
               "by": actor.region.government_name if actor.region else "",
               "person": actor.display_name or actor.username}
    if m.attachment is not None and m.attachment[1]:
        try:
            m.stored.append(evidence.store(m.submission, m.round, evidence.COUNTY_SCAN, *m.attachment, actor,
                                           commit=False, check_editable=False))
        except UploadRejected as exc:
            db.session.rollback()
            raise MoveRefused(str(exc)) from None
        opinion["scan_id"] = m.stored[-1].id  # the report binds this scan, and no earlier one
    opinions = m.values.get("opinions", dict(m.submission.opinions or {}))
    opinions[m.round] = opinion
    m.values["opinions"] = opinions


VALUE_HOOKS = {SUBMIT: _submit_values, RETURN: _return_values, APPROVE: _approve_values}


def _update_row(m: _Moving) -> None:
    result = db.session.execute(
        update(Submission)
        .where(Submission.id == m.submission.id, Submission.state == m.source,
               Submission.version == m.submission.version)
        .values(**m.values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        evidence.discard_files(m.stored)
        raise MoveRefused("该操作未执行：报告状态已被他人更改，或您重复提交了同一操作。请刷新页面后查看。")


def _record(m: _Moving, address: str) -> HistoryEntry:
    """History (with the file that came with the move), snapshot, messages and audit."""
    sub, move = m.submission, m.move
    entry = HistoryEntry(submission_id=sub.id, at=m.now, user_id=m.actor.id, role=m.actor.role,
                         move=move.key, from_state=m.source, to_state=m.target, comment=m.comment)
    db.session.add(entry)
    if m.stored:
        entry.evidence = m.stored[-1]
    if m.ranking is not None:
        entry.ranking_id = m.ranking.id
    if move.opens_final and not evidence.files_of(sub, FINAL):
        m.stored += evidence.copy_round(sub, PRELIMINARY, FINAL)
    if move.kind == SUBMIT:
        scans = [f for f in evidence.files_of(sub, m.round) if f.slot == evidence.DECLARATION_SCAN]
        entry.evidence = scans[-1] if scans else None
        freeze(sub, m.round, m.submitted_answers, m.actor.id, m.now)
    notify(sub, move, m.target, m.actor, m.comment)  # messages, and the e-mail as an outbox row
    record(m.actor, "move", f"submission:{sub.id}",
           f"{move.label}（{move.key}）：{state_label(m.source)} → {state_label(m.target)}"
           + (f"；依据评审排名快照 {m.ranking.code}" if m.ranking is not None else ""), address)
    return entry


def _commit(m: _Moving) -> None:
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        evidence.discard_files(m.stored)
        raise


def prefill_final(submission: Submission) -> dict:
    """The final report starts from the preliminary answers (keys the final report has)."""
    keys = {f.key for f in get_report(FINAL).fields}
    existing = dict(submission.final_answers or {})
    for key, value in (submission.preliminary_answers or {}).items():
        if key in keys and key not in existing and key != "declaration_agree":
            existing[key] = value
    return existing
