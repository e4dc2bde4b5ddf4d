"""The PDFs still rendered in the request: the declaration page to sign (declaration.py), the
review's 专家评分表 and 评审结果汇总表 (review.py) and the account letters (letters.py).  They
are short and carry no evidence; the report PDF, the long one, goes to the render queue.

The engine (xhtml2pdf, ReportLab) is loaded on the first of them, not when the app starts, so
a page worker that never renders one never loads it (issue #22, 8).
"""
from __future__ import annotations


class PdfError(RuntimeError):
    """A PDF rendered in the request failed (the engine's PdfRenderError is ``__cause__``)."""


def engine():
    """The PDF engine module, imported on first use (the one import inside a function here)."""
    from . import engine as loaded

    return loaded


def render_pdf(html: str, **options) -> bytes:
    """:func:`wizard.pdf.engine.render_pdf`, raising :class:`PdfError` for any failure."""
    module = engine()
    try:
        return module.render_pdf(html, **options)
    except module.PdfRenderError as exc:
        raise PdfError(str(exc)) from exc
