"""The step list's statuses are kept per submission and round (report/checks.py, issue #25), and
the main navigation per role and page (base.html, web/templating.once): what a page shows must
still follow every change — a save, an answer written directly, another submission, another
application root — and never another user's or another page's."""
import re

from sqlalchemy import update

from factories import ALLOY, csrf_from, submission_of
from fill import complete_answers, step_data
from wizard.extensions import db
from wizard.models import Submission
from wizard.report.checks import TYPED, _STATUSES, step_status, step_statuses
from wizard.report.definition import get_report


def statuses(client, step="plan") -> dict:
    """{step title: status} of the step page's sidebar."""
    page = client.get(f"/applicant/step/{step}").get_data(as_text=True)
    nav = re.search(r'<nav class="wizard-steps".*?</nav>', page, re.S).group(0)
    return dict(re.findall(r'\d+\. ([^<]+?) <span class="status status-([a-z-]+)">', nav))


def save_step(client, key, data):
    page = client.get(f"/applicant/step/{key}")
    version = re.search(r'name="version"[^>]*value="(\d+)"', page.get_data(as_text=True)).group(1)
    r = client.post(f"/applicant/step/{key}", data={"csrf_token": csrf_from(page), "version": version,
                                                    "action": "save", **data})
    assert r.status_code in (200, 302), r.status_code


def title(key):
    return get_report("preliminary").step(key).title


def test_a_save_and_an_answer_written_directly_change_the_statuses(app, client, auth, people):
    auth.login("applicant-a")
    before = statuses(client)
    assert before and set(before.values()) <= {"not-started", "optional"}, before
    assert statuses(client) == before  # the kept statuses: the same page again
    save_step(client, "plan", step_data("preliminary", "plan"))
    after = statuses(client)
    assert after[title("plan")] not in ("not-started", "error")
    assert {k: v for k, v in after.items() if k != title("plan")} == \
        {k: v for k, v in before.items() if k != title("plan")}
    # written on the object, not saved by the form: the version stays, the statuses follow
    with app.app_context():
        sub = submission_of(ALLOY)
        version = sub.version
        sub.preliminary_answers = {}
        db.session.commit()
    assert statuses(client) == before
    with app.app_context():
        sub = submission_of(ALLOY)
        assert sub.version == version
        sub.preliminary_answers = {"lead_unit": "湖南省新材料产业促进中心",
                                   TYPED: {"lead_unit": {"posted": [["lead_unit", "x"]], "errors": ["有误"]}}}
        db.session.commit()
    assert statuses(client)[title("plan")] == "error"


def test_a_row_written_anew_with_the_same_version_is_checked_anew(app, client, auth, people):
    """A database restored from a backup (or rebuilt) may hold the same id and version with other
    answers: its saved time tells them apart."""
    auth.login("applicant-a")
    with app.app_context():
        sub = submission_of(ALLOY)
        sid, version, saved_at = sub.id, sub.version, sub.updated_at
        sub.preliminary_answers = complete_answers("preliminary", sub.cluster.category)
        db.session.commit()
    full = statuses(client)
    assert "not-started" not in full.values()
    with app.app_context():  # not through the ORM: no event; only the saved time differs
        db.session.execute(update(Submission).where(Submission.id == sid)
                           .values(preliminary_answers={}, version=version,
                                   updated_at=saved_at.replace(microsecond=(saved_at.microsecond + 1) % 1000000))
                           .execution_options(synchronize_session=False))
        db.session.commit()
    blank = statuses(client)
    assert set(blank.values()) <= {"not-started", "optional"}, blank


def test_the_kept_statuses_are_each_submissions_own(app, client, auth, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary", sub.cluster.category)
        db.session.commit()
    auth.login("applicant-a")
    assert "not-started" not in statuses(client).values()
    auth.logout()
    auth.login("applicant-b")
    assert set(statuses(client).values()) <= {"not-started", "optional"}


def test_the_kept_statuses_equal_the_checks(app, people):
    """For a blank, a complete and a broken report: the statuses kept (asked twice) are those
    the checks give step by step."""
    with app.app_context():
        sub = submission_of(ALLOY)
        category, years = sub.cluster.category, sub.edition.years
        broken = complete_answers("preliminary", category)
        broken.pop("industry_field", None)
        broken["top10"] = broken["top10"] * 20  # over the row limit: an error
        for answers in ({}, complete_answers("preliminary", category), broken):
            sub.preliminary_answers = answers
            db.session.commit()
            expected = [(s, step_status("preliminary", s, answers, category, years))
                        for s in get_report("preliminary").steps]
            assert step_statuses(sub, "preliminary") == expected
            assert (sub.id, "preliminary") in _STATUSES
            assert step_statuses(sub, "preliminary") == expected
        assert {status for _, status in expected} >= {"error", "in-progress"}


def nav_of(page: str) -> str:
    return re.search(r'<nav class="main-nav".*?</nav>', page, re.S).group(0)


def test_the_navigation_follows_the_role_the_page_and_the_root(app, client, auth, people):
    auth.login("applicant-a")
    tasks = nav_of(client.get("/applicant/").get_data(as_text=True))
    assert re.search(r'href="/applicant/" aria-current="page">填报任务', tasks)
    review = nav_of(client.get("/applicant/review").get_data(as_text=True))
    assert re.search(r'href="/applicant/review" aria-current="page">检查与提交', review)
    assert 'href="/applicant/" aria-current' not in review
    step = nav_of(client.get("/applicant/step/plan").get_data(as_text=True))
    assert re.search(r'href="/applicant/" aria-current="page">填报任务', step)
    # behind a proxy's prefix: every link carries it, and the page without it keeps none
    rooted = client.get("/applicant/", base_url="http://localhost/portal").get_data(as_text=True)
    assert 'href="/portal/applicant/review"' in nav_of(rooted) and 'href="/portal/static/css/app.css"' in rooted
    assert 'href="/applicant/review"' in nav_of(client.get("/applicant/").get_data(as_text=True))
    auth.logout()
    auth.login("admin")
    admin = nav_of(client.get("/admin/").get_data(as_text=True))
    assert "申报管理" in admin and "填报任务" not in admin


def test_kept_blocks_are_bounded_by_their_size_not_only_their_number(app):
    """A round comparison's tables are about 150 kB each: blocks kept by web/templating.once must
    not grow a worker's memory past its bound however many large ones are shown."""
    import uuid

    from wizard.web.templating import once
    rendered, tag = [], f"bounded-test-{uuid.uuid4()}"  # the cache is the process's: a key of this run's own

    def block(n):
        def caller():
            rendered.append(n)
            return "表" * 1_000_000
        return caller

    with app.test_request_context("/"):
        once(tag, 0, caller=block(0))
        once(tag, 0, caller=block(0))
        assert rendered == [0]  # kept: the same key again is not rendered again
        for n in range(1, 12):  # 11 M characters more than the first
            once(tag, n, caller=block(n))
        once(tag, 0, caller=block(0))
    assert rendered.count(0) == 2, "a block kept past the size bound (the cache grew with the blocks' size)"
