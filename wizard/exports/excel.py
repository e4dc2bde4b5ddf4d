"""Excel files administrators download, and the one writer every exported cell goes through.

No Flask request objects here: views pass the submissions in."""
from __future__ import annotations

from datetime import datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.styles import Alignment, Font

from ..models import to_local
from ..report.model import ROUND_LABELS
from ..workflow.states import current_round, state_label

# The recognised outcome is wherever the 认定 move leads (awarded, 认定为培育对象).

# --- Excel ------------------------------------------------------------------------------

SUMMARY_COLUMNS = ("序号", "集群名称", "类别", "市州", "审核政府", "状态", "当前轮次", "最后更新时间")

BOLD = Font(bold=True)
CENTER = Alignment(horizontal="center", vertical="center")

# What a spreadsheet may read as the start of a formula or a DDE call: = + - @, tab and CR,
# and their full-width forms (Excel's Chinese and Japanese input turns ＝ into =).
FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")


def looks_like_formula(text: str) -> bool:
    """True when the text, also after leading whitespace, starts like a formula."""
    return bool(text) and (text[0] in FORMULA_STARTS or text.lstrip()[:1] in FORMULA_STARTS)


class Formula(str):
    """A formula the export itself builds (a subtotal of its own rows): the only text ``put``
    writes as a formula.  Text from the database is a plain ``str`` and always stays text."""

    def __new__(cls, text: str):
        if not text.startswith("="):
            raise ValueError("a formula starts with =")
        return super().__new__(cls, text)


def put(cell, value, number_format: str | None = None):
    """Write one value into an export cell: the only way the exports write a cell.

    Numbers and datetimes stay numbers, with ``number_format`` when one is given (also a
    ``Formula``'s result).  Text is always stored as a string cell (``t="inlineStr"``
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
    if isinstance(value, Formula):
        cell.value = str(value)  # openpyxl stores text starting with = as a formula
        if number_format:
            cell.number_format = number_format
    elif isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.value = value
        cell.data_type = "s"
        if looks_like_formula(value):
            cell.quotePrefix = True
            cell.number_format = "@"
    else:
        cell.value = value
        if number_format and value is not None:
            cell.number_format = number_format
    return cell


def append_row(ws, values, number_formats=(), font=None, alignment=None) -> int | None:
    """Append a row, every value written through ``put`` (``number_formats``: one per value, or
    none); returns the row number.  A write-only worksheet (big exports) streams the row and
    does not count rows: None then, the caller counts."""
    formats = number_formats or [None] * len(values)
    if ws.parent.write_only:
        if font is None and alignment is None:  # the rows of a big export: no call more than needed
            ws.append([None if value is None else put(WriteOnlyCell(ws), value, fmt)
                       for value, fmt in zip(values, formats)])
        else:
            ws.append([styled(put(WriteOnlyCell(ws), value, fmt), font, alignment)
                       for value, fmt in zip(values, formats)])
        return None
    ws.append([None] * len(values))
    row = ws.max_row
    for column, (value, fmt) in enumerate(zip(values, formats), 1):
        styled(put(ws.cell(row, column), value, fmt), font, alignment)
    return row


def styled(cell, font=None, alignment=None):
    if font is not None:
        cell.font = font
    if alignment is not None:
        cell.alignment = alignment
    return cell


def save_workbook(wb: Workbook) -> bytes:
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def set_widths(ws, widths) -> None:
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width


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
    set_widths(ws, (7, 46, 22, 12, 28, 18, 10, 18))
    return save_workbook(wb)


def submissions_filename(now: datetime) -> str:
    return f"申报汇总-{now:%Y%m%d-%H%M}.xlsx"
