"""Field kinds, each in one place: what a field of a kind is typed as, stored as, shown as,
checked against, described as and compared by.

``Field.kind`` names a kind (text, phone, longtext, indicator, park_indicator, target,
table, agree, derived, opinion, evidence); ``KINDS[name]`` (or ``field.kind_of``) is its
kind object.  Every other module of the report asks the kind and never tests the name:

- ``build``: the WTForms field of the step form (forms.py), ``None`` when the applicant
  types nothing (derived, opinion, evidence); ``form_errors``: what the whole posted form
  breaks for the field (a table's row limit);
- ``answer`` / ``form_data`` / ``post``: a validated input → the stored answer, the stored
  answer → the form's data, the stored answer → the form data the web form would post
  (forms.py, service.py);
- ``display``: a stored value as one line of text (view.py: review lists, diffs);
- ``answerable`` / ``answered`` / ``problems``: does the applicant answer it (submit rules,
  step status, round comparison), does a value count as answered, what the submit rules
  find wrong with a value (checks.py);
- ``schema``: what the JSON description adds for the kind (schema.py);
- ``diff_rows`` / ``headings``: a row-by-row comparison of two values (compare.py);
- ``template``: the partial (templates/report/kinds/) with the macros ``input`` (the wizard)
  and ``show`` (the read-only report: review, county and admin pages, PDF);
- ``excel_sheet`` / ``excel_headers`` / ``excel_cells`` / ``excel_rows``: how a field becomes
  columns of the summary workbook's 汇总 sheet, or rows of a sheet of its own (tables, the 5.1
  targets); cells are (value, number format) pairs, numbers as numbers (exports/summary.py
  writes every one through exports/excel.put);
- ``template_layout`` / ``template_input``: how the applicant's Excel template lays the field out
  (exports/template.py): a labelled cell of its own (``SINGLE``, typed as ``template_input``), a
  row of a grid of numbers (``GRID``), a table of its row limit (``TABLE``), or not at all (None);
- ``growth_attrs``: the data attributes of the wizard's live 增幅 cell (static/js/wizard.js);
  ``shares_row``: on the read-only basic-information table the field shares the row of the field
  before it in its group (电话); ``county_writes``: the county writes it, not the applicant;
  ``has_rows``: rows the applicant adds and removes (a table).

No module outside this one compares a kind's name or the class of the form field a kind builds
(tests/architecture/test_kind_dispatch.py): it asks the kind.

The kinds register themselves in ``model.KINDS`` (the package imports this module first),
so ``Field.kind_of`` finds them.
"""
from __future__ import annotations

import re
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple

from wtforms import BooleanField, FieldList, Form, FormField, StringField, TextAreaField
from wtforms.validators import Length

from .definition import GROWTH_HEADER, INDICATOR_HEADER, PARK_GROWTH_HEADER
from .inputs import LevelField, MaxChars, NumberInput, PhoneInput, row_indices, text_filter, value_labels
from .model import KINDS, fill_years
from .numbers import MAX_DECIMALS, MAX_MAGNITUDE, change, count_chars, excel_number_format, to_decimal, typed_decimal

MISSING, ERROR = "missing", "error"  # what a submit-rule problem is (checks.problem's kind)
EMPTY_VALUES = (None, "", [], {}, False)

# --- Excel: the summary workbook's columns and number formats ----------------------------------
INTEGER_FORMAT = "#,##0"
DECIMAL_FORMAT = "#,##0.00##"  # the stored figure to its 4th decimal, at least 2 shown
PERCENT_FORMAT = "0.00"  # a share typed as 12.5 (%): the unit is in the header
GROWTH_FORMAT = "0.00"  # 增幅（%）
POINTS_FORMAT = "+0.00;-0.00;0.00"  # 增幅（个百分点）
POINTS_SUFFIX = "个百分点"
POINTS_HEADER = "增幅（个百分点）"
AMOUNT_UNITS = frozenset({"亿元", "万元"})  # with the counts (个, 人): what a subtotal adds up
# what typed_decimal stores (no exponent, at most 4 decimals, below MAX_MAGNITUDE): read directly
STORED_INTEGER = re.compile(r"-?[0-9]{1,12}")
STORED_DECIMAL = re.compile(r"-?[0-9]{1,12}\.[0-9]{1,4}")

