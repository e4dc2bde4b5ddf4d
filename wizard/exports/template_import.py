"""Importing a filled template (填报模板): the file checked before anything parses it, the
workbook read into an answers document, that document validated by the web forms
(report/service.validate_answers: one parser, one set of limits), a preview of what would
change, and the confirmed import saved as one version step with a history entry.

What is refused outright (``TemplateRefused``, a Chinese message, nothing stored): a file too
large, anything but an .xlsx workbook (.xls, .csv, a renamed file: judged by content), a
password-protected (encrypted) file, a macro-enabled one, one with external links, a zip bomb
(declared sizes and ratios, before openpyxl opens it), XML with a DTD or that does not parse,
more filled cells than the template can hold, and a workbook that is not this submission's
template of this round and edition and of the current definition.  Everything else wrong is a
problem pointing to its sheet and cell; with any problem nothing is applied.

No Flask request here: the view passes the bytes, the submission, the user and the folder in.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field as dataclass_field
from datetime import date, datetime, time as day_time
from decimal import Decimal, InvalidOperation
from io import BytesIO

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

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
    SheetPlan,
    definition_version,
    sheet_plans,
)
from .xlsx_checks import WorkbookRefused, check_file as check_workbook_file

DEFAULT_MAX_BYTES = 5 * 1024 * 1024  # WIZARD_TEMPLATE_MAX_MB (config TEMPLATE_MAX_BYTES) overrides
MAX_CELLS = 20_000  # filled cells in all sheets (a full template has about 1,500)
#: cells read, empty or not, in all sheets: openpyxl yields every empty row up to a sheet's last
#: and pads rows to their last cell, so a tiny file with one cell at row 1,048,576 or column XFD
#: would cost seconds per sheet (a full template reads about 20,000)
MAX_READ = 300_000
MAX_EXTRA_SHEETS = 5  # sheets beyond the template's (a user's own notes)
MAX_LISTED = 5  # cells outside the template named one by one, per sheet
IMPORT_MOVE = "import"  # the history entry's move (workflow/states.OTHER_ENTRIES labels it)
AUDIT_ACTION = "template_import"
PENDING_MAX_AGE = 3600  # seconds a previewed file is kept for its confirmation
TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")

#: the file checks shared with the account workbook (exports/xlsx_checks.py); one exception class
TemplateRefused = WorkbookRefused


def check_file(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse what is not a plain .xlsx workbook within the limits (raises TemplateRefused)."""
    check_workbook_file(data, max_bytes, "填报模板")


# --- reading the workbook -----------------------------------------------------------------------

@dataclass
class Place:
    """Where an answer came from: the sheet, the cell and what the cell is."""

    sheet: str
    coordinate: str
    label: str

    def __str__(self) -> str:
        return f"{self.sheet}!{self.coordinate}（{self.label}）"


@dataclass
class Reading:
    """What the workbook holds: the answers document, where each value came from, and the
    problems found while reading (before the form validation)."""

    info: dict
    answers: dict = dataclass_field(default_factory=dict)
    places: dict = dataclass_field(default_factory=dict)  # form path (top10-2-name) → Place
    problems: list = dataclass_field(default_factory=list)
    cells: int = 0
    read: int = 0

    def visit(self, cells) -> None:
        """Count a row as read (its cells and itself), refusing a workbook that stretches far
        beyond the template; then count its filled cells."""
        self.read += len(cells) + 1
        if self.read > MAX_READ:
            raise TemplateRefused("文件中的工作表远大于填报模板（有内容或格式的行、列过多），已拒绝。"
                                  "请使用从本系统下载的填报模板，不要在模板以外的行、列中填写或设置格式。")

    def count(self, n: int) -> None:
        self.cells += n
        if self.cells > MAX_CELLS:
            raise TemplateRefused(f"文件中填写的单元格超过 {MAX_CELLS} 个，远多于填报模板所能容纳的内容，已拒绝。"
                                  "请使用从本系统下载的填报模板。")


