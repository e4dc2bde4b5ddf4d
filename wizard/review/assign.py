"""Who scores which report: conflicts of interest (回避), automatic assignment with a balanced
load, manual add and remove, and the withdrawal of submitted scores with a reason.

Only reports in the round's scoring state (the workflow table's ``scoring_state``) are assigned.
Every change writes an audit row; the functions commit (the views stay thin)."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.orm import joinedload, undefer

from ..auditlog import record
from ..extensions import db
from ..mail import queue_mail
from ..models import ROLE_EXPERT, Cluster, Message, Region, ReviewAssignment, Submission, User, utcnow
from ..report.model import ROUND_LABELS
from ..text import clean_text
from ..workflow.states import ROUNDS, scoring_state, state_label
from .scheme import scheme_for, scheme_or_default

CONFLICT_CITY = "所在市州相同"
CONFLICT_ORG = "工作单位为集群促进组织"
CONFLICT_PARK = "工作单位为园区"
CONFLICT_DECLARED = "专家已声明回避"
#: the report's fields naming the promotion organisation and the core park (report/definition.py:
#: 1 基本信息 and the 3.1 / 4 headers, the latter pre-filled from the former)
ORG_FIELDS = ("org_unit", "promo_org_name")
PARK_FIELDS = ("park_unit", "park_name")
SHORT_LABEL = "需补派专家"
REASON_MAX = 500

ACTIVE, CONFLICT, WITHDRAWN = "active", "conflict", "withdrawn"


class AssignRefused(Exception):
    """An assignment change that may not happen; ``message`` is for the administrator (Chinese)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- conflicts (回避) ---------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_WIDE = str.maketrans("（）", "()")


def same_unit(a: str | None, b: str | None) -> bool:
    """Two unit names name the same unit: equal once spaces and full-width brackets are set aside."""
    def norm(text):
        return _SPACES.sub("", (text or "").translate(_WIDE)).casefold()
    return bool(norm(a)) and norm(a) == norm(b)


def unit_names(submission: Submission, round_: str) -> tuple[set[str], set[str]]:
    """(promotion organisation names, park names) as written in the round's answers."""
    answers = submission.answers_for(round_)
    org = {str(answers[k]) for k in ORG_FIELDS if answers.get(k)}
    park = {str(answers[k]) for k in PARK_FIELDS if answers.get(k)}
    return org, park


def city_id(region: Region | None) -> int | None:
    return region.city.id if region is not None else None


def conflicts(expert: User, submission: Submission, round_: str | None = None, *,
              declared: bool | None = None) -> list[str]:
    """Why this expert may not score this report (empty: no conflict).  ``round_`` defaults to
    the submission's round; ``declared`` (whether the expert declared a conflict on it) is looked
    up unless the caller knows it."""
    round_ = round_ or scoring_round(submission)
    reasons = []
    if expert.region_id is not None and city_id(expert.region) == city_id(submission.cluster.region):
        reasons.append(CONFLICT_CITY)
    org, park = unit_names(submission, round_)
    if any(same_unit(expert.employer, name) for name in org):
        reasons.append(CONFLICT_ORG)
    if any(same_unit(expert.employer, name) for name in park):
        reasons.append(CONFLICT_PARK)
    if declared is None:
        declared = db.session.execute(db.select(ReviewAssignment.id).filter_by(
            submission_id=submission.id, expert_id=expert.id, round=round_, status=CONFLICT)).first() is not None
    if declared:
        reasons.append(CONFLICT_DECLARED)
    return reasons


def scoring_round(submission: Submission) -> str:
    """The round whose report a submission in a scoring state is scored on."""
    return next((r for r in ROUNDS if scoring_state(r) == submission.state), ROUNDS[0])


# --- what the board reads ----------------------------------------------------------------------

def round_reports(edition, round_: str) -> list[Submission]:
    """The edition's submissions in the round's scoring state, with their clusters and the round's
    answers (the conflict rules read the unit names)."""
    return list(db.session.execute(
        db.select(Submission).join(Submission.cluster)
        .where(Submission.edition_id == edition.id, Submission.state == scoring_state(round_))
        .options(joinedload(Submission.cluster).joinedload(Cluster.region).joinedload(Region.parent),
                 undefer(getattr(Submission, f"{round_}_answers")))
        .order_by(Cluster.category, Cluster.id)).unique().scalars())