# --- the applicant's Excel template (exports/template.py): how a kind's field is laid out -------
SINGLE, GRID, TABLE = "single", "grid", "table"  # a labelled cell · a row of numbers · a table
# what an input cell is typed as: a SINGLE field's (template_input), a GRID's (numbers), a
# TABLE's (TableKind.template_cell: by the column's kind)
LINE, NARRATIVE, TICK, NUMBER, LEVEL = "line", "narrative", "tick", "number", "level"


class ExcelColumn(NamedTuple):
    """A column a field adds to an exported sheet."""

    heading: str  # the upper header row (the indicator); the export puts the section before it
    sub: str | None = None  # the lower header row (a year); None: the heading spans both rows
    numeric: bool = False
    number_format: str | None = None  # the column's, when every number in it has the same
    total: bool = False  # an amount or a count: a subtotal row adds the column up
    growth_of: tuple[int, int] | None = None  # a relative 增幅 of these two columns of the field


def number_format(*, integer=False, percent=False) -> str:
    return INTEGER_FORMAT if integer else PERCENT_FORMAT if percent else DECIMAL_FORMAT


def number_cell(stored, fmt: str) -> tuple:
    """A stored decimal text as a number cell: int when whole, else float; None when blank.
    What forms store (``typed_decimal``: 125.5, 63.0, -3) is read directly; anything else through
    the one parser (``to_decimal``), which refuses what no form would have stored."""
    if isinstance(stored, str) and STORED_INTEGER.fullmatch(stored):
        return int(stored), INTEGER_FORMAT  # shown as the PDF prints it: 86,500
    if isinstance(stored, str) and STORED_DECIMAL.fullmatch(stored):
        return float(stored), excel_number_format(stored, fmt)  # the typed decimals, as the PDF prints them
    value = to_decimal(stored)
    if value is None:
        return None, None
    return (int(value) if value == value.to_integral_value() else float(value)), excel_number_format(stored, fmt)


def at_most(n: int) -> Length:
    """At most ``n`` characters, counted as the server counts them (code points), and checked by the
    server alone: no HTML ``maxlength``, which browsers count in UTF-16 units (a rare character such
    as 𠀀 counts two, so a 200-character name stopped at 100) and enforce by cutting what is typed
    or pasted.  A longer text is refused on saving with this message and kept as typed."""
    rule = Length(max=n, message=f"最多 {n} 个字符。")
    rule.field_flags = {}  # WTForms would render maxlength="n"
    return rule


def raw_pairs(wtf_field) -> list[list[str]]:
    """[name, value] for each raw value a single input posted."""
    return [[wtf_field.name, str(v)] for v in (wtf_field.raw_data or [])]


def text_cell(value) -> tuple:
    """A text cell; None (an empty cell) when blank."""
    return (None if value in (None, "") else str(value)), None


def growth_cell(field, values: dict) -> tuple:
    """The computed 增幅 (report/numbers.change) as a number: % or percentage points."""
    text = change(field, values)
    if text in ("", "—"):
        return None, None
    fmt = POINTS_FORMAT if text.endswith(POINTS_SUFFIX) else GROWTH_FORMAT
    return float(Decimal(text.removesuffix(POINTS_SUFFIX))), fmt


