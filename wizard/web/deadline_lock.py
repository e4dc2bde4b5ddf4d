"""A report not submitted by its deadline becomes read-only (issue #22, item 7).

Before, only submitting was refused after the deadline: autosave, uploads and the Excel import
still changed the report.  Now the applicant's blueprints refuse every state-changing request
once the submission's effective deadline (the round's, or a later one an administrator gave this
submission: ``workflow.deadlines.effective_deadline``) has passed, in one place: the blueprint
hook ``refuse_writes_after_deadline`` (each applicant blueprint registers it with one line).  The
pages ask ``writable_round`` instead of the state alone, so they show the report read-only, with
the reason and whom to ask for an extension at the top.
"""
from __future__ import annotations

from datetime import datetime

from flask import abort, g, request
from flask_login import current_user

from ..access import own_submission
from ..dbsetup import SAFE_METHODS
from ..models import Submission, local_now
from ..workflow.deadlines import effective_deadline
from ..workflow.states import STATES

#: who can extend a deadline (workflow.deadlines.extend_deadline: administrators only), and the way there
WHOM_TO_ASK = "如需延期，请联系县级以上人民政府审核人或直接联系省级管理员，由省级管理员为本申报延长截止时间。"


def passed_deadline(sub: Submission) -> datetime | None:
    """The deadline (Beijing time) this editable report missed, or None (not editable, no
    deadline, or still before it, extensions included)."""
    round_ = STATES[sub.state].editable_round
    if round_ is None:
        return None
    deadline = effective_deadline(sub, round_)
    return deadline if deadline is not None and local_now() > deadline else None


def writable_round(sub: Submission) -> str | None:
    """The round the applicant may change now: the state's editable round, unless its deadline passed."""
    return None if passed_deadline(sub) else STATES[sub.state].editable_round


def lock_message(sub: Submission) -> str:
    """The sentence the pages show at the top of a report locked by its deadline ('' if it is not)."""
    deadline = passed_deadline(sub)
    if deadline is None:
        return ""
    return f"提交截止时间（{deadline:%Y年%m月%d日 %H:%M}）已过，报告未提交，现为只读：不能再修改、上传或导入。{WHOM_TO_ASK}"


def readonly_message(sub: Submission) -> str:
    """Why the report cannot be edited: the missed deadline, or that it was submitted."""
    return lock_message(sub) or "报告已提交，当前为只读。"


def refuse_writes_after_deadline():
    """Blueprint before_request of the applicant's blueprints: a POST (any state-changing method)
    to a report whose deadline has passed is refused before the view runs; nothing is stored."""
    if request.method in SAFE_METHODS or not current_user.is_authenticated:
        return None
    # the row the view asks for next (applicant._submission): loaded once per request
    sub = g.own_editable_submission = own_submission(current_user, editable_only=True)
    deadline = passed_deadline(sub) if sub is not None else None
    if deadline is None:
        return None  # no report (the view answers 404), or still open
    message = (f"提交截止时间（{deadline:%Y年%m月%d日 %H:%M}）已过，报告现为只读，本次操作未执行、内容未保存。"
               f"{WHOM_TO_ASK}")
    if request.headers.get("X-Requested-With") == "fetch":
        return {"ok": False, "error": message}, 409
    abort(409, description=message)


def init_app(app) -> None:
    """The pages' read-only notice (templates/applicant: tasks, review, the workbook card)."""
    app.add_template_global(lock_message, "deadline_lock_message")
