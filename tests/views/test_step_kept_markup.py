"""Step pages are written from markup kept per process (report/view.py: the one-line inputs, the
grid rows, the table rows and heads, the evidence slots' upload rows; report/forms.ShownValues):
what is kept comes from the definition alone, so one applicant's values, errors and files never
show on another's page, and a change of what the definition is filled with (the edition's years)
shows on the next page."""
import re

import pytest

from factories import ALLOY, LINXIANG, AuthActions, csrf_from, submission_of
from wizard.extensions import db
from wizard.models import Edition

NASTY = '<b>"合金"&\'A\'</b>'


def version_of(page_html):
    return re.search(r'name="version"[^>]*value="(\d+)"', page_html).group(1)


def logged_in(app, username):
    client = app.test_client()
    AuthActions(client).login(username)
    return client


def post_step(client, key, data):
    page = client.get(f"/applicant/step/{key}")
    payload = {"csrf_token": csrf_from(page), "version": version_of(page.get_data(as_text=True)),
               "action": "save", **data}
    return client.post(f"/applicant/step/{key}", data=payload)


def value_of(page_html, name):
    """The value attribute of the input named ``name`` (as written: escaped)."""
    m = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', page_html)
    return m.group(1) if m else None


@pytest.fixture
def two(app, people):
    with app.app_context():
        submission_of(ALLOY), submission_of(LINXIANG)
    return logged_in(app, "applicant-a"), logged_in(app, "applicant-b")


def test_two_applicants_rendered_alternately_keep_their_own_values(app, two):
    a, b = two
    for client, revenue, text, row in ((a, "11.5", NASTY, "甲公司"), (b, "22.75", "临湘浮标", "乙公司")):
        r = post_step(client, "indicators", {"revenue-y1": revenue, "revenue-y2": "30"})
        assert r.status_code == 302, r.status_code
        r = post_step(client, "basic", {"org_head": text})
        assert r.status_code == 302, r.status_code
        r = post_step(client, "green", {"green_list-0-name": row})
        assert r.status_code == 302, r.status_code
    for _ in range(2):  # alternately, twice: nothing of one page stays for the next
        for client, revenue, other, text, row, other_row in (
                (a, "11.5", "22.75", "&lt;b&gt;&#34;合金&#34;&amp;&#39;A&#39;&lt;/b&gt;", "甲公司", "乙公司"),
                (b, "22.75", "11.5", "临湘浮标", "乙公司", "甲公司")):
            page = client.get("/applicant/step/indicators").get_data(as_text=True)
            assert value_of(page, "revenue-y1") == revenue
            assert f'value="{other}"' not in page
            page = client.get("/applicant/step/basic").get_data(as_text=True)
            assert value_of(page, "org_head") == text
            page = client.get("/applicant/step/green").get_data(as_text=True)
            assert value_of(page, "green_list-0-name") == row
            assert other_row not in page


def test_the_errors_of_one_request_do_not_show_on_the_next_page(app, two):
    a, b = two
    r = post_step(a, "indicators", {"revenue-y1": "一百<x>", "revenue-y2": "30"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'id="f-revenue" class="has-error"' in page and 'aria-invalid="true"' in page
    assert value_of(page, "revenue-y1") == "一百&lt;x&gt;"
    for path in ("/applicant/step/indicators", "/applicant/step/basic"):
        page = b.get(path).get_data(as_text=True)
        assert "has-error" not in page and 'aria-invalid="true"' not in page and "error-message" not in page
        assert "一百" not in page
    r = post_step(a, "indicators", {"revenue-y1": "100", "revenue-y2": "30"})  # fixed: saved
    assert r.status_code == 302
    page = a.get("/applicant/step/indicators").get_data(as_text=True)
    assert "has-error" not in page and value_of(page, "revenue-y1") == "100"


def test_a_change_of_the_edition_years_shows_on_the_next_page(app, two):
    a, _ = two
    with app.app_context():
        years = db.session.execute(db.select(Edition).filter_by(is_current=True)).scalar_one().years
    old, new = years["y1"], years["y1"] + 10
    page = a.get("/applicant/step/indicators").get_data(as_text=True)
    assert f"{old}年" in page and f"{new}年" not in page
    page = a.get("/applicant/step/green").get_data(as_text=True)
    assert f"{old}年" in page
    with app.app_context():
        edition = db.session.execute(db.select(Edition).filter_by(is_current=True)).scalar_one()
        edition.target_year_1 += 10
        edition.data_year_2 += 10
        edition.data_year_1 += 10
        db.session.commit()
    for key in ("indicators", "green", "innovation"):
        page = a.get(f"/applicant/step/{key}").get_data(as_text=True)
        assert f"{new}年" in page, key
        assert f"{old}年" not in page, key
