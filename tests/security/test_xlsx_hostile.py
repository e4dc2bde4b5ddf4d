"""Hostile Excel workbooks (issue 22, items 1 and 5), built with zipfile from a real template
(tests/security/xlsx_hostile.py), uploaded as an applicant or an administrator would:

* an entity in any part that is parsed as XML, whatever its name (a worksheet renamed
  sheet1.bin with its relationship and content type updated, a custom part, UTF-16) is refused
  by defusedxml with a Chinese message, and nothing is stored: on both databases;
* a styles part with 420,000 formats and a shared-strings part with 1.27 million strings, each
  within the size and ratio limits, are refused by counting what the parts hold before openpyxl
  reads them, on the template and on the account workbook alike (one implementation);
* the reading process is bounded: a reading that passes its memory limit is refused, and the
  heaviest workbook the bounds accept costs under 150 MB above the worker's baseline, counting
  the reading process (measured in a fresh interpreter, like the evidence budget tests)."""
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from io import BytesIO

import pytest

from accounts.helpers import upload as upload_accounts
from factories import ALLOY, submission_of
from security.xlsx_hostile import (
    entity_in_utf16,
    heaviest_accepted,
    hidden_part_with_entity,
    long_attribute,
    renamed_sheet_with_entity,
    rezip,
    strings_bomb,
    styles_bomb,
)
from views.test_workbook import alloy, body, download, pending_files, state, upload  # noqa: F401 (alloy: a fixture)
from wizard.exports.template import sheet_plans
from wizard.exports.template_import import bounds, check_file, read_template
from wizard.exports.xlsx_checks import WorkbookRefused, read_in_process

ENTITY_REFUSED = "含有文档类型声明（DTD）或实体定义"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MB = 1024 * 1024
BUDGET = 150 * MB  # issue 22: any upload the limits accept, above the worker's baseline


def plans_of(app):
    with app.app_context():
        sub = submission_of(ALLOY)
        return sheet_plans("preliminary", sub.cluster.category, sub.edition.years)


# --- item 5: an entity in any XML part, whatever its name ---------------------------------------

ENTITIES = {"renamed sheet (.bin)": renamed_sheet_with_entity, "custom part (.dat)": hidden_part_with_entity,
            "renamed sheet in UTF-16": entity_in_utf16}


@pytest.mark.parametrize("kind", list(ENTITIES))
def test_an_entity_in_any_xml_part_is_refused_and_nothing_is_stored(client, auth, app, alloy, kind):  # noqa: F811
    auth.login("applicant-a")
    before = state(app)
    data = ENTITIES[kind](download(client))
    with zipfile.ZipFile(BytesIO(data)) as zf:  # the attack as found: no XML name on the hostile part
        assert not [n for n in zf.namelist() if n.endswith(".xml") and b"<!ENTITY" in zf.read(n)]
    r = upload(client, data)
    assert r.status_code == 422, body(r)[:500]
    assert ENTITY_REFUSED in body(r) and "文件未导入" in body(r)
    assert "实体展开的内容" not in body(r)
    after = state(app)
    assert after == before and "实体展开的内容" not in json.dumps(after[0], ensure_ascii=False)
    assert pending_files(app) == []


def test_the_renamed_sheet_without_its_entity_is_still_read(client, auth, app, alloy):  # noqa: F811
    """The check goes by content, not by name: a worksheet named .bin is no problem in itself."""
    auth.login("applicant-a")
    data = download(client)
    plain = rezip(renamed_sheet_with_entity(data), replace={
        "xl/worksheets/sheet1.bin": lambda x: re.sub(rb"<!DOCTYPE[^]]*]>", b"", x).replace(b"&e;", b"renamed")})
    r = upload(client, plain)
    assert r.status_code == 200 and "renamed" in body(r), body(r)[:3000]


