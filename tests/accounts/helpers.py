"""Builders for the account tests: a filled account workbook, the letters read back."""
import base64
import re
from io import BytesIO

import pdfplumber
from openpyxl import load_workbook

from factories import csrf_from

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PASSWORD_LINE = re.compile(r"一次性密码：\s*([A-Za-z0-9]{12,})")
USER_LINE = re.compile(r"用 户 名：\s*(\S+)")


def county_rows(n, start=1):
    """n county reviewers of 长沙市's counties and the city itself, two people per government."""
    regions = ["长沙市", "浏阳市", "宁乡市", "长沙县", "望城区"]
    return [[f"gov-{i:03d}", "政府审核人", "", regions[i % len(regions)], "", "", "", f"审核人{i}",
             f"1380000{i:04d}", f"gov{i}@hunan.gov.cn"] for i in range(start, start + n)]


def filled(template: bytes, rows) -> bytes:
    wb = load_workbook(BytesIO(template))
    ws = wb["账号"]
    for r, values in enumerate(rows, start=2):
        for c, value in enumerate(values, start=1):
            ws.cell(row=r, column=c, value=value)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, data, name="账号.xlsx"):
    token = csrf_from(client.get("/admin/accounts/import"))
    return client.post("/admin/accounts/import", data={"csrf_token": token, "file": (BytesIO(data), name, XLSX)},
                       content_type="multipart/form-data")


def confirm(client, preview_response):
    page = preview_response.get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    return client.post("/admin/accounts/import/confirm", data={"csrf_token": csrf_from(preview_response),
                                                               "token": token})


def letters_of(page: str) -> bytes:
    """The letters PDF the page offers (a data: link): its bytes."""
    m = re.search(r'href="data:application/pdf;base64,([A-Za-z0-9+/=]+)"', page)
    assert m, "no letters on the page"
    return base64.b64decode(m.group(1))


def read_letters(pdf: bytes) -> list[tuple[str, str, str]]:
    """(username, one-time password, the page's text) of every page."""
    out = []
    with pdfplumber.open(BytesIO(pdf)) as doc:
        for page in doc.pages:
            text = page.extract_text()
            out.append((USER_LINE.search(text).group(1), PASSWORD_LINE.search(text).group(1), text))
    return out
