"""Who is told about a move: in-app messages, and e-mail when configured."""
from __future__ import annotations

from ..extensions import db
from ..mail import send_mail
from ..models import ROLE_APPLICANT, ROLE_COUNTY, Message, Submission, User
from .states import STATES, Move, state_label


def recipients(submission: Submission, role: str) -> list[User]:
    """The active accounts of this role concerned with the submission."""
    q = db.select(User).filter_by(role=role, active=True)
    if role == ROLE_APPLICANT:
        q = q.filter_by(cluster_id=submission.cluster_id)
    elif role == ROLE_COUNTY:
        q = q.filter_by(region_id=submission.cluster.region_id)
    return list(db.session.execute(q).scalars())


def notify(submission: Submission, move: Move, target: str, actor: User, comment: str | None = None) -> None:
    """Tell whoever acts next (and the applicant, when someone else moved); the move's comment
    (退回意见, 审核意见, 原因) is part of the message: it says what to fix."""
    text = f"“{submission.cluster.name}”：{move.label}，当前状态为“{state_label(target)}”。"
    if comment and move.comment_label:
        text += f"\n{move.comment_label}：{comment}"
    roles = {STATES[target].next_actor}
    if actor.role != ROLE_APPLICANT:
        roles.add(ROLE_APPLICANT)
    people = [u for role in sorted(roles) for u in recipients(submission, role)]
    for user in people:
        if user.id != actor.id:
            db.session.add(Message(user_id=user.id, submission_id=submission.id, text=text))
    send_mail([u.email for u in people if u.email], text)
