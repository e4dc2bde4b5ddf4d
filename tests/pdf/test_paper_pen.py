"""Paper that is sealed and dated by hand (issue 23, items 10 and 11), measured:
the county box of 一、 keeps （盖章） and a 4 cm square of free room for the seal once the county
has approved, with the typed opinion and the date; every blank 年 月 日 (the county box, 6.1 of
the report, the declaration page) leaves room to write the year, the month and the day.
Read with tests/pdfread.py (PDFium, in pdfplumber's conventions)."""
from datetime import datetime, timezone

import pytest

from pdfread import open_pdf
from factories import ALLOY, submitted, user_named
from wizard.pdf.declaration import declaration_pdf
from wizard.pdf.report import report_pdf
from wizard.report.definition import DATE_BLANK, SEAL, get_report
from wizard.workflow.moves import apply_move

# deterministic documents read, never a render counted: renders are shared by content (conftest)
pytestmark = pytest.mark.shared_pdf_cache

CM = 72 / 2.54
MM = CM / 10
OPINION = "经审核，该集群符合参赛条件，材料真实，同意推荐参加初赛。"
YEAR, MONTH, DAY = DATE_BLANK.split()


def text_chars(page):
    """The page's characters without the 草稿 watermark (drawn at 150 pt)."""
    return [c for c in page.chars if c["size"] < 30 and c["text"].strip()]


def blank_dates(page):
    """Every blank 年 月 日 of the page: (年, 月, 日, the characters left of 年 on its line)."""
    chars = text_chars(page)
    found = []
    for year in (c for c in chars if c["text"] == YEAR):
        line = sorted((c for c in chars if abs(c["top"] - year["top"]) < 2), key=lambda c: c["x0"])
        right = [c for c in line if c["x0"] > year["x0"]]
        if len(right) < 2 or [c["text"] for c in right[:2]] != [MONTH, DAY]:
            continue  # a typed date (2026年12月7日) or other text
        found.append((year, right[0], right[1], [c for c in line if c["x1"] <= year["x0"]]))
    return found


def assert_room_to_write(page, dates):
    for year, month, day, before in dates:
        rules = [ln["x0"] for ln in page.lines if ln["width"] < 1 and ln["top"] < year["top"] < ln["bottom"]
                 and ln["x0"] < year["x0"]]
        left = max([c["x1"] for c in before] + rules + [0])
        assert year["x0"] - left >= 12 * MM, ("年", (year["x0"] - left) / MM)
        assert month["x0"] - year["x1"] >= 8 * MM, ("月", (month["x0"] - year["x1"]) / MM)
        assert day["x0"] - month["x1"] >= 8 * MM, ("日", (day["x0"] - month["x1"]) / MM)


def test_every_blank_date_of_the_report_and_the_template_leaves_room_to_write(app, people):
    with app.app_context(), app.test_request_context():
        draft = report_pdf(submitted(ALLOY), "preliminary")  # not approved yet: the county box is blank
        blank = report_pdf(None, "preliminary", blank=True)
    for pdf in (draft, blank):
        with open_pdf(pdf, rules=True) as doc:
            dates = [(page, d) for page in doc.pages for d in blank_dates(page)]
            assert len(dates) == 3  # the county box and the two signers of 6.1
            for page, d in dates:
                assert_room_to_write(page, [d])


def test_the_declaration_page_leaves_room_to_write_both_dates(app, people):
    with app.app_context(), app.test_request_context():
        pdf = declaration_pdf(submitted(ALLOY), "preliminary")
    with open_pdf(pdf, rules=True) as doc:
        dates = blank_dates(doc.pages[0])
        assert len(dates) == 2
        assert_room_to_write(doc.pages[0], dates)


def approved_report(app):
    """The alloy cluster's report, submitted and approved by its county with an opinion."""
    with app.app_context(), app.test_request_context():
        sub = submitted(ALLOY)
        apply_move(sub, "county_approve", user_named("county-x"), comment=OPINION,
                   now=datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc))
        return report_pdf(sub, "preliminary"), sub.opinions["preliminary"]["by"]


def test_county_box_after_approval_keeps_the_seal_mark_and_room_for_a_4cm_seal(app, people):
    pdf, government = approved_report(app)
    label = next(f.label for f in get_report("preliminary").fields if f.kind == "opinion")
    with open_pdf(pdf, rules=True) as doc:
        page = next(p for p in doc.pages if p.search(label))
        box_top = page.search(label)[0]["bottom"]
        assert page.search(OPINION[:12])  # the typed opinion
        assert page.search(government)
        seals = page.search(SEAL)
        assert len(seals) == 1, "（盖章） is printed after approval"
        seal = seals[0]
        date = page.search("2026年12月7日")
        assert date and date[0]["top"] >= seal["top"] - 1  # the date beside or below the seal mark
        column = (seal["x1"] - 4.5 * CM, seal["x1"])
        above = [c["bottom"] for c in text_chars(page) if box_top - 1 < c["bottom"] < seal["top"] - 1
                 and c["x1"] > column[0] and c["x0"] < column[1]]
        free = seal["top"] - max(above + [box_top])
        assert free >= 4 * CM, free / CM  # a 4 cm seal pressed above （盖章） covers no text
        below = [ln["top"] for ln in page.lines if ln["height"] < 1 and ln["top"] > date[0]["bottom"]
                 and ln["x0"] < seal["x0"] and ln["x1"] > seal["x1"]]
        assert below, "the date inside the ruled box"
