"""The ranking read from the database (review/results.py), and the paper and workbook of expert
review as a user receives them: the 专家评分表 and 评审结果汇总表 PDFs read back with pdfplumber
(text, escaping, room to sign and date by hand), the round's workbook read back with openpyxl,
and who may download what."""
import io
import re

import pdfplumber
import pytest
from openpyxl import load_workbook
from sqlalchemy import event

from factories import user_named
from review.helpers import assign, make_expert, put_state, scored
from wizard.extensions import db
from wizard.models import AuditEntry, Cluster, Edition, ReviewAssignment, Submission, User
from wizard.review.advance import freeze_ranking
from wizard.review.results import round_ranking
from wizard.review.scheme import scheme_for
from wizard.workflow.states import MOVES_BY_KEY

CM = 72 / 2.54
MM = CM / 10
HOSTILE = "<b>粗体</b> & =HYPERLINK(\"http://x\")"
HOSTILE_NAME = "<i>集群</i> & \"甲\""


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def clusters(category, n):
    return [c.name for c in db.session.execute(
        db.select(Cluster).join(Submission, Submission.cluster_id == Cluster.id)
        .where(Cluster.category == category).order_by(Cluster.id)).scalars()][:n]


def even_scores(scheme, total):
    """Scores of the scheme's dimensions that add up to ``total`` (0.5 steps), each within its maximum."""
    left, out = total, {}
    dims = scheme.dimensions
    for i, d in enumerate(dims):
        share = min(d["max"], round(left / (len(dims) - i) * 2) / 2)
        out[d["key"]] = share
        left -= share
    assert left == 0, total
    return out


# The round on paper: five experts, three advanced clusters and two sme ones.
#   advanced   e1  e2  e3  e4  e5    trimmed (drop one high, one low)
#   ADV[0]     90  85  88  80  70    (80 + 85 + 88) / 3 = 84.33   rank 1  (e5's 70: 评分偏离)
#   ADV[1]     80  82  84  80  40    (80 + 80 + 82) / 3 = 80.67   rank 2  (e5's 40: 评分偏离)
#   ADV[2]     70  72  71  —   —     (70 + 71 + 72) / 3 = 71.00   rank 3  (3 scores: mean, 评分不足 5 份)
#   sme
#   SME[0]     75  76  77  78  79    (76 + 77 + 78) / 3 = 77.00   rank 1
#   SME[1]     no expert scored it yet — listed last, no rank
TABLE = {0: (90, 85, 88, 80, 70), 1: (80, 82, 84, 80, 40), 2: (70, 72, 71)}
SME_TABLE = (75, 76, 77, 78, 79)


@pytest.fixture
def round_world(app, people):
    with app.app_context():
        adv, sme = clusters("advanced", 3), clusters("sme", 2)
        subs = put_state("preliminary", *adv, *sme)
        scheme = scheme_for(subs[0].edition, "preliminary")
        experts = [make_expert(f"expert-{i}", city, f"大学{i}") for i, city in
                   enumerate(("湘潭市", "岳阳市", "衡阳市", "株洲市", "常德市"), 1)]
        for i, totals in TABLE.items():
            for expert, total in zip(experts, totals):
                scored(assign(subs[i], expert), even_scores(scheme, total))
        sme_rows = [scored(assign(subs[3], expert), even_scores(scheme, total))
                    for expert, total in zip(experts, SME_TABLE)]
        row = sme_rows[0]  # expert-1's sheet of SME[0]: a comment and an opinion with markup
        row.comments = {scheme.dimensions[0]["key"]: HOSTILE}
        row.overall = "总体评价：" + HOSTILE
        db.session.commit()
        assign(subs[4], experts[0])  # assigned, not scored
        db.session.commit()
        return {"adv": adv, "sme": sme, "experts": [e.id for e in experts], "edition_id": subs[0].edition_id,
                "ids": [s.id for s in subs]}


def ranking_of(app, w):
    edition = db.session.get(Edition, w["edition_id"])
    return round_ranking(edition, "preliminary")


