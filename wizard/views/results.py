"""Administrators: the result list of an edition (附件3 style), snapshots, the round comparison,
deadlines (each round's, one submission's, several at once), the Excel downloads, and what the
administrators' lists share: their filters and the order of Chinese names (pinyin)."""
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from pypinyin import Style, lazy_pinyin
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..access import current_edition, filtered_submissions, get_submission, visible_submissions
from ..exports.excel import submissions_filename, submissions_xlsx
from ..exports.results import AWARDED_STATE, result_list, result_list_filename, result_list_xlsx
from ..exports.summary import summary_filename, summary_xlsx
from ..extensions import db
from ..models import CATEGORY_LABELS, ROLE_ADMIN, Cluster, Edition, Snapshot, Submission, User, local_now, to_local
from ..params import ParamError, clean_param, is_digits, parse_datetime, parse_id
from ..report.compare import compare_rounds
from ..report.definition import CODE_LABEL, get_report
from ..report.model import ROUND_LABELS, ROUNDS
from ..report.view import effective_answers
from ..web.forms import AppForm
from ..web.http import content_disposition
from ..web.security import audit, client_address, require_role
from ..workflow.deadlines import (
    effective_deadline,
    example_deadline,
    extend_deadline,
    extension_refusal,
    past_deadline_error,
    set_round_deadlines,
)
from ..workflow.snapshots import latest_snapshot
from ..workflow.states import MOVES_BY_KEY, STATES, MoveRefused, current_round, state_label
from .shared import send_snapshot_pdf

bp = Blueprint("results", __name__, url_prefix="/admin")
bp.before_request(require_role(ROLE_ADMIN))

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATETIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


# --- snapshots ---------------------------------------------------------------------------

def snapshots_of(sub: Submission) -> list[Snapshot]:
    return db.session.execute(
        db.select(Snapshot).filter_by(submission_id=sub.id).order_by(Snapshot.id.desc())
    ).scalars().all()


def snapshot_label(snap: Snapshot) -> str:
    return f"{ROUND_LABELS[snap.round]}提交快照 {to_local(snap.created_at):%Y-%m-%d %H:%M} {CODE_LABEL} {snap.code}"


@bp.route("/snapshots/<int:snapshot_id>")
def snapshot(snapshot_id):
    """A submitted report exactly as frozen: its answers, verification code, digest and evidence list."""
    snap = db.session.get(Snapshot, snapshot_id)
    if snap is None:
        abort(404)
    sub = get_submission(snap.submission_id, current_user)
    by = db.session.get(User, snap.created_by_id) if snap.created_by_id else None
    return render_template("admin/snapshot.html", snap=snap, sub=sub, by=by, report=get_report(snap.round),
                           label=snapshot_label(snap))


@bp.route("/snapshots/<int:snapshot_id>.pdf")
def snapshot_pdf(snapshot_id):
    """A snapshot's frozen answers as the report PDF, with the snapshot's 校验码."""
    snap = db.session.get(Snapshot, snapshot_id)
    if snap is None:
        abort(404)
    return send_snapshot_pdf(snap, get_submission(snap.submission_id, current_user))


# --- round comparison --------------------------------------------------------------------

def _source(sub: Submission, round_: str) -> tuple[str, dict, bool]:
    """(label, answers, exists) of a round: its latest snapshot, else the current answers."""
    snap = latest_snapshot(sub, round_)
    if snap is not None:
        return snapshot_label(snap), snap.answers, True
    return f"{ROUND_LABELS[round_]}当前草稿（未提交）", effective_answers(sub, round_), bool(sub.answers_for(round_))


@bp.route("/submissions/<int:submission_id>/compare")
def compare(submission_id):
    """What changed between the preliminary and the final report, field by field (?changed=1: changes only)."""
    sub = get_submission(submission_id, current_user)
    pre_label, pre_answers, _ = _source(sub, "preliminary")
    fin_label, fin_answers, has_final = _source(sub, "final")
    comparison = None
    if has_final:
        comparison = compare_rounds(pre_answers, fin_answers, sub.cluster.category, sub.edition.years)
    only_changed = request.args.get("changed") == "1"
    shown = comparison.only_changed() if comparison and only_changed else comparison
    return render_template("admin/compare.html", sub=sub, comparison=comparison, shown=shown,
                           only_changed=only_changed, pre_label=pre_label, fin_label=fin_label)


