"""Administrators: deadlines — each round's, one submission's, several at once — and what the
administrators' submission page adds below the report (its snapshots and the deadline form)."""
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import bindparam
from sqlalchemy.orm import defer
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..access import current_edition, get_submission
from ..extensions import db
from ..models import ROLE_ADMIN, Edition, Snapshot, Submission, User, local_now
from ..params import ParamError, parse_datetime
from ..report.model import ROUND_LABELS, ROUNDS
from ..web.forms import AppForm
from ..web.lists import back_args, selected_submissions
from ..web.security import client_address, require_role
from ..workflow.deadlines import (
    DATETIME_FORMATS,
    effective_deadline,
    example_deadline,
    extend_deadline,
    extension_refusal,
    past_deadline_error,
    set_round_deadlines,
)
from ..workflow.states import STATES, MoveRefused, current_round

bp = Blueprint("deadlines", __name__, url_prefix="/admin")
bp.before_request(require_role(ROLE_ADMIN))


def _deadline_hint() -> str:
    return f"例如 {example_deadline(local_now())}"


def _parse_until(field, label: str = "时间"):
    """The typed deadline, or None with a Chinese error added to ``field``."""
    try:  # ASCII digits, years 2000–2100
        return parse_datetime(field.data, DATETIME_FORMATS, label)
    except ParamError as exc:
        unreadable = str(exc).startswith("无法识别")  # its example is fixed: give one that is not past
        field.errors.append(f"无法识别的{label}，请按“{example_deadline(local_now())}”的格式填写。" if unreadable
                            else f"{exc}。")
        return None


class DeadlineForm(AppForm):
    deadline_until = StringField("延长至", validators=[DataRequired("请填写新的截止时间。")],
                                 render_kw={"type": "datetime-local"})
    deadline_reason = TextAreaField("延期原因", validators=[DataRequired("请填写延期原因。"),
                                                         Length(max=500, message="延期原因不能超过 500 字。")],
                                    render_kw={"rows": 2})


class RoundDeadlinesForm(AppForm):
    """One deadline field per round of the workflow (labels from the report's round labels)."""


for _round in ROUNDS:
    setattr(RoundDeadlinesForm, f"{_round}_deadline",
            StringField(f"{ROUND_LABELS[_round]}报告提交截止时间", render_kw={"type": "datetime-local"}))


#: a submission's snapshots, newest first, each with the account that submitted it (one statement,
#: built once): the list shows each snapshot's time, code and file count, so its answers (hundreds
#: of kB of JSON) stay unread
SNAPSHOTS_WITH_SUBMITTERS = (
    db.select(Snapshot, User).outerjoin(User, User.id == Snapshot.created_by_id)
    .where(Snapshot.submission_id == bindparam("sid")).options(defer(Snapshot.answers))
    .order_by(Snapshot.id.desc())
)


def admin_extras(sub: Submission) -> dict:
    """What _submission_extras.html shows administrators: snapshots and the deadline form."""
    round_ = current_round(sub)
    can_extend = STATES[sub.state].editable_round is not None  # only while a report is being written
    rows = db.session.execute(SNAPSHOTS_WITH_SUBMITTERS, {"sid": sub.id}).all()
    return {"snapshots": [snap for snap, _ in rows],
            "submitters": {u.id: u.display_name or u.username for _, u in rows if u is not None},
            "round": round_, "deadline": effective_deadline(sub, round_), "can_extend": can_extend,
            "form": DeadlineForm(formdata=None) if can_extend else None,  # the page shows it only then
            "deadline_hint": _deadline_hint()}


def _validated_until(form, subs=()):
    """The new deadline of a valid DeadlineForm, or None with the errors on its fields: not
    in the past, and (for one submission) after its current deadline."""
    until = _parse_until(form.deadline_until)
    if until is None:
        return None
    error = past_deadline_error(until, local_now())
    if error is None and len(subs) == 1:
        error = extension_refusal(subs[0], until)
    if error:
        form.deadline_until.errors.append(error)
        return None
    return until