def test_round_ranking_reads_the_table(app, round_world):
    w = round_world
    with app.app_context():
        ranking = ranking_of(app, w)
        adv = [(r.name, r.score, r.rank, r.n_scores) for r in ranking.rows("advanced")]
        assert adv == [(w["adv"][0], 84.33, 1, 5), (w["adv"][1], 80.67, 2, 5), (w["adv"][2], 71.0, 3, 3)]
        rows = {r.name: r for r in ranking.rows("advanced")}
        assert rows[w["adv"][1]].outliers == [w["experts"][4]] and "评分偏离" in rows[w["adv"][1]].flags
        assert rows[w["adv"][2]].note == "评分不足 5 个，按算术平均" and "评分不足 5 份" in rows[w["adv"][2]].flags
        sme = [(r.name, r.score, r.rank) for r in ranking.rows("sme")]
        assert sme == [(w["sme"][0], 77.0, 1), (w["sme"][1], None, None)]
        assert set(ranking.experts) == set(w["experts"])
        assert ranking.dimension_scores[w["ids"][0]][w["experts"][0]]  # per dimension, for the workbook


def test_withdrawn_conflicted_and_unsubmitted_scores_do_not_count(app, round_world):
    w = round_world
    with app.app_context():
        rows = db.session.execute(db.select(ReviewAssignment).where(
            ReviewAssignment.submission_id == w["ids"][0]).order_by(ReviewAssignment.expert_id)).scalars().all()
        rows[0].status, rows[0].reason = "withdrawn", "误派"  # the 90 goes
        rows[1].submitted_at = None  # the 85 back to a draft (as if never submitted)
        db.session.commit()
        row = ranking_of(app, w).rows("advanced")
        top = next(r for r in row if r.submission_id == w["ids"][0])
        assert top.n_scores == 3 and top.score == round((88 + 80 + 70) / 3, 2)


def test_reports_that_left_the_round_stay_ranked_and_earlier_states_do_not(app, round_world):
    w = round_world
    with app.app_context():
        put_state("finalist", w["adv"][0])  # advanced after scoring: still this round's ranking
        put_state("county_approved", w["adv"][2])  # undone back before the round: not ranked
        put_state("eliminated", w["sme"][1])  # left the round with an assignment (unscored)
        ranking = ranking_of(app, w)
        assert [r.name for r in ranking.rows("advanced")] == [w["adv"][0], w["adv"][1]]
        assert [r.name for r in ranking.rows("sme")] == [w["sme"][0], w["sme"][1]]


def test_round_ranking_takes_the_same_few_statements_for_any_number_of_reports(app, round_world):
    w = round_world

    def count():
        n = [0]

        def counter(conn, cursor, statement, *args):
            n[0] += statement.lstrip().upper().startswith("SELECT")

        edition = db.session.get(Edition, w["edition_id"])
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            round_ranking(edition, "preliminary")
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        return n[0]

    with app.app_context():
        scheme_for(db.session.get(Submission, w["ids"][0]).edition, "preliminary")
        db.session.commit()
        db.session.expire_all()
        small = count()
        more = clusters("advanced", 12)[3:]
        experts = [db.session.get(User, x) for x in w["experts"]]
        scheme = scheme_for(db.session.get(Submission, w["ids"][0]).edition, "preliminary")
        for sub in put_state("preliminary", *more):
            for expert in experts:
                scored(assign(sub, expert), even_scores(scheme, 60))
        db.session.expire_all()
        assert count() == small == 3  # the scheme, the reports, the scores


# --- the workbook --------------------------------------------------------------------------------