# --- the administrators' lists: filters kept across pages, Chinese names in pinyin order --

LIST_FILTERS = ("state", "category", "city", "q", "sort")
BACK_KEYS = LIST_FILTERS + ("page",)


def list_filters(values=None) -> dict:
    """The administrators' list filters (state, category, city, q, sort) of ``values`` (default:
    this request's query string)."""
    values = request.args if values is None else values
    return {k: clean_param(values.get(k), 64) for k in LIST_FILTERS}


#: the list's filters as the audit log words them (no English key or value reaches it)
FILTER_WORDS = {"state": "状态", "category": "类别", "city": "市州代码", "q": "搜索", "sort": "排序",
                "edition": "届次编号", "page": "页码"}
SORT_WORDS = {"name": "按名称（拼音）", "state": "按状态", "updated": "按更新时间"}


def filters_text(values) -> str:
    """The filters of a download in Chinese for its audit row (状态=入围决赛; 类别=…), or 全部."""
    words = []
    for key, value in values.items():
        if not value or key not in FILTER_WORDS:
            continue
        value = clean_param(value, 64)
        if key == "state":
            value = state_label(value) if value in STATES else value
        elif key == "category":
            value = CATEGORY_LABELS.get(value, value)
        elif key == "sort":
            value = SORT_WORDS.get(value, value)
        words.append(f"{FILTER_WORDS[key]}={value}")
    return "；".join(words) or "全部"


def list_query(values) -> str:
    """The list's filters and page as a query string, for a form's hidden ``back`` field."""
    return urlencode({k: clean_param(values.get(k), 64) for k in BACK_KEYS if values.get(k)})


def back_args(raw) -> dict:
    """The list arguments a ``back`` field carried: known keys only, cleaned (never a URL, so
    返回申报管理 cannot lead anywhere but the list)."""
    pairs = dict(parse_qsl(clean_param(raw, 512)))
    return {k: clean_param(pairs[k], 64) for k in BACK_KEYS if pairs.get(k)}


# Chinese names sort by pinyin (then tone), as Chinese readers expect; code-point order (what
# SQL's ORDER BY gives on SQLite, and on PostgreSQL without an ICU collation) is meaningless to
# them.  The order is computed in Python, not in SQL: SQLite (the default backend) has no Chinese
# collation, PostgreSQL's "zh-x-icu" exists only on servers built with ICU, and a stored sort-key
# column would need a migration.  It stays bounded: one statement reads (id, name) of the filtered
# rows (two short columns; a province has hundreds of clusters, not millions), a second loads the
# page's rows; pypinyin runs once per distinct name (lru_cache), so a page costs a sort of
# cached keys.
@lru_cache(maxsize=16384)
def pinyin_key(name: str) -> tuple:
    """The sort key of a Chinese name: its syllables with tone numbers, then the name itself."""
    return tuple(s.lower() for s in lazy_pinyin(name or "", style=Style.TONE3)), name or ""


def by_pinyin(items, name=lambda item: item.cluster.name) -> list:
    """``items`` in the pinyin order of their names."""
    return sorted(items, key=lambda item: pinyin_key(name(item)))


