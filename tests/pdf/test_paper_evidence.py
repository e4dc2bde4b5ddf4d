"""Evidence pages bound after the report (issue 23, item 14), read back with PDFium and pypdf:
each carries the cluster's name and the report's 校验码 beside its 佐证材料第 N 页, so a loose page
can be traced to its report; a draft's evidence pages carry the 草稿 watermark as its report pages
do; the bound PDF keeps the report's Title, Author and Subject.  Characters are read with
tests/pdfread.py (PDFium, pdfplumber's conventions)."""
import io
import re

from pypdf import PdfReader

from pdfread import open_pdf
from factories import ALLOY, attach, submission_of, submitted
from fill import complete_answers
from wizard.extensions import db
from wizard.pdf.report import report_pdf, verification_code
from wizard.report.definition import ATTACHMENTS, CODE_LABEL, DRAFT_WATERMARK, get_report


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def evidence_pages(pdf: bytes, n: int):
    with open_pdf(pdf) as doc:
        return [(squash("".join(c["text"] for c in p.chars if c["size"] < 30)),
                 "".join(c["text"] for c in p.chars if c["size"] > 100)) for p in doc.pages[-n:]]


def test_draft_evidence_pages_carry_the_name_the_code_and_the_watermark(app):
    with app.app_context(), app.test_request_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary")
        db.session.commit()
        attach(sub, "org_documents", name="营业执照.pdf", pages=2)
        code, _ = verification_code(sub, "preliminary")
        pdf = report_pdf(sub, "preliminary")
    pages = evidence_pages(pdf, 2)
    for n, (text, big) in enumerate(pages, 1):
        assert squash(ALLOY) in text and f"{CODE_LABEL}：{code}" in text and f"佐证材料第{n}页" in text
        assert big == DRAFT_WATERMARK  # the draft's mark, as large as on the report's pages
    meta = PdfReader(io.BytesIO(pdf)).metadata
    report = get_report("preliminary")
    assert meta.title and report.title in meta.title and meta.author == ALLOY
    assert meta.subject and ATTACHMENTS["preliminary"] in meta.subject


def test_submitted_evidence_pages_carry_the_snapshot_code_and_no_watermark(app, people):
    with app.app_context(), app.test_request_context():
        sub = submitted(ALLOY)
        code, frozen = verification_code(sub, "preliminary")
        pdf = report_pdf(sub, "preliminary")
    assert frozen
    text, big = evidence_pages(pdf, 1)[0]
    assert squash(ALLOY) in text and f"{CODE_LABEL}：{code}" in text
    assert big == ""
    assert PdfReader(io.BytesIO(pdf)).metadata.author == ALLOY
