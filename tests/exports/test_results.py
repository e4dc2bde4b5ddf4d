"""Administrator pages of issue #4: round comparison, snapshots, deadline extension, result list and Excel."""
import html
import re
from datetime import datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook

from factories import ALLOY, LINXIANG, SMART_CAR, attach_declarations, csrf_from, submission_of
from fill import complete_answers
from wizard.report.compare import compare_rounds
from wizard.extensions import db
from wizard.models import AuditEntry, EvidenceFile, Snapshot, Submission, User
from wizard.report.definition import get_report
from wizard.workflow.states import MoveRefused
from wizard.workflow.moves import apply_move

YEARS = {"y1": 2021, "y2": 2022, "t1": 2023, "t2": 2024, "t3": 2025}


def user(name):
    return db.session.execute(db.select(User).filter_by(username=name)).scalar_one()


def text_of(response):
    return html.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))


SCAN_SHA = "ab" * 32


def complete_preliminary(sub):
    """A complete preliminary report with the signed declaration scan (a file row: its bytes are not read)."""
    sub.preliminary_answers = complete_answers("preliminary")
    db.session.add(EvidenceFile(submission_id=sub.id, round="preliminary", slot="declaration_scan",
                                original_name="真实性声明.pdf", stored_name=f"scan-{sub.id}", kind="pdf",
                                size=2048, pages=2, sha256=SCAN_SHA))
    db.session.commit()
    attach_declarations(sub, rounds=("preliminary",))  # the files of its rows and of 4.3


def submit_preliminary(cluster=ALLOY, applicant="applicant-a"):
    """A complete preliminary report, submitted: one preliminary snapshot."""
    sub = submission_of(cluster)
    complete_preliminary(sub)
    apply_move(sub, "submit", user(applicant))
    return sub


def to_finalist(sub):
    """Through the proper moves up to the final round (the final report is pre-filled)."""
    apply_move(sub, "county_approve", user("county-x"), comment="同意推荐参赛。")
    apply_move(sub, "accept", user("admin"))
    apply_move(sub, "advance", user("admin"))
    return sub


def snapshot_of(sub):
    return db.session.execute(db.select(Snapshot).filter_by(submission_id=sub.id)).scalars().first()


def audits(action):
    return db.session.execute(db.select(AuditEntry).filter_by(action=action)).scalars().all()


# --- comparison ---------------------------------------------------------------------------

def test_compare_rounds_marks_changed_fields_and_table_rows(app):
    with app.app_context():
        pre = complete_answers("preliminary")
        fin = {k: v for k, v in pre.items() if get_report("final").field(k)}
        same = compare_rounds(pre, fin, "advanced", YEARS)
        assert same.changed_count == 0 and same.total > 50
        fin = dict(fin, industry_field="新一代合金材料",
                   top10=[dict(pre["top10"][0], name="新企业"), {"name": "第二家"}])
        diff = compare_rounds(pre, fin, "advanced", YEARS)
    changed = {f.key: f for f in diff.fields if f.changed}
    assert set(changed) == {"industry_field", "top10"}
    assert changed["industry_field"].after == "新一代合金材料"
    rows = changed["top10"].rows
    assert [r.changed for r in rows] == [True, True] and rows[1].before == ()
    assert "企业名称" in changed["top10"].columns and "营业收入（亿元）2021年" in changed["top10"].columns
    assert {f.key for f in diff.only_changed().fields} == {"industry_field", "top10"}
    # fields only 附件1 asks for are listed apart, with the definition's label
    assert "编制牵头单位" in [o.label for o in diff.only_preliminary]
    assert "lead_unit" not in {f.key for f in diff.fields}
    # category-specific rows are left out where they do not apply
    assert "sme_share" not in {f.key for f in diff.fields}


def test_compare_page_shows_changes_sources_and_filter(app, client, auth, people):
    with app.app_context():
        sub = to_finalist(submit_preliminary())
        code = snapshot_of(sub).code
        answers = dict(sub.final_answers, declaration_agree=True, industry_field="新一代合金材料",
                       output_total={"y1": "100", "y2": "999"})
        answers["top10"] = [dict(answers["top10"][0], name="湖南新合金有限公司")]
        sub.final_answers = answers
        db.session.commit()
        sid = sub.id
    auth.login("admin")
    page = text_of(client.get(f"/admin/submissions/{sid}/compare"))
    assert "其中 3 项有变化" in page
    assert "初赛提交快照" in page and f"校验码 {code}" in page and "决赛当前草稿" in page
    assert "新一代合金材料" in page and "2021年：100" in page and "2022年：999" in page and "湖南新合金有限公司" in page
    assert "集群发展总体情况自评报告" in page  # unchanged rows are listed too
    assert "仅初赛填报的项目" in page and "编制牵头单位" in page
    only = text_of(client.get(f"/admin/submissions/{sid}/compare?changed=1"))
    assert "新一代合金材料" in only and "其中 3 项有变化" in only
    assert "集群发展总体情况自评报告" not in only and "显示全部项目" in only


