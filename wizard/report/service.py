"""Saving answers with optimistic locking, import/export of answers."""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import String, bindparam, func, literal, update
from werkzeug.datastructures import MultiDict

from ..dbsetup import write_window
from ..extensions import db
from ..models import Submission, utcnow
from .checks import TYPED, qualified_name, typed_entries
from .definition import get_report
from ..workflow.states import FINAL, PRELIMINARY
from .forms import form_to_answers, make_step_form
from .numbers import count_chars



class StaleSave(Exception):
    """The page was older than the stored report: nothing was written."""

    def __init__(self, current_answers: dict, current_version: int):
        super().__init__("stale")
        self.current_answers = current_answers
        self.current_version = current_version


def answers_column(round_: str):
    return Submission.preliminary_answers if round_ == "preliminary" else Submission.final_answers


@lru_cache(maxsize=None)
def asked_anew() -> frozenset:
    """The texts 附件2 asks with a different question than 附件1 (2.8, 3.2, 四): the fields
    whose final-round guidance differs from the preliminary one, read from the definition."""
    preliminary = get_report(PRELIMINARY)
    return frozenset(f.key for f in get_report(FINAL).fields
                     if f.guidance and preliminary.field(f.key) is not None
                     and preliminary.field(f.key).guidance != f.guidance)


def carried_texts(preliminary: dict, final: dict) -> list[str]:
    """The texts of a final report pre-filled with the preliminary ones, unchanged and not blank:
    marked 沿用初赛内容 until the applicant edits or confirms each."""
    return sorted(k for k in asked_anew()
                  if isinstance(final.get(k), str) and count_chars(final[k]) and final[k] == preliminary.get(k))


def still_carried(submission: Submission, round_: str, answers: dict, confirmed=()) -> list[str]:
    """The marks left after a save: a text edited (no longer the preliminary one) or confirmed
    (已按决赛要求核对) loses its mark."""
    marks = submission.carried_texts or []
    if round_ != FINAL or not marks:
        return marks
    preliminary = submission.preliminary_answers or {}
    return [k for k in marks if k not in confirmed and answers.get(k) == preliminary.get(k)]


def _merge_typed(merged: dict, new_values: dict, typed: dict) -> None:
    """A field saved valid loses its typed copy; a field refused now keeps what was typed."""
    kept = {k: v for k, v in typed_entries(merged).items() if k not in new_values and k not in typed}
    kept.update(typed)
    if kept:
        merged[TYPED] = kept
    else:
        merged.pop(TYPED, None)


def save_answers(submission: Submission, round_: str, new_values: dict, expected_version: int | None,
                 confirmed=(), typed=None) -> int:
    """Merge one step's values into the round's answers, if the version still matches.

    The UPDATE carries ``WHERE version = expected``: a save from a stale page (a
    second tab, a colleague) changes nothing and raises StaleSave.  ``confirmed``: carried
    texts the applicant has checked against the final round's question (still_carried).
    ``typed``: the step's refused values as typed (``TYPED``); the step's valid values are saved
    and a field saved valid loses its typed copy."""
    if expected_version is None:
        expected_version = submission.version
    current = submission.answers_for(round_)
    merged = dict(current)
    merged.update(new_values)
    _merge_typed(merged, new_values, typed or {})
    params = {"sid": submission.id, "expected": expected_version, "read_state": submission.state, "now": utcnow()}
    patch = (_patch(current, merged, new_values, params)
             if len(new_values) <= PATCH_MAX_KEYS and _sqlite_json() else None)
    if patch is None:
        params["answers"] = merged
    marks = still_carried(submission, round_, merged, confirmed)
    if marks != (submission.carried_texts or []):
        params["marks"] = marks
    with write_window():  # SQLite: the write lock only for the UPDATE (dbsetup; a no-op elsewhere)
        saved = db.session.execute(_save_statement(round_, "marks" in params, patch), params).rowcount == 1
        if saved:
            db.session.commit()  # the row is read again only if the caller looks at it (an autosave does not)
        else:
            db.session.rollback()
    if not saved:
        db.session.refresh(submission)
        raise StaleSave(submission.answers_for(round_), submission.version)
    return expected_version + 1  # the UPDATE matched version = expected and set it one higher


def _sqlite_json() -> bool:
    """Whether saves may patch the stored answers: SQLite with its JSON functions built in (3.38+)."""
    return db.engine.dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 38)


#: a save of more fields (a whole step, an import) writes the whole document: json_set takes at most
#: 127 arguments in SQLite's default build (2 per key)
PATCH_MAX_KEYS = 20


def _patch(current: dict, merged: dict, new_values: dict, params: dict) -> tuple[int, bool]:
    """SQLite: the answers changed, as a patch of the stored document (json_set of the keys
    saved and of the typed copies, json_remove of the typed copies when none is left) instead
    of the whole round's answers encoded and sent again.  The UPDATE's version check makes the
    stored document the one read, so the patched document is ``merged``.  Adds the paths and
    values to ``params``; returns the statement's shape: (keys set, typed copies removed)."""
    keys = list(new_values)
    if TYPED in merged and merged[TYPED] != current.get(TYPED):
        keys.append(TYPED)
    for i, key in enumerate(keys):
        params[f"path{i}"] = f'$."{key}"'
        params[f"value{i}"] = json.dumps(merged[key], ensure_ascii=False)
    return len(keys), TYPED in current and TYPED not in merged


