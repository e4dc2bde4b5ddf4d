"""Accounts and clusters: the rules shared by the admin pages, the seed and the CLI.

Passwords (issue #26): an account opened by the province gets a generated one-time password,
printed once on its 账号通知书 and never stored in clear; whoever holds one may do nothing but
choose a new password (web/security.py's gate), and it expires ONE_TIME_PASSWORD_DAYS after it
was issued.  A password a person chooses follows PASSWORD_RULES (password_problems)."""
import gzip
import re
import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from importlib.resources import files

from flask import current_app

from .extensions import db
from .models import (
    EXPERT_CATEGORY_LABELS,
    ROLE_ADMIN,
    ROLE_APPLICANT,
    ROLE_COUNTY,
    ROLE_EXPERT,
    ROLE_LABELS,
    Cluster,
    Edition,
    Region,
    Submission,
    utcnow,
)

#: the characters of a generated password: no look-alikes (0 O o, 1 l I i) — 55 characters
PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"
#: 14 characters of 55: 80 bits, beyond any guessing even with a fast hash
ONE_TIME_LENGTH = 14
NEW_PASSWORD_MIN_LENGTH = 10
PASSWORD_RULES = (
    f"至少 {NEW_PASSWORD_MIN_LENGTH} 个字符；",
    "不能与用户名相同；",
    "不能是最常见的 10,000 个密码之一（如 1234567890、password1、qwertyuiop）；",
    "不能与当前密码相同。",
)


def bind_account(user, *, role, cluster_id=None, region_id=None, employer=None, expert_categories=None) -> str | None:
    """Set role and binding; an applicant needs a cluster, a reviewer a region, an expert its
    所在市州 (a city-level region), 工作单位 and 擅长类别."""
    if role not in ROLE_LABELS:
        return "未知的角色。"
    if role == ROLE_EXPERT:
        error = _expert_profile(region_id, employer, expert_categories)
        if error:
            return error
        user.employer, user.expert_categories = employer.strip(), expert_categories
        cluster_id = None
    else:
        user.expert_categories = None
    if role == ROLE_APPLICANT:
        if not cluster_id or db.session.get(Cluster, cluster_id) is None:
            return "申报单位账号必须选择所属集群。"
        region_id = None
    elif role == ROLE_COUNTY:
        if not region_id or db.session.get(Region, region_id) is None:
            return "审核人账号必须选择所属政府（地区）。"
        cluster_id = None
    elif role == ROLE_ADMIN:
        cluster_id = region_id = None
    if user.role != role and user.id is not None:
        user.end_sessions()
    user.role, user.cluster_id, user.region_id = role, cluster_id, region_id
    return None


def _expert_profile(region_id, employer, categories) -> str | None:
    region = db.session.get(Region, region_id) if region_id else None
    if region is None or region.level != "city":
        return "评审专家账号必须选择所在市州（14 个市州之一）。"
    if not (employer or "").strip():
        return "评审专家账号必须填写工作单位。"
    if len(employer.strip()) > 128:
        return "工作单位不能超过 128 个字符。"
    if categories not in EXPERT_CATEGORY_LABELS:
        return "评审专家账号必须选择擅长类别。"
    return None


def ensure_submissions() -> None:
    """Every active cluster has its submission in the current edition."""
    edition = db.session.execute(db.select(Edition).filter_by(is_current=True)).scalar_one_or_none()
    if edition is None:
        return
    have = set(db.session.execute(db.select(Submission.cluster_id).filter_by(edition_id=edition.id)).scalars())
    for cluster in db.session.execute(db.select(Cluster).filter_by(active=True)).scalars():
        if cluster.id not in have:
            db.session.add(Submission(cluster_id=cluster.id, edition_id=edition.id, preliminary_answers={},
                                      final_answers={}, opinions={}))
    db.session.flush()


# --- passwords -----------------------------------------------------------------------------

def generate_password(length: int = ONE_TIME_LENGTH) -> str:
    """A random password from ``secrets`` without look-alike characters."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords, lower-cased (wizard/data/README.md: source, licence)."""
    data = files("wizard.data").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(line.strip() for line in gzip.decompress(data).decode("utf-8").splitlines() if line.strip())


def password_problems(password: str, username: str = "") -> list[str]:
    """What is wrong with a password a person chooses (Chinese, one sentence each); [] if none."""
    problems = []
    if len(password) < NEW_PASSWORD_MIN_LENGTH:
        problems.append(f"新密码至少 {NEW_PASSWORD_MIN_LENGTH} 个字符。")
    if username and password.strip().lower() == username.strip().lower():
        problems.append("新密码不能与用户名相同。")
    if password.strip().lower() in common_passwords():
        problems.append("这是最常见的密码之一，很容易被猜中，请换一个。")
    return problems


def issue_one_time_password(user) -> str:
    """Give ``user`` a new one-time password and return it (to print once; only its hash is
    kept).  Every session of the account ends."""
    password = generate_password()
    user.set_one_time_password(password, current_app.config["ONE_TIME_PASSWORD_HASH_METHOD"])
    return password


def one_time_validity() -> timedelta:
    return timedelta(days=current_app.config["ONE_TIME_PASSWORD_DAYS"])


def one_time_expired(user, now: datetime | None = None) -> bool:
    """A one-time password older than its validity: it can no longer log in."""
    if not user.password_one_time:
        return False
    issued = user.password_set_at or user.created_at
    return issued is None or (now or utcnow()) - issued > one_time_validity()


def one_time_expires_at(user) -> datetime | None:
    if not user.password_one_time:
        return None
    return (user.password_set_at or user.created_at) + one_time_validity()


def password_status(user) -> str:
    """'' (a password of one's own), 'pending' (one-time, still valid) or 'expired'."""
    if not user.password_one_time:
        return ""
    return "expired" if one_time_expired(user) else "pending"


PASSWORD_STATUS_LABELS = {"": "已设置", "pending": "一次性密码待修改", "expired": "一次性密码已过期"}


def expired_message() -> str:
    days = current_app.config["ONE_TIME_PASSWORD_DAYS"]
    return (f"账号通知书上的一次性密码已过期（有效期 {days} 天），不能再登录。"
            f"请联系{current_app.config['ACCOUNT_HELP']}重新发放账号通知书。")


# --- the person: 手机 and 邮箱 ----------------------------------------------------------------

#: a mainland mobile number (11 digits) or a landline with its area code (0731-88886666, extension allowed)
PHONE = re.compile(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def phone_problem(phone: str | None) -> str | None:
    phone = (phone or "").replace(" ", "")
    if phone and not PHONE.fullmatch(phone):
        return f"“{phone}”不是有效的手机号（11 位）或带区号的固定电话。"
    return None


def email_problem(email: str | None) -> str | None:
    email = (email or "").strip()
    if email and (len(email) > 256 or not EMAIL.fullmatch(email)):
        return f"“{email}”不是有效的电子邮箱地址。"
    return None


def contact_problem(phone: str | None, email: str | None) -> str | None:
    """The first thing wrong with a person's 手机 or 邮箱 (both optional), or None."""
    return phone_problem(phone) or email_problem(email)