def test_compare_without_final_report_says_so(app, client, auth, people):
    with app.app_context():
        sid = submit_preliminary().id
    auth.login("admin")
    r = client.get(f"/admin/submissions/{sid}/compare")
    assert r.status_code == 200 and "该申报尚无决赛报告" in text_of(r)


# --- snapshots ----------------------------------------------------------------------------

def test_snapshot_page_keeps_the_frozen_answers(app, client, auth, people):
    with app.app_context():
        sub = submit_preliminary()
        snap = snapshot_of(sub)
        frozen = sub.preliminary_answers["industry_field"]
        sid, snap_id, code, digest = sub.id, snap.id, snap.code, snap.digest
        n_files = len(snap.evidence)  # the declaration scan, 4.3's documents, one per non-zero row
        # later changes (e.g. after a return) do not touch the snapshot
        sub.preliminary_answers = dict(sub.preliminary_answers, industry_field="后来改过的产业领域")
        db.session.commit()
    auth.login("admin")
    listing = text_of(client.get(f"/admin/submissions/{sid}"))
    assert "提交快照" in listing and code in listing and f"{n_files} 个文件" in listing
    assert f"/admin/snapshots/{snap_id}" in client.get(f"/admin/submissions/{sid}").get_data(as_text=True)
    page = text_of(client.get(f"/admin/snapshots/{snap_id}"))
    assert frozen in page and "后来改过的产业领域" not in page
    assert code in page and digest in page and "湖南省产业集群竞赛参赛报告（初赛）" in page
    assert "applicant-a" in page  # submitted by
    assert "真实性声明.pdf" in page and SCAN_SHA in page  # the frozen evidence list


def test_county_submission_page_has_no_admin_extras(app, client, auth, people):
    with app.app_context():
        sid = submit_preliminary().id
    auth.login("county-x")
    page = text_of(client.get(f"/county/submissions/{sid}"))
    assert "延长提交截止时间" not in page and "提交快照" not in page


def test_unknown_snapshot_is_404(app, client, auth, people):
    auth.login("admin")
    assert client.get("/admin/snapshots/999999").status_code == 404
    assert client.get("/admin/submissions/999999/compare").status_code == 404


@pytest.fixture
def ids(app, people):
    with app.app_context():
        sub = submit_preliminary()
        return {"sid": sub.id, "snap": snapshot_of(sub).id}


GET_URLS = ["/admin/submissions/{sid}/compare", "/admin/snapshots/{snap}", "/admin/results",
            "/admin/results.xlsx", "/admin/submissions.xlsx"]


@pytest.mark.parametrize("username", ["applicant-a", "county-x"])
def test_other_roles_are_refused(client, auth, ids, username):
    auth.login(username)
    for url in GET_URLS:
        assert client.get(url.format(**ids)).status_code == 403, url
    token = auth.csrf()
    r = client.post(f"/admin/submissions/{ids['sid']}/deadline",
                    data={"csrf_token": token, "deadline_until": "2099-12-31T18:00", "deadline_reason": "x"})
    assert r.status_code == 403


def test_anonymous_is_sent_to_login(client, ids):
    for url in GET_URLS:
        r = client.get(url.format(**ids))
        assert r.status_code == 302 and "/login" in r.headers["Location"], url


# --- deadline -----------------------------------------------------------------------------

