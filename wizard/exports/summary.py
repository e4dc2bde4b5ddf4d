"""The summary workbook (汇总表): the reports of one round of many submissions, side by side.

Sheets: 汇总 (a row per submission: who it is and the county's opinion, then every single-value
field and every indicator of the report definition, under two header rows; a subtotal row per 市州
with computed values), 主要指标 (the key figures per cluster, the sheet read on paper), one sheet
per table of the report (a row per table row, the cluster first; the 5.1 targets are one table),
and 说明 (edition, years, time, filters, round, where each report came from and its 校验码).

Every sheet prints: landscape A3 (说明 portrait A4), the header rows on every page, a print area;
汇总 at a fixed scale with the 序号 and 集群名称 columns on every page and a column break between
report sections where a section would not fit; the others one page wide.

Which columns a field adds, and what its cells hold, is its kind's business (report/kinds.py:
``excel_sheet``, ``excel_headers``, ``excel_cells``, ``excel_rows``); every cell is written by
exports/excel.put.  A report that has been submitted (and is not being revised) is taken from
its latest snapshot, frozen at the submit; any other from the live answers (a draft).

The workbook is written in openpyxl's write-only mode (rows streamed), so a thousand
submissions stay within a few seconds and a modest amount of memory.  No Flask request here:
views pass the submissions, the round and the filters in.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field as dataclass_field
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.worksheet import Worksheet

from ..extensions import db
from ..models import CATEGORY_LABELS, Edition, Region, Snapshot, Submission, to_local
from ..report.definition import CODE_LABEL, get_report
from ..report.kinds import ExcelColumn
from ..report.model import ROUND_LABELS, ROUNDS
from ..report.numbers import growth
from ..report.view import effective_answers
from ..workflow.states import STATES, state_label
from .excel import BOLD, append_row, save_workbook

SUMMARY_SHEET, NOTES_SHEET, KEY_SHEET = "汇总", "说明", "主要指标"
CLUSTER_COLUMN = "集群名称"
# the county's opinion (一、's last box), named as the definition names it, and the day it was given
OPINION_COLUMN = next(f.label for f in get_report("preliminary").fields if f.kind_of.county_writes).rstrip("：")
OPINION_DATE = "意见日期"
FIXED_COLUMNS = ("序号", CLUSTER_COLUMN, "申报类别", "所在市州", "所在县市区", "状态", OPINION_COLUMN, OPINION_DATE)
TITLE_COLUMNS = 2  # 序号 and 集群名称: printed at the left of every page of 汇总
# The printed page (landscape A3): its width in pixels at 96 dpi less the margins, and the scale
# 汇总 is printed at; each page holds whole sections of columns where they fit.
A3_LANDSCAPE_PX = (420 - 2 * 10) / 25.4 * 96
SUMMARY_SCALE = 60
# the figures a person reads on paper: the latest year and its 增幅 of these indicators
KEY_FIGURES = ("output_total", "leading_output", "revenue", "profit", "tax", "enterprises",
               "above_scale_enterprises", "employees")
HEADER = Alignment(horizontal="center", vertical="center", wrap_text=True)
SNAPSHOT_SOURCE, DRAFT_SOURCE = "提交快照", "当前填写内容（草稿，未提交或退回修改中）"
SUBTOTAL, TOTAL = "{city} 小计", "合计"
CHUNK = 500  # ids per IN (…) of the snapshot query
MIN_WIDTH, MAX_TEXT_WIDTH, MAX_NUMBER_WIDTH = 6, 50, 18
FILTER_LABELS = {"state": "状态", "category": "申报类别", "city": "市州", "q": "名称包含"}
NOTES = (
    "已提交的报告取自其最近一次提交时冻结的快照（校验码见下表，可在“校验码核验”中核对）；"
    "尚未提交或退回修改中的报告取自当前填写内容（草稿），其数值可能仍会变化。",
    "增幅（%）＝（后一年 − 前一年）÷ |前一年| × 100；比例类指标（单位 %）的增幅为两年之差，单位为个百分点；"
    "前一年为 0 或未填写时增幅留空。",
    "各市州的小计和最后的合计是导出时计算好的数值（不是公式，任何软件打开或打印都能看到），修改表中数值后不会自动更新；"
    "只对金额（亿元、万元）和数量（个、人）类指标小计，小计行的增幅由小计计算。",
    "打印：各工作表已设为横向 A3（说明为纵向 A4），每页重复表头，“汇总”每页重复序号和集群名称；"
    "纸面阅读请打印“主要指标”工作表。",
    "数值以数字存储（单位见表头）；比例类指标填写的是百分数的数值（如 12.5 表示 12.5%）。",
)


# --- which answers --------------------------------------------------------------------------

@dataclass
class Entry:
    """One submission's report of the round, as exported."""

    sub: Submission
    answers: dict
    snapshot: Snapshot | None
    opinion: dict | None = None  # the county's opinion of the round: {"text", "date", "by"}

    @property
    def source(self) -> str:
        return SNAPSHOT_SOURCE if self.snapshot is not None else DRAFT_SOURCE


