"""Bulk onboarding from the account workbook: download, upload → preview → confirm, the letters
(issue #26)."""
from io import BytesIO

import pytest
from openpyxl import load_workbook

from factories import AuthActions, csrf_from
from accounts.helpers import confirm, county_rows, filled, letters_of, read_letters, upload
from views.test_workbook import REFUSED, rezip
from wizard.extensions import db
from wizard.models import AuditEntry, Cluster, User

MIXED = [
    ["alloy-li", "申报单位", "长沙新型合金材料产业集群", "", "", "", "", "李四", "13912345678", "li@alloy.cn"],
    ["alloy-wang", "申报单位", "长沙新型合金材料产业集群", "", "", "", "", "王五", "", ""],
    ["expert-zhou", "评审专家", "", "", "中南大学", "长沙市", "两类均可", "周教授", "0731-88830000", ""],
    ["office-2", "省级管理员", "", "", "", "", "", "赵六", "", ""],
]


def template(client):
    r = client.get("/admin/accounts/template.xlsx")
    assert r.status_code == 200
    return r.data


def count_users(app):
    with app.app_context():
        return db.session.execute(db.select(db.func.count()).select_from(User)).scalar_one()


def test_the_template_lists_roles_clusters_and_regions_from_the_database(app, client, auth, people):
    auth.login("admin")
    wb = load_workbook(BytesIO(template(client)))
    ws, lists = wb["账号"], wb["列表"]
    assert [c.value for c in ws[1]][:3] == ["用户名", "角色", "集群（申报单位）"]
    assert lists.sheet_state == "hidden"
    listed = {c.value for col in lists.iter_cols() for c in col}
    with app.app_context():
        clusters = set(db.session.execute(db.select(Cluster.name)).scalars())
    assert clusters <= listed and {"浏阳市", "长沙市", "评审专家", "两类均可"} <= {
        (v or "").removeprefix("长沙市") or "长沙市" for v in listed} | listed
    validated = {str(dv.sqref).split(":")[0][0] for dv in ws.data_validations.dataValidation}
    assert {"B", "C", "D", "F", "G", "K"} <= validated


def test_problems_point_to_row_and_column_and_nothing_is_created(app, client, auth, people):
    auth.login("admin")
    before = count_users(app)
    rows = [
        ["ok-user", "政府审核人", "", "长沙市", "", "", "", "", "", ""],
        ["bad-cluster", "申报单位", "不存在的产业集群", "", "", "", "", "", "", ""],
        ["bad-region", "政府审核人", "", "湖南省", "", "", "", "", "", ""],
        ["ok-user", "政府审核人", "", "浏阳市", "", "", "", "", "", ""],
        ["county-x", "政府审核人", "", "长沙市", "", "", "", "", "", ""],
        ["bad-phone", "政府审核人", "", "长沙市", "", "", "", "", "1234", "not-an-email"],
        ["bad-expert", "评审专家", "", "", "", "浏阳市", "", "", "", ""],
    ]
    r = upload(client, filled(template(client), rows))
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "本次未导入任何账号" in page
    for expected in ("第 3 行 C 列（集群）：未知的集群“不存在的产业集群”",
                     "第 4 行 D 列（地区）：“湖南省”不是县级或市级（市州）政府",
                     "第 5 行 A 列（用户名）：用户名“ok-user”与第 2 行重复",
                     "第 6 行 A 列（用户名）：用户名“county-x”已被系统中的账号使用",
                     "第 7 行 I 列（手机）：“1234”不是有效的手机号",
                     "第 7 行 J 列（邮箱）：“not-an-email”不是有效的电子邮箱地址",
                     "第 8 行 F 列（所在市州）：“浏阳市”不是市州",
                     "第 8 行 E 列（工作单位）", "第 8 行 G 列（擅长类别）"):
        assert expected in page, expected
    assert 'name="token"' not in page  # no confirm button while a problem remains
    assert count_users(app) == before


