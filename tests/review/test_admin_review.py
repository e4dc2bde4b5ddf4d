"""The administrators' side of expert review, end to end through the pages: the 评分细则 (edited,
audited, frozen at the round's first submitted score), the board (assigned / submitted, scores
side by side with their spread, reminders), the ranking with its flags and the 选前 N 名 helper,
the advance from the ranking (exactly the ticked clusters, a frozen RankingSnapshot whose SHA-256
is that of its canonical JSON, history entries pointing to it), and the result list's score."""
import hashlib
import html
import json
import re
from io import BytesIO

import pytest
from openpyxl import load_workbook

from factories import ALLOY, LINXIANG, SMART_CAR, AuthActions, csrf_from, make_user, submission_of, user_named
from review.helpers import assign as assigned, make_expert, put_state, scored
from wizard.extensions import db
from wizard.models import AuditEntry, Edition, HistoryEntry, Message, RankingSnapshot, ReviewScheme
from wizard.review import scoring
from wizard.review.scheme import SchemeChange, SchemeRefused, scheme_for, update_scheme
from wizard.workflow.moves import apply_move

SEMI = "湖南省功率半导体产业集群"
POWER = "株洲先进电力电子器件及应用产业集群"
SME_2 = "浏阳市生物医药产业集群"
EXPERTS = [("e-1", "常德市"), ("e-2", "湘潭市"), ("e-3", "衡阳市"), ("e-4", "株洲市"), ("e-5", "娄底市")]


def text_of(response):
    return html.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))


def edition():
    return db.session.execute(db.select(Edition)).scalars().first()


@pytest.fixture
def admin(app, client):
    with app.app_context():
        make_user("admin", "admin")
        make_user("applicant-a", "applicant", cluster=ALLOY)
        for username, city in EXPERTS:
            make_expert(username, city, f"{city}某大学")
    AuthActions(client).login("admin")
    return client


def give(cluster, totals, round_="preliminary"):
    """Submitted totals of e-1, e-2, … on a cluster's report (one dimension carries the total)."""
    sub = submission_of(cluster)
    for (username, _), total in zip(EXPERTS, totals):
        scored(assigned(sub, user_named(username), round_), {"industry_base": total})


def post(client, path, data, page="/admin/review/"):
    return client.post(path, data={"csrf_token": csrf_from(client.get(page)), **data})


# --- 评分细则 -----------------------------------------------------------------------------------

def scheme_data(dims, action="save", method="trimmed", panel="5", deadline=""):
    data = {"action": action, "method": method, "panel_size": panel, "deadline": deadline}
    for i, d in enumerate(dims):
        data.update({f"dim-{i}-{k}": str(d.get(k, "")) for k in ("key", "label", "max", "guidance")})
    return data


def test_the_scheme_is_edited_with_an_audit_row_and_frozen_at_the_first_submitted_score(app, admin):
    page = admin.get("/admin/review/final/scheme")
    assert page.status_code == 200
    assert page.get_data(as_text=True).count('name="dim-') == 9 * 4  # nine rows: key, name, maximum, guidance
    assert re.search(r'class="num scheme-total">100<', page.get_data(as_text=True))
    with app.app_context():
        dims = list(scheme_for(edition(), "final").dimensions)
    url = "/admin/review/final/scheme"
    # 添加一个维度 shows an empty tenth row, saving nothing
    r = post(admin, url, scheme_data(dims, action="add"), url)
    assert r.status_code == 200 and 'name="dim-9-label"' in r.get_data(as_text=True)
    with app.app_context():
        assert len(scheme_for(edition(), "final").dimensions) == 9
    # bad input: every typed value comes back with the reason, nothing saved
    bad = [{**dims[0], "max": "十五"}, {**dims[1], "label": ""}] + dims[2:]
    r = post(admin, url, scheme_data(bad, deadline="2099-13-01 10:00"), url)
    body = text_of(r)
    assert r.status_code == 400 and "评分细则有需要修改的地方，尚未保存。" in body
    assert "第 1 项「产业基础」：请输入数字" in body and "第 2 项：请填写维度名称。" in body
    assert 'value="十五"' in r.get_data(as_text=True)
    # 决赛 adds 现场答辩: saved, audited, the sum shown
    added = dims + [{"label": "现场答辩", "max": "20", "guidance": "现场陈述与答辩情况。"}]
    r = post(admin, url, scheme_data(added, panel="5", deadline="2099-05-20 18:00"), url)
    assert r.status_code == 302
    page = admin.get(url)
    assert "决赛评分细则已保存" in text_of(page) and re.search(r'scheme-total">120<', page.get_data(as_text=True))
    with app.app_context():
        sch = scheme_for(edition(), "final")
        assert [d["label"] for d in sch.dimensions][-1] == "现场答辩" and sch.dimensions[-1]["key"] == "d1"
        assert sch.deadline.strftime("%Y-%m-%d %H:%M") == "2099-05-20 18:00"
        audit = db.session.execute(db.select(AuditEntry).filter_by(action="review_scheme")).scalar_one()
        assert "现场答辩 20 分" in audit.detail and "合计 120 分" in audit.detail
        # an expert submits the round's first score through the expert's own service: the scheme freezes
        (sub,) = put_state("final", ALLOY)
        row = assigned(sub, user_named("e-1"), "final", overall="材料翔实。",
                       scores={d["key"]: d["max"] for d in sch.dimensions})
        row.saved_at = row.assigned_at
        db.session.commit()
        scoring.submit(row, user_named("e-1"), row.version)
        assert scheme_for(edition(), "final").frozen_at is not None
    page = admin.get(url)
    body = text_of(page)
    assert "决赛评分细则已于" in body and "固定：本轮第一份专家评分已在该时刻提交" in body
    assert 'name="dim-0-label"' not in page.get_data(as_text=True)
    # posting other dimensions or another method changes nothing of them; the panel size still changes
    r = post(admin, url, scheme_data(dims, method="mean", panel="6", deadline="2099-05-20 18:00"), url)
    with app.app_context():
        sch = scheme_for(edition(), "final")
        assert len(sch.dimensions) == 10 and sch.method == "trimmed" and sch.panel_size == 6
        with pytest.raises(SchemeRefused, match="固定"):
            update_scheme(sch, SchemeChange(sch.dimensions[:9], "trimmed", 6, sch.deadline), user_named("admin"))


