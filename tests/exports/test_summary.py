"""The summary workbook (汇总表): layout, values, numbers, growth, subtotals, escaping, scope,
snapshots, the 说明 sheet, the links and the audit."""
import shutil
import subprocess
from io import BytesIO

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from factories import ALLOY, LINXIANG, SMART_CAR, attach_declarations, submission_of
from fill import complete_answers
from wizard.extensions import db
from wizard.models import AuditEntry, EvidenceFile, Snapshot, User
from wizard.report.definition import get_report
from wizard.report.kinds import DECIMAL_FORMAT, INTEGER_FORMAT, PERCENT_FORMAT, POINTS_FORMAT
from wizard.report.numbers import change, growth
from wizard.workflow.moves import apply_move

URL = "/admin/summary/{round_}.xlsx"
EVIL = '=HYPERLINK("http://evil.example/","点我")'
YEARS = {"y1": 2021, "y2": 2022, "t1": 2023, "t2": 2024, "t3": 2025}


def fill(name, **changes):
    sub = submission_of(name)
    sub.preliminary_answers = dict(complete_answers("preliminary", sub.cluster.category), **changes)
    db.session.commit()
    return sub


def submit(name, applicant):
    """The cluster's complete report, submitted (a file row stands for the signed declaration)."""
    sub = fill(name)
    db.session.add(EvidenceFile(submission_id=sub.id, round="preliminary", slot="declaration_scan",
                                original_name="真实性声明.pdf", stored_name=f"scan-{sub.id}", kind="pdf",
                                size=2048, pages=2, sha256="ab" * 32))
    db.session.commit()
    attach_declarations(sub, rounds=("preliminary",))  # the files of its rows and of 4.3
    apply_move(sub, "submit", db.session.execute(db.select(User).filter_by(username=applicant)).scalar_one())
    return sub


@pytest.fixture
def three(app, people):
    """Complete reports of two 长沙市 clusters and one of 临湘市 (岳阳市); the others are empty."""
    with app.app_context():
        fill(ALLOY, output_total={"y1": "80", "y2": "100"}, market_share={"y1": "12.5", "y2": "13.7"})
        fill(SMART_CAR)
        fill(LINXIANG)


def workbook(client, url):
    r = client.get(url)
    assert r.status_code == 200, r.status_code
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return load_workbook(BytesIO(r.data))


def columns(ws):
    """(upper header, lower header) → column number; a merged upper header is carried right."""
    out, upper = {}, None
    for col in range(1, ws.max_column + 1):
        upper = ws.cell(1, col).value or upper
        out[(upper, ws.cell(2, col).value)] = col
    return out


def column_of(ws, label, sub=None):
    matches = [col for (upper, lower), col in columns(ws).items() if upper and upper.endswith(label) and lower == sub]
    assert len(matches) == 1, (label, sub, matches)
    return matches[0]


def row_of(ws, name):
    return next(r for r in range(3, ws.max_row + 1) if ws.cell(r, 2).value == name)


def notes(wb):
    return {row[0].value: row[1].value for row in wb["说明"].iter_rows() if row[0].value}


# --- the layout -------------------------------------------------------------------------------

def test_every_field_kind_gives_as_many_cells_as_columns(app):
    with app.app_context():
        answers = complete_answers("preliminary")
    for round_ in ("preliminary", "final"):
        for section in get_report(round_).sections:
            for f in section.fields:
                kind = f.kind_of
                if kind.excel_sheet(f, section) is None:
                    cells = kind.excel_cells(f, section, answers.get(f.key))
                    assert len(cells) == len(kind.excel_headers(f, section, YEARS)), f.key
    report = get_report("preliminary")
    assert report.field("output_total").kind_of.excel_headers(report.field("output_total"), report.sections[1], YEARS)


