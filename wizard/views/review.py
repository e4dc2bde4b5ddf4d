"""Expert review (专家评审), the administrators' side: per round the 评分细则, the assignment board
(需补派专家, reminders, each report's scores side by side), the ranking per category and the
advance from it.  Thin: the rules live in wizard/review/."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice, SelectField, StringField

from ..access import edition_or_404
from ..extensions import db
from ..models import CATEGORY_LABELS, ROLE_ADMIN, RankingSnapshot, ReviewAssignment, Submission, User, local_now
from ..params import ParamError, parse_datetime, parse_id, parse_int
from ..report.model import ROUND_LABELS
from ..review import advance as advancing
from ..review import assign
from ..review.results import round_ranking
from ..review.scoring import PROGRESS_LABELS, progress
from ..review.scheme import (
    METHOD_LABELS,
    PANEL_MAX,
    SchemeChange,
    SchemeRefused,
    frozen_message,
    max_total,
    parse_dimensions,
    scheme_for,
    scheme_or_default,
    stored_scheme,
    update_scheme,
)
from ..web.forms import AppForm
from ..web.security import client_address, require_role
from ..workflow.deadlines import DATETIME_FORMATS, past_deadline_error
from ..workflow.states import ROUNDS, scoring_state, state_label

bp = Blueprint("review", __name__, url_prefix="/admin/review")
# an unknown round matches no route (the <round:…> converter): a 404 for everyone, like an out-of-range id
bp.before_request(require_role(ROLE_ADMIN))


MAX_DIMENSIONS = 30


def progress_label(assignment) -> str:
    return PROGRESS_LABELS[progress(assignment)]


def _actor() -> User:
    return current_user._get_current_object()


@bp.route("/")
def index():
    """Both rounds at a glance: the scheme, the reports in the scoring state, assigned and
    submitted, the reports short of experts; links to each page."""
    edition = edition_or_404()
    rounds = []
    for round_ in ROUNDS:
        scheme, board = scheme_or_default(edition, round_), assign.board(edition, round_)
        rounds.append({"key": round_, "label": ROUND_LABELS[round_], "scheme": scheme, "board": board,
                       "state": state_label(scoring_state(round_)), "frozen": frozen_message(scheme),
                       "assigned": sum(len(line.active) for line in board.reports),
                       "submitted": sum(line.submitted for line in board.reports)})
    return render_template("review/index.html", edition=edition, rounds=rounds, methods=METHOD_LABELS,
                           max_total=max_total)


# --- 评分细则 -------------------------------------------------------------------------------

class SchemeForm(AppForm):
    method = SelectField("计分方法", choices=[SelectChoice(k, v) for k, v in METHOD_LABELS.items()])
    panel_size = StringField("每份报告的评审专家人数", render_kw={"inputmode": "numeric"})
    deadline = StringField("专家评审截止时间（北京时间，可不设）", render_kw={"type": "datetime-local"})


def _typed_rows() -> list[dict]:
    """The dimension rows as posted (dim-0-label, dim-0-max, …), in order, at most MAX_DIMENSIONS."""
    rows = []
    for i in range(MAX_DIMENSIONS):
        if f"dim-{i}-label" not in request.form and f"dim-{i}-max" not in request.form:
            break
        rows.append({k: request.form.get(f"dim-{i}-{k}", "") for k in ("key", "label", "max", "guidance")})
    return rows


def _row_action(rows: list[dict]) -> tuple[str, list[dict]]:
    """'save', or the rows after an 添加/删除 button (shown again, nothing saved)."""
    action = request.form.get("action", "save")
    if action == "add" and len(rows) < MAX_DIMENSIONS:
        return "edit", rows + [{"key": "", "label": "", "max": "", "guidance": ""}]
    if action.startswith("remove-"):
        index = parse_int(action[7:], lo=0, hi=MAX_DIMENSIONS)
        return "edit", [r for i, r in enumerate(rows) if i != index]
    return "save", rows


def _typed_panel(form) -> int | None:
    value = parse_int((form.panel_size.data or "").strip(), lo=1, hi=PANEL_MAX)
    if value is None:
        form.panel_size.errors.append(f"请填写 1–{PANEL_MAX} 之间的整数。")
    return value


def _typed_deadline(form, before):
    try:
        until = parse_datetime(form.deadline.data, DATETIME_FORMATS, "评审截止时间")
    except ParamError as exc:
        form.deadline.errors.append(f"{exc}。")
        return False
    if until is not None and until != before:
        error = past_deadline_error(until, local_now())
        if error:
            form.deadline.errors.append(error)
            return False
    return until


@bp.route("/<round:round_>/scheme", methods=["GET", "POST"])
def scheme(round_):
    """The round's 评分细则: dimensions (name, maximum, guidance; rows added and removed), the
    method, the panel size, the experts' deadline.  Frozen once the round's first score is
    submitted: the page says why and since when, and only the panel and deadline change."""
    edition = edition_or_404()
    sch = scheme_for(edition, round_) if request.method == "POST" else scheme_or_default(edition, round_)
    frozen = frozen_message(sch)
    form = SchemeForm(data={"method": sch.method, "panel_size": str(sch.panel_size),
                            "deadline": f"{sch.deadline:%Y-%m-%dT%H:%M}" if sch.deadline else ""})
    rows = [{**d, "max": f"{d['max']:g}"} for d in sch.dimensions]
    errors = {}
    if request.method == "POST":
        action, rows = _row_action(_typed_rows()) if not frozen else ("save", rows)
        if action == "save" and form.validate_on_submit():
            errors = _save_scheme(form, sch, rows, frozen)
            if errors is None:
                return redirect(url_for("review.scheme", round_=round_))
    db.session.rollback()  # nothing is stored by showing the page (a new scheme is stored by its first save)
    return render_template("review/scheme.html", edition=edition, round_=round_, label=ROUND_LABELS[round_],
                           scheme=sch, form=form, rows=rows, errors=errors or {}, frozen=frozen,
                           total=_row_total(rows), max_rows=MAX_DIMENSIONS,
                           methods=METHOD_LABELS), (400 if errors else 200)


def _save_scheme(form, sch, rows, frozen):
    """Save a valid edit (None), else the errors to show ({"dimensions": {…}, "message": …})."""
    panel, until = _typed_panel(form), _typed_deadline(form, sch.deadline)
    try:
        dims = sch.dimensions if frozen else parse_dimensions(rows)
    except SchemeRefused as refused:
        return {**refused.errors, "message": refused.message}
    if panel is None or until is False:
        return {"message": "有需要修改的地方，尚未保存。"}
    method = sch.method if frozen else form.method.data
    try:
        parts = update_scheme(sch, SchemeChange(dims, method, panel, until), _actor(), client_address())
    except SchemeRefused as refused:
        db.session.rollback()
        for name, messages in refused.errors.items():
            if name in form:  # WTForms: a form answers "in" for its fields
                form[name].errors.extend(messages)
        return {"message": refused.message}
    db.session.commit()  # unchanged defaults saved for the first time are stored as confirmed
    flash(f"{ROUND_LABELS[sch.round]}评分细则已保存：" + "；".join(parts) + "。" if parts else "评分细则没有变化。",
          "success" if parts else "info")
    return None


def _row_total(rows) -> str:
    total = 0.0
    for row in rows:
        try:
            total += float(str(row.get("max") or 0))
        except ValueError:
            continue
    return f"{total:g}"


# --- the assignment board -------------------------------------------------------------------

@bp.route("/<round:round_>/board")
def board(round_):
    """Per report and per expert: assigned and submitted; 需补派专家; the automatic assignment
    and the reminders."""
    edition = edition_or_404()
    data = assign.board(edition, round_)
    return render_template("review/board.html", edition=edition, round_=round_, label=ROUND_LABELS[round_],
                           board=data, state=state_label(scoring_state(round_)), categories=CATEGORY_LABELS,
                           short_label=assign.SHORT_LABEL, progress=progress_label, panel_max=PANEL_MAX)


@bp.route("/<round:round_>/assign", methods=["POST"])
def auto_assign(round_):
    """Assign automatically: every report of the round gets its panel (kept assignments stay)."""
    edition = edition_or_404()
    panel = parse_int(request.form.get("panel_size", ""), lo=1, hi=PANEL_MAX)
    if panel is None:
        flash(f"每份报告的评审专家人数应为 1–{PANEL_MAX} 之间的整数。", "error")
        return redirect(url_for("review.board", round_=round_))
    summary = assign.auto_assign(edition, round_, panel, _actor(), client_address())
    flash(summary.message, "warning" if summary.short else "success")
    return redirect(url_for("review.board", round_=round_))


@bp.route("/<round:round_>/remind", methods=["POST"])
def remind(round_):
    """Remind the experts with unfinished reports (all, or the one of ``expert_id``)."""
    edition = edition_or_404()
    one = parse_id(request.form.get("expert_id", "")) if request.form.get("expert_id") else None
    reminded = assign.remind(edition, round_, _actor(), {one} if one else None, client_address())
    if reminded:
        flash(f"已提醒 {len(reminded)} 位专家（站内消息；已配置邮件时同时发送邮件）：" + "、".join(
            u.display_name or u.username for u in reminded) + "。", "success")
    else:
        flash("没有需要提醒的专家：所有指派的报告都已提交评分。", "info")
    return redirect(url_for("review.board", round_=round_))


# --- one report: its experts and their scores side by side -----------------------------------

def _report(round_: str, submission_id: int) -> Submission:
    sub = db.session.get(Submission, submission_id)
    if sub is None or sub.edition_id != edition_or_404().id:
        abort(404)
    return sub


def score_table(sub: Submission, round_: str, dimensions: list[dict]) -> dict:
    """The submitted scores of a report, expert × dimension, and per dimension and for the total
    the spread (极差: highest − lowest) of the experts' scores."""
    rows = [a for a in assign.round_assignments([sub.id], round_) if a.status == "active" and a.submitted_at]
    spread = {}
    for d in dimensions:
        values = [float(a.scores[d["key"]]) for a in rows if a.scores.get(d["key"]) is not None]
        spread[d["key"]] = max(values) - min(values) if values else None
    totals = [a.total for a in rows if a.total is not None]
    spread["total"] = max(totals) - min(totals) if totals else None
    return {"rows": rows, "spread": spread}


