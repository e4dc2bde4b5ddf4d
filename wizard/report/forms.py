"""WTForms built from the report definition: one form class per (round, step, category).

Each field kind builds its own WTForms field (kinds.py); this module assembles them into
step forms.  Saving validates types and ranges only; completeness is checked at submit
(checks.py).
"""
from __future__ import annotations

import copy
from functools import lru_cache

from flask_wtf import FlaskForm
from wtforms import FieldList, FormField, HiddenField
from wtforms.fields.core import UnboundField
from wtforms.utils import unset_value

from .definition import get_report
from .inputs import numbered_rows_only
from .view import error_messages


class StepBase(FlaskForm):
    version = HiddenField()
    _raw_formdata = None  # the data posted (make_step_form), for the kinds' checks across inputs; None: from answers

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        for f in self._definition_fields:
            errors = f.kind_of.form_errors(f, self._raw_formdata)
            if errors:
                self[f.key].errors = list(self[f.key].errors) + errors
                ok = False
        return ok


@lru_cache(maxsize=2048)  # the steps' forms, and the subsets autosaves send (bounded)
def step_form_class(round_: str, step_key: str, category: str | None, years_key: tuple,
                    only: frozenset | None = None):
    """``only``: the form of these fields of the step alone (an autosave of the fields changed)."""
    years = dict(years_key)
    step = get_report(round_).step(step_key)
    fields = [f for f in step.fields if f.applies_to(category) and (only is None or f.key in only)]
    attrs = {"_definition_fields": fields,
             "_row_prefixes": tuple(f"{f.key}-" for f in fields if f.kind_of.has_rows)}
    for f in attrs["_definition_fields"]:
        wf = f.kind_of.build(f, years)
        if wf is not None:
            attrs[f.key] = wf
    return type(f"Step_{round_}_{step_key}", (StepBase,), attrs)


def make_step_form(round_, step_key, category, years, formdata=None, answers=None, only=None, **kw):
    """The step's form from posted data or stored answers; ``only`` (field keys): the form of those
    fields alone, so an autosave validates and saves the fields it sent and nothing else."""
    only = frozenset(only) if only is not None else None
    cls = step_form_class(round_, step_key, category, tuple(sorted(years.items())), only)
    if formdata is not None:
        formdata = numbered_rows_only(formdata, cls._row_prefixes)
        form = cls(formdata=formdata, **kw)
        form._raw_formdata = formdata
    else:
        form = cls(formdata=None, data=answers_to_data(cls, answers or {}), **kw)
        form._raw_formdata = None
    return form


def make_shown_form(round_, step_key, category, years, answers: dict):
    """The step page's form from the saved answers (a GET).  A table's rows are not made into
    WTForms rows (50 rows of 5 or 6 inputs: most of a step page's cost): the table field keeps
    the stored rows as ``stored_rows``, and the page writes them from its row skeleton, made
    once per field (report/view.table_rows).  A row of numbers makes its WTForms sub-form only
    when something reads it (ShownValues)."""
    cls = shown_form_class(step_form_class(round_, step_key, category, tuple(sorted(years.items()))))
    data = answers_to_data(cls, answers)
    rows = {f.key: data.pop(f.key) for f in cls._definition_fields if f.kind_of.has_rows and f.key in data}
    form = cls(formdata=None, data=data)
    form._raw_formdata = None
    for f in cls._definition_fields:
        if f.kind_of.has_rows and f.key in form:
            stored = rows.get(f.key)
            form[f.key].stored_rows = [r for r in stored if isinstance(r, dict)] if isinstance(stored, list) else []
    return form


class VersionShown:
    """The hidden ``version`` input of a form not made yet (DeferredShownForm): what the page
    reads of it, as WTForms' HiddenField of a form without prefix has it."""

    id = name = short_name = "version"
    errors = ()

    def __init__(self):
        self.data = None

    def _value(self):  # as WTForms' text inputs: the data as text, blank for None
        return str(self.data) if self.data is not None else ""


@lru_cache(maxsize=2048)
def _field_names(cls) -> frozenset:
    """The names of a form class's fields (``key in form``), from the class alone."""
    return frozenset(name for name in dir(cls) if isinstance(getattr(cls, name, None), UnboundField))


class DeferredShownForm:
    """make_shown_form's form, made only when something reads its fields: a step page whose
    sections are all kept (report/view.filled_section) reads none.  What the page reads without
    it: ``shown_class`` (the form's class: what the kept sections are keyed by), ``key in form``,
    the hidden ``version`` input, and no errors (a form made from the saved answers has none)."""

    def __init__(self, round_, step_key, category, years, answers: dict):
        self.shown_class = shown_form_class(step_form_class(round_, step_key, category, tuple(sorted(years.items()))))
        self.version = VersionShown()
        self.made_form = None
        self.arguments = (round_, step_key, category, years, answers)

    def real(self):
        """The form itself (make_shown_form), with the version set here."""
        if self.made_form is None:
            self.made_form = make_shown_form(*self.arguments)
            self.made_form.version.data = self.version.data
            self.version = self.made_form.version
        return self.made_form

    @property
    def field_names(self) -> frozenset:
        return _field_names(self.shown_class)

    def __contains__(self, key) -> bool:
        return key in _field_names(self.shown_class)

    def __iter__(self):
        return iter(self.real())

    def __getitem__(self, key):
        return self.real()[key]


