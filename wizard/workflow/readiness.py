"""What stands between a report and its submission: gaps, rule breaks, missing evidence files,
the deadline; and the consistency warnings (形式审查) shown beside them."""
from __future__ import annotations

from datetime import datetime

from ..evidence import storage as evidence
from ..models import Submission, to_local
from ..report.checks import (
    COMPLETE,
    IN_PROGRESS,
    NOT_STARTED,
    OPTIONAL,
    STATUS_LABELS,
    carried_of,
    report_problems,
    review_checks,
    step_statuses,
    submit_problems,
)
from ..report.view import effective_answers
from .deadlines import effective_deadline


def review_lists(submission, round_, answers, files=None) -> tuple[list, list]:
    """(problems, warnings) for the review and submission pages: the report's gaps and checks
    plus the evidence files still missing.  ``files``: ``evidence.files_of`` when the page has
    it already (one query per page).  The report's own lists are kept while the answers stay
    the same when the page named them (report/fragments.known_answers; checks.review_checks)."""
    evidence_problems, evidence_warnings = evidence.missing(submission, round_, answers, files)
    problems, warnings = review_checks(submission, round_, answers)
    return problems + evidence_problems, warnings + evidence_warnings


def review_problems(submission, round_, answers, files=None) -> list:
    """The first list of ``review_lists`` alone (the task list shows no warnings)."""
    evidence_problems = evidence.missing(submission, round_, answers, files)[0]
    return report_problems(round_, answers, submission.cluster.category, submission.edition.years,
                           carried_of(submission, round_)) + evidence_problems


def submit_guard(submission: Submission, round_: str, now: datetime) -> list:
    """What stops the applicant submitting this round's report now: the deadline, gaps, files."""
    deadline = effective_deadline(submission, round_)
    problems = []
    if deadline and to_local(now) > deadline:  # deadlines are Beijing wall-clock times
        problems.append({"message": f"提交截止时间（{deadline:%Y年%m月%d日 %H:%M}）已过，无法提交。如需延期请联系省级管理员。"})
    problems += submit_problems(submission, round_)
    problems += evidence.missing(submission, round_, effective_answers(submission, round_))[0]
    return problems


def missing_files_by_step(submission, round_, files=None, answers=None) -> dict:
    """step key → the evidence problems (a file missing where one is needed) of that step.
    ``files`` (``evidence.files_of``) and ``answers`` (``effective_answers``): when the page has
    them already."""
    if answers is None:
        answers = effective_answers(submission, round_)
    out: dict = {}
    for p in evidence.missing(submission, round_, answers, files)[0]:
        out.setdefault(p["step"], []).append(p)
    return out


def step_states(submission, round_, missing=None) -> list[tuple]:
    """(step, status, badge text) of every step: a step is 已完成 only when nothing on it blocks
    submitting, its evidence files included; a step still missing files says how many
    (缺 3 份佐证材料).  The task list and the step pages' sidebar ask this one function.
    ``missing``: ``missing_files_by_step`` when the page has it already."""
    if missing is None:
        missing = missing_files_by_step(submission, round_)
    out = []
    for step, status in step_statuses(submission, round_):
        n = len(missing.get(step.key, ()))
        label = STATUS_LABELS[status]
        if n and status != NOT_STARTED:
            short = f"缺 {n} 份佐证材料"
            label = short if status in (COMPLETE, OPTIONAL) else f"{label}，{short}"
            status = IN_PROGRESS if status in (COMPLETE, OPTIONAL) else status
        out.append((step, status, label))
    return out