@bp.route("/<round:round_>/reports/<int:submission_id>")
def report(round_, submission_id):
    """One report: its experts (progress, 回避, withdrawn scores), the manual add and remove,
    and the submitted scores side by side with their spread."""
    edition = edition_or_404()
    sub = _report(round_, submission_id)
    sch = scheme_or_default(edition, round_)
    rows = assign.round_assignments([sub.id], round_)
    on_it = {a.expert_id for a in rows}
    candidates = [(e, assign.conflicts(e, sub, round_)) for e in assign.expert_pool()
                  if e.id not in on_it and e.expert_covers(sub.cluster.category)]
    return render_template("review/report.html", edition=edition, round_=round_, label=ROUND_LABELS[round_],
                           sub=sub, scheme=sch, assignments=rows, candidates=candidates,
                           in_round=sub.state == scoring_state(round_), state=state_label(scoring_state(round_)),
                           table=score_table(sub, round_, sch.dimensions), progress=progress_label,
                           active=[a for a in rows if a.status == "active"])


@bp.route("/<round:round_>/reports/<int:submission_id>/add", methods=["POST"])
def add_expert(round_, submission_id):
    """Assign one more expert to the report by hand (refused for a conflicted one, with why)."""
    sub = _report(round_, submission_id)
    expert_id = parse_id(request.form.get("expert_id", ""))
    expert = db.session.get(User, expert_id) if expert_id else None
    if expert is None or not expert.is_expert:
        flash("请选择要指派的评审专家。", "error")
    else:
        try:
            assign.add_expert(sub, expert, round_, _actor(), client_address())
        except assign.AssignRefused as refused:
            db.session.rollback()
            flash(refused.message, "error")
        else:
            flash(f"已指派 {expert.display_name or expert.username}。", "success")
    return redirect(url_for("review.report", round_=round_, submission_id=sub.id))


