"""The edition's outcome: the result list in the official 附件3 layout, on the page and as .xlsx.

No Flask request objects here: views pass the user in."""
from __future__ import annotations

import re
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Font

from ..access import visible_submissions
from ..extensions import db
from ..models import CATEGORY_ADVANCED, CATEGORY_SME, Cluster, Edition, HistoryEntry, RankingSnapshot, Submission
from ..review.results import round_ranking
from ..review.scheme import stored_scheme
from ..workflow.states import FINAL, MOVES_BY_KEY
# The recognised outcome is wherever the 认定 move leads (awarded, 认定为培育对象).
from .excel import BOLD, CENTER, append_row, save_workbook, set_widths

AWARDED_STATE = MOVES_BY_KEY["award"].target

# 附件3's headings, verbatim; {batch} is "第一批" for the first edition.
RESULT_TITLE = "省级产业集群培育对象名单（{batch}）"
GROUP_HEADINGS = {
    CATEGORY_ADVANCED: "一、湖南省先进制造业集群培育对象名单（{batch}）",
    CATEGORY_SME: "二、湖南省中小企业特色产业集群培育对象（{batch}）",
}
RESULT_COLUMNS = ("序号", "集群名称", "所在市州", "审核政府")
#: the experts' official score of the final round, shown once the final round has been scored
SCORE_COLUMN = "决赛得分"


def batch_label(edition: Edition) -> str:
    """Edition N (…（第一届）) publishes batch N (第一批); editions not named that way use their name."""
    m = re.search(r"第([^（）()]+?)届", edition.name or "")
    return f"第{m.group(1)}批" if m else edition.name


@dataclass(frozen=True)
class ResultEntry:
    number: int
    submission_id: int
    name: str
    city: str
    government: str
    score: float | None = None  # the final round's official score (专家评审), when scored


@dataclass(frozen=True)
class ResultGroup:
    category: str
    heading: str
    entries: tuple[ResultEntry, ...]


@dataclass(frozen=True)
class ResultList:
    edition: Edition
    title: str
    groups: tuple[ResultGroup, ...]

    @property
    def total(self) -> int:
        return sum(len(g.entries) for g in self.groups)

    @property
    def scored(self) -> bool:
        """Whether any cluster has a final-round score (then the list has the score column)."""
        return any(e.score is not None for g in self.groups for e in g.entries)

    @property
    def columns(self) -> tuple[str, ...]:
        return RESULT_COLUMNS + ((SCORE_COLUMN,) if self.scored else ())


def final_scores(edition: Edition, subs) -> dict[int, float]:
    """submission id → its final-round official score: as frozen in the ranking its award was
    decided from, else as the final round's scores stand now (an award made from the list)."""
    ids = [s.id for s in subs]
    if not ids:
        return {}
    decided = db.session.execute(
        db.select(HistoryEntry.submission_id, HistoryEntry.ranking_id)
        .where(HistoryEntry.submission_id.in_(ids), HistoryEntry.to_state == AWARDED_STATE,
               HistoryEntry.ranking_id.is_not(None)).order_by(HistoryEntry.id)).all()
    snapshots = {snap.id: snap for snap in db.session.execute(
        db.select(RankingSnapshot).where(RankingSnapshot.id.in_({r for _, r in decided})))
        .scalars()} if decided else {}
    scores = {}
    for sid, ranking_id in decided:  # the latest award wins (ordered by id)
        row = next((r for r in snapshots[ranking_id].data.get("rows", []) if r.get("submission_id") == sid), None)
        if row is not None and row.get("score") is not None:
            scores[sid] = row["score"]
    if len(scores) < len(ids) and stored_scheme(edition, FINAL) is not None:  # else nothing was scored
        live = round_ranking(edition, FINAL)
        for rows in live.rows_by_category.values():
            scores.update({r.submission_id: r.score for r in rows
                           if r.submission_id in ids and r.submission_id not in scores and r.score is not None})
    return scores


def result_list(edition: Edition, user) -> ResultList:
    """The clusters recognised in this edition, grouped by category in 附件3's order.

    Within a group clusters are ordered by cluster id: the seed loads 附件3's clusters in
    the order printed there, so the official order is reproduced and later additions go last."""
    subs = db.session.execute(
        visible_submissions(user)
        .where(Submission.edition_id == edition.id, Submission.state == AWARDED_STATE)
        .order_by(Cluster.id)
    ).scalars().all()
    batch = batch_label(edition)
    scores = final_scores(edition, subs)
    groups = []
    for category, heading in GROUP_HEADINGS.items():
        members = [s for s in subs if s.cluster.category == category]
        entries = tuple(ResultEntry(i, s.id, s.cluster.name, s.cluster.region.city.name,
                                    s.cluster.region.government_name, scores.get(s.id))
                        for i, s in enumerate(members, 1))
        groups.append(ResultGroup(category, heading.format(batch=batch), entries))
    return ResultList(edition, RESULT_TITLE.format(batch=batch), tuple(groups))


def result_list_xlsx(results: ResultList) -> bytes:
    """附件3 as a worksheet: merged title row; per group a merged heading row, a header row, the clusters."""
    wb = Workbook()
    ws = wb.active
    ws.title = "培育对象名单"
    span = len(results.columns)
    append_row(ws, [results.title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=span)
    ws.cell(1, 1).font = Font(bold=True, size=16)
    ws.cell(1, 1).alignment = CENTER
    ws.row_dimensions[1].height = 30
    for group in results.groups:
        row = append_row(ws, [group.heading])
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=span)
        ws.cell(row, 1).font = Font(bold=True, size=13)
        for cell in ws[append_row(ws, list(results.columns))]:
            cell.font = BOLD
            cell.alignment = CENTER
        for e in group.entries:
            score = ([e.score if e.score is not None else "—"] if results.scored else [])
            row = append_row(ws, [e.number, e.name, e.city, e.government] + score,
                             (None, None, None, None, "0.00") if results.scored else ())
            ws.cell(row, 1).alignment = CENTER
        if not group.entries:
            append_row(ws, ["", "（暂无）"])
    set_widths(ws, (8, 46, 14, 28, 12))
    return save_workbook(wb)


def result_list_filename(results: ResultList) -> str:
    return f"{results.title}.xlsx"