# --- the board -----------------------------------------------------------------------------------

def cells(page_html, name):
    """The cells of the board's table row that starts with ``name``."""
    row = re.search(rf"<tr><td>{re.escape(name)}</td>(.*?)</tr>", page_html, re.S).group(1)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_the_board_counts_per_expert_and_per_report_and_reminds_the_unfinished(app, admin):
    with app.app_context():
        alloy, _ = put_state("preliminary", ALLOY, SMART_CAR)
        scored(assigned(alloy, user_named("e-1")), {"industry_base": 12, "innovation": 13})
        scored(assigned(alloy, user_named("e-2")), {"industry_base": 14, "innovation": 9.5})
        assigned(alloy, user_named("e-3"), saved_at=alloy.updated_at)  # 已暂存
        assigned(submission_of(SMART_CAR), user_named("e-3"))
        assigned(submission_of(SMART_CAR), user_named("e-2"))
        alloy_id = alloy.id
    page = admin.get("/admin/review/preliminary/board").get_data(as_text=True)
    # expert: 工作单位, 所在市州, assigned, submitted, unfinished
    assert cells(page, "e-1")[:5] == ["常德市某大学", "常德市", "1", "1", "0"]
    assert cells(page, "e-2")[:5] == ["湘潭市某大学", "湘潭市", "2", "1", "1"]
    assert cells(page, "e-3")[:5] == ["衡阳市某大学", "衡阳市", "2", "0", "2"]
    text = text_of(admin.get("/admin/review/preliminary/board"))
    assert "e-1（已提交）、e-2（已提交）、e-3（已暂存）" in text and "3 / 5" in text
    assert "2 份报告需补派专家" in text
    # the report's scores side by side, expert × dimension, with the spread
    report = admin.get(f"/admin/review/preliminary/reports/{alloy_id}").get_data(as_text=True)
    assert "评分对照（已提交 2 份）" in report and "极差（最高 − 最低）" in report
    spread = re.search(r"极差（最高 − 最低）</th>(.*?)</tr>", report, re.S).group(1)
    values = [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", spread, re.S)]
    assert values[0] == "2" and values[2] == "3.5" and values[-1] == "1.5"  # 产业基础, 创新能力, 总分 25 vs 23.5
    # reminders: e-2 and e-3 have unfinished reports, e-1 has none
    r = post(admin, "/admin/review/preliminary/remind", {})
    assert "已提醒 2 位专家" in text_of(admin.get(r.headers["Location"]))
    with app.app_context():
        messages = {m.user_id: m.text for m in db.session.execute(db.select(Message)).scalars()}
        assert set(messages) == {user_named("e-2").id, user_named("e-3").id}
        assert "尚有 2 份报告未提交评分" in messages[user_named("e-3").id]
        assert db.session.execute(db.select(AuditEntry).filter_by(action="review_remind")).scalar_one()
        one = user_named("e-3").id
    post(admin, "/admin/review/preliminary/remind", {"expert_id": str(one)})
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Message).filter_by(user_id=one)).scalar() == 2
    # the expert reads it
    expert = app.test_client()
    AuthActions(expert).login("e-3")
    assert "尚有 2 份报告未提交评分" in text_of(expert.get("/messages"))


