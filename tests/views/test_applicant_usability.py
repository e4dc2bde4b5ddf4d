"""What an applicant notices in the wizard (issue #14): texts carried into 附件2, the return
comment, telephone numbers, upload messages, the gaps of the task list, the read-only review."""
import html as html_lib
import io
import json
import re

import pytest

from factories import ALLOY, attach, attach_declarations, csrf_from, submission_of, submitted, user_named
from fill import complete_answers, step_data
from wizard.extensions import db
from wizard.models import Message
from wizard.report.definition import get_report
from wizard.report.service import asked_anew
from wizard.workflow.moves import apply_move

CARRIED = "沿用初赛内容，请按决赛要求修改"


def version_of(page_html):
    return re.search(r'name="version"[^>]*value="(\d+)"', page_html).group(1)


def text_of(response):
    return html_lib.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))


def post_step(client, key, data, **kw):
    """Open the step (its CSRF token and version), then post ``data`` as the page would."""
    page = client.get(f"/applicant/step/{key}")
    payload = {"csrf_token": csrf_from(page), "version": version_of(page.get_data(as_text=True)),
               "action": "save", **data}
    return client.post(f"/applicant/step/{key}", data=payload, **kw)


def shown(client, response):
    """The page a redirect after a POST leads to, as text."""
    return text_of(client.get(response.headers["Location"])) if response.status_code == 302 else text_of(response)


@pytest.fixture
def applicant(client, auth, people):
    auth.login("applicant-a")
    return client


def to_finalist(app):
    """The alloy cluster's complete preliminary report, through every move into the final round."""
    with app.app_context():
        sub = submitted()
        apply_move(sub, "county_approve", user_named("county-x"), comment="同意推荐。")
        apply_move(sub, "accept", user_named("admin"))
        apply_move(sub, "advance", user_named("admin"))
        return sub.id


# --- 附件2: the texts asked anew ---------------------------------------------------------------

def test_the_texts_asked_anew_come_from_the_definition():
    """2.8, 3.2 and 四: the final-round fields whose question (guidance) differs from 附件1's."""
    preliminary, final = get_report("preliminary"), get_report("final")
    assert asked_anew() == {"self_assessment", "park_assessment", "org_operation"}
    for key in asked_anew():
        assert final.field(key).guidance != preliminary.field(key).guidance
    # figures whose label alone differs (上市和挂牌企业数量) are carried without a mark
    assert final.field("listed_enterprises").label != preliminary.field("listed_enterprises").label
    assert "listed_enterprises" not in asked_anew()


def test_carried_texts_are_marked_listed_and_block_submitting(app, applicant):
    to_finalist(app)
    with app.app_context():
        sub = submission_of(ALLOY)
        assert sub.carried_texts == ["org_operation", "park_assessment", "self_assessment"]
        assert sub.final_answers["self_assessment"] == sub.preliminary_answers["self_assessment"]
        sub.final_answers = dict(sub.final_answers, declaration_agree=True)  # signed anew for 附件2
        db.session.commit()
        attach_declarations(sub, rounds=("final",))
    tasks = applicant.get("/applicant/").get_data(as_text=True)
    assert "决赛报告已沿用初赛报告的内容" in tasks
    for step_key, key in (("quality", "self_assessment"), ("park", "park_assessment"), ("org", "org_operation")):
        assert f'/applicant/step/{step_key}#carried-{key}"' in tasks
        # the step is 进行中, although every value of it is filled in
        assert re.search(rf'step/{step_key}">[^<]+</a>\s*<span class="status status-in-progress">进行中', tasks)
        page = applicant.get(f"/applicant/step/{step_key}").get_data(as_text=True)
        assert f'id="carried-{key}"' in page and CARRIED in page and "已按决赛要求核对" in page
    review = applicant.get("/applicant/review").get_data(as_text=True)
    assert review.count(CARRIED) == 3 and "提交前还需处理 3 项" in review
    assert "/applicant/step/quality#carried-self_assessment" in review
    r = applicant.post("/applicant/submit", data={"csrf_token": csrf_from(applicant.get("/applicant/review")),
                                                  "version": version_of(review)})
    with app.app_context():
        assert submission_of(ALLOY).state == "finalist"
    assert "报告尚不能提交" in shown(applicant, r)


