"""Showing answers: the text of a value, defaults, and the helpers templates use."""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from flask import current_app
from markupsafe import Markup, escape
from wtforms.widgets import TextInput

from ..kept import Kept
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
from .fragments import Probe, paragraphs, report_body_html, shown_appendix, shown_field, shown_reset, slot_format
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


def _defaulted(step) -> tuple:
    """The fields of ``step`` pre-filled from another answer (``default_from``), worked out once
    per step (it depends on the definition alone)."""
    entry = _DEFAULTED.get(id(step))
    if entry is None or entry[0] is not step:
        if len(_DEFAULTED) > 512:
            _DEFAULTED.clear()
        entry = _DEFAULTED[id(step)] = (step, tuple(f for f in step.fields if f.default_from))
    return entry[1]


_DEFAULTED: dict = {}


def _fill_defaults(fields, submission, out: dict, sources: dict) -> None:
    """Pre-fill into ``out`` each of ``fields`` never saved from its source: ``sources``' value
    when a string, else for ``cluster_name`` the cluster's name."""
    for f in fields:
        if f.key in out:
            continue
        value = sources.get(f.default_from)
        if not isinstance(value, str):
            value = submission.cluster.name if f.default_from == "cluster_name" else None
        if value:
            out[f.key] = value


def step_defaults(step, submission, answers: dict) -> dict:
    """Answers with pre-filled defaults for fields never saved (not stored until saved)."""
    out = dict(answers)
    _fill_defaults(_defaulted(step), submission, out, answers)
    return out


def effective_answers(submission, round_) -> dict:
    """The round's answers with the pre-filled defaults the applicant sees on screen (each step's
    defaults taken from the answers as the steps before it left them, as step_defaults would)."""
    out = dict(submission.answers_for(round_))
    for step in get_report(round_).steps:
        fields = _defaulted(step)
        if fields:
            _fill_defaults(fields, submission, out, dict(out))
    return out


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
        "form_row_layout": form_row_layout,
        "text_input": text_input,
        "report_body_html": report_body_html,
        "shown_field": shown_field,
        "shown_appendix": shown_appendix,
        "shown_reset": shown_reset,
        "paragraphs": paragraphs,
        "heads_html": heads_html,
        "kept_html": kept_html,
        "field_input": field_input,
        "section_html": section_html,
        "file_rows": file_rows,
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
            sub = wtf_field.form[key] if hasattr(wtf_field, "form") and key in wtf_field.form else None
            label = sub.label.text if sub is not None else key
            out += [f"{label}：{m}" for m in _strings(msgs)]
        return out
    for i, item in enumerate(errors or []):
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and item:
            entry = wtf_field.entries[i] if i < len(wtf_field.entries) else None
            for key, msgs in item.items():
                label = entry.form[key].label.text if entry is not None and key in entry.form else key
                out += [f"第 {i + 1} 行“{label}”：{m}" for m in _strings(msgs)]
    return out


def _strings(msgs):
    if isinstance(msgs, str):
        return [msgs]
    return [m for m in msgs if isinstance(m, str)]


def shows_growth(section, field) -> bool:
    """Does this row have an 增幅 cell? (2.1, 2.2, 2.4 rows and the park totals)"""
    return field.kind_of.shows_growth(section)


_NEEDS_ESCAPE = re.compile(r"[&<>\"']")


def _escaped(text: str) -> str:
    """``str(escape(text))``: the text itself when it holds nothing to escape (most stored
    values: figures and names), without making a Markup of it."""
    return text if _NEEDS_ESCAPE.search(text) is None else str(escape(text))


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


def _skeleton(row_macro, field, labels: tuple, wtf_field) -> tuple:
    """The row macro rendered once with slot cells, as a ``%`` format (fragments.slot_format) with the
    row's index (``%(i)s``), its number (``%(n)s``), each value (``%(v<column>)s``) and each
    choice (``%(L<column>)s``: the static text that follows the choice's marker, one variant per
    option selected), and what fills them: the value columns, and per choice its variants and
    the text with none selected."""
    key = (field, labels, row_macro.name)
    entry = _skeletons.get(key)
    if entry is not None:
        return entry
    proto = wtf_field.entries[0].form  # the cells' markup (a choice's options) from a real row
    levels = {c.key for c in field.columns if hasattr(proto[c.key], "iter_choices")}
    cells = {c.key: _SlotCell(field.key, c.key, proto[c.key], c.key in levels) for c in field.columns}
    parts = _SLOT.split(str(row_macro(field, labels, "\ue000n\ue001", f"{field.key}-\ue000i\ue001", cells)))
    fmt, values, choices, k = [], {}, {}, 0
    while k < len(parts):
        text = parts[k]
        if k % 2 == 0:
            fmt.append(text)
        elif text[0] == "L":
            k += 1
            variants = {value: parts[k].replace(f'<option value="{escape(value)}">',
                                                f'<option selected value="{escape(value)}">', 1)
                        for value, _, _, _ in proto[text[1:]].iter_choices()}
            choices[text] = (text[1:], variants, parts[k])
            fmt += [text, ""]
        else:
            if text[0] == "v":
                values[text] = text[1:]
            fmt.append(text)
        k += 1
    # the choice's text is part of the slot: the format's static text there stays empty
    entry = (slot_format(fmt), tuple(values.items()), tuple(choices.items()))
    if len(_skeletons) > 512:  # fields × years: a handful per edition
        _skeletons.clear()
    _skeletons[key] = entry
    return entry