class Kind:
    """The behaviour every kind shares; a kind overrides what it does differently."""

    name = ""
    answerable = True  # the applicant answers it: checked at submit, counted in the step status, compared
    one_line = False  # a single line of text (the park's names, the declaration's signatures)
    grid_row = False  # a row of numbers in an indicator grid (2.x, 3.1, 5.1)
    uploads = False  # files, not a typed answer (佐证材料)
    has_unit = False  # the label's parenthesis starts with the unit: （亿元）, （个，需提供佐证材料）
    splits_total = False  # each year: a total ({y}_total) and the cluster's part of it ({y}_cluster)
    value_keys: tuple[str, ...] = ()  # the numbers of one row
    partial = ""  # the partial's name when the kind shares another kind's
    shares_row = False  # read-only basic-information table: on the row of the field before it (电话)
    has_rows = False  # rows the applicant adds and removes (添加一行 / 删除, with JavaScript off too)
    county_writes = False  # the county's opinion: written when it reviews, not by the applicant
    template_layout: str | None = None  # the Excel template: SINGLE | GRID | TABLE | None (not in it)
    template_input: str | None = None  # a SINGLE cell: LINE | NARRATIVE | TICK

    @cached_property  # a kind is one object per process (KINDS); every field of every page asks
    def template(self) -> str:
        """The partial with the macros ``input`` (the wizard) and ``show`` (the read-only report)."""
        return f"report/kinds/{self.partial or self.name}.html"

    # --- the step form -------------------------------------------------------------------
    def build(self, field, years):
        """The WTForms field of the step form; None: the applicant types nothing."""
        return None

    def form_errors(self, field, formdata) -> list[str]:
        """Errors of the posted form as a whole for this field (beyond its own validators)."""
        return []

    def answer(self, field, wtf_field):
        """A validated input → the stored answer."""
        return wtf_field.data

    def form_data(self, value):
        """A stored answer → the form's ``data`` (to show it again)."""
        return value

    def post(self, field, value, formdata) -> None:
        """A stored answer → what the web form would post (``formdata``: a MultiDict), for import."""
        formdata.add(field.key, str(value))

    def posted(self, wtf_field) -> list[list[str]]:
        """What the page posted for the field, as [name, value] pairs in the page's order: the raw
        text of every input (a table row removed with 删除 is not among them)."""
        return raw_pairs(wtf_field)

    def unknown_parts(self, field, value) -> list[str]:
        """What inside an imported value this kind does not know (a misspelt key), as
        readable paths; the value's type itself is checked by the form."""
        return []

    def part_name(self, field, parts, years) -> str:
        """What a form error's path inside the field names: a year, a row and column."""
        return ""

    # --- showing ---------------------------------------------------------------------------
    def display(self, field, value) -> str:
        """A stored (non-empty) value as one line of text."""
        return str(value)

    # --- checks ----------------------------------------------------------------------------
    def answered(self, value) -> bool:
        """Does the value count as started (the step status)?"""
        return value not in EMPTY_VALUES

    def problems(self, field, value, name, years) -> list[tuple[str, str]]:
        """What the submit rules find: (message, MISSING | ERROR) pairs; ``name`` is the field's."""
        return []

    # --- schema and comparison -------------------------------------------------------------
    def schema(self, field, section, years) -> dict:
        """What the JSON description of the report adds for this kind."""
        return {}

    def diff_rows(self, field, before, after):
        """Row by row: ((before cells, after cells), …) with () for a missing row; None: a single value."""
        return None

    def headings(self, field, years) -> tuple[str, ...]:
        """The column headings of a row-by-row comparison."""
        return ()

    # --- growth (the 增幅 cell) ---------------------------------------------------------------
    def shows_growth(self, section) -> bool:
        """Does a row of this kind have an 增幅 cell in this section?"""
        return False

    growth_keys = ("y1", "y2")  # the two values the 增幅 cell compares
    growth_title = GROWTH_HEADER

    def growth_pair(self, values: dict) -> tuple:
        """The two values the 增幅 cell compares."""
        return values.get(self.growth_keys[0]), values.get(self.growth_keys[1])

    # --- Excel (exports/summary.py) ------------------------------------------------------------
    excel_column = False  # a single value: one text column of the 汇总 sheet

    def excel_sheet(self, field, section) -> str | None:
        """The title of the sheet this field's rows go to; None: columns of the 汇总 sheet."""
        return None

    def excel_headers(self, field, section, years) -> list[ExcelColumn]:
        """The field's columns: on the 汇总 sheet, or (``excel_sheet``) of its own sheet."""
        if not self.excel_column:
            return []
        label = fill_years(field.label, years).rstrip("：:")
        return [ExcelColumn(f"{field.group}：{label}" if field.group else label)]

    def excel_cells(self, field, section, value) -> list[tuple]:
        """(value, number format) for each of ``excel_headers``' 汇总 columns."""
        if not self.excel_column:
            return []
        return [text_cell(self.display(field, value) if value not in EMPTY_VALUES else None)]

    def excel_rows(self, field, value) -> list[list[tuple]]:
        """The rows of the field's own sheet (``excel_sheet``): (value, number format) cells."""
        return []


class TextKind(Kind):
    """One line of text."""

    name = "text"
    one_line = True
    excel_column = True
    template_layout, template_input = SINGLE, LINE

    def build(self, field, years):
        return StringField(fill_years(field.label, years),
                           validators=[at_most(field.max_length)],
                           filters=[text_filter()])

    def answer(self, field, wtf_field):
        return wtf_field.data or ""

    def problems(self, field, value, name, years):
        if field.required and not (value or "").strip():
            return [(f"请填写“{name}”。", MISSING)]
        return []


