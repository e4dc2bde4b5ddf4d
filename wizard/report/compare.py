"""Round comparison: what changed between the preliminary and the final report, field by field.

Pure functions over two answers documents and the report definition (no Flask, no
database), so the comparison is unit-testable and the page only renders it.  Values
are compared as they are displayed (``display_value``), i.e. as a reader sees them;
tables are compared row by row and cell by cell.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .definition import get_report
from .model import fill_years
from .view import display_value

# Not applicant answers: the county's opinion, the category (from the cluster), uploaded files.
SKIPPED_KINDS = frozenset({"opinion", "derived", "evidence"})


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


def _cells(field, row: dict | None) -> tuple[str, ...]:
    if row is None:
        return ()
    return tuple("" if row.get(c.key) in (None, "") else str(row.get(c.key)) for c in field.columns)


def _column_heading(column, years) -> str:
    label = fill_years(column.label, years)
    return f"{column.group}{label}" if column.group else label


def _table_diff(field, before: list | None, after: list | None, years) -> FieldDiff:
    before, after = list(before or []), list(after or [])
    rows = tuple(
        RowDiff(i + 1, _cells(field, before[i] if i < len(before) else None),
                _cells(field, after[i] if i < len(after) else None))
        for i in range(max(len(before), len(after)))
    )
    return FieldDiff(field.key, field.label, display_value(field, before), display_value(field, after),
                     columns=tuple(_column_heading(c, years) for c in field.columns), rows=rows)


def _compared_fields(report, category):
    return [f for f in report.fields if f.kind not in SKIPPED_KINDS and f.applies_to(category)]


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
                elif field.kind == "table":
                    diffs.append(_table_diff(field, preliminary.get(field.key), final.get(field.key), years))
                else:
                    diffs.append(FieldDiff(field.key, field.label,
                                           display_value(pre_fields[field.key], preliminary.get(field.key)),
                                           display_value(field, final.get(field.key))))
            if diffs:
                sections.append(SectionDiff(step.title, section.heading, tuple(diffs)))
    only_preliminary = tuple(
        OneRoundOnly(key, f.label, display_value(f, preliminary.get(key)))
        for key, f in pre_fields.items() if key not in fin_keys
    )
    return Comparison(tuple(sections), only_preliminary, tuple(only_final))
