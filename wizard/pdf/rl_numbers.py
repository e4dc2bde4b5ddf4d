"""ReportLab's number formatting for PDF operators, remembered.

Every coordinate, width and colour ReportLab writes into a page goes through
``reportlab.lib.rl_accel.fp_str``.  Without ReportLab's optional C accelerator (the ``rl_accel``
package, not installed here) that is a pure-Python function: a 28-page report calls it about
32,000 times (70,000 numbers), which took about 0.12 s of its 1.7 s render.  The same few
numbers come back again and again (1,860 distinct argument tuples in those 32,000 calls: the
same margins, cell edges, line widths and colours on every page), so :func:`apply` puts a
memo in front of it in the ReportLab modules that imported it (``from reportlab.lib.rl_accel
import fp_str``: their module attribute ``fp_str``, a public name).

The memo returns exactly what ``fp_str`` returns: the text of a number is a function of its
value (``%.Nf`` formatting), and arguments that compare equal (``1``, ``1.0``, ``True``) have the
same value; arguments that cannot be a key (a list of numbers) go to ``fp_str`` itself.  When
the C accelerator is installed its ``fp_str`` is left alone (it is faster than a lookup in
Python).  The memo is bounded (``LIMIT`` entries, then emptied).
"""
from __future__ import annotations

import sys
from typing import Callable

from reportlab.lib import rl_accel
from reportlab.pdfgen import canvas, textobject

#: Entries kept before the memo is emptied (a report needs about 2,000; each is a short string).
LIMIT = 50_000

_original: Callable[..., str] = rl_accel.fp_str


def is_python_fallback(fp_str: Callable[..., str]) -> bool:
    """Whether ``fp_str`` is ReportLab's pure-Python implementation (not the C accelerator's)."""
    return getattr(fp_str, "__module__", None) == rl_accel.__name__


def remembered(fp_str: Callable[..., str]) -> Callable[..., str]:
    """``fp_str`` behind a memo of its answers."""
    memo: dict = {}

    def fp_str_remembered(*args):
        try:
            return memo[args]
        except KeyError:
            pass
        except TypeError:  # a list of numbers: not a key
            return fp_str(*args)
        if len(memo) >= LIMIT:
            memo.clear()
        text = memo[args] = fp_str(*args)
        return text

    fp_str_remembered.wrapped = fp_str
    return fp_str_remembered


_memo = remembered(_original)


def apply() -> int:
    """Put the memo in front of the pure-Python ``fp_str`` in every loaded ReportLab and xhtml2pdf
    module that imported it (idempotent).  Returns how many modules use the memo."""
    if not is_python_fallback(_original):
        return 0
    count = 0
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(("reportlab.", "xhtml2pdf.")) or name == rl_accel.__name__:
            continue
        current = getattr(module, "fp_str", None)
        if current is _original:
            module.fp_str = _memo
        if getattr(module, "fp_str", None) is _memo:
            count += 1
    return count


def is_applied() -> bool:
    """Whether the canvas (what draws every page) formats its numbers through the memo."""
    return not is_python_fallback(_original) or (canvas.fp_str is _memo and textobject.fp_str is _memo)