@dataclass
class ListPage:
    """One page of a list, with what templates ask of Flask-SQLAlchemy's pagination."""
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return -(-self.total // self.per_page)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def pinyin_page(query, page: int, per_page: int) -> ListPage:
    """A page of ``query`` (a filtered_submissions() select) in the pinyin order of the cluster
    names: two statements, whatever the number of rows."""
    rows = db.session.execute(query.with_only_columns(Submission.id, Cluster.name).order_by(None)).all()
    ordered = [sid for sid, name in sorted(rows, key=lambda row: (pinyin_key(row[1]), row[0]))]
    ids = ordered[(page - 1) * per_page:page * per_page]
    items = db.session.execute(query.where(Submission.id.in_(ids))).unique().scalars().all() if ids else []
    position = {sid: i for i, sid in enumerate(ids)}
    return ListPage(sorted(items, key=lambda s: position[s.id]), page, per_page, len(ordered))


# --- deadlines ---------------------------------------------------------------------------

def _deadline_hint() -> str:
    return f"例如 {example_deadline(local_now())}"


def _parse_until(field, label: str = "时间"):
    """The typed deadline, or None with a Chinese error added to ``field``."""
    try:  # ASCII digits, years 2000–2100
        return parse_datetime(field.data, DATETIME_FORMATS, label)
    except ParamError as exc:
        unreadable = str(exc).startswith("无法识别")  # its example is fixed: give one that is not past
        field.errors.append(f"无法识别的{label}，请按“{example_deadline(local_now())}”的格式填写。" if unreadable
                            else f"{exc}。")
        return None


class DeadlineForm(AppForm):
    deadline_until = StringField("延长至", validators=[DataRequired("请填写新的截止时间。")],
                                 render_kw={"type": "datetime-local"})
    deadline_reason = TextAreaField("延期原因", validators=[DataRequired("请填写延期原因。"),
                                                         Length(max=500, message="延期原因不能超过 500 字。")],
                                    render_kw={"rows": 2})


class RoundDeadlinesForm(AppForm):
    """One deadline field per round of the workflow (labels from the report's round labels)."""


for _round in ROUNDS:
    setattr(RoundDeadlinesForm, f"{_round}_deadline",
            StringField(f"{ROUND_LABELS[_round]}报告提交截止时间", render_kw={"type": "datetime-local"}))


def admin_extras(sub: Submission) -> dict:
    """What _submission_extras.html shows administrators: snapshots and the deadline form."""
    round_ = current_round(sub)
    snapshots = snapshots_of(sub)
    ids = {s.created_by_id for s in snapshots if s.created_by_id}
    users = db.session.execute(db.select(User).where(User.id.in_(ids))).scalars() if ids else []
    return {"snapshots": snapshots, "submitters": {u.id: u.display_name or u.username for u in users},
            "round": round_, "deadline": effective_deadline(sub, round_),
            "can_extend": STATES[sub.state].editable_round is not None,  # only while a report is being written
            "form": g.get("deadline_form") or DeadlineForm(formdata=None), "deadline_hint": _deadline_hint()}


def _validated_until(form, subs=()):
    """The new deadline of a valid DeadlineForm, or None with the errors on its fields: not
    in the past, and (for one submission) after its current deadline."""
    until = _parse_until(form.deadline_until)
    if until is None:
        return None
    error = past_deadline_error(until, local_now())
    if error is None and len(subs) == 1:
        error = extension_refusal(subs[0], until)
    if error:
        form.deadline_until.errors.append(error)
        return None
    return until


@bp.route("/submissions/<int:submission_id>/deadline", methods=["POST"])
def deadline(submission_id):
    """Extend the submission's deadline for its current round; bad input shows the form again on
    a page of its own, the errors summarised at the top."""
    sub = get_submission(submission_id, current_user)
    round_ = current_round(sub)
    form = DeadlineForm()
    until = _validated_until(form, [sub]) if form.validate_on_submit() else None
    if until is not None:
        try:
            extend_deadline(sub, current_user._get_current_object(), until, form.deadline_reason.data,
                            client_address())
        except MoveRefused as refused:
            db.session.rollback()
            form.deadline_reason.errors.append(refused.message)
        else:
            flash(f"{ROUND_LABELS[round_]}截止时间已延长至 {until:%Y-%m-%d %H:%M}。", "success")
            return redirect(url_for("admin.submission", submission_id=sub.id))
    return render_template("admin/deadline.html", form=form, subs=[sub], sub=sub, hint=_deadline_hint(),
                           action=url_for("results.deadline", submission_id=sub.id), back={},
                           deadline=effective_deadline(sub, round_), round_label=ROUND_LABELS[round_])


def selected_submissions(raw_ids) -> tuple[list[Submission], list[str]]:
    """The ticked submissions this administrator may see, in the order ticked (one statement),
    and the ticked values that name none."""
    wanted = [(raw, parse_id(raw)) for raw in raw_ids if is_digits(raw)][:500]  # ASCII ids only
    ids = [sid for _, sid in wanted if sid]  # None beyond 2³¹−1: no such row, no query PostgreSQL refuses
    found = {s.id: s for s in db.session.execute(
        visible_submissions(current_user).where(Submission.id.in_(ids))).unique().scalars()} if ids else {}
    subs = list(dict.fromkeys(found[sid] for sid in ids if sid in found))
    missing = [f"#{raw}" for raw, sid in wanted if sid not in found]
    return subs, missing


@bp.route("/submissions/deadline", methods=["POST"])
def bulk_deadline():
    """Extend the deadline of the submissions ticked on the list: the first POST (from the list)
    shows the form, the second (with ``confirm``) extends each one it may and says why not the rest."""
    back = back_args(request.form.get("back"))
    subs, missing = selected_submissions(request.form.getlist("ids"))
    if not subs:
        flash("请先在列表中勾选要延长截止时间的申报。", "error")
        return redirect(url_for("admin.submissions", **back))
    form = DeadlineForm(formdata=request.form if request.form.get("confirm") else None)
    until = _validated_until(form) if request.form.get("confirm") and form.validate_on_submit() else None
    if until is None:
        return render_template("admin/deadline.html", form=form, subs=subs, sub=None, hint=_deadline_hint(),
                               action=url_for("results.bulk_deadline"), back=back, back_query=urlencode(back),
                               deadlines={s.id: effective_deadline(s, current_round(s)) for s in subs})
    actor, done, refused = current_user._get_current_object(), [], [(raw, "不存在或无权操作") for raw in missing]
    for sub in subs:
        why = extension_refusal(sub, until)
        if why:
            refused.append((sub.cluster.name, why))
        else:
            extend_deadline(sub, actor, until, form.deadline_reason.data, client_address(), commit=False)
            done.append(sub.cluster.name)
    db.session.commit()
    return render_template("admin/bulk_result.html", title=f"延长截止时间至 {until:%Y-%m-%d %H:%M}",
                           moved=done, refused=refused, back=back)


def _round_changes(form, edition: Edition) -> dict:
    """{round: new deadline} of the rounds whose field changed; errors go onto the fields."""
    now, changes = local_now(), {}
    for round_ in ROUNDS:
        field, before = form[f"{round_}_deadline"], edition.deadline(round_)
        until = _parse_until(field, field.label.text)
        if until is None:
            if before is not None and not field.errors:
                field.errors.append(f"请填写{field.label.text}。")
            continue
        if until != before:
            error = past_deadline_error(until, now)
            if error:
                field.errors.append(error)
            else:
                changes[round_] = until
    first, last = (changes.get(r, edition.deadline(r)) for r in ROUNDS)
    if first and last and last <= first and not any(form[f"{r}_deadline"].errors for r in ROUNDS):
        last_field = form[f"{ROUNDS[-1]}_deadline"]
        last_field.errors.append(f"{last_field.label.text}必须晚于{form[f'{ROUNDS[0]}_deadline'].label.text}。")
    return changes


@bp.route("/deadlines", methods=["GET", "POST"])
def round_deadlines():
    """Each round's deadline of the current edition: set or changed, each change audited."""
    edition = current_edition()
    if edition is None:
        abort(404)
    current = {f"{r}_deadline": f"{d:%Y-%m-%dT%H:%M}" for r in ROUNDS if (d := edition.deadline(r))}
    form = RoundDeadlinesForm(data=current)
    if form.validate_on_submit():
        changes = _round_changes(form, edition)
        if not any(form[f"{r}_deadline"].errors for r in ROUNDS):
            set_round_deadlines(edition, changes, current_user._get_current_object(), client_address())
            saved = "；".join(f"{ROUND_LABELS[r]} {d:%Y-%m-%d %H:%M}" for r, d in changes.items())
            flash(f"截止时间已保存：{saved}。" if changes else "截止时间没有变化。", "success" if changes else "info")
            return redirect(url_for("results.round_deadlines"))
    return render_template("admin/deadlines.html", form=form, edition=edition, hint=_deadline_hint(),
                           rounds=[(r, ROUND_LABELS[r], edition.deadline(r)) for r in ROUNDS])


# --- result list and downloads -----------------------------------------------------------

def _edition_id() -> int | None:
    """``?edition=``: None when not given; an id that cannot exist (not ASCII digits, beyond
    2³¹−1) answers 404 like a missing edition."""
    raw = request.args.get("edition", "")
    if not raw:
        return None
    edition_id = parse_id(raw)
    if edition_id is None:
        abort(404)
    return edition_id


def _edition() -> Edition:
    edition_id = _edition_id()
    edition = db.session.get(Edition, edition_id) if edition_id else current_edition()
    if edition is None:
        abort(404)
    return edition


def xlsx_response(data: bytes, filename: str) -> Response:
    return Response(data, mimetype=XLSX, headers={"Content-Disposition": content_disposition(filename)})


@bp.route("/results")
def results():
    """The recognised clusters of an edition, grouped and numbered like 附件3."""
    editions = db.session.execute(db.select(Edition).order_by(Edition.id.desc())).scalars().all()
    award = MOVES_BY_KEY["award"]  # the move that puts a cluster on the list (the workflow's table)
    return render_template("admin/results.html", results=result_list(_edition(), current_user), editions=editions,
                           awarded_label=state_label(AWARDED_STATE), award=award,
                           award_source_label=state_label(award.source))


@bp.route("/results.xlsx")
def results_xlsx():
    results = result_list(_edition(), current_user)
    audit("export", "results.xlsx", f"{results.edition.name}；{results.total} 个集群")
    db.session.commit()
    return xlsx_response(result_list_xlsx(results), result_list_filename(results))


def sorted_like_the_list(subs: list, filters: dict) -> list:
    """An export's rows in the list's order: by the pinyin of the cluster names when the list
    sorts by name (the SQL order is by character code)."""
    return by_pinyin(subs) if filters.get("sort") in ("", "name") else subs


@bp.route("/submissions.xlsx")
def submissions_export():
    """The submissions summary with the same filters as the administrators' list."""
    args = request.args
    edition_id = _edition_id()
    filters = list_filters()
    query = filtered_submissions(current_user, edition_id=edition_id, **filters)
    subs = sorted_like_the_list(db.session.execute(query).scalars().all(), filters)
    audit("export", "submissions.xlsx", f"{filters_text(args)}；{len(subs)} 条")
    db.session.commit()
    return xlsx_response(submissions_xlsx(subs), submissions_filename(local_now()))


def summary_download(subs, round_: str, edition: Edition, *, filters: dict | None = None,
                     scope: str = "全省") -> Response:
    """The summary workbook (汇总表) of the round's reports of ``subs``, audited: one download
    for the administrators' list and the county reviewer's queue."""
    now = local_now()
    data, n = summary_xlsx(subs, round_, edition, now=now, filters=filters, scope=scope)
    audit("export", f"summary-{round_}.xlsx", f"汇总表（{ROUND_LABELS[round_]}报告）；{edition.name}；{scope}；"
                                    f"{filters_text(filters or {})}；{n} 份报告")
    db.session.commit()
    return xlsx_response(data, summary_filename(round_, now))


@bp.route("/summary/<round_>.xlsx")
def summary_export(round_):
    """The summary workbook of one round (初赛 or 决赛 report) for the submissions the list's
    filters select, in one edition (``?edition=``, else the current one)."""
    if round_ not in ROUNDS:
        abort(404)
    edition = _edition()
    filters = list_filters()
    query = filtered_submissions(current_user, edition_id=edition.id, answers=True, **filters)  # the summary reads them
    subs = db.session.execute(query).scalars().all()
    return summary_download(sorted_like_the_list(subs, filters), round_, edition, filters=filters)
