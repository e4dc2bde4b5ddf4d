"""Importing the Excel template (填报模板): the round trip (download, fill in openpyxl, upload,
preview, confirm), every refused kind of file, problems pointing to sheet and cell, nothing
stored on refusal or with problems, stale previews, read-only reports and CSRF."""
import os
import re
from io import BytesIO

import pytest
from openpyxl import Workbook, load_workbook

from builders import image_bytes
from factories import ALLOY, LINXIANG, csrf_from, submission_of
from fill import complete_answers
from security.xlsx_hostile import rezip
from wizard.exports.template import template_xlsx
from wizard.extensions import db
from wizard.models import AuditEntry, HistoryEntry, local_now

BASE = "/applicant/workbook"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def alloy(app, people):
    """Submission A with a complete draft report (the applicant is logged in by the tests)."""
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary", "advanced")
        db.session.commit()
        return sub.id


def state(app):
    """(answers, version, history rows) of submission A."""
    with app.app_context():
        sub = submission_of(ALLOY)
        n = db.session.execute(db.select(db.func.count()).select_from(HistoryEntry)
                               .filter_by(submission_id=sub.id)).scalar_one()
        return sub.preliminary_answers, sub.version, n


def pending_files(app):
    folder = os.path.join(app.instance_path, "workbook-imports")
    return [n for n in os.listdir(folder)] if os.path.isdir(folder) else []


def download(client):
    r = client.get(f"{BASE}/template.xlsx")
    assert r.status_code == 200 and r.mimetype == XLSX
    return r.data


def row_of(ws, key):
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == key)


def edit(data, changes) -> bytes:
    """Fill a template as an applicant would: {(sheet, row key, column letter): value}; a table
    row key may carry its index (``t:top10#2``)."""
    wb = load_workbook(BytesIO(data))
    for (sheet, key, column), value in changes.items():
        ws = wb[sheet]
        key, _, index = key.partition("#")
        rows = [r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == key]
        ws[f"{column}{rows[int(index or 0)]}"] = value
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, data, name="填报模板.xlsx", token=True):
    page = client.get(f"{BASE}/upload")
    form = {"file": (BytesIO(data), name)}
    if token:
        form["csrf_token"] = csrf_from(page)
    return client.post(f"{BASE}/upload", data=form, content_type="multipart/form-data")