# --- the ranking ---------------------------------------------------------------------------------

def test_the_ranking_shows_every_column_and_the_flags(app, admin):
    with app.app_context():
        put_state("preliminary", ALLOY, SMART_CAR, SEMI, POWER, LINXIANG)
        give(ALLOY, [80, 82, 84, 86, 88])  # trimmed: 84
        give(SMART_CAR, [88, 84, 84, 84, 80])  # trimmed: 84, a tie with ALLOY
        give(SEMI, [70, 72, 74])  # too few: the plain mean 72, said
        give(POWER, [60, 60, 61, 60, 20])  # e-5 far from the others
        give(LINXIANG, [75, 76, 77, 78, 79])
    page = admin.get("/admin/review/preliminary/ranking?top_advanced=1")
    body = text_of(page)
    assert page.status_code == 200 and "计分方法：去掉一个最高分和一个最低分后取平均" in body
    assert "并列" in body and "评分不足 5 份" in body and "评分不足 5 个，按算术平均" in body
    assert "评分偏离" in body and "偏离：e-5" in body and "并列跨越分数线" in body
    assert "分数线：以上为前 1 名" in body and "第 1 名处有并列，已勾选 2 个" in body
    with app.app_context():
        ids = {n: submission_of(n).id for n in (ALLOY, SMART_CAR, SEMI, POWER, LINXIANG)}
    html_ = page.get_data(as_text=True)
    ticked = set(map(int, re.findall(r'name="ids" value="(\d+)" checked', html_)))
    assert ticked == {ids[ALLOY], ids[SMART_CAR]}  # the tie at the line: both ticked
    row = re.search(rf'data-submission="{ids[SEMI]}".*?</tr>', html_, re.S).group(0)
    assert "72.00" in row and "3 / 5" in row
    # the helper works per category: the sme list is untouched
    assert ids[LINXIANG] not in ticked


def ranking_form(client, query):
    page = client.get(f"/admin/review/preliminary/ranking?{query}").get_data(as_text=True)
    seen = re.search(r'name="seen" value="([0-9a-f]+)"', page).group(1)
    ticked = re.findall(r'name="ids" value="(\d+)" checked', page)
    return seen, ticked


