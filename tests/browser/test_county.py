"""The county reviewer in a real browser (issue #14): the jump link to the decision below the
report, the comment checked before any confirmation, and a success message that names the cluster.
Fixtures in tests/browser/conftest.py; the Tab records every dialog (tests/browserkit.py)."""
import re

from browserkit import PHONE, expect
from factories import ALLOY, submission_of, submitted


def test_return_checks_the_comment_first_then_confirms_and_names_the_cluster(app, tab):
    with app.app_context():
        sid = submitted().id
    tab.login("county-x")
    page = tab.goto(f"/county/submissions/{sid}")

    # the decision sits below the report; the link at the top leads there
    page.get_by_role("link", name="跳到审核意见").click()
    expect(page).to_have_url(re.compile(r"#decision$"))
    expect(page.locator("#decision")).to_be_in_viewport()
    tab.shot("decision")

    # an empty return: the page's own message beside the box, and no dialog at all
    page.locator("#comment-county_return").fill("   ")
    page.get_by_role("button", name="退回修改").click()
    message = page.locator("#comment-county_return-error")
    expect(message).to_be_visible()
    expect(message).to_have_text("请填写退回意见。")
    expect(page.locator("#comment-county_return")).to_be_focused()
    assert tab.dialogs == []
    expect(page).to_have_url(re.compile(rf"/county/submissions/{sid}#decision$"))  # nothing was posted
    tab.shot("empty-comment")

    # with a comment: the confirmation, then the message says what was done to whom
    page.locator("#comment-county_return").fill("请核实2.1的总产值。")
    page.get_by_role("button", name="退回修改").click()
    expect(page.locator(".flash-success")).to_have_text(f"已退回修改：{ALLOY}")
    assert tab.dialogs == [("confirm", "确定执行“退回修改”吗？")]
    tab.shot("returned")
    with app.app_context():
        sub = submission_of(ALLOY)
        assert sub.state == "draft" and sub.return_comment == "请核实2.1的总产值。"


def test_approval_on_a_phone_confirms_once_and_names_the_cluster(app, new_tab):
    with app.app_context():
        sid = submitted().id
    tab = new_tab(viewport=PHONE)
    tab.login("county-x")
    page = tab.goto(f"/county/submissions/{sid}")
    page.get_by_role("button", name="审核通过").click()  # no opinion yet
    expect(page.locator("#comment-county_approve-error")).to_have_text("请填写审核意见。")
    assert tab.dialogs == []
    page.locator("#comment-county_approve").fill("经审核，同意推荐参加初赛。")
    page.get_by_role("button", name="审核通过").click()
    expect(page.locator(".flash-success")).to_have_text(f"已审核通过：{ALLOY}")
    assert tab.dialogs == [("confirm", "确定执行“审核通过”吗？")]
    tab.shot("approved-phone")
