"""Reading an uploaded workbook with openpyxl, in a short-lived process of its own: run as a
script by exports/xlsx_checks.read_in_process, after the file checks and the counting of its
parts (exports/xlsx_checks.py) accepted it.  openpyxl reads every part with defusedxml here
(the caller sets OPENPYXL_LXML=False; otherwise openpyxl would prefer lxml for the workbook,
styles and shared strings).  It imports only the standard library and openpyxl,
bounds itself (RLIMIT_AS, RLIMIT_CPU, an alarm) and answers plain data as JSON, so whatever
openpyxl allocates goes back to the system when it ends, and a reading that runs away ends it.

Standard input: one line of JSON (``job``, ``payload``, ``memory``, ``seconds``), then the file.
Jobs: ``template`` (the report template, laid out by ``payload["plans"]``, plain data that
exports/template_import.layout makes from exports/template.sheet_plans) and ``accounts`` (the
rows of the account workbook's sheet).  A file that openpyxl cannot read: ``{"refused": …}``."""
from __future__ import annotations

import json
import resource
import signal
import sys
from datetime import date, datetime, time as day_time
from decimal import Decimal, InvalidOperation
from io import BytesIO

from openpyxl import DEFUSEDXML, LXML, load_workbook
from openpyxl.utils import get_column_letter

BROKEN = "文件内容已损坏或格式不正确（无法解析其中的 XML），请在 Excel 中重新保存后上传。"


class Refused(Exception):
    """The workbook is refused as a whole; the message says why, in Chinese."""


def plain(value):
    """A cell value JSON can carry (dates as text)."""
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


# --- the report template --------------------------------------------------------------------------

class Reading:
    """What the workbook holds: the answers document, where each value came from (form path →
    [sheet, cell, label]) and the problems found while reading."""

    def __init__(self, job: dict, info: dict):
        self.job, self.info = job, info
        self.answers, self.places, self.problems = {}, {}, []
        self.cells = self.read = 0

    def visit(self, cells) -> None:
        """Count a row as read (its cells and itself), refusing a workbook that stretches far
        beyond the template; then count its filled cells."""
        self.read += len(cells) + 1
        if self.read > self.job["max_read"]:
            raise Refused("文件中的工作表远大于填报模板（有内容或格式的行、列过多），已拒绝。"
                          "请使用从本系统下载的填报模板，不要在模板以外的行、列中填写或设置格式。")

    def count(self, n: int) -> None:
        self.cells += n
        if self.cells > self.job["max_cells"]:
            raise Refused(f"文件中填写的单元格超过 {self.job['max_cells']} 个，远多于填报模板所能容纳的内容，已拒绝。"
                          "请使用从本系统下载的填报模板。")

    def place(self, sheet: str, coordinate: str, label: str) -> list:
        return [sheet, coordinate, label]


def place_text(place) -> str:
    return f"{place[0]}!{place[1]}（{place[2]}）"


def read_info(wb, job: dict) -> dict:
    """The hidden sheet's key → value, or refuse a workbook that has none."""
    if job["info_sheet"] not in wb.sheetnames:
        raise Refused("该工作簿不是从本系统下载的填报模板（缺少模板信息）。请在“填报任务”页面下载填报模板，填写后再上传。")
    ws = wb[job["info_sheet"]]
    ws.reset_dimensions()
    info = {}
    for row in ws.iter_rows(max_row=len(job["info_keys"]) + 5, max_col=2, values_only=True):
        if row and row[0] in job["info_keys"]:
            info[row[0]] = plain(row[1]) if len(row) > 1 else None
    return info


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


def slot_answer(slot: dict, cell, reading: Reading, place: list):
    """The typed value of one input cell (a problem for a formula or an unknown tick)."""
    text = cell_text(cell)
    agreed = reading.job["agreed"]
    if text is None:
        reading.problems.append(f"{place_text(place)}：请直接填写内容，不能使用公式（可复制后“选择性粘贴 → 数值”）。")
        return ""
    if slot["agree"]:
        if text in (True, agreed):
            return True
        if text in (False, ""):
            return False
        reading.problems.append(f"{place_text(place)}：请选择“{agreed}”或留空。")
        return False
    if isinstance(text, bool):
        return "TRUE" if text else "FALSE"
    return text


