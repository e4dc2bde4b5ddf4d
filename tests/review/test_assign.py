"""Assigning experts to reports (wizard/review/assign.py): the conflict rules (回避), automatic
assignment (k experts per report, covering the category, never a conflicted one, loads within
one of each other, idempotent), a pool too small (需补派专家), manual add and remove, and the
withdrawal of submitted scores with a reason in the audit log."""
import html
import re
from collections import Counter

import pytest

from factories import ALLOY, LINXIANG, SMART_CAR, AuthActions, csrf_from, make_user, submission_of, user_named
from review.helpers import assign as assigned, make_expert, put_state, scored
from wizard.extensions import db
from wizard.models import AuditEntry, Edition, ReviewAssignment
from wizard.ops.data.clusters import FIRST_BATCH
from wizard.review import assign
from wizard.review.results import round_ranking

ALL_CLUSTERS = [name for name, _, _ in FIRST_BATCH]
#: six experts in six cities, all 擅长 both categories
POOL = [("e-changsha", "长沙市", "中南大学"), ("e-xiangtan", "湘潭市", "湘潭大学"), ("e-yueyang", "岳阳市", "湖南理工学院"),
        ("e-hengyang", "衡阳市", "南华大学"), ("e-zhuzhou", "株洲市", "湖南工业大学"), ("e-changde", "常德市", "湖南文理学院")]


def text_of(response):
    return html.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))


def edition():
    return db.session.execute(db.select(Edition)).scalars().first()


def active_rows(round_="preliminary"):
    return db.session.execute(db.select(ReviewAssignment).filter_by(round=round_, status="active")).scalars().all()


@pytest.fixture
def admin_user(app):
    with app.app_context():
        make_user("admin", "admin")
    return "admin"


@pytest.fixture
def pool(app):
    with app.app_context():
        for username, city, employer in POOL:
            make_expert(username, city, employer)
    return [u for u, _, _ in POOL]


# --- conflicts -------------------------------------------------------------------------------

def test_conflicts_name_the_city_the_promotion_organisation_the_park_and_a_declared_one(app, admin_user):
    with app.app_context():
        alloy, linxiang = put_state("preliminary", ALLOY, LINXIANG)
        alloy.preliminary_answers = {"org_unit": "长沙新型合金材料产业促进会", "park_unit": "长沙经济技术开发区",
                                     "promo_org_name": "长沙新型合金材料产业促进会"}
        db.session.commit()
        same_city = make_expert("e-cs", "长沙市", "中南大学")
        # the county-level 临湘市 belongs to 岳阳市: a 岳阳 expert is conflicted with the 临湘 cluster
        yueyang = make_expert("e-yy", "岳阳市", "湖南理工学院")
        # written with other spaces and full-width brackets: the same unit
        org = make_expert("e-org", "湘潭市", " 长沙新型合金材料 产业促进会")
        park = make_expert("e-park", "衡阳市", "长沙经济技术开发区")
        declared = make_expert("e-decl", "株洲市", "湖南工业大学")
        assigned(alloy, declared, status="conflict", reason="曾为该集群提供咨询服务")
        free = make_expert("e-free", "常德市", "湖南文理学院")

        assert assign.conflicts(same_city, alloy) == ["所在市州相同"]
        assert assign.conflicts(yueyang, linxiang) == ["所在市州相同"]
        assert assign.conflicts(org, alloy) == ["工作单位为集群促进组织"]
        assert assign.conflicts(park, alloy) == ["工作单位为园区"]
        assert assign.conflicts(declared, alloy) == ["专家已声明回避"]
        assert assign.conflicts(free, alloy) == [] and assign.conflicts(same_city, linxiang) == []


