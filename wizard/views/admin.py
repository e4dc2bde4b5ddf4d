"""The provincial department: dashboard, submissions and rounds, accounts, clusters."""
from functools import partial
from typing import NamedTuple

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..access import current_edition, get_submission, list_filter, run_filtered, submission_counts
from ..accounts import (
    PASSWORD_STATUS_LABELS,
    bind_account,
    contact_problem,
    ensure_submissions,
    issue_one_time_password,
    password_status,
)
from ..extensions import db
from ..models import (
    CATEGORY_LABELS,
    EXPERT_CATEGORY_LABELS,
    MIN_PASSWORD_LENGTH,
    ROLE_ADMIN,
    ROLE_LABELS,
    Cluster,
    HistoryEntry,
    Region,
    User,
)
from ..params import choice_id, parse_page
from ..pdf.status import font_status_message
from ..web.forms import AppForm
from ..web.lists import (
    back_args,
    id_links,
    list_filters,
    list_query,
    pinyin_key,
    pinyin_page,
    selected_submissions,
    sorted_page,
)
from ..web.security import audit, client_address, require_role
from ..web.templating import state_badge, url_once
from ..workflow.moves import apply_move
from ..workflow.states import MOVES, MOVES_BY_KEY, STATES, MoveRefused, state_label
from .accounts import ACCOUNT_STATUSES, BULK_ACTIONS, account_filters, filtered_accounts, letters_page
from .deadlines import admin_extras
from .shared import submission_page

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role(ROLE_ADMIN))


def _regions():
    return db.session.execute(db.select(Region).order_by(Region.code)).scalars().all()


#: what the cluster and account lists show of each row, loaded with the list (no query per row)
CLUSTER_REGION = selectinload(Cluster.region)
USER_BINDINGS = (selectinload(User.cluster), selectinload(User.region))


def _clusters():
    """Every cluster, by category, then in the pinyin order of the names."""
    clusters = db.session.execute(db.select(Cluster).options(CLUSTER_REGION)).scalars().all()
    return sorted(clusters, key=lambda c: (list(CATEGORY_LABELS).index(c.category), pinyin_key(c.name)))


@bp.route("/")
def dashboard():
    """Counts per state, per category and per city."""
    edition = current_edition()
    counts = submission_counts(current_user, edition.id if edition else None)
    by_city, provincial = city_counts(counts["city"])
    # rows of (link to the list filtered so, label, count), ready to print
    by_state = [(url_once("admin.submissions", state=key), st.label, counts["state"].get(key, 0))
                for key, st in STATES.items()]
    by_category = [(url_once("admin.submissions", category=key), label, counts["category"].get(key, 0))
                   for key, label in CATEGORY_LABELS.items()]
    by_city = [(url_once("admin.submissions", city=city.code) if n else None, city.name, n) for city, n in by_city]
    return render_template("admin/dashboard.html", edition=edition, total=counts["total"], by_state=by_state,
                           by_category=by_category, by_city=by_city, provincial=provincial,
                           font_message=font_status_message())


#: the 14 市州 in code order: their ids, names and codes (a statement built once)
CITIES = db.select(Region.id, Region.name, Region.code).filter_by(level="city").order_by(Region.code)


def city_counts(by_id: dict) -> tuple[list, int]:
    """([(city (its id, name and code), count)] of the 14 市州 in code order, the count filed
    under the province itself), of counts by city region id: 湖南省 is not a city, and each
    count links to the list filtered by its city."""
    cities = db.session.execute(CITIES).all()
    ids = {c.id for c in cities}
    provincial = sum(n for city_id, n in by_id.items() if city_id not in ids)
    return [(c, by_id.get(c.id, 0)) for c in cities], provincial


#: the moves the list offers for ticked rows: the administrator's moves of the workflow's table
BULK_MOVES = tuple(m for m in MOVES if m.role == ROLE_ADMIN)