def table_rows(row_macro, field, labels: tuple, wtf_field) -> Markup:
    """A table's rows on a step page shown from the saved answers (``wtf_field.stored_rows``):
    the same markup the row macro writes for each WTForms row, filled from the rows' values
    (at least one row, empty, as the form shows)."""
    fmt, values, choices = _skeleton(row_macro, field, labels, wtf_field)
    out = []
    for i, row in enumerate(wtf_field.stored_rows or [{}]):
        slots = {"i": i, "n": i + 1}
        for slot, col in values:
            value = row.get(col)
            slots[slot] = "" if value is None else _escaped(str(value))
        for slot, (col, variants, none_selected) in choices:  # the stored value's option selected (blank: 请选择)
            value = row.get(col)
            slots[slot] = variants.get("" if value is None else str(value), none_selected)
        out.append(fmt % slots)
    return Markup("".join(out))


@lru_cache(maxsize=8192)
def _stored_number_text(stored: str) -> str:
    return number_text(stored)


def shown_number(stored) -> str:
    """``numbers.number_text``, remembered for stored texts: a page shows hundreds of figures, and
    the same report is shown again and again (bounded: a few thousand short texts); a probed
    value (fragments.Probe: a field's skeleton being written) is a slot."""
    if type(stored) is Probe:
        return stored.slot(shown_number)
    return _stored_number_text(stored) if isinstance(stored, str) else number_text(stored)


def cell_text(col, value) -> str:
    """A table cell as the read-only report shows it: a number as printed (86,500), text as typed."""
    if col.kind == "number":
        return shown_number(value)
    return "" if value in (None, "") else str(value)


_CELL_SEP = "\ue008"  # between the cells of a table escaped at once (never in a skeleton's text)

_shown_skeletons: dict = {}


def shown_rows(row_macro, field, rows, widths) -> Markup:
    """A table's rows, read-only (review, county and administrator pages, PDF): the row macro
    rendered once per field and widths with slots for the cells, filled per row with each
    value's text (cell_text), escaped — the whole table's texts at once; probed rows
    (fragments.Probe) are a slot."""
    if type(rows) is Probe:
        kept = tuple(widths)
        return rows.slot(lambda value: shown_rows(row_macro, field, value, kept))
    widths = tuple(str(w) for w in widths)
    key = (field, widths, row_macro.name)
    entry = _shown_skeletons.get(key)
    if entry is None:
        cells = {c.key: Markup(f"\ue000{c.key}\ue001") for c in field.columns}
        parts = _SLOT.split(str(row_macro(field, widths, cells)))
        columns = {c.key: c for c in field.columns}
        # one positional format: the cells in the order the row writes them
        fmt = "".join(part.replace("%", "%%") if k % 2 == 0 else "%s" for k, part in enumerate(parts))
        entry = (fmt, tuple((k, columns[k], columns[k].kind == "number") for k in parts[1::2]))
        if len(_shown_skeletons) > 512:
            _shown_skeletons.clear()
        _shown_skeletons[key] = entry
    fmt, cells = entry
    texts = []
    for row in rows:
        if isinstance(row, dict):
            get = row.get
            # cell_text: a number as printed; a text as typed (a str: itself)
            texts += [(shown_number(v) if number else v if type(v) is str else cell_text(col, v))
                      for k, col, number in cells for v in (get(k),)]
    if not texts:
        return Markup("")
    joined = _CELL_SEP.join(texts)
    shown = str(escape(joined)).split(_CELL_SEP)
    if len(shown) != len(texts):  # a value holding the separator: each cell escaped on its own
        shown = [str(escape(t)) for t in texts]
    n = len(cells)
    return Markup("".join([fmt % tuple(shown[i:i + n]) for i in range(0, len(shown), n)]))