def test_the_units_are_read_from_the_rounds_own_answers(app, admin_user):
    """In the final round the 决赛 report's unit names count (the park may have changed)."""
    with app.app_context():
        (sub,) = put_state("final", ALLOY)
        sub.preliminary_answers = {"park_unit": "旧园区"}
        sub.final_answers = {"park_name": "新园区"}
        db.session.commit()
        expert = make_expert("e-park", "衡阳市", "新园区")
        old = make_expert("e-old", "湘潭市", "旧园区")
        assert assign.conflicts(expert, sub, "final") == ["工作单位为园区"]
        assert assign.conflicts(old, sub, "final") == []


# --- automatic assignment ----------------------------------------------------------------------

def test_every_report_gets_k_unconflicted_experts_with_balanced_loads(app, admin_user, pool):
    with app.app_context():
        put_state("preliminary", *ALL_CLUSTERS)
        summary = assign.auto_assign(edition(), "preliminary", 5, user_named("admin"))
        rows = active_rows()
        assert summary.added == len(rows) == 5 * len(ALL_CLUSTERS) and not summary.short
        per_report = Counter(r.submission_id for r in rows)
        assert set(per_report.values()) == {5}
        for r in rows:  # never a conflicted expert: no expert scores a cluster of its own city
            assert assign.conflicts(r.expert, r.submission, "preliminary") == []
            assert r.expert.region.id != r.submission.cluster.region.city.id
        loads = Counter(r.expert_id for r in rows)
        assert len(loads) == len(POOL) and max(loads.values()) - min(loads.values()) <= 1
        # the scheme remembers the panel size; the audit log says what was done
        audit = db.session.execute(db.select(AuditEntry).filter_by(action="review_assign")).scalar_one()
        assert audit.detail.startswith("初赛自动指派：每份 5 人")


def test_only_experts_whose_category_covers_the_cluster(app, admin_user):
    with app.app_context():
        put_state("preliminary", ALLOY, LINXIANG, SMART_CAR)
        adv = [make_expert(f"adv-{i}", city, "某研究院", categories="advanced") for i, city in enumerate(("湘潭市", "衡阳市"))]
        sme = [make_expert(f"sme-{i}", city, "某大学", categories="sme") for i, city in enumerate(("湘潭市", "衡阳市"))]
        summary = assign.auto_assign(edition(), "preliminary", 2, user_named("admin"))
        assert not summary.short
        for r in active_rows():
            assert r.expert.expert_covers(r.submission.cluster.category)
        assert {r.expert_id for r in active_rows() if r.submission.cluster.name == LINXIANG} == {e.id for e in sme}
        assert {r.expert_id for r in active_rows() if r.submission.cluster.name == ALLOY} == {e.id for e in adv}


def test_running_again_keeps_what_exists_and_fills_up(app, admin_user, pool):
    with app.app_context():
        put_state("preliminary", ALLOY, LINXIANG, SMART_CAR)
        assign.auto_assign(edition(), "preliminary", 3, user_named("admin"))
        before = {(r.submission_id, r.expert_id) for r in active_rows()}
        assert assign.auto_assign(edition(), "preliminary", 3, user_named("admin")).added == 0
        assert {(r.submission_id, r.expert_id) for r in active_rows()} == before
        # one expert declares a conflict on ALLOY: the next run gives ALLOY someone else, never the declarer
        row = next(r for r in active_rows() if r.submission.cluster.name == ALLOY)
        row.status, row.reason = "conflict", "亲属在该集群企业任职"
        db.session.commit()
        assert [line.submission.cluster.name for line in assign.board(edition(), "preliminary").short] == [ALLOY]
        assert assign.auto_assign(edition(), "preliminary", 3, user_named("admin")).added == 1
        alloy = [r for r in active_rows() if r.submission.cluster.name == ALLOY]
        assert len(alloy) == 3 and row.expert_id not in {r.expert_id for r in alloy}
        # a larger panel: every report gets the extra expert, nothing is reassigned
        assert assign.auto_assign(edition(), "preliminary", 4, user_named("admin")).added == 3
        assert before - {(row.submission_id, row.expert_id)} <= {(r.submission_id, r.expert_id) for r in active_rows()}