def test_summary_sheet_headers_values_and_number_formats(client, auth, three):
    auth.login("admin")
    wb = workbook(client, URL.format(round_="preliminary"))
    ws = wb["汇总"]
    assert wb.sheetnames[0] == "汇总" and wb.sheetnames[-1] == "说明"
    assert [ws.cell(1, c).value for c in range(1, 7)] == ["序号", "集群名称", "申报类别", "所在市州", "所在县市区", "状态"]
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A1:A2", "B1:B2", "F1:F2"} <= merged
    assert ws.freeze_panes == "C3"
    # an indicator: the section and the indicator above, both years and the 增幅 below, merged across
    col = column_of(ws, "集群总产值（亿元）", "2021年")
    assert ws.cell(1, col).value == "2.1集群主要经济指标\n集群总产值（亿元）"
    assert [ws.cell(2, col + i).value for i in range(3)] == ["2021年", "2022年", "增幅（%）"]
    assert f"{ws.cell(1, col).coordinate}:{ws.cell(1, col + 2).coordinate}" in merged
    # the values are the answers, numbers stored as numbers with a number format
    row = row_of(ws, ALLOY)
    assert [ws.cell(row, c).value for c in range(2, 7)] == [ALLOY, "先进制造业集群", "长沙市", None, "草稿"]
    y1, y2, g = (ws.cell(row, col + i) for i in range(3))
    assert (y1.value, y2.value) == (80, 100) and y1.data_type == y2.data_type == "n"
    assert y1.number_format == INTEGER_FORMAT  # 80 typed: shown 80, as the PDF prints it (number_text)
    assert g.value == 25 and g.data_type == "n" and float(growth("80", "100")) == 25
    # a share: its 增幅 in percentage points
    col = column_of(ws, "主导产品国内市场占有率（%）", "增幅（个百分点）")
    cell = ws.cell(row, col)
    assert cell.value == pytest.approx(1.2) and cell.number_format == POINTS_FORMAT
    assert change(get_report().field("market_share"), {"y1": "12.5", "y2": "13.7"}) == "+1.20个百分点"
    assert ws.cell(row, col - 1).value == pytest.approx(13.7) and ws.cell(row, col - 1).number_format == "#,##0.0"
    # counts are whole numbers; text answers are text
    col = column_of(ws, "集群从业人员数量（人）", "2022年")
    assert ws.cell(row, col).value == 25000 and ws.cell(row, col).number_format == INTEGER_FORMAT
    answers = complete_answers("preliminary")
    for label, key in (("产业领域", "industry_field"), ("集群促进组织：电话", "org_head_phone")):
        c = column_of(ws, label) if label != "集群促进组织：电话" else columns(ws)[("集群促进组织：电话", None)]
        assert ws.cell(row, c).value == answers[key]
    narrative = ws.cell(row, column_of(ws, "集群发展总体情况自评报告"))
    assert narrative.value == answers["self_assessment"] and narrative.data_type == "s"
    # a cluster with no report of the round is left out
    names = {ws.cell(r, 2).value for r in range(3, ws.max_row + 1)}
    assert {ALLOY, SMART_CAR, LINXIANG} <= names and "湖南省功率半导体产业集群" not in names


def test_subtotal_rows_per_city_hold_computed_values(client, auth, three):
    """Subtotals are values (a viewer that does not recalculate shows them), the sums of that
    city's rows; the 增幅 of two subtotals by the reports' own rule."""
    auth.login("admin")
    ws = workbook(client, URL.format(round_="preliminary"))["汇总"]
    rows = {ws.cell(r, 2).value: r for r in range(3, ws.max_row + 1)}
    changsha, yueyang = rows["长沙市 小计"], rows["岳阳市 小计"]
    assert {rows[ALLOY], rows[SMART_CAR]} == {changsha - 2, changsha - 1} and rows[LINXIANG] == yueyang - 1
    col = column_of(ws, "集群总产值（亿元）", "2021年")
    sub = ws.cell(changsha, col)
    assert sub.data_type == "n" and sub.value == 80 + 100  # ALLOY's 80 and SMART_CAR's 100
    assert ws.cell(yueyang, col).value == 100
    assert ws.cell(rows["合计"], col).value == 280  # the reports, not the subtotals
    y2 = ws.cell(changsha, col + 1).value
    assert y2 == pytest.approx(100 + 125.5)
    assert ws.cell(changsha, col + 2).value == pytest.approx(float(growth("180", str(y2))))
    # counts are subtotalled, shares are not
    assert ws.cell(changsha, column_of(ws, "\n企业数量（个）", "2021年")).value == 600
    assert ws.cell(changsha, column_of(ws, "主导产品国内市场占有率（%）", "2021年")).value is None
    # no formula anywhere
    assert not [c for row in ws.iter_rows(min_row=3) for c in row if c.data_type == "f"]