def expert_pool() -> list[User]:
    """Every active expert account, with its 所在市州."""
    return list(db.session.execute(
        db.select(User).filter_by(role=ROLE_EXPERT, active=True)
        .options(joinedload(User.region).joinedload(Region.parent)).order_by(User.id)).scalars())


def round_assignments(submission_ids, round_: str) -> list[ReviewAssignment]:
    """Every assignment row (any status) of these submissions in the round."""
    ids = list(submission_ids)
    if not ids:
        return []
    return list(db.session.execute(
        db.select(ReviewAssignment).where(ReviewAssignment.submission_id.in_(ids), ReviewAssignment.round == round_)
        .options(joinedload(ReviewAssignment.expert)).order_by(ReviewAssignment.id)).scalars())


def any_assigned(edition, round_: str) -> bool:
    """Whether any report of the edition has an assignment row (any status) in the round."""
    return db.session.execute(
        db.select(ReviewAssignment.id).join(Submission, Submission.id == ReviewAssignment.submission_id)
        .where(Submission.edition_id == edition.id, ReviewAssignment.round == round_).limit(1)).first() is not None


# --- automatic assignment ---------------------------------------------------------------------

@dataclass
class AssignSummary:
    """What an automatic assignment did: rows added, and the reports still short of the panel."""
    added: int = 0
    reports: int = 0
    short: list[Submission] = field(default_factory=list)

    @property
    def message(self) -> str:
        text = f"已为 {self.reports} 份报告新增指派 {self.added} 人次。"
        if self.short:
            text += f"{len(self.short)} 份报告可指派的专家不足（{SHORT_LABEL}）：" + "、".join(
                s.cluster.name for s in self.short[:10]) + ("等。" if len(self.short) > 10 else "。")
        return text


def auto_assign(edition, round_: str, panel_size: int, actor: User, address: str = "") -> AssignSummary:
    """Give every report of the round ``panel_size`` experts whose 擅长类别 covers its category,
    never a conflicted one, keeping the assignments that exist (running it again fills up).

    The most constrained reports (fewest eligible experts) are served first; each takes the
    eligible experts with the fewest assignments in the round, so the loads stay within one of
    each other wherever the pool allows."""
    if panel_size < 1:
        raise AssignRefused("每份报告的评审专家人数至少为 1。")
    reports, experts = round_reports(edition, round_), expert_pool()
    rows = round_assignments([s.id for s in reports], round_)
    taken = {(a.submission_id, a.expert_id) for a in rows}  # any status: one row per pair (unique)
    declared = {(a.submission_id, a.expert_id) for a in rows if a.status == CONFLICT}
    active = Counter(a.submission_id for a in rows if a.status == ACTIVE)
    load = Counter(a.expert_id for a in rows if a.status == ACTIVE)  # a missing expert counts 0
    eligible = {s.id: [e for e in experts if e.expert_covers(s.cluster.category) and (s.id, e.id) not in taken
                       and not conflicts(e, s, round_, declared=(s.id, e.id) in declared)] for s in reports}
    summary = AssignSummary(reports=len(reports))
    chosen = {}
    for sub in sorted(reports, key=lambda s: (len(eligible[s.id]) - (panel_size - active[s.id]), s.id)):
        need = panel_size - active[sub.id]
        chosen[sub.id] = [e.id for e in sorted(eligible[sub.id], key=lambda e: (load[e.id], e.id))[:max(need, 0)]]
        for expert_id in chosen[sub.id]:
            load[expert_id] += 1
        summary.added += len(chosen[sub.id])
        if need > len(chosen[sub.id]):
            summary.short.append(sub)
    rebalance(chosen, {sid: {e.id for e in es} for sid, es in eligible.items()}, load, [e.id for e in experts])
    for sub_id, expert_ids in chosen.items():
        db.session.add_all(ReviewAssignment(submission_id=sub_id, expert_id=expert_id, round=round_,
                                            assigned_by_id=actor.id) for expert_id in expert_ids)
    scheme = scheme_for(edition, round_)
    scheme.panel_size = panel_size
    record(actor, "review_assign", f"edition:{edition.id}",
           f"{ROUND_LABELS[round_]}自动指派：每份 {panel_size} 人；{summary.message}", address)
    db.session.commit()
    return summary


