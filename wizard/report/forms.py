"""WTForms built from the report definition: one form class per (round, step, category).

Field kinds map to WTForms fields here and nowhere else.  Saving validates
types and ranges only; completeness is checked at submit (checks.py).
"""
from __future__ import annotations

import re
from functools import lru_cache

from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional, Regexp, ValidationError

from ..params import parse_index
from ..text import clean_text
from .definition import LEVELS, PARK_CLUSTER, PARK_TOTAL, TARGET_BASE, TARGET_YEAR, YEAR, get_report
from .model import Column, Field, fill_years
from .numbers import NumberError, count_chars, format_decimal, parse_number

PHONE = re.compile(r"^[0-9+()\-－（）\s转]{7,30}$")


class NumberInput(StringField):
    """A typed number.  ``data`` keeps the raw text (re-shown on error);
    ``value`` is the parsed Decimal after validation."""

    def __init__(self, label=None, validators=None, integer=False, signed=False, percent=False, **kw):
        super().__init__(label, validators, **kw)
        self.rules = dict(integer=integer, signed=signed, percent=percent)
        self.value = None

    def pre_validate(self, form):
        self.value = None
        try:
            self.value = parse_number(self.data, **self.rules)
        except NumberError as exc:
            raise ValidationError(str(exc)) from None


class LevelField(SelectField):
    """级别: 国家级 / 省级, or blank (an empty row)."""

    def __init__(self, label=None, **kw):
        super().__init__(label, choices=[("", "请选择")] + [(x, x) for x in LEVELS],
                         coerce=lambda v: "" if v is None else str(v), **kw)

    def pre_validate(self, form):
        if self.data in (None, "None"):
            self.data = ""
        if self.data not in ("",) + tuple(LEVELS):
            raise ValidationError("请选择“国家级”或“省级”。")


def row_indices(prefix: str, names) -> set[int]:
    """The row numbers posted for a table (``<prefix>-<index>-<column>``): ASCII digits in
    range only, so ``green_list-²-name`` or ``green_list-١-name`` is no row at all."""
    start = len(prefix) + 1
    found = set()
    for name in names:
        if name.startswith(f"{prefix}-"):
            index = parse_index(name[start:].split("-", 1)[0])
            if index is not None:
                found.add(index)
    return found


class RowList(FieldList):
    """A table's rows; WTForms' own index parsing takes str.isdigit() for a number."""

    def _extract_indices(self, prefix, formdata):
        return row_indices(prefix, formdata)


def _text_filter(multiline=False):
    return lambda v: clean_text(v, multiline=multiline) if isinstance(v, str) else v


class MaxChars:
    """Refuse text over the technical cap at save (the official limit is checked at submit,
    so a long draft is never lost)."""

    def __init__(self, cap):
        self.cap = cap

    def __call__(self, form, field):
        n = count_chars(field.data)
        if n > self.cap:
            raise ValidationError(f"内容过长（{n} 字），最多 {self.cap} 字。")


def _column_field(col: Column, years: dict):
    label = fill_years(col.label, years)
    if col.kind == "number":
        return NumberInput(label, integer=col.integer, signed=col.signed, percent=col.percent)
    if col.kind == "level":
        return LevelField(label)
    return StringField(label, validators=[Length(max=col.max_length, message=f"最多 {col.max_length} 个字符。")],
                       filters=[_text_filter()])


def value_labels(field: Field, years: dict) -> dict:
    """What each value of an indicator row is called (for messages and screen readers)."""

    y1, y2 = YEAR.format(year=years["y1"]), YEAR.format(year=years["y2"])
    return {
        "y1": y1, "y2": y2,
        "y1_total": f"{y1}{PARK_TOTAL}", "y1_cluster": f"{y1}{PARK_CLUSTER}",
        "y2_total": f"{y2}{PARK_TOTAL}", "y2_cluster": f"{y2}{PARK_CLUSTER}",
        "base": TARGET_BASE, "t1": TARGET_YEAR.format(year=years["t1"]),
        "t2": TARGET_YEAR.format(year=years["t2"]), "t3": TARGET_YEAR.format(year=years["t3"]),
    }


