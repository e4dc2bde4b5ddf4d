"""Issue #25: a step page written from the saved answers (table rows from the row macro's
skeleton, not from WTForms rows), autosave of the changed fields alone.  What the user sees and
what is stored, on both databases; speed itself is measured by benchmarks/load_profile.py."""
import html as html_lib
import re

import pytest

from factories import ALLOY, submission_of



def answers(app, cluster=ALLOY, round_="preliminary"):
    with app.app_context():
        return submission_of(cluster).answers_for(round_)


def open_step(client, key):
    page = client.get(f"/applicant/step/{key}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return page, token, re.search(r'name="version"[^>]*value="(\d+)"', page).group(1)


def post_step(client, key, data, **kw):
    page, token, version = open_step(client, key)
    return client.post(f"/applicant/step/{key}", data={"csrf_token": token, "version": version, "action": "save",
                                                       **data}, **kw)


@pytest.fixture
def applicant(client, auth, people):
    auth.login("applicant-a")
    return client


def rows_of(page: str, key: str) -> list[dict]:
    """The rows of one table of a step page: {column: value} as the inputs and choices show them."""
    table = re.search(rf'<table class="data" data-table="{key}".*?</table>', page, re.S).group(0)
    out = []
    for row in re.findall(r"<tr data-row>(.*?)</tr>", table, re.S):
        cells = dict(re.findall(rf'name="{key}-\d+-(\w+)"[^>]*value="([^"]*)"', row))
        for col, options in re.findall(rf'name="{key}-\d+-(\w+)">(.*?)</select>', row, re.S):
            chosen = re.findall(r'<option selected value="([^"]*)"', options)
            cells[col] = chosen[0] if chosen else None
        cells["no"] = re.search(r'<td class="row-no">(\d+)</td>', row).group(1)
        cells["remove"] = re.search(r'name="remove_row" value="([^"]+)"', row).group(1)
        out.append({k: html_lib.unescape(v) if isinstance(v, str) else v for k, v in cells.items()})
    return out


def test_saved_table_rows_come_back_as_saved(applicant, app):
    """Three saved rows (a level chosen, a name with markup): the page shows exactly these rows,
    numbered, each with its own names, the level selected, the markup escaped."""
    data = {"carriers-0-name": "省级企业技术中心", "carriers-0-level": "省级", "carriers-0-approver": "省工信厅",
            "carriers-0-approved_at": "2021年5月",
            "carriers-1-name": "<b>国家</b>工程研究中心 & 实验室", "carriers-1-level": "国家级",
            "carriers-2-name": "未选级别的平台"}
    assert post_step(applicant, "innovation", data).status_code == 302
    page, _, _ = open_step(applicant, "innovation")
    rows = rows_of(page, "carriers")
    assert [(r["no"], r["remove"]) for r in rows] == [("1", "carriers-0"), ("2", "carriers-1"), ("3", "carriers-2")]
    assert rows[0]["name"] == "省级企业技术中心" and rows[0]["level"] == "省级" and rows[0]["approved_at"] == "2021年5月"
    assert rows[1]["name"] == "<b>国家</b>工程研究中心 & 实验室" and rows[1]["level"] == "国家级"
    assert rows[2]["level"] == "" and rows[2]["approver"] == ""  # 请选择
    assert "<b>国家</b>" not in page  # escaped, never markup


def test_an_empty_table_shows_one_empty_row(applicant):
    page, _, _ = open_step(applicant, "innovation")
    rows = rows_of(page, "carriers")
    assert len(rows) == 1 and rows[0]["name"] == "" and rows[0]["level"] == ""


def test_typed_values_kept_after_a_refused_cell_show_as_typed(applicant, app):
    """A refused cell (not a number) keeps the page on the WTForms rows: the typed text with its error."""
    r = post_step(applicant, "indicators", {"top10-0-name": "甲公司", "top10-0-revenue_y1": "三亿"})
    assert r.status_code == 422
    page, _, _ = open_step(applicant, "indicators")
    assert 'value="三亿"' in page and 'aria-invalid="true"' in page


def autosave(client, key, data, fields):
    page, token, version = open_step(client, key)
    payload = {"csrf_token": token, "version": version, **data, "fields": ",".join(fields)}
    return client.post(f"/applicant/step/{key}", data=payload, headers={"X-Requested-With": "fetch"})


def test_autosave_saves_only_the_fields_it_names(applicant, app):
    """static/js/wizard.js sends the changed fields and names them: the others keep their saved
    values although the request does not carry them (nor what a stale copy of them would be)."""
    assert post_step(applicant, "basic", {"industry_field": "有色金属", "region_scope": "长沙市"}).status_code == 302
    r = autosave(applicant, "basic", {"industry_field": "新材料", "region_scope": ""}, ["industry_field"])
    assert r.status_code == 200 and r.json["ok"] and not r.json["warning"]
    saved = answers(app)
    assert saved["industry_field"] == "新材料" and saved["region_scope"] == "长沙市"


def test_autosave_validates_the_named_fields_only(applicant, app):
    """A bad value in a field the autosave does not name is not looked at; one in a named field is
    kept as typed with its warning, as before."""
    posted = {"output_total-y1": "100", "output_total-y2": "125", "top10-0-revenue_y1": "三亿"}
    r = autosave(applicant, "indicators", posted, ["output_total"])
    assert r.status_code == 200 and r.json["ok"] and not r.json["warning"]
    assert answers(app)["output_total"] == {"y1": "100", "y2": "125"} and "top10" not in answers(app)
    r = autosave(applicant, "indicators", {"output_total-y1": "一百"}, ["output_total"])
    assert r.status_code == 200 and r.json["warning"]
    assert answers(app)["output_total"] == {"y1": "100", "y2": "125"}  # the saved value stays until it is fixed


def test_autosave_naming_nothing_known_changes_no_answer(applicant, app):
    before = answers(app)
    r = autosave(applicant, "basic", {"industry_field": "不该保存"}, ["no_such_field", "industry_field-x"])
    assert r.status_code == 200 and r.json["ok"]
    assert answers(app) == before


def test_a_stale_autosave_is_still_refused(applicant, app):
    """The version check stays per submission: a changed field from an older page is refused."""
    page, token, version = open_step(applicant, "basic")
    assert post_step(applicant, "basic", {"industry_field": "新材料"}).status_code == 302
    r = applicant.post("/applicant/step/basic", data={"csrf_token": token, "version": version,
                                                      "region_scope": "x", "fields": "region_scope"},
                       headers={"X-Requested-With": "fetch"})
    assert r.status_code == 409 and not r.json["ok"]
    assert answers(app)["region_scope"] != "x" and answers(app)["industry_field"] == "新材料"


def test_an_autosave_kept_over_an_expired_login_saves_its_fields_alone(app, client, auth, people):
    """The autosave that met the expired login is kept and saved after logging in again: its
    field is saved, the fields it did not send keep their saved values (never blanked)."""
    from datetime import timedelta

    from factories import age_session

    auth.login("applicant-a")
    assert post_step(client, "basic", {"industry_field": "有色金属", "region_scope": "长沙市"}).status_code == 302
    page, token, version = open_step(client, "basic")
    age_session(client, idle=app.config["SESSION_IDLE_TIMEOUT"] + timedelta(minutes=1))
    r = client.post("/applicant/step/basic", data={"csrf_token": token, "version": version,
                                                   "industry_field": "新材料", "fields": "industry_field"},
                    headers={"X-Requested-With": "fetch"})
    assert r.status_code == 401
    r = auth.login("applicant-a")
    assert r.status_code == 302 and "/applicant/step/basic" in r.headers["Location"]
    saved = answers(app)
    assert saved["industry_field"] == "新材料" and saved["region_scope"] == "长沙市"
