"""Showing answers: the text of a value, defaults, and the helpers templates use."""
from __future__ import annotations

from datetime import date
from functools import lru_cache

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
        "growth_of": change,
        "count_chars": count_chars,
        "number_text": number_text,  # a stored figure as printed: 86,500 · 63.0 (exports/summary: the same rule)
        "error_messages": error_messages,
        "shows_growth": shows_growth,
        "get_report": get_report,
        "ROUND_LABELS": ROUND_LABELS,
        # every kind's partial: the wizard imports each once per page (_macros/report_fields.html)
        "KIND_TEMPLATES": tuple(sorted({kind.template for kind in KINDS.values()})),
        "column_labels": column_labels,
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