#: the list's choice of cities (the province, then the 市州): a statement built once
LIST_CITIES = db.select(Region).where(Region.level.in_(("province", "city"))).order_by(Region.code)


def _list_page(user, filters: dict):
    """This request's page of the list (page number from the query string)."""
    page, per_page = parse_page(request.args.get("page")), current_app.config["PAGE_SIZE"]
    run = partial(run_filtered, user, list_filter(**filters))
    if filters["sort"] in ("", "name"):
        return pinyin_page(run, page, per_page)
    return sorted_page(run, page, per_page, times_with_ids=filters["sort"] == "updated")


@bp.route("/submissions")
def submissions():
    """All submissions with filters, search, sorting (names by pinyin) and pagination; bulk moves
    and deadline extensions for the ticked rows.  Without JavaScript the list offers the moves that
    apply to at least one row of the page; admin.js narrows them to the ticked rows."""
    filters = list_filters()
    cities = db.session.execute(LIST_CITIES).scalars().all()
    page = _list_page(current_user, filters)
    on_page = {state for _, state, *_ in page.items}
    return render_template("admin/submissions.html", page=page, rows=list_rows(page.items), states=STATES,
                           categories=CATEGORY_LABELS, cities=cities,
                           moves=[m for m in BULK_MOVES if m.source in on_page], args=request.args,
                           qargs={k: v for k, v in request.args.items() if k != "page"},
                           back=list_query(request.args))


class ListRow(NamedTuple):
    """What a row of the list shows of a submission, ready to print."""
    id: int
    state: str
    name: Markup  # the cluster's name, escaped once (the row shows it three times)
    category: str
    region: str
    badge: Markup
    updated: str
    link: str
    pdf_link: str


def list_rows(rows) -> list[ListRow]:
    """The list's rows (of page_rows' columns), ready to print: built here, not by macros and
    filters in the template's loop (a page of rows cost 40 url_for calls and thousands of
    template calls; the output is the same)."""
    link, pdf_link = id_links("admin.submission"), id_links("main.report_pdf_of")
    local = current_app.jinja_env.filters["local"]
    badges = {}
    out = []
    for sid, state, updated_at, name, category, region in rows:
        badge = badges.get(state)
        if badge is None:
            badge = badges[state] = state_badge(state)
        out.append(ListRow(sid, state, escape(name), CATEGORY_LABELS[category], region, badge, local(updated_at),
                           link(sid), pdf_link(sid)))
    return out


def already_moved(sub, move) -> bool:
    """Did ``move`` itself put ``sub`` where it stands (a bulk move cut short and run again)?"""
    if sub.state != move.target or sub.state == move.source:
        return False
    last = db.session.execute(db.select(HistoryEntry.move).filter_by(submission_id=sub.id)
                              .order_by(HistoryEntry.id.desc()).limit(1)).scalar_one_or_none()
    return last == move.key


def bulk_refusal(sub, move) -> str | None:
    """Why ``move`` does not apply to ``sub`` as it stands, in the words of the workflow's table."""
    if sub.state != move.source:
        return (f"当前状态为「{state_label(sub.state)}」，「{move.label}」只适用于"
                f"「{state_label(move.source)}」状态的申报。")
    return None