class PhoneKind(TextKind):
    """A telephone number: shown and checked as text, typed against a pattern."""

    name = "phone"
    partial = "text"
    shares_row = True

    def build(self, field, years):
        return PhoneInput(fill_years(field.label, years))


class LongTextKind(Kind):
    """A narrative (自评报告, 实施方案): many lines, an official character limit checked at submit."""

    name = "longtext"
    excel_column = True
    template_layout, template_input = SINGLE, NARRATIVE

    def build(self, field, years):
        return TextAreaField(fill_years(field.label, years), validators=[MaxChars(field.hard_max_chars)],
                             filters=[text_filter(True)])

    def answer(self, field, wtf_field):
        return wtf_field.data or ""

    def problems(self, field, value, name, years):
        # Counting characters walks the whole text (the task list and every step page check
        # each narrative): only count when the length alone may be over the limit, since the
        # count (whitespace left out) is never more than the length.
        blank = not value or value.isspace()
        over = field.max_chars and len(value or "") > field.max_chars
        n = count_chars(value) if over else 0
        out = []
        if field.required and blank:
            out.append((f"请填写“{name}”。", MISSING))
        if over and n > field.max_chars:
            out.append((f"“{name}”已输入 {n} 字，超出 {field.max_chars} 字的限制，请删减 {n - field.max_chars} 字。",
                        ERROR))
        return out


class ValuesKind(Kind):
    """A row of typed numbers (``value_keys``), stored as {key: normalised decimal text}."""

    grid_row = True
    has_unit = True
    template_layout = GRID

    def build(self, field, years):
        labels = value_labels(field, years)
        attrs = {k: NumberInput(labels[k], integer=field.integer, signed=field.signed, percent=field.percent)
                 for k in self.value_keys}
        return FormField(type(f"{field.key}_values", (Form,), attrs), label=fill_years(field.label, years))

    def posted(self, wtf_field):
        return [pair for sub in wtf_field.form for pair in raw_pairs(sub)]

    def unknown_parts(self, field, value):
        return [f"“{k}”" for k in value if k not in self.value_keys] if isinstance(value, dict) else []

    def part_name(self, field, parts, years):
        return value_labels(field, years).get(parts[0], "") if parts else ""

    def answer(self, field, wtf_field):
        return {k: typed_decimal(wtf_field.form[k].value) for k in self.value_keys
                if wtf_field.form[k].value is not None}

    def post(self, field, value, formdata):
        if not isinstance(value, dict):
            return super().post(field, value, formdata)
        for k, x in value.items():
            formdata.add(f"{field.key}-{k}", "" if x is None else str(x))

    def display(self, field, value):
        return " / ".join(f"{value.get(k, '')}" for k in self.value_keys)

    def problems(self, field, value, name, years):
        value = value or {}
        missing = [k for k in self.value_keys if value.get(k) in (None, "")]
        if field.required and missing:
            return [(f"请填写“{name}”的全部数值。", MISSING)]
        return []

    @staticmethod
    def growth_attrs(field) -> dict:
        """The data attributes of the wizard's live 增幅 cell (static/js/wizard.js, behaviour b):
        the mode and the parser's limits from numbers.py, so the page shows what the report prints."""
        return {"data-growth": "", "data-mode": field.growth_mode, "data-max-decimals": MAX_DECIMALS,
                "data-max-magnitude": format(MAX_MAGNITUDE, "f")}

    def schema(self, field, section, years):
        return {"values": list(self.value_keys),
                "growth": field.growth_mode if self.shows_growth(section) else None}

    def excel_headers(self, field, section, years):
        """One column per value (the year below the indicator), then the computed 增幅."""
        labels, heading = value_labels(field, years), fill_years(field.label, years)
        total = field.unit in AMOUNT_UNITS or field.integer
        fmt = number_format(integer=field.integer, percent=field.percent)
        cols = [ExcelColumn(heading, labels[k], True, fmt, total) for k in self.value_keys]
        if self.shows_growth(section):
            points = field.growth_mode == "points"
            pair = tuple(self.value_keys.index(k) for k in self.growth_keys)
            cols.append(ExcelColumn(heading, POINTS_HEADER if points else self.growth_title, True,
                                    POINTS_FORMAT if points else GROWTH_FORMAT, growth_of=None if points else pair))
        return cols

    def excel_cells(self, field, section, value):
        values = value if isinstance(value, dict) else {}
        fmt = number_format(integer=field.integer, percent=field.percent)
        cells = [number_cell(values.get(k), fmt) for k in self.value_keys]
        if self.shows_growth(section):
            cells.append(growth_cell(field, values))
        return cells