def test_editing_or_confirming_a_carried_text_clears_its_mark(app, applicant):
    to_finalist(app)
    # saving the step unchanged keeps the mark
    assert post_step(applicant, "quality", step_data("final", "quality")).status_code == 302
    # an edited text loses it
    edited = dict(step_data("final", "park"), park_assessment="从集群初赛胜出后，园区新建了三个项目。")
    assert post_step(applicant, "park", edited).status_code == 302
    # a confirmed one too; the message says so
    r = post_step(applicant, "org", dict(step_data("final", "org"), confirm_carried="org_operation"))
    assert "已确认“集群发展促进组织运营情况”已按决赛要求核对。已保存。" in shown(applicant, r)
    with app.app_context():
        assert submission_of(ALLOY).carried_texts == ["self_assessment"]
    # a confirmation of a text of another step, or of a text not carried, changes nothing
    post_step(applicant, "org", dict(step_data("final", "org"), confirm_carried="self_assessment"))
    with app.app_context():
        assert submission_of(ALLOY).carried_texts == ["self_assessment"]
    # autosave (fetch) of an edited text clears the mark as well
    page = applicant.get("/applicant/step/quality")
    data = dict(step_data("final", "quality"), self_assessment="初赛胜出后，集群总产值增长两成。",
                csrf_token=csrf_from(page), version=version_of(page.get_data(as_text=True)))
    r = applicant.post("/applicant/step/quality", data=data, headers={"X-Requested-With": "fetch"})
    assert r.get_json()["ok"] is True
    with app.app_context():
        assert submission_of(ALLOY).carried_texts == []
    assert CARRIED not in applicant.get("/applicant/").get_data(as_text=True)


def test_a_preliminary_report_is_never_marked(app, applicant):
    post_step(applicant, "quality", step_data("preliminary", "quality"))
    with app.app_context():
        assert not submission_of(ALLOY).carried_texts
    assert CARRIED not in applicant.get("/applicant/step/quality").get_data(as_text=True)


def test_migration_marks_only_finalists_that_never_submitted_the_final_report(app):
    """Old data: the texts still identical to the preliminary ones, of finalists without a final
    submission, get the mark; a report already submitted in the final round gets none."""
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        pre = complete_answers("preliminary")
        fin = complete_answers("final")
        fin["park_assessment"] = "决赛重新撰写的内容。"
        subs = {name: submission_of(name) for name in (ALLOY, "长沙智能汽车产业集群", "湘潭新能源和汽车产业集群")}
        for sub in subs.values():
            sub.state, sub.preliminary_answers, sub.final_answers = "finalist", pre, fin
        db.session.commit()
        ids = {name: sub.id for name, sub in subs.items()}
        attach(subs["长沙智能汽车产业集群"], "declaration_scan", "final")  # no snapshot: not yet submitted
        db.session.execute(db.text("INSERT INTO snapshot (submission_id, round, answers, evidence, digest, created_at) "
                                   "VALUES (:s, 'final', '{}', '[]', :d, CURRENT_TIMESTAMP)"),
                           {"s": ids["湘潭新能源和汽车产业集群"], "d": "1" * 64})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
        try:
            downgrade(revision="d5e2b8c4a917")
        finally:
            upgrade()
        marks = {name: db.session.execute(db.text("SELECT carried_texts FROM submission WHERE id = :s"),
                                          {"s": sid}).scalar_one() for name, sid in ids.items()}
        db.session.execute(db.text("DELETE FROM snapshot"))
        db.session.commit()
    loaded = {name: json.loads(v) if isinstance(v, str) else v for name, v in marks.items()}
    assert loaded[ALLOY] == ["self_assessment", "org_operation"]
    assert loaded["长沙智能汽车产业集群"] == ["self_assessment", "org_operation"]
    assert not loaded["湘潭新能源和汽车产业集群"]  # submitted once in the final round


# --- the return comment -------------------------------------------------------------------------

def test_return_comment_on_every_step_and_in_the_message_until_resubmitted(app, client, auth, people):
    with app.app_context():
        sub = submitted()
        apply_move(sub, "county_return", user_named("county-x"), comment="请补充2.3重点项目的建设期。")
    auth.login("applicant-a")
    for step in get_report("preliminary").steps:
        page = text_of(client.get(f"/applicant/step/{step.key}"))
        assert "报告已被退回修改：请补充2.3重点项目的建设期。" in page, step.key
    messages = text_of(client.get("/messages"))
    assert "退回修改" in messages and "退回意见：请补充2.3重点项目的建设期。" in messages
    with app.app_context():
        apply_move(submission_of(ALLOY), "submit", user_named("applicant-a"))
        msgs = db.session.execute(db.select(Message).filter_by(user_id=user_named("county-x").id)).scalars().all()
        assert not any("退回意见" in m.text for m in msgs if "提交初赛报告" in m.text)
    assert "已被退回修改" not in text_of(client.get("/applicant/"))


# --- telephone numbers ------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, stored", [
    ("１３９００００１１１１", "13900001111"),
    ("0731－8888 8888", "0731-88888888"),
    ("０７３１—８８８８８８８８转１２", "0731-88888888转12"),
    ("(0731) 8888-8888", "(0731)8888-8888"),
])
def test_phone_numbers_accept_full_width_digits_and_are_stored_normalised(app, applicant, typed, stored):
    r = post_step(applicant, "basic", {"org_head_phone": typed})
    assert r.status_code == 302, text_of(r)[:2000]
    with app.app_context():
        assert submission_of(ALLOY).preliminary_answers["org_head_phone"] == stored


