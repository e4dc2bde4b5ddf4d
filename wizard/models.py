"""Database models: accounts, regions, clusters, editions, submissions and their records."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db
from .roles import (  # noqa: F401  (re-exported: the models' vocabulary)
    ROLE_ADMIN,
    ROLE_APPLICANT,
    ROLE_COUNTY,
    ROLE_EXPERT,
    ROLE_LABELS,
)
from .workflow.states import ROUNDS, STATES


def _one_of(column: str, values) -> str:
    """SQL of a CHECK constraint: the column holds one of these keys."""
    return f"{column} in ({', '.join(repr(v) for v in values)})"


CATEGORY_ADVANCED = "advanced"
CATEGORY_SME = "sme"
CATEGORY_LABELS = {
    CATEGORY_ADVANCED: "先进制造业集群",
    CATEGORY_SME: "中小企业特色产业集群",
}
#: an expert's 擅长类别: one category, or both
EXPERT_BOTH = "both"
EXPERT_CATEGORY_LABELS = {**CATEGORY_LABELS, EXPERT_BOTH: "两类均可"}


MIN_PASSWORD_LENGTH = 8


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# Timestamps are stored in UTC; users read Beijing time (UTC+8, no daylight saving).  Deadlines
# are wall-clock Beijing times as the department announces them, stored as such.
LOCAL_OFFSET = timedelta(hours=8)


def to_local(moment: datetime) -> datetime:
    return moment + LOCAL_OFFSET


def local_now() -> datetime:
    return to_local(utcnow())


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Region(db.Model):
    """A government region: the province, a prefecture-level division or a county-level one."""

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    parent: Mapped[Region | None] = relationship(remote_side=[id])

    __table_args__ = (
        CheckConstraint("level in ('province', 'city', 'county')", name="level"),
    )

    @property
    def full_name(self) -> str:
        if self.parent and self.level == "county":
            return f"{self.parent.name}{self.name}"
        return self.name

    @property
    def city(self) -> Region:
        """The prefecture-level region this one belongs to (itself for a city or the province)."""
        return self.parent if self.level == "county" and self.parent else self

    @property
    def government_name(self) -> str:
        return f"{self.name}人民政府"


class Cluster(db.Model):
    """An industrial cluster; its region's government approves its submissions."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    category: Mapped[str] = mapped_column(String(16))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    designation: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(default=True)
    region: Mapped[Region] = relationship()

    __table_args__ = (CheckConstraint("category in ('advanced', 'sme')", name="category"),)

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS[self.category]


class User(UserMixin, db.Model):
    """An account.  ``session_token`` is what the session cookie carries: rotating it
    (logout, password change, disabling) ends every session of the account."""

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("cluster.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    email: Mapped[str] = mapped_column(String(256), default="")
    # experts (评审专家): 工作单位 and 擅长类别 (a key of EXPERT_CATEGORY_LABELS); 所在市州 is region_id
    employer: Mapped[str] = mapped_column(String(128), default="")
    expert_categories: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the person behind the account (several people may share one organisation): 手机
    phone: Mapped[str] = mapped_column(String(32), default="")
    # a generated password (账号通知书) must be changed at the first login; it expires after
    # ONE_TIME_PASSWORD_DAYS counted from password_set_at (wizard/accounts.py)
    password_one_time: Mapped[bool] = mapped_column(default=False)
    password_set_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    cluster: Mapped[Cluster | None] = relationship()
    region: Mapped[Region | None] = relationship()

    __table_args__ = (
        CheckConstraint(_one_of("role", ROLE_LABELS), name="role"),
        CheckConstraint(
            "(role != 'applicant' OR cluster_id IS NOT NULL) AND "
            "(role != 'county' OR region_id IS NOT NULL) AND "
            "(role != 'expert' OR (region_id IS NOT NULL AND expert_categories IS NOT NULL))",
            name="binding",
        ),
        CheckConstraint("expert_categories IS NULL OR " + _one_of("expert_categories", EXPERT_CATEGORY_LABELS),
                        name="expert_categories"),
    )

    # Flask-Login: the cookie identifies the session token, not the row id.
    def get_id(self) -> str:
        return self.session_token

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.active)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])
        self.password_one_time, self.password_set_at = False, utcnow()
        self.end_sessions()

    def set_one_time_password(self, password: str, method: str) -> None:
        """A generated password (random, ≥ 80 bits: a fast hash method is enough, see
        accounts.issue_one_time_password) that must be changed at the first login."""
        self.password_hash = generate_password_hash(password, method=method)
        self.password_one_time, self.password_set_at = True, utcnow()
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        self.session_token = new_token()

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def is_county(self) -> bool:
        return self.role == ROLE_COUNTY

    @property
    def is_applicant(self) -> bool:
        return self.role == ROLE_APPLICANT

    @property
    def is_expert(self) -> bool:
        return self.role == ROLE_EXPERT

    @property
    def binding_label(self) -> str:
        if self.role == ROLE_APPLICANT and self.cluster:
            return self.cluster.name
        if self.role == ROLE_COUNTY and self.region:
            return self.region.government_name
        if self.role == ROLE_EXPERT:
            return self.employer
        return "湖南省工业和信息化厅" if self.role == ROLE_ADMIN else ""

    def expert_covers(self, category: str) -> bool:
        """Whether this expert's 擅长类别 includes a cluster category."""
        return self.expert_categories in (category, EXPERT_BOTH)


