"""The applicant's Excel template (填报模板): the report of one round as a workbook to fill offline.

One sheet per wizard step that has something to type, with the labels, units and years of the
form (everything read from the report definition; a field is laid out as its kind says:
``template_layout`` and ``template_input`` in report/kinds.py, which tests hold to the form field
the kind builds, so the template offers exactly what the form does), the current answers filled
in, the 增幅 cells as formulas in locked cells, data validation
(级别 lists, numbers, text lengths, the row limit of each table as its fixed number of rows), and
a very hidden sheet that says which report, round, edition, submission and definition version
the workbook belongs to (``template_import`` refuses any other).

The layout (``sheet_plans``) is one object that both the writer here and the reader in
``template_import`` use, so the two can never disagree about where a value is.  Every row that
holds answers carries a key in the hidden column A (``f:<field>`` for a field's row, ``t:<field>``
for each row of a table, ``h:<section>`` for a header row): a row inserted or removed by someone
who lifts the sheet protection moves its key with it, and the reader still knows what each row is.
No Flask request here: the view passes the submission in.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field as dataclass_field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import MultiCellRange
from openpyxl.worksheet.datavalidation import DataValidation

from ..models import Submission
from ..report.definition import ATTACHMENTS, INDICATOR_HEADER, LEVELS, get_report
from ..report.inputs import value_labels
from ..report.kinds import (
    DECIMAL_FORMAT, GRID, INTEGER_FORMAT, LEVEL, LINE, NARRATIVE, NUMBER, PERCENT_FORMAT, STORED_DECIMAL,
    STORED_INTEGER, TABLE, TICK,
)
from ..report.model import ROUND_LABELS, fill_years
from ..report.numbers import MAX_DECIMALS, MAX_MAGNITUDE
from ..report.schema import report_schema
from ..report.view import effective_answers
from .excel import Formula, put, save_workbook
from .summary import text_width

FORMAT_VERSION = 1  # the layout of this module: part of the definition version a template carries
TEMPLATE_MARK = "湖南省产业集群竞赛填报模板"
INFO_SHEET = "_模板信息"
KEY_COLUMN, LABEL_COLUMN, LAST_COLUMN = 1, 2, 7  # A (hidden keys), B (labels), … G
FIRST_VALUE_COLUMN = LABEL_COLUMN + 1
AGREED = "已同意"
INSTRUCTIONS = ("请在浅黄色单元格中填写；灰色单元格（增幅）由公式自动计算。请勿增删行列或工作表、"
                "不要修改表头，表格的行数即其行数上限。填好后在“填报任务”页面上传本文件，"
                "系统将列出每项改动供您确认后再保存。")
POINTS_CELL_FORMAT = '+0.00"个百分点";-0.00"个百分点";0.00"个百分点"'
GROWTH_CELL_FORMAT = "0.00"
TEXT_FORMAT = "@"
LARGEST = float(MAX_MAGNITUDE) - 10 ** -MAX_DECIMALS

# --- what an input cell is (the kind says: report/kinds.py) ------------------------------------
TEXT, LONGTEXT, AGREE = LINE, NARRATIVE, TICK  # a line of text, a narrative, the declaration's tick


@dataclass(frozen=True)
class Slot:
    """One input cell: which answer it holds and how it is typed.  ``part`` is () for a single
    value, (value key,) for a number of an indicator row, (column key,) for a cell of a table
    row (the row index is the row's position among the table's rows)."""

    field: object
    part: tuple
    column: int
    input: str
    integer: bool = False
    signed: bool = False
    percent: bool = False
    max_length: int = 0
    label: str = ""  # what the cell is, for messages (the field's name and the year or column)


@dataclass
class PlanRow:
    """A row of a sheet: its hidden key, its cells (column → text), merges, height, style."""

    key: str = "-"  # "-": a row of text only (title, notes, headings)
    cells: dict = dataclass_field(default_factory=dict)
    style: str = "label"  # title | note | part | section | head | label
    merges: list = dataclass_field(default_factory=list)  # (first column, last column)
    height: float | None = None
    slots: list = dataclass_field(default_factory=list)
    growth: tuple | None = None  # (column, first column, second column, points?)
    spans: dict = dataclass_field(default_factory=dict)  # input column → last column it spans


@dataclass
class SheetPlan:
    """The layout of one step's sheet."""

    title: str
    step: object
    rows: list = dataclass_field(default_factory=list)
    table_rows: dict = dataclass_field(default_factory=dict)  # table field key → max rows

    def add(self, row: PlanRow) -> PlanRow:
        self.rows.append(row)
        return row

    @property
    def keyed(self) -> dict:
        """Key → the plan's row (for a table: its first row)."""
        out = {}
        for row in self.rows:
            if row.key != "-" and row.key not in out:
                out[row.key] = row
        return out