def read_row(plan: dict, row: dict, cells, r: int, reading: Reading, index: int | None) -> dict:
    """The values of one keyed row: {part: value} ({(): value} for a single value)."""
    out = {}
    for slot in row["slots"]:
        column = slot["column"]
        cell = cells[column - 1] if len(cells) >= column else None
        label = f"第 {index + 1} 行 {slot['label']}" if index is not None else slot["label"]
        place = reading.place(plan["title"], f"{get_column_letter(column)}{r}", label)
        path = "-".join([slot["key"]] + ([str(index)] if index is not None else []) + list(slot["part"]))
        reading.places[path] = place
        out[tuple(slot["part"])] = slot_answer(slot, cell, reading, place) if cell is not None else (
            False if slot["agree"] else "")
    return out


def check_header(plan: dict, row: dict, cells, r: int, reading: Reading) -> bool:
    for col, text in row["cells"].items():
        col = int(col)
        actual = cells[col - 1].value if len(cells) >= col else None
        if str(actual if actual is not None else "").strip() != str(text).strip():
            reading.problems.append(
                f"{plan['title']}!{get_column_letter(col)}{r}：表头应为“{text}”，模板的结构已被改动（插入、删除或移动了行列），"
                f"本工作表无法读取。请重新下载填报模板填写。")
            return False
    return True


def filled(cells, first: int = 1, last: int | None = None) -> list:
    """The non-empty cells among columns first..last of a row."""
    return [c for c in cells[first - 1:last] if c.value not in (None, "")]


def read_sheet(ws, plan: dict, reading: Reading) -> None:
    """Read one step's sheet by the hidden keys of its rows (rows inserted into a table count as
    its rows; anything typed outside the input cells is a problem)."""
    job = reading.job
    key_column, last_column = job["key_column"], job["last_column"]
    keyed, seen, tables, outside = plan["keyed"], set(), {}, []
    table = None
    ws.reset_dimensions()  # read every row, whatever the stored dimension claims
    for r, cells in enumerate(ws.iter_rows(), 1):
        reading.visit(cells)
        reading.count(len(filled(cells)))
        key = cells[key_column - 1].value if cells else None
        outside += [c.coordinate for c in filled(cells, last_column + 1)]
        row = keyed.get(key) if isinstance(key, str) else None
        if row is None and key in (None, "") and table is not None:
            row, key = keyed[table], table  # a row inserted into a table
        if row is None:
            table = None
            if key not in (None, "") or filled(cells, key_column + 1, last_column):
                if key != "-":
                    reading.problems.append(f"{plan['title']}!A{r}：这一行不属于填报模板（可能是插入或复制的行），"
                                            f"请删除或把内容填到模板原有的行中。")
            continue
        if key.startswith("h"):
            if not check_header(plan, row, cells, r, reading):
                return
        elif key.startswith("t:"):
            table = key
            tables.setdefault(key, []).append((r, cells))
        elif key in seen:
            reading.problems.append(f"{plan['title']}!A{r}：“{row['label']}”这一行重复出现，请删除多余的行。")
        else:
            table = None
            values = read_row(plan, row, cells, r, reading, None)
            reading.answers[row["slots"][0]["key"]] = field_answer(values)
        seen.add(key)
    finish_sheet(plan, reading, seen, tables, outside)


def field_answer(values: dict):
    """A field's answer from its row's values: a single value, or {value key: text}."""
    if list(values) == [()]:
        return values[()]
    return {part[0]: v for part, v in values.items()}


def finish_sheet(plan: dict, reading: Reading, seen: set, tables: dict, outside: list) -> None:
    """The tables' rows (blank rows left out, as the form does), missing rows, stray cells."""
    job = reading.job
    for key, rows in tables.items():
        row = plan["keyed"][key]
        field_key = row["slots"][0]["key"]
        answer, first = [], rows[0][0]
        for r, cells in rows:
            if not filled(cells, job["key_column"] + 1, job["last_column"]):
                continue
            values = read_row(plan, row, cells, r, reading, len(answer))
            answer.append({part[0]: v for part, v in values.items()})
        reading.answers[field_key] = answer
        reading.places[field_key] = reading.place(plan["title"], f"B{first}", row["name"])
    for key, row in plan["keyed"].items():
        if key not in seen and (key.startswith("f:") or key.startswith("t:")):
            reading.problems.append(f"{plan['title']}：缺少“{row['label'] if key.startswith('f:') else row['name']}”"
                                    f"所在的行（请勿删除模板中的行）。请重新下载填报模板填写。")
    if outside:
        listed = job["max_listed"]
        more = f"等 {len(outside)} 处" if len(outside) > listed else ""
        reading.problems.append(f"{plan['title']}!{'、'.join(outside[:listed])}{more}：这些单元格在填报区域之外，"
                                f"其内容不会导入，请删除。")


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


