"""The reviewers' pages keep what does not change between two views (issue #25): the report's
body and its review lists under a name of the answers (report/fragments.known_answers,
checks.shown_answers_identity), the expert's report under its snapshot, the round comparison's
full table under the submission's row (web/templating.once).  What a page shows must still follow
every change — a save, a move, answers written on the object, the cluster's name, another
submission — and a page seen twice is the same page."""
import html
import re

from sqlalchemy import update

from factories import ALLOY, LINXIANG, sql_of, submission_of, submitted, user_named
from fill import complete_answers
from review.helpers import assign
from wizard.extensions import db
from wizard.models import Submission
from wizard.report.checks import consistency_warnings, report_problems, review_checks, shown_answers_identity
from wizard.report.fragments import known_answers
from wizard.report.view import effective_answers
from wizard.workflow.moves import apply_move

ROUND = "preliminary"
MARK = '<b>甲 & "乙"</b>'


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))


def gaps(page: str) -> int:
    """The page's count of gaps (报告尚有 N 项未填写完整), 0 when it says none."""
    found = re.search(r"报告尚有 (\d+) 项未填写完整", page)
    return int(found.group(1)) if found else 0


def write_answers(app, cluster=ALLOY, **changes):
    """Answers written on the object (a script, a test): the version and the time stay."""
    with app.app_context():
        sub = submission_of(cluster)
        version = sub.version
        sub.preliminary_answers = {**sub.preliminary_answers, **changes}
        db.session.commit()
        assert sub.version == version
        return sub.id


def test_the_county_and_admin_pages_follow_answers_written_on_the_object(app, client, auth, people):
    with app.app_context():
        sid = submitted().id
        saved = dict(submission_of(ALLOY).preliminary_answers)
        key = next(k for k, v in saved.items() if isinstance(v, str) and len(v) > 20)
    for user, path in (("county-x", f"/county/submissions/{sid}"), ("admin", f"/admin/submissions/{sid}")):
        auth.login(user, follow=True)
        first = without_tokens(client.get(path))
        assert without_tokens(client.get(path)) == first  # the kept body and lists: the same page
        assert gaps(text_of(client.get(path))) == 0
        write_answers(app, **{key: MARK + user})
        response = client.get(path)
        assert MARK + user in text_of(response) and MARK not in response.get_data(as_text=True)
        write_answers(app, **{key: "", "above_scale_enterprises": {"y1": "999999", "y2": "999999"}})
        page = text_of(client.get(path))
        assert gaps(page) >= 1 and "形式审查提示" in page and MARK + user not in page
        write_answers(app, **{key: saved[key], "above_scale_enterprises": saved["above_scale_enterprises"]})
        assert gaps(text_of(client.get(path))) == 0
        auth.logout()


def test_a_returned_and_resubmitted_report_shows_its_new_answers(app, client, auth, people):
    with app.app_context():
        sub = submitted()
        sid = sub.id
        key = next(k for k, v in sub.preliminary_answers.items() if isinstance(v, str) and len(v) > 20)
    auth.login("admin", follow=True)
    before = client.get(f"/admin/submissions/{sid}").get_data(as_text=True)
    with app.app_context():
        sub = db.session.get(Submission, sid)
        apply_move(sub, "county_return", user_named("county-x"), comment="请补充。")
        db.session.execute(update(Submission).where(Submission.id == sid)  # as a save writes it
                           .values(preliminary_answers={**sub.preliminary_answers, key: "修改后的内容"},
                                   version=Submission.version + 1))
        db.session.commit()
        apply_move(db.session.get(Submission, sid), "submit", user_named("applicant-a"))
    after = text_of(client.get(f"/admin/submissions/{sid}"))
    assert "修改后的内容" in after and "修改后的内容" not in before
    auth.logout()
    auth.login("county-x", follow=True)
    assert "修改后的内容" in text_of(client.get(f"/county/submissions/{sid}"))


def test_the_clusters_name_shows_where_the_report_takes_it_by_default(app, client, auth, people):
    """A field pre-filled with the cluster's name (never saved) follows a renamed cluster."""
    with app.app_context():
        sid = submitted().id
    auth.login("admin", follow=True)
    client.get(f"/admin/submissions/{sid}")
    with app.app_context():
        sub = db.session.get(Submission, sid)
        sub.cluster.name = "改名后的集群 <新>"
        db.session.commit()
    page = client.get(f"/admin/submissions/{sid}").get_data(as_text=True)
    assert "改名后的集群 &lt;新&gt;" in page


