"""An expert's score sheet (评分表) for one assigned report: its progress, reading and checking
what the expert typed, saving a draft (暂存, also the autosave) with the assignment's optimistic
version, submitting it once, and declaring a conflict (回避).

When may an expert write?  Only while all of these hold (``refusal`` says which does not):
the assignment is active (not declared a conflict, not withdrawn by the administrator), the
sheet is not yet submitted, the report is still in its round's scoring state (初赛: 初赛;
决赛: 决赛 — once the administrator has moved it on the sheet is read-only), and the round's
review deadline (ReviewScheme.deadline, Beijing wall-clock time) has not passed.

The module imports no Flask request objects: views pass the posted form as a mapping and the
client address in."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import update

from ..auditlog import record
from ..dbsetup import write_window
from ..extensions import db
from ..models import ReviewAssignment, ReviewScheme, Submission, local_now, utcnow
from ..report.model import ROUND_LABELS
from ..report.numbers import NumberError, count_chars, format_decimal, parse_number
from ..text import clean_text
from ..workflow.states import scoring_state
from . import scheme as schemes

NOT_STARTED, SAVED, SUBMITTED = "not_started", "saved", "submitted"
PROGRESS_LABELS = {NOT_STARTED: "未开始", SAVED: "已暂存", SUBMITTED: "已提交"}
COMMENT_MAX = 500  # characters of one dimension's comment (评语)
OVERALL_MAX = 2000  # characters of the overall opinion (总体评价)
REASON_MAX = 500  # characters of a declared conflict's reason
STEP = Decimal("0.5")

OVERALL = "overall"  # the error key of 总体评价
STALE_MESSAGE = "另一窗口已保存了此评分表，本次内容未保存。请刷新页面查看最新内容后再修改。"


class ScoringRefused(Exception):
    """The sheet may not be written now; ``message`` says why, in Chinese.  Nothing was saved."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StaleSheet(ScoringRefused):
    """The page was older than the stored sheet (another tab saved first): nothing was saved."""

    def __init__(self):
        super().__init__(STALE_MESSAGE)


class SheetInvalid(ScoringRefused):
    """What was typed has errors (``sheet.errors``): nothing was saved."""

    def __init__(self, sheet: Sheet, message: str = "有填写错误，本次内容尚未保存，请按提示修改。"):
        super().__init__(message)
        self.sheet = sheet


@dataclass
class Sheet:
    """What the expert typed, as typed (to show it again), with the checked values and errors."""

    typed: dict = field(default_factory=dict)  # dimension key → the score as typed
    comments: dict = field(default_factory=dict)  # dimension key → comment (cleaned)
    overall: str = ""
    scores: dict = field(default_factory=dict)  # dimension key → float, for scores that parse and fit
    errors: dict = field(default_factory=dict)  # dimension key, "comment-<key>" or OVERALL → message

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total(self) -> float:
        return float(sum(Decimal(str(v)) for v in self.scores.values()))


# ── progress and reading ────────────────────────────────────────────────────────────────────

def progress(assignment: ReviewAssignment) -> str:
    """未开始 (never saved), 已暂存 (saved, not submitted) or 已提交."""
    if assignment.submitted_at is not None:
        return SUBMITTED
    return SAVED if assignment.saved_at is not None else NOT_STARTED


def scheme_of(assignment: ReviewAssignment) -> ReviewScheme:
    """The round's scheme, read only: when none is stored yet, the defaults (not added to the
    session, so that a page view writes nothing)."""
    edition_id = assignment.submission.edition_id
    found = db.session.execute(
        db.select(ReviewScheme).filter_by(edition_id=edition_id, round=assignment.round)).scalar_one_or_none()
    if found is not None:
        return found
    return ReviewScheme(edition_id=edition_id, round=assignment.round, dimensions=schemes.default_dimensions(),
                        method="trimmed", panel_size=schemes.DEFAULT_PANEL_SIZE)


def score_text(value) -> str:
    """A stored score as people write it: 8, 8.5 (never 8.0)."""
    if value is None or value == "":
        return ""
    return format_decimal(Decimal(str(value)))


def stored_sheet(assignment: ReviewAssignment) -> Sheet:
    """The sheet as last saved, to fill the form."""
    scores = dict(assignment.scores or {})
    return Sheet(typed={k: score_text(v) for k, v in scores.items()}, comments=dict(assignment.comments or {}),
                 overall=assignment.overall or "", scores=scores)


