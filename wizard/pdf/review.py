"""The paper of expert review, through the PDF engine: the 专家评分表 of an expert and round (a
page per assigned report, each with the 专家签字 line and the date to write by hand) and the
评审结果汇总表 of a round and category (the ranking with every column, the method named, the
frozen ranking's 校验码, lines for the panel's signatures and the date).

The data comes from review/sheets.py; the templates (templates/print/review_*.html) are
autoescaped, so every name, comment and opinion reaches the PDF as text.  The documents are
small and change until the round is decided, so they are rendered on request, not cached."""
from __future__ import annotations

from flask import current_app, render_template

from ..review.sheets import ExpertSheet, RankingSheet
from .inline import render_pdf


def num(value) -> str:
    """A score as written on paper: 12, 12.5, 84.33; blank when there is none."""
    if value is None:
        return ""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


def fixed(value) -> str:
    """A ranking value at the precision the ranking compares (2 decimals); — when there is none."""
    return "—" if value is None else f"{value:.2f}"


def _pdf(html: str) -> bytes:
    return render_pdf(html, static_root=current_app.static_folder, font_path=current_app.config.get("PDF_FONT_PATH"))


def score_sheet_html(sheet: ExpertSheet) -> str:
    return render_template("print/review_scores.html", sheet=sheet, num=num)


def score_sheet_pdf(sheet: ExpertSheet) -> bytes:
    return _pdf(score_sheet_html(sheet))


def score_sheet_filename(sheet: ExpertSheet) -> str:
    return f"专家评分表-{sheet.round_label}-{sheet.expert}.pdf"


def ranking_html(sheet: RankingSheet) -> str:
    return render_template("print/review_ranking.html", sheet=sheet, fixed=fixed)


def ranking_pdf(sheet: RankingSheet) -> bytes:
    return _pdf(ranking_html(sheet))


def ranking_filename(sheet: RankingSheet) -> str:
    return f"评审结果汇总表-{sheet.round_label}-{sheet.category_label}.pdf"
