"""The official prompts in the filled report (issue 23, item 13): the guidance of every narrative
(2.8, 3.2, 4.1, 4.2 and 5.2's five parts), with its length limit, is printed from the definition
above the answer, smaller than the answer, so a reader of the print sees what was asked.  Read
with tests/pdfread.py (PDFium, pdfplumber's conventions)."""
import pytest

from pdfread import open_pdf
from factories import ALLOY, submission_of
from fill import complete_answers
from wizard.extensions import db
from wizard.pdf.report import report_pdf
from wizard.report.definition import get_report

# a deterministic document read, never a render counted: the filled report of test_paper.py, shared
# by content (conftest)
pytestmark = pytest.mark.shared_pdf_cache


def test_each_narrative_prints_its_prompt_smaller_above_its_answer(app):
    report = get_report("preliminary")
    with app.app_context(), app.test_request_context():
        sub = submission_of(ALLOY)
        answers = complete_answers("preliminary")
        sub.preliminary_answers = answers
        db.session.commit()
        pdf = report_pdf(sub, "preliminary")
    narratives = [f for f in report.fields if f.kind == "longtext"]
    assert len(narratives) == 9
    with open_pdf(pdf) as doc:
        def find(text):
            return [(i, m) for i, page in enumerate(doc.pages) for m in page.search(text)]

        for f in narratives:
            lines = [ln for ln in f.guidance.split("\n") if ln.strip()]
            prompt = find(lines[0][:14])
            assert prompt, f.key
            start = len(f.name)  # "<name>：集群发展良好。" × 5: its own, not the heading nor another's
            answer = find(answers[f.key][max(0, start - 6):start + 6])
            assert answer, f.key
            (pi, pm), (ai, am) = prompt[0], answer[0]
            assert (pi, pm["top"]) < (ai, am["top"]), f.key  # the prompt above the answer
            psize = doc.pages[pi].crop((pm["x0"], pm["top"], pm["x1"], pm["bottom"])).chars[0]["size"]
            asize = doc.pages[ai].crop((am["x0"], am["top"], am["x1"], am["bottom"])).chars[0]["size"]
            assert psize < asize, (f.key, psize, asize)  # smaller, as on the form
            if f.max_chars:
                assert find(lines[-1][-8:]) or str(f.max_chars) in lines[0], f.key  # the limit's line too
