"""The expert's workspace (评审专家): the assigned reports only, the score sheet with autosave and its
version check, the checks of each score, submit once, the declared conflict, the refusals once
the assignment has ended or the sheet is read-only, and what nobody else sees."""
import re
from datetime import timedelta

import pytest

from factories import ALLOY, LINXIANG, AuthActions, submission_of, submitted, user_named
from review.helpers import assign, make_expert
from wizard.extensions import db
from wizard.models import AuditEntry, ReviewAssignment, local_now
from wizard.report.definition import get_report
from wizard.review.scheme import DEFAULT_DIMENSIONS, scheme_for

KEYS = [d[0] for d in DEFAULT_DIMENSIONS]
MAXES = {d[0]: d[2] for d in DEFAULT_DIMENSIONS}
OTHER_COMMENT = "另一位专家写下的独特评语丙丁"


@pytest.fixture
def scoring(app, people):
    """A submitted in the 初赛 scoring state and assigned to expert-e; B assigned to expert-other."""
    with app.app_context():
        a = submitted()
        a.state = "preliminary"
        b = submission_of(LINXIANG)
        b.state = "preliminary"
        db.session.commit()
        mine = assign(a, user_named("expert-e"))
        theirs = assign(b, user_named("expert-other"))
        return {"a": a.id, "b": b.id, "mine": mine.id, "theirs": theirs.id}


def expert_client(app, username="expert-e"):
    client = app.test_client()
    auth = AuthActions(client)
    assert auth.login(username).status_code == 302
    client.token = auth.csrf()
    return client


def full_sheet(**changes):
    """Every dimension scored (8 each, 72 in all) and 总体评价 written."""
    data = {f"score-{k}": "8" for k in KEYS}
    data.update({"overall": "集群基础扎实，创新能力较强。", "comment-innovation": "研发投入强度较高。"})
    data.update(changes)
    return data


def post(client, url, data, fetch=False):
    headers = {"X-Requested-With": "fetch", "Accept": "application/json"} if fetch else {}
    return client.post(url, data={"csrf_token": client.token, **data}, headers=headers)


def row(app, assignment_id) -> ReviewAssignment:
    with app.app_context():
        found = db.session.get(ReviewAssignment, assignment_id)
        db.session.expunge(found)
        return found


def test_home_lists_only_the_assigned_reports_with_progress_and_deadline(app, scoring):
    with app.app_context():
        scheme_for(submission_of(ALLOY).edition, "preliminary").deadline = local_now().replace(microsecond=0) \
            + timedelta(days=10)
        db.session.commit()
    client = expert_client(app)
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "评审任务" in page and ALLOY in page and "未开始" in page
    assert LINXIANG not in page
    assert "评审截止时间" in page and ("剩余 9 天" in page or "剩余 10 天" in page)
    assert f"/expert/reviews/{scoring['mine']}" in page


def test_an_unassigned_report_answers_404(app, scoring):
    client = expert_client(app)
    assert client.get(f"/expert/reviews/{scoring['theirs']}").status_code == 404
    assert client.get(f"/submissions/{scoring['b']}/report.pdf").status_code == 404
    assert post(client, f"/expert/reviews/{scoring['theirs']}", full_sheet()).status_code == 404
    assert row(app, scoring["theirs"]).saved_at is None


def test_the_report_page_shows_the_submitted_report_its_files_and_the_form(app, scoring):
    with app.app_context():  # the live answers differ from the submitted ones: the expert reads the latter
        a = submission_of(ALLOY)
        field = next(f for f in get_report("preliminary").fields if f.kind == "text")
        submitted_text = a.preliminary_answers[field.key]
        a.preliminary_answers = {**a.preliminary_answers, field.key: "提交后才改的内容"}
        db.session.commit()
    client = expert_client(app)
    page = client.get(f"/expert/reviews/{scoring['mine']}").get_data(as_text=True)
    assert "一、集群基本信息" in page and "2.1集群主要经济指标" in page  # the report body (the shared partial)
    assert submitted_text in page and "提交后才改的内容" not in page
    assert f"/submissions/{scoring['a']}/report.pdf" in page
    files = re.findall(r'href="/evidence/(\d+)"', page)
    assert files and client.get(f"/evidence/{files[0]}").status_code == 200
    assert "产业基础（满分 15 分）" in page and "集群主导产业规模实力" in page  # maximum and guidance
    assert 'data-autosave-url="/expert/reviews/' in page


