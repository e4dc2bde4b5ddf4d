"""The provincial department: dashboard, submissions and rounds, accounts, clusters."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..access import current_edition, filtered_submissions, get_submission, submission_counts
from ..accounts import bind_account, ensure_submissions
from ..extensions import db
from ..models import CATEGORY_LABELS, MIN_PASSWORD_LENGTH, ROLE_ADMIN, ROLE_LABELS, Cluster, Region, User
from ..params import choice_id, parse_page
from ..pdf.status import font_status_message
from ..web.forms import AppForm
from ..web.security import audit, client_address, require_role
from ..workflow.moves import apply_move
from ..workflow.states import MOVES, MOVES_BY_KEY, STATES, MoveRefused, state_label
from .results import (
    admin_extras,
    back_args,
    list_filters,
    list_query,
    pinyin_key,
    pinyin_page,
    selected_submissions,
)
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
    return render_template("admin/dashboard.html", edition=edition, total=counts["total"], by_state=counts["state"],
                           by_category=counts["category"], by_city=sorted(counts["city"].items()), states=STATES,
                           categories=CATEGORY_LABELS, font_message=font_status_message())


#: the moves the list offers for ticked rows: the administrator's moves of the workflow's table
BULK_MOVES = tuple(m for m in MOVES if m.role == ROLE_ADMIN)


def _list_page(query, sort: str):
    page, per_page = parse_page(request.args.get("page")), current_app.config["PAGE_SIZE"]
    if sort in ("", "name"):
        return pinyin_page(query, page, per_page)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


@bp.route("/submissions")
def submissions():
    """All submissions with filters, search, sorting (names by pinyin) and pagination; bulk moves
    and deadline extensions for the ticked rows.  Without JavaScript the list offers the moves that
    apply to at least one row of the page; admin.js narrows them to the ticked rows."""
    filters = list_filters()
    page = _list_page(filtered_submissions(current_user, **filters), filters["sort"])
    on_page = {s.state for s in page.items}
    cities = db.session.execute(db.select(Region).where(Region.level.in_(("province", "city"))).order_by(Region.code)).scalars().all()
    return render_template("admin/submissions.html", page=page, states=STATES, categories=CATEGORY_LABELS,
                           cities=cities, moves=[m for m in BULK_MOVES if m.source in on_page], args=request.args,
                           qargs={k: v for k, v in request.args.items() if k != "page"},
                           back=list_query(request.args))


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
    moved, refused = [], [(raw, "不存在或无权操作") for raw in missing]
    for sub in subs:
        name = sub.cluster.name  # read before the move: a refused move rolls the session back
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
                           refused=refused, back=back)


@bp.route("/submissions/<int:submission_id>")
def submission(submission_id):
    sub = get_submission(submission_id, current_user)
    return submission_page(sub, extras=admin_extras(sub))


# --- accounts ---------------------------------------------------------------------------

class AccountForm(AppForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名。"), Length(min=3, max=64, message="用户名为 3–64 个字符。")])
    display_name = StringField("姓名或单位", validators=[Length(max=128)])
    email = StringField("电子邮箱", validators=[Optional(), Length(max=256)])
    role = SelectField("角色", choices=list(ROLE_LABELS.items()))
    cluster_id = SelectField("所属集群（申报单位）", coerce=choice_id)
    region_id = SelectField("所属政府（审核人）", coerce=choice_id)
    password = PasswordField("密码", validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=1024,
                                                                      message=f"密码至少 {MIN_PASSWORD_LENGTH} 个字符。")])
    active = BooleanField("启用", default=True)

    def fill_choices(self):
        self.cluster_id.choices = [(0, "—")] + [(c.id, c.name) for c in _clusters()]
        self.region_id.choices = [(0, "—")] + [(r.id, r.full_name) for r in _regions()]


def _apply_account(form, user: User) -> str | None:
    """Copy form values onto a user; returns a Chinese error or None."""

    return bind_account(user, role=form.role.data, cluster_id=form.cluster_id.data or None,
                        region_id=form.region_id.data or None)


@bp.route("/accounts")
def accounts():
    """Accounts by role (applicants, county reviewers, administrators), then in the pinyin order
    of their names (or user names)."""
    users = db.session.execute(db.select(User).options(*USER_BINDINGS)).scalars().all()
    roles = list(ROLE_LABELS)
    users.sort(key=lambda u: (roles.index(u.role) if u.role in roles else len(roles),
                              pinyin_key(u.display_name or u.username), u.username))
    return render_template("admin/accounts.html", users=users)


@bp.route("/accounts/new", methods=["GET", "POST"])
@bp.route("/accounts/<int:user_id>", methods=["GET", "POST"])
def account(user_id=None):
    """Create or edit an account; disabling it ends its sessions."""
    user = db.session.get(User, user_id) if user_id else None
    if user_id and user is None:
        abort(404)
    form = AccountForm(obj=user)
    form.fill_choices()
    if request.method == "GET" and user:
        form.cluster_id.data = user.cluster_id or 0
        form.region_id.data = user.region_id or 0
    if form.validate_on_submit():
        username = form.username.data.strip()
        clash = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
        if clash and clash is not user:
            form.username.errors.append("该用户名已被使用。")
        elif user is None and not form.password.data:
            form.password.errors.append("新账号需要设置初始密码。")
        else:
            target = user or User(username=username, role=form.role.data)
            target.username = username
            target.display_name = (form.display_name.data or "").strip()
            target.email = (form.email.data or "").strip()
            error = _apply_account(form, target)
            if error:
                form.role.errors.append(error)
            else:
                if form.password.data:
                    target.set_password(form.password.data)
                if target.active and not form.active.data:
                    target.end_sessions()
                target.active = bool(form.active.data)
                if user is None:
                    db.session.add(target)
                audit("account_saved", username)
                db.session.commit()
                flash("账号已保存。", "success")
                return redirect(url_for("admin.accounts"))
    return render_template("admin/account.html", form=form, user=user)


# --- clusters ---------------------------------------------------------------------------

class ClusterForm(AppForm):
    name = StringField("集群名称", validators=[DataRequired("请输入集群名称。"), Length(max=128)])
    category = SelectField("申报类别", choices=list(CATEGORY_LABELS.items()))
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
    form.region_id.choices = [(r.id, r.full_name) for r in _regions()]
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
