"""What the administrator's dashboard says about the PDF font: what the render consumer's last
render used (``RenderResult.font_message``, recorded in the render queue's storage).

A page worker never loads the PDF engine for this (it cost a worker about 3 s and the engine's
memory on its first dashboard); before the first render since the queue was set up there is
nothing to report."""
from flask import current_app

from .report import render_queue


def font_status_message() -> str | None:
    """The warning of the last recorded render when its Chinese font was not embedded, else None."""
    try:
        results = render_queue().get("results") or []
    except Exception:  # the queue's storage unreadable: reported, never fatal for the page
        current_app.logger.warning("PDF font status unavailable", exc_info=True)
        return None
    return (getattr(results[-1], "font_message", "") or None) if results else None