def latest_snapshots(ids: list[int], round_: str) -> dict[int, Snapshot]:
    """submission id → its latest snapshot of the round (as workflow/snapshots.latest_snapshot:
    the newest id), in a few queries whatever the number of submissions."""
    out: dict[int, Snapshot] = {}
    for i in range(0, len(ids), CHUNK):
        newest = (db.select(db.func.max(Snapshot.id))
                  .where(Snapshot.submission_id.in_(ids[i:i + CHUNK]), Snapshot.round == round_)
                  .group_by(Snapshot.submission_id))
        for snap in db.session.execute(db.select(Snapshot).where(Snapshot.id.in_(newest))).scalars():
            out[snap.submission_id] = snap
    return out


def entries_of(subs, round_: str) -> tuple[list[Entry], int]:
    """The reports of the round, grouped by city (the given order kept within a city), and how
    many submissions have no report of that round (left out)."""
    snaps = latest_snapshots([s.id for s in subs], round_)
    entries, skipped = [], 0
    for sub in subs:
        snap = snaps.get(sub.id)
        if snap is not None and STATES[sub.state].editable_round != round_:
            entries.append(Entry(sub, snap.answers or {}, snap, (sub.opinions or {}).get(round_)))
        elif sub.answers_for(round_) or snap is not None:
            entries.append(Entry(sub, effective_answers(sub, round_), None, (sub.opinions or {}).get(round_)))
        else:
            skipped += 1
    entries.sort(key=lambda e: e.sub.cluster.region.city.code)
    return entries, skipped


# --- the layout: what the definition's kinds make of the report ----------------------------

@dataclass
class Block:
    """Columns under one upper header cell (a field on 汇总, a group of a table's columns)."""

    heading: str
    columns: list[ExcelColumn]


@dataclass
class TableSheet:
    """A sheet of rows: a table field, or the fields of a section that form one table (5.1)."""

    title: str
    blocks: list[Block]
    fields: list = dataclass_field(default_factory=list)


def section_heading(section, heading: str) -> str:
    title = section.heading
    return f"{title}\n{heading}" if title and title != heading else heading


def column_blocks(columns: list[ExcelColumn]) -> list[Block]:
    """Consecutive columns with the same heading and a lower header share the upper cell."""
    blocks: list[Block] = []
    for col in columns:
        if blocks and col.sub is not None and blocks[-1].heading == col.heading and blocks[-1].columns[-1].sub:
            blocks[-1].columns.append(col)
        else:
            blocks.append(Block(col.heading, [col]))
    return blocks


def layout(round_: str, years: dict) -> tuple[list, list[TableSheet]]:
    """(the 汇总 sheet's (section, field, Block) triples, the table sheets), from the definition."""
    summary, sheets = [], {}
    for section in get_report(round_).sections:
        for f in section.fields:
            kind = f.kind_of
            title = kind.excel_sheet(f, section)
            if title is None:
                cols = kind.excel_headers(f, section, years)
                if cols and cols[0].heading == CLUSTER_COLUMN and len(cols) == 1:
                    continue  # the cluster's name is the fixed column: once
                if cols:
                    summary.append((section, f, Block(section_heading(section, cols[0].heading), cols)))
                continue
            title = sheet_title(title)
            if title not in sheets:
                cols = [ExcelColumn(CLUSTER_COLUMN)] + kind.excel_headers(f, section, years)
                sheets[title] = TableSheet(title, column_blocks(cols))
            sheets[title].fields.append(f)
    return summary, list(sheets.values())