@bp.route("/submissions/bulk", methods=["POST"])
def bulk_move():
    """One move applied to the ticked submissions, each checked on its own; the result names each
    cluster, and for each one not moved, why."""
    back = back_args(request.form.get("back"))
    move = MOVES_BY_KEY.get(request.form.get("move", ""))
    subs, missing = selected_submissions(request.form.getlist("ids"))
    if not subs and not missing:
        flash("请先勾选要操作的申报。", "error")
        return redirect(url_for("admin.submissions", **back))
    if move is None or move not in BULK_MOVES:
        flash("请选择要执行的操作。", "error")
        return redirect(url_for("admin.submissions", **back))
    comment, actor = request.form.get("comment"), current_user._get_current_object()
    moved, already, refused = [], [], [(raw, "不存在或无权操作") for raw in missing]
    for sub in subs:  # each move commits on its own: a run cut short is safe to run again
        name = sub.cluster.name  # read before the move: a refused move rolls the session back
        if already_moved(sub, move):
            already.append(name)
            continue
        why = bulk_refusal(sub, move)
        if why is None:
            try:
                apply_move(sub, move.key, actor, comment=comment, address=client_address())
            except MoveRefused as exc:
                why = exc.message
        if why:
            refused.append((name, why))
        else:
            moved.append(name)
    return render_template("admin/bulk_result.html", title=f"批量操作结果：{move.label}", moved=moved,
                           refused=refused, back=back, already=already,
                           already_label=f"此前已执行「{move.label}」，本次未重复执行")


@bp.route("/submissions/<int:submission_id>")
def submission(submission_id):
    sub = get_submission(submission_id, current_user)
    return submission_page(sub, extras=admin_extras(sub))


# --- accounts (issue #26: several people per organisation, one-time passwords) ---------------

class AccountForm(AppForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名。"), Length(min=3, max=64, message="用户名为 3–64 个字符。")])
    display_name = StringField("姓名", validators=[Length(max=128)])
    phone = StringField("手机", validators=[Optional(), Length(max=32)])
    email = StringField("电子邮箱", validators=[Optional(), Length(max=256)])
    role = SelectField("角色", choices=[SelectChoice(k, v) for k, v in ROLE_LABELS.items()])
    cluster_id = SelectField("所属集群（申报单位）", coerce=choice_id)
    region_id = SelectField("所属政府（审核人）或所在市州（评审专家）", coerce=choice_id)
    employer = StringField("工作单位（评审专家）", validators=[Length(max=128)])
    expert_categories = SelectField("擅长类别（评审专家）",
                                    choices=[SelectChoice("", "—")]
                                    + [SelectChoice(k, v) for k, v in EXPERT_CATEGORY_LABELS.items()],
                                    validate_choice=False)  # bind_account checks it, for experts only
    password = PasswordField("指定密码（不推荐）", validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=1024,
                                                                      message=f"密码至少 {MIN_PASSWORD_LENGTH} 个字符。")])
    active = BooleanField("启用", default=True)

    def fill_choices(self):
        self.cluster_id.choices = [SelectChoice(0, "—")] + [SelectChoice(c.id, c.name) for c in _clusters()]
        self.region_id.choices = [SelectChoice(0, "—")] + [SelectChoice(r.id, r.full_name) for r in _regions()]


def _apply_account(form, user: User) -> str | None:
    """Copy form values onto a user; returns a Chinese error or None."""
    problem = contact_problem(form.phone.data, form.email.data)
    if problem:
        return problem
    user.phone, user.email = (form.phone.data or "").strip(), (form.email.data or "").strip()
    return bind_account(user, role=form.role.data, cluster_id=form.cluster_id.data or None,
                        region_id=form.region_id.data or None, employer=form.employer.data,
                        expert_categories=form.expert_categories.data or None)


@bp.route("/accounts")
def accounts():
    """Accounts with filters (role, region, cluster, status, search), in pinyin order of the
    organisation and then the person; bulk disable / enable / reset; the Excel list."""
    f = account_filters(request.args)
    users = filtered_accounts(f)
    cities = [r for r in _regions() if r.level in ("province", "city")]
    return render_template("admin/accounts.html", users=users, f=f, roles=ROLE_LABELS, cities=cities,
                           clusters=_clusters(), statuses=ACCOUNT_STATUSES, status_of=password_status,
                           status_labels=PASSWORD_STATUS_LABELS, categories=EXPERT_CATEGORY_LABELS,
                           args={k: v for k, v in f.items() if v}, bulk_actions=BULK_ACTIONS)


