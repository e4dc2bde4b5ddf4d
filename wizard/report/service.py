"""Saving answers with optimistic locking, import/export of answers."""
from __future__ import annotations

from sqlalchemy import update
from werkzeug.datastructures import MultiDict

from ..extensions import db
from ..models import Submission, utcnow
from .definition import get_report
from .forms import form_to_answers, make_step_form


class StaleSave(Exception):
    """The page was older than the stored report: nothing was written."""

    def __init__(self, current_answers: dict, current_version: int):
        super().__init__("stale")
        self.current_answers = current_answers
        self.current_version = current_version


def answers_column(round_: str):
    return Submission.preliminary_answers if round_ == "preliminary" else Submission.final_answers


def save_answers(submission: Submission, round_: str, new_values: dict, expected_version: int | None) -> int:
    """Merge one step's values into the round's answers, if the version still matches.

    The UPDATE carries ``WHERE version = expected``: a save from a stale page (a
    second tab, a colleague) changes nothing and raises StaleSave."""
    if expected_version is None:
        expected_version = submission.version
    merged = dict(submission.answers_for(round_))
    merged.update(new_values)
    column = answers_column(round_)
    result = db.session.execute(
        update(Submission)
        .where(Submission.id == submission.id, Submission.version == expected_version,
               Submission.state == submission.state)
        .values({column.key: merged, "version": Submission.version + 1, "updated_at": utcnow()})
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        db.session.refresh(submission)
        raise StaleSave(submission.answers_for(round_), submission.version)
    db.session.commit()
    db.session.refresh(submission)
    return submission.version


def answers_to_formdata(round_: str, step_key: str, answers: dict) -> MultiDict:
    """Answers JSON → the form data the web form would post (for import)."""
    md = MultiDict()
    for f in get_report(round_).step(step_key).fields:
        v = answers.get(f.key)
        if v is None:
            continue
        f.kind_of.post(f, v, md)
    return md


def validate_answers(submission: Submission, round_: str, answers: dict) -> tuple[dict, list[str]]:
    """Validate a whole answers document with the web forms; returns (clean answers, problems)."""

    report = get_report(round_)
    known = {f.key for f in report.fields}
    problems = [f"未知字段：{k}" for k in answers if k not in known]
    clean = {}
    for step in report.steps:
        md = answers_to_formdata(round_, step.key, answers)
        form = make_step_form(round_, step.key, submission.cluster.category, submission.edition.years,
                              formdata=md, meta={"csrf": False})
        if not form.validate():
            for name, errors in _flatten_errors(form.errors):
                for e in errors:
                    problems.append(f"{name}：{e}")
        else:
            clean.update(form_to_answers(form))
    return clean, problems


def _flatten_errors(errors, prefix=""):
    if isinstance(errors, dict):
        for k, v in errors.items():
            yield from _flatten_errors(v, f"{prefix}-{k}" if prefix else str(k))
    elif isinstance(errors, list) and errors and all(isinstance(e, str) for e in errors):
        yield prefix, errors
    elif isinstance(errors, list):
        for i, v in enumerate(errors):
            if v:
                yield from _flatten_errors(v, f"{prefix}-{i}")
