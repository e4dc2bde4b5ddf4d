"""Comparisons of two answers documents, field by field: the preliminary and the final report
(the round comparison), two submissions of one round (what changed since a return), and a
step as posted against the step as saved (the two-tab conflict).

Pure functions over answers and the report definition (no Flask, no database), so every
comparison is unit-testable and the pages only render it (templates/report/_compare.html).
Values are compared as a reader sees them; a row of numbers is compared value by value, each
named by its year as the definition names it (``value_labels``: "2021年", "2023年发展目标"),
so "0.82 / 0.76" never appears without saying which year is which; tables are compared row by
row and cell by cell, under headings that carry their years.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from functools import cached_property

from .definition import get_report
from .inputs import value_labels
from .model import ROUNDS, fill_years
from .view import display_value

#: a value of a row of numbers left empty
NO_VALUE = "—"


@dataclass(frozen=True)
class Piece:
    """A run of a text in a comparison: ``same`` in both, or ``del``/``ins`` (only in the one)."""

    text: str
    kind: str  # "same", "del", "ins"


#: the units a text is compared in: a run of Latin letters or digits (a number, a word, "5G")
#: stays whole, every other character (a Chinese character, a punctuation mark) is its own unit
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[.,][0-9]+)*|\s+|.", re.S)
#: an unchanged run this short between two changes is folded into them (readable marks, not confetti)
_ISLAND = 2
#: a value shorter than this (a name, a phone number) reads best whole, each side in its colour
INLINE_MIN_CHARS = 30
#: below this similarity the texts share little: the whole text is marked, not scattered pieces
_MIN_RATIO = 0.3


def inline_diff(before: str, after: str) -> tuple[tuple[Piece, ...], tuple[Piece, ...]]:
    """The characters deleted from ``before`` and inserted into ``after``, marked inside the
    texts (a sentence removed, a "（决赛）" prefix): difflib on characters, Latin words and
    numbers kept whole, changes a character or two apart joined into one mark."""
    a, b = _TOKEN.findall(before or ""), _TOKEN.findall(after or "")
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < _MIN_RATIO:
        return (Piece(before, "del"),) if before else (), (Piece(after, "ins"),) if after else ()
    ops = _fold_islands(matcher.get_opcodes())
    old, new = [], []
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            old.append(Piece("".join(a[i1:i2]), "same"))
            new.append(Piece("".join(b[j1:j2]), "same"))
            continue
        if i2 > i1:
            old.append(Piece("".join(a[i1:i2]), "del"))
        if j2 > j1:
            new.append(Piece("".join(b[j1:j2]), "ins"))
    return _joined(old), _joined(new)


def _fold_islands(ops: list) -> list:
    """Fold an unchanged run of at most ``_ISLAND`` units lying between two changes into one change."""
    out = []
    for k, op in enumerate(ops):
        tag, i1, i2, j1, j2 = op
        inner = 0 < k < len(ops) - 1
        if tag == "equal" and inner and i2 - i1 <= _ISLAND:
            tag = "replace"
        if out and tag != "equal" and out[-1][0] != "equal":
            _, pi1, _, pj1, _ = out[-1]
            out[-1] = ("replace", pi1, i2, pj1, j2)
        else:
            out.append((tag, i1, i2, j1, j2))
    return out


def _joined(pieces: list) -> tuple[Piece, ...]:
    out: list = []
    for p in pieces:
        if out and out[-1].kind == p.kind:
            out[-1] = Piece(out[-1].text + p.text, p.kind)
        elif p.text:
            out.append(p)
    return tuple(out)


@dataclass(frozen=True)
class RowDiff:
    """One row of a table field in both reports (an empty tuple: the row is absent)."""

    number: int
    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def cell_changed(self, i: int) -> bool:
        """Is column i different (a missing row differs everywhere)?"""
        if not self.before or not self.after:
            return True
        return self.before[i] != self.after[i]


@dataclass(frozen=True)
class PartDiff:
    """One value of a row of numbers (a year, a target year) in both reports, with its label."""

    label: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class FieldDiff:
    """A field in both reports.  ``before``/``after``: one line each, the values of a row of
    numbers labelled with their years; ``parts`` (rows of numbers) and ``rows`` (tables) say
    which value or cell changed."""

    key: str
    label: str
    before: str
    after: str
    columns: tuple[str, ...] = ()  # table fields only: the column headings
    rows: tuple[RowDiff, ...] = ()
    parts: tuple[PartDiff, ...] = ()  # rows of numbers only: each value with its year

    @property
    def is_table(self) -> bool:
        return bool(self.columns)

    @property
    def has_parts(self) -> bool:
        return bool(self.parts)

    @property
    def changed(self) -> bool:
        if self.is_table:
            return any(r.changed for r in self.rows)
        if self.parts:
            return any(p.changed for p in self.parts)
        return self.before != self.after

    @cached_property
    def inline(self) -> tuple[tuple[Piece, ...], tuple[Piece, ...]] | None:
        """A changed text filled in on both sides, marked inside (``inline_diff``); else None."""
        if self.is_table or self.parts or not self.changed or not self.before or not self.after \
                or max(len(self.before), len(self.after)) < INLINE_MIN_CHARS:
            return None
        pieces = inline_diff(self.before, self.after)
        # a value replaced whole (a short name, unrelated texts) keeps the two coloured cells
        return pieces if any(p.kind == "same" for p in pieces[0]) else None


@dataclass(frozen=True)
class SectionDiff:
    step_title: str
    heading: str
    fields: tuple[FieldDiff, ...]


@dataclass(frozen=True)
class OneRoundOnly:
    """A field only one round's report asks for, with its value in that round."""

    key: str
    label: str
    value: str


