"""The appendix's page references (见佐证材料第 12–15、18 页): plain text, no PDF library, so the
page workers that show them (evidence/storage.py) do not load the binding's (reportlab, qpdf)."""
from __future__ import annotations

from typing import Iterable, List, Tuple

EN_DASH = "\u2013"


def merge_ranges(ranges: Iterable[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """The ranges sorted, overlapping and adjacent ones joined."""
    rs = sorted((int(a), int(b)) if a <= b else (int(b), int(a)) for a, b in ranges)
    out: List[Tuple[int, int]] = []
    for a, b in rs:
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def format_page_refs(
    ranges: Iterable[Tuple[int, int]],
    prefix: str = "见佐证材料第 ",
    suffix: str = " 页",
) -> str:
    """``[(12, 15)]`` → “见佐证材料第 12–15 页”; ``[(12, 15), (18, 18)]`` →
    “见佐证材料第 12–15、18 页”; ``[(7, 7)]`` → “见佐证材料第 7 页”.
    Ranges are sorted and contiguous ones merged; empty input gives ''."""
    merged = merge_ranges(ranges)
    if not merged:
        return ""
    parts = [str(a) if a == b else f"{a}{EN_DASH}{b}" for a, b in merged]
    return f"{prefix}{'、'.join(parts)}{suffix}"
