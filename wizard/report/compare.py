"""Round comparison: what changed between the preliminary and the final report, field by field.

Pure functions over two answers documents and the report definition (no Flask, no
database), so the comparison is unit-testable and the page only renders it.  Values
are compared as they are displayed (``display_value``), i.e. as a reader sees them;
tables are compared row by row and cell by cell.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .definition import get_report
from .view import display_value


@dataclass(frozen=True)
class RowDiff:
    """One row of a table field in both rounds (an empty tuple: the row is absent)."""

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
class FieldDiff:
    key: str
    label: str
    before: str
    after: str
    columns: tuple[str, ...] = ()  # table fields only: the column headings
    rows: tuple[RowDiff, ...] = ()

    @property
    def is_table(self) -> bool:
        return bool(self.columns)

    @property
    def changed(self) -> bool:
        return any(r.changed for r in self.rows) if self.is_table else self.before != self.after


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
    only_preliminary: tuple[OneRoundOnly, ...]
    only_final: tuple[OneRoundOnly, ...]

    @property
    def fields(self) -> list[FieldDiff]:
        return [f for s in self.sections for f in s.fields]

    @property
    def changed_count(self) -> int:
        return sum(1 for f in self.fields if f.changed)

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


def _field_diff(pre_field, field, before, after, years) -> FieldDiff:
    """The field in both rounds: compared row by row when its kind has rows, else as one value."""
    kind = field.kind_of
    rows = kind.diff_rows(field, before, after)
    if rows is None:
        return FieldDiff(field.key, field.label, display_value(pre_field, before), display_value(field, after))
    return FieldDiff(field.key, field.label, display_value(field, list(before or [])),
                     display_value(field, list(after or [])), columns=kind.headings(field, years),
                     rows=tuple(RowDiff(i, b, a) for i, (b, a) in enumerate(rows, start=1)))


def _compared_fields(report, category):
    """Applicant answers only: not the county's opinion, the category (from the cluster), uploaded files."""
    return [f for f in report.fields if f.kind_of.answerable and f.applies_to(category)]


def compare_rounds(preliminary: dict, final: dict, category: str | None, years: dict) -> Comparison:
    """Compare two answers documents along the final report's steps and sections."""
    preliminary, final = preliminary or {}, final or {}
    pre_report, fin_report = get_report("preliminary"), get_report("final")
    pre_fields = {f.key: f for f in _compared_fields(pre_report, category)}
    fin_keys = {f.key for f in _compared_fields(fin_report, category)}

    sections = []
    only_final = []
    for step in fin_report.steps:
        for section in step.sections:
            diffs = []
            for field in section.fields:
                if field.key not in fin_keys:
                    continue
                if field.key not in pre_fields:
                    only_final.append(OneRoundOnly(field.key, field.label,
                                                   display_value(field, final.get(field.key))))
                else:
                    diffs.append(_field_diff(pre_fields[field.key], field, preliminary.get(field.key),
                                             final.get(field.key), years))
            if diffs:
                sections.append(SectionDiff(step.title, section.heading, tuple(diffs)))
    only_preliminary = tuple(
        OneRoundOnly(key, f.label, display_value(f, preliminary.get(key)))
        for key, f in pre_fields.items() if key not in fin_keys
    )
    return Comparison(tuple(sections), only_preliminary, tuple(only_final))
