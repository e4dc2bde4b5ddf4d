"""The real pages in a real browser: what a user notices — the Chinese login and task list,
the wizard's live growth cells, character counters, client-side table rows and autosave,
evidence upload with page references, the client-side upload size check, and a county
reviewer's approval.  Fixtures in tests/browser/conftest.py."""
import re

from browserkit import expect, pause, stored_files, with_page_clock
from factories import ALLOY, PASSWORD, attach, pdf_bytes, submission_of, submitted
from wizard.evidence.names import file_size


# --- 1. login ------------------------------------------------------------------------------

def test_login_leads_to_the_applicants_task_list_in_chinese(tab):
    page = tab.goto("/login")
    expect(page).to_have_title(re.compile("登录.*湖南省产业集群竞赛申报系统"))
    expect(page.locator(".site-title")).to_have_text("湖南省产业集群竞赛申报系统")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()

    page.get_by_label("用户名").fill("applicant-a")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/applicant/$"))
    expect(page.get_by_role("heading", name=ALLOY)).to_be_visible()
    tasks = page.locator("ol.task-list > li")
    expect(tasks.first).to_contain_text("基本信息")
    expect(page.locator("ol.task-list")).to_contain_text("经济指标")
    expect(page.locator("ol.task-list .status-not-started").first).to_have_text("未开始")
    expect(page.locator(".state-badge")).to_have_text("草稿")
    expect(page.get_by_role("link", name="检查与提交").first).to_be_visible()
    expect(page.locator(".user-box")).to_contain_text("applicant-a")
    tab.shot("tasks")

    page.locator("ol.task-list").get_by_role("link", name="经济指标").click()
    expect(page).to_have_url(re.compile(r"/applicant/step/indicators$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("经济指标")
    tab.shot("step-indicators")


def test_a_wrong_password_is_refused_in_chinese(tab):
    page = tab.goto("/login")
    page.get_by_label("用户名").fill("applicant-a")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".flash-error")).to_be_visible()
    expect(page.locator(".flash-error")).to_contain_text(re.compile("[\u4e00-\u9fff]"))
    expect(page).to_have_url(re.compile(r"/login"))
    tab.shot("login-refused")


# --- 2. the wizard's live behaviours -------------------------------------------------------

def test_growth_cells_update_while_typing(tab):
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/indicators")
    growth = page.locator("#f-revenue td.growth output")
    expect(growth).to_have_text("—")
    page.locator("#revenue-y1").fill("100")
    expect(growth).to_have_text("—")  # one year only: nothing to compare yet
    page.locator("#revenue-y2").fill("125.5")
    expect(growth).to_have_text("25.50")
    page.locator("#revenue-y2").fill("８０")  # full-width digits count as numbers too
    expect(growth).to_have_text("-20.00")
    # a percentage indicator grows in percentage points
    points = page.locator("#f-leading_provincial_share td.growth output")
    page.locator("#leading_provincial_share-y1").fill("12.5")
    page.locator("#leading_provincial_share-y2").fill("13.7")
    expect(points).to_have_text("+1.20个百分点")
    tab.shot("growth")


def test_character_counter_counts_and_turns_over_the_limit(tab):
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/org")
    box, counter = page.locator("#org_operation"), page.locator("#org_operation-counter")
    expect(counter).to_have_text("已输入 0 / 1000 字")
    box.fill("集群 促进\n组织")  # whitespace does not count
    expect(counter).to_have_text("已输入 6 / 1000 字")
    expect(counter).not_to_have_class(re.compile(r"\bover\b"))
    box.fill("甲" * 1000)
    expect(counter).to_have_text("已输入 1000 / 1000 字")
    expect(counter).not_to_have_class(re.compile(r"\bover\b"))
    box.press("End")
    box.press_sequentially("乙乙")
    expect(counter).to_have_text("已输入 1002 / 1000 字（超出 2 字）")
    expect(counter).to_have_class(re.compile(r"\bover\b"))
    tab.shot("counter-over")


def test_add_a_table_row_without_reloading(tab):
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/indicators")
    page.evaluate("window.__samePage = 'yes'")  # gone if the page were reloaded
    rows = page.locator('table[data-table="top10"] tbody tr')
    expect(rows).to_have_count(1)
    page.locator("#top10-0-name").fill("湖南甲合金有限公司")
    page.locator('button[data-add-row="top10"]').click()
    expect(rows).to_have_count(2)
    second = rows.nth(1)
    expect(second.locator("td.row-no")).to_have_text("2")
    expect(second.locator('input[name="top10-1-name"]')).to_have_value("")
    expect(page.locator("#top10-0-name")).to_have_value("湖南甲合金有限公司")
    expect(page.locator("#f-top10 .table-status")).to_contain_text("已添加第 2 行")
    second.locator('input[name="top10-1-name"]').fill("湖南乙材料股份有限公司")
    assert page.evaluate("window.__samePage") == "yes"
    assert page.url.endswith("/applicant/step/indicators")
    tab.shot("row-added")


def test_autosave_stores_what_was_typed(app, tab):
    tab.login("applicant-a")
    page = with_page_clock(tab).goto("/applicant/step/basic")
    status = page.locator("form .autosave-status")
    page.locator("#industry_field").fill("新材料（自动保存）")
    pause(page)  # autosave runs ~3 s after the last keystroke (the clock jumps instead of the test waiting)
    expect(status).to_contain_text("已自动保存")
    expect(status).not_to_have_class(re.compile(r"\berror\b"))
    tab.shot("autosaved")
    with app.app_context():
        assert submission_of(ALLOY).preliminary_answers.get("industry_field") == "新材料（自动保存）"
    # the page's version follows the save, so a normal save afterwards is not refused as stale
    with app.app_context():
        version = submission_of(ALLOY).version
    expect(page.locator('input[name="version"]')).to_have_value(str(version))
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".flash-success").first).to_contain_text("已保存")
    expect(page.locator("#industry_field")).to_have_value("新材料（自动保存）")
    tab.shot("saved")