@bp.route("/submissions/<int:submission_id>/deadline", methods=["POST"])
def deadline(submission_id):
    """Extend the submission's deadline for its current round; bad input shows the form again on
    a page of its own, the errors summarised at the top."""
    sub = get_submission(submission_id, current_user)
    round_ = current_round(sub)
    form = DeadlineForm()
    until = _validated_until(form, [sub]) if form.validate_on_submit() else None
    if until is not None:
        try:
            extend_deadline(sub, current_user._get_current_object(), until, form.deadline_reason.data,
                            client_address())
        except MoveRefused as refused:
            db.session.rollback()
            form.deadline_reason.errors.append(refused.message)
        else:
            flash(f"{ROUND_LABELS[round_]}截止时间已延长至 {until:%Y-%m-%d %H:%M}。", "success")
            return redirect(url_for("admin.submission", submission_id=sub.id))
    return render_template("admin/deadline.html", form=form, subs=[sub], sub=sub, hint=_deadline_hint(),
                           action=url_for("deadlines.deadline", submission_id=sub.id), back={},
                           deadline=effective_deadline(sub, round_), round_label=ROUND_LABELS[round_])


@bp.route("/submissions/deadline", methods=["POST"])
def bulk_deadline():
    """Extend the deadline of the submissions ticked on the list: the first POST (from the list)
    shows the form, the second (with ``confirm``) extends each one it may and says why not the rest."""
    back = back_args(request.form.get("back"))
    subs, missing = selected_submissions(request.form.getlist("ids"))
    if not subs:
        flash("请先在列表中勾选要延长截止时间的申报。", "error")
        return redirect(url_for("admin.submissions", **back))
    form = DeadlineForm(formdata=request.form if request.form.get("confirm") else None)
    until = _validated_until(form) if request.form.get("confirm") and form.validate_on_submit() else None
    if until is None:
        return render_template("admin/deadline.html", form=form, subs=subs, sub=None, hint=_deadline_hint(),
                               action=url_for("deadlines.bulk_deadline"), back=back, back_query=urlencode(back),
                               deadlines={s.id: effective_deadline(s, current_round(s)) for s in subs})
    actor, done, refused = current_user._get_current_object(), [], [(raw, "不存在或无权操作") for raw in missing]
    for sub in subs:
        why = extension_refusal(sub, until)
        if why:
            refused.append((sub.cluster.name, why))
        else:
            extend_deadline(sub, actor, until, form.deadline_reason.data, client_address(), commit=False)
            done.append(sub.cluster.name)
    db.session.commit()
    return render_template("admin/bulk_result.html", title=f"延长截止时间至 {until:%Y-%m-%d %H:%M}",
                           moved=done, refused=refused, back=back)


def _round_changes(form, edition: Edition) -> dict:
    """{round: new deadline} of the rounds whose field changed; errors go onto the fields."""
    now, changes = local_now(), {}
    for round_ in ROUNDS:
        field, before = form[f"{round_}_deadline"], edition.deadline(round_)
        until = _parse_until(field, field.label.text)
        if until is None:
            if before is not None and not field.errors:
                field.errors.append(f"请填写{field.label.text}。")
            continue
        if until != before:
            error = past_deadline_error(until, now)
            if error:
                field.errors.append(error)
            else:
                changes[round_] = until
    first, last = (changes.get(r, edition.deadline(r)) for r in ROUNDS)
    if first and last and last <= first and not any(form[f"{r}_deadline"].errors for r in ROUNDS):
        last_field = form[f"{ROUNDS[-1]}_deadline"]
        last_field.errors.append(f"{last_field.label.text}必须晚于{form[f'{ROUNDS[0]}_deadline'].label.text}。")
    return changes


@bp.route("/deadlines", methods=["GET", "POST"])
def round_deadlines():
    """Each round's deadline of the current edition: set or changed, each change audited."""
    edition = current_edition()
    if edition is None:
        abort(404)
    current = {f"{r}_deadline": f"{d:%Y-%m-%dT%H:%M}" for r in ROUNDS if (d := edition.deadline(r))}
    form = RoundDeadlinesForm(data=current)
    if form.validate_on_submit():
        changes = _round_changes(form, edition)
        if not any(form[f"{r}_deadline"].errors for r in ROUNDS):
            set_round_deadlines(edition, changes, current_user._get_current_object(), client_address())
            saved = "；".join(f"{ROUND_LABELS[r]} {d:%Y-%m-%d %H:%M}" for r, d in changes.items())
            flash(f"截止时间已保存：{saved}。" if changes else "截止时间没有变化。", "success" if changes else "info")
            return redirect(url_for("deadlines.round_deadlines"))
    return render_template("admin/deadlines.html", form=form, edition=edition, hint=_deadline_hint(),
                           rounds=[(r, ROUND_LABELS[r], edition.deadline(r)) for r in ROUNDS])