def sheet_title(text: str) -> str:
    """What Excel accepts as a sheet name: 31 characters, none of []:*?/\\."""
    return "".join(" " if ch in "[]:*?/\\" else ch for ch in text).strip()[:31]


# --- writing a sheet ------------------------------------------------------------------------

def text_width(text: str) -> int:
    """Columns of the widest line, CJK characters counting two."""
    return max((sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
                for line in str(text).split("\n")), default=0)


def cell_width(value) -> int:
    """About the columns a value takes (cheap: every cell of a big export is measured)."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value) if value.isascii() else min(2 * len(value), MAX_TEXT_WIDTH)
    return len(str(value)) + 3  # thousands separators, decimals


def widths(blocks: list[Block], rows) -> list[float]:
    """Column widths that fit the headers (an upper one shared by its columns) and the values."""
    out = []
    for block in blocks:
        share = text_width(block.heading) / len(block.columns)
        out.extend(max(MIN_WIDTH, share, text_width(col.sub or "")) for col in block.columns)
    for row in rows:
        for i, (value, _) in enumerate(row):
            w = cell_width(value)
            if w > out[i]:
                out[i] = w
    return [min(w, MAX_TEXT_WIDTH) + 2 for w in out]


def write_headers(ws, blocks: list[Block]) -> None:
    """The two header rows, merged: a block's heading across its columns, a lone heading down."""
    upper, lower, col = [], [], 1
    for block in blocks:
        for i, c in enumerate(block.columns):
            upper.append(block.heading if i == 0 else None)
            lower.append(c.sub)
        last = col + len(block.columns) - 1
        if len(block.columns) > 1:
            ws.merged_cells.add(f"{get_column_letter(col)}1:{get_column_letter(last)}1")
        elif block.columns[0].sub is None:
            ws.merged_cells.add(f"{get_column_letter(col)}1:{get_column_letter(col)}2")
        col = last + 1
    append_row(ws, [u or "" for u in upper], font=BOLD, alignment=HEADER)
    append_row(ws, [x or "" for x in lower], font=BOLD, alignment=HEADER)


def start_sheet(wb: Workbook, title: str, blocks: list[Block], rows, freeze: str, extra_rows: int = 0,
                groups: list[int] | None = None):
    """A write-only sheet with its widths, panes, filter, print set-up and headers (all set before
    the first row); ``extra_rows``: rows written besides ``rows`` (subtotals).  ``groups``: the
    number of blocks of each printed section after the title columns (汇总: printed at a scale,
    a page per section where it fits); otherwise the sheet prints one page wide."""
    ws = wb.create_sheet(title)
    sizes = widths(blocks, rows)
    for i, w in enumerate(sizes, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.row_dimensions[1].height = 48
    ws.freeze_panes = freeze
    n = sum(len(b.columns) for b in blocks)
    last_row = len(rows) + extra_rows + 2
    ws.auto_filter.ref = f"A2:{get_column_letter(n)}{last_row}"
    if groups is None:
        page_setup(ws, n, last_row, title_cols=1)
    else:
        page_setup(ws, n, last_row, title_cols=TITLE_COLUMNS, breaks=summary_breaks(blocks, sizes, groups),
                   scale=SUMMARY_SCALE)
    write_headers(ws, blocks)
    return ws


def column_px(width: float) -> float:
    """A column's printed width in pixels (96 dpi) at 100 %, as Excel sizes it."""
    return width * 7 + 5


def page_setup(ws, last_col: int, last_row: int, *, title_cols: int = 0, a4: bool = False,
               breaks=(), scale: int | None = None) -> None:
    """Print set-up (before the first row: a write-only sheet writes it with the sheet): landscape
    A3 (portrait A4 for 说明), the header rows (and ``title_cols`` columns) on every page, the
    print area, grid lines; one page wide unless ``scale`` and column ``breaks`` are given."""
    ws.page_setup.orientation = "portrait" if a4 else "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4 if a4 else Worksheet.PAPERSIZE_A3
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.5, header=0.2, footer=0.2)
    ws.print_options.gridLines = True
    ws.print_options.horizontalCentered = False
    ws.print_area = f"A1:{get_column_letter(last_col)}{max(last_row, 1)}"
    if not a4:
        ws.print_title_rows = "1:2"
    if title_cols:
        ws.print_title_cols = f"A:{get_column_letter(title_cols)}"
    if scale:
        ws.page_setup.scale = scale
        for col in breaks:
            ws.col_breaks.append(Break(id=col))
    else:
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0