def checked_stored_sheet(assignment: ReviewAssignment, scheme: ReviewScheme) -> Sheet:
    """The saved sheet checked again against the scheme as it is now (an administrator may have
    changed a maximum since the draft was saved, until the scheme is frozen)."""
    form = {f"score-{k}": score_text(v) for k, v in (assignment.scores or {}).items()}
    form.update({f"comment-{k}": v for k, v in (assignment.comments or {}).items()})
    form[OVERALL] = assignment.overall or ""
    return read_sheet(scheme, form)


def read_sheet(scheme: ReviewScheme, form) -> Sheet:
    """The posted form (``score-<key>``, ``comment-<key>``, ``overall``) checked against the scheme:
    each score blank or 0..max in steps of 0.5 (full-width digits accepted, through the report's
    one number parser), each comment ≤ COMMENT_MAX characters, 总体评价 ≤ OVERALL_MAX.
    Completeness is not checked here (a draft may be incomplete): see ``missing``."""
    sheet = Sheet(overall=clean_text(form.get(OVERALL) or "", multiline=True))
    for dim in scheme.dimensions:
        key, label = dim["key"], dim["label"]
        raw = clean_text(form.get(f"score-{key}") or "")
        comment = clean_text(form.get(f"comment-{key}") or "", multiline=True)
        sheet.typed[key] = raw
        if comment:
            sheet.comments[key] = comment
        if count_chars(comment) > COMMENT_MAX:
            sheet.errors[f"comment-{key}"] = (f"“{label}”的评语不能超过 {COMMENT_MAX} 字"
                                               f"（现有 {count_chars(comment)} 字）。")
        error, value = _check_score(raw, label, dim["max"])
        if error:
            sheet.errors[key] = error
        elif value is not None:
            sheet.scores[key] = float(value)
    if count_chars(sheet.overall) > OVERALL_MAX:
        sheet.errors[OVERALL] = f"总体评价不能超过 {OVERALL_MAX} 字（现有 {count_chars(sheet.overall)} 字）。"
    return sheet


def _check_score(raw: str, label: str, maximum) -> tuple[str | None, Decimal | None]:
    try:
        value = parse_number(raw)
    except NumberError as err:
        return f"“{label}”：{err}", None
    if value is None:
        return None, None
    top = Decimal(str(maximum))
    if value > top:
        return f"“{label}”最高 {score_text(maximum)} 分，请填写 0 到 {score_text(maximum)} 之间的分数。", None
    if value % STEP:
        return f"“{label}”的分数以 0.5 分为单位（如 8 或 8.5），请修改。", None
    return None, value


def missing(scheme: ReviewScheme, sheet: Sheet) -> dict:
    """What submitting still needs: every dimension scored and 总体评价 (key → message)."""
    needs = {d["key"]: f"请为“{d['label']}”打分。" for d in scheme.dimensions
             if d["key"] not in sheet.scores and d["key"] not in sheet.errors}
    if not sheet.overall and OVERALL not in sheet.errors:
        needs[OVERALL] = "请填写总体评价（提交评分时必填）。"
    return needs


# ── when writing is allowed ─────────────────────────────────────────────────────────────────

def closed_reason(assignment: ReviewAssignment, scheme: ReviewScheme, now: datetime | None = None) -> str | None:
    """Why this sheet is read-only now (Chinese, for the page), or None while it may be written.
    ``now``: Beijing wall-clock time (deadlines are stored as such)."""
    if assignment.status != "active":
        return "您已不再负责评审此报告（已声明回避或已由管理员撤回）。"
    if assignment.submitted_at is not None:
        return "评分已提交，不能再修改。"
    if assignment.submission.state != scoring_state(assignment.round):
        return f"该报告已不在{ROUND_LABELS[assignment.round]}评审阶段，评分表为只读。"
    now = now or local_now()
    if scheme.deadline is not None and now > scheme.deadline:
        return f"评审截止时间（{scheme.deadline:%Y-%m-%d %H:%M}）已过，评分表为只读。"
    return None


def refusal(assignment: ReviewAssignment, scheme: ReviewScheme, now: datetime | None = None) -> str | None:
    """Why a write to this sheet is refused now (Chinese), or None."""
    reason = closed_reason(assignment, scheme, now)
    return f"{reason}本次内容未保存。" if reason and assignment.submitted_at is None else reason


def _guard(assignment: ReviewAssignment, scheme: ReviewScheme) -> None:
    reason = refusal(assignment, scheme)
    if reason:
        raise ScoringRefused(reason)