def test_workbook_has_raw_scores_and_every_ranking_column(app, client, auth, round_world):
    w = round_world
    auth.login("admin")
    r = client.get("/review/preliminary/scores.xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["原始评分", "排名-先进制造业集群", "排名-中小企业特色产业集群", "说明"]
    raw = wb["原始评分"]
    header = [c.value for c in raw[1]]
    with app.app_context():
        scheme = scheme_for(db.session.get(Submission, w["ids"][0]).edition, "preliminary")
        dims = scheme.dimensions
    assert header[:4] == ["类别", "集群名称", "专家", "工作单位"]
    assert header[4:6] == [f"{dims[0]['label']}（满分 {dims[0]['max']}）", f"{dims[0]['label']}评语"]
    assert header[-3:] == ["合计", "总体评价", "提交时间"]
    assert raw.freeze_panes == "C2"
    rows = [[c.value for c in row] for row in raw.iter_rows(min_row=2)]
    assert len(rows) == 5 + 5 + 3 + 5  # every submitted score, nothing for the unscored report
    hostile = next(row for row in rows if row[5] == HOSTILE)
    cell = next(c for c in raw.iter_rows(min_row=2) if c[5].value == HOSTILE)[5]
    assert cell.data_type == "s"  # text, never a formula
    assert hostile[1] == w["sme"][0] and hostile[-2] == "总体评价：" + HOSTILE
    totals = sorted(row[-3] for row in rows if row[1] == w["adv"][1])
    assert totals == [40, 80, 80, 82, 84]
    total_cell = next(c for c in raw.iter_rows(min_row=2) if c[1].value == w["adv"][1])[-3]
    assert total_cell.number_format == "0.0#" and isinstance(total_cell.value, (int, float))
    assert next(c for c in raw.iter_rows(min_row=2))[-1].number_format == "yyyy-mm-dd hh:mm"

    ranking = wb["排名-先进制造业集群"]
    head = [c.value for c in ranking[1]]
    assert head[:5] == ["名次", "并列", "集群名称", "评分数", "得分（去掉一个最高分和一个最低分后取平均）"]
    assert {"算术平均", "标准化得分", "最好名次", "最差名次", "标记", "评分偏离的专家", "各专家总分"} <= set(head)
    body = [[c.value for c in row] for row in ranking.iter_rows(min_row=2)]
    assert [(b[0], b[2], b[4]) for b in body] == [(1, w["adv"][0], 84.33), (2, w["adv"][1], 80.67),
                                                  (3, w["adv"][2], 71)]
    assert body[1][head.index("评分偏离的专家")] == "expert-5"
    assert "评分不足 5 个，按算术平均" == body[2][head.index("说明")]
    assert ranking.freeze_panes == "D2"
    assert next(ranking.iter_rows(min_row=2))[4].number_format == "0.00"
    sme = [[c.value for c in row] for row in wb["排名-中小企业特色产业集群"].iter_rows(min_row=2)]
    assert [(s[0], s[2]) for s in sme] == [(1, w["sme"][0]), (None, w["sme"][1])]
    notes = " ".join(str(c.value) for row in wb["说明"].iter_rows() for c in row)
    assert "去掉一个最高分和一个最低分后取平均" in notes and "样本标准差" in notes


# --- the paper -----------------------------------------------------------------------------------

def pdf_text(data):
    with pdfplumber.open(io.BytesIO(data)) as doc:
        return [squash(p.extract_text() or "") for p in doc.pages]


def one_char(page, text, top=None):
    found = [c for c in page.chars if c["text"] == text and (top is None or abs(c["top"] - top) < 3)]
    return found


@pytest.mark.pdf  # renders the sheet (the render consumer)
def test_score_sheet_lists_each_report_with_room_to_sign_and_date(app, client, auth, round_world):
    w = round_world
    expert_id = w["experts"][0]
    auth.login("admin")
    r = client.get(f"/review/preliminary/experts/{expert_id}/score-sheet.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    with app.app_context():
        scheme = scheme_for(db.session.get(Submission, w["ids"][0]).edition, "preliminary")
        dims = [d["label"] for d in scheme.dimensions]
        edition = db.session.get(Submission, w["ids"][0]).edition.name
    pages = pdf_text(r.data)
    assert len(pages) == 5  # one page per assigned report: 3 advanced, 2 sme (one not yet scored)
    for name in w["adv"] + w["sme"]:
        assert sum(squash(name) in page for page in pages) == 1, name  # a page of its own
    for page in pages:
        assert squash(edition) in page and "初赛" in page and "expert-1" in page and "大学1" in page
        assert all(squash(d) in page for d in dims) and "专家签字" in page and "总体评价" in page
    first = next(p for p in pages if squash(w["adv"][0]) in p)
    assert "合计" in first and "90" in first and "已提交" in first
    hostile = next(p for p in pages if squash(w["sme"][0]) in p)
    assert squash(HOSTILE) in hostile  # the comment as typed, markup and all, as text
    unscored = next(p for p in pages if squash(w["sme"][1]) in p)
    assert "未提交" in unscored

    with pdfplumber.open(io.BytesIO(r.data)) as doc:
        page = doc.pages[0]
        label = page.search("专家签字", regex=False)[0]
        line = min((ln for ln in page.lines + page.rects if ln["height"] < 1.5 and abs(ln["bottom"] - label["bottom"]) < 8
                    and ln["x0"] >= label["x1"] - 2), key=lambda ln: ln["x0"])
        assert line["x1"] - line["x0"] >= 3 * CM  # room for a signature
        above = [c["bottom"] for c in page.chars if c["bottom"] < line["top"] - 1 and c["text"].strip()
                 and c["x1"] > line["x0"] and c["x0"] < line["x1"]]
        assert line["top"] - max(above) >= 1 * CM  # and height to write it in
        date = page.search("日期", regex=False)[0]
        year = one_char(page, "年", date["top"])[0]
        month = one_char(page, "月", date["top"])[0]
        day = [c for c in one_char(page, "日", date["top"]) if c["x0"] > month["x1"]][0]
        assert year["x0"] - date["x1"] >= 12 * MM
        assert month["x0"] - year["x1"] >= 8 * MM and day["x0"] - month["x1"] >= 8 * MM


@pytest.mark.pdf  # renders the sheet (the render consumer)
def test_ranking_sheet_names_the_method_every_column_and_the_panel(app, client, auth, round_world):
    w = round_world
    auth.login("admin")
    r = client.get("/review/preliminary/ranking/advanced.pdf?cut=1")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = "".join(pdf_text(r.data))
    assert "评审结果汇总表" in text and "先进制造业集群" in text and "初赛" in text
    assert "去掉一个最高分和一个最低分后取平均" in text
    for column in ("名次", "集群名称", "评分数", "得分", "说明", "算术平均", "标准化得分", "名次区间", "标记"):
        assert column in text
    positions = [text.index(squash(n)) for n in w["adv"]]
    assert positions == sorted(positions)  # in rank order
    assert "84.33" in text and "80.67" in text and "71.00" in text and "评分偏离" in text
    assert "评分不足5个" in text and "前1名" in text  # the fallback note (wrapped in its cell) and the cut
    assert all(f"expert-{i}" in text for i in range(1, 6))  # a signature line per expert of the panel
    assert "评审专家签字" in text and "日期" in text and "年" in text and "校验码" not in text.replace("无冻结校验码", "")


@pytest.mark.pdf  # renders the sheet (the render consumer)
def test_a_ranking_sheet_still_being_made_refreshes_to_the_same_cut_and_audits_only_the_download(
        app, client, auth, round_world):
    """The sheets are rendered by the render consumer like the report: a request that cannot wait
    gets the page that refreshes itself, to the same ?cut (a different cut is a different sheet),
    and the export is audited when the file goes out, not for the waiting page."""
    auth.login("admin")
    app.config["PDF_WAIT_SECONDS"] = 0
    url = "/review/preliminary/ranking/advanced.pdf?cut=1"
    waiting = client.get(url)
    assert waiting.status_code == 202 and "正在生成" in waiting.get_data(as_text=True)
    assert waiting.headers["Refresh"].endswith("url=/review/preliminary/ranking/advanced.pdf?cut=1")
    assert 'href="/review/preliminary/ranking/advanced.pdf?cut=1"' in waiting.get_data(as_text=True)

    def exports():
        with app.app_context():
            return db.session.execute(db.select(db.func.count()).select_from(AuditEntry)
                                      .where(AuditEntry.target == "ranking-preliminary-advanced.pdf")).scalar()
    assert exports() == 0
    app.config["PDF_WAIT_SECONDS"] = 300
    done = client.get(url)
    assert done.status_code == 200 and "前1名" in "".join(pdf_text(done.data))
    assert exports() == 1


@pytest.mark.pdf  # renders the sheet (the render consumer)
def test_ranking_sheet_prints_the_frozen_ranking_and_its_code(app, client, auth, round_world):
    w = round_world
    with app.app_context():
        ranking = ranking_of(app, w)
        snap = freeze_ranking(ranking.edition, "preliminary", "advanced", ranking, MOVES_BY_KEY["advance"],
                              [w["ids"][0]], user_named("admin"))
        code = snap.code
        row = db.session.execute(db.select(ReviewAssignment).where(
            ReviewAssignment.submission_id == w["ids"][1], ReviewAssignment.expert_id == w["experts"][4])).scalar_one()
        row.status = "withdrawn"  # a score withdrawn after the decision
        db.session.commit()
    auth.login("admin")
    text = "".join(pdf_text(client.get("/review/preliminary/ranking/advanced.pdf").data))
    assert f"冻结排名校验码：{code}" in text and "晋级决赛" in text
    assert "80.67" in text  # the frozen score, not the live one
    assert "冻结后评分有变化" in text


@pytest.mark.pdf  # renders the sheet (the render consumer)
def test_escaping_in_the_ranking_sheet(app, client, auth, round_world):
    w = round_world
    with app.app_context():
        db.session.execute(db.update(Cluster).where(Cluster.name == w["sme"][0]).values(name=HOSTILE_NAME))
        db.session.commit()
    auth.login("admin")
    text = "".join(pdf_text(client.get("/review/preliminary/ranking/sme.pdf").data))
    assert squash(HOSTILE_NAME) in text


# --- who may download what --------------------------------------------------------------------------

@pytest.mark.pdf  # renders the sheet (the render consumer)
def test_an_expert_gets_its_own_sheet_only(app, client, auth, round_world):
    w = round_world
    auth.login("expert-1")
    assert client.get(f"/review/preliminary/experts/{w['experts'][0]}/score-sheet.pdf").status_code == 200
    assert client.get(f"/review/preliminary/experts/{w['experts'][1]}/score-sheet.pdf").status_code == 404
    assert client.get("/review/preliminary/ranking/advanced.pdf").status_code == 403
    assert client.get("/review/preliminary/scores.xlsx").status_code == 403
    with app.app_context():
        rows = db.session.execute(db.select(AuditEntry).where(AuditEntry.action == "export")).scalars().all()
        assert [r.target for r in rows] == ["score-sheet-preliminary.pdf"]
        assert "expert=expert-1" in rows[0].detail


@pytest.mark.parametrize("user", ["applicant-a", "county-x"])
def test_applicants_and_counties_are_refused(app, client, auth, round_world, user):
    w = round_world
    auth.login(user)
    for url in (f"/review/preliminary/experts/{w['experts'][0]}/score-sheet.pdf",
                "/review/preliminary/ranking/advanced.pdf", "/review/preliminary/scores.xlsx"):
        assert client.get(url).status_code == 403, url


@pytest.mark.pdf  # renders the sheet (the render consumer)
def test_unknown_rounds_categories_and_non_experts_are_not_found(app, client, auth, round_world):
    w = round_world
    auth.login("admin")
    assert client.get(f"/review/semi/experts/{w['experts'][0]}/score-sheet.pdf").status_code == 404
    assert client.get("/review/preliminary/ranking/other.pdf").status_code == 404
    assert client.get("/review/semi/scores.xlsx").status_code == 404
    with app.app_context():
        admin_id = user_named("admin").id
    assert client.get(f"/review/preliminary/experts/{admin_id}/score-sheet.pdf").status_code == 404
    r = client.get("/review/preliminary/ranking/advanced.pdf?cut=abc")  # a nonsense cut is ignored
    assert r.status_code == 200