def test_confirm_creates_the_accounts_and_offers_their_letters_once(app, client, auth, people):
    auth.login("admin")
    rows = county_rows(20) + MIXED
    preview = upload(client, filled(template(client), rows))
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "确认后将新建 24 个账号" in page and "gov-020" in page
    done = confirm(client, preview)
    page = done.get_data(as_text=True)
    assert done.status_code == 200 and "已导入：新建 24 个账号" in page
    letters = read_letters(letters_of(page))
    assert [u for u, _, _ in letters] == [r[0] for r in rows]  # one page per account, in the file's order
    with app.app_context():
        users = {u.username: u for u in db.session.execute(db.select(User)).scalars()}
        for username, password, text in letters:
            user = users[username]
            assert user.password_one_time and user.check_password(password) and password not in user.password_hash
            assert password not in page  # only inside the PDF
            assert user.binding_label in text and "首次登录步骤" in text and app.config["ACCOUNT_HELP"] in text
        assert users["gov-001"].phone == "13800000001" and users["gov-001"].display_name == "审核人1"
        assert users["expert-zhou"].employer == "中南大学" and users["expert-zhou"].expert_categories == "both"
        assert users["alloy-li"].cluster.name == "长沙新型合金材料产业集群"
        audited = set(db.session.execute(db.select(AuditEntry.target).filter_by(action="accounts_imported")).scalars())
        assert audited == {r[0] for r in rows}
    # a county user logs in with the letter's password and must change it first
    username, password, _ = letters[0]
    other = app.test_client()
    assert AuthActions(other).login(username, password).headers["Location"].endswith("/account/password")
    # the same preview cannot be confirmed twice, and nothing is created twice
    again = confirm(client, preview)
    assert again.status_code == 302 and count_users(app) == 7 + 24


def test_an_existing_account_is_changed_only_when_asked(app, client, auth, people):
    auth.login("admin")
    rows = [["county-x", "政府审核人", "", "浏阳市", "", "", "", "刘审核", "13711112222", "", "修改"]]
    preview = upload(client, filled(template(client), rows))
    assert "所属：长沙市人民政府 → 浏阳市人民政府" in preview.get_data(as_text=True)
    page = confirm(client, preview).get_data(as_text=True)
    assert "另有 1 个已有账号" in page and "letters-download" not in page
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(username="county-x")).scalar_one()
        assert user.region.name == "浏阳市" and user.phone == "13711112222" and not user.password_one_time


@pytest.mark.parametrize("kind", [k for k in REFUSED if k not in ("not a template", "malformed xml")])
def test_hostile_files_are_refused_by_the_report_templates_checks(app, client, auth, people, kind):
    auth.login("admin")
    make, message = REFUSED[kind]
    before = count_users(app)
    r = upload(client, make(filled(template(client), county_rows(2))))
    assert r.status_code == 422 and message.replace("填报模板", "账号导入模板") in r.get_data(as_text=True), kind
    assert "文件未导入" in r.get_data(as_text=True) and count_users(app) == before


def test_a_broken_sheet_an_oversized_file_and_a_foreign_workbook_are_refused(app, client, auth, people):
    auth.login("admin")
    data = filled(template(client), county_rows(2))
    broken = rezip(data, replace={"xl/worksheets/sheet1.xml": lambda x: x[: len(x) // 2]})
    assert "无法解析其中的 XML" in upload(client, broken).get_data(as_text=True)
    assert "没有“账号”工作表" in upload(client, REFUSED["not a template"][0](data)).get_data(as_text=True)
    app.config["TEMPLATE_MAX_BYTES"] = 2 * 1024
    assert "文件过大：账号导入模板不能超过 2 KB" in upload(client, data).get_data(as_text=True)
    assert count_users(app) == 7


def test_only_administrators_import(app, client, auth, people):
    auth.login("county-x")
    assert client.get("/admin/accounts/import").status_code == 403
    assert client.get("/admin/accounts/template.xlsx").status_code == 403


def test_the_cli_imports_prints_each_password_once_and_writes_the_letters(app, client, auth, people, runner, tmp_path):
    auth.login("admin")
    path, out = tmp_path / "账号.xlsx", tmp_path / "letters.pdf"
    path.write_bytes(filled(template(client), county_rows(3)))
    dry = runner.invoke(args=["accounts", "import", str(path), "--dry-run"])
    assert dry.exit_code == 0 and "gov-003" in dry.output and count_users(app) == 7
    done = runner.invoke(args=["accounts", "import", str(path), "--letters", str(out)])
    assert done.exit_code == 0, done.output
    printed = dict(line.split("\t") for line in done.stdout.splitlines() if "\t" in line)
    assert list(printed) == ["gov-001", "gov-002", "gov-003"]
    assert {(u, p) for u, p, _ in read_letters(out.read_bytes())} == set(printed.items())
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(username="gov-002")).scalar_one()
        assert user.check_password(printed["gov-002"]) and user.password_one_time
    again = runner.invoke(args=["accounts", "import", str(path)])
    assert again.exit_code != 0 and "已被系统中的账号使用" in again.output and count_users(app) == 10
