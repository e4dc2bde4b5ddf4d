"""A page of one submission reads what it shows once (issue #25): one query of the evidence list
feeds the files, what is still missing and every step's badge; an autosave reads the submission
once.  And what that one read feeds is never stale: a file stored or removed on a step changes the
badges and the review's list on the very next page."""
import io
import re

import pytest

from builders import pdf_bytes
from factories import ALLOY, attach_declarations, csrf_from, sql_of, submission_of, submitted
from fill import complete_answers, step_data
from wizard.extensions import db


def evidence_reads(statements):
    return [s for s in statements if s.startswith("select") and "from evidence_file" in s]


def fill_alloy(app):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary", sub.cluster.category)
        db.session.commit()


@pytest.mark.parametrize("path", ["/applicant/", "/applicant/step/indicators", "/applicant/step/evidence",
                                  "/applicant/review"])
def test_an_applicant_page_reads_the_evidence_list_once(app, client, auth, people, path):
    fill_alloy(app)
    auth.login("applicant-a")
    r, statements = sql_of(app, client, "GET", path)
    assert r.status_code == 200
    assert len(evidence_reads(statements)) == 1, evidence_reads(statements)


@pytest.mark.parametrize("who,prefix", [("admin", "/admin/submissions"), ("county-x", "/county/submissions")])
def test_a_reviewers_submission_page_reads_the_evidence_list_once(app, client, auth, people, who, prefix):
    with app.app_context():
        sub_id = submitted().id
    auth.login(who)
    r, statements = sql_of(app, client, "GET", f"{prefix}/{sub_id}")
    assert r.status_code == 200 and "长沙新型合金材料产业集群" in r.get_data(as_text=True)
    assert len(evidence_reads(statements)) == 1, evidence_reads(statements)


def test_an_autosave_reads_the_submission_once_and_still_saves(app, client, auth, people):
    auth.login("applicant-a")
    page = client.get("/applicant/step/plan")
    version = re.search(r'name="version"[^>]*value="(\d+)"', page.get_data(as_text=True)).group(1)
    r, statements = sql_of(app, client, "POST", "/applicant/step/plan",
                           data={"csrf_token": csrf_from(page), "version": version, "fields": "lead_unit",
                                 "lead_unit": "湖南省新材料产业促进中心"},
                           headers={"X-Requested-With": "fetch"})
    assert r.status_code == 200 and r.get_json()["ok"], r.get_data(as_text=True)
    reads = [s for s in statements if s.startswith("select") and "from submission" in s]
    assert len(reads) == 1, reads
    assert "湖南省新材料产业促进中心" in client.get("/applicant/step/plan").get_data(as_text=True)


def token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def badge_of(page: str, step_key: str) -> str:
    """The sidebar / task list badge text of one step."""
    m = re.search(rf'href="/applicant/step/{step_key}"[^>]*>.*?</span>', page, re.S)
    assert m, step_key
    return re.sub(r"<[^>]+>", " ", m.group(0))


def test_a_file_stored_or_removed_shows_in_the_badges_and_the_review_at_once(app, client, auth, people):
    """What one page reads once is read anew by the next: never a badge from before the upload."""
    fill_alloy(app)
    with app.app_context():
        sub = submission_of(ALLOY)
        attach_declarations(sub, rounds=("preliminary",))
        db.session.commit()
        filled = step_data("preliminary", "indicators", sub.cluster.category)  # posted as the page holds it
    auth.login("applicant-a")
    slot = "listed_enterprises"
    page = client.get("/applicant/step/indicators").get_data(as_text=True)
    assert "份佐证材料" not in badge_of(page, "indicators")
    with app.app_context():  # remove the file of one row marked 需提供佐证材料 the applicant filled in
        from wizard.evidence.storage import files_of
        row_id = next(r.id for r in files_of(submission_of(ALLOY), "preliminary") if r.slot == slot)
    version = re.search(r'name="version"[^>]*value="(\d+)"', page).group(1)
    r = client.post("/applicant/step/indicators", data={**filled, "csrf_token": token(page), "version": version,
                                                        "evidence_action": f"remove:{row_id}"})
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "缺 1 份佐证材料" in badge_of(page, "indicators")
    assert "缺 1 份佐证材料" in badge_of(client.get("/applicant/").get_data(as_text=True), "indicators")
    assert "请上传佐证材料" in client.get("/applicant/review").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', page).group(1)
    r = client.post("/applicant/step/indicators", data={
        **filled, "csrf_token": token(page), "version": version, "action": "upload",
        f"evidence-{slot}": [(io.BytesIO(pdf_bytes(2)), "上市公告.pdf")]})
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "份佐证材料" not in badge_of(page, "indicators")
    assert "请上传佐证材料" not in client.get("/applicant/review").get_data(as_text=True)
