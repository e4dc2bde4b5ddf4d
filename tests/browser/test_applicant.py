"""The applicant's wizard in a browser (issue #14): counters on every textarea, the 选择文件
label with the chosen names, 上传 without a file, the return comment on the step pages."""
import re

from browserkit import PHONE, expect
from builders import pdf_bytes
from factories import ALLOY, submission_of, submitted, user_named
from wizard.workflow.moves import apply_move


def test_a_text_without_a_limit_counts_while_typing(tab):
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/plan")
    counter = page.locator("#f-plan_background .char-counter")
    expect(counter).to_have_text("已输入 0 字")
    page.locator("#plan_background").press_sequentially("明确实施范围 abc")
    expect(counter).to_have_text("已输入 9 字")  # whitespace is not counted, as on the server
    tab.shot("counted")
    # a text with a limit keeps its "N / max" counter
    page = tab.goto("/applicant/step/org")
    page.locator("#org_operation").fill("运营情况")
    expect(page.locator("#org_operation-counter")).to_have_text("已输入 4 / 1000 字")


def test_the_file_control_is_a_chinese_label_with_the_chosen_names(tab):
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/indicators")
    area = page.locator("#ev-listed_enterprises .evidence-upload")
    pick = area.locator(".file-pick")
    expect(pick).to_have_text("选择文件")
    expect(area.locator(".file-chosen")).to_have_text("未选择文件")
    native = page.locator("#evf-listed_enterprises")
    assert native.evaluate("e => getComputedStyle(e).opacity") == "0"  # unseen, not removed
    # the keyboard reaches the input itself, announced by its labels (the box's and 选择文件)
    native.focus()
    assert page.evaluate("document.activeElement.id") == "evf-listed_enterprises"
    expect(native).to_have_accessible_name(re.compile(r"佐证材料：\s*选择文件"))
    # clicking 选择文件 opens the chooser; the names show beside it
    with page.expect_file_chooser() as chooser:
        pick.click()
    chooser.value.set_files(files=[
        {"name": "上市公告.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes(1)},
        {"name": "挂牌证书.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes(1)}])
    expect(area.locator(".file-chosen")).to_have_text("已选择：上市公告.pdf、挂牌证书.pdf")
    tab.shot("chosen")
    page.evaluate("window.notReloaded = true")
    area.get_by_role("button", name="上传").click()
    expect(page.locator("#ev-listed_enterprises ul.evidence-files > li")).to_have_count(2)
    assert page.evaluate("window.notReloaded === true")  # uploaded in place, no page reload (issue #23 item 2)


def test_the_file_label_fits_a_phone(new_tab):
    tab = new_tab(viewport=PHONE)
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/indicators")
    box = page.locator("#ev-listed_enterprises .file-pick").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_upload_without_a_file_says_so_beside_the_box(tab):
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/indicators")
    url = page.url
    area = page.locator("#ev-listed_enterprises .evidence-upload")
    area.get_by_role("button", name="上传").click()
    expect(area.locator(".file-chosen")).to_have_text("请先选择要上传的文件")
    expect(page.locator(".flash-success")).to_have_count(0)  # nothing says 已保存
    assert page.url == url
    tab.shot("no-file")


def test_the_return_comment_shows_on_a_step_page(app, tab):
    with app.app_context():
        apply_move(submitted(), "county_return", user_named("county-x"), comment="请补充2.3重点项目的建设期。")
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/indicators")
    expect(page.locator(".return-comment")).to_contain_text("报告已被退回修改：请补充2.3重点项目的建设期。")
    with app.app_context():
        assert submission_of(ALLOY).state == "draft"
