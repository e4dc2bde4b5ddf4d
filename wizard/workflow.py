"""The competition's state machine: states with their labels, the table of moves,
and the only code that changes a submission's state.

A move is a conditional UPDATE ... WHERE state = expected AND version =
expected; when no row changes, the move was refused (stale page, double click,
someone else was faster) and nothing is written.  Every move writes one
history row and notifies who must act next.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update

from .extensions import db
from .models import (
    ROLE_ADMIN, ROLE_APPLICANT, ROLE_COUNTY, HistoryEntry, Message, Snapshot, Submission, User,
    to_local, utcnow,
)
from .report.numbers import clean_text


@dataclass(frozen=True)
class State:
    key: str
    label: str
    css: str
    editable_round: str | None = None  # the round the applicant edits in this state
    terminal: bool = False


STATES = {s.key: s for s in (
    State("draft", "草稿", "draft", editable_round="preliminary"),
    State("submitted", "待县级审核", "submitted"),
    State("county_approved", "县级已审核", "county_approved"),
    State("preliminary", "初赛", "preliminary"),
    State("eliminated", "初赛未胜出", "eliminated", terminal=True),
    State("finalist", "入围决赛", "finalist", editable_round="final"),
    State("final_submitted", "决赛报告待县级审核", "submitted"),
    State("final_approved", "决赛报告县级已审核", "county_approved"),
    State("final", "决赛", "final"),
    State("awarded", "认定为培育对象", "final", terminal=True),
    State("not_awarded", "未认定", "eliminated", terminal=True),
)}


@dataclass(frozen=True)
class Move:
    key: str
    label: str
    source: str
    target: str
    role: str
    comment_required: bool = False
    comment_label: str = "意见"
    guard: str | None = None  # name of a guard in GUARDS
    style: str = "primary"

    @property
    def takes_scan(self) -> bool:
        """An approval may carry the scan of the sealed opinion."""
        return self.key in APPROVE_MOVES


MOVES = (
    Move("submit", "提交初赛报告", "draft", "submitted", ROLE_APPLICANT, guard="complete"),
    Move("county_approve", "审核通过", "submitted", "county_approved", ROLE_COUNTY, True, "审核意见"),
    Move("county_return", "退回修改", "submitted", "draft", ROLE_COUNTY, True, "退回意见", style="danger"),
    Move("accept", "纳入初赛", "county_approved", "preliminary", ROLE_ADMIN),
    Move("admin_return", "退回修改", "county_approved", "draft", ROLE_ADMIN, True, "退回意见", style="danger"),
    Move("advance", "晋级决赛", "preliminary", "finalist", ROLE_ADMIN),
    Move("eliminate", "初赛未胜出", "preliminary", "eliminated", ROLE_ADMIN, True, "原因", style="danger"),
    Move("submit_final", "提交决赛报告", "finalist", "final_submitted", ROLE_APPLICANT, guard="complete"),
    Move("county_approve_final", "审核通过", "final_submitted", "final_approved", ROLE_COUNTY, True, "审核意见"),
    Move("county_return_final", "退回修改", "final_submitted", "finalist", ROLE_COUNTY, True, "退回意见", style="danger"),
    Move("enter_final", "进入决赛", "final_approved", "final", ROLE_ADMIN),
    Move("admin_return_final", "退回修改", "final_approved", "finalist", ROLE_ADMIN, True, "退回意见", style="danger"),
    Move("award", "认定为培育对象", "final", "awarded", ROLE_ADMIN),
    Move("not_award", "未认定", "final", "not_awarded", ROLE_ADMIN, True, "原因", style="danger"),
)
MOVES_BY_KEY = {m.key: m for m in MOVES}
UNDO = Move("undo", "撤销上一步操作", "*", "*", ROLE_ADMIN, True, "撤销原因", style="secondary")
SUBMIT_MOVES = {"submit": "preliminary", "submit_final": "final"}
APPROVE_MOVES = {"county_approve": "preliminary", "county_approve_final": "final"}
RETURN_MOVES = {"county_return", "admin_return", "county_return_final", "admin_return_final"}


class MoveRefused(Exception):
    """A move that may not happen now; ``message`` is for the user (Chinese)."""

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.message = message
        self.problems = problems or []


def state_label(key: str) -> str:
    return STATES[key].label if key in STATES else key


def moves_for(submission: Submission, role: str) -> list[Move]:
    """The moves this role may offer on this submission now (guards are checked on POST)."""
    moves = [m for m in MOVES if m.source == submission.state and m.role == role]
    if role == ROLE_ADMIN and last_undoable(submission) is not None:
        moves.append(UNDO)
    return moves


def current_round(submission: Submission) -> str:
    return "final" if submission.state in {"finalist", "final_submitted", "final_approved", "final",
                                           "awarded", "not_awarded"} else "preliminary"


def effective_deadline(submission: Submission, round_: str) -> datetime | None:
    base = submission.edition.deadline(round_)
    override = submission.deadline_override
    if override and (base is None or override > base):
        return override
    return base


def last_undoable(submission: Submission) -> HistoryEntry | None:
    """The latest move not yet undone (undo entries cancel moves like a stack)."""
    entries = db.session.execute(
        db.select(HistoryEntry).filter_by(submission_id=submission.id).order_by(HistoryEntry.id.desc())
    ).scalars()
    skip = 0
    for entry in entries:
        if entry.move == "undo":
            skip += 1
        elif entry.move == "deadline":
            continue
        elif skip:
            skip -= 1
        else:
            return entry if entry.to_state == submission.state else None
    return None


def answers_digest(answers: dict, evidence: list) -> str:
    payload = json.dumps({"answers": answers, "evidence": evidence}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def latest_snapshot(submission: Submission, round_: str) -> Snapshot | None:
    """The round's report as last submitted (None before the first submit)."""
    return db.session.execute(
        db.select(Snapshot).filter_by(submission_id=submission.id, round=round_).order_by(Snapshot.id.desc()).limit(1)
    ).scalar_one_or_none()