# --- 3. evidence upload --------------------------------------------------------------------

def test_upload_evidence_and_keep_what_was_typed(app, tab):
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/indicators")
    page.locator("#revenue-y1").fill("321.5")  # typed, not saved
    box = page.locator("#ev-listed_enterprises")
    page.locator("#evf-listed_enterprises").set_input_files(
        files=[{"name": "上市公告.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes(2)}])
    tab.shot("file-chosen")
    box.get_by_role("button", name="上传", exact=True).click()
    expect(page).to_have_url(re.compile(r"saved=1"))
    item = box.locator("ul.evidence-files > li")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("上市公告.pdf")
    expect(item).to_contain_text("2 页")
    expect(item).to_contain_text("装订后见佐证材料第 1–2 页")
    expect(box.locator(".flash-success")).to_contain_text("已上传“上市公告.pdf”（2 页）")
    expect(page.locator("#revenue-y1")).to_have_value("321.5")
    tab.shot("uploaded")
    assert stored_files(app) == [("listed_enterprises", "上市公告.pdf", 2)]
    with app.app_context():
        assert submission_of(ALLOY).preliminary_answers["revenue"] == {"y1": "321.5"}


def open_step_with_one_file(app, tab):
    """The indicators step with one file already attached to 上市和挂牌企业数量."""
    with app.app_context():
        attach(submission_of(ALLOY), "listed_enterprises", name="已有证书.pdf")
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/indicators")
    expect(page.locator("#ev-listed_enterprises ul.evidence-files > li")).to_have_count(1)
    return page


def assert_refused_before_sending(app, tab, page, name, data, message):
    """Choosing the file shows the Chinese size error; pressing 上传 sends nothing and loses nothing."""
    page.locator("#revenue-y1").fill("88")  # typed, not saved
    sent = []  # form submissions; autosave's fetch() never carries files and may run meanwhile
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" and r.is_navigation_request() else None)
    # note whether the submit was cancelled (listeners on window run after wizard.js's on document)
    page.evaluate("""window.addEventListener('submit', e => {
        window.__submits = (window.__submits || []).concat([e.defaultPrevented]); })""")
    chooser = page.locator("#evf-listed_enterprises")
    chooser.set_input_files(files=[{"name": name, "mimeType": "application/pdf", "buffer": data}])
    error = page.locator(".upload-size-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(message)
    tab.shot("size-error")
    page.locator("#ev-listed_enterprises").get_by_role("button", name="上传", exact=True).click()
    page.wait_for_function("(window.__submits || []).length > 0")
    assert page.evaluate("window.__submits") == [True], "the form was sent"
    expect(error).to_be_visible()
    expect(page.locator("#revenue-y1")).to_have_value("88")
    expect(page.locator("#ev-listed_enterprises ul.evidence-files > li")).to_have_count(1)
    tab.shot("size-refused")
    assert sent == [], sent
    assert [n for _, n, _ in stored_files(app)] == ["已有证书.pdf"]


def test_a_file_over_the_single_file_limit_is_refused_before_sending(app, tab):
    app.config["UPLOAD_MAX_FILE_BYTES"] = 10_000  # before the page is rendered
    page = open_step_with_one_file(app, tab)
    assert page.locator("#evf-listed_enterprises").get_attribute("data-max-file-bytes") == "10000"
    big = pdf_bytes(1) + b"%" * 20_000
    assert_refused_before_sending(app, tab, page, "扫描件.pdf", big,
                                  f"“扫描件.pdf”大小为 {file_size(len(big))}，超过单个文件 {file_size(10_000)} 的上限")


def test_a_request_over_max_content_length_is_refused_before_sending(app, tab):
    app.config["MAX_CONTENT_LENGTH"] = 10_000  # before the page is rendered
    page = open_step_with_one_file(app, tab)
    # server-rendered, nothing to wait for: the page must announce the server's limit
    assert page.locator("#evf-listed_enterprises").get_attribute("data-max-request-bytes") == "10000"
    assert_refused_before_sending(app, tab, page, "大文件.pdf", pdf_bytes(1) + b"%" * 20_000,
                                  f"超过一次上传 {file_size(10_000)} 的上限")  # the page's own hint says the same


# --- 4. the county reviewer ----------------------------------------------------------------

def test_county_approves_with_an_opinion(app, tab):
    with app.app_context():
        sid = submitted().id
    tab.login("county-x")
    page = tab.goto("/county/")
    expect(page.locator("body")).to_contain_text(ALLOY)
    page = tab.goto(f"/county/submissions/{sid}")
    expect(page.locator(".state-badge").first).to_have_text("待县级审核")
    page.locator("#comment-county_approve").fill("经审核，同意推荐参加初赛。")
    page.get_by_role("button", name="审核通过").click()
    expect(page.locator(".state-badge").first).to_have_text("县级已审核")
    assert ("confirm", "确定执行“审核通过”吗？") in tab.dialogs, tab.dialogs
    expect(page.get_by_role("button", name="审核通过")).to_have_count(0)
    expect(page.locator("body")).to_contain_text("经审核，同意推荐参加初赛。")
    tab.shot("county-approved")
    with app.app_context():
        sub = submission_of(ALLOY)
        assert sub.state == "county_approved"
        assert sub.opinions["preliminary"]["text"] == "经审核，同意推荐参加初赛。"
