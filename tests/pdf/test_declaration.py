"""The declaration page alone (打印真实性声明页), read back with PDFium (tests/pdfread.py; pypdf for
the page count); the blank templates from the login page without logging in; the CLI refusing a
final report that does not exist yet."""
import io
import re

import pytest
from pypdf import PdfReader

from pdfread import plain_text
from factories import ALLOY, submission_of
from fill import complete_answers
from wizard.extensions import db
from wizard.pdf.declaration import declaration_section
from wizard.report.definition import UNIT_SEAL, get_report
from wizard.workflow.states import ROUNDS


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def read(pdf: bytes):
    return PdfReader(io.BytesIO(pdf)), squash(plain_text(pdf))


def test_declaration_page_has_the_names_the_text_and_room_to_sign(app, client, auth, people):
    with app.app_context():
        sub = submission_of(ALLOY)
        answers = complete_answers("preliminary")
        answers["park_name"] = "长沙经济技术开发区"
        sub.preliminary_answers = answers
        db.session.commit()
    auth.login("applicant-a")
    r = client.get("/applicant/declaration.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    reader, text = read(r.data)
    assert len(reader.pages) == 1  # the page that is signed, sealed and scanned
    section = declaration_section(get_report("preliminary"))
    first_sentence = section.note.split("。")[0]
    assert squash(first_sentence) in text
    assert ALLOY in text and "长沙经济技术开发区" in text
    signers = [f for f in section.fields if f.kind_of.one_line]
    assert len(signers) == 2
    for field in signers:
        assert squash(field.print_label) in text, field.print_label
    assert text.count(squash(UNIT_SEAL)) == 2  # one seal per signature
    agree = next(f for f in section.fields if f.kind == "agree")
    assert squash(agree.label) not in text  # no 是/否 line on the page to sign
    assert "草稿" not in text  # the signed page carries no draft watermark


def test_declaration_of_an_empty_draft_still_names_the_cluster(app, client, auth, people):
    auth.login("applicant-a")
    r = client.get("/applicant/declaration.pdf")
    reader, text = read(r.data)
    assert len(reader.pages) == 1 and ALLOY in text


def test_declaration_needs_an_applicant(app, client, auth, people):
    assert client.get("/applicant/declaration.pdf").status_code == 302  # to the login page
    auth.login("county-x")
    assert client.get("/applicant/declaration.pdf").status_code == 403


@pytest.mark.shared_pdf_cache  # the blank templates of test_paper.py, rendered once per worker
def test_blank_templates_download_from_the_login_page_without_logging_in(app, client):
    page = client.get("/login").get_data(as_text=True)
    links = re.findall(r'href="(/report/blank/[^"]+\.pdf)"', page)
    assert sorted(links) == sorted(f"/report/blank/{r}.pdf" for r in ROUNDS)
    for link in links:
        r = client.get(link)
        assert r.status_code == 200 and r.mimetype == "application/pdf", link
        _, text = read(r.data)
        assert squash(get_report(link.split("/")[-1][:-4]).title) in text


def test_cli_refuses_a_final_report_before_the_final_round(app, runner, tmp_path):
    with app.app_context():
        sid = submission_of(ALLOY).id  # a draft of the preliminary round, no final snapshot
    out = tmp_path / "final.pdf"
    r = runner.invoke(args=["pdf", str(sid), "--round", "final", "-o", str(out)])
    assert r.exit_code != 0
    assert "尚未进入决赛" in r.output
    assert not out.exists()
    r = runner.invoke(args=["pdf", str(sid), "--round", "preliminary", "-o", str(out)])
    assert r.exit_code == 0, r.output