# --- a table's header rows: from the definition and the years alone, written once --------------

_heads: dict = {}


def heads_html(macro, field, years, editable=False, corners=None, wrap=False) -> Markup:
    """``macro(field, years, editable, corners, wrap)`` (report/_shared.html column_heads), kept per
    field, years and editable: the header rows of a table depend on nothing else.  The printed
    report's (corners, wrap) is written each time."""
    if corners is not None or wrap or not isinstance(years, dict):
        return macro(field, years, editable=editable, corners=corners, wrap=wrap)
    key = (id(macro), id(field), tuple(sorted(years.items())), bool(editable))
    entry = _heads.get(key)
    if entry is None or entry[0] is not macro or entry[1] is not field:
        if len(_heads) > 2048:
            _heads.clear()
        entry = _heads[key] = (macro, field, Markup(str(macro(field, years, editable=editable))))
    return entry[2]


_kept: dict = {}


def kept_html(macro, *args) -> Markup:
    """``macro(*args)``, written once per process for each macro and arguments: for a piece of a
    page that depends on its arguments alone (hashable: the definition's texts, the upload
    limits), e.g. an evidence slot's upload row (report/_inputs.html upload_row)."""
    key = (id(macro), args)
    entry = _kept.get(key)
    if entry is None or entry[0] is not macro:
        if len(_kept) > 4096:
            _kept.clear()
        entry = _kept[key] = (macro, Markup(str(macro(*args))))
    return entry[1]


# --- the files of an evidence slot in the wizard: the file macro's skeleton, made once per place ---

def _html(value) -> str:
    """``str(escape(value))``, as ``{{ value }}`` writes it."""
    return _escaped(value) if type(value) is str else str(escape(value))


class _SlotFile:
    """An evidence file as the file macro reads it, each value a slot."""

    id, original_name, pages = "\ue000i\ue001", "\ue000n\ue001", "\ue000p\ue001"


class _SlotPlaced:
    """An appendix entry (evidence.storage Placed) as the file macro reads it."""

    file = _SlotFile()
    pages_text = "\ue000t\ue001"


_file_skeletons: dict = {}


def file_rows(macro, items, url_for, endpoint: str, size_of) -> Markup:
    """The files of an evidence slot (report/_inputs.html evidence_box): ``macro(p, href, size,
    first, last)`` for each entry ``p`` of ``items``, with its link ``url_for(endpoint,
    file_id=…)`` and its size ``size_of(bytes)``, each written from the macro rendered once per
    place (first, last) with slots, as the loop of the macro wrote them (one a line)."""
    out = []
    last = len(items) - 1
    for k, p in enumerate(items):
        key = (id(macro), k == 0, k == last)
        entry = _file_skeletons.get(key)
        if entry is None or entry[0] is not macro:
            if len(_file_skeletons) > 256:
                _file_skeletons.clear()
            html = str(macro(_SlotPlaced(), "\ue000h\ue001", "\ue000s\ue001", k == 0, k == last))
            entry = _file_skeletons[key] = (macro, slot_format(_SLOT.split(html)))
        f = p.file
        out.append(entry[1] % {"h": _html(url_for(endpoint, file_id=f.id)), "s": _html(size_of(f.size)),
                               "t": _html(p.pages_text), "i": _html(f.id), "n": _html(f.original_name),
                               "p": _html(f.pages)})
    return Markup("".join(f"\n    {li}\n  " for li in out))


# --- a one-line input of the wizard (kinds text, phone): WTForms' markup, made once per field --

class _ValueSlot:
    """A WTForms field as its widget reads it, with its value a slot."""

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def _value(self):  # the name WTForms' inputs give it
        return "\ue000v\ue001"


_text_inputs: dict = {}


def text_input(field, wf) -> Markup:
    """``wf()`` (``wf(aria-invalid="true")`` with errors): the markup WTForms' widget writes for
    a one-line input, made once per definition field with a slot for the value (WTForms builds
    each attribute through Markup.format: about 0.2 ms an input), then filled with the value,
    escaped.  The widget's markup depends on the field's class, validators and render_kw, which
    the field's kind derives from the definition alone; only the value differs per request."""
    invalid = bool(wf.errors)
    if type(wf.widget) is not TextInput:  # its markup may depend on more than the value: as WTForms writes it
        return wf(**({"aria-invalid": "true"} if invalid else {}))
    key = (id(field), type(wf), wf.id, wf.name, invalid)
    entry = _text_inputs.get(key)
    if entry is None or entry[0] is not field:
        html = str(wf.meta.render_field(_ValueSlot(wf), {"aria-invalid": "true"} if invalid else {}))
        if html.count("\ue000v\ue001") != 1:
            return wf(**({"aria-invalid": "true"} if invalid else {}))
        if len(_text_inputs) > 4096:
            _text_inputs.clear()
        entry = _text_inputs[key] = (field, *html.split("\ue000v\ue001"))
    return Markup(f"{entry[1]}{escape(wf._value())}{entry[2]}")