def test_advancing_the_top_n_per_category_moves_exactly_those_from_a_frozen_ranking(app, admin):
    with app.app_context():
        put_state("preliminary", ALLOY, SMART_CAR, SEMI, LINXIANG, SME_2)
        give(ALLOY, [90, 91, 92, 93, 94])
        give(SMART_CAR, [80, 81, 82, 83, 84])
        give(SEMI, [70, 71, 72, 73, 74])
        give(LINXIANG, [85, 85, 86, 86, 87])
        give(SME_2, [60, 61, 62, 63, 64])
        ids = {n: submission_of(n).id for n in (ALLOY, SMART_CAR, SEMI, LINXIANG, SME_2)}
    seen, ticked = ranking_form(admin, "top_advanced=2&top_sme=1")
    assert set(map(int, ticked)) == {ids[ALLOY], ids[SMART_CAR], ids[LINXIANG]}
    url = "/admin/review/preliminary/advance"
    # a stale page (the ranking changed since) and a missing reason are refused as a whole
    r = post(admin, url, {"ids": ticked, "move": "advance", "seen": "0" * 64})
    assert r.status_code == 409 and "排名在您打开页面后已有变化" in text_of(r)
    r = post(admin, url, {"ids": ticked, "move": "eliminate", "seen": seen})
    assert r.status_code == 409 and "「初赛未胜出」须填写原因。" in text_of(r)
    assert set(map(int, re.findall(r'name="ids" value="(\d+)" checked', r.get_data(as_text=True)))) == set(
        map(int, ticked))  # the ticks come back as they were
    with app.app_context():
        assert not db.session.execute(db.select(RankingSnapshot)).first()
        assert {submission_of(n).state for n in ids} == {"preliminary"}
    # one POST: the top 2 先进制造业 and the top 1 中小企业 advance
    r = post(admin, url, {"ids": ticked, "move": "advance", "seen": seen, "top_advanced": "2", "top_sme": "1"})
    body = text_of(r)
    assert r.status_code == 200 and "已执行（3）" in body and "未执行（0）" in body
    with app.app_context():
        states = {n: submission_of(n).state for n in ids}
        assert states == {ALLOY: "finalist", SMART_CAR: "finalist", LINXIANG: "finalist",
                          SEMI: "preliminary", SME_2: "preliminary"}
        snaps = {s.category: s for s in db.session.execute(db.select(RankingSnapshot)).scalars()}
        assert set(snaps) == {"advanced", "sme"}
        for snap in snaps.values():
            canonical = json.dumps(snap.data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            assert snap.digest == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
            assert snap.method == snap.data["method"] == "trimmed" and snap.code in body
        adv = snaps["advanced"].data
        assert [(r["name"], r["rank"], r["score"]) for r in adv["rows"]] == [
            (ALLOY, 1, 92.0), (SMART_CAR, 2, 82.0), (SEMI, 3, 72.0)]
        assert len(adv["scores"]) == 15 and adv["picked"] == [ids[ALLOY], ids[SMART_CAR]]
        history = {h.submission_id: h for h in db.session.execute(
            db.select(HistoryEntry).filter_by(move="advance")).scalars()}
        assert {sid: h.ranking_id for sid, h in history.items()} == {
            ids[ALLOY]: snaps["advanced"].id, ids[SMART_CAR]: snaps["advanced"].id, ids[LINXIANG]: snaps["sme"].id}
        code = snaps["advanced"].code
        snap_id = snaps["advanced"].id
    # the submission page and the audit log show the snapshot; the snapshot page shows every score
    page = text_of(admin.get(f"/admin/submissions/{ids[ALLOY]}"))
    assert f"依据专家评审排名：去掉一个最高分和一个最低分后取平均，排名快照校验码 {code}" in page
    audit = text_of(admin.get("/admin/audit/"))
    assert "依据评审排名办理" in audit and f"依据排名快照 {code}" in audit and f"依据评审排名快照 {code}" in audit
    shown = text_of(admin.get(f"/admin/review/rankings?id={snap_id}"))
    assert "（与快照内容一致）" in shown and "全部评分（15 份）" in shown and "晋级决赛：2 个集群" in shown
    # the applicant sees the move, never the review
    applicant = app.test_client()
    AuthActions(applicant).login("applicant-a")
    assert code not in text_of(applicant.get("/applicant/history"))


def test_the_result_list_gains_the_final_score(app, admin):
    with app.app_context():
        put_state("final", ALLOY, SMART_CAR, LINXIANG)
        give(ALLOY, [90, 91, 92, 93, 94], "final")
        give(SMART_CAR, [80, 81, 82, 83, 84], "final")
        give(LINXIANG, [70, 72, 74, 76, 78], "final")
    page = admin.get("/admin/review/final/ranking?top_advanced=1&top_sme=1").get_data(as_text=True)
    seen = re.search(r'name="seen" value="([0-9a-f]+)"', page).group(1)
    ticked = re.findall(r'name="ids" value="(\d+)" checked', page)
    r = post(admin, "/admin/review/final/advance", {"ids": ticked, "move": "award", "seen": seen})
    assert "已执行（2）" in text_of(r)
    with app.app_context():  # SMART_CAR recognised from the list, not from the ranking: its score as it stands
        apply_move(submission_of(SMART_CAR), "award", user_named("admin"))
    body = text_of(admin.get("/admin/results"))
    assert "决赛得分" in body
    assert f"1.{ALLOY}长沙市长沙市人民政府92.00" in body and f"2.{SMART_CAR}长沙市长沙市人民政府82.00" in body
    assert f"1.{LINXIANG}岳阳市临湘市人民政府74.00" in body
    ws = load_workbook(BytesIO(admin.get("/admin/results.xlsx").data)).active
    rows = [tuple(c for c in row if c is not None) for row in ws.iter_rows(values_only=True)]
    assert ("序号", "集群名称", "所在市州", "审核政府", "决赛得分") in rows
    assert (1, ALLOY, "长沙市", "长沙市人民政府", 92.0) in rows


def test_the_pages_store_nothing_before_the_round_starts(app, admin):
    """A GET never writes: the scheme page shows the defaults and the ranking says what to do
    first, and no scheme row appears until the first save or assignment."""
    with app.app_context():
        put_state("preliminary", ALLOY)
    assert 'value="产业基础"' in admin.get("/admin/review/preliminary/scheme").get_data(as_text=True)
    assert "初赛尚未开始专家评审" in text_of(admin.get("/admin/review/preliminary/ranking"))
    for path in ("/admin/review/", "/admin/review/preliminary/board"):
        assert admin.get(path).status_code == 200
    with app.app_context():
        assert db.session.execute(db.select(ReviewScheme)).first() is None
        sid = submission_of(ALLOY).id
    post(admin, f"/admin/review/preliminary/reports/{sid}/add", {"expert_id": str(2)})  # not an expert: refused
    with app.app_context():
        expert_id = user_named("e-1").id
    post(admin, f"/admin/review/preliminary/reports/{sid}/add", {"expert_id": str(expert_id)})
    with app.app_context():
        assert scheme_for(edition(), "preliminary").id and db.session.execute(db.select(ReviewScheme)).first()
    assert "初赛尚未开始专家评审" not in text_of(admin.get("/admin/review/preliminary/ranking"))
