"""Numbers, ids and dates read from a request: the one URL converter for ids and the one set of
parsers for query strings and forms.

Only ASCII digits are numbers here: ``str.isdigit()``, ``\\d`` and ``int()`` also accept
superscripts (²), circled digits (①), Arabic-Indic (١) or mathematical digits (𝟏), and
``int()`` accepts any size, which SQLite (64-bit) and PostgreSQL (32-bit INTEGER id
columns) refuse with a server error.  Every id, page, version and row index is bounded
to what the database can hold; dates to years a report can be about.  Text used in SQL
is cleaned of NUL and other control characters (PostgreSQL refuses NUL).
"""
from __future__ import annotations

import re
from datetime import date, datetime

from werkzeug.routing import BaseConverter, ValidationError

from .text import clean_text

MAX_ID = 2**31 - 1  # PostgreSQL INTEGER: every id column and the report's version
STALE = -1  # a version no report has: a save or move carrying it is refused as from a stale page
MIN_YEAR, MAX_YEAR = 2000, 2100
_DIGITS = re.compile(r"[0-9]{1,20}")  # ASCII only; 20 digits is beyond any bound used here


class ParamError(ValueError):
    """A Chinese message saying what is wrong with a value from the request."""


def is_digits(text) -> bool:
    """True for a non-empty run of ASCII digits (never ², ①, ١, 𝟏, signs or spaces)."""
    return isinstance(text, str) and _DIGITS.fullmatch(text) is not None


def parse_int(raw, default=None, *, lo: int = 1, hi: int = MAX_ID):
    """An integer written in ASCII digits (surrounding spaces allowed) within lo..hi;
    ``default`` for anything else: blank, signs, digit look-alikes, out of range."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and is_digits(raw.strip()):
        value = int(raw.strip())
    else:
        return default
    return value if lo <= value <= hi else default


def parse_id(raw) -> int | None:
    """A database id (1..2³¹−1), or None."""
    return parse_int(raw)


def parse_page(raw) -> int:
    """A page number of a paginated list; 1 when missing or not a sane number."""
    return parse_int(raw, 1)


def parse_index(raw) -> int | None:
    """A table row number as posted in ``<table>-<index>-<column>`` (0..2³¹−1), or None."""
    return parse_int(raw, lo=0)


def parse_version(raw, blank=None) -> int | None:
    """The hidden ``version`` of a page: ``blank`` when not sent, STALE when it is not a
    version number (so the save or move is refused as coming from a stale page)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return blank
    return parse_int(raw, STALE, lo=0)


def choice_id(value) -> int:
    """``coerce`` of a select of ids where 0 means none: ValueError for anything else."""
    result = parse_int(value, lo=0)
    if result is None:
        raise ValueError("not an id")
    return result


class IdConverter(BaseConverter):
    """``<int:…>`` in every route: ASCII digits, 1..2³¹−1.  Anything else matches no route,
    so ``/evidence/2147483648`` or ``/evidence/١`` answer 404 like a missing id."""

    regex = r"[0-9]+"
    weight = 50

    def to_python(self, value: str) -> int:
        result = parse_id(value) if is_digits(value) else None
        if result is None:
            raise ValidationError()
        return result

    def to_url(self, value) -> str:
        return str(int(value))


class RoundConverter(BaseConverter):
    """``<round:…>``: the two rounds' keys (preliminary, final).  Anything else matches no route
    and answers 404, like an out-of-range id."""

    regex = "preliminary|final"


def _check_year(year: int, name: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ParamError(f"{name}应在 {MIN_YEAR} 年至 {MAX_YEAR} 年之间")


def parse_date(raw, label: str = "日期") -> date | None:
    """A day written as 2024-01-31 (ASCII digits) in years MIN_YEAR..MAX_YEAR; None when blank.
    Raises ParamError with a Chinese message otherwise."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        if not text.isascii():
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise ParamError(f"“{label}”不是有效日期（格式：2024-01-31）") from None
    _check_year(day.year, f"“{label}”")
    return day


def parse_datetime(raw, formats, label: str = "时间") -> datetime | None:
    """A date and time in one of ``formats`` (ASCII digits) in years MIN_YEAR..MAX_YEAR; None when blank.
    Raises ParamError with a Chinese message otherwise."""
    text = (raw or "").strip()
    if not text:
        return None
    for fmt in formats if text.isascii() else ():
        try:
            when = datetime.strptime(text, fmt)
        except ValueError:
            continue
        _check_year(when.year, label)
        return when
    raise ParamError(f"无法识别的{label}，请按“年-月-日 时:分”的格式填写")


def clean_param(raw, max_len: int = 128) -> str:
    """A query-string value fit for SQL: control, bidi and zero-width characters removed
    (PostgreSQL refuses NUL), trimmed, at most ``max_len`` characters."""
    return clean_text(raw if isinstance(raw, str) else "")[:max_len]