def section_breaks(groups: list[list[float]], title_px: float, scale: int) -> list[int]:
    """The column numbers after which a printed page ends: each page holds whole groups (a
    report section's columns) while they fit beside the title columns; a group wider than a page
    is cut where the page is full.  ``groups``: the widths of each group's columns, in order."""
    room = A3_LANDSCAPE_PX * 100 / scale * 0.9 - title_px  # 10 % spare: spreadsheet programs measure fonts differently
    out, used, col = [], 0.0, 0
    for group in groups:
        need = sum(column_px(w) for w in group)
        if used and used + need > room:
            out.append(col)
            used = 0.0
        for w in group:
            if used and used + column_px(w) > room:
                out.append(col)
                used = 0.0
            used += column_px(w)
            col += 1
    return out


def summary_breaks(blocks: list[Block], sizes: list[float], groups: list[int]) -> list[int]:
    """The column breaks of 汇总 (absolute column numbers): ``groups`` blocks after the title
    columns make one section each (the fixed columns, then a report section per group)."""
    grouped, start = [], TITLE_COLUMNS
    first = TITLE_COLUMNS  # blocks before ``start`` have one column each up to here
    for count in groups:
        width = sum(len(b.columns) for b in blocks[start:start + count])
        grouped.append(sizes[first:first + width])
        start, first = start + count, first + width
    title_px = sum(column_px(w) for w in sizes[:TITLE_COLUMNS])
    return [TITLE_COLUMNS + c for c in section_breaks(grouped, title_px, SUMMARY_SCALE)]


def put_row(ws, row: list[tuple], font=None) -> None:
    """A row of (value, number format) cells."""
    values, formats = zip(*row) if row else ((), ())
    append_row(ws, values, formats, font=font)


# --- the 汇总 sheet ----------------------------------------------------------------------------

FIXED = len(FIXED_COLUMNS)


def summary_blocks(summary) -> list[Block]:
    return [Block(name, [ExcelColumn(name)]) for name in FIXED_COLUMNS] + [b for _, _, b in summary]


def summary_groups(summary) -> list[int]:
    """How many blocks each printed section of 汇总 has: the fixed columns after the title
    columns, then each report section's fields."""
    out, last = [FIXED - TITLE_COLUMNS], None
    for section, _, _ in summary:
        if section is last:
            out[-1] += 1
        else:
            out.append(1)
            last = section
    return out


def opinion_cells(entry: Entry) -> list[tuple]:
    """The county's opinion of the round and its date (a date cell), blank before it is given."""
    op = entry.opinion or {}
    day = date.fromisoformat(op["date"]) if op.get("date") else None
    return [(op.get("text") or None, None), (day, "yyyy-mm-dd")]


def summary_row(number: int, entry: Entry, summary) -> list[tuple]:
    sub = entry.sub
    region = sub.cluster.region
    row = [(number, None), (sub.cluster.name, None), (sub.cluster.category_label, None), (region.city.name, None),
           (region.name if region.level == "county" else None, None), (state_label(sub.state), None)]
    row += opinion_cells(entry)
    for section, f, _ in summary:
        row.extend(f.kind_of.excel_cells(f, section, entry.answers.get(f.key)))
    return row


