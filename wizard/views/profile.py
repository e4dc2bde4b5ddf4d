"""Self-service: one's own 姓名, 手机 and 邮箱 (issue #26), and the optional password reset by
e-mail (only when MAIL_SERVER is configured).

The reset link is signed (itsdangerous) with the account's id and a fingerprint of its current
password hash, and expires after RESET_LINK_SECONDS: setting a password through it changes the
hash, so the link works once; no table keeps the links but the outbox, briefly.  The request
form answers the same whether or not the address belongs to an account, counts against the
login throttle of the address, and the mail is an outbox row of the request's transaction, sent
after the commit by the background sender (wizard/mail.py).  The link is a secret: its row is
valid as long as the link (never sent later), its text is blanked once sent, and the row is
deleted when the link expires."""
import hashlib
from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..accounts import PASSWORD_RULES, email_problem, password_problems, phone_problem
from ..extensions import db
from ..mail import queue_mail
from ..models import User
from ..web.forms import AppForm
from ..web.security import audit, login_throttled, record_attempt
from .shared import home_for

bp = Blueprint("profile", __name__)

RESET_LINK_SECONDS = 3600
RESET_SALT = "wizard-password-reset"


class ProfileForm(AppForm):
    display_name = StringField("姓名", validators=[DataRequired("请填写姓名。"),
                                                 Length(max=64, message="姓名不超过 64 个字符。")])
    phone = StringField("手机", validators=[Length(max=32, message="手机号码不超过 32 个字符。")])
    email = StringField("邮箱", validators=[Length(max=256, message="邮箱不超过 256 个字符。")])


class ForgotForm(AppForm):
    email = EmailField("邮箱", validators=[DataRequired("请输入账号登记的邮箱。"),
                                          Length(max=256, message="邮箱不超过 256 个字符。")])


class ResetForm(AppForm):
    new = PasswordField("新密码", validators=[DataRequired("请输入新密码。"), Length(max=1024, message="新密码过长。")])
    confirm = PasswordField("确认新密码", validators=[EqualTo("new", "两次输入的新密码不一致。")])


@bp.route("/account/profile", methods=["GET", "POST"])
def edit():
    """One's own 姓名, 手机 and 邮箱; the phone and e-mail follow the account workbook's rules."""
    user = current_user._get_current_object()
    form = ProfileForm(obj=user)
    if form.validate_on_submit():
        phone = (form.phone.data or "").replace(" ", "")
        email = (form.email.data or "").strip()
        if problem := phone_problem(phone):
            form.phone.errors.append(problem)
        if problem := email_problem(email):
            form.email.errors.append(problem)
        if not form.phone.errors and not form.email.errors:
            changed = _apply(user, form.display_name.data.strip(), phone, email)
            if changed:
                audit("profile_saved", user.username, "修改了" + "、".join(changed))
                db.session.commit()
                flash("个人信息已保存。", "success")
            else:
                flash("个人信息没有变化。", "info")
            return redirect(url_for("profile.edit"))
    return render_template("auth/profile.html", form=form, user=user)


def _apply(user, name: str, phone: str, email: str) -> list[str]:
    """Set the three fields; the labels of those that changed."""
    changed = [label for label, old, new in (("姓名", user.display_name, name), ("手机", user.phone, phone),
                                             ("邮箱", user.email, email)) if (old or "") != new]
    user.display_name, user.phone, user.email = name, phone, email
    return changed


# --- password reset by e-mail ---------------------------------------------------------------

def mail_configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _fingerprint(user) -> str:
    """Changes whenever the password does: a used (or outdated) link no longer matches."""
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:20]


def reset_token(user) -> str:
    return _serializer().dumps({"u": user.id, "p": _fingerprint(user)})


def user_of_token(token: str) -> User | None:
    """The active account a valid, unexpired, unused link names, else None."""
    try:
        data = _serializer().loads(token, max_age=RESET_LINK_SECONDS)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.session.get(User, data["u"])
    if user is None or not user.active or data.get("p") != _fingerprint(user):
        return None
    return user


def _reset_mail(user) -> str:
    base = current_app.config.get("PUBLIC_URL")
    path = url_for("profile.reset", token=reset_token(user))
    link = base.rstrip("/") + path if base else url_for("profile.reset", token=reset_token(user), _external=True)
    minutes = RESET_LINK_SECONDS // 60
    return (f"您好，{user.display_name or user.username}：\n\n"
            f"有人（可能是您本人）请求重置湖南省产业集群竞赛申报系统账号“{user.username}”的密码。"
            f"如需重置，请在 {minutes} 分钟内打开以下链接设置新密码（链接只能使用一次）：\n\n{link}\n\n"
            f"如果不是您本人操作，请忽略本邮件，您的密码不会改变。")


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot():
    """Ask for a reset link.  The same answer whether or not the address is known."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    if not mail_configured():
        return render_template("auth/forgot.html", form=None, sent=False)
    form = ForgotForm()
    if form.validate_on_submit():
        email = form.email.data.strip()
        key = ("reset:" + email.lower())[:64]
        if login_throttled(key):
            form.email.errors.append("请求次数过多，请稍后再试。")
            audit("password_reset_throttled", email[:128], user=False)
            db.session.commit()
            return render_template("auth/forgot.html", form=form, sent=False)
        outgoing = _reset_mails(email)
        for to, text in outgoing:  # outbox rows: sent after the commit, by the background sender
            queue_mail([to], text, valid_for=timedelta(seconds=RESET_LINK_SECONDS))
        record_attempt(key, success=False)  # every request counts against this address's throttle
        audit("password_reset_requested", email[:128], f"{len(outgoing)} 个账号", user=False)
        db.session.commit()
        return render_template("auth/forgot.html", form=None, sent=True)
    return render_template("auth/forgot.html", form=form, sent=False)


def _reset_mails(email: str) -> list[tuple[str, str]]:
    users = db.session.execute(db.select(User).where(db.func.lower(User.email) == email.lower(),
                                                     User.active.is_(True))).scalars().all()
    return [(user.email, _reset_mail(user)) for user in users]


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token):
    """Set a new password from an e-mailed link, under the rules of the forced change."""
    user = user_of_token(token) if mail_configured() and len(token) < 512 else None
    if user is None:
        return render_template("auth/reset.html", form=None, rules=PASSWORD_RULES, invalid=True)
    form = ResetForm()
    if form.validate_on_submit():
        problems = password_problems(form.new.data, user.username)
        if user.check_password(form.new.data):
            problems.append("新密码不能与当前密码相同。")
        if problems:
            form.new.errors.extend(problems)
        else:
            user.set_password(form.new.data)  # also ends every session of the account
            audit("password_reset", user.username, "通过邮件链接重置密码", user=user)
            db.session.commit()
            flash("新密码已设置，请用新密码登录。", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form, rules=PASSWORD_RULES, invalid=False, user=user)
