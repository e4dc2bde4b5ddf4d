"""The paper of expert review, through the PDF engine: the 专家评分表 of an expert and round (a
page per assigned report, each with the 专家签字 line and the date to write by hand) and the
评审结果汇总表 of a round and category (the ranking with every column, the method named, the
frozen ranking's 校验码, lines for the panel's signatures and the date).

The data comes from review/sheets.py; the templates (templates/print/review_*.html) are
autoescaped, so every name, comment and opinion reaches the PDF as text.  The documents are
rendered by the render consumer like the report (pdf/report.py ``page_request``), named by their
HTML: a sheet is rendered again only when a score, a name or the ranking on it changes."""
from __future__ import annotations

from flask import render_template

from ..review.sheets import ExpertSheet, RankingSheet
from .report import Prepared, page_pdf, page_request


def num(value) -> str:
    """A score as written on paper: 12, 12.5, 84.33; blank when there is none."""
    if value is None:
        return ""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


def fixed(value) -> str:
    """A ranking value at the precision the ranking compares (2 decimals); — when there is none."""
    return "—" if value is None else f"{value:.2f}"


def score_sheet_html(sheet: ExpertSheet) -> str:
    return render_template("print/review_scores.html", sheet=sheet, num=num)


def score_sheet_request(sheet: ExpertSheet) -> Prepared:
    return page_request(score_sheet_html(sheet), "score-sheet")


def score_sheet_pdf(sheet: ExpertSheet) -> bytes:
    """Rendered now (scripts and benchmarks; web pages fetch :func:`score_sheet_request`)."""
    return page_pdf(score_sheet_html(sheet), "score-sheet")


def score_sheet_filename(sheet: ExpertSheet) -> str:
    return f"专家评分表-{sheet.round_label}-{sheet.expert}.pdf"


def ranking_html(sheet: RankingSheet) -> str:
    return render_template("print/review_ranking.html", sheet=sheet, fixed=fixed)


def ranking_request(sheet: RankingSheet) -> Prepared:
    return page_request(ranking_html(sheet), "ranking")


def ranking_pdf(sheet: RankingSheet) -> bytes:
    """Rendered now (scripts and benchmarks; web pages fetch :func:`ranking_request`)."""
    return page_pdf(ranking_html(sheet), "ranking")


def ranking_filename(sheet: RankingSheet) -> str:
    return f"评审结果汇总表-{sheet.round_label}-{sheet.category_label}.pdf"
