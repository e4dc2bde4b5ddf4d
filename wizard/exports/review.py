"""The expert-review workbook of a round (评审结果): the raw scores and the ranking.

Sheets: 原始评分 (a row per report × expert: each dimension's score and comment, the total, the
总体评价, when it was submitted), one 排名 sheet per category (every column of the ranking),
and 说明 (the edition, the round, the method and how each column is computed).

Every cell goes through exports/excel.put (text stays inert); numbers stay numbers with their
formats; the header rows are frozen.  Written in openpyxl's write-only mode, so 500 reports
× 5 experts stay well under a second.  No Flask request here: views pass the ranking in."""
from __future__ import annotations

from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

from ..models import CATEGORY_LABELS, to_local
from ..report.model import ROUND_LABELS
from ..review.ranking import FLAG_CUT, OUTLIER_SD_FLOOR, TRIM_MIN_SCORES
from ..review.results import RoundRanking
from ..review.scheme import METHOD_LABELS
from .excel import BOLD, append_row, save_workbook

RAW_SHEET, NOTES_SHEET = "原始评分", "说明"
RANKING_SHEET = "排名-{category}"
SCORE_FORMAT, VALUE_FORMAT, TIME_FORMAT = "0.0#", "0.00", "yyyy-mm-dd hh:mm"
HEADER = Alignment(horizontal="center", vertical="center", wrap_text=True)
RANKING_COLUMNS = ("名次", "并列", "集群名称", "评分数", "得分", "说明", "算术平均", "标准化得分", "最好名次", "最差名次",
                   "标记", "评分偏离的专家", "各专家总分")
RANKING_WIDTHS = (7, 6, 40, 8, 10, 22, 10, 11, 9, 9, 30, 18, 50)
RANKING_FORMATS = (None, None, None, None, VALUE_FORMAT, None, VALUE_FORMAT, VALUE_FORMAT, None, None, None, None, None)
NOTES = (
    "得分：按本轮评分细则的计分方法计算；“去掉一个最高分和一个最低分后取平均”须有 {n} 份及以上评分，"
    "不足时按算术平均，并在“说明”列注明。",
    "名次：得分按两位小数比较，相同者并列（名次相同，如 1、2、2、4），不以其他方式区分先后。",
    "标准化得分：每位专家的总分先按该专家本轮全部评分的平均值和标准差（样本标准差）化为 z 分数，"
    "再映射到本轮全部评分的平均值和标准差上，取平均；只评一份或各份总分相同的专家按本轮平均分计。供参考。",
    "名次区间：依次去掉每一位专家的全部评分后重新计算得分和名次，取最好和最差名次。"
    "区间跨越晋级分数线者标记“" + FLAG_CUT + "”。",
    "评分偏离：某位专家的总分与其他专家平均分之差超过其他专家总分标准差的 2 倍（至少 3 位其他专家；"
    "标准差不足 {floor} 分时按 {floor} 分计）。",
    "原始评分只含已提交且有效（未回避、未撤回）的评分。",
)


def start_sheet(wb: Workbook, title: str, headers, widths, freeze: str):
    ws = wb.create_sheet(title)
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = freeze
    append_row(ws, list(headers), font=BOLD, alignment=HEADER)
    return ws


def raw_headers(dimensions: list[dict]) -> list[str]:
    out = ["类别", "集群名称", "专家", "工作单位"]
    for d in dimensions:
        out += [f"{d['label']}（满分 {d['max']:g}）", f"{d['label']}评语"]
    return out + ["合计", "总体评价", "提交时间"]


def raw_sheet(wb: Workbook, ranking: RoundRanking) -> None:
    dims = ranking.scheme.dimensions
    headers = raw_headers(dims)
    widths = [14, 36, 12, 24] + [10, 24] * len(dims) + [9, 50, 17]
    ws = start_sheet(wb, RAW_SHEET, headers, widths, "C2")
    formats = [None] * 4 + [SCORE_FORMAT, None] * len(dims) + [SCORE_FORMAT, None, TIME_FORMAT]
    subs = ranking.submissions
    order = sorted(ranking.assignments, key=lambda a: (subs[a.submission_id].cluster.category,
                                                      subs[a.submission_id].cluster.name, a.expert_id))
    for a in order:
        cluster, expert = subs[a.submission_id].cluster, ranking.experts[a.expert_id]
        scores, comments = a.scores or {}, a.comments or {}
        values = [CATEGORY_LABELS.get(cluster.category, cluster.category), cluster.name, ranking.expert_name(a.expert_id),
                  expert.employer or ""]
        for d in dims:
            values += [scores.get(d["key"]), comments.get(d["key"]) or None]  # an empty cell costs nothing
        values += [a.total, a.overall or None, to_local(a.submitted_at)]
        append_row(ws, values, formats)


def ranking_sheet(wb: Workbook, ranking: RoundRanking, category: str) -> None:
    label = CATEGORY_LABELS[category]
    headers = list(RANKING_COLUMNS)
    headers[4] = f"得分（{METHOD_LABELS.get(ranking.method, ranking.method)}）"
    ws = start_sheet(wb, RANKING_SHEET.format(category=label), headers, RANKING_WIDTHS, "D2")
    for r in ranking.rows(category):
        totals = "；".join(f"{ranking.expert_name(x)} {t:g}" for x, t in sorted(r.totals.items(), key=lambda i: -i[1]))
        outliers = "、".join(ranking.expert_name(x) for x in r.outliers)
        append_row(ws, [r.rank, "并列" if r.tied else "", r.name, r.n_scores, r.score, r.note, r.mean, r.normalised,
                        r.rank_best, r.rank_worst, "；".join(r.flags), outliers, totals], RANKING_FORMATS)


def notes_sheet(wb: Workbook, ranking: RoundRanking, now: datetime) -> None:
    ws = start_sheet(wb, NOTES_SHEET, ["项目", "内容"], (16, 110), "A2")
    rows = [("竞赛", ranking.edition.name), ("轮次", ROUND_LABELS[ranking.round]),
            ("计分方法", METHOD_LABELS.get(ranking.method, ranking.method)),
            ("每份报告专家数", ranking.panel_size), ("导出时间", now.strftime("%Y-%m-%d %H:%M"))]
    rows += [("晋级名额", f"{CATEGORY_LABELS[c]}：前 {n} 名") for c, n in ranking.cuts.items() if c in CATEGORY_LABELS]
    rows += [("说明", note.format(n=TRIM_MIN_SCORES, floor=f"{OUTLIER_SD_FLOOR:g}")) for note in NOTES]
    for row in rows:
        append_row(ws, list(row))


def review_xlsx(ranking: RoundRanking, now: datetime) -> bytes:
    """The round's workbook: raw scores, the ranking of each category, the notes."""
    wb = Workbook(write_only=True)
    raw_sheet(wb, ranking)
    for category in ranking.rows_by_category:
        ranking_sheet(wb, ranking, category)
    notes_sheet(wb, ranking, now)
    return save_workbook(wb)


def review_filename(ranking: RoundRanking, now: datetime) -> str:
    return f"专家评审-{ROUND_LABELS[ranking.round]}-{now:%Y%m%d-%H%M}.xlsx"
