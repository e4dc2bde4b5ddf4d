"""Who is told about a move: in-app messages, and e-mail when configured (queued in the move's
transaction, sent after its commit: wizard/mail.py)."""
from __future__ import annotations

from ..extensions import db
from ..mail import queue_mail
from ..models import ROLE_APPLICANT, ROLE_COUNTY, Message, OutboxMail, Submission, User
from .deadlines import effective_deadline
from .states import RETURN, STATES, Move, state_label

#: how a report sent back is named to its applicant (its state is 草稿 or 入围决赛 again)
RETURNED_LABEL = "已退回修改"


def recipients(submission: Submission, role: str) -> list[User]:
    """The active accounts of this role concerned with the submission."""
    q = db.select(User).filter_by(role=role, active=True)
    if role == ROLE_APPLICANT:
        q = q.filter_by(cluster_id=submission.cluster_id)
    elif role == ROLE_COUNTY:
        q = q.filter_by(region_id=submission.cluster.region_id)
    return list(db.session.execute(q).scalars())


def message_text(submission: Submission, move: Move, target: str) -> str:
    """What the move did, once (认定为培育对象 is both the move and the state), and for a report
    opened for writing (入围决赛, 退回修改) what to do next and by when."""
    label = RETURNED_LABEL if move.kind == RETURN else state_label(target)
    text = f"“{submission.cluster.name}”：{move.label}" + ("。" if label == move.label else f"，当前状态为“{label}”。")
    round_ = STATES[target].editable_round
    if round_ and move.opens_final:
        text += "请填写决赛报告（附件2）"
    elif round_:
        text += "请按意见修改报告"
    if round_:
        deadline = effective_deadline(submission, round_)
        text += f"，并于 {deadline:%Y年%m月%d日 %H:%M} 前提交。" if deadline else "后提交。"
    return text


def notify(submission: Submission, move: Move, target: str, actor: User,
           comment: str | None = None) -> OutboxMail | None:
    """Tell whoever acts next (and the applicant, when someone else moved); the move's comment
    (退回意见, 审核意见, 原因) is part of the message: it says what to fix.  Everything is added to
    the move's transaction; the e-mail (returned) is sent after the commit."""
    text = message_text(submission, move, target)
    if comment and move.comment_label:
        text += f"\n{move.comment_label}：{comment}"
    roles = {STATES[target].next_actor}
    if actor.role != ROLE_APPLICANT:
        roles.add(ROLE_APPLICANT)
    people = [u for role in sorted(roles) for u in recipients(submission, role)]
    for user in people:
        if user.id != actor.id:
            db.session.add(Message(user_id=user.id, submission_id=submission.id, text=text))
    return queue_mail([u.email for u in people if u.email], text)
