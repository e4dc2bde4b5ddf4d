"""What the administrator's page says about the PDF font (embedded or not).

Loads the engine (ReportLab's font registry) on the administrator's dashboard only
(wizard/pdf/inline.py): other page workers never do."""
from flask import current_app

from .inline import engine


def font_status_message() -> str | None:
    try:
        status = engine().font_status(current_app.config.get("PDF_FONT_PATH"))
    except Exception:  # reported, never fatal for the page
        current_app.logger.warning("PDF font check failed", exc_info=True)
        return "PDF 字体检查失败，请查看日志。"
    return None if status.embedded else status.message
