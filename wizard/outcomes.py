"""An edition's outcome: the result list in the official 附件3 layout, and the Excel files
administrators download (the result list, the submissions summary).

No Flask request objects here: views pass the user and the filter values in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font

from .access import visible_submissions
from .extensions import db
from .models import CATEGORY_ADVANCED, CATEGORY_LABELS, CATEGORY_SME, Cluster, Edition, Region, Submission, to_local
from .report.model import ROUND_LABELS
from .report.numbers import clean_text
from .workflow import MOVES_BY_KEY, STATES, current_round, state_label

# The recognised outcome is wherever the 认定 move leads (awarded, 认定为培育对象).
AWARDED_STATE = MOVES_BY_KEY["award"].target

# 附件3's headings, verbatim; {batch} is "第一批" for the first edition.
RESULT_TITLE = "省级产业集群培育对象名单（{batch}）"
GROUP_HEADINGS = {
    CATEGORY_ADVANCED: "一、湖南省先进制造业集群培育对象名单（{batch}）",
    CATEGORY_SME: "二、湖南省中小企业特色产业集群培育对象（{batch}）",
}
RESULT_COLUMNS = ("序号", "集群名称", "所在市州", "审核政府")
SUMMARY_COLUMNS = ("序号", "集群名称", "类别", "市州", "审核政府", "状态", "当前轮次", "最后更新时间")


def batch_label(edition: Edition) -> str:
    """Edition N (…（第一届）) publishes batch N (第一批); editions not named that way use their name."""
    m = re.search(r"第([^（）()]+?)届", edition.name or "")
    return f"第{m.group(1)}批" if m else edition.name


@dataclass(frozen=True)
class ResultEntry:
    number: int
    submission_id: int
    name: str
    city: str
    government: str


@dataclass(frozen=True)
class ResultGroup:
    category: str
    heading: str
    entries: tuple[ResultEntry, ...]


@dataclass(frozen=True)
class ResultList:
    edition: Edition
    title: str
    groups: tuple[ResultGroup, ...]

    @property
    def total(self) -> int:
        return sum(len(g.entries) for g in self.groups)


def result_list(edition: Edition, user) -> ResultList:
    """The clusters recognised in this edition, grouped by category in 附件3's order.

    Within a group clusters are ordered by cluster id: the seed loads 附件3's clusters in
    the order printed there, so the official order is reproduced and later additions go last."""
    subs = db.session.execute(
        visible_submissions(user)
        .where(Submission.edition_id == edition.id, Submission.state == AWARDED_STATE)
        .order_by(Cluster.id)
    ).scalars().all()
    batch = batch_label(edition)
    groups = []
    for category, heading in GROUP_HEADINGS.items():
        members = [s for s in subs if s.cluster.category == category]
        entries = tuple(ResultEntry(i, s.id, s.cluster.name, s.cluster.region.city.name,
                                    s.cluster.region.government_name) for i, s in enumerate(members, 1))
        groups.append(ResultGroup(category, heading.format(batch=batch), entries))
    return ResultList(edition, RESULT_TITLE.format(batch=batch), tuple(groups))


def filtered_submissions(user, *, state: str = "", category: str = "", city: str = "", q: str = "",
                         edition_id: int | None = None, sort: str = "name"):
    """A select() of the submissions this user may see, with the administrator list's filters:
    state key, category key, city region code (the city and its counties), name search, edition."""
    query = visible_submissions(user).join(Cluster.region)
    if state in STATES:
        query = query.where(Submission.state == state)
    if category in CATEGORY_LABELS:
        query = query.where(Cluster.category == category)
    if city:
        city_region = db.session.execute(db.select(Region).filter_by(code=city)).scalar_one_or_none()
        if city_region:
            query = query.where((Region.id == city_region.id) | (Region.parent_id == city_region.id))
    q = clean_text(q or "").strip()
    if q:
        query = query.where(Cluster.name.contains(q[:64], autoescape=True))
    if edition_id is not None:
        query = query.where(Submission.edition_id == edition_id)
    order = {"name": Cluster.name, "state": Submission.state,
             "updated": Submission.updated_at.desc()}.get(sort, Cluster.name)
    return query.order_by(order, Submission.id)


# --- Excel ------------------------------------------------------------------------------

BOLD = Font(bold=True)
CENTER = Alignment(horizontal="center", vertical="center")

# What a spreadsheet may read as the start of a formula or a DDE call: = + - @, tab and CR,
# and their full-width forms (Excel's Chinese and Japanese input turns ＝ into =).
FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")


def looks_like_formula(text: str) -> bool:
    """True when the text, also after leading whitespace, starts like a formula."""
    return bool(text) and (text[0] in FORMULA_STARTS or text.lstrip()[:1] in FORMULA_STARTS)


def put(cell, value):
    """Write one value into an export cell: the only way the exports write a cell.

    Numbers and datetimes stay numbers.  Text is always stored as a string cell (``t="inlineStr"``
    in the file): Excel and LibreOffice both load a string cell as text and never evaluate it,
    whatever it starts with.  openpyxl would otherwise store text beginning with ``=`` as a
    formula (``=HYPERLINK(...)`` becomes a live link) and ``#N/A`` as an error.  Text that looks like
    a formula (see ``looks_like_formula``) is additionally marked as quoted text: the cell format
    gets ``quotePrefix="1"`` — exactly what Excel itself stores when someone types ``'=...`` — and
    the number format ``@`` (Text), which LibreOffice honours, so that editing the cell and pressing
    Enter keeps it text instead of turning it into a formula.

    Prefixing an apostrophe to the text itself is not used: the apostrophe convention only exists
    when typing or in CSV; in an .xlsx string cell both programs show a stored ``'`` as part of
    the text, so the exported name would no longer be the name.  The visible text is kept as it
    is; only characters that XML cannot carry (control characters other than tab, LF and CR)
    are dropped."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.value = value
        cell.data_type = "s"
        if looks_like_formula(value):
            cell.quotePrefix = True
            cell.number_format = "@"
    else:
        cell.value = value
    return cell


