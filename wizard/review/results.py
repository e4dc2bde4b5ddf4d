"""The ranking of a round from the database: which reports, which scores, then ranking.py.

Which reports a round ranks: the reports assigned in that round.  That is every submission of
the edition in the round's scoring state (初赛 / 决赛; assigned or not yet), and every one that
has left it since — advanced, eliminated, recognised — and has an assignment row of the round
(so the ranking, its PDF and its workbook read the same after the administrator's move as
before it).  A submission that is back in an earlier state (an undo) is not ranked.

Which scores: the totals of the round's active assignments that have been submitted.  A
declared conflict or a withdrawal takes the expert's score out.

Three statements, whatever the number of reports: the scheme, the submissions (with their
clusters), the submitted assignments (with their experts)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from sqlalchemy.orm import defer, joinedload

from ..access import ANSWERS
from ..extensions import db
from ..models import (
    CATEGORY_LABELS,
    Cluster,
    Edition,
    Region,
    ReviewAssignment,
    ReviewScheme,
    Submission,
    User,
)
from ..workflow.states import ROUNDS, STATES, scoring_state
from .ranking import Entry, Row, rank_round
from .scheme import scheme_or_default

ACTIVE = "active"


@dataclass
class RoundRanking:
    edition: Edition
    round: str
    scheme: ReviewScheme
    method: str
    panel_size: int
    cuts: dict[str, int]
    rows_by_category: dict[str, list[Row]]  # every category key (先进制造业集群 first), possibly empty
    experts: dict[int, User]  # the experts with a submitted score in the round
    submissions: dict[int, Submission]  # the ranked reports, with their clusters
    assignments: list[ReviewAssignment] = field(default_factory=list)  # the submitted scores, by report, expert

    @property
    def dimension_scores(self) -> dict[int, dict[int, dict[str, float]]]:
        """submission id → expert id → {dimension key: score} (submitted scores only)."""
        out: dict[int, dict[int, dict[str, float]]] = {}
        for a in self.assignments:
            out.setdefault(a.submission_id, {})[a.expert_id] = dict(a.scores or {})
        return out

    def rows(self, category: str) -> list[Row]:
        return self.rows_by_category.get(category, [])

    def expert_name(self, expert_id: int) -> str:
        expert = self.experts.get(expert_id)
        return (expert.display_name or expert.username) if expert else f"专家 {expert_id}"


def later_states(round_: str) -> list[str]:
    """The round's scoring state and every state after it in the workflow table."""
    keys = list(STATES)
    return keys[keys.index(scoring_state(round_)):]


def ranked_submissions(edition: Edition, round_: str) -> list[Submission]:
    assigned = db.select(ReviewAssignment.submission_id).where(ReviewAssignment.round == round_)
    scored_state = scoring_state(round_)
    return list(db.session.execute(
        db.select(Submission).join(Submission.cluster)
        .where(Submission.edition_id == edition.id, Submission.state.in_(later_states(round_)),
               (Submission.state == scored_state) | Submission.id.in_(assigned))
        .options(joinedload(Submission.cluster).joinedload(Cluster.region).joinedload(Region.parent),
                 *(defer(c) for c in ANSWERS))
        .order_by(Cluster.category, Cluster.id)).unique().scalars())


def submitted_assignments(edition: Edition, round_: str) -> list[ReviewAssignment]:
    return list(db.session.execute(
        db.select(ReviewAssignment).join(Submission, Submission.id == ReviewAssignment.submission_id)
        .where(Submission.edition_id == edition.id, ReviewAssignment.round == round_,
               ReviewAssignment.status == ACTIVE, ReviewAssignment.submitted_at.is_not(None),
               ReviewAssignment.total.is_not(None))
        .options(joinedload(ReviewAssignment.expert))
        .order_by(ReviewAssignment.submission_id, ReviewAssignment.expert_id)).scalars())


def round_ranking(edition: Edition, round_: str, cuts: Mapping[str, int] | None = None) -> RoundRanking:
    """The round's ranking per category (ranking.py) with the method and panel size of the
    round's 评分细则.  ``cuts``: category → how many advance (flags ranges across the line)."""
    if round_ not in ROUNDS:
        raise ValueError(round_)
    scheme = scheme_or_default(edition, round_)  # read only: a page or a download stores nothing
    subs = ranked_submissions(edition, round_)
    known = {s.id for s in subs}
    assignments = [a for a in submitted_assignments(edition, round_) if a.submission_id in known]
    totals: dict[int, dict[int, float]] = {s.id: {} for s in subs}
    for a in assignments:
        totals[a.submission_id][a.expert_id] = float(a.total)
    entries = [Entry(s.id, s.cluster.name, s.cluster.category, totals[s.id]) for s in subs]
    cuts = {k: int(v) for k, v in (cuts or {}).items() if v}
    ranked = rank_round(entries, method=scheme.method, panel_size=scheme.panel_size, cuts=cuts)
    rows_by_category = {category: ranked.get(category, []) for category in CATEGORY_LABELS}
    experts = {a.expert_id: a.expert for a in assignments}
    return RoundRanking(edition=edition, round=round_, scheme=scheme, method=scheme.method,
                        panel_size=scheme.panel_size, cuts=cuts, rows_by_category=rows_by_category, experts=experts,
                        submissions={s.id: s for s in subs}, assignments=assignments)