def test_a_pool_too_small_leaves_reports_short_and_the_board_says_so(app, client, admin_user):
    with app.app_context():
        put_state("preliminary", ALLOY, LINXIANG)
        for username, city, employer in POOL[:4]:  # 长沙 (conflicts with ALLOY), 湘潭, 岳阳 (conflicts with 临湘), 衡阳
            make_expert(username, city, employer)
        summary = assign.auto_assign(edition(), "preliminary", 5, user_named("admin"))
        assert summary.added == 6 and {s.cluster.name for s in summary.short} == {ALLOY, LINXIANG}
        assert "需补派专家" in summary.message
    AuthActions(client).login("admin")
    page = text_of(client.get("/admin/review/preliminary/board"))
    assert "2 份报告需补派专家" in page
    assert page.count("需补派专家") >= 3  # the summary line and each short report


def test_only_reports_in_the_rounds_scoring_state_are_assigned(app, admin_user, pool):
    with app.app_context():
        put_state("preliminary", ALLOY)
        put_state("county_approved", LINXIANG)  # not yet accepted into 初赛
        put_state("final", SMART_CAR)  # a 决赛 report
        assign.auto_assign(edition(), "preliminary", 3, user_named("admin"))
        assert {r.submission.cluster.name for r in active_rows()} == {ALLOY}
        assign.auto_assign(edition(), "final", 3, user_named("admin"))
        assert {r.submission.cluster.name for r in active_rows("final")} == {SMART_CAR}
        with pytest.raises(assign.AssignRefused, match="只能为处于「初赛」状态的申报指派专家"):
            assign.add_expert(submission_of(LINXIANG), user_named("e-changde"), "preliminary", user_named("admin"))
        assert not db.session.execute(db.select(ReviewAssignment).filter_by(
            submission_id=submission_of(LINXIANG).id)).first()


# --- manual add and remove, withdrawal --------------------------------------------------------

def post(client, path, **data):
    token = csrf_from(client.get("/admin/review/"))
    return client.post(path, data={"csrf_token": token, **data})


def test_manual_add_refuses_a_conflicted_expert_with_the_reason(app, client, admin_user, pool):
    with app.app_context():
        (sub,) = put_state("preliminary", ALLOY)
        sid, changsha, changde = sub.id, user_named("e-changsha").id, user_named("e-changde").id
    AuthActions(client).login("admin")
    page = client.get(f"/admin/review/preliminary/reports/{sid}").get_data(as_text=True)
    # the conflicted expert is offered disabled, with the reason
    assert re.search(rf'<option value="{changsha}" disabled>[^<]*回避：所在市州相同', page)
    r = post(client, f"/admin/review/preliminary/reports/{sid}/add", expert_id=str(changsha))
    assert "e-changsha须回避该报告：所在市州相同。" in text_of(client.get(r.headers["Location"]))
    r = post(client, f"/admin/review/preliminary/reports/{sid}/add", expert_id=str(changde))
    assert "已指派 e-changde。" in text_of(client.get(r.headers["Location"]))
    with app.app_context():
        assert [(a.expert_id, a.status) for a in active_rows()] == [(changde, "active")]
        audit = db.session.execute(db.select(AuditEntry).filter_by(action="review_assign")).scalar_one()
        assert audit.target == f"submission:{sid}" and "e-changde" in audit.detail


def test_removing_an_expert_without_scores_takes_the_assignment_off(app, client, admin_user, pool):
    with app.app_context():
        (sub,) = put_state("preliminary", ALLOY)
        row = assigned(sub, user_named("e-changde"))
        sid, rid = sub.id, row.id
    AuthActions(client).login("admin")
    r = post(client, f"/admin/review/preliminary/reports/{sid}/remove", assignment_id=str(rid))
    assert "已移除该专家。" in text_of(client.get(r.headers["Location"]))
    with app.app_context():
        assert db.session.get(ReviewAssignment, rid) is None
        assert db.session.execute(db.select(AuditEntry).filter_by(action="review_unassign")).scalar_one()