@bp.route("/<round:round_>/reports/<int:submission_id>/remove", methods=["POST"])
def remove_expert(round_, submission_id):
    """Take an expert off the report; submitted scores are withdrawn, with the reason required."""
    sub = _report(round_, submission_id)
    assignment_id = parse_id(request.form.get("assignment_id", ""))
    row = db.session.get(ReviewAssignment, assignment_id) if assignment_id else None
    if row is None or row.submission_id != sub.id or row.round != round_:
        flash("请选择要移除的评审专家。", "error")
        return redirect(url_for("review.report", round_=round_, submission_id=sub.id))
    try:
        done = assign.remove_expert(row, _actor(), request.form.get("reason"), client_address())
    except assign.AssignRefused as refused:
        db.session.rollback()
        flash(refused.message, "error")
    else:
        flash(done, "success")
    return redirect(url_for("review.report", round_=round_, submission_id=sub.id))


# --- the ranking and the advance from it ----------------------------------------------------

def _cuts(values) -> dict[str, int]:
    """``top_<category>`` of the request: how many of each category the 选前 N 名 helper ticks."""
    cuts = {}
    for category in CATEGORY_LABELS:
        n = parse_int(values.get(f"top_{category}", ""), lo=0, hi=10000)
        if n:
            cuts[category] = n
    return cuts


