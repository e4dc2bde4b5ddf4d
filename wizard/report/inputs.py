"""The WTForms inputs the field kinds (kinds.py) build: typed numbers, 级别 choices, table rows,
the text filter and the technical length cap.  Saving validates types and ranges only;
completeness is checked at submit (checks.py)."""
from __future__ import annotations

import re
import unicodedata

from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import ValidationError

from ..params import parse_index
from ..text import clean_text
from .definition import LEVELS, PARK_CLUSTER, PARK_TOTAL, TARGET_BASE, TARGET_YEAR, YEAR
from .model import Field
from .numbers import LOOKALIKE_MESSAGE, NumberError, count_chars, has_lookalike_digits, parse_number

_PHONE_NORMAL = re.compile(r"^\+?\(?[0-9][0-9()\-]*[0-9](?:转[0-9]+)?$")
_DASHES = str.maketrans({c: "-" for c in "－‐‑‒–—―−﹣"})
PHONE_MESSAGE = "请输入有效的电话号码（数字，可带区号、“-”、括号和“转”分机号，如 0731-88888888）。"


def normalise_phone(raw: str) -> str:
    """A typed telephone number as stored: full-width digits and brackets to ASCII (NFKC), every
    dash to "-", spaces dropped (``０７３１－８８８８ ８８８８`` → ``0731-88888888``).  Look-alike
    digits (², ①, ١) are left as typed, so the pattern refuses them."""
    text = "".join(unicodedata.normalize("NFKC", ch) if "\uff01" <= ch <= "\uff5e" else ch for ch in raw)
    text = text.translate(_DASHES)
    return re.sub(r"\s+", "", text)


def phone_problem(text: str) -> str | None:
    """Why a normalised number is not a telephone number (None: it is one)."""
    if has_lookalike_digits(text):
        return LOOKALIKE_MESSAGE
    digits = sum(ch.isascii() and ch.isdigit() for ch in text)
    if not _PHONE_NORMAL.match(text) or not 7 <= digits <= 20:
        return PHONE_MESSAGE
    return None


class PhoneInput(StringField):
    """A telephone number: accepts what people type (full-width digits, spaces, any dash),
    stores it normalised; blank is allowed (completeness is checked at submit)."""

    def __init__(self, label=None, validators=None, **kw):
        super().__init__(label, validators, filters=[text_filter(), _phone_filter], **kw)

    def pre_validate(self, form):
        problem = phone_problem(self.data) if self.data else None
        if problem:
            raise ValidationError(problem)


def _phone_filter(value):
    return normalise_phone(value) if isinstance(value, str) else value


class NumberInput(StringField):
    """A typed number.  ``data`` keeps the raw text (re-shown on error);
    ``value`` is the parsed Decimal after validation."""

    def __init__(self, label=None, validators=None, integer=False, signed=False, percent=False, **kw):
        super().__init__(label, validators, **kw)
        self.rules = dict(integer=integer, signed=signed, percent=percent)
        self.value = None

    def pre_validate(self, form):
        self.value = None
        try:
            self.value = parse_number(self.data, **self.rules)
        except NumberError as exc:
            raise ValidationError(str(exc)) from None


class LevelField(SelectField):
    """级别: 国家级 / 省级, or blank (an empty row)."""

    def __init__(self, label=None, **kw):
        super().__init__(label, choices=[SelectChoice("", "请选择")] + [SelectChoice(x) for x in LEVELS],
                         coerce=lambda v: "" if v is None else str(v), **kw)

    def pre_validate(self, form):
        if self.data in (None, "None"):
            self.data = ""
        if self.data not in ("",) + tuple(LEVELS):
            raise ValidationError("请选择“国家级”或“省级”。")


def row_indices(prefix: str, names) -> set[int]:
    """The row numbers posted for a table (``<prefix>-<index>-<column>``): ASCII digits in
    range only, so ``green_list-²-name`` or ``green_list-١-name`` is no row at all."""
    start = len(prefix) + 1
    found = set()
    for name in names:
        if name.startswith(f"{prefix}-"):
            index = parse_index(name[start:].split("-", 1)[0])
            if index is not None:
                found.add(index)
    return found


def numbered_rows_only(formdata, prefixes):
    """``formdata`` without the cells of a table (``prefixes``: ``<table>-``) whose row number is
    not ASCII digits in range (``green_list-²-name``): WTForms takes str.isdigit() for a row
    number, and int('²') fails.  The same MultiDict when nothing is dropped."""
    drop = [k for k in formdata.keys() for p in prefixes
            if k.startswith(p) and parse_index(k[len(p):].split("-", 1)[0]) is None]
    if not drop:
        return formdata
    kept = MultiDict(formdata)
    for key in drop:
        kept.poplist(key)
    return kept


def text_filter(multiline=False):
    """Clean typed text (control characters, line ends) before it is validated and stored."""
    return lambda v: clean_text(v, multiline=multiline) if isinstance(v, str) else v


class MaxChars:
    """Refuse text over the technical cap at save (the official limit is checked at submit,
    so a long draft is never lost)."""

    def __init__(self, cap):
        self.cap = cap

    def __call__(self, form, field):
        n = count_chars(field.data)
        if n > self.cap:
            raise ValidationError(f"内容过长（{n} 字），最多 {self.cap} 字。")


def value_labels(field: Field, years: dict) -> dict:
    """What each value of an indicator row is called (for messages and screen readers)."""

    y1, y2 = YEAR.format(year=years["y1"]), YEAR.format(year=years["y2"])
    return {
        "y1": y1, "y2": y2,
        "y1_total": f"{y1}{PARK_TOTAL}", "y1_cluster": f"{y1}{PARK_CLUSTER}",
        "y2_total": f"{y2}{PARK_TOTAL}", "y2_cluster": f"{y2}{PARK_CLUSTER}",
        "base": TARGET_BASE, "t1": TARGET_YEAR.format(year=years["t1"]),
        "t2": TARGET_YEAR.format(year=years["t2"]), "t3": TARGET_YEAR.format(year=years["t3"]),
    }
