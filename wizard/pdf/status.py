"""What the administrator's page says about the PDF font (embedded or not)."""
from flask import current_app

from .fonts import register_cjk_fonts


def font_status_message() -> str | None:
    try:
        status = register_cjk_fonts(current_app.config.get("PDF_FONT_PATH"))
    except Exception:  # reported, never fatal for the page
        current_app.logger.warning("PDF font check failed", exc_info=True)
        return "PDF 字体检查失败，请查看日志。"
    return None if status.embedded else status.message