def test_each_submission_shows_its_own_report(app, client, auth, people):
    with app.app_context():
        a, b = submitted().id, submitted(LINXIANG, "applicant-b").id
    write_answers(app, industry_field="甲集群的产业领域")
    auth.login("admin", follow=True)
    assert "甲集群的产业领域" in text_of(client.get(f"/admin/submissions/{a}"))
    assert "甲集群的产业领域" not in text_of(client.get(f"/admin/submissions/{b}"))


def test_the_kept_review_lists_equal_the_checks_and_are_each_callers_own(app, people):
    with app.test_request_context():
        sub = submission_of(ALLOY)
        broken = complete_answers(ROUND, sub.cluster.category)
        broken.pop("industry_field", None)
        broken["above_scale_enterprises"] = {"y1": "999999", "y2": "999999"}
        for answers in ({}, complete_answers(ROUND, sub.cluster.category), broken):
            sub.preliminary_answers = answers
            db.session.commit()
            shown = effective_answers(sub, ROUND)
            expected = (report_problems(ROUND, shown, sub.cluster.category, sub.edition.years),
                        consistency_warnings(ROUND, shown, sub.edition.years))
            assert review_checks(sub, ROUND, shown) == expected  # not named: checked
            known_answers(shown, shown_answers_identity(sub, ROUND))
            first = review_checks(sub, ROUND, shown)
            assert first == expected
            for p in first[0] + first[1]:
                p["message"] = "changed by a caller"
            first[0].append({"message": "added by a caller"})
            assert review_checks(sub, ROUND, shown) == expected  # kept, unchanged by the caller
        assert expected[0] and expected[1]