@dataclass(frozen=True)
class Comparison:
    sections: tuple[SectionDiff, ...]
    only_preliminary: tuple[OneRoundOnly, ...] = ()
    only_final: tuple[OneRoundOnly, ...] = ()

    @property
    def fields(self) -> list[FieldDiff]:
        return [f for s in self.sections for f in s.fields]

    @property
    def changed_fields(self) -> list[FieldDiff]:
        return [f for f in self.fields if f.changed]

    @property
    def changed_count(self) -> int:
        return len(self.changed_fields)

    @property
    def total(self) -> int:
        return len(self.fields)

    def only_changed(self) -> Comparison:
        """The same comparison keeping changed fields only (sections left empty are dropped)."""
        sections = []
        for s in self.sections:
            kept = tuple(f for f in s.fields if f.changed)
            if kept:
                sections.append(replace(s, fields=kept))
        return replace(self, sections=tuple(sections))


@dataclass(frozen=True)
class FileChange:
    """An evidence file added or removed between two submissions."""

    slot_label: str
    name: str
    added: bool


# --- labels and values ---------------------------------------------------------------------

def field_label(field, years: dict) -> str:
    """The field's label with its years, and its row group where the label alone repeats
    (集群促进组织·电话)."""
    return field.grouped(fill_years(field.label, years))


def value_parts(field, value, years: dict) -> tuple[tuple[str, str], ...]:
    """(label, value) of each value of a row of numbers (() for other kinds): "2021年", "0.82"."""
    keys = field.kind_of.value_keys
    if not keys:
        return ()
    values = value if isinstance(value, dict) else {}
    labels = value_labels(field, years)
    return tuple((labels[k], "" if values.get(k) in (None, "") else str(values[k])) for k in keys)


def labelled_value(field, value, years: dict) -> str:
    """One line of text for a value, the values of a row of numbers named by their years
    ("2021年：0.82；2022年：0.76"); "" for an empty value."""
    parts = value_parts(field, value, years)
    if not parts:
        return display_value(field, value)
    if not any(v for _, v in parts):
        return ""
    return "；".join(f"{label}：{v or NO_VALUE}" for label, v in parts)


# --- comparing -----------------------------------------------------------------------------