def confirm(client, response):
    token = re.search(r'name="token" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    return client.post(f"{BASE}/confirm", data={"csrf_token": csrf_from(response), "token": token})


def body(r):
    return r.get_data(as_text=True)


# --- the round trip ------------------------------------------------------------------------------

def test_round_trip_preview_then_confirm_applies_one_version_step(client, auth, app, alloy):
    auth.login("applicant-a")
    assert "下载 Excel 填报模板" in body(client.get("/applicant/"))
    before, version, history = state(app)
    data = edit(download(client), {
        ("经济指标", "f:output_total", "C"): 88.5,
        ("经济指标", "f:market_share", "D"): "14",
        ("经济指标", "t:top10#1", "B"): "湘江合金股份有限公司", ("经济指标", "t:top10#1", "C"): "铝合金型材",
        ("经济指标", "t:top10#1", "D"): 20, ("经济指标", "t:top10#1", "E"): "22.5",
        ("基本信息", "f:industry_field", "C"): "新材料",
        ("基本信息", "f:region_scope", "C"): None,
        ("创新", "t:carriers#0", "C"): "省级",
    })
    r = upload(client, data)
    assert r.status_code == 200, body(r)
    page = body(r)
    for text in ("核对导入内容", "经济指标", "集群总产值", "88.5 / 125.5", "100 / 125.5", "新材料", "产业领域示例",
                 "集群地域范围", "清空", "确认导入"):
        assert text in page, text
    assert state(app) == (before, version, history)  # nothing applied yet
    assert pending_files(app)[0].endswith(".json") and len(pending_files(app)) == 1  # the preview, not the file
    r = confirm(client, r)
    assert r.status_code == 302 and r.headers["Location"].endswith("/applicant/")
    answers, new_version, new_history = state(app)
    assert new_version == version + 1 and new_history == history + 1
    expected = dict(before, output_total={"y1": "88.5", "y2": "125.5"}, market_share={"y1": "12.5", "y2": "14"},
                    industry_field="新材料", region_scope="")
    expected["top10"] = before["top10"] + [{"name": "湘江合金股份有限公司", "product": "铝合金型材",
                                            "revenue_y1": "20", "revenue_y2": "22.5"}]
    expected["carriers"] = [dict(before["carriers"][0], level="省级")]
    assert answers == expected
    assert "已导入填报模板：共 6 个字段有改动" in body(client.get("/applicant/"))
    assert pending_files(app) == []
    with app.app_context():
        entry = db.session.execute(db.select(HistoryEntry).order_by(HistoryEntry.id.desc())).scalars().first()
        assert entry.move == "import" and "修改 5 项" in entry.comment and "清空 1 项" in entry.comment
        assert db.session.execute(db.select(AuditEntry).filter_by(action="template_import")).scalar_one()
    assert "导入 Excel 填报模板" in body(client.get("/applicant/history"))


def test_an_unchanged_template_has_nothing_to_confirm(client, auth, app, alloy):
    auth.login("applicant-a")
    r = upload(client, download(client))
    assert r.status_code == 200 and "没有需要导入的改动" in body(r) and "确认导入" not in body(r)
    assert pending_files(app) == []


def test_a_new_upload_replaces_the_users_earlier_preview(client, auth, app, alloy):
    auth.login("applicant-a")
    data = edit(download(client), {("基本信息", "f:industry_field", "C"): "新材料"})
    first = upload(client, data)
    second = upload(client, data)
    assert first.status_code == second.status_code == 200
    assert len(pending_files(app)) == 1  # one preview: its validated answers and what it was made against
    stale = confirm(client, first)  # the replaced preview can no longer be confirmed
    assert stale.headers["Location"].endswith(f"{BASE}/upload")
    assert "之后又上传了新的文件" in body(client.get(stale.headers["Location"]))
    assert confirm(client, second).headers["Location"].endswith("/applicant/")


# --- problems: pointing to sheet and cell, nothing applied --------------------------------------

def test_problems_point_to_sheet_and_cell_and_nothing_is_applied(client, auth, app, alloy):
    auth.login("applicant-a")
    before = state(app)
    data = edit(download(client), {
        ("经济指标", "f:output_total", "C"): "一百",
        ("经济指标", "f:employees", "D"): 12.5,
        ("基本信息", "f:industry_field", "C"): "长" * 201,
        ("经济指标", "t:top10#0", "E"): "=D1*2",
        ("真实性声明", "f:declaration_agree", "C"): "是",
        ("经济指标", "f:revenue", "C"): 500,  # a real change beside the problems: still not applied
    })
    r = upload(client, data)
    assert r.status_code == 422
    page = body(r)
    economy = load_workbook(BytesIO(data))["经济指标"]
    r1, r2, r3 = row_of(economy, "f:output_total"), row_of(economy, "f:employees"), row_of(economy, "t:top10")
    assert re.search(rf"经济指标!C{r1}（集群总产值 2021年）：请输入数字", page)
    assert f"经济指标!D{r2}（集群从业人员数量 2022年）：此项为个数或人数，请填写整数" in page
    assert "基本信息!C" in page and "最多 200 个字符" in page
    assert f"经济指标!E{r3}" in page and "不能使用公式" in page
    assert "请选择“已同意”或留空" in page
    assert "本次未导入任何内容" in page and "确认导入" not in page
    assert state(app) == before and pending_files(app) == []


def test_too_many_table_rows_stray_cells_and_unknown_sheets(client, auth, app, alloy):
    auth.login("applicant-a")
    wb = load_workbook(BytesIO(download(client)))
    ws = wb["经济指标"]
    rows = [r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "t:top10"]
    ws.insert_rows(rows[-1] + 1)  # an extra row inside the table, as after lifting the protection
    for n, r in enumerate(rows + [rows[-1] + 1], 1):
        for col, value in zip("BCDE", (f"第{n}家企业", "产品", 1, 2)):
            ws[f"{col}{r}"] = value
    ws["K3"] = "备注"
    wb.create_sheet("我的笔记")["A1"] = "企业联系人名单"
    wb.create_sheet("空白页")  # an empty extra sheet is no problem
    out = BytesIO()
    wb.save(out)
    before = state(app)
    r = upload(client, out.getvalue())
    page = body(r)
    assert r.status_code == 422
    print(re.findall(r"<li>(.*?)</li>", page))
    assert "最多 10 行，您提交了 11 行" in page
    assert "经济指标!K3" in page and "填报区域之外" in page
    assert "工作表“我的笔记”不是填报模板中的工作表" in page and "空白页" not in page
    assert state(app) == before


# --- refused files ----------------------------------------------------------------------------

def ole(*streams):
    """The start of an OLE compound file (what .xls and encrypted Office files are)."""
    names = b"".join(s.encode("utf-16-le") + b"\0\0" for s in streams)
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + names + b"\0" * 2048


def macro(data):
    types = lambda t: t.replace(b"sheet.main+xml", b"sheet.macroEnabled.main+xml")  # noqa: E731
    return rezip(data, add=[("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0" + b"\0" * 512)],
                 replace={"[Content_Types].xml": types})


def bomb(data):
    return rezip(data, add=[("xl/media/image1.png", b"\0" * (30 * 1024 * 1024))])


def broken_xml(data):
    return rezip(data, replace={"xl/worksheets/sheet2.xml": lambda x: x[: len(x) // 2]})


def dtd(data):
    laugh = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    return rezip(data, replace={"xl/worksheets/sheet1.xml": lambda x: laugh + x.split(b"?>", 1)[-1]})


def dtd_in_utf16(data):
    """The same DTD in UTF-16, which a search for the ASCII bytes of "<!DOCTYPE" would miss."""
    laugh = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'
    return rezip(data, replace={"xl/worksheets/sheet1.xml":
                                lambda x: (laugh + x.split(b"?>", 1)[-1].decode()).encode("utf-16")})


def external_link(data):
    link = b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
    return rezip(data, add=[("xl/externalLinks/externalLink1.xml", link)])


def plain_workbook(_):
    wb = Workbook()
    wb.active["A1"] = "集群总产值"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


REFUSED = {
    "xls": (lambda d: ole("Workbook", "SummaryInformation"), "旧版 Excel（.xls）"),
    "csv": (lambda d: "集群名称,产业领域\n长沙,新材料\n".encode("utf-8"), "不是 Excel 工作簿（.xlsx）"),
    "renamed png": (lambda d: image_bytes(), "不是 Excel 工作簿（.xlsx）"),
    "encrypted": (lambda d: ole("EncryptionInfo", "EncryptedPackage"), "设置了打开密码"),
    "macros": (macro, "包含宏"),
    "zip bomb": (bomb, "压缩炸弹"),
    "malformed xml": (broken_xml, "无法解析其中的 XML"),
    "dtd": (dtd, "文档类型声明"),
    "dtd_utf16": (dtd_in_utf16, "文档类型声明"),
    "external link": (external_link, "外部链接"),
    "not a template": (plain_workbook, "不是从本系统下载的填报模板"),
    "empty": (lambda d: b"", "文件是空的"),
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_refused_files_store_nothing(client, auth, app, alloy, kind):
    auth.login("applicant-a")
    make, message = REFUSED[kind]
    before = state(app)
    r = upload(client, make(download(client)), name="填报模板.xlsx")
    assert r.status_code == 422, (kind, r.status_code)
    assert message in body(r), (kind, body(r)[:2000])
    assert "文件未导入" in body(r)
    assert state(app) == before and pending_files(app) == []


def test_a_file_over_the_limit_is_refused(client, auth, app, alloy, monkeypatch):
    auth.login("applicant-a")
    monkeypatch.setitem(app.config, "TEMPLATE_MAX_BYTES", 20 * 1024)  # restored after: the shared app is kept
    r = upload(client, download(client))
    assert r.status_code == 422 and "文件过大：填报模板不能超过 20 KB" in body(r)


def test_more_cells_than_a_template_holds_is_refused(client, auth, app, alloy):
    auth.login("applicant-a")
    wb = load_workbook(BytesIO(download(client)))
    ws = wb["绿色"]
    for r in range(200, 2300):
        for c in range(2, 12):
            ws.cell(r, c, 1)
    out = BytesIO()
    wb.save(out)
    r = upload(client, out.getvalue())
    assert r.status_code == 422 and re.search(r"文件中的(单元格|行数)远多于填报模板所能容纳的（[\d,]+，上限 [\d,]+）", body(r))


def test_a_small_file_stretching_far_beyond_the_template_is_refused(client, auth, app, alloy):
    """One cell at the last row of the sheet, or in the last column of many rows: a few KB that
    openpyxl would read as millions of empty cells.  Refused after a bounded read."""
    auth.login("applicant-a")
    wb = load_workbook(BytesIO(download(client)))
    wb["绿色"].cell(1_048_576, 2, 1)
    far = BytesIO()
    wb.save(far)
    wb = load_workbook(BytesIO(download(client)))
    for n in range(12):
        wb.create_sheet(f"备注{n}")
    many = BytesIO()
    wb.save(many)
    r = upload(client, far.getvalue())
    assert r.status_code == 422 and "文件中的行数远多于填报模板所能容纳的（1,048,576，上限" in body(r)
    r = upload(client, many.getvalue())
    assert r.status_code == 422 and "文件中的工作表远多于填报模板所能容纳的（" in body(r)
    assert pending_files(app) == []


def retag(data, **values):
    """The template with values of its hidden sheet changed."""
    wb = load_workbook(BytesIO(data))
    ws = wb["_模板信息"]
    for row in ws.iter_rows():
        if row[0].value in values:
            row[1].value = values[row[0].value]
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def test_templates_of_another_submission_round_edition_or_definition_are_refused(client, auth, app, alloy):
    auth.login("applicant-b")
    other = download(client)  # 临湘市钓具（浮标）产业集群's template
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/applicant/"))})
    auth.login("applicant-a")
    mine = download(client)
    with app.app_context():
        final = template_xlsx(submission_of(ALLOY), "final", local_now())
    cases = [(other, f"另一个集群（{LINXIANG}）"), (final, "这是附件2（决赛报告）的填报模板"),
             (retag(mine, edition=999, edition_name="2019年竞赛"), "往届（2019年竞赛）"),
             (retag(mine, definition="0" * 16), "该填报模板已过期")]
    before = state(app)
    for data, message in cases:
        r = upload(client, data)
        assert r.status_code == 422 and message in body(r), message
    assert state(app) == before and pending_files(app) == []


# --- when an import cannot be made -------------------------------------------------------------

def test_a_report_changed_after_the_preview_is_not_overwritten(client, auth, app, alloy):
    auth.login("applicant-a")
    r = upload(client, edit(download(client), {("基本信息", "f:industry_field", "C"): "新材料"}))
    assert r.status_code == 200
    with app.app_context():  # another tab saves meanwhile
        sub = submission_of(ALLOY)
        sub.preliminary_answers = dict(sub.preliminary_answers, leading_industry="另一窗口保存的内容")
        sub.version += 1
        db.session.commit()
    before = state(app)
    r2 = confirm(client, r)
    assert r2.status_code == 302 and r2.headers["Location"].endswith(f"{BASE}/upload")
    assert "预览之后报告已被修改" in body(client.get(f"{BASE}/upload"))
    assert state(app) == before and before[0]["leading_industry"] == "另一窗口保存的内容"
    assert pending_files(app) == []
    r3 = confirm(client, r)  # the same token again: gone
    assert r3.status_code == 302 and state(app) == before


def test_a_read_only_report_cannot_import(client, auth, app, alloy):
    auth.login("applicant-a")
    data = edit(download(client), {("基本信息", "f:industry_field", "C"): "新材料"})
    r = upload(client, data)
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.state = "submitted"
        db.session.commit()
    before = state(app)
    tasks = body(client.get("/applicant/"))
    assert "下载 Excel 填报模板" in tasks and "上传填好的模板" not in tasks
    assert client.get(f"{BASE}/upload").status_code == 302
    token = csrf_from(client.get("/applicant/"))
    r2 = client.post(f"{BASE}/upload", data={"csrf_token": token, "file": (BytesIO(data), "t.xlsx")},
                     content_type="multipart/form-data")
    assert r2.status_code == 409 and "不能导入" in body(r2)
    r3 = confirm(client, r)
    assert r3.status_code == 409
    assert state(app) == before and pending_files(app) == []
    assert client.get(f"{BASE}/template.xlsx").status_code == 200  # still downloadable


def test_upload_and_confirm_need_the_csrf_token(client, auth, app, alloy):
    auth.login("applicant-a")
    data = edit(download(client), {("基本信息", "f:industry_field", "C"): "新材料"})
    before = state(app)
    r = upload(client, data, token=False)
    assert r.status_code == 400 and pending_files(app) == []
    r = upload(client, data)
    token = re.search(r'name="token" value="([^"]+)"', body(r)).group(1)
    r2 = client.post(f"{BASE}/confirm", data={"token": token})
    assert r2.status_code == 400
    assert state(app) == before


def test_another_applicant_cannot_confirm_my_preview(client, auth, app, alloy):
    auth.login("applicant-a")
    r = upload(client, edit(download(client), {("基本信息", "f:industry_field", "C"): "新材料"}))
    token = re.search(r'name="token" value="([^"]+)"', body(r)).group(1)
    other = app.test_client()
    from factories import AuthActions

    AuthActions(other).login("applicant-b")
    before = state(app)
    r2 = other.post(f"{BASE}/confirm", data={"csrf_token": csrf_from(other.get("/applicant/")), "token": token})
    assert r2.status_code == 302 and state(app) == before
    assert len(pending_files(app)) == 1  # still there for its owner