def test_the_account_workbook_refuses_an_entity_in_a_renamed_sheet(client, auth, app, people):
    auth.login("admin")
    workbook = client.get("/admin/accounts/template.xlsx").data
    r = upload_accounts(client, renamed_sheet_with_entity(workbook))
    assert r.status_code == 422 and ENTITY_REFUSED in body(r)


# --- item 1: what the parts hold, counted before openpyxl reads them -----------------------------

def test_a_styles_bomb_within_the_size_limits_is_refused_by_its_count(client, auth, app, alloy):  # noqa: F811
    auth.login("applicant-a")
    before = state(app)
    data = styles_bomb(download(client))
    with zipfile.ZipFile(BytesIO(data)) as zf:  # the finding's file: within the 40 MB and 100x limits
        info = zf.getinfo("xl/styles.xml")
        assert 30 * MB < info.file_size < 40 * MB and info.file_size < 100 * info.compress_size
    r = upload(client, data)
    assert r.status_code == 422
    assert re.search(r"文件中的单元格格式远多于填报模板所能容纳的（[\d,]+，上限 [\d,]+）", body(r)), body(r)[:3000]
    assert state(app) == before and pending_files(app) == []


def test_a_shared_strings_bomb_is_refused_by_its_count(client, auth, app, alloy):  # noqa: F811
    auth.login("applicant-a")
    data = strings_bomb(download(client))
    assert len(data) > 3 * MB
    r = upload(client, data)
    assert r.status_code == 422
    assert re.search(r"文件中的共享字符串远多于填报模板所能容纳的", body(r)), body(r)[:3000]
    assert pending_files(app) == []


def test_a_tag_longer_than_a_workbook_has_is_refused_while_streaming(client, auth, app, alloy):  # noqa: F811
    """One attribute of 3 million characters: refused once the parser has seen 1 MB without an
    event, before the tag is complete (nothing holds it whole)."""
    auth.login("applicant-a")
    data = long_attribute(download(client))
    with zipfile.ZipFile(BytesIO(data)) as zf:
        assert zf.getinfo("xl/workbook.xml").file_size > 3 * MB
    r = upload(client, data)
    assert r.status_code == 422 and "文件内容已损坏或格式不正确" in body(r)
    assert pending_files(app) == []


def test_the_account_workbook_counts_its_parts_too(client, auth, app, people):
    auth.login("admin")
    workbook = client.get("/admin/accounts/template.xlsx").data
    r = upload_accounts(client, styles_bomb(workbook, 50_000))
    assert r.status_code == 422 and "文件中的单元格格式远多于账号导入模板所能容纳的" in body(r)


def test_the_bounds_follow_the_definition_and_leave_room_around_a_full_template(app):
    plans = plans_of(app)
    limits = bounds(plans)
    rows = sum(len(p.rows) for p in plans)
    assert limits.sheets == len(plans) + 6  # the template's sheets, the hidden one and five of the user's
    assert limits.cells == 4 * rows * 7 and limits.formats == rows
    assert limits.rows == 4 * max(len(p.rows) for p in plans)


def test_a_full_template_is_well_within_every_bound(client, auth, app, alloy):  # noqa: F811
    auth.login("applicant-a")
    counts = check_file(download(client), 5 * MB, bounds(plans_of(app)))
    limits = counts.bounds
    assert counts.sheets <= limits.sheets
    for what in ("cells", "extent", "rows", "columns", "text", "formats", "elements", "other"):
        assert getattr(counts, what) * 2 <= getattr(limits, what), (what, getattr(counts, what), getattr(limits, what))