def field_diff(before_field, field, before, after, years: dict) -> FieldDiff:
    """The field in both reports: row by row for tables, value by value for rows of numbers,
    else as one value (``before_field``: the field as the earlier report defines it)."""
    kind = field.kind_of
    label = field_label(field, years)
    rows = kind.diff_rows(field, before, after)
    if rows is not None:
        return FieldDiff(field.key, label, display_value(field, list(before or [])),
                         display_value(field, list(after or [])), columns=kind.headings(field, years),
                         rows=tuple(RowDiff(i, b, a) for i, (b, a) in enumerate(rows, start=1)))
    old, new = value_parts(before_field, before, years), value_parts(field, after, years)
    parts = tuple(PartDiff(label_, b, a) for (label_, b), (_, a) in zip(old, new))
    return FieldDiff(field.key, label, labelled_value(before_field, before, years),
                     labelled_value(field, after, years), parts=parts)


def _compared_fields(report, category):
    """Applicant answers only: not the county's opinion, the category (from the cluster), uploaded files."""
    return [f for f in report.fields if f.kind_of.answerable and f.applies_to(category)]


def compare_reports(before: dict, after: dict, before_round: str, after_round: str,
                    category: str | None, years: dict) -> Comparison:
    """Compare two answers documents along the later report's steps and sections; fields only
    one of the two reports asks for are listed apart (when the rounds differ)."""
    before, after = before or {}, after or {}
    old_fields = {f.key: f for f in _compared_fields(get_report(before_round), category)}
    new_report = get_report(after_round)
    new_keys = {f.key for f in _compared_fields(new_report, category)}

    sections, only_new = [], []
    for step in new_report.steps:
        for section in step.sections:
            diffs = []
            for field in section.fields:
                if field.key not in new_keys:
                    continue
                if field.key not in old_fields:
                    only_new.append(OneRoundOnly(field.key, field_label(field, years),
                                                 labelled_value(field, after.get(field.key), years)))
                else:
                    diffs.append(field_diff(old_fields[field.key], field, before.get(field.key),
                                            after.get(field.key), years))
            if diffs:
                sections.append(SectionDiff(step.title, section.heading, tuple(diffs)))
    only_old = tuple(OneRoundOnly(key, field_label(f, years), labelled_value(f, before.get(key), years))
                     for key, f in old_fields.items() if key not in new_keys)
    return Comparison(tuple(sections), only_old, tuple(only_new))


def compare_rounds(preliminary: dict, final: dict, category: str | None, years: dict) -> Comparison:
    """The preliminary report against the final one, along the final report's steps."""
    return compare_reports(preliminary, final, *ROUNDS, category, years)


def compare_submissions(before: dict, after: dict, round_: str, category: str | None,
                        years: dict) -> Comparison:
    """Two submissions of one round's report: what changed between a return and the resubmission."""
    return compare_reports(before, after, round_, round_, category, years)


def step_changes(step, before: dict, after: dict, years: dict) -> list[FieldDiff]:
    """The fields of one wizard step that differ between two answers documents; only the
    fields ``after`` holds (a posted step: what the other tab saved against what this one posts)."""
    diffs = [field_diff(f, f, before.get(f.key), after.get(f.key), years)
             for f in step.fields if f.kind_of.answerable and f.key in after]
    return [d for d in diffs if d.changed]


def compare_files(before: list, after: list, slot_labels: dict) -> tuple[FileChange, ...]:
    """Evidence files (snapshot manifests: slot, name, sha256) removed and added, in that order;
    a file is the same when its slot and its content are."""
    def ident(e):
        return e.get("slot"), e.get("sha256")

    old, new = {ident(e) for e in before or []}, {ident(e) for e in after or []}
    removed = [FileChange(slot_labels.get(e.get("slot"), e.get("slot", "")), e.get("name", ""), False)
               for e in before or [] if ident(e) not in new]
    added = [FileChange(slot_labels.get(e.get("slot"), e.get("slot", "")), e.get("name", ""), True)
             for e in after or [] if ident(e) not in old]
    return tuple(removed + added)
