"""Less friction for the applicant (issue #23): one bad cell never discards the step, a step is
已完成 only when nothing on it blocks submitting (evidence included), messages that say what
happened."""
import html as html_lib
import io
import re
from datetime import datetime

import pytest

from builders import pdf_bytes
from factories import ALLOY, LINXIANG, csrf_from, submission_of, submitted, user_named
from fill import step_data
from wizard.evidence.storage import files_of, needs_file, step_slots
from wizard.extensions import db
from wizard.models import AuditEntry, HistoryEntry, Message, Region
from wizard.workflow.deadlines import extend_deadline
from wizard.workflow.moves import apply_move
from wizard.workflow.states import STATES

BAD_SHARE = "135"


def text_of(response):
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def version_of(page_html):
    return re.search(r'name="version"[^>]*value="(\d+)"', page_html).group(1)


def post_step(client, key, data):
    page = client.get(f"/applicant/step/{key}")
    payload = {"csrf_token": csrf_from(page), "version": version_of(page.get_data(as_text=True)),
               "action": "save", **data}
    return client.post(f"/applicant/step/{key}", data=payload)


def saved(app):
    with app.app_context():
        return submission_of(ALLOY).preliminary_answers or {}


@pytest.fixture
def applicant(client, auth, people):
    auth.login("applicant-a")
    return client


# --- item 3: one bad cell never discards the step -------------------------------------------

def test_one_bad_share_saves_every_other_value_and_keeps_the_bad_one_as_typed(app, applicant):
    data = step_data("preliminary", "indicators")
    data["market_share-y1"] = BAD_SHARE  # a share over 100
    r = post_step(applicant, "indicators", data)
    page = text_of(r)
    assert r.status_code == 422
    # the message says what was saved and what needs fixing
    assert "已保存本页其余内容（" in page and "“集群企业营业收入”" in page.split("已保存本页其余内容")[1]
    assert "有 1 处填写有误：“主导产品国内市场占有率”" in page
    answers = saved(app)
    assert answers["revenue"] == {"y1": "500", "y2": "600"}
    assert answers["top10"][0]["name"]  # the table row is saved too
    assert "market_share" not in answers  # the refused share is not part of the report
    # reopening the step shows the share as typed, with its error
    reopened = applicant.get("/applicant/step/indicators")
    shown = reopened.get_data(as_text=True)
    assert f'name="market_share-y1" type="text" value="{BAD_SHARE}"' in shown or f'value="{BAD_SHARE}"' in shown
    assert "0 到 100" in text_of(reopened)
    # the step is 有错误 and the review page blocks submitting with it
    assert re.search(r"经济指标\s*有错误", text_of(applicant.get("/applicant/")))
    review = text_of(applicant.get("/applicant/review"))
    assert "“主导产品国内市场占有率”填写有误（已按您填写的内容保留" in review


def test_fixing_the_kept_value_clears_it(app, applicant):
    data = step_data("preliminary", "indicators")
    post_step(applicant, "indicators", dict(data, **{"market_share-y1": BAD_SHARE}))
    assert "_typed" in saved(app)
    r = post_step(applicant, "indicators", data)
    assert r.status_code == 302
    answers = saved(app)
    assert "_typed" not in answers and answers["market_share"]["y1"] == "12.5"
    assert "填写有误" not in text_of(applicant.get("/applicant/review"))


def test_autosave_saves_the_valid_values_and_says_which_need_fixing(app, applicant):
    page = applicant.get("/applicant/step/indicators")
    r = applicant.post("/applicant/step/indicators", headers={"X-Requested-With": "fetch"}, data={
        "csrf_token": csrf_from(page), "version": version_of(page.get_data(as_text=True)),
        "revenue-y1": "321", "market_share-y2": BAD_SHARE})
    body = r.get_json()
    assert r.status_code == 200 and body["ok"] is True
    assert "“主导产品国内市场占有率”" in body["warning"]
    assert saved(app)["revenue"]["y1"] == "321"
    assert saved(app)["_typed"]["market_share"]["posted"] == [["market_share-y2", BAD_SHARE]] or \
        ["market_share-y2", BAD_SHARE] in saved(app)["_typed"]["market_share"]["posted"]


# --- item 1: a step is 已完成 only when nothing on it blocks submitting -------------------------

def test_a_saved_step_missing_evidence_is_not_complete_and_says_how_many(app, applicant):
    r = post_step(applicant, "indicators", step_data("preliminary", "indicators"))
    assert r.status_code == 302
    with app.app_context():
        sub = submission_of(ALLOY)
        needed = [s for s in step_slots("preliminary", "indicators")
                  if needs_file(s, sub.cluster.category, sub.preliminary_answers)]
    assert len(needed) >= 3
    tasks = text_of(applicant.get("/applicant/"))
    assert re.search(rf"经济指标\s*缺 {len(needed)} 份佐证材料", tasks)
    assert not re.search(r"经济指标\s*已完成", tasks)
    step = applicant.get("/applicant/step/indicators").get_data(as_text=True)
    top = step[step.index('id="missing-files"'):step.index("data-dirty-warn")]
    assert f"本步骤还缺 {len(needed)} 份佐证材料" in top
    for s in needed:  # each missing file links to its upload box on the page
        assert f'href="#ev-{s.key}"' in top and f'id="ev-{s.key}"' in step


