"""The one PDF still rendered in the request: the account letters (letters.py), which carry
one-time passwords and so are never written anywhere (not to the PDF cache, not to the render
queue's storage, which is a file under instance/ or a Redis server): rendered, sent as a data:
link, forgotten.  Every other PDF (the report, the blank template, the declaration page, the
review's score sheets) is rendered by the render consumer (pdf/report.py ``fetch``).

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
