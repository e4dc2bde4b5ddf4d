"""The applicant wizard: saving steps, numbers, growth, limits, tables, stale saves,
session expiry, consistency checks, submit gating and access."""
import html
from datetime import timedelta
import io
import json
import re

import pytest

from factories import ALLOY, LINXIANG, evidence_slots_needed, pdf_bytes, submission_of
from fill import step_data
from wizard.extensions import db
from wizard.evidence.storage import step_slots
from wizard.report.definition import get_report


def version_of(page_html):
    return re.search(r'name="version"[^>]*value="(\d+)"', page_html).group(1)


def open_step(client, key):
    page = client.get(f"/applicant/step/{key}").get_data(as_text=True)
    return page, csrf_from_text(page), version_of(page)


def csrf_from_text(html):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def post_step(client, key, data, **kw):
    page, token, version = open_step(client, key)
    payload = {"csrf_token": token, "version": version, "action": "save", **data}
    return client.post(f"/applicant/step/{key}", data=payload, **kw)


@pytest.fixture
def applicant(client, auth, people):
    auth.login("applicant-a")
    return client


def answers(app, cluster=ALLOY, round_="preliminary"):
    with app.app_context():
        return submission_of(cluster).answers_for(round_)


def test_every_step_page_shows_its_labels(applicant, app):
    for step in get_report("preliminary").steps:
        page = html.unescape(applicant.get(f"/applicant/step/{step.key}").get_data(as_text=True))
        for f in step.fields:
            if f.category == "sme":
                continue  # the alloy cluster is advanced manufacturing
            assert f.label in page, (step.key, f.label)
        for s in step.sections:
            if s.heading:
                assert s.heading in page


def test_years_come_from_the_edition(applicant, app):
    from wizard.models import Edition

    with app.app_context():
        e = db.session.execute(db.select(Edition)).scalar_one()
        e.data_year_1, e.data_year_2, e.target_year_1 = 2023, 2024, 2025
        db.session.commit()
    page = applicant.get("/applicant/step/indicators").get_data(as_text=True)
    assert "2023年" in page and "2024年" in page and "2021年" not in page
    page = applicant.get("/applicant/step/plan").get_data(as_text=True)
    assert "2027年发展目标" in page and "2023年发展目标" not in page


def test_save_keeps_values_and_normalises_numbers(applicant, app):
    r = post_step(applicant, "indicators", {"output_total-y1": " 1,234.50 ", "output_total-y2": "１２３４．５",
                                            "employees-y1": "２０００", "profit-y1": "-3.5"})
    assert r.status_code == 302
    a = answers(app)
    # normalised (no separators, half-width digits) with the decimals the applicant typed (#23 item 12:
    # a figure prints as typed, so 63.0 stays 63.0)
    assert a["output_total"] == {"y1": "1234.50", "y2": "1234.5"}
    assert a["employees"] == {"y1": "2000"}
    assert a["profit"] == {"y1": "-3.5"}
    page = applicant.get("/applicant/step/indicators").get_data(as_text=True)
    assert 'value="1234.50"' in page and 'value="1234.5"' in page