# --- item 7: messages that say what happened, once -------------------------------------------

def messages_of(app, username):
    with app.app_context():
        user = user_named(username)
        return [m.text for m in db.session.execute(db.select(Message).filter_by(user_id=user.id)).scalars()]


def in_state(app, state):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.state = state
        db.session.commit()


def test_the_award_message_says_it_once(app, people):
    in_state(app, "final")
    with app.app_context():
        apply_move(submission_of(ALLOY), "award", user_named("admin"))
    texts = messages_of(app, "applicant-a")
    assert texts == [f"“{ALLOY}”：认定为培育对象。"]


def test_the_finalist_is_told_to_fill_annex_2_by_its_deadline(app, people):
    in_state(app, "preliminary")
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.edition.final_deadline = datetime(2099, 3, 31, 18, 0)
        db.session.commit()
        apply_move(sub, "advance", user_named("admin"))
    (text,) = messages_of(app, "applicant-a")
    assert "请填写决赛报告（附件2）" in text and "2099年03月31日 18:00 前提交" in text


def test_after_the_award_the_home_page_drops_the_countdown_and_scan_instructions(app, applicant):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.edition.final_deadline = datetime(2099, 3, 31, 18, 0)
        sub.state = "awarded"
        db.session.commit()
    page = text_of(applicant.get("/applicant/"))
    assert "认定为培育对象" in page
    assert "剩余" not in page and "提交截止时间" not in page
    assert "扫描后在“真实性声明”步骤上传" not in page


def test_a_returned_report_shows_returned_with_the_comment(app, applicant):
    with app.app_context():
        apply_move(submitted(), "county_return", user_named("county-x"), comment="请补充重点项目的建设期。")
    page = applicant.get("/applicant/").get_data(as_text=True)
    assert re.search(r'状态：<span class="state-badge state-returned">已退回修改</span>', page)
    assert "请补充重点项目的建设期。" in page
    assert STATES["draft"].badge not in page
    assert any("已退回修改" in t and "请补充重点项目的建设期。" in t for t in messages_of(app, "applicant-a"))


def test_an_extended_deadline_says_it_is_an_extension(app, applicant):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.edition.preliminary_deadline = datetime(2099, 3, 1, 18, 0)
        db.session.commit()
        extend_deadline(sub, user_named("admin"), datetime(2099, 3, 15, 18, 0), "材料补充")
    page = text_of(applicant.get("/applicant/"))
    assert "2099年03月15日 18:00（已为本申报延期，原截止时间为 2099年03月01日 18:00）" in page


def test_the_dashboard_lists_the_cities_in_code_order_with_linked_counts(app, client, auth, people):
    auth.login("admin")
    page = client.get("/admin/").get_data(as_text=True)
    block = page[page.index("<h2>按市州</h2>"):]
    block = block[:block.index("</table>")]
    with app.app_context():
        cities = db.session.execute(db.select(Region).filter_by(level="city").order_by(Region.code)).scalars().all()
        names = [c.name for c in cities]
        changsha = next(c for c in cities if c.name == "长沙市")
    shown = re.findall(r"<tr><td>([^<]+)</td>", block)
    assert shown[:len(names)] == names and "湖南省" not in shown
    assert f'href="/admin/submissions?city={changsha.code}"' in block
    assert ">结果名单</a>" in page and "培育对象名单" not in page


def test_a_summary_download_is_audited_in_chinese(app, client, auth, people):
    auth.login("admin")
    assert client.get("/admin/summary/preliminary.xlsx?state=draft&sort=name").status_code == 200
    with app.app_context():
        entry = db.session.execute(db.select(AuditEntry).filter_by(action="export")).scalars().all()[-1]
    assert "preliminary" not in entry.detail and "edition=" not in entry.detail and "draft" not in entry.detail
    assert "汇总表（初赛报告）" in entry.detail and "状态=草稿" in entry.detail


# --- item 2: many evidence files at once, each assigned to its indicator ----------------------