class Edition(db.Model):
    """One year's competition: every year shown anywhere comes from here."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    data_year_1: Mapped[int]
    data_year_2: Mapped[int]
    target_year_1: Mapped[int]
    preliminary_deadline: Mapped[datetime | None]
    final_deadline: Mapped[datetime | None]
    is_current: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        CheckConstraint("data_year_2 = data_year_1 + 1", name="data_years"),
        CheckConstraint("target_year_1 > data_year_2", name="target_years"),
    )

    @property
    def target_years(self) -> list[int]:
        return [self.target_year_1 + i for i in range(3)]

    @property
    def years(self) -> dict:
        """The values the report definition's year placeholders take."""
        t = self.target_years
        return {"y1": self.data_year_1, "y2": self.data_year_2, "t1": t[0], "t2": t[1], "t3": t[2]}

    def deadline(self, round_: str) -> datetime | None:
        return getattr(self, f"{round_}_deadline") if round_ in ROUNDS else None


class Submission(db.Model):
    """A cluster's entry in an edition: both rounds' answers and its workflow state.

    ``version`` is the optimistic lock: every save and move is a conditional
    UPDATE ... WHERE version = expected."""

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("cluster.id"))
    edition_id: Mapped[int] = mapped_column(ForeignKey("edition.id"))
    state: Mapped[str] = mapped_column(String(32), default="draft", index=True)
    version: Mapped[int] = mapped_column(default=1)
    preliminary_answers: Mapped[dict] = mapped_column(db.JSON, default=dict)
    final_answers: Mapped[dict] = mapped_column(db.JSON, default=dict)
    # County opinions per round: {"preliminary": {"text":…, "date":…, "by":…}}
    opinions: Mapped[dict] = mapped_column(db.JSON, default=dict)
    return_comment: Mapped[str | None] = mapped_column(Text)
    # Final-round texts still as pre-filled from the preliminary report (附件2 asks them anew):
    # field keys, until the applicant edits or confirms each (report/service.py)
    carried_texts: Mapped[list | None] = mapped_column(db.JSON, default=list)
    deadline_override: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # the list sorted by last change
    cluster: Mapped[Cluster] = relationship()
    edition: Mapped[Edition] = relationship()

    __table_args__ = (
        UniqueConstraint("cluster_id", "edition_id", name="cluster_edition"),
        CheckConstraint(_one_of("state", STATES), name="state"),
        # the dashboard's and the lists' counts per state read this index alone, not the rows
        # (which carry both rounds' answers)
        Index("ix_submission_edition_state_cluster", "edition_id", "state", "cluster_id"),
    )

    def answers_for(self, round_: str) -> dict:
        if round_ not in ROUNDS:
            return {}
        return getattr(self, f"{round_}_answers") or {}

    @property
    def region(self) -> Region:
        return self.cluster.region


class Snapshot(db.Model):
    """The answers (and evidence list) exactly as submitted; never changed afterwards."""

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    round: Mapped[str] = mapped_column(String(16))
    answers: Mapped[dict] = mapped_column(db.JSON)
    evidence: Mapped[list] = mapped_column(db.JSON, default=list)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    __table_args__ = (CheckConstraint(_one_of("round", ROUNDS), name="round"),)

    @property
    def code(self) -> str:
        """The short verification code printed in the PDF footer."""
        return self.digest[:12].upper()


class HistoryEntry(db.Model):
    """One recorded workflow move."""

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    role: Mapped[str] = mapped_column(String(16))
    move: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    # the file that came with the move: the signed declaration at submit, the sealed opinion at approval
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_file.id", ondelete="SET NULL"))
    # a move decided from the experts' ranking: the frozen ranking it was decided on
    ranking_id: Mapped[int | None] = mapped_column(ForeignKey("ranking_snapshot.id"))
    user: Mapped[User | None] = relationship()
    evidence: Mapped[EvidenceFile | None] = relationship()
    ranking: Mapped[RankingSnapshot | None] = relationship()


