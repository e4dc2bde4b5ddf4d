"""PDF generation: HTML (rendered by Jinja) -> PDF bytes with Chinese support.

See :mod:`wizard.pdf.engine` and docs/pdf-engine.md.  Importing this package does not load the
engine (xhtml2pdf, ReportLab): page workers import :mod:`wizard.pdf.report` and
:mod:`wizard.pdf.queue` only; the report PDFs are rendered by the render consumers.  Import
the engine's names from :mod:`wizard.pdf.engine` and :mod:`wizard.pdf.fonts`.
"""
