"""What the paper of expert review says, read from the database as plain data (the PDF
templates and the workbook format it; nothing here knows about HTML or Excel).

- ``expert_sheet``: an expert's 专家评分表 of a round — each report the expert is (actively)
  assigned to, its scores and comments per dimension, the total and the 总体评价.  Only a
  submitted sheet carries scores: an unsubmitted one is printed blank (未提交), so no draft is
  ever signed as if it were final.
- ``ranking_sheet``: the 评审结果汇总表 of a round and category.  When the administrator has
  already advanced clusters from the ranking, the paper is the ranking the decision was taken
  on — the latest frozen snapshot (its 校验码 printed) — and says when the live ranking has
  changed since; before that it is the ranking as it stands."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import (
    CATEGORY_LABELS,
    Cluster,
    Edition,
    RankingSnapshot,
    ReviewAssignment,
    Submission,
    User,
    local_now,
    to_local,
)
from ..report.model import ROUND_LABELS
from .ranking import Row
from .results import ACTIVE, RoundRanking, round_ranking
from .scheme import METHOD_LABELS, max_total, scheme_or_default

NOT_SUBMITTED = "未提交"


def person_name(user: User) -> str:
    return user.display_name or user.username


@dataclass
class Line:
    label: str
    max: float
    score: float | None
    comment: str


@dataclass
class SheetItem:
    name: str  # the cluster's name
    category: str  # its label
    lines: list[Line]
    total: float | None
    overall: str
    submitted_at: datetime | None  # Beijing time

    @property
    def status(self) -> str:
        return f"已提交 {self.submitted_at:%Y-%m-%d %H:%M}" if self.submitted_at else NOT_SUBMITTED


@dataclass
class ExpertSheet:
    edition: str
    round: str
    round_label: str
    expert: str
    employer: str
    city: str
    max_total: float
    items: list[SheetItem] = field(default_factory=list)


def expert_assignments(edition: Edition, round_: str, expert: User) -> list[ReviewAssignment]:
    """The expert's active assignments of the round in this edition, with the reports' clusters."""
    return list(db.session.execute(
        db.select(ReviewAssignment).join(Submission, Submission.id == ReviewAssignment.submission_id)
        .join(Cluster, Cluster.id == Submission.cluster_id)
        .where(ReviewAssignment.expert_id == expert.id, ReviewAssignment.round == round_,
               ReviewAssignment.status == ACTIVE, Submission.edition_id == edition.id)
        .options(joinedload(ReviewAssignment.submission).joinedload(Submission.cluster))
        .order_by(Cluster.category, Cluster.id)).scalars())


def sheet_item(assignment: ReviewAssignment, dimensions: list[dict]) -> SheetItem:
    cluster = assignment.submission.cluster
    done = assignment.submitted_at is not None
    scores, comments = (assignment.scores or {}), (assignment.comments or {})
    lines = [Line(d["label"], d["max"], scores.get(d["key"]) if done else None,
                  (comments.get(d["key"]) or "") if done else "") for d in dimensions]
    return SheetItem(name=cluster.name, category=CATEGORY_LABELS.get(cluster.category, cluster.category), lines=lines,
                     total=assignment.total if done else None, overall=(assignment.overall or "") if done else "",
                     submitted_at=to_local(assignment.submitted_at) if done else None)


def expert_sheet(edition: Edition, round_: str, expert: User) -> ExpertSheet:
    """The expert's 专家评分表 of a round (the dimensions of the round's 评分细则)."""
    scheme = scheme_or_default(edition, round_)  # read only: printing stores nothing
    city = expert.region.city.name if expert.region else ""
    sheet = ExpertSheet(edition=edition.name, round=round_, round_label=ROUND_LABELS[round_],
                        expert=person_name(expert), employer=expert.employer or "", city=city,
                        max_total=max_total(scheme))
    sheet.items = [sheet_item(a, scheme.dimensions) for a in expert_assignments(edition, round_, expert)]
    return sheet


# --- 评审结果汇总表 ------------------------------------------------------------------------------

@dataclass
class RankingSheet:
    edition: str
    round: str
    round_label: str
    category: str
    category_label: str
    method_label: str
    panel_size: int
    rows: list[Row]
    panel: list[str]  # the experts who scored in this category: one signature line each
    cut: int | None
    printed_at: datetime
    snapshot_code: str = ""  # the frozen ranking's 校验码, when there is one
    snapshot_at: datetime | None = None
    snapshot_move: str = ""
    changed_since: bool = False  # the live ranking differs from the frozen one


def latest_snapshot(edition: Edition, round_: str, category: str) -> RankingSnapshot | None:
    return db.session.execute(
        db.select(RankingSnapshot).filter_by(edition_id=edition.id, round=round_, category=category)
        .order_by(RankingSnapshot.id.desc()).limit(1)).scalar_one_or_none()


def row_from_data(data: dict) -> Row:
    """A row of a frozen ranking (review/advance.row_data: JSON, expert ids as text)."""
    values = {k: data.get(k) for k in Row.__dataclass_fields__}
    values["totals"] = {int(k): v for k, v in (data.get("totals") or {}).items()}
    values["flags"] = list(data.get("flags") or [])
    values["outliers"] = [int(x) for x in data.get("outliers") or []]
    return Row(**values)


def ranking_key(rows: list[Row]) -> list[tuple]:
    return [(r.submission_id, r.score, r.rank, sorted(r.totals.items())) for r in rows]


def panel_names(ranking: RoundRanking, rows: list[Row]) -> list[str]:
    ids = sorted({x for r in rows for x in r.totals})
    return [ranking.expert_name(x) for x in ids]


def ranking_sheet(edition: Edition, round_: str, category: str, cut: int | None = None) -> RankingSheet:
    """The 评审结果汇总表 of a round and category (see the module's docstring for which ranking)."""
    ranking = round_ranking(edition, round_, {category: cut} if cut else None)
    live = ranking.rows(category)
    snap = latest_snapshot(edition, round_, category)
    rows, method = live, ranking.method
    if snap is not None:
        rows = [row_from_data(d) for d in (snap.data or {}).get("rows", [])]
        method = snap.method
    sheet = RankingSheet(edition=edition.name, round=round_, round_label=ROUND_LABELS[round_], category=category,
                         category_label=CATEGORY_LABELS[category], method_label=METHOD_LABELS.get(method, method),
                         panel_size=ranking.panel_size, rows=rows, panel=panel_names(ranking, live), cut=cut,
                         printed_at=local_now())
    if snap is not None:
        sheet.snapshot_code, sheet.snapshot_at = snap.code, to_local(snap.created_at)
        sheet.snapshot_move = (snap.data or {}).get("move_label", "")
        sheet.changed_since = ranking_key(rows) != ranking_key(live)
        frozen_experts = (snap.data or {}).get("experts") or {}
        ids = sorted({x for r in rows for x in r.totals})
        sheet.panel = [frozen_experts.get(str(x)) or ranking.expert_name(x) for x in ids]
    return sheet