def test_an_unsaved_change_on_the_object_has_no_name(app, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        name = shown_answers_identity(sub, ROUND)
        assert name is not None and shown_answers_identity(sub, ROUND) == name
        sub.preliminary_answers = {"industry_field": "x"}
        assert shown_answers_identity(sub, ROUND) is None
        db.session.commit()
        assert shown_answers_identity(sub, ROUND) not in (None, name)


def test_the_expert_sees_the_latest_submitted_report(app, client, auth, people):
    with app.app_context():
        sub = submitted()
        sid = sub.id
        assignment = assign(sub, user_named("expert-e")).id
        key = next(k for k, v in sub.preliminary_answers.items() if isinstance(v, str) and len(v) > 20)
    auth.login("expert-e", follow=True)
    first = without_tokens(client.get(f"/expert/reviews/{assignment}"))
    assert without_tokens(client.get(f"/expert/reviews/{assignment}")) == first
    assert "重新提交的内容" not in first
    with app.app_context():
        sub = db.session.get(Submission, sid)
        apply_move(sub, "county_return", user_named("county-x"), comment="请补充。")
        db.session.execute(update(Submission).where(Submission.id == sid)
                           .values(preliminary_answers={**sub.preliminary_answers, key: "重新提交的内容 <新>"},
                                   version=Submission.version + 1))
        db.session.commit()
        apply_move(db.session.get(Submission, sid), "submit", user_named("applicant-a"))
    page = client.get(f"/expert/reviews/{assignment}").get_data(as_text=True)
    assert "重新提交的内容 &lt;新&gt;" in page


def without_tokens(response) -> str:
    """The page with its CSRF tokens blanked (each is signed anew)."""
    return re.sub(r'(name="csrf_token"[^>]*? value=")[^"]*"', r'\1"', response.get_data(as_text=True))


def test_the_round_comparison_follows_the_final_report(app, client, auth, people):
    with app.app_context():
        sub = submitted()
        apply_move(sub, "county_approve", user_named("county-x"), comment="同意推荐参赛。")
        apply_move(sub, "accept", user_named("admin"))
        apply_move(sub, "advance", user_named("admin"))
        sid = sub.id
    auth.login("admin", follow=True)
    path = f"/admin/submissions/{sid}/compare"
    first = without_tokens(client.get(path))
    assert without_tokens(client.get(path)) == first
    assert "决赛新写的产业领域" not in first
    with app.app_context():  # written as a save writes it: the version goes up
        row = db.session.get(Submission, sid)
        db.session.execute(update(Submission).where(Submission.id == sid)
                           .values(final_answers={**row.final_answers, "industry_field": "决赛新写的产业领域 <b>"},
                                   version=Submission.version + 1))
        db.session.commit()
    shown = client.get(path).get_data(as_text=True)
    changed, full = shown.split('<details class="card compare-all">')
    assert "决赛新写的产业领域 &lt;b&gt;" in full  # the full table, kept before the change
    assert "决赛新写的产业领域 &lt;b&gt;" in changed.split('class="card compare-changes"')[1]  # and the changed fields
    assert "决赛新写的产业领域" in text_of(client.get(path + "?changed=1"))


def test_the_experts_second_view_reads_no_snapshot_answers(app, client, auth, people):
    """The kept body stands for the snapshot's answers: the page reads them only to write it."""
    with app.app_context():
        sub = submitted()
        assignment = assign(sub, user_named("expert-e")).id
    auth.login("expert-e", follow=True)
    path = f"/expert/reviews/{assignment}"
    _, first = sql_of(app, client, "GET", path)
    r, second = sql_of(app, client, "GET", path)
    reads = [s for s in first if "snapshot.answers" in s]
    assert reads, first  # written the first time: read
    assert r.status_code == 200 and not [s for s in second if "snapshot.answers" in s], second
    assert "长沙新型合金材料产业集群" in text_of(r)


def return_and_resubmit(sid, key, value):
    """The county returns the report; the applicant saves ``key`` (as a save writes it) and submits."""
    sub = db.session.get(Submission, sid)
    apply_move(sub, "county_return", user_named("county-x"), comment="请补充。")
    db.session.execute(update(Submission).where(Submission.id == sid)
                       .values(preliminary_answers={**sub.preliminary_answers, key: value},
                               version=Submission.version + 1))
    db.session.commit()
    apply_move(db.session.get(Submission, sid), "submit", user_named("applicant-a"))


def test_the_countys_changes_since_the_return_follow_each_resubmission(app, client, auth, people):
    with app.app_context():
        sub = submitted()
        sid = sub.id
        key = next(k for k, v in sub.preliminary_answers.items() if isinstance(v, str) and len(v) > 20)
        return_and_resubmit(sid, key, "第一次修改 <甲>")
    auth.login("county-x", follow=True)
    path = f"/county/submissions/{sid}"
    first = without_tokens(client.get(path))
    assert without_tokens(client.get(path)) == first
    changes = first.split('id="changes"')[1].split("</section>")[0]
    assert "第一次修改 &lt;甲&gt;" in changes
    with app.app_context():
        return_and_resubmit(sid, key, "第二次修改 <乙>")
    changes = client.get(path).get_data(as_text=True).split('id="changes"')[1].split("</section>")[0]
    assert "第二次修改 &lt;乙&gt;" in changes and "第一次修改 &lt;甲&gt;" in changes  # before | after


def to_do(page: str) -> int:
    """The review page's count of what blocks submitting (提交前还需处理 N 项)."""
    found = re.search(r"提交前还需处理 (\d+) 项", page)
    return int(found.group(1)) if found else 0


def test_the_applicants_review_page_follows_every_save_and_write(app, client, auth, people):
    """The applicant's own review page names its answers too (views/shared.shown_answers): seen
    twice it is the same page, and a save through the wizard, answers written on the object and a
    row updated with a new version each show at once, with the gaps counted anew."""
    auth.login("applicant-a", follow=True)  # the welcome message shown
    first = without_tokens(client.get("/applicant/review"))
    assert without_tokens(client.get("/applicant/review")) == first
    before = to_do(first)
    assert before > 0
    page = client.get("/applicant/step/plan")
    version = re.search(r'name="version"[^>]*value="(\d+)"', page.get_data(as_text=True)).group(1)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    saved = client.post("/applicant/step/plan", data={"csrf_token": token, "version": version, "action": "save",
                                                      "lead_unit": "湖南省新材料产业促进中心"})
    assert saved.status_code in (200, 302)
    shown = client.get("/applicant/review")
    assert "湖南省新材料产业促进中心" in text_of(shown) and to_do(shown.get_data(as_text=True)) == before - 1
    write_answers(app, lead_unit=MARK)  # on the object: the version stays
    shown = client.get("/applicant/review")
    assert MARK in text_of(shown) and MARK not in shown.get_data(as_text=True)
    with app.app_context():
        sub = submission_of(ALLOY)
        db.session.execute(update(Submission).where(Submission.id == sub.id).values(
            preliminary_answers={**sub.preliminary_answers, "lead_unit": "第三次写入"}, version=sub.version + 1))
        db.session.commit()
    assert "第三次写入" in text_of(client.get("/applicant/review"))
