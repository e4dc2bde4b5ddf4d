"""Showing answers: the text of a value, defaults, and the helpers templates use."""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from markupsafe import Markup, escape

from .definition import (
    CODE_LABEL,
    DATE_BLANK,
    EVIDENCE_NONE,
    EVIDENCE_REF,
    EVIDENCE_TOC_HEADERS,
    GROWTH_HEADER,
    INDICATOR_HEADER,
    PARK_CLUSTER,
    PARK_GROWTH_HEADER,
    PARK_TOTAL,
    SEAL,
    TARGET_BASE,
    TARGET_YEAR,
    UNIT_SEAL,
    YEAR,
    YEARS_HEADER,
    get_report,
)
from .model import KINDS, ROUND_LABELS, fill_years
from .numbers import change, count_chars, number_text


def display_value(field, value) -> str:
    """One line of text for a stored value (review lists, diffs)."""
    if value in (None, "", [], {}):
        return ""
    return field.kind_of.display(field, value)


def opinion_for(sub, round_):
    """The county's standing opinion of the round, with its date written in Chinese."""
    op = (sub.opinions or {}).get(round_) if sub else None
    if not op:
        return None
    d = date.fromisoformat(op["date"])
    return {**op, "date_text": f"{d.year}年{d.month}月{d.day}日"}


def step_defaults(step, submission, answers: dict) -> dict:
    """Answers with pre-filled defaults for fields never saved (not stored until saved)."""
    out = dict(answers)
    sources = {"cluster_name": submission.cluster.name}
    sources.update({k: v for k, v in answers.items() if isinstance(v, str)})
    for f in step.fields:
        if f.default_from and f.key not in out and sources.get(f.default_from):
            out[f.key] = sources[f.default_from]
    return out


def effective_answers(submission, round_) -> dict:
    """The round's answers with the pre-filled defaults the applicant sees on screen."""
    answers = submission.answers_for(round_)
    for step in get_report(round_).steps:
        answers = step_defaults(step, submission, answers)
    return answers


def template_globals() -> dict:
    """The definition's fixed texts and helpers, available in every template."""
    return {
        "fill_years": fill_years,
        "growth_of": growth_text,
        "count_chars": count_chars,
        "number_text": shown_number,  # a stored figure as printed: 86,500 · 63.0 (exports/summary: the same rule)
        "error_messages": error_messages,
        "shows_growth": shows_growth,
        "get_report": get_report,
        "ROUND_LABELS": ROUND_LABELS,
        # every kind's partial: the wizard imports each once per page (_macros/report_fields.html)
        "KIND_TEMPLATES": tuple(sorted({kind.template for kind in KINDS.values()})),
        "column_labels": column_labels,
        "table_rows": table_rows,
        "shown_rows": shown_rows,
        "value_row": value_row,
        "T": {
            "YEARS_HEADER": YEARS_HEADER, "INDICATOR_HEADER": INDICATOR_HEADER, "GROWTH_HEADER": GROWTH_HEADER,
            "PARK_GROWTH_HEADER": PARK_GROWTH_HEADER, "PARK_TOTAL": PARK_TOTAL, "PARK_CLUSTER": PARK_CLUSTER,
            "TARGET_BASE": TARGET_BASE, "TARGET_YEAR": TARGET_YEAR, "YEAR": YEAR, "SEAL": SEAL,
            "UNIT_SEAL": UNIT_SEAL, "DATE_BLANK": DATE_BLANK, "EVIDENCE_REF": EVIDENCE_REF,
            "EVIDENCE_TOC_HEADERS": EVIDENCE_TOC_HEADERS, "EVIDENCE_NONE": EVIDENCE_NONE,
            "CODE_LABEL": CODE_LABEL,
        },
    }


@lru_cache(maxsize=256)
def _column_labels(field, years_key: tuple) -> tuple:
    years = dict(years_key)
    return tuple(fill_years(c.label, years) for c in field.columns)


def column_labels(field, years: dict) -> tuple:
    """A table's column labels with the years filled in (computed once per field and years,
    not once per cell of every row)."""
    return _column_labels(field, tuple(sorted(years.items())))


