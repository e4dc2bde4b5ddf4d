"""The building blocks of the report definition (steps → sections → fields).

Only definition.py fills these in.  A field's label is the official form's
text, verbatim; its unit, evidence flag and category restriction are read
from that text (e.g. "（个，需提供佐证材料）"), so nothing is written twice.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

# The rounds are the workflow's (workflow/states.py defines them once); ROUNDS and ROUND_LABELS
# are imported from here too by the report's readers.
from ..workflow.states import FINAL, PRELIMINARY, ROUND_LABELS, ROUNDS  # noqa: F401

#: the rounds whose report shows a step, section or field (``rounds=``)
BOTH = frozenset(ROUNDS)
PRELIMINARY_ONLY = frozenset({PRELIMINARY})
FINAL_ONLY = frozenset({FINAL})

EVIDENCE_MARK = "需提供佐证材料"
SME_ONLY_MARK = "仅中小企业特色产业集群填报"
INTEGER_UNITS = {"个", "人"}

_PAREN = re.compile(r"（([^（）]*)）$")

#: kind name → kind object (``Field.kind_of``).  kinds.py registers every kind when it is
#: imported, and the package imports kinds.py first, so the registry is complete before any
#: field is asked.
KINDS: dict = {}


def _paren_parts(label: str) -> list[str]:
    m = _PAREN.search(label)
    return m.group(1).split("，") if m else []


@dataclass(frozen=True)
class Column:
    """A table column.  ``label`` may hold year placeholders ({y1}年); ``group`` is
    the header cell spanning several columns (营业收入（亿元）)."""

    key: str
    label: str
    kind: str = "text"  # text | number | level
    group: str | None = None
    unit: str | None = None
    required: bool = False
    max_length: int = 200
    integer: bool = False
    signed: bool = False
    percent: bool = False

    @property
    def evidence(self) -> bool:
        return False


@dataclass(frozen=True)
class Field:
    """One thing the applicant answers (or, for kind 'opinion', the county)."""

    key: str
    label: str
    kind: str
    # kinds (kinds.py): text, phone, longtext, derived, indicator, park_indicator, target,
    #        table, agree, opinion, evidence
    required: bool = True
    rounds: frozenset = BOTH
    group: str | None = None  # row group in the basic-info table (集群促进组织)
    note: str | None = None  # the official form's note beside the value (（集群所在地县以上人民政府）)
    guidance: str | None = None
    max_chars: int | None = None  # official limit (non-whitespace characters)
    hard_max_chars: int = 30000  # technical cap where the form sets no limit
    max_length: int = 200  # single-line text
    growth: bool = False  # indicator rows with an 增幅 column
    signed: bool = False  # may be negative (profit, growth rates)
    decimal_count: bool = False  # unit 个 but a ratio (每万人…拥有量)
    columns: tuple[Column, ...] = ()
    max_rows: int = 0
    blank_rows: int = 0
    print_label: str | None = None  # text printed in the PDF when it differs from label
    default_from: str | None = None  # pre-fill source (cluster_name, org_unit, …)
    web_only: bool = False  # this system's upload slots, not a label of the official form

    @property
    def kind_of(self):
        """What this field's kind knows (kinds.py): its input, answer, checks, schema, partial."""
        return KINDS[self.kind]

    # --- facts read from the official label -------------------------------
    @property
    def unit(self) -> str | None:
        if not self.kind_of.has_unit:
            return None
        parts = _paren_parts(self.label)
        return parts[0] if parts else None

    @property
    def evidence(self) -> bool:
        return EVIDENCE_MARK in self.label

    @property
    def category(self) -> str | None:
        return "sme" if SME_ONLY_MARK in self.label else None

    @property
    def name(self) -> str:
        """The label without its trailing parenthesis: for messages and lists."""
        return _PAREN.sub("", self.label).rstrip("：:") or self.label

    def grouped(self, text: str) -> str:
        """``text`` (this field's label or name) with its row group, where the label alone repeats
        (集群促进组织·电话): how messages, the review list and comparisons name a field."""
        return f"{self.group}·{text}" if self.group else text

    @property
    def integer(self) -> bool:
        return self.unit in INTEGER_UNITS and not self.decimal_count

    @property
    def percent(self) -> bool:
        return self.unit == "%"

    @property
    def growth_mode(self) -> str:
        """Shares are compared in percentage points; everything else relatively."""
        return "points" if self.percent else "relative"

    @property
    def value_keys(self) -> tuple[str, ...]:
        return self.kind_of.value_keys

    def applies_to(self, category: str | None) -> bool:
        return self.category is None or category is None or self.category == category


@dataclass(frozen=True)
class Section:
    key: str
    part: str  # key into the round's PARTS
    title: str | None
    number: str = ""  # "2.1"
    layout: str = "form"  # form | indicators | table | narrative | park | targets | declaration | evidence | plan
    fields: tuple[Field, ...] = ()
    note: str | None = None  # guidance printed under the heading
    rounds: frozenset = BOTH
    growth: bool = True  # indicators: is there an 增幅（%） column

    @property
    def heading(self) -> str:
        return f"{self.number}{self.title}" if self.number and self.title else (self.title or "")


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    sections: tuple[Section, ...]

    @property
    def fields(self) -> list[Field]:
        return [f for s in self.sections for f in s.fields]


@dataclass(frozen=True)
class Report:
    round: str
    title: str
    parts: dict
    steps: tuple[Step, ...]

    @property
    def sections(self) -> list[Section]:
        return [s for st in self.steps for s in st.sections]

    @property
    def fields(self) -> list[Field]:
        return [f for st in self.steps for f in st.fields]

    def step(self, key: str) -> Step | None:
        return next((s for s in self.steps if s.key == key), None)

    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)

    def step_of(self, field_key: str) -> Step | None:
        return next((s for s in self.steps if any(f.key == field_key for f in s.fields)), None)


@dataclass(frozen=True)
class Variant:
    """What the final round changes on a field or section (附件2 wording)."""

    label: str | None = None
    guidance: str | None = None
    max_chars: int | None = None
    title: str | None = None
    number: str | None = None
    note: str | None = None


def resolve(obj, round_: str, variants: dict):
    """Apply a round's variant (if any) to a field or section."""
    v = variants.get(obj.key) if round_ == "final" else None
    if not v:
        return obj
    changes = {k: getattr(v, k) for k in ("label", "guidance", "max_chars", "title", "number", "note")
               if getattr(v, k) is not None and hasattr(obj, k)}
    return replace(obj, **changes)


def fill_years(text: str | None, years: dict) -> str | None:
    """Replace {y1} {y2} {t1} {t2} {t3} with the edition's years."""
    if text is None:
        return None
    for k, v in years.items():
        text = text.replace("{" + k + "}", str(v))
    return text