def open_workbook(data: bytes):
    try:
        return load_workbook(BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception:  # openpyxl raises many kinds (KeyError, ValueError, XML errors) for a broken file
        raise TemplateRefused("文件内容已损坏或格式不正确（无法解析其中的 XML），请在 Excel 中重新保存后上传。") from None


def read_info(wb) -> dict:
    """The hidden sheet's key → value, or refuse a workbook that has none."""
    if INFO_SHEET not in wb.sheetnames:
        raise TemplateRefused("该工作簿不是从本系统下载的填报模板（缺少模板信息）。请在“填报任务”页面下载填报模板，填写后再上传。")
    ws = wb[INFO_SHEET]
    ws.reset_dimensions()
    info = {}
    for row in ws.iter_rows(max_row=len(INFO_KEYS) + 5, max_col=2, values_only=True):
        if row and row[0] in INFO_KEYS:
            info[row[0]] = row[1] if len(row) > 1 else None
    return info


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


def cell_text(cell):
    """A cell's value as the form would receive it typed: text (numbers exactly as shown,
    dates as 2021-05-01), or a bool for a tick; None with a formula."""
    value = cell.value
    if getattr(cell, "data_type", None) == "f":
        return None
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        try:
            return format(Decimal(repr(value)), "f")
        except InvalidOperation:  # inf / nan cannot be stored in a cell, but be safe
            return str(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == day_time() else value.isoformat(sep=" ")
    if isinstance(value, (date, day_time)):
        return value.isoformat()
    return str(value)


def slot_answer(slot, cell, reading: Reading, place: Place):
    """The typed value of one input cell (a problem for a formula or an unknown tick)."""
    text = cell_text(cell)
    if text is None:
        reading.problems.append(f"{place}：请直接填写内容，不能使用公式（可复制后“选择性粘贴 → 数值”）。")
        return ""
    if slot.input == AGREE:
        if text in (True, AGREED):
            return True
        if text in (False, ""):
            return False
        reading.problems.append(f"{place}：请选择“{AGREED}”或留空。")
        return False
    if isinstance(text, bool):
        return "TRUE" if text else "FALSE"
    return text


def read_row(plan: SheetPlan, row, cells, r: int, reading: Reading, index: int | None) -> dict:
    """The values of one keyed row: {part: value} ({(): value} for a single value)."""
    out = {}
    for slot in row.slots:
        cell = cells[slot.column - 1] if len(cells) >= slot.column else None
        coordinate = f"{get_column_letter(slot.column)}{r}"
        label = f"第 {index + 1} 行 {slot.label}" if index is not None else slot.label
        place = Place(plan.title, coordinate, label)
        path = "-".join([slot.field.key] + ([str(index)] if index is not None else []) + list(slot.part))
        reading.places[path] = place
        out[slot.part] = slot_answer(slot, cell, reading, place) if cell is not None else (
            False if slot.input == AGREE else "")
    return out


def check_header(plan: SheetPlan, row, cells, r: int, reading: Reading) -> bool:
    for col, text in row.cells.items():
        actual = cells[col - 1].value if len(cells) >= col else None
        if str(actual if actual is not None else "").strip() != str(text).strip():
            reading.problems.append(
                f"{plan.title}!{get_column_letter(col)}{r}：表头应为“{text}”，模板的结构已被改动（插入、删除或移动了行列），"
                f"本工作表无法读取。请重新下载填报模板填写。")
            return False
    return True


def filled(cells, first: int = 1, last: int | None = None) -> list:
    """The non-empty cells among columns first..last of a row."""
    return [c for c in cells[first - 1:last] if c.value not in (None, "")]


def read_sheet(ws, plan: SheetPlan, reading: Reading) -> None:
    """Read one step's sheet by the hidden keys of its rows (rows inserted into a table count as
    its rows; anything typed outside the input cells is a problem)."""
    keyed, seen, tables, outside = plan.keyed, set(), {}, []
    table = None
    ws.reset_dimensions()  # read every row, whatever the stored dimension claims
    for r, cells in enumerate(ws.iter_rows(), 1):
        reading.visit(cells)
        present = filled(cells)
        reading.count(len(present))
        key = cells[KEY_COLUMN - 1].value if cells else None
        outside += [c.coordinate for c in filled(cells, LAST_COLUMN + 1)]
        row = keyed.get(key) if isinstance(key, str) else None
        if row is None and key in (None, "") and table is not None:
            row, key = keyed[table], table  # a row inserted into a table
        if row is None:
            table = None
            if key not in (None, "") or filled(cells, KEY_COLUMN + 1, LAST_COLUMN):
                if key != "-":
                    reading.problems.append(f"{plan.title}!A{r}：这一行不属于填报模板（可能是插入或复制的行），"
                                            f"请删除或把内容填到模板原有的行中。")
            continue
        if key.startswith("h"):
            if not check_header(plan, row, cells, r, reading):
                return
        elif key.startswith("t:"):
            table = key
            tables.setdefault(key, []).append((r, cells))
        elif key in seen:
            reading.problems.append(f"{plan.title}!A{r}：“{row.slots[0].label}”这一行重复出现，请删除多余的行。")
        else:
            table = None
            values = read_row(plan, row, cells, r, reading, None)
            reading.answers[row.slots[0].field.key] = field_answer(row, values)
        seen.add(key)
    finish_sheet(plan, reading, seen, tables, outside)


def field_answer(row, values: dict):
    """A field's answer from its row's values: a single value, or {value key: text}."""
    if list(values) == [()]:
        return values[()]
    return {part[0]: v for part, v in values.items()}


def finish_sheet(plan: SheetPlan, reading: Reading, seen: set, tables: dict, outside: list) -> None:
    """The tables' rows (blank rows left out, as the form does), missing rows, stray cells."""
    for key, rows in tables.items():
        row = plan.keyed[key]
        f = row.slots[0].field
        answer, first = [], rows[0][0]
        for r, cells in rows:
            if not filled(cells, KEY_COLUMN + 1, LAST_COLUMN):
                continue
            values = read_row(plan, row, cells, r, reading, len(answer))
            answer.append({part[0]: v for part, v in values.items()})
        reading.answers[f.key] = answer
        reading.places[f.key] = Place(plan.title, f"B{first}", f.name)
    for key, row in plan.keyed.items():
        if key not in seen and (key.startswith("f:") or key.startswith("t:")):
            reading.problems.append(f"{plan.title}：缺少“{row.slots[0].label if key.startswith('f:') else row.slots[0].field.name}”"
                                    f"所在的行（请勿删除模板中的行）。请重新下载填报模板填写。")
    if outside:
        more = f"等 {len(outside)} 处" if len(outside) > MAX_LISTED else ""
        reading.problems.append(f"{plan.title}!{'、'.join(outside[:MAX_LISTED])}{more}：这些单元格在填报区域之外，"
                                f"其内容不会导入，请删除。")


def read_template(data: bytes, sub: Submission, round_: str) -> Reading:
    """The template's answers and the problems of reading it (refusing a foreign workbook)."""
    wb = open_workbook(data)
    try:
        reading = Reading(read_info(wb))
        check_info(reading.info, sub, round_)
        plans = sheet_plans(round_, sub.cluster.category, sub.edition.years)
        titles = {p.title for p in plans}
        if len(wb.sheetnames) > len(plans) + 1 + MAX_EXTRA_SHEETS:
            raise TemplateRefused(f"文件中有 {len(wb.sheetnames)} 个工作表，远多于填报模板的 {len(plans)} 个，已拒绝。"
                                  "请使用从本系统下载的填报模板。")
        for name in wb.sheetnames:
            if name not in titles and name != INFO_SHEET and sheet_has_content(wb[name], reading):
                reading.problems.append(f"工作表“{name}”不是填报模板中的工作表，其内容不会导入。请删除该工作表，或把内容填到对应步骤的工作表中。")
        for plan in plans:
            if plan.title in wb.sheetnames:
                read_sheet(wb[plan.title], plan, reading)
            else:
                reading.problems.append(f"缺少工作表“{plan.title}”（请勿删除或重命名工作表）。")
        return reading
    except TemplateRefused:
        raise
    except Exception:  # a sheet's XML that does not parse shows only while it is read
        raise TemplateRefused("文件内容已损坏或格式不正确（无法解析其中的 XML），请在 Excel 中重新保存后上传。") from None
    finally:
        wb.close()


def sheet_has_content(ws, reading: Reading) -> bool:
    if not hasattr(ws, "iter_rows"):
        return False  # a chart sheet holds no values
    ws.reset_dimensions()
    found = False
    for cells in ws.iter_rows():
        reading.visit(cells)
        n = len(filled(cells))
        reading.count(n)
        found = found or n > 0
    return found


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
            place = reading.places.get(path) or reading.places.get(path.split("-")[0])
            out.append(f"{place}：{message}" if place else message)
    return out


def preview_import(data: bytes, sub: Submission, round_: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Preview:
    """Check, read and validate an uploaded template against the report as it is now."""
    check_file(data, max_bytes)
    reading = read_template(data, sub, round_)
    result = validate_answers(sub, round_, reading.answers)
    problems = list(reading.problems)
    if result.problems:
        problems += locate(sub, round_, reading) or result.problems
    changes = changes_of(sub, round_, result) if not problems else []
    return Preview(round_, sub.version, problems, changes, result.answers, reading.info,
                   (len(result.added), len(result.changed), len(result.cleared)))


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


# --- the file between preview and confirmation --------------------------------------------------

#: under instance/: uploaded templates waiting for their confirmation (swept after an hour, and by
#: `flask cleanup`)
PENDING_FOLDER = "workbook-imports"


def save_pending(folder: str, data: bytes, user_id: int, sub: Submission, round_: str) -> str:
    """Keep an uploaded template for its confirmation; the token names it.  Older ones go."""
    os.makedirs(folder, exist_ok=True)
    sweep_pending(folder)
    drop_pending_of(folder, user_id)  # one preview per user: an upload replaces the last
    token = secrets.token_urlsafe(24)
    meta = {"user": user_id, "submission": sub.id, "round": round_, "version": sub.version, "at": time.time()}
    for suffix, content in ((".xlsx", data), (".json", json.dumps(meta).encode())):
        tmp = os.path.join(folder, f"{token}{suffix}.part")
        with open(tmp, "wb") as fh:
            fh.write(content)
        os.replace(tmp, os.path.join(folder, token + suffix))
    return token


def load_pending(folder: str, token: str, user_id: int, sub: Submission) -> tuple[bytes, dict] | None:
    """The kept file and what it was previewed against, if the token is this user's for this
    submission and not too old; None otherwise."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    try:
        with open(os.path.join(folder, token + ".json"), "rb") as fh:
            meta = json.loads(fh.read())
        with open(os.path.join(folder, token + ".xlsx"), "rb") as fh:
            data = fh.read()
    except (OSError, ValueError):
        return None
    if meta.get("user") != user_id or meta.get("submission") != sub.id \
            or time.time() - meta.get("at", 0) > PENDING_MAX_AGE:
        return None
    return data, meta


def discard_pending(folder: str, token: str) -> None:
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return
    for suffix in (".xlsx", ".json"):
        try:
            os.remove(os.path.join(folder, token + suffix))
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
            for suffix in (".xlsx", ".json"):
                try:
                    os.remove(os.path.join(folder, token + suffix))
                except OSError:
                    pass


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