def error_messages(wtf_field) -> list[str]:
    """Flat Chinese messages of a (possibly nested) WTForms field, with row numbers for tables."""
    errors = wtf_field.errors
    out = []
    if isinstance(errors, dict):
        for key, msgs in errors.items():
            sub = wtf_field.form[key] if hasattr(wtf_field, "form") and key in wtf_field.form._fields else None
            label = sub.label.text if sub is not None else key
            out += [f"{label}：{m}" for m in _strings(msgs)]
        return out
    for i, item in enumerate(errors or []):
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and item:
            entry = wtf_field.entries[i] if i < len(wtf_field.entries) else None
            for key, msgs in item.items():
                label = entry.form[key].label.text if entry is not None and key in entry.form._fields else key
                out += [f"第 {i + 1} 行“{label}”：{m}" for m in _strings(msgs)]
    return out


def _strings(msgs):
    if isinstance(msgs, str):
        return [msgs]
    return [m for m in msgs if isinstance(m, str)]


def shows_growth(section, field) -> bool:
    """Does this row have an 增幅 cell? (2.1, 2.2, 2.4 rows and the park totals)"""
    return field.kind_of.shows_growth(section)


# --- a table's rows from the saved answers: the row macro's skeleton, made once per field ------

_SLOT = re.compile("\ue000([^\ue001]*)\ue001")


class _SlotCell:
    """A cell of the row skeleton: what the row macro reads of a WTForms input, with slots
    (``\ue000…\ue001``) where a row's index and value go; a choice's markup comes from the
    real input (``proto``), none of its options selected."""

    errors = ()

    def __init__(self, field_key: str, col_key: str, proto, level: bool):
        self.id = f"{field_key}-\ue000i\ue001-{col_key}"
        # a choice's name ends with a marker: the options follow it (which one is selected: per row)
        self.name = self.id + (f"\ue000L{col_key}\ue001" if level else "")
        self.col_key, self.proto = col_key, proto

    def _value(self):  # the name WTForms' inputs give it, read by the row macro
        return f"\ue000v{self.col_key}\ue001"

    def iter_choices(self):
        return ((value, text, False, {}) for value, text, _, _ in self.proto.iter_choices())


_skeletons: dict = {}


def _skeleton(row_macro, field, labels: tuple, proto) -> list:
    """The row macro rendered once with slot cells, as a list of operations: static text, the
    row's index (``i``), its number (``n``), a value (``v``), a choice (``L``: the static text
    that follows, one variant per option selected)."""
    key = (field, labels, row_macro.name)
    ops = _skeletons.get(key)
    if ops is not None:
        return ops
    levels = {c.key for c in field.columns if hasattr(proto[c.key], "iter_choices")}
    cells = {c.key: _SlotCell(field.key, c.key, proto[c.key], c.key in levels) for c in field.columns}
    parts = _SLOT.split(str(row_macro(field, labels, "\ue000n\ue001", f"{field.key}-\ue000i\ue001", cells)))
    ops, k = [], 0
    while k < len(parts):
        text = parts[k]
        if k % 2 == 0:
            ops.append(("s", text))
        elif text[0] == "L":
            k += 1
            variants = {value: parts[k].replace(f'<option value="{escape(value)}">',
                                                f'<option selected value="{escape(value)}">', 1)
                        for value, _, _, _ in proto[text[1:]].iter_choices()}
            ops.append(("L", text[1:], variants, parts[k]))
        else:
            ops.append((text[0], text[1:]))
        k += 1
    if len(_skeletons) > 512:  # fields × years: a handful per edition
        _skeletons.clear()
    _skeletons[key] = ops
    return ops


def table_rows(row_macro, field, labels: tuple, wtf_field) -> Markup:
    """A table's rows on a step page shown from the saved answers (``wtf_field.stored_rows``):
    the same markup the row macro writes for each WTForms row, filled from the rows' values
    (at least one row, empty, as the form shows)."""
    ops = _skeleton(row_macro, field, labels, wtf_field.entries[0].form)
    out = []
    for i, row in enumerate(wtf_field.stored_rows or [{}]):
        index = str(i)
        for op in ops:
            kind = op[0]
            if kind == "s":
                out.append(op[1])
            elif kind == "i":
                out.append(index)
            elif kind == "n":
                out.append(str(i + 1))
            elif kind == "v":
                value = row.get(op[1])
                out.append("" if value is None else str(escape(str(value))))
            else:  # a choice: the option of the stored value selected (blank: 请选择)
                value = row.get(op[1])
                out.append(op[2].get("" if value is None else str(value), op[3]))
    return Markup("".join(out))