def evidence_manifest(submission: Submission, round_: str) -> list:
    """The applicant's evidence list as frozen in a snapshot (the county's scan is not part of it)."""
    from .evidence import manifest
    from .report.definition import COUNTY_SCAN

    return [e for e in manifest(submission, round_) if e["slot"] != COUNTY_SCAN]


def _guard_complete(submission: Submission, round_: str, now: datetime) -> list:
    from .report.checks import submit_problems

    deadline = effective_deadline(submission, round_)
    problems = []
    if deadline and to_local(now) > deadline:  # deadlines are Beijing wall-clock times
        problems.append({"message": f"提交截止时间（{deadline:%Y年%m月%d日 %H:%M}）已过，无法提交。如需延期请联系省级管理员。"})
    problems += submit_problems(submission, round_)
    from .evidence import missing
    from .report.view import effective_answers

    problems += missing(submission, round_, effective_answers(submission, round_))[0]
    return problems


def apply_move(submission: Submission, move_key: str, actor: User, *, comment: str | None = None,
               expected_version: int | None = None, now: datetime | None = None,
               attachment: tuple[str, bytes] | None = None) -> HistoryEntry:
    """Make one move, or raise MoveRefused.  Commits on success; changes nothing on refusal.

    ``attachment`` (file name, bytes): the county's sealed opinion scan, stored
    with an approval in the same transaction (a refused file refuses the move)."""
    now = now or utcnow()
    comment = clean_text(comment, multiline=True) or None
    if move_key == "undo":
        move = UNDO
        if actor.role != ROLE_ADMIN:
            raise MoveRefused("只有省级管理员可以撤销操作。")
        last = last_undoable(submission)
        if last is None:
            raise MoveRefused("没有可以撤销的操作。")
        source, target = submission.state, last.from_state
    else:
        move = MOVES_BY_KEY.get(move_key)
        if move is None:
            raise MoveRefused("未知的操作。")
        if move.role != actor.role:
            raise MoveRefused("您的角色不能执行此操作。")
        if submission.state != move.source:
            raise MoveRefused(
                f"此操作只能在“{state_label(move.source)}”状态下进行，当前状态为“{state_label(submission.state)}”。"
                "页面可能已过期，请刷新后查看。")
        source, target = move.source, move.target
    if move.comment_required and not comment:
        raise MoveRefused(f"请填写{move.comment_label}。")
    if comment and len(comment) > 5000:
        raise MoveRefused(f"{move.comment_label}不能超过 5000 字。")
    if expected_version is not None and expected_version != submission.version:
        raise MoveRefused("页面已过期：该报告在您打开页面后已被更改或已处理。请刷新页面后重试。")
    round_ = SUBMIT_MOVES.get(move.key)
    if move.guard == "complete":
        problems = _guard_complete(submission, round_, now)
        if problems:
            raise MoveRefused("报告尚不能提交，请先处理以下问题。", problems)

    if attachment is not None and attachment[1] and move.key not in APPROVE_MOVES:
        raise MoveRefused("此操作不能附加文件。")

    values = {"state": target, "version": Submission.version + 1, "updated_at": now}
    opinions = dict(submission.opinions or {})
    # an opinion (and its sealed scan) belongs to the version the county approved: it goes when
    # that round is back before approval (returned, or the approval undone)
    reopened = {"draft": "preliminary", "submitted": "preliminary", "finalist": "final",
                "final_submitted": "final"}.get(target)
    if reopened in opinions:
        opinions.pop(reopened)
        values["opinions"] = opinions
    if move.key in SUBMIT_MOVES:
        from .report.view import effective_answers

        values["return_comment"] = None
        submitted_answers = effective_answers(submission, round_)
        values["preliminary_answers" if round_ == "preliminary" else "final_answers"] = submitted_answers
    if move.key in RETURN_MOVES:
        values["return_comment"] = comment
    stored = []  # files written by this move: removed again if it does not commit
    if move.key in APPROVE_MOVES:
        opinion = {"text": comment, "date": to_local(now).date().isoformat(),
                   "by": actor.region.government_name if actor.region else ""}
        if attachment is not None and attachment[1]:
            from .evidence import COUNTY_SCAN, store
            from .uploads import UploadRejected

            try:
                stored.append(store(submission, APPROVE_MOVES[move.key], COUNTY_SCAN, *attachment, actor,
                                    commit=False, check_editable=False))
            except UploadRejected as exc:
                db.session.rollback()
                raise MoveRefused(str(exc)) from None
            opinion["scan_id"] = stored[-1].id  # the report binds this scan, and no earlier one
        opinions[APPROVE_MOVES[move.key]] = opinion
        values["opinions"] = opinions
    if move.key == "advance":
        values["final_answers"] = prefill_final(submission)
        values["deadline_override"] = None  # a preliminary extension does not carry into the final round
    result = db.session.execute(
        update(Submission)
        .where(Submission.id == submission.id, Submission.state == source, Submission.version == submission.version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        from .evidence import discard_files

        discard_files(stored)
        raise MoveRefused("该操作未执行：报告状态已被他人更改，或您重复提交了同一操作。请刷新页面后查看。")
    entry = HistoryEntry(submission_id=submission.id, at=now, user_id=actor.id, role=actor.role,
                         move=move.key, from_state=source, to_state=target, comment=comment)
    db.session.add(entry)
    if stored:
        entry.evidence = stored[-1]
    if move.key == "advance":
        from .evidence import copy_round, files_of

        if not files_of(submission, "final"):
            stored += copy_round(submission, "preliminary", "final")
    if round_:
        from .evidence import DECLARATION_SCAN, files_of

        scans = [f for f in files_of(submission, round_) if f.slot == DECLARATION_SCAN]
        entry.evidence = scans[-1] if scans else None
        answers = submitted_answers
        evidence = evidence_manifest(submission, round_)
        db.session.add(Snapshot(submission_id=submission.id, round=round_, answers=answers, evidence=evidence,
                                digest=answers_digest(answers, evidence), created_at=now, created_by_id=actor.id))
    _notify(submission, move, target, actor)
    from .security import audit

    audit("move", f"submission:{submission.id}", f"{move.label}（{move.key}）：{state_label(source)} → {state_label(target)}", user=actor)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        from .evidence import discard_files

        discard_files(stored)
        raise
    db.session.refresh(submission)
    return entry


def extend_deadline(submission: Submission, actor: User, until: datetime, reason: str) -> None:
    """Give one submission a later deadline; recorded in its history."""
    reason = clean_text(reason, multiline=True)
    if actor.role != ROLE_ADMIN:
        raise MoveRefused("只有省级管理员可以延长截止时间。")
    if not reason:
        raise MoveRefused("请填写延期原因。")
    submission.deadline_override = until
    db.session.add(HistoryEntry(submission_id=submission.id, user_id=actor.id, role=actor.role, move="deadline",
                                from_state=submission.state, to_state=submission.state,
                                comment=f"截止时间延长至 {until:%Y-%m-%d %H:%M}：{reason}"))
    db.session.commit()


def prefill_final(submission: Submission) -> dict:
    """The final report starts from the preliminary answers (keys the final report has)."""
    from .report.definition import get_report

    keys = {f.key for f in get_report("final").fields}
    existing = dict(submission.final_answers or {})
    for key, value in (submission.preliminary_answers or {}).items():
        if key in keys and key not in existing and key != "declaration_agree":
            existing[key] = value
    return existing


def _recipients(submission: Submission, role: str) -> list[User]:
    q = db.select(User).filter_by(role=role, active=True)
    if role == ROLE_APPLICANT:
        q = q.filter_by(cluster_id=submission.cluster_id)
    elif role == ROLE_COUNTY:
        q = q.filter_by(region_id=submission.cluster.region_id)
    return list(db.session.execute(q).scalars())


NEXT_ACTOR = {
    "submitted": ROLE_COUNTY, "final_submitted": ROLE_COUNTY,
    "county_approved": ROLE_ADMIN, "final_approved": ROLE_ADMIN,
}


def _notify(submission: Submission, move: Move, target: str, actor: User) -> None:
    name = submission.cluster.name
    text = f"“{name}”：{move.label}，当前状态为“{state_label(target)}”。"
    roles = {NEXT_ACTOR.get(target, ROLE_APPLICANT)}
    if actor.role != ROLE_APPLICANT:
        roles.add(ROLE_APPLICANT)
    for role in roles:
        for user in _recipients(submission, role):
            if user.id != actor.id:
                db.session.add(Message(user_id=user.id, submission_id=submission.id, text=text))
    from .mail import queue_mail

    queue_mail(submission, text, roles)
