"""The applicant's Excel template (填报模板) as a workbook: sheets, labels, years, current answers,
growth formulas, locked and unlocked cells, validations, the hidden sheet, escaping; and both the
template and the summary workbook opened by LibreOffice (converted to PDF) when it is installed."""
import os
import shutil
import subprocess
from io import BytesIO

import pytest
from openpyxl import load_workbook
from openpyxl.cell.cell import MergedCell
from openpyxl.utils import get_column_letter
from pypdf import PdfReader

from factories import ALLOY, LINXIANG, submission_of
from fill import complete_answers
from wizard.exports.summary import summary_xlsx
from wizard.exports.template import INFO_SHEET, template_xlsx
from wizard.extensions import db
from wizard.models import local_now
from wizard.report.definition import FINAL_VARIANTS, get_report
from wizard.report.model import fill_years

URL = "/applicant/workbook/template.xlsx"
EVIL = '=HYPERLINK("http://evil.example/","点我")'
YEARS = {"y1": 2021, "y2": 2022, "t1": 2023, "t2": 2024, "t3": 2025}


def download(client, auth, user="applicant-a"):
    auth.login(user)
    r = client.get(URL)
    assert r.status_code == 200, r.status_code
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in r.headers["Content-Disposition"] and ".xlsx" in r.headers["Content-Disposition"]
    return load_workbook(BytesIO(r.data))


def row_of(ws, key):
    rows = [r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == key]
    assert rows, key
    return rows[0]


def texts(ws):
    return {str(c.value) for row in ws.iter_rows() for c in row if c.value is not None}


