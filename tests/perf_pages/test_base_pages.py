"""What every page reads first stays right while it got cheaper (issue #25): the step page
loads the answers of the round the report's state lets the applicant edit (chosen in SQL, the
states compared one by one), and the evidence list, read as plain rows on the session's
connection, still includes a file this request stored but has not committed."""
from factories import ALLOY, submission_of
from wizard.evidence.storage import DECLARATION_SCAN, listed_files
from wizard.extensions import db
from wizard.models import EvidenceFile

PRELIMINARY, FINAL = "初赛填写的产业领域甲", "决赛填写的产业领域乙"


def set_state(app, state):
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = {**(sub.preliminary_answers or {}), "industry_field": PRELIMINARY}
        sub.final_answers = {**(sub.final_answers or {}), "industry_field": FINAL}
        sub.state = state
        db.session.commit()


def test_a_step_shows_the_answers_of_the_round_being_written(app, client, auth, people):
    auth.login("applicant-a")
    set_state(app, "draft")
    page = client.get("/applicant/step/basic").get_data(as_text=True)
    assert PRELIMINARY in page and FINAL not in page
    set_state(app, "finalist")
    page = client.get("/applicant/step/basic").get_data(as_text=True)
    assert FINAL in page and PRELIMINARY not in page


def test_the_evidence_list_includes_a_file_stored_in_this_request(app, people):
    with app.test_request_context("/applicant/step/declaration"):
        sub = submission_of(ALLOY)
        before = {r.id for r in listed_files(sub, "preliminary")}
        row = EvidenceFile(submission_id=sub.id, round="preliminary", slot=DECLARATION_SCAN, position=99,
                           original_name="承诺书.pdf", stored_name="not-on-disk", kind="pdf", size=10, pages=2,
                           sha256="0" * 64)
        db.session.add(row)  # stored, not yet flushed nor committed (an upload earlier in the request)
        listed = listed_files(sub, "preliminary")
        assert [r.original_name for r in listed if r.id not in before] == ["承诺书.pdf"]
        db.session.rollback()


def test_a_reviewers_page_shows_the_round_the_report_is_in_and_the_comparison_both(app, client, auth, people):
    """The page of one submission loads the current round's answers with it, the other round's
    only when read: the administrator sees the final report, and the comparison both rounds."""
    set_state(app, "final_submitted")
    with app.app_context():
        sid = submission_of(ALLOY).id
    auth.login("admin", follow=True)
    page = client.get(f"/admin/submissions/{sid}").get_data(as_text=True)
    assert FINAL in page and PRELIMINARY not in page
    compared = client.get(f"/admin/submissions/{sid}/compare").get_data(as_text=True)
    assert FINAL in compared and PRELIMINARY in compared
    set_state(app, "submitted")
    page = client.get(f"/admin/submissions/{sid}").get_data(as_text=True)
    assert PRELIMINARY in page and FINAL not in page