class ShownValues(FormField):
    """A row of numbers (a FormField of plain text inputs) on a step page shown from the saved
    answers: WTForms' sub-form (a form and an input per number: most of an indicator grid's
    cost) is made only when something reads it; its ``data`` and ``errors`` (none: nothing was
    posted) are known without it, and the page writes the row from its skeleton and ``data``
    (report/view.value_row)."""

    _made = None
    _pending = unset_value

    def process(self, formdata, data=unset_value, extra_filters=None):
        if formdata is not None or extra_filters:
            return super().process(formdata, data, extra_filters)
        if data is unset_value:  # as FormField: the default
            try:
                data = self.default()
            except TypeError:
                data = self.default
        self._made, self._pending = None, data

    def post_process(self, formdata=None):
        if self._made is not None:
            self._made.post_process(formdata)

    @property
    def form(self):
        if self._made is None:  # made as FormField makes it, then its post_process (the parent's ran)
            super().process(None, self._pending)
            self._made.post_process(None)
        return self._made

    @form.setter
    def form(self, value):
        self._made = value

    @property
    def made(self) -> bool:
        """Whether the sub-form exists (else ``data`` alone says what it holds)."""
        return self._made is not None

    @property
    def data(self):
        if self._made is None and (self._pending is None or isinstance(self._pending, dict)):
            pending = self._pending or {}
            return {name: pending.get(name) for name in _plain_inputs(self.form_class)}
        return self.form.data

    @property
    def errors(self):
        return self._made.errors if self._made is not None else {}


class ShownRows(FieldList):
    """A table on a step page shown from the saved answers: the page writes its rows from the
    stored ones (``stored_rows``, report/view.table_rows), so WTForms' rows (at least one, a form
    and an input per column) are made only when something reads ``entries``."""

    _entries = None
    _pending = None  # (formdata, data) of the deferred process

    def process(self, formdata, data=unset_value, extra_filters=None):
        if formdata is not None or extra_filters:
            self._pending = None
            return super().process(formdata, data, extra_filters)
        self._entries, self._pending = None, (formdata, data)
        self.last_index = -1

    def post_process(self, formdata=None):
        if self._pending is None:
            super().post_process(formdata)

    @property
    def entries(self):
        if self._pending is not None:  # made as FieldList makes them, then their post_process
            formdata, data = self._pending
            self._pending = None
            super().process(formdata, data)
            super().post_process(formdata)
        return self._entries

    @entries.setter
    def entries(self, value):
        self._entries = value


_NAMES: dict = {}


def _plain_inputs(form_class) -> tuple:
    """The input names of a row of numbers' sub-form, in the form's order.  Its inputs are the
    kind's number inputs (report/kinds.ValuesKind.build: NumberInput, no filters), whose ``data``
    is the value given and is shown as ``str(data)``; so the row can be written from the values."""
    names = _NAMES.get(form_class)
    if names is None:
        if len(_NAMES) > 8192:  # a form class per row of numbers and step form class
            _NAMES.clear()
        names = _NAMES[form_class] = tuple(f.short_name for f in form_class())
    return names


@lru_cache(maxsize=2048)
def shown_form_class(cls):
    """``cls`` with each row of numbers (the kind's ``grid_row``: a FormField of number inputs) a
    ShownValues and each table (``has_rows``: a FieldList) a ShownRows, in the same place."""
    attrs = {}
    for f in cls._definition_fields:
        unbound = cls.__dict__.get(f.key)
        shown = ShownValues if f.kind_of.grid_row else ShownRows if f.kind_of.has_rows else None
        if shown is not None and unbound is not None:
            attrs[f.key] = copy.copy(unbound)  # its creation_counter: the form's order kept
            attrs[f.key].field_class = shown
    return type(cls.__name__, (cls,), attrs) if attrs else cls


def answers_to_data(cls, answers: dict) -> dict:
    data = {}
    for f in cls._definition_fields:
        value = answers.get(f.key)
        if value is None:
            continue
        data[f.key] = f.kind_of.form_data(value)
    return data


def form_to_answers(form) -> dict:
    """The step's answers from a validated form: normalised numbers, empty rows skipped."""
    out = {}
    for f in form._definition_fields:
        if f.key not in form:
            continue
        out[f.key] = f.kind_of.answer(f, form[f.key])
    return out


def split_answers(form) -> tuple[dict, dict]:
    """A validated form, valid or not → (the answers of its fields that passed, the refused
    fields as typed with their messages).  One bad cell never costs the rest of the step."""
    good, typed = {}, {}
    for f in form._definition_fields:
        if f.key not in form:
            continue
        if form[f.key].errors:
            typed[f.key] = {"posted": f.kind_of.posted(form[f.key]), "errors": error_messages(form[f.key])}
        else:
            good[f.key] = f.kind_of.answer(f, form[f.key])
    return good, typed
