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
  and ``show`` (the read-only report: review, county and admin pages, PDF).

The kinds register themselves in ``model.KINDS`` (the package imports this module first),
so ``Field.kind_of`` finds them.
"""
from __future__ import annotations

from wtforms import BooleanField, Form, FormField, StringField, TextAreaField
from wtforms.validators import Length, Optional, Regexp

from .inputs import PHONE, LevelField, MaxChars, NumberInput, RowList, row_indices, text_filter, value_labels
from .model import KINDS, fill_years
from .numbers import count_chars, format_decimal

MISSING, ERROR = "missing", "error"  # what a submit-rule problem is (checks.problem's kind)
EMPTY_VALUES = (None, "", [], {}, False)


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

    @property
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

    def growth_pair(self, values: dict) -> tuple:
        """The two values the 增幅 cell compares."""
        return values.get("y1"), values.get("y2")


class TextKind(Kind):
    """One line of text."""

    name = "text"
    one_line = True

    def build(self, field, years):
        return StringField(fill_years(field.label, years),
                           validators=[Length(max=field.max_length, message=f"最多 {field.max_length} 个字符。")],
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

    def build(self, field, years):
        return StringField(fill_years(field.label, years),
                           validators=[Optional(), Regexp(PHONE, message="请输入有效的电话号码（数字、空格、-、括号）。")],
                           filters=[text_filter()])


class LongTextKind(Kind):
    """A narrative (自评报告, 实施方案): many lines, an official character limit checked at submit."""

    name = "longtext"

    def build(self, field, years):
        return TextAreaField(fill_years(field.label, years), validators=[MaxChars(field.hard_max_chars)],
                             filters=[text_filter(True)])

    def answer(self, field, wtf_field):
        return wtf_field.data or ""

    def problems(self, field, value, name, years):
        n = count_chars(value)
        out = []
        if field.required and n == 0:
            out.append((f"请填写“{name}”。", MISSING))
        if field.max_chars and n > field.max_chars:
            out.append((f"“{name}”已输入 {n} 字，超出 {field.max_chars} 字的限制，请删减 {n - field.max_chars} 字。",
                        ERROR))
        return out


class ValuesKind(Kind):
    """A row of typed numbers (``value_keys``), stored as {key: normalised decimal text}."""

    grid_row = True
    has_unit = True

    def build(self, field, years):
        labels = value_labels(field, years)
        attrs = {k: NumberInput(labels[k], integer=field.integer, signed=field.signed, percent=field.percent)
                 for k in self.value_keys}
        return FormField(type(f"{field.key}_values", (Form,), attrs), label=fill_years(field.label, years))

    def unknown_parts(self, field, value):
        return [f"“{k}”" for k in value if k not in self.value_keys] if isinstance(value, dict) else []

    def part_name(self, field, parts, years):
        return value_labels(field, years).get(parts[0], "") if parts else ""

    def answer(self, field, wtf_field):
        return {k: format_decimal(wtf_field.form[k].value) for k in self.value_keys
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

    def schema(self, field, section, years):
        return {"values": list(self.value_keys),
                "growth": field.growth_mode if self.shows_growth(section) else None}


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

    def shows_growth(self, section):
        return True

    def growth_pair(self, values):
        return values.get("y1_total"), values.get("y2_total")


class TargetKind(ValuesKind):
    """上一年实际值 and the three target years."""

    name = "target"
    value_keys = ("base", "t1", "t2", "t3")


class TableKind(Kind):
    """Rows of ``field.columns`` (a list of {column key: value}); empty rows are not stored."""

    name = "table"

    def build(self, field, years):
        attrs = {c.key: self.cell_input(c, years) for c in field.columns}
        row = type(f"{field.key}_row", (Form,), attrs)
        return RowList(FormField(row), label=fill_years(field.label, years), min_entries=1,
                       max_entries=field.max_rows)

    @staticmethod
    def cell_input(col, years):
        """The input of one cell, by the column's kind (text | number | level)."""
        label = fill_years(col.label, years)
        if col.kind == "number":
            return NumberInput(label, integer=col.integer, signed=col.signed, percent=col.percent)
        if col.kind == "level":
            return LevelField(label)
        return StringField(label, validators=[Length(max=col.max_length, message=f"最多 {col.max_length} 个字符。")],
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
                v = format_decimal(sub.value)
            else:
                v = (sub.data or "").strip() if isinstance(sub.data, str) else (sub.data or "")
            if v != "":
                row[col.key] = v
        return row or None

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
        for i, row in enumerate(value or [], start=1):
            gaps = [c.label for c in field.columns if c.required and not row.get(c.key)]
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


def column_schema(col, years) -> dict:
    """A table column in the JSON description (the keys a field has, for one format)."""
    return {"key": col.key, "label": fill_years(col.label, years), "group": col.group, "type": col.kind,
            "unit": col.unit, "section": None, "evidence": False, "max_chars": None, "category": None,
            "required": col.required}


class AgreeKind(Kind):
    """The truthfulness declaration's tick box."""

    name = "agree"

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