def read_template(wb, job: dict) -> dict:
    """The template's answers, where each came from and the problems of reading it; a workbook
    whose hidden sheet does not say what ``job["expect"]`` says is not read further (the caller
    says why, from ``info``)."""
    info = read_info(wb, job)
    if any(str(info.get(k)) != str(v) for k, v in job["expect"].items()):
        return {"info": info, "foreign": True}
    reading = Reading(job, info)
    plans = job["plans"]
    titles = {p["title"] for p in plans}
    if len(wb.sheetnames) > len(plans) + 1 + job["max_extra_sheets"]:
        raise Refused(f"文件中有 {len(wb.sheetnames)} 个工作表，远多于填报模板的 {len(plans)} 个，已拒绝。"
                      "请使用从本系统下载的填报模板。")
    for name in wb.sheetnames:
        if name not in titles and name != job["info_sheet"] and sheet_has_content(wb[name], reading):
            reading.problems.append(f"工作表“{name}”不是填报模板中的工作表，其内容不会导入。请删除该工作表，或把内容填到对应步骤的工作表中。")
    for plan in plans:
        if plan["title"] in wb.sheetnames:
            read_sheet(wb[plan["title"]], plan, reading)
        else:
            reading.problems.append(f"缺少工作表“{plan['title']}”（请勿删除或重命名工作表）。")
    return {"info": info, "answers": reading.answers, "places": reading.places, "problems": reading.problems,
            "cells": reading.cells, "read": reading.read}


# --- the account workbook --------------------------------------------------------------------------

def read_accounts(wb, job: dict) -> dict:
    """The header and the rows with any value of the accounts sheet: [row number, values]."""
    if job["sheet"] not in wb.sheetnames:
        return {"missing": True}
    rows = wb[job["sheet"]].iter_rows(min_row=1, max_col=job["columns"], values_only=True)
    header = [plain(v) for v in next(rows, ())]
    out, stopped = [], None
    for number, values in enumerate(rows, start=2):
        if number > job["max_read_rows"]:
            stopped = "read"
            break
        if any(v not in (None, "") for v in values):
            out.append([number, [plain(v) for v in values]])
            if len(out) > job["max_rows"]:
                stopped = "rows"
                break
    return {"header": header, "rows": out, "stopped": stopped}


JOBS = {"template": (read_template, False), "accounts": (read_accounts, True)}


def read(job: str, payload: dict, data: bytes) -> dict:
    reader, values_only = JOBS[job]
    try:
        wb = load_workbook(BytesIO(data), read_only=True, data_only=values_only, keep_links=False)
    except Exception:  # openpyxl raises many kinds (KeyError, ValueError, XML errors) for a broken file
        return {"refused": BROKEN}
    try:
        return reader(wb, payload)
    except Refused as refused:
        return {"refused": str(refused)}
    except MemoryError:
        raise
    except Exception:  # a sheet's XML that does not parse shows only while it is read
        return {"refused": BROKEN}
    finally:
        wb.close()


def peak_rss() -> int:
    """This process's peak resident memory since it started (VmHWM: the reading, without the
    memory of the process that started it), in bytes."""
    try:
        with open("/proc/self/status") as fh:
            return int(fh.read().split("VmHWM:")[1].split()[0]) * 1024
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> int:
    if LXML or not DEFUSEDXML:  # the caller sets OPENPYXL_LXML=False: every part through defusedxml
        return 4
    stdin = sys.stdin.buffer
    header = json.loads(stdin.readline())
    seconds = int(header["seconds"]) + 1
    signal.alarm(seconds)  # ends this process even if the one that started it is gone
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (header["memory"], header["memory"]))
    data = stdin.read()
    try:
        answer = read(header["job"], header["payload"], data)
    except MemoryError:
        return 3
    answer["peak_rss"] = peak_rss()
    sys.stdout.buffer.write(json.dumps(answer).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