def _write(assignment: ReviewAssignment, expected_version: int | None, values: dict) -> int:
    """The conditional UPDATE: only an active, unsubmitted assignment at the expected version
    changes; otherwise nothing is written and StaleSheet (or the current refusal) is raised."""
    if expected_version is None:
        raise StaleSheet()
    state_now = db.select(Submission.state).where(Submission.id == assignment.submission_id).scalar_subquery()
    statement = (update(ReviewAssignment)
                 .where(ReviewAssignment.id == assignment.id, ReviewAssignment.version == expected_version,
                        ReviewAssignment.status == "active", ReviewAssignment.submitted_at.is_(None),
                        state_now == scoring_state(assignment.round))  # the report still in its scoring state
                 .values(version=ReviewAssignment.version + 1, **values)
                 .execution_options(synchronize_session=False))
    with write_window():  # the draft's request reads without SQLite's write lock (dbsetup; else a no-op)
        written = db.session.execute(statement).rowcount == 1
        if not written:
            db.session.rollback()
    if not written:
        db.session.refresh(assignment)
        reason = refusal(assignment, scheme_of(assignment))
        if reason:  # ended, submitted, moved on, or past the deadline meanwhile
            raise ScoringRefused(reason)
        raise StaleSheet()
    return expected_version + 1


# ── the writes ──────────────────────────────────────────────────────────────────────────────

def save_draft(assignment: ReviewAssignment, scheme: ReviewScheme, sheet: Sheet, expected_version: int | None) -> int:
    """Save what was typed (暂存; the autosave too) if the page's version is still current.
    Returns the new version.  Raises ScoringRefused / StaleSheet / SheetInvalid: nothing saved."""
    _guard(assignment, scheme)
    if not sheet.ok:
        raise SheetInvalid(sheet)
    version = _write(assignment, expected_version, {
        "scores": sheet.scores, "comments": sheet.comments, "overall": sheet.overall, "saved_at": utcnow()})
    db.session.commit()  # (already, where _write's window committed); read again only if the caller looks
    return version


def submit(assignment: ReviewAssignment, expert, expected_version: int | None, address: str = "") -> float:
    """Submit the saved sheet, once: every dimension scored and 总体评价 written.  Sets the total
    and submitted_at, freezes the round's scheme at its first submitted score, writes an audit
    row.  Returns the total."""
    _guard(assignment, scheme_of(assignment))  # before any write (scheme_for may create the scheme)
    scheme = schemes.scheme_for(assignment.submission.edition, assignment.round)
    sheet = checked_stored_sheet(assignment, scheme)
    sheet.errors.update(missing(scheme, sheet))
    if sheet.errors:
        raise SheetInvalid(sheet, "评分表尚未填写完整或有误，未提交：每一项都须在满分以内打分，并填写总体评价。")
    now = utcnow()
    _write(assignment, expected_version, {"scores": sheet.scores, "total": sheet.total, "submitted_at": now})
    schemes.freeze(scheme, now)  # the scheme is fixed from the round's first submitted score on
    record(expert, "review_submit", f"assignment:{assignment.id}",
           f"{assignment.submission.cluster.name} {ROUND_LABELS[assignment.round]}评分已提交，总分 {score_text(sheet.total)}",
           address)
    db.session.commit()
    db.session.refresh(assignment)
    return sheet.total


def declare_conflict(assignment: ReviewAssignment, expert, reason: str, address: str = "") -> None:
    """The expert declares a conflict of interest (回避): the assignment ends (status conflict,
    with the reason); the report leaves the expert's list and the administrator's board shows
    that another expert is needed.  Refused, like any write, once the sheet is submitted or
    read-only."""
    reason = clean_text(reason or "", multiline=True)
    if not reason:
        raise ScoringRefused("请填写回避理由。")
    if count_chars(reason) > REASON_MAX:
        raise ScoringRefused(f"回避理由不能超过 {REASON_MAX} 字（现有 {count_chars(reason)} 字）。")
    _guard(assignment, scheme_of(assignment))
    _write(assignment, assignment.version, {"status": "conflict", "reason": reason, "ended_at": utcnow()})
    record(expert, "review_conflict", f"assignment:{assignment.id}",
           f"{assignment.submission.cluster.name} {ROUND_LABELS[assignment.round]}：声明回避：{reason}", address)
    db.session.commit()
    db.session.refresh(assignment)