def test_table_and_target_sheets_have_a_row_per_table_row(client, auth, app, three):
    with app.app_context():
        sub = submission_of(ALLOY)
        answers = dict(sub.preliminary_answers)
        answers["top10"] = [{"name": "甲公司", "product": "合金", "revenue_y1": "10.5", "revenue_y2": "12"},
                            {"name": "乙公司", "product": "线材", "revenue_y1": "3", "revenue_y2": "4"}]
        sub.preliminary_answers = answers
        db.session.commit()
    auth.login("admin")
    wb = workbook(client, URL.format(round_="preliminary"))
    ws = wb["营业收入排名前十企业发展情况"]
    assert [ws.cell(1, c).value for c in range(1, 5)] == ["集群名称", "企业名称", "主要产品", "营业收入（亿元）"]
    assert [ws.cell(2, 4).value, ws.cell(2, 5).value] == ["2021年", "2022年"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=3) if row[0].value == ALLOY]
    assert rows == [[ALLOY, "甲公司", "合金", 10.5, 12, None], [ALLOY, "乙公司", "线材", 3, 4, None]]
    assert ws.freeze_panes == "B3"
    for title in ("集群重点项目建设情况", "集群技术创新载体", "集群研发投入前十位企业", "省级及以上质量奖",
                  "省级及以上公共服务平台"):
        assert title in wb.sheetnames
    targets = wb["5.1未来三年集群主要经济指标发展目标"]
    assert [targets.cell(1, c).value for c in range(1, 7)] == [
        "集群名称", "指标名称", "上一年实际值", "2023年发展目标", "2024年发展目标", "2025年发展目标"]
    row = next(r for r in targets.iter_rows(min_row=3) if r[0].value == ALLOY and r[1].value == "集群总产值（亿元）")
    assert [c.value for c in row[2:]] == [125.5, 140, 160, 180] and row[2].number_format == "#,##0.0"  # as typed


def test_formula_like_names_and_answers_stay_text(client, auth, app, three):
    with app.app_context():
        fill(ALLOY, industry_field="=1+2", leading_industry="@SUM(1)").cluster.name = EVIL
        db.session.commit()
    auth.login("admin")
    try:
        wb = workbook(client, URL.format(round_="preliminary"))
    finally:  # a seeded cluster: the PostgreSQL test database is shared, give the name back
        with app.app_context():
            submission_of(EVIL).cluster.name = ALLOY
            db.session.commit()
    ws = wb["汇总"]
    row = row_of(ws, EVIL)
    name = ws.cell(row, 2)
    assert name.value == EVIL and name.data_type == "s" and name.quotePrefix
    for label, text in (("产业领域", "=1+2"), ("集群主导产业", "@SUM(1)")):
        cell = ws.cell(row, column_of(ws, label))
        assert cell.value == text and cell.data_type == "s" and cell.quotePrefix
    for sheet in wb.worksheets[1:]:  # the table sheets and 说明: the name first, as text; no formula anywhere
        cells = [c for row in sheet.iter_rows() for c in row]
        assert all(c.data_type != "f" for c in cells), sheet.title
        assert all(c.data_type == "s" and c.quotePrefix for c in cells if c.value == EVIL), sheet.title
        assert EVIL in [c.value for c in cells], sheet.title