@pytest.fixture
def filled(app, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = dict(complete_answers("preliminary", "advanced"), industry_field=EVIL)
        db.session.commit()


def test_one_sheet_per_step_with_the_forms_labels_and_years(client, auth, filled):
    wb = download(client, auth)
    report = get_report("preliminary")
    steps = [s.title for s in report.steps if s.key != "evidence"]  # 佐证材料 has only uploads
    assert [ws.title for ws in wb.worksheets if ws.sheet_state == "visible"] == steps
    for step in report.steps:
        if step.key == "evidence":
            continue
        found = texts(wb[step.title])
        for f in step.fields:
            if not f.kind_of.answerable or not f.applies_to("advanced"):
                continue
            label = fill_years(f.label, YEARS).rstrip("：:")
            assert any(label in t for t in found), (step.title, label)
    economy = wb["经济指标"]
    head = row_of(economy, "h:economy")
    assert [economy.cell(head, c).value for c in range(2, 6)] == ["指标名称", "2021年", "2022年", "增幅（%）"]
    park = wb["承载园区"]
    head = row_of(park, "h:park_info")
    assert [park.cell(head + 1, c).value for c in range(3, 7)] == ["园区总额", "其中：集群产业"] * 2
    assert park.cell(head, 3).value == "2021年" and park.cell(head, 5).value == "2022年"
    plan = wb["实施方案"]
    assert {"上一年实际值", "2023年发展目标", "2025年发展目标"} <= texts(plan)
    # an SME-only row is left out for an advanced-manufacturing cluster
    assert not any("中小企业产值" in t for t in texts(economy))


def test_current_answers_are_filled_in_as_numbers_and_text(client, auth, filled):
    wb = download(client, auth)
    economy = wb["经济指标"]
    r = row_of(economy, "f:output_total")
    assert (economy.cell(r, 3).value, economy.cell(r, 4).value) == (100, 125.5)
    assert economy.cell(r, 3).data_type == "n"
    first = row_of(economy, "t:top10")
    assert economy.cell(first, 2).value == "企业名称一"
    assert economy.cell(first, 4).value == 10
    assert sum(1 for row in range(1, economy.max_row + 1) if economy.cell(row, 1).value == "t:top10") == 10
    basic = wb["基本信息"]
    assert basic.cell(row_of(basic, "f:cluster_name"), 3).value == "集群名称示例"
    declaration = wb["真实性声明"]
    assert declaration.cell(row_of(declaration, "f:declaration_agree"), 3).value == "已同意"


def test_growth_is_a_formula_in_a_locked_cell_and_inputs_are_unlocked(client, auth, filled):
    wb = download(client, auth)
    ws = wb["经济指标"]
    assert ws.protection.sheet and not ws.protection.password
    r = row_of(ws, "f:output_total")
    growth = ws.cell(r, 5)
    assert growth.data_type == "f" and growth.value.startswith("=IF(AND(ISNUMBER(C")
    assert f"(D{r}-C{r})/ABS(C{r})*100" in growth.value
    assert growth.protection.locked
    share = ws.cell(row_of(ws, "f:market_share"), 5)
    assert "个百分点" in share.number_format and "/ABS(" not in share.value  # points, not a ratio
    assert not ws.cell(r, 3).protection.locked and not ws.cell(r, 4).protection.locked
    assert ws.cell(r, 2).protection.locked  # the label
    assert ws.column_dimensions["A"].hidden  # the row keys


def test_every_input_cell_looks_like_one_and_only_inputs_are_validated(client, auth, filled):
    """On every sheet: the cells one may type into are light yellow and boxed, the 增幅 formulas
    grey, locked and boxed; every cell a validation rule covers is such an input, each at most
    once; the numeric inputs are exactly the cells of the number rules; a narrative's cell starts
    at the top.  (The template writes each combination of styles once and each rule's cells at
    once: exports/template.py, issue #25.)"""
    wb = download(client, auth)
    inputs = 0
    for ws in wb.worksheets:
        if ws.title == INFO_SHEET:
            continue
        unlocked = set()
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c, MergedCell):  # the rest of a merged range: the first cell holds its look
                    continue
                if not c.protection.locked:
                    unlocked.add(c.coordinate)
                    assert c.fill.fgColor.rgb.endswith("FFF8DC") and c.border.left.style == "thin", (ws.title, c.coordinate)
                    narrative = (ws.row_dimensions[c.row].height or 0) >= 150  # room to write: text from the top
                    assert c.alignment.vertical == ("top" if narrative else "center") and c.alignment.wrap_text
                elif c.data_type == "f":  # a 增幅 formula (locked)
                    assert c.fill.fgColor.rgb.endswith("E7E6E6") and c.border.bottom.style == "thin", (ws.title, c.coordinate)
        covered = [cell for dv in ws.data_validations.dataValidation for rng in dv.sqref.ranges for cell in
                   (f"{get_column_letter(col)}{r}" for r in range(rng.min_row, rng.max_row + 1)
                    for col in range(rng.min_col, rng.max_col + 1))]
        assert len(covered) == len(set(covered)) and set(covered) <= unlocked, ws.title
        numeric = {c.coordinate for row in ws.iter_rows() for c in row
                   if c.coordinate in unlocked and c.number_format not in ("General", "@")}
        number_rules = {cell for dv in ws.data_validations.dataValidation if dv.type in ("whole", "decimal")
                        for rng in dv.sqref.ranges for cell in (f"{get_column_letter(rng.min_col)}{rng.min_row}",)}
        assert numeric == number_rules, (ws.title, sorted(numeric ^ number_rules)[:5])
        inputs += len(unlocked)
    assert inputs > 300


def test_data_validation_lists_levels_and_checks_numbers(client, auth, filled):
    wb = download(client, auth)
    ws = wb["创新"]
    rules = {dv.type: dv for dv in ws.data_validations.dataValidation}
    assert rules["list"].formula1 == '"国家级,省级"'
    first = row_of(ws, "t:carriers")
    assert f"C{first}" in str(rules["list"].sqref)
    whole = [dv for dv in ws.data_validations.dataValidation if dv.type == "whole"]
    assert whole and f"C{row_of(ws, 'f:invention_patents')}" in " ".join(str(dv.sqref) for dv in whole)
    decimal = [dv for dv in ws.data_validations.dataValidation if dv.type == "decimal"]
    assert any(dv.formula2 == "100" for dv in decimal)  # a share: 0 to 100
    assert all(dv.showErrorMessage and dv.error for dv in ws.data_validations.dataValidation)


def test_hidden_sheet_identifies_the_template(client, auth, app, filled):
    wb = download(client, auth)
    info = wb[INFO_SHEET]
    assert info.sheet_state == "veryHidden"
    values = {row[0].value: row[1].value for row in info.iter_rows()}
    with app.app_context():
        sub = submission_of(ALLOY)
        assert values["submission"] == sub.id and values["edition"] == sub.edition.id
        assert values["round"] == "preliminary" and values["version"] == sub.version
    assert len(values["definition"]) == 16


