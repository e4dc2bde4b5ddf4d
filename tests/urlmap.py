"""The URL map as the security tests walk it: who may use each endpoint, a browser per actor,
a real value for every URL parameter, the check of one response against the table, and the walk
(`crawl`) that checks every route as one actor against the table and every GET for changing
nothing in the database, in one pass."""
import re

import pytest
from sqlalchemy import text

from factories import AuthActions, csrf_from
from wizard.extensions import db

ACTORS = {
    "anonymous": None,
    "owner": "applicant-a",          # owns submission A (长沙新型合金材料产业集群, 长沙市)
    "other_applicant": "applicant-b",
    "county_own": "county-x",        # 长沙市: A's reviewer
    "county_other": "county-y",      # 临湘市
    "admin": "admin",
    "expert": "expert-e",            # 评审专家 of 湘潭市, assigned to score A's preliminary report
    "expert_other": "expert-other",  # 评审专家 of 株洲市, assigned to nothing
}
OK, FORBIDDEN, NOT_FOUND, PUBLIC = "allowed", 403, 404, "public"


def _expect(owner, other_applicant, county_own, county_other, admin, expert=FORBIDDEN, expert_other=FORBIDDEN):
    """The outcome per actor; experts get 403 unless a column says otherwise (their blueprint and
    the few shared routes that scope by assignment)."""
    return {"owner": owner, "other_applicant": other_applicant, "county_own": county_own,
            "county_other": county_other, "admin": admin, "expert": expert, "expert_other": expert_other}


EVERY_USER = _expect(OK, OK, OK, OK, OK, OK, OK)
ADMIN_ONLY = _expect(FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK)
APPLICANTS = _expect(OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN)       # each applicant sees its own submission
COUNTIES = _expect(FORBIDDEN, FORBIDDEN, OK, OK, FORBIDDEN)
COUNTY_OF_A = _expect(FORBIDDEN, FORBIDDEN, OK, NOT_FOUND, FORBIDDEN)
REVIEWERS_OF_A = _expect(FORBIDDEN, FORBIDDEN, OK, NOT_FOUND, OK)
WHO_SEES_A = _expect(OK, NOT_FOUND, OK, NOT_FOUND, OK, OK, NOT_FOUND)  # experts: through their assignment
# the applicant's own latest submitted report: A has a snapshot, B (never submitted) gets 404
SUBMITTERS = _expect(OK, NOT_FOUND, FORBIDDEN, FORBIDDEN, FORBIDDEN)
EXPERTS = _expect(FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, OK)
# an expert's own assignment (to A): the other expert gets 404, as for an id that does not exist
EXPERT_OF_A = _expect(FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, NOT_FOUND)
# a paper of one expert (expert_id = expert E): the administrator and that expert only
OWN_SHEET = _expect(FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, OK, NOT_FOUND)

# Endpoint → who may use it.  Add every new endpoint here (or to BLUEPRINT_RULES).
ENDPOINTS = {
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": EVERY_USER,
    "auth.change_password": EVERY_USER,
    "profile.edit": EVERY_USER,
    "profile.forgot": PUBLIC,  # password reset by e-mail (issue #26)
    "profile.reset": PUBLIC,
    "main.index": EVERY_USER,
    "main.messages": EVERY_USER,
    "main.mark_read": EVERY_USER,
    "main.blank_pdf": PUBLIC,  # the blank templates are linked from the login page
    "main.report_pdf_of": WHO_SEES_A,
    "main.move": REVIEWERS_OF_A,
    "applicant.tasks": APPLICANTS,
    "applicant.step": APPLICANTS,
    "applicant.review": APPLICANTS,
    "applicant.submit": APPLICANTS,
    "applicant.history": APPLICANTS,
    "applicant.report_pdf": APPLICANTS,
    "applicant.declaration": APPLICANTS,
    "applicant.submitted": APPLICANTS,  # without a snapshot: back to the task list
    "applicant.submitted_pdf": SUBMITTERS,
    "county.queue": COUNTIES,
    "county.summary_export": COUNTIES,  # each reviewer's own region only (tests/exports/test_summary.py)
    "county.submission": COUNTY_OF_A,
    "evidence.download": WHO_SEES_A,
    "expert.home": EXPERTS,
    "expert.report": EXPERT_OF_A,
    "expert.autosave": EXPERT_OF_A,
    "expert.confirm": EXPERT_OF_A,
    "expert.submit": EXPERT_OF_A,
    "expert.conflict": EXPERT_OF_A,
    "sheets.score_sheet_pdf": OWN_SHEET,
    "sheets.ranking_pdf": ADMIN_ONLY,  # 评审结果汇总表: experts too get 403
    "sheets.scores_xlsx": ADMIN_ONLY,
}
# Blueprints whose every endpoint has one rule (their before_request enforces the role and
# administrators see every submission, so there is no scope to get wrong).
BLUEPRINT_RULES = {"workbook": APPLICANTS, "admin": ADMIN_ONLY, "results": ADMIN_ONLY, "deadlines": ADMIN_ONLY, "audit": ADMIN_ONLY, "verify": ADMIN_ONLY,
                   "review": ADMIN_ONLY, "sheets": ADMIN_ONLY,
                   "accounts": ADMIN_ONLY}  # issue #26: account workbook, resets, bulk actions, the Excel list