def test_county_reviewer_gets_its_region_only(client, auth, three):
    auth.login("county-x")  # 长沙市
    queue = client.get("/county/").get_data(as_text=True)
    assert "/county/summary/preliminary.xlsx" in queue and "导出本地区汇总表（初赛）" in queue
    wb = workbook(client, "/county/summary/preliminary.xlsx")
    names = {wb["汇总"].cell(r, 2).value for r in range(3, wb["汇总"].max_row + 1)}
    assert names == {ALLOY, SMART_CAR, "长沙市 小计", "合计"}
    tables = {c.value for row in wb["集群重点项目建设情况"].iter_rows(min_row=3) for c in row[:1]}
    assert tables == {ALLOY, SMART_CAR}
    assert "长沙市人民政府" in notes(wb)["范围"]
    auth.logout()
    auth.login("county-y")  # 临湘市
    wb = workbook(client, "/county/summary/preliminary.xlsx")
    assert {wb["汇总"].cell(r, 2).value for r in range(3, wb["汇总"].max_row + 1)} == {LINXIANG, "岳阳市 小计", "合计"}
    assert client.get("/county/summary/other.xlsx").status_code == 404
    assert client.get(URL.format(round_="preliminary")).status_code == 403


def test_submitted_reports_come_from_their_snapshot(client, auth, app, three):
    with app.app_context():
        sub = submit(ALLOY, "applicant-a")
        frozen = sub.preliminary_answers["industry_field"]
        code = db.session.execute(db.select(Snapshot).filter_by(submission_id=sub.id)).scalar_one().code
        sub.preliminary_answers = dict(sub.preliminary_answers, industry_field="提交后又改过的产业领域")
        db.session.commit()
    auth.login("admin")
    wb = workbook(client, URL.format(round_="preliminary"))
    ws = wb["汇总"]
    assert ws.cell(row_of(ws, ALLOY), column_of(ws, "产业领域")).value == frozen
    assert ws.cell(row_of(ws, ALLOY), 6).value == "待县级审核"
    sheet = wb["说明"]
    listed = {row[1].value: [c.value for c in row] for row in sheet.iter_rows() if row[1].value in (ALLOY, SMART_CAR)}
    assert listed[ALLOY][3] == "提交快照" and listed[ALLOY][5] == code
    assert listed[SMART_CAR][3].startswith("当前填写内容（草稿") and listed[SMART_CAR][5] is None
    head = notes(wb)
    assert "校验码" in [c.value for c in next(r for r in sheet.iter_rows() if r[0].value == "序号")]
    assert head["导出轮次"] == "初赛参赛报告" and head["竞赛届次"]
    assert "2021年、2022年" in head["数据年份"] and head["导出时间（北京时间）"]
    assert "3 个（提交快照 1 个，草稿 2 个）" in head["申报数"]
    assert any("快照" in row[1].value for row in sheet.iter_rows() if row[0].value == "说明")


def test_round_filters_links_and_audit(client, auth, app, three):
    auth.login("admin")
    page = client.get("/admin/submissions?category=sme").get_data(as_text=True)
    assert "/admin/summary/preliminary.xlsx?category=sme" in page and "导出汇总表（决赛）" in page
    wb = workbook(client, URL.format(round_="preliminary") + "?category=sme")
    ws = wb["汇总"]
    assert {ws.cell(r, 2).value for r in range(3, ws.max_row + 1)} == {LINXIANG, "岳阳市 小计", "合计"}
    sme_share = ws.cell(row_of(ws, LINXIANG), column_of(ws, "（%，仅中小企业特色产业集群填报）", "2021年"))
    assert sme_share.value == 12.5
    assert notes(wb)["筛选条件"] == "申报类别：中小企业特色产业集群"
    final = workbook(client, URL.format(round_="final"))  # nobody is in the final round yet
    assert final["汇总"].max_row == 2 and notes(final)["导出轮次"] == "决赛参赛报告"
    assert client.get(URL.format(round_="semi")).status_code == 404
    with app.app_context():
        rows = db.session.execute(db.select(AuditEntry).filter_by(action="export")).scalars().all()
        assert [a.target for a in rows] == ["summary-preliminary.xlsx", "summary-final.xlsx"]
        assert "类别=中小企业特色产业集群" in rows[0].detail and "1 份报告" in rows[0].detail  # no English (#23 item 7)


