"""Every page a user may open is reached by clicking: each role's pages are walked from its home
by following <a href> links only (same-site GETs; downloads are fetched only to check their
content type).  The walk must reach the report PDF, the applicant's declaration page and the
blank templates, and every GET rule of the URL map the role may open (tests/urlmap.py), except
the few below.  The expert's walk starts at its task list and reaches the report it scores,
the report's files and PDF and its own 专家评分表.  Also: the receipt after submitting shows the snapshot's 校验码."""
import io
import re
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from pypdf import PdfReader
from werkzeug.exceptions import HTTPException

from factories import ALLOY, attach, attach_declarations, submission_of
from fill import complete_answers
from urlmap import ACTORS, OK, Actor, expectation
from wizard.evidence.storage import DECLARATION_SCAN
from wizard.extensions import db
from wizard.models import to_local
from wizard.report.definition import CODE_LABEL
from wizard.workflow.snapshots import latest_snapshot
from wizard.workflow.states import ROUNDS

# Pages a role may open that no link leads to, and why (a page nobody can find is a defect:
# add a link rather than an entry here).
EXEMPT = {
    # the applicant downloads the same report from applicant.report_pdf (/applicant/report.pdf)
    "owner": {"main.report_pdf_of"},
    "county_own": set(),
    "admin": set(),
    # the confirmation before submitting scores follows 提交评分 (a POST that saves first), never a link
    "expert": {"expert.confirm"},
}
DOWNLOADS = ("application/pdf", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
MAX_PER_ENDPOINT = 40  # pages of one endpoint (e.g. each submission's page) walked at most


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def links_of(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.hrefs


def same_site(href: str) -> str | None:
    """The path and query of a link to this site, else None."""
    parts = urlsplit(urldefrag(href)[0])
    if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def walk(app, client, start) -> dict:
    """endpoint → {url: (status, mimetype)} of every page and download reached from ``start``
    (downloads: the first two of each route); ``reached["<linked>"]``: every link seen."""
    adapter = app.url_map.bind("localhost")
    reached, queue, seen = {"<linked>": {}}, [start], set()
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        try:
            endpoint, _ = adapter.match(urlsplit(url).path, method="GET")
        except HTTPException:
            reached.setdefault("<no route>", {})[url] = (404, "")
            continue
        pages = reached.setdefault(endpoint, {})
        downloading = any(word in endpoint for word in ("pdf", "xlsx", "export", "download", "declaration"))
        if len(pages) >= (len(ROUNDS) if downloading else MAX_PER_ENDPOINT):
            continue  # two files per download route (both blank templates) show it is reached
        r = client.get(url)
        pages[url] = (r.status_code, r.mimetype)
        if r.status_code in (301, 302, 303):
            queue.append(same_site(r.headers["Location"]))
        elif r.mimetype == "text/html":
            linked = [u for u in map(same_site, links_of(r.get_data(as_text=True))) if u]
            reached["<linked>"].update(dict.fromkeys(linked, (None, "")))
            queue += linked
    return reached


def reached_files(reached, endpoint, mimetype="application/pdf"):
    return {url for url, (status, mime) in reached.get(endpoint, {}).items() if status == 200 and mime == mimetype}


@pytest.mark.pdf  # downloads the blank templates (the render consumer)
@pytest.mark.shared_pdf_cache  # downloads checked for status and type only: one render per worker
def test_anonymous_reaches_the_blank_templates_from_the_login_page(app):
    reached = walk(app, app.test_client(), "/login")
    assert reached_files(reached, "main.blank_pdf") == {f"/report/blank/{r}.pdf" for r in ROUNDS}


@pytest.mark.shared_pdf_cache  # downloads checked for status and type only: one render per worker
@pytest.mark.parametrize("actor", ["owner", "county_own", "admin", "expert"])
def test_every_page_of_a_role_is_reached_by_links(app, world, actor):
    with app.app_context():  # a file in a real slot, so that the report pages list (and link) it
        attach(submission_of(ALLOY), DECLARATION_SCAN)
    browser = Actor(app, actor)
    reached = walk(app, browser.client, "/")
    broken = {url: status for pages in reached.values() for url, (status, _) in pages.items() if (status or 0) >= 400}
    assert not broken, broken
    for endpoint, pages in reached.items():
        for url, (status, mime) in pages.items():
            assert status != 200 or mime in ("text/html", *DOWNLOADS), (url, mime)
    assert reached_files(reached, "evidence.download", "application/pdf")

    # the PDFs this issue is about
    if actor == "owner":
        assert reached_files(reached, "applicant.report_pdf")
        assert reached_files(reached, "applicant.declaration")
        assert reached_files(reached, "applicant.submitted_pdf")
        assert reached_files(reached, "main.blank_pdf") == {f"/report/blank/{r}.pdf" for r in ROUNDS}
    else:
        assert reached_files(reached, "main.report_pdf_of")
        assert f"/submissions/{world['submission_id']}/report.pdf" in reached["<linked>"]
    if actor == "admin":
        assert reached_files(reached, "results.snapshot_pdf")
    if actor == "expert":  # the report to score, its files, and the expert's own 专家评分表 to sign
        assert f"/expert/reviews/{world['assignment_id']}" in reached["expert.report"]
        assert reached_files(reached, "sheets.score_sheet_pdf")

    # every GET page the role may open (the table of tests/urlmap.py)
    allowed = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods
               and isinstance(expectation(rule.endpoint), dict) and expectation(rule.endpoint)[actor] == OK}
    missing = sorted(allowed - set(reached) - EXEMPT[actor])
    assert not missing, f"{ACTORS[actor]}: no link leads to {missing}"
    assert not EXEMPT[actor] & set(reached), "an exempted page is linked now: drop it from EXEMPT"


@pytest.mark.pdf  # renders the report (the render consumer)
def test_submit_shows_a_receipt_with_the_snapshot_code(app, client, auth, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary")
        db.session.commit()
        attach_declarations(sub)
        version = sub.version
    auth.login("applicant-a")
    r = client.post("/applicant/submit", data={"csrf_token": auth.csrf("/applicant/review"), "version": version})
    assert r.status_code == 302 and r.headers["Location"].endswith("/applicant/submitted")
    page = client.get(r.headers["Location"])
    html = page.get_data(as_text=True)
    with app.app_context():
        snap = latest_snapshot(submission_of(ALLOY), "preliminary")
        code, created = snap.code, snap.created_at
    assert page.status_code == 200 and "报告已提交" in html
    assert re.search(rf"{CODE_LABEL}</th><td><strong[^>]*>{code}</strong>", html)
    assert to_local(created).strftime("%Y年%m月%d日 %H:%M") in html  # Beijing time (stored in UTC)
    assert "/applicant/submitted.pdf" in links_of(html)
    pdf = client.get("/applicant/submitted.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = re.sub(r"\s+", "", "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf.data)).pages))
    assert f"{CODE_LABEL}：{code}" in text and "草稿" not in text
    # the task list links to the receipt later on
    assert "/applicant/submitted" in links_of(client.get("/applicant/").get_data(as_text=True))


def test_receipt_before_any_submit_goes_back_to_the_task_list(app, client, auth, people):
    auth.login("applicant-a")
    r = client.get("/applicant/submitted")
    assert r.status_code == 302 and r.headers["Location"].endswith("/applicant/")
    assert client.get("/applicant/submitted.pdf").status_code == 404
