"""The provincial department: dashboard, submissions and rounds, accounts, clusters."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..access import current_edition, filtered_submissions, get_submission, submission_counts, visible_submissions
from ..accounts import bind_account, ensure_submissions
from ..extensions import db
from ..models import CATEGORY_LABELS, MIN_PASSWORD_LENGTH, ROLE_ADMIN, ROLE_LABELS, Cluster, Region, Submission, User
from ..params import choice_id, clean_param, is_digits, parse_id, parse_page
from ..pdf.status import font_status_message
from ..web.forms import AppForm
from ..web.security import audit, client_address, require_role
from ..workflow.moves import apply_move
from ..workflow.states import MOVES, STATES, MoveRefused
from .results import admin_extras
from .shared import submission_page

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role(ROLE_ADMIN))


def _regions():
    return db.session.execute(db.select(Region).order_by(Region.code)).scalars().all()


def _clusters():
    return db.session.execute(db.select(Cluster).order_by(Cluster.category, Cluster.id)).scalars().all()


@bp.route("/")
def dashboard():
    """Counts per state, per category and per city."""
    edition = current_edition()
    counts = submission_counts(current_user, edition.id if edition else None)
    return render_template("admin/dashboard.html", edition=edition, total=counts["total"], by_state=counts["state"],
                           by_category=counts["category"], by_city=sorted(counts["city"].items()), states=STATES,
                           categories=CATEGORY_LABELS, font_message=font_status_message())


@bp.route("/submissions")
def submissions():
    """All submissions with filters, search, sorting and pagination; bulk moves."""

    args = request.args
    q = filtered_submissions(current_user, state=args.get("state", ""), category=args.get("category", ""),
                             city=clean_param(args.get("city"), 64), q=args.get("q", ""), sort=args.get("sort", "name"))
    page = db.paginate(q, page=parse_page(args.get("page")), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    cities = db.session.execute(db.select(Region).where(Region.level.in_(("province", "city"))).order_by(Region.code)).scalars().all()
    return render_template("admin/submissions.html", page=page, states=STATES, categories=CATEGORY_LABELS,
                           cities=cities, moves=[m for m in MOVES if m.role == ROLE_ADMIN], args=request.args,
                           qargs={k: v for k, v in request.args.items() if k != "page"})


@bp.route("/submissions/bulk", methods=["POST"])
def bulk_move():
    """One move applied to many submissions, each checked on its own."""
    move = request.form.get("move", "")
    comment = request.form.get("comment")
    ids = [x for x in request.form.getlist("ids") if is_digits(x)][:500]  # boxes of the list: ASCII ids
    moved, refused = [], []
    for raw in ids:
        sid = parse_id(raw)  # None beyond 2³¹−1: no such submission, and no query PostgreSQL refuses
        query = visible_submissions(current_user).where(Submission.id == sid)
        sub = db.session.execute(query).scalar_one_or_none() if sid else None
        if sub is None:
            refused.append((f"#{sid or raw}", "不存在或无权操作"))
            continue
        try:
            apply_move(sub, move, current_user._get_current_object(), comment=comment, address=client_address())
            moved.append(sub.cluster.name)
        except MoveRefused as exc:
            refused.append((sub.cluster.name, exc.message))
    return render_template("admin/bulk_result.html", moved=moved, refused=refused)


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
    users = db.session.execute(db.select(User).order_by(User.role, User.username)).scalars().all()
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
