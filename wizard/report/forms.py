"""WTForms built from the report definition: one form class per (round, step, category).

Each field kind builds its own WTForms field (kinds.py); this module assembles them into
step forms.  Saving validates types and ranges only; completeness is checked at submit
(checks.py).
"""
from __future__ import annotations

from functools import lru_cache

from flask_wtf import FlaskForm
from wtforms import FieldList, FormField, HiddenField

from .definition import get_report
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


@lru_cache(maxsize=None)
def step_form_class(round_: str, step_key: str, category: str | None, years_key: tuple):
    years = dict(years_key)
    step = get_report(round_).step(step_key)
    attrs = {"_definition_fields": [f for f in step.fields if f.applies_to(category)]}
    for f in attrs["_definition_fields"]:
        wf = f.kind_of.build(f, years)
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


def posted_of(wtf_field) -> list[list[str]]:
    """What the page posted for one field, as (name, value) pairs in the page's order: the raw
    text of every input (a row removed with 删除 is not among them)."""
    if isinstance(wtf_field, FieldList):
        return [pair for entry in wtf_field.entries for pair in posted_of(entry)]
    if isinstance(wtf_field, FormField):
        return [pair for sub in wtf_field for pair in posted_of(sub)]
    return [[wtf_field.name, str(v)] for v in (wtf_field.raw_data or [])]


def split_answers(form) -> tuple[dict, dict]:
    """A validated form, valid or not → (the answers of its fields that passed, the refused
    fields as typed with their messages).  One bad cell never costs the rest of the step."""
    good, typed = {}, {}
    for f in form._definition_fields:
        if f.key not in form._fields:
            continue
        if form[f.key].errors:
            typed[f.key] = {"posted": posted_of(form[f.key]), "errors": error_messages(form[f.key])}
        else:
            good[f.key] = f.kind_of.answer(f, form[f.key])
    return good, typed