def test_autosave_keeps_the_values_and_a_stale_version_is_refused(app, scoring):
    client = expert_client(app)
    url = f"/expert/reviews/{scoring['mine']}"
    r = post(client, f"{url}/autosave", {"version": "1", "score-industry_base": "12.5", "overall": "初步意见"},
             fetch=True)
    assert r.status_code == 200 and r.get_json()["ok"] and r.get_json()["version"] == 2
    page = client.get(url).get_data(as_text=True)
    assert 'value="12.5"' in page and "初步意见" in page and "已暂存" in page

    # a second tab still at version 1: refused, nothing overwritten
    r = post(client, f"{url}/autosave", {"version": "1", "score-industry_base": "3"}, fetch=True)
    assert r.status_code == 409 and "另一窗口已保存" in r.get_json()["error"]
    r = post(client, url, {"version": "1", "score-industry_base": "4", "action": "save"})
    page = r.get_data(as_text=True)
    assert r.status_code == 409 and "另一窗口已保存" in page and 'value="4"' in page  # what was typed is kept
    saved = row(app, scoring["mine"])
    assert saved.scores == {"industry_base": 12.5} and saved.overall == "初步意见" and saved.version == 2


@pytest.mark.parametrize("typed, message", [
    ("16", "最高 15 分"),
    ("8.3", "以 0.5 分为单位"),
    ("-1", "不能为负数"),
    ("八分", "请输入数字"),
])
def test_a_score_outside_the_range_or_steps_is_refused_in_chinese(app, scoring, typed, message):
    client = expert_client(app)
    r = post(client, f"/expert/reviews/{scoring['mine']}",
             full_sheet(**{"score-industry_base": typed, "comment-green": "保留的评语"}, version="1", action="save"))
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and message in page and "尚未保存" in page
    assert f'value="{typed}"' in page and "保留的评语" in page  # nothing typed is lost
    assert row(app, scoring["mine"]).saved_at is None


def test_full_width_digits_are_read(app, scoring):
    client = expert_client(app)
    r = post(client, f"/expert/reviews/{scoring['mine']}",
             {"version": "1", "score-industry_base": "１２．５", "action": "save"})
    assert r.status_code == 302
    assert row(app, scoring["mine"]).scores == {"industry_base": 12.5}


def test_submit_needs_every_score_and_the_overall_opinion(app, scoring):
    client = expert_client(app)
    url = f"/expert/reviews/{scoring['mine']}"
    partial = full_sheet(version="1", action="submit", overall="")
    partial.pop("score-green")
    r = post(client, url, partial)
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "请为“绿色发展”打分" in page and "请填写总体评价" in page
    assert "已暂存" in page  # saved as a draft, not submitted
    assert client.get(f"{url}/confirm").status_code == 302  # no confirmation for an incomplete sheet
    r = post(client, f"{url}/submit", {"version": "2"})
    assert r.status_code == 302
    saved = row(app, scoring["mine"])
    assert saved.submitted_at is None and saved.total is None and saved.saved_at is not None


def test_submit_once_after_a_confirmation_naming_the_total(app, scoring):
    client = expert_client(app)
    url = f"/expert/reviews/{scoring['mine']}"
    r = post(client, url, full_sheet(**{"score-industry_base": "13.5"}, version="1", action="submit"))
    assert r.status_code == 302 and r.headers["Location"].endswith(f"{url}/confirm")
    page = client.get(f"{url}/confirm").get_data(as_text=True)
    assert "总分：<strong>77.5</strong> 分（满分 100 分）" in page  # 13.5 + 8 × 8
    r = post(client, f"{url}/submit", {"version": "2"})
    assert r.status_code == 302
    home = client.get("/expert/").get_data(as_text=True)
    assert "评分已提交" in home and "已提交" in home and "77.5" in home
    done = row(app, scoring["mine"])
    assert done.total == 77.5 and done.submitted_at is not None
    with app.app_context():
        assert scheme_for(submission_of(ALLOY).edition, "preliminary").frozen_at is not None
        assert db.session.execute(db.select(AuditEntry).filter_by(action="review_submit")).scalar_one()

    # once: a second submit, a save and an autosave are refused, nothing changes
    r = post(client, f"{url}/submit", {"version": "3"})
    assert r.status_code == 302 and "评分已提交，不能再修改" in client.get(url).get_data(as_text=True)
    assert post(client, url, full_sheet(version="3", action="save")).status_code == 409
    assert post(client, f"{url}/autosave", full_sheet(version="3"), fetch=True).status_code == 409
    again = row(app, scoring["mine"])
    assert (again.total, again.submitted_at, again.version) == (77.5, done.submitted_at, done.version)


def test_a_declared_conflict_takes_the_report_off_the_list(app, scoring):
    client = expert_client(app)
    url = f"/expert/reviews/{scoring['mine']}"
    r = post(client, f"{url}/conflict", {"reason": ""})
    assert r.status_code == 422 and "请填写回避理由" in r.get_data(as_text=True)
    assert row(app, scoring["mine"]).status == "active"
    r = post(client, f"{url}/conflict", {"reason": "本人曾参与该集群发展规划的编制。"})
    assert r.status_code == 302
    home = client.get("/expert/").get_data(as_text=True)
    assert "已声明回避" in home and f"/expert/reviews/{scoring['mine']}" not in home
    assert client.get(url).status_code == 404
    assert client.get(f"/submissions/{scoring['a']}/report.pdf").status_code == 404
    ended = row(app, scoring["mine"])
    assert ended.status == "conflict" and ended.reason == "本人曾参与该集群发展规划的编制。" and ended.ended_at