def rebalance(chosen: dict[int, list[int]], eligible: dict[int, set[int]], load: Counter, experts: list[int]) -> None:
    """Even out the loads: while some expert has at least two reports more than another, move one
    of this run's new assignments from the busier to the less busy expert, where the latter may
    score that report and does not have it yet.  The greedy fill alone left 4/3/2/3/3 where 3 each
    was possible.  Each move lowers the sum of squared loads, so this ends."""
    moved = True
    while moved:
        moved = False
        by_load = sorted(experts, key=lambda e: (load[e], e))
        for busy in reversed(by_load):
            for idle in by_load:
                if load[busy] - load[idle] < 2:
                    break
                sub_id = next((sid for sid, ids in chosen.items()
                               if busy in ids and idle in eligible[sid] and idle not in ids), None)
                if sub_id is not None:
                    ids = chosen[sub_id]
                    ids[ids.index(busy)] = idle
                    load[busy] -= 1
                    load[idle] += 1
                    moved = True
                    break
            if moved:
                break


# --- manual add and remove --------------------------------------------------------------------

def _check_reportable(submission: Submission, round_: str) -> None:
    if submission.state != scoring_state(round_):
        raise AssignRefused(f"只能为处于「{state_label(scoring_state(round_))}」状态的申报指派专家，"
                            f"该申报当前状态为「{state_label(submission.state)}」。")


def add_expert(submission: Submission, expert: User, round_: str, actor: User, address: str = "") -> ReviewAssignment:
    """Assign one expert to one report by hand: refused (with the reason) for a conflicted
    expert, one whose 擅长类别 does not cover the cluster, or one already on the report."""
    _check_reportable(submission, round_)
    if not expert.is_expert or not expert.active:
        raise AssignRefused("请选择一位启用的评审专家。")
    existing = db.session.execute(db.select(ReviewAssignment).filter_by(
        submission_id=submission.id, expert_id=expert.id, round=round_)).scalar_one_or_none()
    reasons = conflicts(expert, submission, round_, declared=existing is not None and existing.status == CONFLICT)
    who = expert.display_name or expert.username
    if reasons:
        raise AssignRefused(f"{who}须回避该报告：{'、'.join(reasons)}。")
    if not expert.expert_covers(submission.cluster.category):
        raise AssignRefused(f"{who}的擅长类别不含「{submission.cluster.category_label}」。")
    if existing is not None and existing.status == ACTIVE:
        raise AssignRefused(f"{who}已在该报告的评审专家中。")
    if existing is not None and existing.submitted_at is not None:
        raise AssignRefused(f"{who}对该报告的评分已被撤回（{existing.reason or ''}），不能再次指派。")
    scheme_for(submission.edition, round_)  # stored from the round's first assignment on (pages only read it)
    if existing is None:
        existing = ReviewAssignment(submission_id=submission.id, expert_id=expert.id, round=round_)
        db.session.add(existing)
    existing.status, existing.reason, existing.ended_at = ACTIVE, None, None
    existing.assigned_by_id, existing.assigned_at = actor.id, utcnow()
    record(actor, "review_assign", f"submission:{submission.id}",
           f"{ROUND_LABELS[round_]}：指派评审专家 {expert.username}", address)
    db.session.commit()
    return existing


def remove_expert(assignment: ReviewAssignment, actor: User, reason: str | None = None,
                  address: str = "") -> str:
    """Take an expert off a report.  Without submitted scores the assignment goes (a draft with
    it); submitted scores are never removed silently: a reason is required, and the scores stay
    on record as withdrawn (status ``withdrawn``, the reason, an audit row with the total).
    Returns what was done, for the administrator."""
    reason = clean_text(reason, multiline=True)
    sub, expert, round_ = assignment.submission, assignment.expert, assignment.round
    if assignment.status != ACTIVE:
        raise AssignRefused("该专家已不在此报告的评审专家中。")
    if len(reason) > REASON_MAX:
        raise AssignRefused(f"原因不能超过 {REASON_MAX} 字。")
    if assignment.submitted_at is not None:
        if not reason:
            raise AssignRefused(f"{expert.display_name or expert.username}已提交评分，移除须填写原因：其评分将被撤回，"
                                "撤回原因记入操作日志。")
        assignment.status, assignment.reason, assignment.ended_at = WITHDRAWN, reason, utcnow()
        record(actor, "review_withdraw", f"submission:{sub.id}",
               f"{ROUND_LABELS[round_]}：撤回评审专家 {expert.username} 的评分（总分 {assignment.total or 0:g}）；"
               f"原因：{reason}", address)
        done = "已移除该专家，其评分已撤回。"
    else:
        db.session.delete(assignment)
        record(actor, "review_unassign", f"submission:{sub.id}",
               f"{ROUND_LABELS[round_]}：移除评审专家 {expert.username}" + (f"；原因：{reason}" if reason else ""),
               address)
        done = "已移除该专家。"
    db.session.commit()
    return done


