"""Numbers and text as the official form wants them.

Parsing accepts what people type or paste: ``1,234.5`` (a comma only between groups
of three digits), full-width digits and punctuation (``１２３４．５``, what Chinese input
methods type), surrounding spaces.  Superscripts, subscripts, circled and other
look-alike digits (``10²``, ``①``, ``١``) are refused, never read as plain digits, and so
is a decimal comma (``1,5``).  Forms and imports use this one parser.  Values are kept as
normalised decimal strings (no float rounding).  Growth is computed, never
typed.  Character limits count every non-whitespace character, as the
browser counter (static/js/wizard.js) does.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

MAX_MAGNITUDE = Decimal("1e12")
MAX_DECIMALS = 4
_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_GROUPED = re.compile(r"^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$")  # 1,234.5 · 12,345,678
_FULL_WIDTH_DIGITS = frozenset("０１２３４５６７８９")
LOOKALIKE_MESSAGE = "请用数字 0–9 填写，不能使用上标、下标、圈码等特殊数字（如 ²、₂、①）。"
COMMA_MESSAGE = "逗号只能用作千位分隔符（每三位一组，如 1,234.5）；小数请用小数点“.”。"


class NumberError(ValueError):
    """A Chinese message saying what is wrong with a typed number."""


def has_lookalike_digits(value: str) -> bool:
    """True when a character is a digit of some kind other than 0–9 or full-width ０–９:
    superscripts, subscripts, circled, Roman, fractions, other scripts' digits (categories N*)."""
    return any(not ch.isascii() and ch not in _FULL_WIDTH_DIGITS and unicodedata.category(ch)[0] == "N"
               for ch in value)


def normalise_text(value: str) -> str:
    """Full-width digits/punctuation to ASCII (NFKC), spaces removed (commas are kept)."""
    text = unicodedata.normalize("NFKC", value).strip()
    text = text.replace(" ", "").replace("\u3000", "")
    return text.replace("−", "-").replace("－", "-")


def _without_thousands(text: str) -> str:
    """``1,234.5`` → ``1234.5``; any other comma is a mistake, most often a decimal comma."""
    if "," not in text or _GROUPED.match(text):
        return text.replace(",", "")
    if _NUMBER.match(text.replace(",", "")):
        raise NumberError(COMMA_MESSAGE)
    return text  # not a number whatever the commas: the general message


def parse_number(raw, *, integer=False, signed=False, percent=False) -> Decimal | None:
    """Parse a typed number; None when blank.  Raises NumberError with a Chinese message."""
    if raw is None:
        return None
    if has_lookalike_digits(str(raw)):
        raise NumberError(LOOKALIKE_MESSAGE)
    text = normalise_text(str(raw))
    if text == "":
        return None
    text = _without_thousands(text)
    if not _NUMBER.match(text):
        raise NumberError("请输入数字（可带小数点），不能包含文字或符号。")
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex already rules this out
        raise NumberError("请输入数字。") from None
    if not value.is_finite():
        raise NumberError("请输入有效的数字。")
    if abs(value) >= MAX_MAGNITUDE:
        raise NumberError("数值过大，请检查单位和数值。")
    if value < 0 and not signed:
        raise NumberError("此项不能为负数。")
    if integer and value != value.to_integral_value():
        raise NumberError("此项为个数或人数，请填写整数。")
    if percent and not signed and value > 100:
        raise NumberError("比例应在 0 到 100 之间。")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
        raise NumberError(f"最多保留 {MAX_DECIMALS} 位小数。")
    return value


def format_decimal(value: Decimal | None) -> str:
    """Canonical storage/display form: no exponent, no trailing zeros after the point."""
    if value is None:
        return ""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def typed_decimal(value: Decimal | None) -> str:
    """What a form stores: the number with the decimals the applicant typed (63.0 stays 63.0,
    1,234.50 becomes 1234.50), no exponent, no thousands separators."""
    if value is None:
        return ""
    text = format(value, "f")
    return text[1:] if text.startswith("-") and Decimal(text) == 0 else text


def decimals_of(stored) -> int | None:
    """How many decimals a stored figure has (``63.0``: 1); None when it is not a number."""
    value = to_decimal(stored)
    if value is None:
        return None
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def number_text(stored) -> str:
    """A stored figure as the printed report shows it, by the one rule the exports' number format
    (``excel_number_format``) follows: thousands separated by commas, the typed decimals kept
    (86500 → 86,500; 63.0 → 63.0; 1234.50 → 1,234.50).  Anything else is shown as it is."""
    decimals = decimals_of(stored)
    if decimals is None:
        return "" if stored in (None, "") else str(stored)
    return format(to_decimal(stored), f",.{decimals}f")


def excel_number_format(stored, fallback: str | None = None) -> str | None:
    """The spreadsheet number format that shows a stored figure as ``number_text`` does
    (``#,##0`` or ``#,##0.0…`` with its decimals); ``fallback`` when it is not a number."""
    decimals = decimals_of(stored)
    if decimals is None:
        return fallback
    return "#,##0" + ("." + "0" * decimals if decimals else "")


def to_decimal(stored) -> Decimal | None:
    """A stored answer, or text typed into a form shown again (its growth column), as a Decimal;
    None for whatever parse_number refuses, so no huge (1e30) or look-alike value reaches the
    growth arithmetic."""
    if stored in (None, ""):
        return None
    try:
        return parse_number(stored, signed=True)
    except NumberError:
        return None


# Enough digits that a quotient of two parsed numbers (at most 16 significant digits each) is
# rounded to two decimals as its exact value would be: the browser (static/js/wizard.js) computes
# the same figures exactly, and tests/browser/test_rules_pairs.py holds the two together.
GROWTH_PRECISION = 60


def _two(value: Decimal) -> Decimal:
    """Two decimals, half away from zero; a result that rounds to zero has no sign (0.00, not -0.00)."""
    out = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return out.copy_abs() if out == 0 else out


def growth(first, second) -> str:
    """增幅（%）: (second − first) / |first| × 100, two decimals; — when first is 0 or blank.
    Relative to the base's absolute value, so that a signed figure (利润总额) that rises grows:
    −100 → −50 is +50.00."""
    a, b = to_decimal(first), to_decimal(second)
    if a is None or b is None or a == 0:
        return "—"
    with localcontext() as ctx:
        ctx.prec = GROWTH_PRECISION
        return format(_two((b - a) / abs(a) * 100), "f")


def points(first, second) -> str:
    """The change of a share in percentage points: +1.20个百分点."""
    a, b = to_decimal(first), to_decimal(second)
    if a is None or b is None:
        return "—"
    with localcontext() as ctx:
        ctx.prec = GROWTH_PRECISION
        diff = _two(b - a)
    sign = "+" if diff > 0 else ""
    return f"{sign}{format(diff, 'f')}个百分点"


def change(field, values: dict | None) -> str:
    """The growth cell of an indicator row, in the mode its unit calls for."""
    a, b = field.kind_of.growth_pair(values or {})
    return points(a, b) if field.growth_mode == "points" else growth(a, b)


def count_chars(text: str | None) -> int:
    """Every non-whitespace character counts as one (汉字, letters, digits, punctuation)."""
    if not text:
        return 0
    return len("".join(text.split()))  # split() drops exactly the characters isspace() names