@lru_cache(maxsize=None)
def _save_statement(round_: str, marks: bool, patch: tuple[int, bool] | None):
    """save_answers' conditional UPDATE, built once per shape: the answers (whole, or ``patch``:
    see _patch), ``version + 1`` and the time, where id, version and state are the ones read."""
    column = answers_column(round_)
    if patch is None:
        answers = bindparam("answers", type_=column.type)
    else:
        keys, remove_typed = patch
        answers = func.coalesce(column, literal("{}", String()))
        if remove_typed:
            answers = func.json_remove(answers, literal(f'$."{TYPED}"', String()))
        if keys:
            answers = func.json_set(answers, *[arg for i in range(keys) for arg in
                                               (bindparam(f"path{i}", type_=String()),
                                                func.json(bindparam(f"value{i}", type_=String())))])
    values = {column.key: answers, "version": Submission.version + 1,
              "updated_at": bindparam("now", type_=Submission.updated_at.type)}
    if marks:
        values["carried_texts"] = bindparam("marks", type_=Submission.carried_texts.type)
    return (update(Submission)
            .where(Submission.id == bindparam("sid"), Submission.version == bindparam("expected"),
                   Submission.state == bindparam("read_state"))
            .values(values)
            .execution_options(synchronize_session=False))


def answer_digest(value) -> str:
    """A short digest of one answer, blank values alike: what a page loaded, compared with what
    it posts, tells a field this tab did not touch (the two-tab conflict, issue #23 item 6)."""
    if isinstance(value, dict) and not any(v not in (None, "") for v in value.values()):
        value = None
    if _blank(value):
        value = None
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def step_digests(step, answers: dict) -> str:
    """The page's ``loaded`` field: {field key: answer_digest} of the step as it was shown."""
    return json.dumps({f.key: answer_digest(answers.get(f.key)) for f in step.fields if f.kind_of.answerable},
                      separators=(",", ":"))


def answers_to_formdata(round_: str, step_key: str, answers: dict) -> MultiDict:
    """Answers JSON → the form data the web form would post (for import)."""
    md = MultiDict()
    for f in get_report(round_).step(step_key).fields:
        v = answers.get(f.key)
        if v is None:
            continue
        f.kind_of.post(f, v, md)
    return md


@dataclass
class Import:
    """A validated answers document: what saving it changes, or why it cannot be saved."""
    answers: dict  # the round's answers after the import
    problems: list[str]
    added: list[str]
    changed: list[str]
    cleared: list[str]


def validate_answers(submission: Submission, round_: str, answers: dict, *, replace: bool = False) -> Import:
    """Validate an answers document with the web forms (one parser, one set of limits).

    By default it merges: fields the document does not name keep their answers; ``replace``
    makes the document the whole report (what it leaves out is cleared).  Unknown keys at any
    depth and fields that do not apply to the cluster's category are problems; messages name
    the label, the year or the row and column."""
    report, category, years = get_report(round_), submission.cluster.category, submission.edition.years
    problems = _unknown(report, answers, category)
    current = submission.answers_for(round_)
    posted = dict(answers) if replace else {**current, **answers}
    clean = {}
    for step in report.steps:
        md = answers_to_formdata(round_, step.key, posted)
        form = make_step_form(round_, step.key, category, years, formdata=md, meta={"csrf": False})
        if form.validate():
            clean.update(form_to_answers(form))
        else:
            problems += [f"{_error_place(report, path, years)}：{e}" for path, errors in _flatten_errors(form.errors)
                         for e in errors]
    result = clean if replace else {**current, **{k: clean[k] for k in answers if k in clean}}
    if not replace:
        _merge_typed(result, {k: v for k, v in clean.items() if k in answers}, {})
    return Import(result, problems, *_changes(current, result))


def _unknown(report, answers: dict, category: str) -> list[str]:
    problems = []
    for key, value in answers.items():
        field = report.field(key)
        if field is None:
            problems.append(f"未知字段：{key}")
        elif not field.applies_to(category):
            problems.append(f"“{field.name}”不适用于本集群的申报类别，请删除该字段。")
        else:
            problems += [f"“{field.name}”中的未知项：{part}" for part in field.kind_of.unknown_parts(field, value)]
    return problems


def _error_place(report, path: str, years: dict) -> str:
    """``top10-2-market_share`` → 2.2 营业收入排名前十企业 第 3 行 国内市场占有率."""
    key, *parts = path.split("-")
    field = report.field(key)
    if field is None:
        return path
    section = next((s for s in report.sections if field in s.fields), None)
    name = qualified_name(field, years)
    where = f"{section.number} {name}" if section is not None and section.number else name
    part = field.kind_of.part_name(field, parts, years)
    return f"{where} {part}" if part else where


def _changes(before: dict, after: dict) -> tuple[list, list, list]:
    """(added, changed, cleared) field keys between two answer sets."""
    added, changed, cleared = [], [], []
    for key in sorted((set(before) | set(after)) - {TYPED}):
        old, new = before.get(key), after.get(key)
        if _blank(old) and not _blank(new):
            added.append(key)
        elif not _blank(old) and _blank(new):
            cleared.append(key)
        elif old != new and not _blank(new):
            changed.append(key)
    return added, changed, cleared


def _blank(value) -> bool:
    return value in (None, "", [], {})


def without_blanks(answers: dict) -> dict:
    """The answers with blank values left out (docs/report-format.md)."""
    return {k: v for k, v in answers.items() if not _blank(v) and k != TYPED}


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
