"""6.1 and the figures of the printed report (issue 23, item 12): the declaration of 6.1 in a ruled
table as in the seed; the 增幅 header of a grid with share rows names percentage points; a figure
keeps the decimals the applicant typed (63.0 stays 63.0) and prints with thousands separators,
and the summary workbook shows it the same way (one rule: report/numbers.number_text and
excel_number_format).  Read with tests/pdfread.py (PDFium, in pdfplumber's conventions)."""
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from werkzeug.datastructures import MultiDict

from factories import ALLOY, submission_of
from fill import complete_answers, step_data
from wizard.exports.summary import summary_xlsx
from wizard.extensions import db
from wizard.pdf.report import report_pdf
from wizard.report.definition import get_report
from wizard.report.forms import form_to_answers, make_step_form
from wizard.models import local_now
from pdfread import open_pdf

# deterministic documents read, never a render counted: renders are shared by content (conftest)
pytestmark = pytest.mark.shared_pdf_cache

YEARS = {"y1": 2021, "y2": 2022, "t1": 2023, "t2": 2024, "t3": 2025}
TYPED = {"output_total": {"y1": "63.0", "y2": "6.2"}, "employees": {"y1": "86500", "y2": "90000"},
         "market_share": {"y1": "12.5", "y2": "13.70"}}
PRINTED = {("output_total", "y1"): "63.0", ("output_total", "y2"): "6.2", ("employees", "y1"): "86,500",
           ("employees", "y2"): "90,000", ("market_share", "y2"): "13.70"}


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def test_a_saved_step_keeps_the_decimals_the_applicant_typed(app):
    step = get_report("preliminary").step_of("output_total")
    data = step_data("preliminary", step.key)
    data.update({"output_total-y1": "63.0", "output_total-y2": "6.20", "employees-y1": "86,500"})
    with app.app_context():
        form = make_step_form("preliminary", step.key, "advanced", YEARS, formdata=MultiDict(data),
                              meta={"csrf": False})
        assert form.validate(), form.errors
        answers = form_to_answers(form)
    assert answers["output_total"] == {"y1": "63.0", "y2": "6.20"}
    assert answers["employees"]["y1"] == "86500"


def excel_text(cell) -> str:
    """What a spreadsheet shows for a number cell with a #,##0[.0…] format."""
    fmt = cell.number_format
    assert re.fullmatch(r"#,##0(\.0+)?", fmt), fmt
    decimals = len(fmt.split(".")[1]) if "." in fmt else 0
    return format(Decimal(str(cell.value)), f",.{decimals}f")


def filled(app):
    with app.app_context(), app.test_request_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = dict(complete_answers("preliminary"), **TYPED)
        db.session.commit()
        pdf = report_pdf(sub, "preliminary")
        xlsx, _ = summary_xlsx([sub], "preliminary", sub.edition, now=local_now())
    return pdf, load_workbook(io.BytesIO(xlsx))


def test_figures_print_with_the_typed_decimals_and_separators_as_in_the_summary(app):
    pdf, wb = filled(app)
    report = get_report("preliminary")
    with open_pdf(pdf) as doc:
        page = next(p for p in doc.pages if p.search(report.field("output_total").label))
        lines = {squash(ln["text"]) for ln in page.extract_text_lines()}
    ws = wb["汇总"]
    heads = {}
    upper = None
    for col in range(1, ws.max_column + 1):
        upper = ws.cell(1, col).value or upper
        heads[(upper, ws.cell(2, col).value)] = col
    row = next(r for r in range(3, ws.max_row + 1) if ws.cell(r, 2).value == ALLOY)
    for key in TYPED:
        label = report.field(key).label
        line = next(ln for ln in lines if ln.startswith(squash(label)))
        for (k, part), text in PRINTED.items():
            if k != key:
                continue
            assert text in line, (label, text, line)  # the PDF
            col = next(c for (u, lower), c in heads.items() if u and u.endswith(label) and lower == f"{YEARS[part]}年")
            assert excel_text(ws.cell(row, col)) == text  # the summary shows the same
    assert not any(ln.startswith(squash(report.field("output_total").label)) and "63.0" not in ln for ln in lines)


def test_growth_header_names_percentage_points_where_a_share_row_has_them(app):
    pdf, _ = filled(app)
    with open_pdf(pdf) as doc:
        page = next(p for p in doc.pages if p.search("2.1"))
        year = page.search(f"{YEARS['y2']}年")[0]
        first_row = page.search("集群总产值")[0]
        header = "".join(c["text"] for c in page.chars if c["x0"] > year["x1"] and year["top"] - 20 < c["top"]
                         < first_row["top"] and c["size"] < 30)
    assert "个百分点" in header, header  # 增幅（% / 个百分点）: the share rows hold +1.20个百分点


def test_the_declaration_of_6_1_is_a_ruled_table(app):
    pdf, _ = filled(app)
    section = next(s for s in get_report("preliminary").sections if s.layout == "declaration")
    signers = [f for f in section.fields if f.kind_of.one_line]
    first_line = section.note.split("\n")[0][:10]
    with open_pdf(pdf, rules=True) as doc:
        page = next(p for p in doc.pages if p.search(section.heading))
        text = page.search(first_line)[0]
        mid = (text["top"] + text["bottom"]) / 2
        sides = [ln for ln in page.lines if ln["width"] < 1 and ln["top"] < mid < ln["bottom"]]
        assert any(ln["x0"] < text["x0"] for ln in sides) and any(ln["x0"] > text["x1"] for ln in sides)
        above = [ln for ln in page.lines if ln["height"] < 1 and ln["top"] < text["top"]
                 and ln["x0"] < text["x0"] < ln["x1"]]
        assert above, "a rule above the declaration text"
        labels = [page.search(f.print_label)[0] for f in signers]
        right, left = max(labels, key=lambda m: m["x0"]), min(labels, key=lambda m: m["x0"])
        y = (right["top"] + right["bottom"]) / 2
        between = [ln for ln in page.lines if ln["width"] < 1 and ln["top"] < y < ln["bottom"]
                   and left["x1"] < ln["x0"] < right["x0"]]
        assert between, "a rule between the two signers' cells"