def column_sum(rows: list[list[tuple]], index: int):
    """The sum of a column's numbers (Decimal arithmetic), as a number cell's value; None if none."""
    values = [Decimal(str(row[index][0])) for row in rows if isinstance(row[index][0], (int, float))]
    if not values:
        return None
    total = sum(values, Decimal(0))
    return int(total) if total == total.to_integral_value() else float(total)


def total_row(label: str, summary, members: list[list[tuple]]) -> list[tuple]:
    """A subtotal (or the total) row of the report rows ``members``: the computed sum of every
    amount and count column, and the relative 增幅 of two such sums (numbers.growth, the rule of
    the reports' own 增幅); written as values, so a viewer that does not recalculate shows them."""
    out: list[tuple] = [(None, None), (label, None)] + [(None, None)] * (FIXED - 2)
    for _, _, block in summary:
        start = len(out)
        for col in block.columns:
            pair = col.growth_of
            if col.total:
                out.append((column_sum(members, len(out)), col.number_format))
            elif pair and all(block.columns[k].total for k in pair):
                a, b = (out[start + k][0] for k in pair)
                g = growth(a, b)
                out.append((None if g == "—" else float(g), col.number_format))
            else:
                out.append((None, None))
    return out


def write_summary(wb: Workbook, entries: list[Entry], summary) -> None:
    """One row per report, grouped by 市州, each city closed by its subtotal row; the total last."""
    rows = [summary_row(i, e, summary) for i, e in enumerate(entries, 1)]
    cities = len({e.sub.cluster.region.city.code for e in entries})
    ws = start_sheet(wb, SUMMARY_SHEET, summary_blocks(summary), rows, "C3", cities + bool(entries),
                     groups=summary_groups(summary))
    members = []
    for i, (entry, row) in enumerate(zip(entries, rows)):
        put_row(ws, row)
        members.append(row)
        city = entry.sub.cluster.region.city
        if i + 1 == len(entries) or entries[i + 1].sub.cluster.region.city.code != city.code:
            put_row(ws, total_row(SUBTOTAL.format(city=city.name), summary, members), BOLD)
            members = []
    if entries:
        put_row(ws, total_row(TOTAL, summary, rows), BOLD)


# --- 主要指标: the key figures per cluster, for paper ------------------------------------------

def key_fields(round_: str):
    """(section, field) of the key figures the round's report has."""
    report = get_report(round_)
    keyed = {f.key: (s, f) for s in report.sections for f in s.fields}
    return [keyed[k] for k in KEY_FIGURES if k in keyed]


def key_blocks(round_: str, years: dict) -> list[Block]:
    blocks = [Block(name, [ExcelColumn(name)]) for name in ("序号", CLUSTER_COLUMN, "所在市州", "状态")]
    for section, f in key_fields(round_):
        cols = f.kind_of.excel_headers(f, section, years)
        blocks.append(Block(cols[0].heading, [cols[1]] + cols[2:]))  # the latest year and the 增幅
    return blocks + [Block(OPINION_COLUMN, [ExcelColumn(OPINION_COLUMN)])]


def key_row(number: int, entry: Entry, round_: str) -> list[tuple]:
    sub = entry.sub
    row = [(number, None), (sub.cluster.name, None), (sub.cluster.region.city.name, None), (state_label(sub.state), None)]
    for section, f in key_fields(round_):
        cells = f.kind_of.excel_cells(f, section, entry.answers.get(f.key))
        row.extend([cells[1]] + cells[2:])
    return row + [opinion_cells(entry)[0]]


def write_key_figures(wb: Workbook, entries: list[Entry], round_: str, years: dict) -> None:
    """One row per cluster: who, the key figures of the latest year with their 增幅, the county's
    opinion; a landscape A3 page wide, the header rows on every page."""
    rows = [key_row(i, e, round_) for i, e in enumerate(entries, 1)]
    ws = start_sheet(wb, KEY_SHEET, key_blocks(round_, years), rows, "C3")
    for row in rows:
        put_row(ws, row)


# --- the table sheets and 说明 -----------------------------------------------------------------

def table_rows(sheet: TableSheet, entries: list[Entry]) -> list[list[tuple]]:
    return [[(e.sub.cluster.name, None)] + cells
            for e in entries for f in sheet.fields for cells in f.kind_of.excel_rows(f, e.answers.get(f.key))]


