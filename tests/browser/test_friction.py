"""Less friction for the applicant in a browser (issue #23): an expired login on a normal save
and while typing says the text is kept in this browser, with a login link back to the step."""
import re

from browserkit import PASSWORD, expect, pause, stored_files, with_page_clock
from builders import pdf_bytes
from factories import ALLOY, evidence_slots_needed, submission_of
from fill import complete_answers
from wizard.extensions import db

STEP = "/applicant/step/indicators"


def test_a_normal_save_after_the_login_expired_says_the_text_is_kept_and_leads_back(tab):
    page = tab.login("applicant-a")
    page = tab.goto(STEP)
    page.locator("#revenue-y1").fill("321.5")
    tab.context.clear_cookies()  # the login (and its session) is gone, as after a long pause
    page.get_by_role("button", name="保存", exact=True).click()
    notice = page.locator(".kept-in-browser")
    expect(notice).to_contain_text("已保存在本浏览器中")
    expect(notice).to_contain_text("经济指标")
    tab.shot("kept-notice")
    link = notice.get_by_role("link", name="重新登录并返回该页面")
    assert link.get_attribute("href") == "/login?next=" + STEP.replace("/", "%2F")
    link.click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator(".kept-in-browser")).to_be_visible()  # the login page says it too
    page.get_by_label("用户名").fill("applicant-a")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(re.escape(STEP) + "$"))
    bar = page.locator(".local-draft-bar")
    expect(bar).to_contain_text("发现本机浏览器中尚未保存的内容")
    bar.get_by_role("button", name="恢复").click()
    expect(page.locator("#revenue-y1")).to_have_value("321.5")
    expect(page.locator(".kept-in-browser")).to_have_count(0)


def test_autosave_after_the_login_expired_stays_in_view_with_a_login_link(tab):
    tab.login("applicant-a")
    page = with_page_clock(tab).goto(STEP)
    tab.context.clear_cookies()
    page.locator("#revenue-y1").fill("88")
    pause(page)  # autosave's pause after the last keystroke, without waiting for it
    status = page.locator(".autosave-status")
    expect(status).to_contain_text("已保存在本浏览器中")
    assert status.evaluate("e => getComputedStyle(e).position") == "sticky"
    link = status.get_by_role("link", name="重新登录并返回本页")
    assert link.get_attribute("href") == "/login?next=" + STEP.replace("/", "%2F")
    page.locator("#employees-y2").scroll_into_view_if_needed()  # far down the page, typing on
    box = status.bounding_box()
    assert box is not None and 0 <= box["y"] < 120, box  # the notice stays at the top of the view
    tab.shot("expired-sticky")


def complete_without_files(app):
    """The alloy cluster's report complete but for its evidence files (a draft)."""
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary")
        db.session.commit()
        return evidence_slots_needed("preliminary", answers=sub.preliminary_answers)


def test_fourteen_files_go_to_fourteen_indicators_in_a_few_clicks(app, tab):
    needed = complete_without_files(app)
    assert len(needed) >= 14
    page = tab.login("applicant-a")
    page = tab.goto("/applicant/review")
    clicks = 0
    bulk = page.locator("#bulk-evidence")
    with page.expect_file_chooser() as chooser:
        bulk.locator(".file-pick").first.click()  # 一次选择多个文件
        clicks += 1
    chooser.value.set_files(files=[{"name": f"证明材料{i + 1:02d}.pdf", "mimeType": "application/pdf",
                                    "buffer": pdf_bytes(1)} for i in range(len(needed))])
    expect(bulk.locator("#bulk-file-0 ~ .file-chosen")).to_have_text("已选择：证明材料01.pdf")
    # each file's indicator is a native select beside it: reachable and changeable by keyboard
    bulk.locator("#bulk-slot-0").focus()
    assert page.evaluate("document.activeElement.id") == "bulk-slot-0"
    tab.shot("bulk-filled")
    bulk.get_by_role("button", name="上传所选文件").click()
    clicks += 1
    expect(page.locator(".flash-success").first).to_contain_text("已上传“证明材料01.pdf”（1 页）")
    assert clicks <= 20, clicks
    expect(page.locator("#problems")).not_to_contain_text("请上传佐证材料")
    stored = {(slot, name) for slot, name, _ in stored_files(app)}
    assert stored == {(key, f"证明材料{i + 1:02d}.pdf") for i, key in enumerate(needed)}
    print(f"attaching {len(needed)} files to {len(needed)} indicators: {clicks} clicks plus choosing the files")


def test_a_file_named_after_its_indicator_finds_it(app, tab):
    complete_without_files(app)
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/evidence")
    bulk = page.locator("#bulk-evidence")
    with page.expect_file_chooser() as chooser:
        bulk.locator(".file-pick").first.click()
    chooser.value.set_files(files=[{"name": "国家级单项冠军证书.pdf", "mimeType": "application/pdf",
                                    "buffer": pdf_bytes(1)}])
    expect(bulk.locator("#bulk-slot-0")).to_have_value("national_champions")


def test_the_local_copy_of_one_open_tab_does_not_pop_up_in_another(tab):
    tab.login("applicant-a")
    first = tab.goto("/applicant/step/org")
    first.locator("#org_operation").fill("本窗口正在写的运营情况")
    # the copy is written half a second after typing stops: waited for in the page (no fixed sleep)
    first.wait_for_function("() => Object.keys(localStorage).some(k => k.startsWith('wizard-draft:'))")
    second = tab.context.new_page()
    second.on("dialog", lambda d: d.accept())
    second.goto(tab.base + "/applicant/step/org")
    expect(second.locator("#org_operation")).to_be_visible()
    expect(second.locator(".local-draft-bar")).to_have_count(0)
    # once the first tab has left the step, its copy is offered (a login that expired, a crash)
    first.goto(tab.base + "/applicant/")
    second.reload()
    expect(second.locator(".local-draft-bar")).to_contain_text("发现本机浏览器中尚未保存的内容")