class Message(db.Model):
    """An in-app notification."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class OutboxMail(db.Model):
    """An e-mail to send, written in the transaction of what it tells (a move, a reminder, a
    reset link) and sent after that commit by the background sender (``mail.deliver_outbox``,
    beside ``flask render-worker``; ``flask cleanup`` sends what is left): a rolled-back
    transaction leaves none.  ``claimed_at``: a sender has taken it (the
    row is sent at most once at a time); ``sent_at``: sent, never again.  ``expires_at``: a mail
    that carries a secret valid until then (a password-reset link): never sent after it, its
    text blanked once sent, the row deleted once past it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    recipients: Mapped[str] = mapped_column(Text)  # addresses, comma-separated
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    expires_at: Mapped[datetime | None]


class EvidenceFile(db.Model):
    """An uploaded evidence file (佐证材料), stored under instance/ with a random name."""

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    round: Mapped[str] = mapped_column(String(16))
    slot: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(default=0)
    __table_args__ = (CheckConstraint(_one_of("round", ROUNDS), name="round"),)
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    size: Mapped[int]
    pages: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginAttempt(db.Model):
    """Failed (and successful) logins, kept in the database so every worker sees them."""

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    success: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AuditEntry(db.Model):
    """Audit log: logins, failed logins, moves, exports, downloads, account changes."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(64), default="")


class PendingSave(db.Model):
    """Form input posted after the session expired, applied after the user logs in again."""

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    #: whose login expired: only this account can resume it (at most one row per account)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    path: Mapped[str] = mapped_column(String(255))
    form: Mapped[dict] = mapped_column(db.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)




# ── Expert review (专家评审): wizard/review/ reads and writes these ────────────────────────────

REVIEW_METHODS = ("trimmed", "mean")  # 去掉一个最高分和一个最低分后取平均 / 算术平均
ASSIGNMENT_STATUSES = ("active", "conflict", "withdrawn")


class ReviewScheme(db.Model):
    """评分细则 of one round of an edition: the dimensions experts score (each with its maximum and
    guidance), the panel size, how the ranking is computed, and the experts' deadline.  Editable
    until the round's first score is submitted (``frozen_at``)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("edition.id"))
    round: Mapped[str] = mapped_column(String(16))
    #: [{"key": "d1", "label": "产业基础", "max": 15, "guidance": "…"}, …] in the order shown
    dimensions: Mapped[list] = mapped_column(db.JSON, default=list)
    method: Mapped[str] = mapped_column(String(16), default="trimmed")
    panel_size: Mapped[int] = mapped_column(default=5)
    deadline: Mapped[datetime | None]  # Beijing wall-clock time, as the edition's deadlines
    frozen_at: Mapped[datetime | None]  # the first submitted score of the round
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    edition: Mapped[Edition] = relationship()

    __table_args__ = (
        UniqueConstraint("edition_id", "round", name="review_scheme_round"),
        CheckConstraint(_one_of("round", ROUNDS), name="round"),
        CheckConstraint(_one_of("method", REVIEW_METHODS), name="method"),
        CheckConstraint("panel_size >= 1", name="panel_size"),
    )


class ReviewAssignment(db.Model):
    """One expert assigned to score one submission's report of one round, with the expert's scores.

    ``status``: active (on the expert's list), conflict (the expert declared a conflict: 回避),
    withdrawn (removed by the administrator; submitted scores withdrawn with ``reason``).
    Progress: 未开始 (``saved_at`` empty), 已暂存 (saved), 已提交 (``submitted_at``; final)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    round: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    scores: Mapped[dict] = mapped_column(db.JSON, default=dict)  # {dimension key: number}
    comments: Mapped[dict] = mapped_column(db.JSON, default=dict)  # {dimension key: text}
    overall: Mapped[str] = mapped_column(Text, default="")  # 总体评价
    total: Mapped[float | None] = mapped_column(Float)  # the sum of the scores, set when submitted
    version: Mapped[int] = mapped_column(default=1)  # optimistic lock of the autosave
    saved_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reason: Mapped[str | None] = mapped_column(Text)  # the declared conflict or the withdrawal's reason
    ended_at: Mapped[datetime | None]
    submission: Mapped[Submission] = relationship()
    expert: Mapped[User] = relationship(foreign_keys=[expert_id])

    __table_args__ = (
        UniqueConstraint("submission_id", "expert_id", "round", name="assignment_once"),
        CheckConstraint(_one_of("round", ROUNDS), name="round"),
        CheckConstraint(_one_of("status", ASSIGNMENT_STATUSES), name="status"),
        Index("ix_review_assignment_round_status", "round", "status"),
    )


class RankingSnapshot(db.Model):
    """The ranking a move was decided on, frozen: method, every score, the ranking, its SHA-256."""

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("edition.id"))
    round: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict] = mapped_column(db.JSON)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    __table_args__ = (CheckConstraint(_one_of("round", ROUNDS), name="round"),)

    @property
    def code(self) -> str:
        return self.digest[:12].upper()