@pytest.mark.needs("libreoffice")
def test_a_template_saved_again_by_libreoffice_passes_the_counting_and_imports(client, auth, app, alloy, tmp_path):  # noqa: F811
    """A spreadsheet program writes its own styles, shared strings and properties: the bounds
    leave room for them (LibreOffice's copy holds 70 formats where the template has 43)."""
    auth.login("applicant-a")
    src = tmp_path / "填报模板.xlsx"
    src.write_bytes(download(client))
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless", "--convert-to",
                    "xlsx:Calc MS Excel 2007 XML", "--outdir", str(tmp_path / "out"), str(src)],
                   check=True, capture_output=True, timeout=180)
    saved = (tmp_path / "out" / "填报模板.xlsx").read_bytes()
    counts = check_file(saved, 5 * MB, bounds(plans_of(app)))
    assert counts.strings > 0 and counts.formats > 43  # really rewritten by LibreOffice
    r = upload(client, saved)
    assert r.status_code == 200 and "没有需要导入的改动" in body(r), body(r)[:3000]


# --- the reading process: bounded, and the heaviest accepted file within the budget --------------

def test_a_reading_that_passes_its_memory_limit_is_refused_not_a_500(client, auth, app, alloy):  # noqa: F811
    auth.login("applicant-a")
    data = download(client)
    with pytest.raises(WorkbookRefused, match="无法在限定的时间和内存内读取"):
        read_in_process("accounts", data, {"sheet": "基本信息", "columns": 7, "max_read_rows": 10, "max_rows": 10},
                        memory=16 * MB)


MEASURE = r'''
import json, sys
sys.path[:0] = [%(root)r, %(tests)r]
from wizard import create_app
from wizard.extensions import db
from wizard.models import Submission
from wizard.exports.template_import import preview_import
app = create_app({"SQLALCHEMY_DATABASE_URI": %(uri)r, "SECRET_KEY": "m", "INSTANCE_PATH": %(instance)r})


def status(key):
    with open("/proc/self/status") as fh:
        return int(fh.read().split(key + ":")[1].split()[0]) * 1024


with app.app_context():
    sub = db.session.get(Submission, %(sub)d)
    preview_import(open(%(normal)r, "rb").read(), sub, "preliminary")  # a worker that has served an import
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # the peak (VmHWM) starts again from the current RSS
    before = status("VmRSS")
    preview = preview_import(open(%(heavy)r, "rb").read(), sub, "preliminary")
    print(json.dumps({"worker": status("VmHWM") - before, "kept": status("VmRSS") - before,
                      "reader": preview.reader_peak, "problems": preview.problems[:3]}))
'''


@pytest.mark.budget
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_heaviest_accepted_template_stays_within_the_memory_budget(client, auth, app, alloy, tmp_path):  # noqa: F811
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("memory does not depend on the database: measured once, on SQLite")
    auth.login("applicant-a")
    normal = download(client)
    heavy = heaviest_accepted(normal, bounds(plans_of(app)))
    check_file(heavy, 5 * MB, bounds(plans_of(app)))  # accepted by the counting …
    with app.app_context():
        reading = read_template(heavy, submission_of(ALLOY), "preliminary")  # … and read
        assert any("备注" in p for p in reading.problems)  # its notes sheet is named, not imported
        sub_id = submission_of(ALLOY).id
    paths = {}
    for name, content in (("normal", normal), ("heavy", heavy)):
        paths[name] = str(tmp_path / f"{name}.xlsx")
        with open(paths[name], "wb") as fh:
            fh.write(content)
    code = MEASURE % {"root": ROOT, "tests": os.path.join(ROOT, "tests"), "uri": app.config["SQLALCHEMY_DATABASE_URI"],
                      "instance": app.instance_path, "sub": sub_id, **paths}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    used = json.loads(out.strip().splitlines()[-1])
    print(f"\nheaviest accepted template ({len(heavy) / MB:.1f} MB): worker +{used['worker'] / MB:.1f} MB "
          f"(kept +{used['kept'] / MB:.1f} MB), reading process peak {used['reader'] / MB:.1f} MB", end="")
    assert used["worker"] + used["reader"] < BUDGET, used
    assert used["kept"] < 20 * MB, used  # the reading's memory went back with its process
