"""What every page of one submission loads (issue #25): the applicant's submission comes with
its edition in one statement (no query for the current edition first, none for the edition's
years or deadline afterwards), a reviewer's submission page reads the edition with the
submission, and the statements that do so are built once per role.  Built once, they hold no
user's values: every user still gets their own submission (or a 404), and what the pages read
from the edition is read anew on every request."""
from datetime import timedelta

import pytest

from factories import ALLOY, LINXIANG, age_session, sql_of, submission_of
from wizard.extensions import db
from wizard.models import Edition, local_now


def statements_of(app, client, path):
    """(response, the SQL statements one GET makes, lower case)."""
    return sql_of(app, client, "GET", path)


def edition_reads(statements):
    """Statements that read the edition table on its own (not joined to the submission)."""
    return [s for s in statements if s.startswith("select") and "from edition" in s and "submission" not in s]


@pytest.mark.parametrize("path", ["/applicant/", "/applicant/step/indicators", "/applicant/review"])
def test_an_applicant_page_reads_the_submission_and_its_edition_in_one_statement(app, client, auth, people, path):
    auth.login("applicant-a")
    r, statements = statements_of(app, client, path)
    assert r.status_code == 200
    assert edition_reads(statements) == []
    assert len([s for s in statements if s.startswith("select") and "from submission" in s]) == 1


@pytest.mark.parametrize("who,prefix", [("admin", "/admin/submissions"), ("county-x", "/county/submissions")])
def test_a_reviewers_submission_page_reads_the_edition_with_the_submission(app, client, auth, people, who, prefix):
    with app.app_context():
        sub_id = submission_of(ALLOY).id
    auth.login(who)
    r, statements = statements_of(app, client, f"{prefix}/{sub_id}")
    assert r.status_code == 200 and ALLOY in r.get_data(as_text=True)
    assert edition_reads(statements) == []


def test_each_applicant_gets_their_own_submission_from_the_statement_built_once(app, client, auth, people):
    auth.login("applicant-a")
    page = client.get("/applicant/step/basic").get_data(as_text=True)
    assert ALLOY in page and LINXIANG not in page
    auth.logout()
    auth.login("applicant-b")  # the same statements, built for applicant A's request, run for B
    for path in ("/applicant/step/basic", "/applicant/"):
        page = client.get(path).get_data(as_text=True)
        assert LINXIANG in page and ALLOY not in page, path


def test_a_county_reviewer_still_sees_only_its_region_after_another_built_the_statement(app, client, auth, people):
    with app.app_context():
        alloy, linxiang = submission_of(ALLOY).id, submission_of(LINXIANG).id
    auth.login("county-x")  # 长沙市: builds the county's statement with its region
    assert client.get(f"/county/submissions/{alloy}").status_code == 200
    assert client.get(f"/county/submissions/{linxiang}").status_code == 404
    auth.logout()
    auth.login("county-y")  # 临湘市: the same statement, its own region
    assert client.get(f"/county/submissions/{linxiang}").status_code == 200
    assert client.get(f"/county/submissions/{alloy}").status_code == 404


def test_a_change_to_the_edition_shows_on_the_next_page(app, client, auth, people):
    """The years and the deadline come with the submission on every request: never from before."""
    auth.login("applicant-a")
    with app.app_context():
        years = submission_of(ALLOY).edition.years
    page = client.get("/applicant/step/indicators").get_data(as_text=True)
    assert f"{years['y1']}年" in page
    with app.app_context():
        edition = submission_of(ALLOY).edition
        edition.data_year_1, edition.data_year_2, edition.target_year_1 = 2031, 2032, 2033
        db.session.commit()
    page = client.get("/applicant/step/indicators").get_data(as_text=True)
    assert "2031年" in page and "2032年" in page
    with app.app_context():  # the deadline passes: the step is read-only at once
        submission_of(ALLOY).edition.preliminary_deadline = local_now() - timedelta(hours=1)
        db.session.commit()
    r = client.get("/applicant/step/indicators")
    assert r.status_code == 302 and r.headers["Location"].endswith("/applicant/review")
    assert "已过" in client.get(r.headers["Location"]).get_data(as_text=True)
    with app.app_context():  # extended for this submission: writable again
        submission_of(ALLOY).deadline_override = local_now() + timedelta(days=3)
        db.session.commit()
    assert client.get("/applicant/step/indicators").status_code == 200


def test_a_new_current_edition_is_followed_at_once(app, client, auth, people):
    """The applicant's report is the current edition's: once another edition is made current,
    the wizard has no report to show (and shows the old one again when it is current again)."""
    auth.login("applicant-a")
    assert client.get("/applicant/").status_code == 200
    with app.app_context():
        old = submission_of(ALLOY).edition
        db.session.add(Edition(name="下一届", data_year_1=2030, data_year_2=2031, target_year_1=2032,
                               is_current=old.is_current))
        old.is_current = False
        db.session.commit()
    assert client.get("/applicant/").status_code == 404
    with app.app_context():
        newest = db.session.execute(db.select(Edition).order_by(Edition.id.desc())).scalars().first()
        newest.is_current = False
        submission_of(ALLOY).edition.is_current = True
        db.session.commit()
    assert client.get("/applicant/").status_code == 200


def session_cookies(response):
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]


def test_the_session_cookie_is_sent_again_only_when_the_session_changes(app, client, auth, people):
    """Not re-signed on every page; still renewed with the idle stamp, so the login lasts."""
    auth.login("applicant-a")
    client.get("/applicant/")
    assert session_cookies(client.get("/applicant/")) == []
    age_session(client, idle=app.config["SESSION_IDLE_TIMEOUT"] - timedelta(minutes=2))
    r = client.get("/applicant/")
    assert r.status_code == 200 and session_cookies(r)  # the idle stamp renewed: the cookie with it
    age_session(client, idle=app.config["SESSION_IDLE_TIMEOUT"] - timedelta(minutes=2))
    assert client.get("/applicant/").status_code == 200  # still logged in


def test_an_expired_session_still_ends_without_a_cookie_on_every_page(app, client, auth, people):
    auth.login("applicant-a")
    age_session(client, idle=app.config["SESSION_IDLE_TIMEOUT"] + timedelta(minutes=1))
    r = client.get("/applicant/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert client.get("/applicant/").status_code == 302  # the session is gone, not just that request