# --- the layout ---------------------------------------------------------------------------------

def input_of(field) -> str | None:
    """How the template lays the field out (its kind's ``template_layout``): None when the
    applicant types nothing."""
    return field.kind_of.template_layout


def definition_version(round_: str, category: str | None, years: dict) -> str:
    """A digest of everything the template's layout is made of: the report definition of the
    round as JSON (labels, units, limits, columns), the category, the years and this module's
    layout version.  A template carrying another value is outdated."""
    doc = {"schema": report_schema(round_, years), "category": category, "format": FORMAT_VERSION}
    return hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]


@lru_cache(maxsize=32)
def _plans(round_: str, category: str | None, years_key: tuple) -> tuple:
    years = dict(years_key)
    report = get_report(round_)
    plans, part = [], None
    for step in report.steps:
        sections = [(s, [(f, input_of(f)) for f in s.fields if f.applies_to(category)]) for s in step.sections]
        sections = [(s, [(f, i) for f, i in fields if i]) for s, fields in sections]
        if not any(fields for _, fields in sections):
            continue
        plan = SheetPlan(step.title, step)
        plan.add(PlanRow(cells={LABEL_COLUMN: f"{report.title} · {step.title}"}, style="title",
                         merges=[(LABEL_COLUMN, LAST_COLUMN)], height=24))
        plan.add(PlanRow(cells={LABEL_COLUMN: INSTRUCTIONS}, style="note", merges=[(LABEL_COLUMN, LAST_COLUMN)],
                         height=45))
        for section, fields in sections:
            if not fields:
                continue
            if section.part != part:
                part = section.part
                plan.add(PlanRow(cells={LABEL_COLUMN: report.parts[part]}, style="part",
                                 merges=[(LABEL_COLUMN, LAST_COLUMN)], height=22))
            plan_section(plan, section, fields, years)
        plans.append(plan)
    return tuple(plans)


def sheet_plans(round_: str, category: str | None, years: dict) -> tuple[SheetPlan, ...]:
    """The sheets of the template of a round, for a cluster's category and an edition's years."""
    return _plans(round_, category, tuple(sorted(years.items())))


def plan_section(plan: SheetPlan, section, fields, years) -> None:
    """A section: its heading and note, then its fields, grouped as the form groups them."""
    if section.heading:
        plan.add(PlanRow(cells={LABEL_COLUMN: section.heading}, style="section", merges=[(LABEL_COLUMN, LAST_COLUMN)],
                         height=20))
    if section.note:
        plan.add(note_row(section.note))
    i = 0
    while i < len(fields):
        layout = fields[i][1]
        run = [f for f, _ in _run(fields, i)]
        i += len(run)
        if layout == GRID:
            values_rows(plan, section, run, years)
        else:
            for f in run:
                (table_rows if layout == TABLE else single_row)(plan, section, f, years)


def _run(fields, start):
    """The fields from ``start`` with the same layout as the first (one grid, one group of rows)."""
    layout = fields[start][1]
    out = []
    for f, k in fields[start:]:
        if k != layout:
            break
        out.append((f, k))
    return out