def test_deadline_extension_lets_a_late_applicant_submit(app, client, auth, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        complete_preliminary(sub)
        sub.edition.preliminary_deadline = datetime(2020, 1, 1)
        db.session.commit()
        sid = sub.id
        with pytest.raises(MoveRefused):
            apply_move(sub, "submit", user("applicant-a"))
    auth.login("admin")
    page = client.get(f"/admin/submissions/{sid}")
    assert "2020-01-01 00:00（已截止）" in text_of(page)
    r = client.post(f"/admin/submissions/{sid}/deadline", data={
        "csrf_token": csrf_from(page), "deadline_until": "2099-03-31T18:00", "deadline_reason": "材料补充"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/admin/submissions/{sid}")
    after = text_of(client.get(f"/admin/submissions/{sid}"))
    assert "截止时间已延长至 2099-03-31 18:00" in after and "材料补充" in after
    with app.app_context():
        sub = db.session.get(Submission, sid)
        apply_move(sub, "submit", user("applicant-a"))
        assert sub.state == "submitted"
        assert audits("deadline")


@pytest.mark.parametrize("until, reason, message", [
    ("2099-03-31T18:00", "  ", "请填写延期原因。"),
    ("下周五", "材料补充说明", "无法识别的时间"),
    ("2021-03-31T18:00", "材料补充说明", "新的截止时间必须晚于当前时间。"),
    ("2098-03-31T18:00", "材料补充说明", "新的截止时间必须晚于当前截止时间（2099-01-01 00:00）"),
])
def test_bad_deadline_input_shows_the_page_again(app, client, auth, people, until, reason, message):
    with app.app_context():
        sid = submission_of(ALLOY).id
    auth.login("admin")
    page = client.get(f"/admin/submissions/{sid}")
    r = client.post(f"/admin/submissions/{sid}/deadline",
                    data={"csrf_token": csrf_from(page), "deadline_until": until, "deadline_reason": reason})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and message in html.unescape(body)
    assert f'value="{until}"' in body  # the typed date is kept
    if reason.strip():
        assert reason in body  # and so is the typed reason
    with app.app_context():
        sub = db.session.get(Submission, sid)
        assert sub.deadline_override is None


# --- result list and Excel ----------------------------------------------------------------

def award(cluster):
    sub = submission_of(cluster)
    sub.state = "final"  # set up directly, as test_workflow's force() does; the award is a real move
    db.session.commit()
    apply_move(sub, "award", user("admin"))


def test_result_list_groups_and_numbers_like_the_official_list(app, client, auth, people):
    with app.app_context():
        for name in (SMART_CAR, LINXIANG, ALLOY):
            award(name)
        submission_of("湘潭新能源和汽车产业集群").state = "final"  # not (yet) recognised
        db.session.commit()
    auth.login("admin")
    page = text_of(client.get("/admin/results"))
    title = "省级产业集群培育对象名单（第一批）"
    first = "一、湖南省先进制造业集群培育对象名单（第一批）"
    second = "二、湖南省中小企业特色产业集群培育对象（第一批）"
    assert title in page
    assert page.index(first) < page.index(f"1.{ALLOY}") < page.index(f"2.{SMART_CAR}") < page.index(second)
    assert page.index(second) < page.index(f"1.{LINXIANG}")
    assert "湘潭新能源和汽车产业集群" not in page

    r = client.get("/admin/results.xlsx")
    assert r.status_code == 200 and "filename*=UTF-8''" in r.headers["Content-Disposition"]
    ws = load_workbook(BytesIO(r.data)).active
    assert ws.title == "培育对象名单"
    rows = [tuple(c for c in row if c is not None) for row in ws.iter_rows(values_only=True)]
    assert rows == [
        (title,),
        (first,), ("序号", "集群名称", "所在市州", "审核政府"),
        (1, ALLOY, "长沙市", "长沙市人民政府"), (2, SMART_CAR, "长沙市", "长沙市人民政府"),
        (second,), ("序号", "集群名称", "所在市州", "审核政府"),
        (1, LINXIANG, "岳阳市", "临湘市人民政府"),
    ]
    assert "A1:D1" in {str(m) for m in ws.merged_cells.ranges}
    with app.app_context():
        assert [a.target for a in audits("export")] == ["results.xlsx"]


def test_submissions_export_honours_the_list_filters(app, client, auth, people):
    with app.app_context():
        award(LINXIANG)
    auth.login("admin")
    everything = load_workbook(BytesIO(client.get("/admin/submissions.xlsx").data)).active
    assert everything.title == "申报汇总"
    header, *rows = list(everything.iter_rows(values_only=True))
    assert header == ("序号", "集群名称", "类别", "市州", "审核政府", "状态", "当前轮次", "最后更新时间")
    assert len(rows) == 26

    sme = load_workbook(BytesIO(client.get("/admin/submissions.xlsx?category=sme").data)).active
    sme_rows = list(sme.iter_rows(min_row=2, values_only=True))
    assert len(sme_rows) == 15 and {r[2] for r in sme_rows} == {"中小企业特色产业集群"}

    r = client.get("/admin/submissions.xlsx?state=awarded&q=钓具")
    (only,) = list(load_workbook(BytesIO(r.data)).active.iter_rows(min_row=2, values_only=True))
    assert only[:7] == (1, LINXIANG, "中小企业特色产业集群", "岳阳市", "临湘市人民政府", "认定为培育对象", "决赛")
    assert isinstance(only[7], datetime)
    with app.app_context():
        details = [a.detail for a in audits("export")]
    # the audit log names the filters in Chinese (#23 item 7: no English word such as "awarded")
    assert len(details) == 3 and any("状态=认定为培育对象" in d and "1 条" in d for d in details)


# --- formula injection in the Excel exports -----------------------------------------------

# Names an applicant or an import could give a cluster or a region: each starts like a formula
# (or a DDE call) for Excel or LibreOffice, directly, after whitespace, or in full width.
FORMULA_NAMES = [
    '=HYPERLINK("http://evil.example/","点我")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1（制表符开头）",
    "\r=1+1（回车开头）",
    "  =1+1（空格开头）",
    "＝1+1（全角等号）",
    "＋1+1（全角加号）",
    "－1+1（全角减号）",
    "＠SUM(1)（全角at）",
    "#N/A",
]


@pytest.fixture
def formula_clusters(app, client, auth, people):
    """Logged in as the administrator: the first name through the cluster form (it strips the
    leading tab, the '=' survives), the others straight into the database, all awarded; plus a
    city and a county whose names start like formulas (they show up as 市州 and 审核政府)."""
    from wizard.models import Cluster, Region
    from wizard.accounts import ensure_submissions

    auth.login("admin")
    with app.app_context():
        changsha = db.session.execute(db.select(Region).filter_by(name="长沙市")).scalars().first().id
    page = client.get("/admin/clusters/new")
    r = client.post("/admin/clusters/new", data={
        "csrf_token": csrf_from(page), "name": "\t" + FORMULA_NAMES[0], "category": "advanced",
        "region_id": str(changsha), "designation": "test", "active": "y"})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    with app.app_context():
        city = Region(code="T-CITY", name="@evil市", level="city")
        county = Region(code="T-CNTY", name="=1+2县", level="county", parent_id=changsha)
        db.session.add_all([city, county])
        db.session.flush()
        for i, name in enumerate(FORMULA_NAMES[1:], 1):
            region = (changsha, city.id, county.id)[i % 3]
            db.session.add(Cluster(name=name, category=("advanced", "sme")[i % 2], region_id=region,
                                   designation="test"))
        db.session.flush()
        ensure_submissions()
        for name in FORMULA_NAMES:
            submission_of(name).state = "awarded"
        db.session.commit()
    yield
    with app.app_context():  # the PostgreSQL test database is shared: leave no test region behind
        db.session.rollback()
        test_clusters = db.select(Cluster.id).where(Cluster.designation == "test")
        db.session.execute(db.delete(Submission).where(Submission.cluster_id.in_(test_clusters)))
        db.session.execute(db.delete(Cluster).where(Cluster.designation == "test"))
        db.session.execute(db.delete(Region).where(Region.code.in_(["T-CNTY", "T-CITY"])))
        db.session.commit()


def _cells(data):
    return [c for row in load_workbook(BytesIO(data)).active.iter_rows() for c in row if c.value is not None]


@pytest.mark.parametrize("url", ["/admin/submissions.xlsx", "/admin/results.xlsx"])
def test_excel_exports_keep_formula_like_text_as_inert_text(client, formula_clusters, url):
    """No exported cell is a formula: names starting with = + - @, tab, CR, spaces, full-width
    ＝＋－＠ arrive as text cells (marked as quoted text), exactly as typed; numbers stay numbers."""
    r = client.get(url)
    assert r.status_code == 200
    cells = _cells(r.data)
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    by_text = {c.value: c for c in cells if isinstance(c.value, str)}
    for name in FORMULA_NAMES:
        cell = by_text[name]  # the visible text is kept, character for character
        assert cell.data_type == "s", (name, cell.data_type)
        if name != "#N/A":
            assert cell.quotePrefix and cell.number_format == "@", name
    for text in ("@evil市", "=1+2县人民政府"):  # 市州 / 审核政府 columns
        assert by_text[text].data_type == "s" and by_text[text].quotePrefix
    assert "长沙市" in by_text and not by_text["长沙市"].quotePrefix  # ordinary text left plain
    numbers = [c.value for c in cells if c.column == 1 and c.data_type == "n"]
    assert len(numbers) >= len(FORMULA_NAMES) and all(isinstance(n, int) for n in numbers)
    if url == "/admin/submissions.xlsx":
        assert all(isinstance(c.value, datetime) for c in cells if c.column == 8 and c.row > 1)
