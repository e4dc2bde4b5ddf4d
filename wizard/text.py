"""Text as stored: what every text field, parameter and import is cleaned of."""
import re

# Characters no stored text keeps: C0 controls but tab and line feed (PostgreSQL refuses NUL),
# DEL, bidi controls (U+202A–E, U+2066–9, LRM/RLM, ALM: text that displays other than it reads)
# and zero-width characters (U+200B–D, WORD JOINER, BOM).
_BIDI = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_ZERO_WIDTH = "\u200b-\u200d\u2060\ufeff"
_CONTROL = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f{_BIDI}{_ZERO_WIDTH}]")


def clean_text(value: str | None, *, multiline=False) -> str:
    """Remove NUL and other control characters (PostgreSQL refuses NUL in text), bidi controls
    and zero-width characters; keep line breaks and tabs only in multi-line text."""
    if value is None:
        return ""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    if not multiline:
        value = value.replace("\n", " ").replace("\t", " ").strip()
    else:
        value = value.strip("\n ")
    return value