def wrapped_lines(text: str, width: float) -> int:
    """The lines a text takes in a wrapping cell ``width`` columns wide (CJK characters count two)."""
    return sum(-(-text_width(line) // max(int(width) - 2, 1)) or 1 for line in str(text).split("\n"))


def note_row(text: str) -> PlanRow:
    """A note across the sheet (a section's note, a narrative's prompt): as high as its lines."""
    width = sum(WIDTHS.get(c, VALUE_WIDTH) for c in range(LABEL_COLUMN, LAST_COLUMN + 1))
    return PlanRow(cells={LABEL_COLUMN: text}, style="note", merges=[(LABEL_COLUMN, LAST_COLUMN)],
                   height=min(LINE_HEIGHT * wrapped_lines(text, width) + 4, MAX_ROW_HEIGHT))


def single_row(plan: SheetPlan, section, f, years) -> None:
    """A text, phone, narrative or tick box: the label, then the value across the row
    (a narrative: its guidance above, the value in a tall cell below)."""
    label = fill_years(f.label, years).rstrip("：:")
    if f.group:
        label = f"{f.group}：{label}"
    if f.note:
        label = f"{label}\n{f.note}"
    cell = f.kind_of.template_input
    if cell == LONGTEXT:
        if section.title != f.label:
            plan.add(PlanRow(cells={LABEL_COLUMN: label}, style="head", merges=[(LABEL_COLUMN, LAST_COLUMN)]))
        if f.guidance:
            plan.add(note_row(fill_years(f.guidance, years)))
        slot = Slot(f, (), LABEL_COLUMN, LONGTEXT, max_length=f.hard_max_chars, label=f.name)
        plan.add(PlanRow(key=f"f:{f.key}", slots=[slot], spans={LABEL_COLUMN: LAST_COLUMN}))
        return
    slot = Slot(f, (), FIRST_VALUE_COLUMN, cell, max_length=f.max_length if cell == TEXT else 0,
                label=f.grouped(f.name))
    plan.add(PlanRow(key=f"f:{f.key}", cells={LABEL_COLUMN: label}, slots=[slot],
                     spans={FIRST_VALUE_COLUMN: LAST_COLUMN}, height=30 if f.note else None))


def grid_keys(fields) -> tuple:
    """The value columns of a grid: the value keys of its widest row (the park's 4, else 2 or 4)."""
    return max((f.value_keys for f in fields), key=len)


def values_rows(plan: SheetPlan, section, fields, years) -> None:
    """An indicator, park or target grid: the header rows, then a row per field with its values
    and, where the form shows one, the 增幅 formula."""
    keys = grid_keys(fields)
    labels = value_labels(fields[0], years)
    growth_col = FIRST_VALUE_COLUMN + len(keys)
    kinds = [f.kind_of for f in fields]
    growth_title = next((k.growth_title for k in kinds if k.shows_growth(section)), None)
    split = any("_" in k for k in keys)
    head = PlanRow(key=f"h:{section.key}", cells={LABEL_COLUMN: INDICATOR_HEADER}, style="head")
    plan.add(head)
    if split:  # two header rows: the year over 园区总额 and 其中：集群产业
        lower = plan.add(PlanRow(key=f"h2:{section.key}", style="head"))
        head.merges.append((LABEL_COLUMN, LABEL_COLUMN))
        for i, k in enumerate(keys):
            year = labels[k.split("_")[0]]
            col = FIRST_VALUE_COLUMN + i
            if k.endswith("_total"):
                head.cells[col] = year
                head.merges.append((col, col + 1))
            lower.cells[col] = labels[k][len(year):]
    else:
        for i, k in enumerate(keys):
            head.cells[FIRST_VALUE_COLUMN + i] = labels[k]
    if growth_title:
        head.cells[growth_col] = growth_title
        if split:
            head.merges.append((growth_col, growth_col))
    for f in fields:
        plan.add(values_row(f, section, keys, growth_col, years))


def values_row(f, section, keys, growth_col, years) -> PlanRow:
    labels = value_labels(f, years)
    row = PlanRow(key=f"f:{f.key}", cells={LABEL_COLUMN: fill_years(f.label, years)})
    for k in f.value_keys:
        cols = [FIRST_VALUE_COLUMN + i for i, g in enumerate(keys) if g == k or g.startswith(f"{k}_")]
        row.slots.append(Slot(f, (k,), cols[0], NUMBER, f.integer, f.signed, f.percent,
                              label=f"{f.name} {labels[k]}"))
        if len(cols) > 1:
            row.spans[cols[0]] = cols[-1]
    kind = f.kind_of
    if kind.shows_growth(section):
        first, second = (FIRST_VALUE_COLUMN + keys.index(k) for k in kind.growth_keys)
        row.growth = (growth_col, first, second, f.growth_mode == "points")
    return row


def table_rows(plan: SheetPlan, section, f, years) -> None:
    """A table: its header (a group over its years), then exactly ``max_rows`` rows."""
    if not section.title or section.title != f.label:
        plan.add(PlanRow(cells={LABEL_COLUMN: f.name}, style="section", merges=[(LABEL_COLUMN, LAST_COLUMN)]))
    plan.add(note_row(f"本表最多填写 {f.max_rows} 行（每行一项，空行不保存）。"))
    head = plan.add(PlanRow(key=f"h:{f.key}", style="head"))
    grouped = any(c.group for c in f.columns)
    lower = plan.add(PlanRow(key=f"h2:{f.key}", style="head")) if grouped else None
    slots = []
    for i, c in enumerate(f.columns):
        col = LABEL_COLUMN + i
        label = fill_years(c.label, years)
        if c.group:
            if c.group not in head.cells.values():
                head.cells[col] = c.group
                width = sum(1 for x in f.columns if x.group == c.group)
                head.merges.append((col, col + width - 1))
            lower.cells[col] = label
        else:
            head.cells[col] = label
            if lower is not None:
                head.merges.append((col, col))
        cell = f.kind_of.template_cell(c)
        slots.append(Slot(f, (c.key,), col, cell, c.integer, c.signed, c.percent,
                          max_length=c.max_length if cell == TEXT else 0,
                          label=f"{c.group}{label}" if c.group else label))
    plan.table_rows[f.key] = f.max_rows
    for _ in range(f.max_rows):
        plan.add(PlanRow(key=f"t:{f.key}", slots=slots))


# --- the hidden sheet ---------------------------------------------------------------------------

INFO_KEYS = ("mark", "format", "definition", "round", "attachment", "edition", "edition_name", "submission",
             "cluster", "category", "version", "downloaded")
INFO_LABELS = {"mark": "模板", "format": "模板格式", "definition": "报告定义版本", "round": "轮次",
               "attachment": "附件", "edition": "届次编号", "edition_name": "届次", "submission": "申报编号",
               "cluster": "集群名称", "category": "申报类别", "version": "下载时的报告版本",
               "downloaded": "下载时间（北京时间）"}


def template_info(sub: Submission, round_: str, now: datetime) -> dict:
    """What the hidden sheet says about the template (``template_import`` checks it)."""
    return {"mark": TEMPLATE_MARK, "format": FORMAT_VERSION,
            "definition": definition_version(round_, sub.cluster.category, sub.edition.years),
            "round": round_, "attachment": ATTACHMENTS[round_], "edition": sub.edition.id,
            "edition_name": sub.edition.name, "submission": sub.id, "cluster": sub.cluster.name,
            "category": sub.cluster.category, "version": sub.version, "downloaded": f"{now:%Y-%m-%d %H:%M:%S}"}


def write_info(wb: Workbook, info: dict) -> None:
    ws = wb.create_sheet(INFO_SHEET)
    ws.sheet_state = "veryHidden"
    for r, key in enumerate(INFO_KEYS, 1):
        put(ws.cell(r, 1), key)
        put(ws.cell(r, 2), info[key] if isinstance(info[key], int) else str(info[key]))
        put(ws.cell(r, 3), INFO_LABELS[key])
    ws.protection.sheet = True


# --- writing ------------------------------------------------------------------------------------

THIN = Side(style="thin", color="999999")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="center")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
INPUT_FILL = PatternFill("solid", fgColor="FFF8DC")
COMPUTED_FILL = PatternFill("solid", fgColor="E7E6E6")
HEAD_FILL = PatternFill("solid", fgColor="DCE6F1")
UNLOCKED = Protection(locked=False)
STYLES = {
    "title": (Font(bold=True, size=14), Alignment(vertical="center"), None, False),
    "note": (Font(italic=True, color="555555", size=9), WRAP_TOP, None, False),
    "part": (Font(bold=True, size=12), Alignment(vertical="center"), None, False),
    "section": (Font(bold=True), Alignment(vertical="center", wrap_text=True), None, False),
    "head": (Font(bold=True), CENTER, HEAD_FILL, True),
    "label": (None, WRAP, None, True),
}
WIDTHS = {KEY_COLUMN: 4, LABEL_COLUMN: 46}
NARRATIVE_HEIGHT, MAX_ROW_HEIGHT = 150, 409
LINE_HEIGHT = 16  # points a wrapped line of 11-point Chinese text takes
VALUE_WIDTH = 17


def stored_number(value):
    """A stored decimal text as a number cell when a float carries it exactly, else the text
    itself (the 16th digit of a large figure with decimals is not lost on the way back)."""
    if isinstance(value, str) and STORED_INTEGER.fullmatch(value):
        return int(value)
    if isinstance(value, str) and STORED_DECIMAL.fullmatch(value):
        number = float(value)
        try:
            exact = Decimal(repr(number)) == Decimal(value)
        except InvalidOperation:  # pragma: no cover - repr of a finite float is a decimal
            exact = False
        return number if exact else value
    return None if value in (None, "") else str(value)


def slot_value(slot: Slot, value):
    """The cell value of a slot for a stored answer (the field's, or a table row's)."""
    if slot.input == AGREE:
        return AGREED if value else None
    if slot.part:
        value = value.get(slot.part[0]) if isinstance(value, dict) else None
    if slot.input == NUMBER:
        return stored_number(value)
    return None if value in (None, "") else str(value)


def number_format(slot: Slot) -> str:
    return INTEGER_FORMAT if slot.integer else PERCENT_FORMAT if slot.percent else DECIMAL_FORMAT


def write_plan(ws, plan: SheetPlan, answers: dict, validations) -> None:
    """Every row of the plan: its cells, styles, merges, inputs (unlocked) and formulas."""
    table_index: dict = {}
    for r, row in enumerate(plan.rows, 1):
        font, align, fill, boxed = STYLES[row.style]
        put(ws.cell(r, KEY_COLUMN), row.key)
        for col, text in row.cells.items():
            cell = put(ws.cell(r, col), text)
            _style(cell, font, align, fill, boxed)
        for first, last in row.merges:
            _merge(ws, r, first, last, font, align, fill, boxed)
        source = answers.get(row.slots[0].field.key) if row.slots else None
        if row.key.startswith("t:"):
            i = table_index[row.key] = table_index.get(row.key, -1) + 1
            rows = source if isinstance(source, list) else []
            source = rows[i] if i < len(rows) and isinstance(rows[i], dict) else {}
        texts = table_texts(row, source) if row.key.startswith("t:") else source_texts(row, answers)
        height = row.height or fitting_height(row, texts)
        if height:
            ws.row_dimensions[r].height = height
        for slot in row.slots:
            write_slot(ws, r, slot, slot_value(slot, source), row.spans.get(slot.column), validations)
        if row.growth:
            write_growth(ws, r, row.growth)


def source_texts(row: PlanRow, answers: dict) -> list:
    """(text, width) of a single text value of a row (its height must fit it)."""
    if len(row.slots) != 1 or row.slots[0].part or row.slots[0].input not in (TEXT, LONGTEXT):
        return []
    slot = row.slots[0]
    value = answers.get(slot.field.key)
    width = sum(WIDTHS.get(c, VALUE_WIDTH) for c in range(slot.column, row.spans.get(slot.column, slot.column) + 1))
    return [(str(value), width)] if isinstance(value, str) and value else []


def table_texts(row: PlanRow, values: dict) -> list:
    """(text, width) of each text cell of a table row (a long 项目名称 wraps: the row grows)."""
    return [(str(values[slot.part[0]]), WIDTHS.get(slot.column, VALUE_WIDTH)) for slot in row.slots
            if slot.input == TEXT and isinstance(values.get(slot.part[0]), str) and values.get(slot.part[0])]


def fitting_height(row: PlanRow, texts: list) -> float | None:
    """A height that shows every line of the row's label and text value (None: the default)."""
    label = row.cells.get(LABEL_COLUMN)
    texts = texts + ([(str(label), WIDTHS[LABEL_COLUMN])] if isinstance(label, str) and row.style == "label" else [])
    lines = max((wrapped_lines(text, width) for text, width in texts), default=1)
    if row.slots and row.slots[0].input == LONGTEXT:  # room to write, within Excel's largest row
        return min(MAX_ROW_HEIGHT, max(NARRATIVE_HEIGHT, LINE_HEIGHT * lines + 2))
    return min(MAX_ROW_HEIGHT, LINE_HEIGHT * lines + 2) if lines > 1 else None


def _style(cell, font, align, fill, boxed):
    if font is not None:
        cell.font = font
    if align is not None:
        cell.alignment = align
    if fill is not None:
        cell.fill = fill
    if boxed:
        cell.border = BOX


def _merge(ws, r, first, last, font, align, fill, boxed):
    """Merge columns first..last of row r; (c, c): cell c with the one below (a header over two rows)."""
    for col in range(first, last + 1):
        _style(ws.cell(r, col), font, align, fill, boxed)
    ws.merge_cells(start_row=r, start_column=first, end_row=r + (1 if first == last else 0), end_column=last)


def write_slot(ws, r, slot: Slot, value, span, validations) -> None:
    cell = ws.cell(r, slot.column)
    if slot.input == NUMBER:
        put(cell, value, number_format(slot) if not isinstance(value, str) else None)
        if isinstance(value, str) or value is None:
            cell.number_format = number_format(slot)
    else:
        put(cell, value)
        cell.number_format = TEXT_FORMAT
    last = span or slot.column
    for col in range(slot.column, last + 1):
        c = ws.cell(r, col)
        c.fill, c.border, c.protection = INPUT_FILL, BOX, UNLOCKED
        c.alignment = WRAP_TOP if slot.input == LONGTEXT else WRAP
    if last > slot.column:
        ws.merge_cells(start_row=r, start_column=slot.column, end_row=r, end_column=last)
    validations.add(slot, cell.coordinate)


def write_growth(ws, r, growth) -> None:
    """The 增幅 cell: the form's rule (numbers.growth / numbers.points) as a formula, locked."""
    col, first, second, points = growth
    a, b = (f"{get_column_letter(c)}{r}" for c in (first, second))
    both = f"AND(ISNUMBER({a}),ISNUMBER({b}))"
    if points:
        formula, fmt = f'=IF({both},ROUND({b}-{a},2),"—")', POINTS_CELL_FORMAT
    else:
        formula, fmt = f'=IF({both},IF({a}=0,"—",ROUND(({b}-{a})/ABS({a})*100,2)),"—")', GROWTH_CELL_FORMAT
    cell = put(ws.cell(r, col), Formula(formula), fmt)
    cell.fill, cell.border, cell.alignment = COMPUTED_FILL, BOX, Alignment(horizontal="right", vertical="center")


class Validations:
    """The data validations of a sheet, one per rule, each over all the cells it applies to."""

    def __init__(self):
        self.rules: dict = {}
        self.cells: dict = {}

    def add(self, slot: Slot, coordinate: str) -> None:
        key = (slot.input, slot.integer, slot.signed, slot.percent, slot.max_length)
        if key not in self.rules:
            rule = make_validation(slot)
            if rule is None:
                return
            self.rules[key], self.cells[key] = rule, []
        self.cells[key].append(coordinate)

    def attach(self, ws) -> None:
        # the cells given at once: DataValidation.add compares each new cell with every cell so far
        for key, rule in self.rules.items():
            rule.sqref = MultiCellRange(" ".join(self.cells[key]))
            ws.add_data_validation(rule)


def make_validation(slot: Slot) -> DataValidation | None:
    """The rule Excel and LibreOffice check while typing (the import checks again, with the form)."""
    if slot.input == LEVEL:
        return DataValidation(type="list", formula1='"' + ",".join(LEVELS) + '"', allow_blank=True,
                              showErrorMessage=True, errorTitle="级别", error="请选择“国家级”或“省级”。")
    if slot.input == AGREE:
        return DataValidation(type="list", formula1=f'"{AGREED}"', allow_blank=True, showErrorMessage=True,
                              errorTitle="真实性声明", error=f"同意请选择“{AGREED}”，否则留空。")
    if slot.input == NUMBER:
        low = -LARGEST if slot.signed else 0
        high = 100 if slot.percent and not slot.signed else LARGEST
        what = "整数" if slot.integer else "数字"
        limits = "0 到 100 之间的" if high == 100 else "不小于 0 的" if low == 0 else ""
        return DataValidation(type="whole" if slot.integer else "decimal", operator="between",
                              formula1=str(int(low) if slot.integer else low),
                              formula2=str(int(high) if slot.integer else high), allow_blank=True,
                              showErrorMessage=True, errorTitle="数值", error=f"请输入{limits}{what}。")
    if slot.max_length:
        return DataValidation(type="textLength", operator="lessThanOrEqual", formula1=str(slot.max_length),
                              allow_blank=True, showErrorMessage=True, errorTitle="文字过长",
                              error=f"最多 {slot.max_length} 个字符。")
    return None


def write_sheet(wb: Workbook, plan: SheetPlan, answers: dict) -> None:
    ws = wb.create_sheet(plan.title)
    validations = Validations()
    write_plan(ws, plan, answers, validations)
    validations.attach(ws)
    for col in range(1, LAST_COLUMN + 1):
        ws.column_dimensions[get_column_letter(col)].width = WIDTHS.get(col, VALUE_WIDTH)
    ws.column_dimensions[get_column_letter(KEY_COLUMN)].hidden = True
    ws.sheet_view.zoomScale = 100
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    protect(ws)


def protect(ws) -> None:
    """Protection without a password: only the input cells can be typed into; widths and row
    heights may still be changed."""
    p = ws.protection
    p.sheet = True
    p.formatColumns = p.formatRows = p.formatCells = False
    p.selectLockedCells = p.selectUnlockedCells = False


def template_xlsx(sub: Submission, round_: str, now: datetime) -> bytes:
    """The applicant's template of the round's report, with its current answers."""
    answers = effective_answers(sub, round_)
    wb = Workbook()
    wb.remove(wb.active)
    for plan in sheet_plans(round_, sub.cluster.category, sub.edition.years):
        write_sheet(wb, plan, answers)
    write_info(wb, template_info(sub, round_, now))
    wb.active = 0
    wb.properties.title = f"{get_report(round_).title}（{sub.cluster.name}）"
    wb.properties.creator = TEMPLATE_MARK
    return save_workbook(wb)


def template_filename(sub: Submission, round_: str, now: datetime) -> str:
    return f"填报模板-{ATTACHMENTS[round_]}{ROUND_LABELS[round_]}-{sub.cluster.name}-{now:%Y%m%d-%H%M}.xlsx"