class IndicatorKind(ValuesKind):
    """近2年情况: the two data years; the 增幅 cell where the indicator grid has one."""

    name = "indicator"
    value_keys = ("y1", "y2")

    def shows_growth(self, section):
        return section.layout == "indicators" and section.growth


class ParkIndicatorKind(ValuesKind):
    """园区总额 and 其中：集群产业 of the two data years; the 总额增幅 cell always."""

    name = "park_indicator"
    value_keys = ("y1_total", "y1_cluster", "y2_total", "y2_cluster")
    splits_total = True
    growth_keys = ("y1_total", "y2_total")
    growth_title = PARK_GROWTH_HEADER

    def shows_growth(self, section):
        return True


class TargetKind(ValuesKind):
    """上一年实际值 and the three target years."""

    name = "target"
    value_keys = ("base", "t1", "t2", "t3")

    def excel_sheet(self, field, section):
        """The targets of a section form one table: one sheet, a row per indicator."""
        return section.heading

    def excel_headers(self, field, section, years):
        labels = value_labels(field, years)
        return [ExcelColumn(INDICATOR_HEADER)] + [ExcelColumn(labels[k], numeric=True) for k in self.value_keys]

    def excel_cells(self, field, section, value):
        return []

    def excel_rows(self, field, value):
        values = value if isinstance(value, dict) else {}
        if not any(values.get(k) not in (None, "") for k in self.value_keys):
            return []
        fmt = number_format(integer=field.integer, percent=field.percent)
        return [[text_cell(field.label)] + [number_cell(values.get(k), fmt) for k in self.value_keys]]


class TableKind(Kind):
    """Rows of ``field.columns`` (a list of {column key: value}); empty rows are not stored."""

    name = "table"
    template_layout = TABLE
    has_rows = True

    def build(self, field, years):
        attrs = {c.key: self.cell_input(c, years) for c in field.columns}
        row = type(f"{field.key}_row", (Form,), attrs)
        return FieldList(FormField(row), label=fill_years(field.label, years), min_entries=1,
                       max_entries=field.max_rows)

    @staticmethod
    def template_cell(col) -> str:
        """What a column's cells are typed as in the Excel template: NUMBER, LEVEL or LINE."""
        return NUMBER if col.kind == "number" else LEVEL if col.kind == "level" else LINE

    @staticmethod
    def cell_input(col, years):
        """The input of one cell, by the column's kind (text | number | level)."""
        label = fill_years(col.label, years)
        if col.kind == "number":
            return NumberInput(label, integer=col.integer, signed=col.signed, percent=col.percent)
        if col.kind == "level":
            return LevelField(label)
        return StringField(label, validators=[at_most(col.max_length)],
                           filters=[text_filter()])

    def form_errors(self, field, formdata):
        n = len(row_indices(field.key, formdata.keys())) if formdata else 0
        return [f"“{field.name}”最多 {field.max_rows} 行，您提交了 {n} 行。"] if n > field.max_rows else []

    def answer(self, field, wtf_field):
        return [r for r in (self.row_value(field, entry.form) for entry in wtf_field.entries) if r]

    @staticmethod
    def row_value(field, row_form) -> dict | None:
        row = {}
        for col in field.columns:
            sub = row_form[col.key]
            if isinstance(sub, NumberInput):
                v = typed_decimal(sub.value)
            else:
                v = (sub.data or "").strip() if isinstance(sub.data, str) else (sub.data or "")
            if v != "":
                row[col.key] = v
        return row or None

    def posted(self, wtf_field):
        return [pair for entry in wtf_field.entries for sub in entry.form for pair in raw_pairs(sub)]

    def unknown_parts(self, field, value):
        keys = {c.key for c in field.columns}
        rows = value if isinstance(value, list) else []
        return [f"第 {i} 行“{k}”" for i, row in enumerate(rows, start=1) if isinstance(row, dict)
                for k in row if k not in keys]

    def part_name(self, field, parts, years):
        if not parts or not parts[0].isdigit():
            return ""
        col = next((c for c in field.columns if len(parts) > 1 and c.key == parts[1]), None)
        return f"第 {int(parts[0]) + 1} 行" + (f" {fill_years(col.label, years)}" if col else "")

    def post(self, field, value, formdata):
        if not isinstance(value, list):
            return super().post(field, value, formdata)
        for i, row in enumerate(value):
            if isinstance(row, dict):
                for k, x in row.items():
                    formdata.add(f"{field.key}-{i}-{k}", "" if x is None else str(x))

    def display(self, field, value):
        return f"{len(value)} 行：" + "；".join(
            "，".join(str(row.get(c.key, "")) for c in field.columns) for row in value)

    def problems(self, field, value, name, years):
        out = []
        required = [c for c in field.columns if c.required]  # once, not once per row
        for i, row in enumerate((value or []) if required else [], start=1):
            gaps = [c.label for c in required if not row.get(c.key)]
            if gaps:
                cols = "、".join(fill_years(g, years) for g in gaps)
                out.append((f"“{name}”第 {i} 行缺少：{cols}。", MISSING))
        if len(value or []) > field.max_rows:
            out.append((f"“{name}”最多 {field.max_rows} 行。", ERROR))
        return out

    def schema(self, field, section, years):
        return {"columns": [column_schema(c, years) for c in field.columns], "max_rows": field.max_rows}

    def diff_rows(self, field, before, after):
        before, after = list(before or []), list(after or [])
        return tuple((self.cells(field, before[i] if i < len(before) else None),
                      self.cells(field, after[i] if i < len(after) else None))
                     for i in range(max(len(before), len(after))))

    @staticmethod
    def cells(field, row: dict | None) -> tuple[str, ...]:
        if row is None:
            return ()
        return tuple("" if row.get(c.key) in (None, "") else str(row.get(c.key)) for c in field.columns)

    def headings(self, field, years):
        return tuple(f"{c.group}{fill_years(c.label, years)}" if c.group else fill_years(c.label, years)
                     for c in field.columns)

    def excel_sheet(self, field, section):
        return field.name

    def excel_headers(self, field, section, years):
        """A column per table column; a group (营业收入（亿元）) above its years."""
        return [ExcelColumn(c.group, fill_years(c.label, years), *column_format(c)) if c.group
                else ExcelColumn(fill_years(c.label, years), None, *column_format(c)) for c in field.columns]

    def excel_cells(self, field, section, value):
        return []

    def excel_rows(self, field, value):
        return [[number_cell(row.get(c.key), number_format(integer=c.integer, percent=c.percent))
                 if c.kind == "number" else text_cell(row.get(c.key)) for c in field.columns]
                for row in (value if isinstance(value, list) else []) if isinstance(row, dict)]