# --- a row of the read-only basic-information table: its place, from the section alone -----------

class FormRowLayout(NamedTuple):
    """Where a field's row sits in its section's table (report/_shared.html form_row)."""

    grouped: bool  # the section has row groups (a table of five columns, not two)
    pairs_prev: bool  # a shares_row field (电话) on the row of the field before it
    pairs_next: bool  # the field before a shares_row field of its group: the row continues
    group_rows: int  # the rows its group spans (the fields of the group that start a row)


_form_rows: dict = {}


def form_row_layout(field, section) -> FormRowLayout:
    """The place of ``field``'s row in ``section``'s table, worked out once per field and section
    (it depends on the definition alone; the read-only report shows this table on every page)."""
    key = (id(field), id(section))
    entry = _form_rows.get(key)
    if entry is None or entry[0] is not field or entry[1] is not section:
        fields = list(section.fields)
        at = next(k for k, f in enumerate(fields) if f is field)
        prev = fields[at - 1] if at > 0 else None
        nxt = fields[at + 1] if at + 1 < len(fields) else None
        shares = field.kind_of.shares_row
        layout = FormRowLayout(
            grouped=any(f.group for f in fields),
            pairs_prev=bool(shares and field.group and prev is not None and prev.group == field.group
                            and not prev.kind_of.shares_row),
            pairs_next=bool(not shares and field.group and nxt is not None and nxt.group == field.group
                            and nxt.kind_of.shares_row),
            group_rows=sum(1 for f in fields if field.group and f.group == field.group and not f.kind_of.shares_row))
        if len(_form_rows) > 2048:
            _form_rows.clear()
        entry = _form_rows[key] = (field, section, layout)
    return entry[2]


# --- a grid row of numbers (2.x, 3.1, 5.1) in the wizard: the row macro's skeleton -------------

class _Slots:
    """The 增幅 of a row in its skeleton (growth_text's input there)."""


_GROWTH_SLOT = _Slots()


_growths: dict = {}


def growth_text(field, values) -> str:
    """The 增幅 cell (numbers.change), remembered per field and the two stored figures it compares
    (the read-only report shows about fifty a page; bounded); in a row's skeleton, its slot."""
    if values is _GROWTH_SLOT:
        return Markup("\ue000g\ue001")
    if type(values) is Probe:  # a field's skeleton being written (fragments.Probe)
        return values.slot(lambda value: growth_text(field, value))
    pair = field.kind_of.growth_pair(values or {}) if isinstance(values, dict) or not values else None
    if pair is None or not all(v is None or isinstance(v, str) for v in pair):
        return change(field, values)
    key = (id(field), *pair)
    hit = _growths.get(key)
    if hit is None or hit[0] is not field:
        if len(_growths) > 8192:
            _growths.clear()
        hit = _growths[key] = (field, change(field, values))
    return hit[1]


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
        slots = tuple(dict.fromkeys(parts[1::2]))
        if len(_row_skeletons) > 2048:
            _row_skeletons.clear()
        entry = _row_skeletons[key] = (field, section, slot_format(parts),
                                       tuple((s, s[1:]) for s in slots if s != "g"), "g" in slots)
    _, _, fmt, values, growth = entry
    if getattr(wtf_field, "made", True):
        inputs = wtf_field.form
        filled = {slot: escape(inputs[name]._value()) for slot, name in values}
    else:  # report/forms.ShownValues before its sub-form is made: plain inputs, shown as str(data)
        data = wtf_field.data
        filled = {slot: "" if data[name] is None else _escaped(str(data[name])) for slot, name in values}
    if growth:
        filled["g"] = escape(growth_text(field, wtf_field.data))
    return Markup(fmt % filled)


# --- a section of a step page: section_block's markup, made once per section, form and years ---

class _FieldSlots:
    """A step form as section_block reads it while its skeleton is made: which fields it has
    (``key in form``, as WTForms answers it); each field's input is a slot (field_input)."""

    def __init__(self, form):
        names = getattr(form, "field_names", None)  # a form not made yet (forms.DeferredShownForm) knows them
        self.names = names if names is not None else frozenset(f.short_name for f in form)

    def __contains__(self, key) -> bool:
        return key in self.names


