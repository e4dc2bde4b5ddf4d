"""The administrator's list in a real browser (issue #14): the bulk buttons wait for a tick, the
move menu narrows to the ticked rows' states, the confirmation names the move and the count, the
result names each cluster not moved and why, and the way back keeps the filter; a past round
deadline is summarised at the top of the form.  Fixtures in tests/browser/conftest.py."""
import re
from datetime import datetime

from browserkit import PHONE, expect
from factories import ALLOY, LINXIANG, SMART_CAR, submission_of
from wizard.extensions import db
from wizard.models import utcnow


def put(app, **states):
    """Cluster name → state, set directly; the latest first in the list sorted by update time."""
    with app.app_context():
        for name, state in states.items():
            sub = submission_of(name)
            sub.state, sub.updated_at = state, utcnow()
        db.session.commit()


def box(page, name):
    return page.get_by_label(f"选择 {name}")


def test_bulk_moves_narrow_confirm_and_explain(app, tab):
    put(app, **{ALLOY: "county_approved", SMART_CAR: "preliminary", LINXIANG: "preliminary"})
    tab.login("admin")
    page = tab.goto("/admin/submissions?sort=updated")
    run, extend = page.get_by_role("button", name="批量执行"), page.get_by_role("button", name=re.compile("延长所选"))
    menu = page.locator("#bulk-move")
    expect(run).to_be_disabled()
    expect(extend).to_be_disabled()
    expect(page.locator("[data-bulk-status]")).to_have_text("先勾选申报，再选择操作。")

    box(page, ALLOY).check()  # 县级已审核: 纳入初赛 or 退回修改
    expect(run).to_be_enabled()
    expect(extend).to_be_enabled()
    expect(menu.locator("option[value=accept]")).to_be_enabled()
    expect(menu.locator("option[value=advance]")).to_be_disabled()
    expect(menu.locator("option[value=award]")).to_have_count(0)  # no row of the page is in 决赛
    tab.shot("one-ticked")

    box(page, SMART_CAR).check()
    box(page, LINXIANG).check()  # two in 初赛: 晋级决赛 is offered too
    expect(menu.locator("option[value=advance]")).to_be_enabled()
    menu.select_option("advance")
    expect(page.locator("[data-bulk-status]")).to_have_text("已勾选 3 个集群，其中 2 个可执行「晋级决赛」。")
    tab.shot("three-ticked")
    run.click()
    expect(page.get_by_role("heading", name="批量操作结果：晋级决赛")).to_be_visible()
    assert tab.dialogs == [("confirm", "确定对 2 个集群执行「晋级决赛」？（另有 1 个集群的状态不适用，将不执行。）")]
    expect(page.locator(".bulk-done")).to_contain_text(SMART_CAR)
    expect(page.locator(".bulk-done")).to_contain_text(LINXIANG)
    expect(page.locator(".bulk-refused")).to_have_text(
        f"{ALLOY}：当前状态为「县级已审核」，「晋级决赛」只适用于「初赛」状态的申报。")
    tab.shot("result")

    page.get_by_role("link", name="返回申报管理").click()
    expect(page).to_have_url(re.compile(r"/admin/submissions\?.*sort=updated"))
    expect(page.get_by_label("排序")).to_have_value("updated")


def test_a_move_that_needs_a_reason_asks_for_it_before_confirming(app, tab):
    put(app, **{SMART_CAR: "preliminary"})
    tab.login("admin")
    page = tab.goto("/admin/submissions?state=preliminary")
    box(page, SMART_CAR).check()
    page.locator("#bulk-move").select_option("eliminate")
    comment = page.locator("#bulk-comment")
    expect(comment).to_have_attribute("placeholder", "请填写原因（必填）")
    page.get_by_role("button", name="批量执行").click()
    assert tab.dialogs == []  # the browser asks for the reason first: no confirmation, nothing sent
    assert page.evaluate("document.querySelector('#bulk-comment').validity.valueMissing") is True
    comment.fill("指标未达到要求。")
    page.get_by_role("button", name="批量执行").click()
    expect(page.locator(".bulk-done")).to_contain_text(SMART_CAR)
    assert tab.dialogs == [("confirm", "确定对 1 个集群执行「初赛未胜出」？")]


def test_a_past_round_deadline_is_summarised_at_the_top(app, new_tab):
    tab = new_tab(viewport=PHONE)
    tab.login("admin")
    page = tab.goto("/admin/deadlines")
    hint = page.locator("#f-preliminary_deadline .hint").inner_text()
    example = re.search(r"例如 (\d{4}-\d\d-\d\d \d\d:\d\d)", hint).group(1)
    assert datetime.strptime(example, "%Y-%m-%d %H:%M") > datetime.now()
    page.locator("#preliminary_deadline").fill("2021-03-31T18:00")
    page.get_by_role("button", name="保存截止时间").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("新的截止时间必须晚于当前时间。")
    expect(summary).to_be_focused()
    field = page.locator("#f-preliminary_deadline")
    expect(field.locator(".error-message")).to_have_text("新的截止时间必须晚于当前时间。")
    assert summary.bounding_box()["y"] < field.bounding_box()["y"]
    tab.shot("deadline-error")
    summary.get_by_role("link").click()
    expect(page.locator("#preliminary_deadline")).to_be_focused()