def column_format(col) -> tuple[bool, str | None]:
    """(numeric, number format) of a table column."""
    if col.kind != "number":
        return False, None
    return True, number_format(integer=col.integer, percent=col.percent)


def column_schema(col, years) -> dict:
    """A table column in the JSON description (the keys a field has, for one format)."""
    return {"key": col.key, "label": fill_years(col.label, years), "group": col.group, "type": col.kind,
            "unit": col.unit, "section": None, "evidence": False, "max_chars": None, "category": None,
            "required": col.required}


class AgreeKind(Kind):
    """The truthfulness declaration's tick box."""

    name = "agree"
    excel_column = True
    template_layout, template_input = SINGLE, TICK

    def build(self, field, years):
        return BooleanField(fill_years(field.label, years))

    def answer(self, field, wtf_field):
        return bool(wtf_field.data)

    def post(self, field, value, formdata):
        if value:
            formdata.add(field.key, "y")

    def display(self, field, value):
        return "已同意" if value else ""

    def problems(self, field, value, name, years):
        return [] if value else [("请阅读并勾选同意真实性声明。", MISSING)]


class DerivedKind(Kind):
    """Taken from the cluster (申报类别), never typed."""

    name = "derived"
    answerable = False


class OpinionKind(Kind):
    """The county government's opinion, written when it reviews the report."""

    name = "opinion"
    answerable = False
    county_writes = True


class EvidenceKind(Kind):
    """An upload slot: files bound into the evidence appendix."""

    name = "evidence"
    answerable = False
    uploads = True


ALL_KINDS = (TextKind(), PhoneKind(), LongTextKind(), IndicatorKind(), ParkIndicatorKind(), TargetKind(), TableKind(),
             AgreeKind(), DerivedKind(), OpinionKind(), EvidenceKind())
KINDS.update({k.name: k for k in ALL_KINDS})


def kind_of(field) -> Kind:
    """The kind object of a field (the same as ``field.kind_of``)."""
    return KINDS[field.kind]
