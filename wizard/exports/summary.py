"""The summary workbook (汇总表): the reports of one round of many submissions, side by side.

Sheets: 汇总 (a row per submission: who it is, then every single-value field and every indicator
of the report definition, under two header rows; a subtotal row per 市州 as formulas), one sheet
per table of the report (a row per table row, the cluster first; the 5.1 targets are one table),
and 说明 (edition, years, time, filters, round, where each report came from and its 校验码).

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
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

from ..extensions import db
from ..models import CATEGORY_LABELS, Edition, Region, Snapshot, Submission, to_local
from ..report.definition import CODE_LABEL, get_report
from ..report.kinds import ExcelColumn
from ..report.model import ROUND_LABELS, ROUNDS
from ..report.view import effective_answers
from ..workflow.states import STATES, state_label
from .excel import BOLD, Formula, append_row, save_workbook

SUMMARY_SHEET, NOTES_SHEET = "汇总", "说明"
FIXED_COLUMNS = ("序号", "集群名称", "申报类别", "所在市州", "所在县市区", "状态")
CLUSTER_COLUMN = "集群名称"
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
    "各市州的小计和最后的合计为公式（SUBTOTAL），修改表中数值后自动更新；只对金额（亿元、万元）和数量（个、人）"
    "类指标小计，小计行的增幅也由公式计算。",
    "数值以数字存储（单位见表头）；比例类指标填写的是百分数的数值（如 12.5 表示 12.5%）。",
)


# --- which answers --------------------------------------------------------------------------

@dataclass
class Entry:
    """One submission's report of the round, as exported."""

    sub: Submission
    answers: dict
    snapshot: Snapshot | None

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
            entries.append(Entry(sub, snap.answers or {}, snap))
        elif sub.answers_for(round_) or snap is not None:
            entries.append(Entry(sub, effective_answers(sub, round_), None))
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


def start_sheet(wb: Workbook, title: str, blocks: list[Block], rows, freeze: str, extra_rows: int = 0):
    """A write-only sheet with its widths, panes, filter and headers (all set before the first
    row); ``extra_rows``: rows written besides ``rows`` (subtotals)."""
    ws = wb.create_sheet(title)
    for i, w in enumerate(widths(blocks, rows), 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.row_dimensions[1].height = 48
    ws.freeze_panes = freeze
    n = sum(len(b.columns) for b in blocks)
    ws.auto_filter.ref = f"A2:{get_column_letter(n)}{len(rows) + extra_rows + 2}"
    write_headers(ws, blocks)
    return ws


def put_row(ws, row: list[tuple], font=None) -> None:
    """A row of (value, number format) cells."""
    values, formats = zip(*row) if row else ((), ())
    append_row(ws, values, formats, font=font)


# --- the 汇总 sheet ----------------------------------------------------------------------------

FIXED = len(FIXED_COLUMNS)


def summary_blocks(summary) -> list[Block]:
    return [Block(name, [ExcelColumn(name)]) for name in FIXED_COLUMNS] + [b for _, _, b in summary]


def summary_row(number: int, entry: Entry, summary) -> list[tuple]:
    sub = entry.sub
    region = sub.cluster.region
    row = [(number, None), (sub.cluster.name, None), (sub.cluster.category_label, None), (region.city.name, None),
           (region.name if region.level == "county" else None, None), (state_label(sub.state), None)]
    for section, f, _ in summary:
        row.extend(f.kind_of.excel_cells(f, section, entry.answers.get(f.key)))
    return row


def total_row(label: str, summary, first: int, last: int, here: int) -> list[tuple]:
    """A subtotal (or the total) row, on row ``here``: SUBTOTAL(9, …) of rows first..last in every
    amount and count column (SUBTOTAL leaves out other subtotals and rows hidden by a filter);
    the relative 增幅 of two such columns computed from the subtotals; nothing elsewhere."""
    out: list[tuple] = [(None, None), (label, None)] + [(None, None)] * (FIXED - 2)
    for _, _, block in summary:
        start = len(out) + 1
        for col in block.columns:
            letter = get_column_letter(len(out) + 1)
            pair = col.growth_of
            if col.total:
                out.append((Formula(f"=SUBTOTAL(9,{letter}{first}:{letter}{last})"), col.number_format))
            elif pair and all(block.columns[k].total for k in pair):
                a, b = (f"{get_column_letter(start + k)}{here}" for k in pair)
                out.append((Formula(f'=IF(N({a})=0,"",ROUND(({b}-{a})/ABS({a})*100,2))'), col.number_format))
            else:
                out.append((None, None))
    return out


def write_summary(wb: Workbook, entries: list[Entry], summary) -> None:
    """One row per report, grouped by 市州, each city closed by its subtotal row; the total last."""
    rows = [summary_row(i, e, summary) for i, e in enumerate(entries, 1)]
    cities = len({e.sub.cluster.region.city.code for e in entries})
    ws = start_sheet(wb, SUMMARY_SHEET, summary_blocks(summary), rows, "C3", cities + bool(entries))
    here, first = 3, 3
    for i, (entry, row) in enumerate(zip(entries, rows)):
        put_row(ws, row)
        here += 1
        city = entry.sub.cluster.region.city
        if i + 1 == len(entries) or entries[i + 1].sub.cluster.region.city.code != city.code:
            put_row(ws, total_row(SUBTOTAL.format(city=city.name), summary, first, here - 1, here), BOLD)
            here += 1
            first = here
    if entries:
        put_row(ws, total_row(TOTAL, summary, 3, here - 1, here), BOLD)


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
    for sheet in sheets:
        write_table(wb, sheet, entries)
    counts = (len(entries), sum(e.snapshot is not None for e in entries), skipped)
    write_notes(wb, entries, notes_rows(edition, round_, scope, filters or {}, now, counts))
    return save_workbook(wb), len(entries)


def summary_filename(round_: str, now: datetime) -> str:
    return f"汇总表-{ROUND_LABELS[round_]}-{now:%Y%m%d-%H%M}.xlsx"