def test_a_wrong_phone_number_is_named_with_its_group(app, applicant):
    r = post_step(applicant, "basic", {"org_contact_phone": "一三九", "park_head_phone": "139①0000111"})
    assert r.status_code == 422
    summary = text_of(r).split("本页其余内容已保存）：")[1]
    assert "集群促进组织·电话：请输入有效的电话号码" in summary
    assert "集群核心承载园区·电话：" in summary


# --- uploads --------------------------------------------------------------------------------------------

def test_upload_without_a_file_says_so_and_saves_the_typed_values(app, applicant):
    r = post_step(applicant, "indicators", {"revenue-y1": "321.5", "action": "upload"})
    assert r.status_code == 302
    page = shown(applicant, r)
    assert "文件未上传：请先选择要上传的文件。您填写的内容已保存。" in page
    with app.app_context():
        assert submission_of(ALLOY).preliminary_answers["revenue"]["y1"] == "321.5"


def test_a_refused_file_shows_only_the_refusal_then_what_happened_to_the_values(app, applicant):
    r = post_step(applicant, "indicators", {
        "revenue-y1": "88", "action": "upload",
        "evidence-listed_enterprises": (io.BytesIO(b"this is no pdf at all"), "假的.pdf")})
    assert r.status_code == 302 and r.headers["Location"].endswith("#ev-listed_enterprises")
    raw = applicant.get(r.headers["Location"]).get_data(as_text=True)
    box = raw.split('id="ev-listed_enterprises"')[1].split('class="evidence-upload"')[0]
    flashes = re.findall(r'<div class="flash flash-(\w+)"[^>]*>([^<]+)</div>', box)
    assert len(flashes) == 1 and flashes[0][0] == "error"
    refusal = html_lib.unescape(flashes[0][1])
    assert refusal.startswith("文件未上传：文件“假的.pdf”") and refusal.endswith("您填写的内容已保存。")
    assert "flash-success" not in raw  # no green 已保存 beside the red refusal
    with app.app_context():
        assert submission_of(ALLOY).preliminary_answers["revenue"]["y1"] == "88"


def test_an_uploaded_file_is_named_first_then_the_values(app, applicant):
    from builders import pdf_bytes

    r = post_step(applicant, "indicators", {
        "revenue-y1": "88", "action": "upload",
        "evidence-listed_enterprises": (io.BytesIO(pdf_bytes(2)), "上市公告.pdf")})
    assert "已上传“上市公告.pdf”（2 页）。您填写的内容已保存。" in shown(applicant, r)


def test_a_refused_file_with_a_wrong_value_says_the_values_were_not_saved(app, applicant):
    r = post_step(applicant, "indicators", {
        "revenue-y1": "abc", "action": "upload",
        "evidence-listed_enterprises": (io.BytesIO(b"no pdf"), "假的.pdf")})
    assert r.status_code == 422
    page = text_of(r)
    assert "文件未上传" in page and "有 1 处填写有误：“集群企业营业收入”" in page


# --- the task list names the gaps; the read-only review has no dead links -------------------------------

def test_task_list_names_each_gap_with_a_link(app, applicant):
    with app.app_context():
        sub = submission_of(ALLOY)
        answers = complete_answers("preliminary")
        answers.pop("industry_field")
        answers["org_head_phone"] = ""
        sub.preliminary_answers = answers
        db.session.commit()
        attach_declarations(sub, rounds=("preliminary",))
    page = applicant.get("/applicant/").get_data(as_text=True)
    assert "报告尚有 2 项未填写完整" in page
    gaps = re.findall(r'<li><a href="(/applicant/step/[^"]+)">([^<]+)</a>：([^<]+)</li>', page)
    assert gaps == [("/applicant/step/basic#f-industry_field", "基本信息", "请填写“产业领域”。"),
                    ("/applicant/step/basic#f-org_head_phone", "基本信息", "请填写“集群促进组织·电话”。")]


def test_read_only_review_and_task_list_link_nowhere_that_bounces(app, applicant):
    with app.app_context():
        sub = submitted()
        sub.preliminary_answers = dict(sub.preliminary_answers, output_total={"y1": "100", "y2": "90"},
                                       leading_output={"y1": "200", "y2": "90"})
        db.session.commit()
    for path in ("/applicant/review", "/applicant/"):
        page = applicant.get(path).get_data(as_text=True)
        assert "/applicant/step/" not in page, path
        assert 'href="/applicant/review#' not in page
    review = text_of(applicant.get("/applicant/review"))
    assert "形式审查提示" in review  # the warnings are still shown, as text
