"""Onboarding in a real browser (issue #26): the administrator downloads the account workbook,
fills in 20 county reviewers, previews and confirms the import and gets the letters; one new
reviewer logs in with the letter's one-time password, must choose a new one first, then approves
a submission; the audit log names that person and the government.  Fixtures in
tests/browser/conftest.py; the workbook and the letters are read with the account tests' helpers."""
import base64
import re
from pathlib import Path

from accounts.helpers import county_rows, filled, read_letters
from browserkit import expect
from factories import ALLOY, submission_of, submitted

NEW_PASSWORD = "Xiangjiang-Orange-Isle-26"


def import_accounts(tab, tmp_path) -> bytes:
    """As the administrator: template → 20 rows → preview → confirm; the letters PDF's bytes."""
    page = tab.goto("/admin/accounts/import")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载账号导入模板").click()
    workbook = tmp_path / "账号.xlsx"
    workbook.write_bytes(filled(Path(download.value.path()).read_bytes(), county_rows(20)))
    page.locator("#accounts-file").set_input_files(str(workbook))
    page.get_by_role("button", name="上传并预览").click()
    expect(page.get_by_role("heading", name="核对导入的账号")).to_be_visible()
    tab.shot("preview")
    page.get_by_role("button", name="确认导入").click()
    link = page.get_by_role("link", name=re.compile(r"下载账号通知书（PDF，20 页）"))
    expect(link).to_be_visible()
    tab.shot("letters")
    href = link.get_attribute("href")
    assert href.startswith("data:application/pdf;base64,")
    return base64.b64decode(href.split(",", 1)[1])


def test_imported_reviewer_logs_in_with_the_letter_changes_the_password_and_approves(app, new_tab, tmp_path):
    with app.app_context():
        sid = submitted().id  # 长沙新型合金材料产业集群, waiting for 长沙市人民政府
    admin = new_tab()
    admin.login("admin")
    letters = {user: (password, text) for user, password, text in read_letters(import_accounts(admin, tmp_path))}
    assert len(letters) == 20
    password, text = letters["gov-005"]  # 审核人5 of 长沙市 (county_rows: every fifth row)
    assert "长沙市人民政府" in text

    county = new_tab()
    page = county.goto("/login")
    page.get_by_label("用户名").fill("gov-005")
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/account/password$"))
    expect(page.get_by_role("heading", name="首次登录：设置新密码")).to_be_visible()
    expect(page.locator("#password-rules")).to_contain_text("至少 10 个字符")
    county.goto(f"/county/submissions/{sid}")  # nothing else before the new password
    expect(page).to_have_url(re.compile(r"/account/password$"))
    page.locator("#current").fill(password)
    page.locator("#new").fill(NEW_PASSWORD)
    page.locator("#confirm").fill(NEW_PASSWORD)
    page.get_by_role("button", name="保存新密码").click()
    expect(page.locator(".flash-success")).to_contain_text("密码已修改")
    county.shot("password-set")

    page = county.goto(f"/county/submissions/{sid}")
    page.locator("#comment-county_approve").fill("经审核，同意推荐参加初赛。")
    page.get_by_role("button", name="审核通过").click()
    expect(page.locator(".flash-success")).to_have_text(f"已审核通过：{ALLOY}")
    with app.app_context():
        assert submission_of(ALLOY).state == "county_approved"

    page = admin.goto("/admin/audit/?action=move")
    who = page.locator(".audit-who").first
    expect(who).to_contain_text("审核人5（长沙市人民政府）")
    expect(who).to_contain_text("gov-005")
    admin.shot("audit")