def write_table(wb: Workbook, sheet: TableSheet, entries: list[Entry]) -> None:
    rows = table_rows(sheet, entries)
    ws = start_sheet(wb, sheet.title, sheet.blocks, rows, freeze="B3")
    for row in rows:
        put_row(ws, row)


def filter_text(filters: dict) -> str:
    """The list filters used, readable; unknown values are named as given (the list ignores them)."""
    parts = []
    for key, label in FILTER_LABELS.items():
        value = (filters or {}).get(key) or ""
        if not value:
            continue
        if key == "state":
            value = STATES[value].label if value in STATES else f"{value}（无效，未使用）"
        elif key == "category":
            value = CATEGORY_LABELS.get(value, f"{value}（无效，未使用）")
        elif key == "city":
            region = db.session.execute(db.select(Region).filter_by(code=value)).scalar_one_or_none()
            value = region.name if region else f"{value}（无效，未使用）"
        parts.append(f"{label}：{value}")
    return "；".join(parts) or "无（全部）"


def notes_rows(edition: Edition, round_: str, scope: str, filters: dict, now: datetime, counts) -> list[list]:
    years = edition.years
    n, from_snapshots, skipped = counts
    return [
        ["竞赛届次", edition.name],
        ["数据年份", f"{years['y1']}年、{years['y2']}年（目标年份 {years['t1']}—{years['t3']}年）"],
        ["导出轮次", f"{ROUND_LABELS[round_]}参赛报告"],
        ["导出时间（北京时间）", f"{now:%Y-%m-%d %H:%M:%S}"],
        ["范围", scope],
        ["筛选条件", filter_text(filters)],
        ["申报数", f"{n} 个（提交快照 {from_snapshots} 个，草稿 {n - from_snapshots} 个）；"
                 f"另有 {skipped} 个申报尚无{ROUND_LABELS[round_]}报告，未列入"],
    ] + [["说明", text] for text in NOTES]


def write_notes(wb: Workbook, entries: list[Entry], head: list[list]) -> None:
    ws = wb.create_sheet(NOTES_SHEET)
    for letter, width in zip("ABCDEF", (22, 46, 12, 40, 20, 16)):
        ws.column_dimensions[letter].width = width
    page_setup(ws, 6, len(head) + len(entries) + 2, a4=True)
    for label, value in head:
        append_row(ws, [label, value])
    append_row(ws, [])
    append_row(ws, ["序号", "集群名称", "所在市州", "数据来源", "提交时间（北京时间）", CODE_LABEL], font=BOLD)
    for i, e in enumerate(entries, 1):
        snap = e.snapshot
        append_row(ws, [i, e.sub.cluster.name, e.sub.cluster.region.city.name, e.source,
                        f"{to_local(snap.created_at):%Y-%m-%d %H:%M}" if snap else "", snap.code if snap else ""])


# --- the workbook ---------------------------------------------------------------------------

def summary_xlsx(subs, round_: str, edition: Edition, *, now: datetime, filters: dict | None = None,
                 scope: str = "全省") -> tuple[bytes, int]:
    """The summary workbook of the round's reports of ``subs`` (one edition's); returns the
    file and the number of reports in it."""
    if round_ not in ROUNDS:
        raise ValueError(f"unknown round {round_!r}")
    entries, skipped = entries_of(subs, round_)
    summary, sheets = layout(round_, edition.years)
    wb = Workbook(write_only=True)
    write_summary(wb, entries, summary)
    write_key_figures(wb, entries, round_, edition.years)
    for sheet in sheets:
        write_table(wb, sheet, entries)
    counts = (len(entries), sum(e.snapshot is not None for e in entries), skipped)
    write_notes(wb, entries, notes_rows(edition, round_, scope, filters or {}, now, counts))
    return save_workbook(wb), len(entries)


def summary_filename(round_: str, now: datetime) -> str:
    return f"汇总表-{ROUND_LABELS[round_]}-{now:%Y%m%d-%H%M}.xlsx"