def _values_form(field: Field, years: dict):
    labels = value_labels(field, years)
    attrs = {k: NumberInput(labels[k], integer=field.integer, signed=field.signed, percent=field.percent)
             for k in field.value_keys}
    return type(f"{field.key}_values", (Form,), attrs)


def _row_form(field: Field, years: dict):
    attrs = {c.key: _column_field(c, years) for c in field.columns}
    return type(f"{field.key}_row", (Form,), attrs)


def _wtf_field(field: Field, years: dict):
    label = fill_years(field.label, years)
    if field.kind == "text":
        return StringField(label, validators=[Length(max=field.max_length, message=f"最多 {field.max_length} 个字符。")],
                           filters=[_text_filter()])
    if field.kind == "phone":
        return StringField(label, validators=[Optional(), Regexp(PHONE, message="请输入有效的电话号码（数字、空格、-、括号）。")],
                           filters=[_text_filter()])
    if field.kind == "longtext":
        return TextAreaField(label, validators=[MaxChars(field.hard_max_chars)], filters=[_text_filter(True)])
    if field.kind in ("indicator", "park_indicator", "target"):
        return FormField(_values_form(field, years), label=label)
    if field.kind == "table":
        return RowList(FormField(_row_form(field, years)), label=label, min_entries=1, max_entries=field.max_rows)
    if field.kind == "agree":
        return BooleanField(label)
    return None  # derived, opinion, evidence: not the applicant's to type


class StepBase(FlaskForm):
    version = HiddenField()

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        for f in self._definition_fields:
            if f.kind == "table":
                n = _posted_rows(self, f)
                if n > f.max_rows:
                    self[f.key].errors = list(self[f.key].errors) + [f"“{f.name}”最多 {f.max_rows} 行，您提交了 {n} 行。"]
                    ok = False
        return ok


def _posted_rows(form, field: Field) -> int:
    data = getattr(form, "_raw_formdata", None)
    return len(row_indices(field.key, data.keys())) if data else 0


@lru_cache(maxsize=None)
def step_form_class(round_: str, step_key: str, category: str | None, years_key: tuple):
    years = dict(years_key)
    step = get_report(round_).step(step_key)
    attrs = {"_definition_fields": [f for f in step.fields if f.applies_to(category)]}
    for f in attrs["_definition_fields"]:
        wf = _wtf_field(f, years)
        if wf is not None:
            attrs[f.key] = wf
    return type(f"Step_{round_}_{step_key}", (StepBase,), attrs)


def make_step_form(round_, step_key, category, years, formdata=None, answers=None, **kw):
    cls = step_form_class(round_, step_key, category, tuple(sorted(years.items())))
    if formdata is not None:
        form = cls(formdata=formdata, **kw)
        form._raw_formdata = formdata
    else:
        form = cls(formdata=None, data=answers_to_data(cls, answers or {}), **kw)
        form._raw_formdata = None
    return form


def answers_to_data(cls, answers: dict) -> dict:
    data = {}
    for f in cls._definition_fields:
        value = answers.get(f.key)
        if value is None:
            continue
        data[f.key] = value
    return data


def _row_value(row_form, field: Field) -> dict | None:
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


def form_to_answers(form) -> dict:
    """The step's answers from a validated form: normalised numbers, empty rows skipped."""
    out = {}
    for f in form._definition_fields:
        if f.key not in form._fields:
            continue
        wf = form[f.key]
        if f.kind in ("text", "phone", "longtext"):
            out[f.key] = wf.data or ""
        elif f.kind in ("indicator", "park_indicator", "target"):
            out[f.key] = {k: format_decimal(wf.form[k].value) for k in f.value_keys if wf.form[k].value is not None}
        elif f.kind == "table":
            out[f.key] = [r for r in (_row_value(entry.form, f) for entry in wf.entries) if r]
        elif f.kind == "agree":
            out[f.key] = bool(wf.data)
    return out

