"""Every route × every kind of user, from the URL map.

Eight actors: anonymous, the applicant who owns submission A, another applicant, the county
reviewer of A's region, a county reviewer of another region, an administrator, the expert
assigned to score A and an expert assigned to nothing.  The
expected outcome of each endpoint comes from ENDPOINTS below (or BLUEPRINT_RULES where a
whole blueprint has one rule); a new endpoint that is in neither makes the tests fail, so
no route ships without a decision about who may use it.

Outcomes: anonymous → login page (the page itself for PUBLIC); wrong role → 403; right
role, object out of scope → 404; allowed → anything but 403/404/5xx (an empty POST gets
a 4xx with a Chinese message, never a crash).  The same walk checks that no GET changes
anything in the database, for any route and any kind of user (issue #20: one pass, not two).
"""
import re

import pytest

from urlmap import ACTORS, Actor, crawl, expectation


def test_every_endpoint_is_classified(app):
    missing = sorted({rule.endpoint for rule in app.url_map.iter_rules() if expectation(rule.endpoint) is None})
    assert not missing, "\n".join(
        f"classify new endpoint {e}: add it to ENDPOINTS in tests/urlmap.py" for e in missing)


@pytest.mark.shared_pdf_cache  # the PDFs are only fetched: one render per worker, not one per actor
@pytest.mark.parametrize("actor", list(ACTORS))
def test_access_matrix(app, world, actor):
    """Every rule and method of the URL map, as this actor, against the table; and no GET changes
    anything (bare and with a search query: every table but the audit log and the login counts
    holds what it held).  One walk (urlmap.crawl) does both."""
    failures, gets, checked = crawl(app, world, actor)
    assert not failures, "\n".join(failures)
    assert checked >= 25 and gets >= 20


@pytest.mark.fresh_app  # two pages compared byte for byte: nothing another test left in a shared app
@pytest.mark.parametrize("actor", ["other_applicant", "county_other", "expert_other"])
def test_out_of_scope_ids_look_like_missing_ones(app, world, actor):
    """A 404 for someone else's submission reads exactly like the 404 for an id that does not exist."""
    browser = Actor(app, actor)
    base = "/county/submissions/{}" if actor.startswith("county") else "/evidence/{}"
    key = "submission_id" if actor.startswith("county") else "file_id"
    theirs = browser.client.get(base.format(world[key]))
    missing = browser.client.get(base.format(987654))
    assert theirs.status_code == missing.status_code == 404

    def strip(html):  # the request's number, and the CSRF token (signed with the second it was made)
        html = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', html)
        return re.sub(r"请求编号：\w+", "", html)

    assert strip(theirs.get_data(as_text=True)) == strip(missing.get_data(as_text=True))
