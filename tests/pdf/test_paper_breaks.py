"""Page breaks of the printed report (issue 23, item 15), measured: a table of up to
8 rows (5.1's five targets) is never split, and a section heading keeps at least 3 rows of its
table on its page, wherever the text before it ends (4.2's answer is made longer line by line).
Read with tests/pdfread.py (PDFium, pdfplumber's text conventions): only text is measured here."""
import re

import pytest

from pdfread import open_pdf
from factories import ALLOY, submission_of
from fill import complete_answers
from wizard.extensions import db
from wizard.pdf.report import report_pdf
from wizard.report.definition import get_report

# deterministic documents read, never a render counted: renders are shared by content (conftest)
pytestmark = pytest.mark.shared_pdf_cache

LINE = "集群促进组织推进集群发展的工作与成效说明文字。" * 2  # about one printed line


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def rows_below(page, heading, labels):
    """The labels (first 8 characters) printed on ``page`` below the heading."""
    below = page.crop((0, heading["bottom"], page.width, page.height))
    text = squash(below.extract_text() or "")
    return [label for label in labels if squash(label)[:8] in text]


def check_grids(pdf, report):
    with open_pdf(pdf) as doc:
        for section in report.sections:
            if section.layout not in ("indicators", "targets") or not section.heading:
                continue
            labels = [f.label for f in section.fields]
            hits = [(page, m) for page in doc.pages for m in page.search(section.heading)
                    if m["x0"] < 100]
            assert hits, section.heading
            page, heading = hits[0]
            found = rows_below(page, heading, labels)
            wanted = labels if len(labels) <= 8 else labels[:3]
            assert [x for x in wanted if x not in found] == [], (section.heading, page.page_number, len(found))


@pytest.mark.parametrize("extra", range(0, 12, 1))
def test_small_tables_stay_whole_and_headings_keep_three_rows(app, extra):
    report = get_report("preliminary")
    with app.app_context(), app.test_request_context():
        sub = submission_of(ALLOY)
        answers = complete_answers("preliminary")
        answers["org_operation"] = LINE * (4 + 2 * extra)  # 5.1 moves down the page a line at a time
        sub.preliminary_answers = answers
        db.session.commit()
        pdf = report_pdf(sub, "preliminary")
    check_grids(pdf, report)
