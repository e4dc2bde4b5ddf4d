"""Importing a filled template (填报模板): the file checked before anything parses it, the
workbook read once into an answers document, that document validated by the web forms
(report/service.validate_answers: one parser, one set of limits), a preview of what would
change, and the confirmed import saved as one version step with a history entry.

What is refused outright (``TemplateRefused``, a Chinese message, nothing stored): a file too
large, anything but an .xlsx workbook (.xls, .csv, a renamed file: judged by content), a
password-protected (encrypted) file, a macro-enabled one, one with external links, a zip bomb
(declared sizes and ratios), XML with a DTD or an entity or that does not parse (any part, by
defusedxml), a workbook holding more than the template of this definition can (``bounds``:
sheets, parts, cells, rows, columns, text, shared strings, formats; counted before openpyxl
reads anything), and a workbook that is not this submission's template of this round and
edition and of the current definition.  Everything else wrong is a problem pointing to its
sheet and cell; with any problem nothing is applied.

The workbook is read once, by openpyxl in a short-lived process bounded in memory and time
(exports/xlsx_reader.py), so its memory goes back to the system; the preview's validated
answers are kept for the confirmation (``save_pending``), which applies them without reading
the file again.

No Flask request here: the view passes the bytes, the submission, the user and the folder in.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field as dataclass_field

from ..auditlog import record
from ..extensions import db
from ..models import HistoryEntry, Submission
from ..report.definition import ATTACHMENTS, get_report
from ..report.forms import make_step_form
from ..report.model import ROUND_LABELS, fill_years
from ..report.service import answers_to_formdata, save_answers, validate_answers
from ..report.view import display_value
from .template import (
    AGREE,
    AGREED,
    INFO_KEYS,
    INFO_SHEET,
    KEY_COLUMN,
    LAST_COLUMN,
    TEMPLATE_MARK,
    definition_version,
    sheet_plans,
)
from .xlsx_checks import Bounds, WorkbookRefused, check_file as check_workbook_file, read_in_process

DEFAULT_MAX_BYTES = 5 * 1024 * 1024  # WIZARD_TEMPLATE_MAX_MB (config TEMPLATE_MAX_BYTES) overrides
#: how many times over what the template of the definition holds a workbook may hold (cells,
#: rows, text: inserted rows, a user's notes, what Excel or WPS add on saving)
FACTOR = 4
#: the widest number as Excel writes it in a cell's <v> (17 significant digits, sign, point,
#: exponent)
NUMBER_CHARS = 24
MAX_EXTRA_SHEETS = 5  # sheets beyond the template's (a user's own notes)
MAX_LISTED = 5  # cells outside the template named one by one, per sheet
IMPORT_MOVE = "import"  # the history entry's move (workflow/states.OTHER_ENTRIES labels it)
AUDIT_ACTION = "template_import"
PENDING_MAX_AGE = 3600  # seconds a preview is kept for its confirmation
TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")

#: the file checks shared with the account workbook (exports/xlsx_checks.py); one exception class
TemplateRefused = WorkbookRefused


def check_file(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES, limits: Bounds | None = None):
    """Refuse what is not a plain .xlsx workbook within the limits and the bounds (raises
    TemplateRefused)."""
    return check_workbook_file(data, max_bytes, "填报模板", limits)


# --- reading the workbook ---------------------------------------------------------------------

def bounds(plans) -> Bounds:
    """What a template laid out by ``plans`` may hold, a few times over (FACTOR): its cells (every
    row of the layout across columns A–G), rows, columns and text (every label, and every input
    at its limit: a text at its length, a number as Excel writes the widest); one format per row
    of the layout (every row formatted its own way: the template writes 43 format records,
    LibreOffice's copy 70); its sheets with MAX_EXTRA_SHEETS of the user's own."""
    rows = sum(len(p.rows) for p in plans)
    cells = rows * LAST_COLUMN
    text = sum(len(str(t)) for p in plans for row in p.rows for t in row.cells.values()) + sum(
        slot.max_length or NUMBER_CHARS for p in plans for row in p.rows for slot in row.slots)
    return Bounds(sheets=len(plans) + 1 + MAX_EXTRA_SHEETS, cells=FACTOR * cells,
                  extent=FACTOR * rows * (LAST_COLUMN + 1), rows=FACTOR * max(len(p.rows) for p in plans),
                  columns=FACTOR * LAST_COLUMN, text=FACTOR * text, formats=rows, kind="填报模板")


def layout(plans) -> list:
    """The plans as plain data for the reading process (exports/xlsx_reader.py): per sheet its
    title and, per row key, the header texts, the input cells and the field's labels."""
    out = []
    for plan in plans:
        keyed = {}
        for key, row in plan.keyed.items():
            slots = [{"key": s.field.key, "part": list(s.part), "column": s.column, "agree": s.input == AGREE,
                      "label": s.label} for s in row.slots]
            keyed[key] = {"cells": {str(c): str(t) for c, t in row.cells.items()}, "slots": slots,
                          "label": row.slots[0].label if row.slots else "",
                          "name": row.slots[0].field.name if row.slots else ""}
        out.append({"title": plan.title, "keyed": keyed})
    return out


@dataclass
class Reading:
    """What the workbook holds: the answers document, where each value came from (form path →
    (sheet, cell, label)) and the problems found while reading (before the form validation)."""

    info: dict
    answers: dict = dataclass_field(default_factory=dict)
    places: dict = dataclass_field(default_factory=dict)
    problems: list = dataclass_field(default_factory=list)
    reader_peak: int = 0  # the reading process's peak memory, bytes

    def place(self, path: str) -> str | None:
        found = self.places.get(path) or self.places.get(path.split("-")[0])
        return f"{found[0]}!{found[1]}（{found[2]}）" if found else None


def check_info(info: dict, sub: Submission, round_: str) -> None:
    """Refuse the template of another submission, edition or round, or of an older definition."""
    if info.get("mark") != TEMPLATE_MARK:
        raise TemplateRefused("该工作簿不是从本系统下载的填报模板。请在“填报任务”页面下载填报模板，填写后再上传。")
    if str(info.get("submission")) != str(sub.id):
        raise TemplateRefused(f"这是另一个集群（{info.get('cluster') or '未知'}）的填报模板，不能导入到本集群的报告。"
                              "请下载本集群的填报模板。")
    if str(info.get("edition")) != str(sub.edition.id):
        raise TemplateRefused(f"这是往届（{info.get('edition_name') or '未知'}）的填报模板，不能导入到本届（{sub.edition.name}）的报告。")
    if info.get("round") != round_:
        theirs = info.get("round")
        name = f"{ATTACHMENTS[theirs]}（{ROUND_LABELS[theirs]}报告）" if theirs in ROUND_LABELS else "其他轮次"
        raise TemplateRefused(f"这是{name}的填报模板，当前填写的是{ATTACHMENTS[round_]}（{ROUND_LABELS[round_]}报告）。"
                              "请下载当前报告的填报模板。")
    if info.get("definition") != definition_version(round_, sub.cluster.category, sub.edition.years):
        raise TemplateRefused("该填报模板已过期：下载之后报告格式或申报类别已更新。请重新下载填报模板，把内容复制过去后再上传。")


def read_template(data: bytes, sub: Submission, round_: str, plans=None) -> Reading:
    """The template's answers and the problems of reading it (refusing a foreign workbook), read
    once, in a short-lived process (exports/xlsx_checks.read_in_process)."""
    plans = plans or sheet_plans(round_, sub.cluster.category, sub.edition.years)
    limits = bounds(plans)
    expect = {"mark": TEMPLATE_MARK, "submission": sub.id, "edition": sub.edition.id, "round": round_,
              "definition": definition_version(round_, sub.cluster.category, sub.edition.years)}
    job = {"plans": layout(plans), "expect": expect, "info_sheet": INFO_SHEET, "info_keys": list(INFO_KEYS),
           "key_column": KEY_COLUMN, "last_column": LAST_COLUMN, "agreed": AGREED, "max_cells": limits.cells,
           "max_read": limits.extent, "max_extra_sheets": MAX_EXTRA_SHEETS, "max_listed": MAX_LISTED}
    answer = read_in_process("template", data, job, "填报模板")
    if answer.get("foreign"):
        check_info(answer["info"], sub, round_)
        raise TemplateRefused("该工作簿不是从本系统下载的填报模板。请在“填报任务”页面下载填报模板，填写后再上传。")
    return Reading(answer["info"], answer["answers"], answer["places"], answer["problems"], answer.get("peak_rss", 0))


# --- validating and previewing ------------------------------------------------------------------

@dataclass
class Change:
    """One field the import changes: its step, label, and the values before and after."""

    step: str
    label: str
    before: str
    after: str
    what: str  # 新增 | 修改 | 清空


@dataclass
class Preview:
    """What confirming the import would do, or why it cannot be done."""

    round: str
    version: int  # the report version the preview was made against
    problems: list
    changes: list
    answers: dict  # the round's answers after the import
    info: dict
    counts: tuple = (0, 0, 0)  # added, changed, cleared
    reader_peak: int = 0  # the peak memory of the process that read the file, bytes

    @property
    def edited_since_download(self) -> bool:
        """The report was saved on the web after the template was downloaded."""
        return str(self.info.get("version")) != str(self.version)

    @property
    def can_apply(self) -> bool:
        return not self.problems and bool(self.changes)


def error_paths(errors, prefix=""):
    """(form path, message) for every message of a form's nested errors."""
    if isinstance(errors, str):
        yield prefix, errors
    elif isinstance(errors, dict):
        for k, v in errors.items():
            yield from error_paths(v, f"{prefix}-{k}" if prefix else str(k))
    elif isinstance(errors, (list, tuple)):
        for i, v in enumerate(errors):
            if isinstance(v, str):
                yield prefix, v
            elif v:
                yield from error_paths(v, f"{prefix}-{i}")


def locate(sub: Submission, round_: str, reading: Reading) -> list[str]:
    """The form errors of the template's answers, each at its sheet and cell (the same step forms
    validate_answers uses; run only when it found problems, to say where they are)."""
    category, years = sub.cluster.category, sub.edition.years
    posted = {**sub.answers_for(round_), **reading.answers}
    out = []
    for step in get_report(round_).steps:
        form = make_step_form(round_, step.key, category, years, formdata=answers_to_formdata(round_, step.key, posted),
                              meta={"csrf": False})
        if form.validate():
            continue
        for path, message in error_paths(form.errors):
            place = reading.place(path)
            out.append(f"{place}：{message}" if place else message)
    return out


def preview_import(data: bytes, sub: Submission, round_: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Preview:
    """Check, read (once) and validate an uploaded template against the report as it is now."""
    plans = sheet_plans(round_, sub.cluster.category, sub.edition.years)
    check_file(data, max_bytes, bounds(plans))
    reading = read_template(data, sub, round_, plans)
    result = validate_answers(sub, round_, reading.answers)
    problems = list(reading.problems)
    if result.problems:
        problems += locate(sub, round_, reading) or result.problems
    changes = changes_of(sub, round_, result) if not problems else []
    return Preview(round_, sub.version, problems, changes, result.answers, reading.info,
                   (len(result.added), len(result.changed), len(result.cleared)), reading.reader_peak)


def changes_of(sub: Submission, round_: str, result) -> list[Change]:
    """The fields the import changes, in the order of the report."""
    report, years = get_report(round_), sub.edition.years
    before = sub.answers_for(round_)
    what = {**{k: "新增" for k in result.added}, **{k: "修改" for k in result.changed},
            **{k: "清空" for k in result.cleared}}
    out = []
    for step in report.steps:
        for f in step.fields:
            if f.key in what:
                out.append(Change(step.title, f.grouped(fill_years(f.name, years)),
                                  display_value(f, before.get(f.key)), display_value(f, result.answers.get(f.key)),
                                  what[f.key]))
    return out


def apply_import(sub: Submission, preview: Preview, actor, address: str = "") -> int:
    """Save the previewed answers as one version step, with its history entry and audit row, if
    the report is still at the version previewed (else StaleSave, nothing written)."""
    added, changed, cleared = preview.counts
    text = (f"导入 Excel 填报模板（{ROUND_LABELS[preview.round]}报告）：新增 {added} 项，修改 {changed} 项，"
            f"清空 {cleared} 项。")
    db.session.add(HistoryEntry(submission_id=sub.id, user_id=actor.id, role=actor.role, move=IMPORT_MOVE,
                                from_state=sub.state, to_state=sub.state, comment=text))
    record(actor, AUDIT_ACTION, f"submission:{sub.id}", text, address)
    save_answers(sub, preview.round, preview.answers, preview.version)  # commits all three, or rolls back
    return added + changed + cleared


# --- the preview between upload and confirmation -----------------------------------------------

#: under instance/: previews waiting for their confirmation, one JSON file each (swept after an
#: hour, and by `flask cleanup`); the uploaded file itself is not kept
PENDING_FOLDER = "workbook-imports"


def save_pending(folder: str, preview: Preview, user_id: int, sub: Submission) -> str:
    """Keep a preview's validated answers for its confirmation (so the file is read once); the
    token names it.  The user's older ones go."""
    os.makedirs(folder, exist_ok=True)
    sweep_pending(folder)
    drop_pending_of(folder, user_id)  # one preview per user: an upload replaces the last
    token = secrets.token_urlsafe(24)
    kept = {"user": user_id, "submission": sub.id, "round": preview.round, "version": preview.version,
            "definition": definition_version(preview.round, sub.cluster.category, sub.edition.years),
            "at": time.time(), "answers": preview.answers, "info": preview.info, "counts": list(preview.counts)}
    tmp = os.path.join(folder, f"{token}.json.part")
    with open(tmp, "wb") as fh:
        fh.write(json.dumps(kept, ensure_ascii=False).encode())
    os.replace(tmp, os.path.join(folder, token + ".json"))
    return token


def load_pending(folder: str, token: str, user_id: int, sub: Submission) -> Preview | None:
    """The kept preview, if the token is this user's for this submission, not too old and made
    against the current definition; None otherwise.  Its ``round`` and ``version`` say what it
    was made against (the caller refuses a report changed since)."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    try:
        with open(os.path.join(folder, token + ".json"), "rb") as fh:
            kept = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("user") != user_id or kept.get("submission") != sub.id \
            or time.time() - kept.get("at", 0) > PENDING_MAX_AGE or kept.get("round") not in ROUND_LABELS:
        return None
    if kept.get("definition") != definition_version(kept["round"], sub.cluster.category, sub.edition.years):
        return None
    return Preview(kept["round"], kept["version"], [], [], kept["answers"], kept["info"], tuple(kept["counts"]))


def discard_pending(folder: str, token: str) -> None:
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return
    try:
        os.remove(os.path.join(folder, token + ".json"))
    except FileNotFoundError:
        pass


def drop_pending_of(folder: str, user_id: int) -> None:
    """Remove the kept files of one user's earlier previews."""
    for name in os.listdir(folder):
        if not name.endswith(".json"):
            continue
        token = name[:-len(".json")]
        try:
            with open(os.path.join(folder, name), "rb") as fh:
                owner = json.loads(fh.read()).get("user")
        except (OSError, ValueError):
            continue
        if owner == user_id:
            discard_pending(folder, token)


def sweep_pending(folder: str, max_age: float = PENDING_MAX_AGE) -> int:
    """Remove kept files older than ``max_age`` seconds (previews never confirmed)."""
    cutoff, removed = time.time() - max_age, 0
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        try:
            if os.path.getmtime(path) < cutoff:
                os.remove(path)
                removed += 1
        except OSError:
            continue
    return removed