def _ticks(ranking, cuts: dict[str, int], round_: str) -> set[int]:
    """The rows 选前 N 名 ticks: those ranked N or better (a tie at the line ticks the whole
    group: the page says so), scored and still in the round's scoring state."""
    state = scoring_state(round_)
    return {r.submission_id for category, n in cuts.items() for r in ranking.rows(category)
            if r.rank is not None and r.rank <= n and ranking.submissions[r.submission_id].state == state}


def _ranking_page(round_: str, cuts: dict[str, int], ticked: set[int] | None = None, *, error: str | None = None,
                  move_key: str = "", comment: str = "", status: int = 200):
    """The ranking page; ``ticked``: the rows ticked (default: what 选前 N 名 of ``cuts`` ticks)."""
    edition = edition_or_404()
    if stored_scheme(edition, round_) is None and not assign.any_assigned(edition, round_):  # a GET stores nothing
        return render_template("review/ranking_empty.html", edition=edition, round_=round_,
                               label=ROUND_LABELS[round_], state=scoring_state(round_)), status
    ranking = round_ranking(edition, round_, cuts)
    if ticked is None:
        ticked = _ticks(ranking, cuts, round_)
    over = {c: sum(1 for r in ranking.rows(c) if r.submission_id in ticked) for c in cuts}
    return render_template("review/ranking.html", edition=edition, round_=round_, label=ROUND_LABELS[round_],
                           ranking=ranking, categories=CATEGORY_LABELS, cuts=cuts, ticked=ticked, over=over,
                           digest=advancing.ranking_digest(ranking), moves=advancing.round_moves(round_),
                           state=scoring_state(round_), methods=METHOD_LABELS, error=error, move_key=move_key,
                           comment=comment), status


@bp.route("/<round:round_>/ranking")
def ranking(round_):
    """The round's ranking per category with every column and flag; ``top_<category>=N`` (the
    选前 N 名 helper, a plain GET form) ticks the first N of a category and draws its cut line."""
    return _ranking_page(round_, _cuts(request.args))


@bp.route("/<round:round_>/advance", methods=["POST"])
def advance(round_):
    """Apply the chosen move of the round to the ticked reports, from a frozen ranking; refused
    as a whole (the page again with the ticks and the reason as typed) when it cannot be."""
    ids = [i for i in (parse_id(raw) for raw in request.form.getlist("ids")[:1000]) if i]
    cuts, move_key, comment = _cuts(request.form), request.form.get("move", ""), request.form.get("comment", "")
    try:
        result = advancing.advance(edition_or_404(), round_, move_key, ids, _actor(), comment=comment,
                                   seen=request.form.get("seen", ""), address=client_address())
    except advancing.AdvanceRefused as refused:
        db.session.rollback()
        return _ranking_page(round_, cuts, set(ids), error=refused.message, move_key=move_key, comment=comment,
                             status=409)
    return render_template("review/advance_result.html", result=result, round_=round_, label=ROUND_LABELS[round_],
                           categories=CATEGORY_LABELS)


@bp.route("/rankings")
def snapshots():
    """The frozen rankings moves were decided from, newest first; ``?id=`` shows one: its
    method, 校验码 and SHA-256, the ranking with every column and every score it came from."""
    shown = None
    if request.args.get("id"):
        shown = db.session.get(RankingSnapshot, parse_id(request.args["id"]) or 0)
        if shown is None:
            abort(404)
    rows = db.session.execute(db.select(RankingSnapshot).order_by(RankingSnapshot.id.desc()).limit(200)).scalars().all()
    return render_template("review/snapshots.html", snapshots=rows, shown=shown, categories=CATEGORY_LABELS,
                           methods=METHOD_LABELS,
                           verified=shown is not None and advancing.digest_of(shown.data) == shown.digest)
