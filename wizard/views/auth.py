"""Login, logout, password change."""
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, logout_user
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..extensions import db
from ..forms import AppForm
from ..models import MIN_PASSWORD_LENGTH, LoginAttempt, User, utcnow
from ..security import audit, client_address, start_session

bp = Blueprint("auth", __name__)


class LoginForm(AppForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名。"), Length(max=64, message="用户名不超过 64 个字符。")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码。"), Length(max=1024, message="密码过长。")])


class PasswordForm(AppForm):
    current = PasswordField("当前密码", validators=[DataRequired("请输入当前密码。")])
    new = PasswordField(
        "新密码",
        validators=[
            DataRequired("请输入新密码。"),
            Length(min=MIN_PASSWORD_LENGTH, max=1024, message=f"新密码至少 {MIN_PASSWORD_LENGTH} 个字符。"),
        ],
    )
    confirm = PasswordField("确认新密码", validators=[EqualTo("new", "两次输入的新密码不一致。")])


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: no scheme, no host, no '//' or backslash tricks."""
    if not target:
        return None
    target = target.strip()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def home_for(user) -> str:
    return url_for({"applicant": "applicant.tasks", "county": "county.queue", "admin": "admin.dashboard"}[user.role])


def _throttled(username: str) -> bool:
    cfg = current_app.config
    since = utcnow() - cfg["LOGIN_THROTTLE_WINDOW"]
    q = db.select(db.func.count()).select_from(LoginAttempt).where(
        LoginAttempt.success.is_(False), LoginAttempt.at >= since
    )
    per_account = db.session.execute(q.where(LoginAttempt.username == username)).scalar_one()
    per_address = db.session.execute(q.where(LoginAttempt.address == client_address())).scalar_one()
    return per_account >= cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"] or per_address >= cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in.  Throttled per account and per address, counts in the database."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        username = form.username.data.strip()
        minutes = int(current_app.config["LOGIN_THROTTLE_WINDOW"] / timedelta(minutes=1))
        if _throttled(username):
            error = f"登录失败次数过多，请 {minutes} 分钟后再试。"
            audit("login_throttled", username, user=False)
            db.session.commit()
        else:
            user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
            if user is None or not user.check_password(form.password.data) or not user.active:
                error = "用户名或密码错误，或账号已停用。"
                db.session.add(LoginAttempt(username=username[:64], address=client_address(), success=False))
                audit("login_failed", username, user=False)
                db.session.commit()
                current_app.logger.warning("Failed login for %r from %s", username, client_address())
            else:
                db.session.add(LoginAttempt(username=username, address=client_address(), success=True))
                audit("login", username, user=user)
                start_session(user)
                from ..pending import take_pending_save

                pending = take_pending_save()
                db.session.commit()
                if pending is not None and user.is_applicant:
                    from .applicant import resume_pending

                    return resume_pending(pending)
                flash(f"欢迎，{user.display_name or user.username}。", "success")
                return redirect(safe_next(request.args.get("next")) or home_for(user))
    return render_template("auth/login.html", form=form, error=error)


@bp.route("/logout", methods=["POST"])
def logout():
    """Log out and end every session of this account."""
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        user.end_sessions()
        audit("logout", user.username, user=user)
        db.session.commit()
        logout_user()
    flash("您已退出登录。", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    """Change one's own password; every other session of the account ends."""
    form = PasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if not user.check_password(form.current.data):
            form.current.errors.append("当前密码不正确。")
        else:
            user.set_password(form.new.data)
            audit("password_changed", user.username)
            db.session.commit()
            start_session(user)  # keep this browser logged in with the new token
            flash("密码已修改。其他设备上的登录已失效。", "success")
            return redirect(home_for(user))
    return render_template("auth/password.html", form=form)