# --- the board: assigned / submitted per report and per expert; reminders -----------------------

@dataclass
class ReportLine:
    submission: Submission
    active: list[ReviewAssignment]
    declined: list[ReviewAssignment]  # declared conflicts and withdrawn scores: shown, never counted
    panel_size: int

    @property
    def submitted(self) -> int:
        return sum(1 for a in self.active if a.submitted_at is not None)

    @property
    def short(self) -> bool:
        """Fewer active experts than the panel: 需补派专家."""
        return len(self.active) < self.panel_size


@dataclass
class ExpertLine:
    expert: User
    active: list[ReviewAssignment]

    @property
    def submitted(self) -> int:
        return sum(1 for a in self.active if a.submitted_at is not None)

    @property
    def unfinished(self) -> int:
        return len(self.active) - self.submitted


@dataclass
class Board:
    reports: list[ReportLine]
    experts: list[ExpertLine]
    panel_size: int

    @property
    def short(self) -> list[ReportLine]:
        return [line for line in self.reports if line.short]

    @property
    def spread(self) -> int:
        """max − min of the experts' loads (0 without experts)."""
        loads = [len(line.active) for line in self.experts]
        return max(loads) - min(loads) if loads else 0


def board(edition, round_: str) -> Board:
    """Every report of the round with its experts, and every expert with its reports (three
    statements, whatever the number of reports)."""
    panel_size = scheme_or_default(edition, round_).panel_size
    reports, experts = round_reports(edition, round_), expert_pool()
    rows = round_assignments([s.id for s in reports], round_)
    by_sub: dict[int, list[ReviewAssignment]] = {}
    by_expert: dict[int, list[ReviewAssignment]] = {}
    for a in rows:
        by_sub.setdefault(a.submission_id, []).append(a)
        if a.status == ACTIVE:
            by_expert.setdefault(a.expert_id, []).append(a)
    lines = [ReportLine(s, [a for a in by_sub.get(s.id, []) if a.status == ACTIVE],
                        [a for a in by_sub.get(s.id, []) if a.status != ACTIVE], panel_size) for s in reports]
    return Board(lines, [ExpertLine(e, by_expert.get(e.id, [])) for e in experts], panel_size)


def remind(edition, round_: str, actor: User, expert_ids=None, address: str = "") -> list[User]:
    """Remind the experts (all, or those of ``expert_ids``) that have unfinished reports in the
    round: an in-app message each, and an e-mail each as an outbox row of the same transaction
    (sent after the commit by the background sender, wizard/mail.py).  Returns who was reminded."""
    lines = [line for line in board(edition, round_).experts
             if line.unfinished and (expert_ids is None or line.expert.id in expert_ids)]
    deadline = scheme_or_default(edition, round_).deadline
    for line in lines:
        text = (f"专家评审提醒：{edition.name}{ROUND_LABELS[round_]}中，您尚有 {line.unfinished} 份报告未提交评分"
                + (f"（评审截止时间：{deadline:%Y-%m-%d %H:%M}）" if deadline else "") + "。请登录系统完成评分。")
        db.session.add(Message(user_id=line.expert.id, text=text))
        queue_mail([line.expert.email], text)
    if lines:
        record(actor, "review_remind", f"edition:{edition.id}",
               f"{ROUND_LABELS[round_]}：提醒 {len(lines)} 位专家（" + "、".join(l.expert.username for l in lines) + "）",
               address)
    db.session.commit()
    return [line.expert for line in lines]
