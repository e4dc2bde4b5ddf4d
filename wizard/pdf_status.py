"""What the administrator's page says about the PDF font (embedded or not)."""


def font_status_message() -> str | None:
    try:
        from flask import current_app

        from .pdf.fonts import register_cjk_fonts
    except ImportError:
        return None
    try:
        status = register_cjk_fonts(current_app.config.get("PDF_FONT_PATH"))
    except Exception:  # pragma: no cover - reported, never fatal for the page
        current_app.logger.warning("PDF font check failed", exc_info=True)
        return "PDF 字体检查失败，请查看日志。"
    return None if status.embedded else status.message