@lru_cache(maxsize=8192)
def _stored_number_text(stored: str) -> str:
    return number_text(stored)


def shown_number(stored) -> str:
    """``numbers.number_text``, remembered for stored texts: a page shows hundreds of figures, and
    the same report is shown again and again (bounded: a few thousand short texts)."""
    return _stored_number_text(stored) if isinstance(stored, str) else number_text(stored)


def cell_text(col, value) -> str:
    """A table cell as the read-only report shows it: a number as printed (86,500), text as typed."""
    if col.kind == "number":
        return shown_number(value)
    return "" if value in (None, "") else str(value)


_shown_skeletons: dict = {}


def shown_rows(row_macro, field, rows, widths) -> Markup:
    """A table's rows, read-only (review, county and administrator pages, PDF): the row macro
    rendered once per field and widths with slots for the cells, filled per row with each
    value's text (cell_text), escaped."""
    widths = tuple(str(w) for w in widths)
    key = (field, widths, row_macro.name)
    parts = _shown_skeletons.get(key)
    if parts is None:
        cells = {c.key: Markup(f"\ue000{c.key}\ue001") for c in field.columns}
        parts = _SLOT.split(str(row_macro(field, widths, cells)))
        if len(_shown_skeletons) > 512:
            _shown_skeletons.clear()
        _shown_skeletons[key] = parts
    columns = {c.key: c for c in field.columns}
    out = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        for k, part in enumerate(parts):
            out.append(part if k % 2 == 0 else str(escape(cell_text(columns[part], row.get(part)))))
    return Markup("".join(out))


# --- a grid row of numbers (2.x, 3.1, 5.1) in the wizard: the row macro's skeleton -------------

class _Slots:
    """The 增幅 of a row in its skeleton (growth_text's input there)."""


_GROWTH_SLOT = _Slots()


def growth_text(field, values) -> str:
    """The 增幅 cell (numbers.change); in a row's skeleton, its slot."""
    if values is _GROWTH_SLOT:
        return Markup("\ue000g\ue001")
    return change(field, values)


class _SlotInput:
    """One number input of the skeleton: the real input's name, id and label; its value a slot."""

    errors = ()

    def __init__(self, key: str, real):
        self.key, self.id, self.name, self.label = key, real.id, real.name, real.label

    def _value(self):  # the name WTForms' inputs give it, read by number_input
        return f"\ue000v{self.key}\ue001"


class _SlotRow:
    """What a grid row's macro reads of its WTForms FormField, with slots for the values."""

    errors = ()

    def __init__(self, real):
        self.form = {f.short_name: _SlotInput(f.short_name, f) for f in real.form}
        self.data = _GROWTH_SLOT


_row_skeletons: dict = {}


def value_row(row_macro, field, wtf_field, section, years: dict) -> Markup:
    """A row of numbers without errors, written from the row macro rendered once per field,
    section and years (``\ue000v<key>\ue001``: a value, ``\ue000g\ue001``: the 增幅), filled with
    the input's values (escaped) and its 增幅."""
    key = (id(field), id(section), tuple(sorted(years.items())), row_macro.name)
    entry = _row_skeletons.get(key)
    if entry is None or entry[0] is not field or entry[1] is not section:
        parts = _SLOT.split(str(row_macro(field, _SlotRow(wtf_field), section, None, years)))
        if len(_row_skeletons) > 2048:
            _row_skeletons.clear()
        entry = _row_skeletons[key] = (field, section, parts)
    parts, inputs, out = entry[2], wtf_field.form, []
    for k, part in enumerate(parts):
        if k % 2 == 0:
            out.append(part)
        elif part == "g":
            out.append(str(escape(change(field, wtf_field.data))))
        else:
            out.append(str(escape(inputs[part[1:]]._value())))
    return Markup("".join(out))