def field_input(partials, field, form, section, sub, years, ev) -> Markup:
    """One field's input (_macros/report_fields.html section_block): its kind's partial's
    ``input`` given the field's WTForms field (None when the form has none); in a section's
    skeleton (section_html), a slot named by the field's key."""
    if isinstance(form, _FieldSlots):
        return Markup(f"\ue000{field.key}\ue001")
    return partials[field.kind_of.template].input(field, form[field.key] if field.key in form else None,
                                                  section, sub, years, ev)


_sections: dict = {}


def section_html(macro, partials, section, form, sub, years, ev, shown=None, box=None) -> Markup:
    """``macro(section, form, sub, years, ev)`` (section_block): written from the macro rendered
    once per section, form class, years and upload limits with a slot for each field's input,
    filled with each field's input (field_input).  The evidence appendix (its list of files is
    the request's) is written by the macro each time.

    ``shown``: the answers ``form`` was made from, when it was made from them alone (a step page
    shown from the saved answers: report/forms.make_shown_form), and ``box`` the evidence box
    macro (report/_inputs.html evidence_box): the section's inputs are then kept per section, form
    class, years, upload limits and the section's values (filled_section), with only the evidence
    boxes (the request's files and messages) written each time."""
    if section.layout == "appendix" or not isinstance(years, dict):
        return macro(section, form, sub, years, ev)
    config = current_app.config
    cls = getattr(form, "shown_class", None) or type(form)  # forms.DeferredShownForm: the class it makes
    key = (id(macro), id(section), id(cls), tuple(sorted(years.items())),
           config.get("UPLOAD_MAX_FILE_BYTES"), config.get("MAX_CONTENT_LENGTH"))
    entry = _sections.get(key)
    if entry is None or entry[0] is not macro or entry[1] is not section or entry[2] is not cls:
        parts = _SLOT.split(str(macro(section, _FieldSlots(form), None, years, None)))
        fields = {f.key: f for f in section.fields}
        if len(_sections) > 2048:
            _sections.clear()
        entry = _sections[key] = (macro, section, cls, slot_format(parts),
                                  tuple((k, fields[k]) for k in dict.fromkeys(parts[1::2])))
    if shown is not None and box is not None:
        return filled_section(entry, key, partials, form, section, sub, years, ev, shown, box)
    return Markup(entry[3] % {k: field_input(partials, f, form, section, sub, years, ev) for k, f in entry[4]})


# --- a section of a step page shown from the saved answers: kept per its values -----------------

_BOX = "\ue002"  # where an evidence box goes in a kept section (never in a skeleton's text)


class _DeferredEvidence:
    """The evidence appendix as a kept section's inputs see it: each evidence box (report/_inputs.html
    evidence_box, which asks for ``deferred``) is left as a mark, written per request."""

    def __init__(self):
        self.boxes = []

    def deferred(self, key, label, hint) -> Markup:
        self.boxes.append((key, label, hint))
        return Markup(_BOX)


#: (section key of section_html, the section's values) -> (macro, section, form class, the
#: section's markup split at its evidence boxes, the boxes' arguments).  Bounded by its characters
#: of markup and values (4 M: a few MB a process).
_filled = Kept(65_536, 4_000_000)


def filled_section(entry, key, partials, form, section, sub, years, ev, shown: dict, box) -> Markup:
    """section_html of a form made from ``shown`` alone: every input depends on the field, the
    form class (the round, step and category), the section, the years, the upload limits and the
    field's value in ``shown``, and nothing else but the evidence boxes (the files, the messages
    beside them).  Kept per those, with the boxes written each time by ``box``; a value holding
    the box mark is written the usual way."""
    macro, _, cls, fmt, slots = entry
    values = repr(tuple((k, shown.get(k)) for k, _ in slots))
    full = (key, values)
    hit = _filled.get(full)
    if hit is None or hit[0] is not macro or hit[1] is not section or hit[2] is not cls:
        deferred = _DeferredEvidence()
        html = fmt % {k: field_input(partials, f, form, section, sub, years, deferred) for k, f in slots}
        parts = html.split(_BOX)
        if len(parts) != len(deferred.boxes) + 1:  # the mark typed in a value: not kept
            return Markup(fmt % {k: field_input(partials, f, form, section, sub, years, ev) for k, f in slots})
        hit = (macro, section, cls, tuple(parts), tuple(deferred.boxes))
        _filled.put(full, hit, len(values) + len(html))
    parts, boxes = hit[3], hit[4]
    if not boxes:
        return Markup(parts[0])
    out = [parts[0]]
    for (box_key, label, hint), after in zip(boxes, parts[1:]):
        out.append(str(box(box_key, label, ev, hint=hint)))
        out.append(after)
    return Markup("".join(out))