def append_row(ws, values) -> int:
    """Append a row, every value written through ``put``; returns the row number."""
    ws.append([None] * len(values))
    row = ws.max_row
    for column, value in enumerate(values, 1):
        put(ws.cell(row, column), value)
    return row


def _save(wb: Workbook) -> bytes:
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _widths(ws, widths) -> None:
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width


def result_list_xlsx(results: ResultList) -> bytes:
    """附件3 as a worksheet: merged title row; per group a merged heading row, a header row, the clusters."""
    wb = Workbook()
    ws = wb.active
    ws.title = "培育对象名单"
    span = len(RESULT_COLUMNS)
    append_row(ws, [results.title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=span)
    ws.cell(1, 1).font = Font(bold=True, size=16)
    ws.cell(1, 1).alignment = CENTER
    ws.row_dimensions[1].height = 30
    for group in results.groups:
        row = append_row(ws, [group.heading])
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=span)
        ws.cell(row, 1).font = Font(bold=True, size=13)
        for cell in ws[append_row(ws, list(RESULT_COLUMNS))]:
            cell.font = BOLD
            cell.alignment = CENTER
        for e in group.entries:
            row = append_row(ws, [e.number, e.name, e.city, e.government])
            ws.cell(row, 1).alignment = CENTER
        if not group.entries:
            append_row(ws, ["", "（暂无）"])
    _widths(ws, (8, 46, 14, 28))
    return _save(wb)


def result_list_filename(results: ResultList) -> str:
    return f"{results.title}.xlsx"


def submissions_xlsx(subs) -> bytes:
    """The administrators' summary of submissions, one row each, with a filterable header row."""
    wb = Workbook()
    ws = wb.active
    ws.title = "申报汇总"
    append_row(ws, list(SUMMARY_COLUMNS))
    for cell in ws[1]:
        cell.font = BOLD
        cell.alignment = CENTER
    for i, s in enumerate(subs, 1):
        region = s.cluster.region
        row = append_row(ws, [i, s.cluster.name, s.cluster.category_label, region.city.name, region.government_name,
                              state_label(s.state), ROUND_LABELS[current_round(s)], to_local(s.updated_at)])
        ws.cell(row, len(SUMMARY_COLUMNS)).number_format = "yyyy-mm-dd hh:mm"
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    _widths(ws, (7, 46, 22, 12, 28, 18, 10, 18))
    return _save(wb)


def submissions_filename(now: datetime) -> str:
    return f"申报汇总-{now:%Y%m%d-%H%M}.xlsx"