def test_formula_like_text_stays_text(client, auth, filled):
    wb = download(client, auth)
    ws = wb["基本信息"]
    cell = ws.cell(row_of(ws, "f:industry_field"), 3)
    assert cell.value == EVIL and cell.data_type == "s" and cell.quotePrefix


def test_sme_cluster_and_final_round_follow_the_definition(app, people):
    with app.app_context():
        sub = submission_of(LINXIANG)  # 中小企业特色产业集群
        wb = load_workbook(BytesIO(template_xlsx(sub, "final", local_now())))
        assert any("中小企业产值" in t for t in texts(wb["经济指标"]))
        assert "实施方案" not in wb.sheetnames  # 附件2 has no part 五
        assert FINAL_VARIANTS["listed_enterprises"].label in texts(wb["经济指标"])


# --- LibreOffice opens both workbooks ---------------------------------------------------------

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(data: bytes, tmp_path, name: str) -> str:
    src = tmp_path / f"{name}.xlsx"
    src.write_bytes(data)
    profile = tmp_path / "lo-profile"
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(src)], check=True, capture_output=True, timeout=180)
    pdf = tmp_path / f"{name}.pdf"
    assert pdf.exists(), "LibreOffice did not convert the workbook"
    return "".join(page.extract_text() for page in PdfReader(str(pdf)).pages)


@pytest.mark.needs("libreoffice")
def test_libreoffice_opens_the_template_and_the_summary(app, people, tmp_path):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary", "advanced")
        db.session.commit()
        template = template_xlsx(sub, "preliminary", local_now())
        summary, n = summary_xlsx([sub], "preliminary", sub.edition, now=local_now())
    assert n == 1
    text = to_pdf(template, tmp_path, "template")
    for label in ("集群总产值（亿元）", "营业收入排名前十企业发展情况", "增幅（%）", "园区总额", "企业名称一", "25.50"):
        assert label in text.replace("\n", ""), label
    text = to_pdf(summary, tmp_path, "summary")
    for label in ("集群名称", ALLOY, "集群总产值（亿元）", "小计"):
        assert label in text.replace("\n", ""), label
    assert os.path.getsize(tmp_path / "summary.pdf") > 1000


# --- row heights follow their text (issue 23, item 17) ---------------------------------------

def needed_lines(text: str, width: float) -> int:
    """Lines a wrapped cell needs: CJK characters count two columns."""
    import unicodedata

    def cols(line):
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
    return sum(max(1, -(-cols(line) // max(int(width) - 2, 1))) for line in text.split("\n"))


def merged_width(ws, row, col):
    """The width (columns) of the cell at (row, col), across its merge."""
    for rng in ws.merged_cells.ranges:
        if rng.min_row <= row <= rng.max_row and rng.min_col <= col <= rng.max_col:
            return sum(ws.column_dimensions[get_column_letter(c)].width for c in range(rng.min_col, rng.max_col + 1))
    return ws.column_dimensions[get_column_letter(col)].width


def test_rows_are_as_high_as_their_wrapped_text(app, people):
    long_name = "湖南省长沙市新型合金材料产业集群高性能铝合金精密铸造技术改造及智能化生产线建设项目"
    with app.app_context():
        sub = submission_of(ALLOY)
        answers = complete_answers("preliminary", "advanced")
        answers["projects"] = [dict(answers["projects"][0], project=long_name)]
        sub.preliminary_answers = answers
        db.session.commit()
        wb = load_workbook(BytesIO(template_xlsx(sub, "preliminary", local_now())))
    report = get_report("preliminary")
    ws = wb[report.step_of("projects").title]
    r = row_of(ws, "t:projects")
    col = next(c for c in range(2, ws.max_column + 1) if ws.cell(r, c).value == long_name)
    lines = needed_lines(long_name, merged_width(ws, r, col))
    assert lines >= 3
    assert (ws.row_dimensions[r].height or 15) >= 15 * lines  # the wrapped 项目名称 overprints nothing
    field = report.field("self_assessment")
    ws = wb[report.step_of("self_assessment").title]
    guidance = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 2).value == field.guidance)
    lines = needed_lines(field.guidance, merged_width(ws, guidance, 2))
    assert ws.row_dimensions[guidance].height >= 15 * lines  # the 2.8 prompt's lines do not overlap
