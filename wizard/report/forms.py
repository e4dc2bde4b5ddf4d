"""WTForms built from the report definition: one form class per (round, step, category).

Each field kind builds its own WTForms field (kinds.py); this module assembles them into
step forms.  Saving validates types and ranges only; completeness is checked at submit
(checks.py).
"""
from __future__ import annotations

from functools import lru_cache

from flask_wtf import FlaskForm
from wtforms import HiddenField

from .definition import get_report
from .inputs import numbered_rows_only
from .view import error_messages


class StepBase(FlaskForm):
    version = HiddenField()

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        for f in self._definition_fields:
            errors = f.kind_of.form_errors(f, getattr(self, "_raw_formdata", None))
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
    once per field (report/view.table_rows)."""
    cls = step_form_class(round_, step_key, category, tuple(sorted(years.items())))
    data = answers_to_data(cls, answers)
    rows = {f.key: data.pop(f.key) for f in cls._definition_fields if f.kind_of.has_rows and f.key in data}
    form = cls(formdata=None, data=data)
    form._raw_formdata = None
    for f in cls._definition_fields:
        if f.kind_of.has_rows and f.key in form._fields:
            stored = rows.get(f.key)
            form[f.key].stored_rows = [r for r in stored if isinstance(r, dict)] if isinstance(stored, list) else []
    return form


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
        if f.key not in form._fields:
            continue
        out[f.key] = f.kind_of.answer(f, form[f.key])
    return out


def split_answers(form) -> tuple[dict, dict]:
    """A validated form, valid or not → (the answers of its fields that passed, the refused
    fields as typed with their messages).  One bad cell never costs the rest of the step."""
    good, typed = {}, {}
    for f in form._definition_fields:
        if f.key not in form._fields:
            continue
        if form[f.key].errors:
            typed[f.key] = {"posted": f.kind_of.posted(form[f.key]), "errors": error_messages(form[f.key])}
        else:
            good[f.key] = f.kind_of.answer(f, form[f.key])
    return good, typed