def test_the_review_page_takes_many_files_each_for_its_indicator_without_javascript(app, applicant):
    post_step(applicant, "indicators", step_data("preliminary", "indicators"))
    page = applicant.get("/applicant/review")
    body = page.get_data(as_text=True)
    form = body[body.index('class="bulk-form"'):]
    form = form[:form.index("</form>")]
    with app.app_context():
        sub = submission_of(ALLOY)
        needed = [s.key for s in step_slots("preliminary", "indicators")
                  if needs_file(s, sub.cluster.category, sub.preliminary_answers)]
    # each row is preselected with the next indicator still missing a file, in report order
    for i, key in enumerate(needed):
        assert re.search(rf'name="bulk-slot-{i}".*?<option value="{key}"[^>]*selected', form, re.S)
    data = {"csrf_token": csrf_from(page), "version": version_of(body), "return_to": "review",
            "action": "bulk_upload"}
    for i, key in enumerate(needed):
        data[f"bulk-file-{i}"] = (io.BytesIO(pdf_bytes(1)), f"证明{i + 1}.pdf")
        data[f"bulk-slot-{i}"] = key
    r = applicant.post("/applicant/step/evidence", data=data, content_type="multipart/form-data")
    assert r.status_code == 302 and r.headers["Location"].endswith("/applicant/review#bulk-evidence")
    after = text_of(applicant.get(r.headers["Location"]))
    assert "已上传“证明1.pdf”（1 页），作为“" in after
    assert "请上传佐证材料" not in after  # the gap list has no missing file left
    with app.app_context():
        stored = {(f.slot, f.original_name) for f in files_of(submission_of(ALLOY), "preliminary")}
    assert stored == {(key, f"证明{i + 1}.pdf") for i, key in enumerate(needed)}


def test_a_file_without_its_indicator_is_refused_by_name(app, applicant):
    page = applicant.get("/applicant/step/evidence")
    r = applicant.post("/applicant/step/evidence", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "version": version_of(page.get_data(as_text=True)), "action": "bulk_upload",
        "bulk-file-0": (io.BytesIO(pdf_bytes(1)), "无主.pdf"), "bulk-slot-0": ""})
    assert "文件“无主.pdf”未上传：请在它旁边选择所属的指标或材料。" in text_of(applicant.get(r.headers["Location"]))


# --- item 9: a bulk move cut short is safe to run again -----------------------------------------

def test_running_a_bulk_move_again_says_which_were_already_moved(app, client, auth, people):
    with app.app_context():
        subs = [submission_of(n) for n in (ALLOY, LINXIANG)]
        for s in subs:
            s.state = "county_approved"
        db.session.commit()
        ids = [s.id for s in subs]
        apply_move(subs[0], "accept", user_named("admin"))  # the first run was cut short after one
    auth.login("admin")
    token = csrf_from(client.get("/admin/submissions"))
    r = client.post("/admin/submissions/bulk", data={"csrf_token": token, "move": "accept",
                                                     "ids": [str(i) for i in ids]})
    page = text_of(r)
    assert r.status_code == 200
    assert f"此前已执行「纳入初赛」，本次未重复执行（1） {ALLOY}" in page
    assert f"已执行（1） {LINXIANG}" in page and "未执行（0）" in page
    with app.app_context():
        assert [submission_of(n).state for n in (ALLOY, LINXIANG)] == ["preliminary", "preliminary"]
        assert len(db.session.execute(db.select(HistoryEntry).filter_by(submission_id=ids[0], move="accept"))
                   .scalars().all()) == 1  # not moved twice


# --- item 6: two tabs, a choice per field ---------------------------------------------------------

def form_of(page_html):
    """The step form's posted fields as the page holds them (inputs and textareas)."""
    data = {n: html_lib.unescape(v) for n, v in re.findall(r'<input type="text"[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
                                                              page_html)}
    data.update({n: html_lib.unescape(v) for n, v in
                 re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>\n?(.*?)</textarea>', page_html, re.S)})
    return data


def test_a_conflict_keeps_the_other_tabs_change_where_this_tab_changed_nothing(app, applicant):
    long_text = "集群促进组织由龙头企业和科研院所共同发起。" * 56  # 1,120 characters
    assert post_step(applicant, "org", {"org_basic": long_text, "org_operation": "运营良好。"}).status_code == 302
    mine = applicant.get("/applicant/step/org")  # this tab opens the step
    mine_html = mine.get_data(as_text=True)
    short = "集群促进组织由龙头企业发起。"
    assert post_step(applicant, "org", {"org_basic": short, "org_operation": "运营良好。"}).status_code == 302  # the other tab
    loaded = re.search(r'name="loaded" value="([^"]+)"', mine_html).group(1)
    r = applicant.post("/applicant/step/org", data={
        "csrf_token": csrf_from(mine), "version": version_of(mine_html), "loaded": html_lib.unescape(loaded),
        "action": "save", "org_basic": long_text, "org_operation": "运营良好，服务企业 120 家。"})
    page = r.get_data(as_text=True)
    assert r.status_code == 409
    # the untouched text keeps the other tab's change by default; the edited one keeps this tab's
    assert re.search(r'name="keep-org_basic" value="theirs" form="step-form" checked', page)
    assert re.search(r'name="keep-org_operation" value="mine" form="step-form" checked', page)
    shown = form_of(page)
    assert shown["org_basic"] == short and shown["org_operation"] == "运营良好，服务企业 120 家。"
    # saving with those choices keeps both changes; the long text does not come back
    r = applicant.post("/applicant/step/org", data={
        "csrf_token": csrf_from(r), "version": version_of(page), "action": "save",
        "keep-org_basic": "theirs", "keep-org_operation": "mine",
        "org_basic": long_text, "org_operation": shown["org_operation"]})
    assert r.status_code == 302
    assert saved(app)["org_basic"] == short and saved(app)["org_operation"] == "运营良好，服务企业 120 家。"