def test_a_post_after_the_assignment_was_withdrawn_is_refused_and_nothing_saved(app, scoring):
    client = expert_client(app)
    url = f"/expert/reviews/{scoring['mine']}"
    assert client.get(url).status_code == 200  # the page open in the expert's browser
    with app.app_context():
        db.session.get(ReviewAssignment, scoring["mine"]).status = "withdrawn"
        db.session.commit()
    for path, fetch in ((url, False), (f"{url}/autosave", True), (f"{url}/submit", False),
                        (f"{url}/conflict", False)):
        r = post(client, path, full_sheet(version="1", action="save", reason="理由"), fetch=fetch)
        body = r.get_json()["error"] if fetch else r.get_data(as_text=True)
        assert r.status_code == 409 and "不再负责评审此报告" in body, path
    gone = row(app, scoring["mine"])
    assert gone.status == "withdrawn" and gone.saved_at is None and gone.scores == {} and gone.version == 1


def test_the_sheet_is_read_only_once_the_report_moved_on_or_the_deadline_passed(app, scoring):
    client = expert_client(app)
    url = f"/expert/reviews/{scoring['mine']}"
    with app.app_context():
        submission_of(ALLOY).state = "finalist"
        db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "已不在初赛评审阶段" in page and "提交评分</button>" not in page and "data-autosave-url" not in page
    assert post(client, url, full_sheet(version="1", action="save")).status_code == 409
    with app.app_context():
        submission_of(ALLOY).state = "preliminary"
        scheme_for(submission_of(ALLOY).edition, "preliminary").deadline = local_now() - timedelta(hours=1)
        db.session.commit()
    r = post(client, f"{url}/autosave", full_sheet(version="1"), fetch=True)
    assert r.status_code == 409 and "评审截止时间" in r.get_json()["error"]
    assert row(app, scoring["mine"]).saved_at is None


def submit_as(app, username, assignment_id, comment):
    client = expert_client(app, username)
    url = f"/expert/reviews/{assignment_id}"
    assert post(client, url, full_sheet(**{"comment-green": comment, "score-green": "9.5"}, version="1",
                                        action="submit")).status_code == 302
    assert post(client, f"{url}/submit", {"version": "2"}).status_code == 302


def test_an_expert_never_sees_another_experts_name_or_scores(app, scoring):
    with app.app_context():
        rival = make_expert("expert-rival", "衡阳市", "南华大学")
        rival.display_name = "王评审甲"
        db.session.commit()
        theirs = assign(submission_of(ALLOY), rival).id
    submit_as(app, "expert-rival", theirs, OTHER_COMMENT)  # total 73.5
    client = expert_client(app)
    for path in ("/expert/", f"/expert/reviews/{scoring['mine']}"):
        page = client.get(path).get_data(as_text=True)
        for secret in ("expert-rival", "王评审甲", "南华大学", OTHER_COMMENT, "73.5"):
            assert secret not in page, (path, secret)
    assert client.get(f"/expert/reviews/{theirs}").status_code == 404
    assert client.get(f"/expert/reviews/{theirs}/confirm").status_code == 404


def test_applicants_and_counties_see_nothing_of_the_review(app, scoring):
    submit_as(app, "expert-e", scoring["mine"], OTHER_COMMENT)
    pages = {"applicant-a": ["/applicant/", "/applicant/review", "/applicant/history", "/messages"],
             "county-x": ["/county/", f"/county/submissions/{scoring['a']}", "/messages"]}
    for username, paths in pages.items():
        client = expert_client(app, username)
        for path in paths:
            page = client.get(path).get_data(as_text=True)
            for secret in ("expert-e", "湘潭大学", OTHER_COMMENT, "73.5", "评分", "评审专家"):
                assert secret not in page, (username, path, secret)
        assert client.get("/expert/").status_code == 403


def test_a_draft_above_a_lowered_maximum_cannot_be_submitted(app, scoring):
    """The administrator may change a maximum until the first score is submitted: the saved draft is
    checked again at submit, not trusted."""
    client = expert_client(app)
    url = f"/expert/reviews/{scoring['mine']}"
    assert post(client, url, full_sheet(**{"score-industry_base": "14"}, version="1", action="save")).status_code == 302
    with app.app_context():
        scheme = scheme_for(submission_of(ALLOY).edition, "preliminary")
        scheme.dimensions = [{**d, "max": 10} if d["key"] == "industry_base" else d for d in scheme.dimensions]
        db.session.commit()
    assert client.get(f"{url}/confirm").status_code == 302
    r = post(client, f"{url}/submit", {"version": "2"})
    assert r.status_code == 302 and "最高 10 分" not in r.get_data(as_text=True)
    assert "未填写完整或有误" in client.get(url).get_data(as_text=True)
    assert row(app, scoring["mine"]).submitted_at is None
