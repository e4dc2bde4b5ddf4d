"""Login, logout, password change."""
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..accounts import PASSWORD_RULES, expired_message, one_time_expired, password_problems
from ..extensions import db
from ..models import utcnow
from ..web.forms import AppForm
from ..web.pending import take_pending_save
from ..web.security import (
    audit,
    authenticate,
    client_address,
    end_session,
    login_throttled,
    record_attempt,
    start_session,
)
from .applicant import resume_pending
from .shared import home_for

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
            Length(max=1024, message="新密码过长。"),
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


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in.  Throttled per (account, address) and per address, counts in the database."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        username = form.username.data.strip()
        if login_throttled(username):
            error = _locked_message()
            audit("login_throttled", username, user=False)
            db.session.commit()
        else:
            user = authenticate(username, form.password.data)
            if user is None:
                error = "用户名或密码错误，或账号已停用。"
                record_attempt(username, success=False)
                audit("login_failed", username, user=False)
                db.session.commit()
                current_app.logger.warning("Failed login for %r from %s", username, client_address())
            elif one_time_expired(user):
                error = expired_message()
                audit("login_expired_password", username, user=user)
                db.session.commit()
            else:
                return _logged_in(user)
    return render_template("auth/login.html", form=form, error=error)


def _locked_message() -> str:
    minutes = int(current_app.config["LOGIN_THROTTLE_WINDOW"] / timedelta(minutes=1))
    return f"登录失败次数过多，请 {minutes} 分钟后再试。"


def _logged_in(user):
    """Start the session; save what this user typed before the login expired, if anything."""
    record_attempt(user.username, success=True)
    audit("login", user.username, user=user)
    user.last_login_at = utcnow()
    start_session(user)
    pending = take_pending_save(user)
    db.session.commit()
    if user.password_one_time:
        flash("这是首次登录（或密码已由管理员重置）：请先设置您自己的新密码。", "warning")
        return redirect(url_for("auth.change_password"))
    if pending is not None and user.is_applicant:
        return resume_pending(pending)
    flash(f"欢迎，{user.display_name or user.username}。", "success")
    return redirect(safe_next(request.args.get("next")) or home_for(user))


@bp.route("/logout", methods=["POST"])
def logout():
    """Log out and end every session of this account."""
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        user.end_sessions()
        audit("logout", user.username, user=user)
        db.session.commit()
        end_session()
    flash("您已退出登录。", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    """Change one's own password; every other session of the account ends.  Wrong current
    passwords count against the same throttle as logins and are audited."""
    form = PasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if login_throttled(user.username):
            form.current.errors.append(_locked_message())
            audit("password_change_throttled", user.username)
            db.session.commit()
        elif not user.check_password(form.current.data):
            form.current.errors.append("当前密码不正确。")
            record_attempt(user.username, success=False)
            audit("password_change_failed", user.username)
            db.session.commit()
        elif problems := _rule_breaks(form, user):
            form.new.errors.extend(problems)
        else:
            user.set_password(form.new.data)
            audit("password_changed", user.username)
            db.session.commit()
            start_session(user)  # keep this browser logged in with the new token
            flash("密码已修改。其他设备上的登录已失效。", "success")
            return redirect(home_for(user))
    return render_template("auth/password.html", form=form, rules=PASSWORD_RULES,
                           first=current_user.password_one_time)


def _rule_breaks(form, user) -> list[str]:
    """The password rules (PASSWORD_RULES), checked on the server, in the order they are shown."""
    problems = password_problems(form.new.data, user.username)
    if form.new.data == form.current.data:
        problems.append("新密码不能与当前密码相同。")
    return problems
