"""The paper and the workbook of expert review, downloaded (each download audited):

- the 专家评分表 of an expert and round: an administrator for any expert, an expert for itself
  only (another id answers 404, as if it did not exist);
- the 评审结果汇总表 of a round and category, and the round's workbook: administrators only.

Everyone else is refused (403).  Thin: the data comes from review/sheets.py and
review/results.py, the documents from pdf/review.py and exports/review.py."""
from flask import Blueprint, abort, request
from flask_login import current_user

from ..access import edition_or_404
from ..exports.review import review_filename, review_xlsx
from ..extensions import db
from ..models import CATEGORY_LABELS, ROLE_ADMIN, ROLE_EXPERT, User, local_now
from ..params import parse_int
from ..pdf import review as paper
from ..review.results import round_ranking
from ..review.sheets import expert_sheet, ranking_sheet
from ..web.downloads import xlsx_response
from ..web.security import audit, require_role
from .shared import send_page_pdf

bp = Blueprint("sheets", __name__, url_prefix="/review")
# an unknown round matches no route (the <round:…> converter): a 404 for everyone, like an out-of-range id
bp.before_request(require_role(ROLE_ADMIN, ROLE_EXPERT))


MAX_CUT = 1000


def _admin_only() -> None:
    if not current_user.is_admin:
        abort(403)


def _expert(expert_id: int) -> User:
    """The expert whose sheet is asked for: any expert for an administrator, oneself for an expert."""
    if current_user.is_expert and current_user.id != expert_id:
        abort(404)
    expert = db.session.get(User, expert_id)
    if expert is None or not expert.is_expert:
        abort(404)
    return expert


@bp.route("/<round:round_>/experts/<int:expert_id>/score-sheet.pdf")
def score_sheet_pdf(round_, expert_id):
    """专家评分表: the expert's scores and comments for each report assigned in the round, to sign."""
    expert = _expert(expert_id)
    edition = edition_or_404()
    sheet = expert_sheet(edition, round_, expert)  # reads only: a download stores nothing but its audit row
    return send_page_pdf(paper.score_sheet_request(sheet), paper.score_sheet_filename(sheet), lambda: audit(
        "export", f"score-sheet-{round_}.pdf", f"edition={edition.id}; expert={expert.username}; {len(sheet.items)} 份报告"))


@bp.route("/<round:round_>/ranking/<category>.pdf")
def ranking_pdf(round_, category):
    """评审结果汇总表 of a round and category (``?cut=N``: the top N advance; flags the ranges across it)."""
    _admin_only()
    if category not in CATEGORY_LABELS:
        abort(404)
    edition = edition_or_404()
    sheet = ranking_sheet(edition, round_, category, parse_int(request.args.get("cut"), None, hi=MAX_CUT))
    return send_page_pdf(paper.ranking_request(sheet), paper.ranking_filename(sheet), lambda: audit(
        "export", f"ranking-{round_}-{category}.pdf",
        f"edition={edition.id}; {len(sheet.rows)} 个集群; 校验码 {sheet.snapshot_code or '无（当前排名）'}"))


@bp.route("/<round:round_>/scores.xlsx")
def scores_xlsx(round_):
    """The round's workbook: the raw scores (expert × report × dimension) and the ranking per category."""
    _admin_only()
    edition = edition_or_404()
    ranking = round_ranking(edition, round_)
    now = local_now()
    data = review_xlsx(ranking, now)
    audit("export", f"review-{round_}.xlsx", f"edition={edition.id}; {len(ranking.submissions)} 个集群; "
                                             f"{len(ranking.assignments)} 份评分")
    return xlsx_response(data, review_filename(ranking, now))