def test_submitted_scores_are_withdrawn_only_with_a_reason_and_audited(app, client, admin_user, pool):
    with app.app_context():
        (sub,) = put_state("preliminary", ALLOY)
        rows = [scored(assigned(sub, user_named(name)), {"industry_base": total}) for name, total in
                (("e-changde", 12), ("e-xiangtan", 14), ("e-hengyang", 3))]
        sid, rid = sub.id, rows[2].id
        assert round_ranking(edition(), "preliminary").rows("advanced")[0].n_scores == 3
    AuthActions(client).login("admin")
    page = client.get(f"/admin/review/preliminary/reports/{sid}").get_data(as_text=True)
    assert "移除并撤回评分" in page and "撤回原因" in page
    # no reason: refused, the scores stay
    r = post(client, f"/admin/review/preliminary/reports/{sid}/remove", assignment_id=str(rid), reason="  ")
    assert "已提交评分，移除须填写原因" in text_of(client.get(r.headers["Location"]))
    with app.app_context():
        assert db.session.get(ReviewAssignment, rid).status == "active"
        assert not db.session.execute(db.select(AuditEntry).filter_by(action="review_withdraw")).first()
    r = post(client, f"/admin/review/preliminary/reports/{sid}/remove", assignment_id=str(rid),
             reason="该专家与集群龙头企业存在合作关系，评审后才申报")
    page = text_of(client.get(r.headers["Location"]))
    assert "已移除该专家，其评分已撤回。" in page and "评分已撤回：该专家与集群龙头企业存在合作关系" in page
    with app.app_context():
        row = db.session.get(ReviewAssignment, rid)
        assert row.status == "withdrawn" and row.reason.startswith("该专家与集群龙头企业") and row.ended_at
        assert row.scores == {"industry_base": 3}  # kept on record, no longer counted
        audit = db.session.execute(db.select(AuditEntry).filter_by(action="review_withdraw")).scalar_one()
        assert "e-hengyang" in audit.detail and "总分 3" in audit.detail and "合作关系" in audit.detail
        ranked = round_ranking(edition(), "preliminary").rows("advanced")[0]
        assert ranked.n_scores == 2 and ranked.score == 13
        # the withdrawn expert is not put back on the report by the automatic assignment
        assign.auto_assign(edition(), "preliminary", 3, user_named("admin"))
        assert user_named("e-hengyang").id not in {a.expert_id for a in active_rows()}


def test_rebalance_evens_out_what_the_greedy_fill_left():
    """The greedy fill left loads 4/3/2/3/3 on five reports × three experts (seen in the clicked
    journey) where 3 each was possible: one new assignment moves from the busiest expert."""
    from collections import Counter

    from wizard.review.assign import rebalance

    a, b, c, d, e = 1, 2, 3, 4, 5
    chosen = {1: [a, b, c], 2: [a, b, d], 3: [a, d, e], 4: [a, e, b], 5: [c, d, e]}
    load = Counter(x for ids in chosen.values() for x in ids)
    assert sorted(load.values()) == [2, 3, 3, 3, 4]
    rebalance(chosen, {sid: {a, b, c, d, e} for sid in chosen}, load, [a, b, c, d, e])
    assert Counter(x for ids in chosen.values() for x in ids) == {a: 3, b: 3, c: 3, d: 3, e: 3}
    assert all(len(set(ids)) == 3 for ids in chosen.values())  # still three different experts each
    # an expert who may not score a report (conflict) never receives it
    chosen = {1: [a, b], 2: [a, c]}
    load = Counter({a: 2, b: 1, c: 1, d: 0})
    rebalance(chosen, {1: {a, b}, 2: {a, c, d}}, load, [a, b, c, d])
    assert chosen == {1: [a, b], 2: [d, c]}
