"""PDF generation: HTML (rendered by Jinja) -> PDF bytes with Chinese support.

See :mod:`wizard.pdf.engine` and docs/pdf-engine.md.
"""

from .engine import PdfRenderError, font_status, render_pdf
from .fonts import FontStatus, find_cjk_font, register_cjk_fonts

__all__ = ["FontStatus", "PdfRenderError", "find_cjk_font", "font_status",
           "register_cjk_fonts", "render_pdf"]