# Views that end the session they are called with (the matrix logs in again afterwards).
ENDS_SESSION = {"auth.logout"}


def expectation(endpoint):
    if endpoint in ENDPOINTS:
        return ENDPOINTS[endpoint]
    return BLUEPRINT_RULES.get(endpoint.split(".", 1)[0])


def param_values(ids):
    """A real value for every URL parameter name a rule may take (objects belong to submission A)."""
    return {**ids, "step_key": "basic", "round_": "preliminary", "category": "advanced", "filename": "css/app.css",
            "token": "not-a-valid-link"}


def build_url(rule, values):
    url = rule.rule
    for arg in rule.arguments:
        if arg not in values:
            pytest.fail(f"URL parameter <{arg}> of {rule.rule} ({rule.endpoint}) has no value: add a real id for it "
                        f"(belonging to submission A) to the `world` fixture (conftest.py) / param_values() in "
                        f"tests/urlmap.py")
        url = re.sub(r"<(?:[a-z]+:)?%s>" % arg, str(values[arg]), url)
    return url


def routes(app):
    """(rule, method) for every rule and method of the URL map (HEAD/OPTIONS follow GET)."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def has_chinese(text):
    return re.search(r"[\u4e00-\u9fff]", text) is not None


class Actor:
    """A browser of one actor: logged in, with a CSRF token for its POSTs."""

    def __init__(self, app, name):
        self.name, self.username = name, ACTORS[name]
        self.client = app.test_client()
        self.auth = AuthActions(self.client)
        self.login()

    def login(self):
        if self.username:
            r = self.auth.login(self.username)
            assert r.status_code == 302, f"{self.username} could not log in"
            self.token = self.auth.csrf()
        else:
            self.token = csrf_from(self.client.get("/login"))

    def request(self, method, url):
        data = {"csrf_token": self.token} if method != "GET" else None
        return self.client.open(url, method=method, data=data)


def check(actor, rule, method, response, expected):
    """None when the response is what the table expects, else a line for the failure list."""
    code = response.status_code
    body = response.get_data().decode("utf-8", "replace") if response.mimetype.startswith("text/") else ""
    where = f"{method} {rule.rule} [{rule.endpoint}] as {actor}"
    location = response.headers.get("Location", "")
    if code >= 500:
        return f"{where}: {code} server error"
    h = response.headers
    csp = h.get("Content-Security-Policy", "")
    if not ("frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
            and "unsafe-inline" not in csp and h.get("X-Frame-Options") == "DENY"
            and h.get("X-Content-Type-Options") == "nosniff" and h.get("Referrer-Policy")):
        return f"{where}: security headers missing"
    if rule.endpoint != "static" and "no-store" not in h.get("Cache-Control", ""):
        return f"{where}: a page that may hold private data can be cached (no Cache-Control: no-store)"
    if actor == "anonymous" and expected != PUBLIC:
        # a GET goes to the login page; a POST that could be input kept for an expired login is
        # refused outright when no user's session stands behind it (issue #11)
        ok = code == 302 and "/login" in location or (method != "GET" and code == 400 and has_chinese(body))
        return None if ok else f"{where}: expected a redirect to the login page, got {code} {location}"
    if expected == FORBIDDEN:
        return None if code == 403 and "没有权限" in body else f"{where}: expected 403, got {code}"
    if expected == NOT_FOUND:
        return None if code == 404 and "页面不存在" in body else f"{where}: expected 404, got {code}"
    # allowed (or a public page)
    if code in (403, 404):
        return f"{where}: expected to be allowed, got {code}"
    if code >= 400 and not has_chinese(body):
        return f"{where}: {code} without a Chinese message"
    if code == 302 and "/login" in location and rule.endpoint not in ENDS_SESSION and actor != "anonymous":
        return f"{where}: allowed user was sent to the login page"
    return None


# --- the walk: access and "a GET changes nothing" in one pass ----------------------------------------

#: tables a GET may write on purpose: downloads and exports are audited, logins counted
EXPECTED_GET_WRITES = {"audit_entry", "login_attempt"}
#: the query string every GET is sent with a second time (a page, a search, a code, the flags a redirect sets)
SEARCH_QUERY = {"page": "2", "q": "合金", "code": "ABCDEF012345", "changed": "1", "saved": "1"}


def _digest_sql():
    """One statement: (table, every row of it as text, sorted) for every table of the models but
    EXPECTED_GET_WRITES — the database does the dump, the test compares two short lists."""
    postgres = db.engine.dialect.name == "postgresql"
    parts = []
    for table in db.metadata.sorted_tables:
        if table.name in EXPECTED_GET_WRITES:
            continue
        name = f'"{table.name}"'
        if postgres:
            rows = f"(SELECT md5(coalesce(string_agg(t::text, chr(10) ORDER BY t::text), '')) FROM {name} t)"
        else:
            row = " || ',' || ".join(f'quote("{c.name}")' for c in table.columns)
            rows = f"(SELECT group_concat(r, char(10)) FROM (SELECT {row} AS r FROM {name} ORDER BY r))"
        parts.append(f"SELECT '{table.name}', {rows}")
    return " UNION ALL ".join(parts)


def table_digests(app):
    """table → its rows (every column, sorted) as the database holds them now; every table but
    EXPECTED_GET_WRITES."""
    with app.app_context():
        digests = dict(db.session.execute(text(_digest_sql())).all())
        db.session.rollback()
    return digests


def crawl(app, world, actor):
    """Every rule and method of the URL map as ``actor``, in one pass; returns (failures, GETs checked,
    rules and methods checked).

    GETs first, on the world as the fixture made it: each GET rule is asked for bare (its answer
    checked against the table) and with SEARCH_QUERY (never a 500), and after each of the two the
    database must hold what it held before (every table but EXPECTED_GET_WRITES): a change is a
    failure naming the GET, the query and the actor.  Then every other method with an empty form
    and the CSRF token, against the table (logging in again after a view that ends the session)."""
    values = param_values(world)
    browser = Actor(app, actor)
    failures, gets, checked = [], 0, 0
    before = table_digests(app)
    for rule, method in sorted(routes(app), key=lambda rm: rm[1] != "GET"):  # stable: the map's order within each
        expected = expectation(rule.endpoint)
        if expected is None:
            failures.append(f"classify new endpoint {rule.endpoint}: add it to ENDPOINTS in tests/urlmap.py")
            continue
        wanted = PUBLIC if expected == PUBLIC else (None if actor == "anonymous" else expected[actor])
        url = build_url(rule, values)
        checked += 1
        if method != "GET":
            failures.append(check(actor, rule, method, browser.request(method, url), wanted))
            if rule.endpoint in ENDS_SESSION and actor != "anonymous":
                browser.login()
            continue
        gets += 1
        for query in ({}, SEARCH_QUERY):
            response = browser.client.get(url, query_string=query)
            if not query:
                failures.append(check(actor, rule, method, response, wanted))
            elif response.status_code >= 500:
                failures.append(f"GET {url} {query} as {actor}: {response.status_code} server error")
            after = table_digests(app)
            changed = [t for t in before if before[t] != after[t]]
            if changed:
                failures.append(f"GET {url} {query or ''} as {actor} changed {', '.join(changed)}")
                before = after
    return [f for f in failures if f], gets, checked