# --- paper (issue 23, item 17) ------------------------------------------------------------------

def test_every_sheet_is_set_up_for_paper(client, auth, app, three):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.opinions = {"preliminary": {"text": "同意推荐参加初赛。", "date": "2026-12-07", "by": "长沙市人民政府"}}
        db.session.commit()
    auth.login("admin")
    wb = workbook(client, URL.format(round_="preliminary"))
    ws = wb["汇总"]
    heads = [ws.cell(1, c).value for c in range(1, ws.max_column + 1)]
    assert heads.count("集群名称") == 1  # the typed 集群名称 field is not a second column
    assert not [h for h in heads if h and h.endswith("\n集群名称")]
    opinion, day = column_of(ws, "集群所在地县以上人民政府意见"), column_of(ws, "意见日期")
    row = row_of(ws, ALLOY)
    assert ws.cell(row, opinion).value == "同意推荐参加初赛。"
    assert ws.cell(row, day).value.date().isoformat() == "2026-12-07"
    for sheet in wb.worksheets:
        setup = sheet.page_setup
        if sheet.title == "说明":
            assert (setup.orientation, int(setup.paperSize)) == ("portrait", int(sheet.PAPERSIZE_A4))
            continue
        assert (setup.orientation, int(setup.paperSize)) == ("landscape", int(sheet.PAPERSIZE_A3)), sheet.title
        assert sheet.print_title_rows == "$1:$2", sheet.title
        assert sheet.print_area.endswith(f"${sheet.max_row}"), (sheet.title, sheet.print_area)
        if sheet.title != "汇总":
            assert sheet.sheet_properties.pageSetUpPr.fitToPage and setup.fitToWidth == 1, sheet.title
    assert ws.print_title_cols == "$A:$B"  # 序号 and 集群名称 on every page
    breaks = [b.id for b in ws.col_breaks.brk]
    assert len(breaks) >= 3
    # a page starts at a section's first column where the section fits: 2.1 begins a page
    first = column_of(ws, "集群总产值（亿元）", "2021年")
    assert first - 1 in breaks


def test_key_figures_sheet_reads_on_paper(client, auth, three):
    auth.login("admin")
    wb = workbook(client, URL.format(round_="preliminary"))
    ws = wb["主要指标"]
    assert wb.sheetnames[:2] == ["汇总", "主要指标"]
    assert ws.max_column <= 24  # a page wide on A3
    row = row_of(ws, ALLOY)
    col = column_of(ws, "集群总产值（亿元）", "2022年")
    assert ws.cell(row, col).value == 100 and ws.cell(row, col + 1).value == 25  # the latest year, its 增幅
    assert ws.cell(2, col + 1).value == "增幅（%）"


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.needs("libreoffice")
def test_libreoffice_prints_the_summary_landscape_a3_with_the_names_on_every_page(client, auth, three, tmp_path):
    auth.login("admin")
    r = client.get(URL.format(round_="preliminary"))
    src = tmp_path / "summary.xlsx"
    src.write_bytes(r.data)
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{tmp_path / 'lo'}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(src)], check=True, capture_output=True, timeout=180)
    reader = PdfReader(str(tmp_path / "summary.pdf"))
    a3 = [p for p in reader.pages if round(float(p.mediabox.width)) > round(float(p.mediabox.height))
          and round(float(p.mediabox.width)) in range(1185, 1196)]
    summary = [p for p in a3 if (p.extract_text() or "").startswith("序号")]
    assert 3 <= len(summary) <= 40  # was 92 portrait pages of four columns
    assert len(a3) > len(summary)  # 主要指标 and the table sheets, landscape A3 too
    for page in a3:
        text = (page.extract_text() or "").replace("\n", "")
        assert ALLOY in text and "集群名称" in text  # the title rows and the name column repeated