def _save_account(form, user: User | None):
    """Validate and save the form; a new account (without a typed password) gets a one-time
    password and its letter.  Returns a response, or None to show the form again."""
    username = form.username.data.strip()
    clash = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
    if clash and clash is not user:
        form.username.errors.append("该用户名已被使用。")
        return None
    target = user or User(username=username, role=form.role.data)
    target.username = username
    target.display_name = (form.display_name.data or "").strip()
    error = _apply_account(form, target)
    if error:
        form.role.errors.append(error)
        db.session.rollback()
        return None
    password = None
    if form.password.data:
        target.set_password(form.password.data)
    elif user is None:
        password = issue_one_time_password(target)
    if target.active and not form.active.data:
        target.end_sessions()
    target.active = bool(form.active.data)
    if user is None:
        db.session.add(target)
    audit("account_saved", username)
    db.session.commit()
    if password:
        return letters_page([(target, password)], f"已新建账号：{username}")
    flash("账号已保存。", "success")
    return redirect(url_for("admin.accounts"))


@bp.route("/accounts/new", methods=["GET", "POST"])
@bp.route("/accounts/<int:user_id>", methods=["GET", "POST"])
def account(user_id=None):
    """Create or edit an account; disabling it ends its sessions.  A new account gets a
    one-time password and its letter (账号通知书), unless a password is typed."""
    user = db.session.get(User, user_id) if user_id else None
    if user_id and user is None:
        abort(404)
    form = AccountForm(obj=user)
    form.fill_choices()
    if request.method == "GET" and user:
        form.cluster_id.data = user.cluster_id or 0
        form.region_id.data = user.region_id or 0
        form.expert_categories.data = user.expert_categories or ""
    if form.validate_on_submit():
        response = _save_account(form, user)
        if response is not None:
            return response
    return render_template("admin/account.html", form=form, user=user,
                           password_status=PASSWORD_STATUS_LABELS[password_status(user)] if user else "")


# --- clusters ---------------------------------------------------------------------------

class ClusterForm(AppForm):
    name = StringField("集群名称", validators=[DataRequired("请输入集群名称。"), Length(max=128)])
    category = SelectField("申报类别", choices=[SelectChoice(k, v) for k, v in CATEGORY_LABELS.items()])
    region_id = SelectField("审核政府（集群所在地县以上人民政府）", coerce=choice_id)
    designation = StringField("认定情况", validators=[Length(max=64)])
    active = BooleanField("有效", default=True)


@bp.route("/clusters")
def clusters():
    return render_template("admin/clusters.html", clusters=_clusters())


@bp.route("/clusters/new", methods=["GET", "POST"])
@bp.route("/clusters/<int:cluster_id>", methods=["GET", "POST"])
def cluster(cluster_id=None):
    """Add or edit a cluster; a new cluster gets its submission in the current edition."""
    obj = db.session.get(Cluster, cluster_id) if cluster_id else None
    if cluster_id and obj is None:
        abort(404)
    form = ClusterForm(obj=obj)
    form.region_id.choices = [SelectChoice(r.id, r.full_name) for r in _regions()]
    if form.validate_on_submit():
        name = form.name.data.strip()
        clash = db.session.execute(db.select(Cluster).filter_by(name=name)).scalar_one_or_none()
        if clash and clash is not obj:
            form.name.errors.append("已有同名集群。")
        else:
            target = obj or Cluster(name=name, category=form.category.data, region_id=form.region_id.data)
            target.name, target.category, target.region_id = name, form.category.data, form.region_id.data
            target.designation = (form.designation.data or "").strip()
            target.active = bool(form.active.data)
            if obj is None:
                db.session.add(target)
                db.session.flush()

                ensure_submissions()
            audit("cluster_saved", name)
            db.session.commit()
            flash("集群已保存。", "success")
            return redirect(url_for("admin.clusters"))
    return render_template("admin/cluster.html", form=form, cluster=obj)