@pytest.mark.parametrize("field,value,message", [
    ("output_total-y1", "一百", "请输入数字"),
    ("output_total-y1", "NaN", "请输入数字"),
    ("output_total-y1", "Infinity", "请输入数字"),
    ("output_total-y1", "1e400", "请输入数字"),
    ("output_total-y1", "99999999999999", "数值过大"),
    ("output_total-y1", "-5", "不能为负数"),
    ("employees-y1", "12.5", "整数"),
    ("enterprises-y2", "3.2", "整数"),
    ("market_share-y1", "120", "0 到 100"),
    ("cloud_ratio-y2", "-1", "不能为负数"),
    ("output_total-y2", "1.123456", "小数"),
    ("output_total-y1", "10²", "不能使用上标、下标、圈码等特殊数字"),  # was saved as 102
    ("employees-y2", "1,5", "逗号只能用作千位分隔符"),  # was saved as 15
])
def test_bad_numbers_are_refused_and_input_kept(applicant, app, field, value, message):
    """One bad cell no longer discards the step (issue #23 item 3): the valid values are saved,
    the refused one is kept as typed with its error, on this page and after reopening it."""
    r = post_step(applicant, "indicators", {field: value, "tax-y1": "7.25"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert message in html
    assert "error-summary" in html and "已按您填写的保留在本页" in html
    assert f'value="{value}"' in html.replace("&#43;", "+")  # what the user typed stays on screen
    assert 'value="7.25"' in html
    assert answers(app)["tax"]["y1"] == "7.25"  # the valid value is saved
    assert field.split("-")[0] not in answers(app) or answers(app)[field.split("-")[0]].get(field.split("-")[1]) != value
    reopened = applicant.get("/applicant/step/indicators").get_data(as_text=True)
    assert message in reopened and f'value="{value}"' in reopened.replace("&#43;", "+")


def test_growth_is_computed_on_the_server(applicant, app):
    post_step(applicant, "indicators", {"output_total-y1": "200", "output_total-y2": "250",
                                        "market_share-y1": "10", "market_share-y2": "11.2",
                                        "tax-y1": "0", "tax-y2": "5"})
    page = applicant.get("/applicant/step/indicators").get_data(as_text=True)
    row = page[page.index('id="f-output_total"'):]
    assert ">25.00<" in row[:1500]
    row = page[page.index('id="f-market_share"'):]
    assert "+1.20个百分点" in row[:1500]
    row = page[page.index('id="f-tax"'):]
    assert ">—<" in row[:1500]


def test_sme_share_only_for_sme_clusters(client, auth, people, app):
    auth.login("applicant-a")
    assert "仅中小企业特色产业集群填报" not in client.get("/applicant/step/indicators").get_data(as_text=True)
    auth.logout()
    auth.login("applicant-b")
    assert "仅中小企业特色产业集群填报" in client.get("/applicant/step/indicators").get_data(as_text=True)


def test_sme_share_is_required_for_sme_clusters(client, auth, people, app):
    auth.login("applicant-b")
    data = step_data("preliminary", "indicators", category="sme")
    del data["sme_share-y1"], data["sme_share-y2"]
    post_step(client, "indicators", data)
    review = client.get("/applicant/review").get_data(as_text=True)
    assert "请填写“集群内中小企业产值占集群总产值的比重”的全部数值" in review


def test_character_limit_counts_non_whitespace_and_blocks_submit(applicant, app):
    text = "集" * 2500 + "\n \n" + "a1，"  # 2503 non-whitespace characters
    r = post_step(applicant, "quality", {"self_assessment": text})
    assert r.status_code == 302  # the draft is kept, never truncated
    assert answers(app)["self_assessment"] == text.strip()
    page = applicant.get("/applicant/step/quality").get_data(as_text=True)
    assert "已输入 2503 / 2500 字" in page
    review = applicant.get("/applicant/review").get_data(as_text=True)
    assert "已输入 2503 字，超出 2500 字的限制" in review


def test_tables_skip_empty_rows_and_respect_limits(applicant, app):
    data = {"top10-0-name": "甲公司", "top10-0-product": "合金", "top10-0-revenue_y1": "3", "top10-0-revenue_y2": "4",
            "top10-1-name": "", "top10-1-product": "",
            "top10-2-name": "乙公司", "top10-2-product": "线材", "top10-2-revenue_y1": "1", "top10-2-revenue_y2": "2"}
    assert post_step(applicant, "indicators", data).status_code == 302
    rows = answers(app)["top10"]
    assert [r["name"] for r in rows] == ["甲公司", "乙公司"]
    too_many = {f"top10-{i}-name": f"公司{i}" for i in range(11)}
    r = post_step(applicant, "indicators", too_many)
    assert r.status_code == 422 and "最多 10 行" in r.get_data(as_text=True)


def test_add_and_remove_rows_without_javascript(applicant, app):
    r = post_step(applicant, "innovation", {"carriers-0-name": "省级企业技术中心", "add_row": "carriers"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'name="carriers-1-name"' in html
    token, version = csrf_from_text(html), version_of(html)
    r = applicant.post("/applicant/step/innovation", data={"csrf_token": token, "version": version,
                                                           "carriers-0-name": "甲", "carriers-1-name": "乙",
                                                           "remove_row": "carriers-0"})
    assert r.status_code == 200
    assert [row["name"] for row in answers(app)["carriers"]] == ["乙"]


def test_stale_save_is_refused_with_a_diff(applicant, app):
    page, token, version = open_step(applicant, "basic")
    # another tab saves first
    assert post_step(applicant, "basic", {"industry_field": "新材料"}).status_code == 302
    r = applicant.post("/applicant/step/basic", data={"csrf_token": token, "version": version,
                                                      "industry_field": "有色金属", "action": "save"})
    html = r.get_data(as_text=True)
    assert r.status_code == 409
    assert "保存未成功" in html and "新材料" in html and 'value="有色金属"' in html
    assert answers(app)["industry_field"] == "新材料"
    # saving again from this page (now carrying the current version) is the user's explicit choice
    r = applicant.post("/applicant/step/basic", data={"csrf_token": csrf_from_text(html), "version": version_of(html),
                                                      "industry_field": "有色金属", "action": "save"})
    assert r.status_code == 302 and answers(app)["industry_field"] == "有色金属"


def test_autosave_answers_json(applicant, app):
    page, token, version = open_step(applicant, "basic")
    r = applicant.post("/applicant/step/basic", data={"csrf_token": token, "version": version, "region_scope": "长沙市"},
                       headers={"X-Requested-With": "fetch"})
    assert r.status_code == 200 and r.json["ok"] and r.json["version"] == int(version) + 1
    r = applicant.post("/applicant/step/basic", data={"csrf_token": token, "version": version, "region_scope": "x"},
                       headers={"X-Requested-With": "fetch"})
    assert r.status_code == 409 and not r.json["ok"]
    assert answers(app)["region_scope"] == "长沙市"


def test_expired_session_keeps_what_was_typed(app, client, auth, people):
    from factories import age_session

    auth.login("applicant-a")
    page, token, version = open_step(client, "quality")
    age_session(client, idle=app.config["SESSION_IDLE_TIMEOUT"] + timedelta(minutes=1))  # the login expires while the user types
    text = "登录过期前写下的自评报告内容。"
    r = client.post("/applicant/step/quality", data={"csrf_token": token, "version": version,
                                                     "self_assessment": text, "action": "save"})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = auth.login("applicant-a")
    assert r.status_code == 302 and "/applicant/step/quality" in r.headers["Location"]
    assert answers(app)["self_assessment"] == text
    assert text in client.get(r.headers["Location"]).get_data(as_text=True)


def test_csrf_failure_reshows_the_form_with_input(applicant, app):
    page, token, version = open_step(applicant, "basic")
    r = applicant.post("/applicant/step/basic", data={"csrf_token": "bogus", "version": version,
                                                      "industry_field": "我的输入"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "页面已过期" in html and 'value="我的输入"' in html
    assert "industry_field" not in answers(app)


def evidence_uploads(client, step_key, category="advanced"):
    """The file fields a complete report posts on one step: one small PDF per slot that needs one."""
    with client.application.app_context():
        needed = set(evidence_slots_needed("preliminary", category))
    return {f"evidence-{s.key}": (io.BytesIO(pdf_bytes(1)), f"{s.key}.pdf")
            for s in step_slots("preliminary", step_key) if s.key in needed}


def fill_everything(client, category="advanced"):
    """Every step through the web, the signed declaration scan and the evidence files included."""
    for step in get_report("preliminary").steps:
        data = step_data("preliminary", step.key, category)
        data.update(evidence_uploads(client, step.key, category))
        if step.key == "declaration":
            data["evidence-declaration_scan"] = (io.BytesIO(pdf_bytes(1)), "声明.pdf")
        r = post_step(client, step.key, data)
        assert r.status_code == 302, (step.key, r.get_data(as_text=True)[:3000])


def test_submit_requires_a_complete_report(applicant, app):
    r = applicant.get("/applicant/review")
    html = r.get_data(as_text=True)
    assert "提交前还需处理" in html and "请阅读并勾选同意真实性声明" in html
    token = csrf_from_text(html)
    r = applicant.post("/applicant/submit", data={"csrf_token": token, "version": version_of(html)})
    assert r.status_code == 302
    with app.app_context():
        assert submission_of(ALLOY).state == "draft"


def test_complete_report_submits_and_becomes_read_only(applicant, app):
    fill_everything(applicant)
    html = applicant.get("/applicant/review").get_data(as_text=True)
    assert "报告已填写完整" in html
    # every file was uploaded: no problems, no warnings left
    assert "提交前还需处理" not in html and "形式审查提示" not in html
    # every value shows on the review page
    assert "集群主导产业示例" in html and "0731-88888888" in html and ">25.50<" in html
    r = applicant.post("/applicant/submit", data={"csrf_token": csrf_from_text(html), "version": version_of(html)})
    assert r.status_code == 302
    with app.app_context():
        assert submission_of(ALLOY).state == "submitted"
    r = post_step(applicant, "basic", {"industry_field": "改了"}) if False else None
    page = applicant.get("/applicant/step/basic")
    assert page.status_code == 302  # read-only now: sent to the review page
    r = applicant.post("/applicant/step/basic", data={"csrf_token": csrf_from_text(html), "industry_field": "改了"})
    assert r.status_code == 409 and "不允许修改" in r.get_data(as_text=True)


def test_consistency_warnings(applicant, app):
    post_step(applicant, "indicators", {
        "enterprises-y1": "10", "above_scale_enterprises-y1": "20",
        "output_total-y2": "50", "leading_output-y2": "80",
        "revenue-y1": "5", "top10-0-name": "甲", "top10-0-product": "x", "top10-0-revenue_y1": "9", "top10-0-revenue_y2": "1",
        "employees-y1": "10000"})
    post_step(applicant, "innovation", {"rd_funds-y1": "10", "rd_funds-y2": "12", "rd_growth-y2": "35",
                                        "invention_patents-y1": "100", "patents_per_10k-y1": "30"})
    post_step(applicant, "park", {"park_gdp-y1_total": "10", "park_gdp-y1_cluster": "12"})
    html = applicant.get("/applicant/review").get_data(as_text=True)
    assert "2021年“规上工业企业数量”（20）大于“企业数量”（10）" in html
    assert "2022年“集群主导产业产值”（80）大于“集群总产值”（50）" in html
    assert "2021年营业收入排名前十企业的营业收入合计（9）大于“集群企业营业收入”（5）" in html
    assert "与按集群研发经费计算的增速（20.00%）不一致" in html
    assert "与按发明专利数量和从业人员数量计算的值（100.00）不一致" in html
    assert "2021年“园区生产总值”的集群产业数（12）大于园区总额（10）" in html


def test_applicant_sees_only_its_own_submission(app, client, auth, people):
    with app.app_context():
        other = submission_of(LINXIANG).id
    auth.login("applicant-a")
    assert client.get(f"/county/submissions/{other}").status_code == 403
    assert client.get(f"/admin/submissions/{other}").status_code == 403
    page = client.get("/applicant/").get_data(as_text=True)
    assert ALLOY in page and LINXIANG not in page


def test_schema_cli(runner):
    r = runner.invoke(args=["schema", "--round", "preliminary"])
    doc = json.loads(r.output)
    assert doc["years"] == {"data": [2021, 2022], "targets": [2023, 2024, 2025]}
    fields = {f["key"]: f for s in doc["steps"] for f in s["fields"]}
    assert fields["listed_enterprises"]["evidence"] is True and fields["listed_enterprises"]["unit"] == "个"
    assert fields["listed_enterprises"]["section"] == "2.2"
    assert fields["sme_share"]["category"] == "sme"
    assert fields["self_assessment"]["max_chars"] == 2500
    assert fields["top10"]["max_rows"] == 10 and fields["top10"]["columns"][2]["label"] == "2021年"
    assert [s["key"] for s in doc["steps"]] == ["basic", "indicators", "innovation", "green", "quality", "park",
                                                "org", "plan", "declaration", "evidence"]


def test_answers_export_and_import(app, runner, tmp_path):
    with app.app_context():
        sid = submission_of(ALLOY).id
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"answers": {"output_total": {"y1": "abc"}, "employees": {"y1": "1.5"},
                                           "industry_field": "新材料", "nope": 1}}), encoding="utf-8")
    r = runner.invoke(args=["answers", "import", str(sid), str(bad)])
    assert r.exit_code != 0
    assert "请输入数字" in r.output and "整数" in r.output and "未知字段：nope" in r.output
    assert "industry_field" not in answers(app)  # nothing changed
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"answers": {"output_total": {"y1": "1,000", "y2": "1200"}, "industry_field": "新材料"}}),
                    encoding="utf-8")
    r = runner.invoke(args=["answers", "import", str(sid), str(good)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(args=["answers", "export", str(sid)])
    doc = json.loads(r.output)
    assert doc["answers"]["output_total"] == {"y1": "1000", "y2": "1200"} and doc["answers"]["industry_field"] == "新材料"


def test_task_list_and_step_sidebar_give_one_status(applicant):
    """An untouched step reads the same on the task list and in a step page's sidebar."""
    tasks = applicant.get("/applicant/").get_data(as_text=True)
    step = applicant.get("/applicant/step/org").get_data(as_text=True)

    def status_of(page, key):
        m = re.search(r'href="/applicant/step/%s".*?<span class="status[^"]*">([^<]+)<' % key, page, re.S)
        return m.group(1).strip() if m else None

    for key in ("basic", "org"):
        assert status_of(tasks, key) == status_of(step, key) == "未开始", key
