"""Blank templates filled in by pen (issue 23, item 16), measured: every narrative
box of the blank 附件1 and 附件2 has room for its limit written by hand.

The density is stated here, apart from the template's own arithmetic: a character written by pen
takes 8.5 mm of a row (an 8 mm character and a little space), rows are at least 8 mm apart.  The
room of a box is the free height between its rules across the box (below the prompt, on however
many pages it runs), in rows of 8 mm, each holding (row width ÷ 8.5 mm) characters.  2.8's 2,500
characters thus need 125 rows of 17 cm, about four and a half A4 pages; the 10 cm box it had
held 5 rows below its prompt, 100 characters.  A narrative without a limit (4.1, 5.2's five parts) gets a page of
rows and says more pages may be attached.

Read with tests/pdfread.py (PDFium, in pdfplumber's conventions)."""
import pytest

from pdfread import open_pdf
from wizard.pdf.report import HANDWRITING, report_pdf
from wizard.report.definition import get_report

# deterministic documents read, never a render counted: renders are shared by content (conftest)
pytestmark = pytest.mark.shared_pdf_cache

MM = 72 / 25.4
CHAR = 8.5 * MM
ROW = 8 * MM


def blank_pdf(app, round_):
    with app.app_context(), app.test_request_context():
        return report_pdf(None, round_, blank=True)


def text_chars(page):
    return [c for c in page.chars if c["text"].strip() and c["size"] < 30]


def rules(page):
    """The tops and widths of the horizontal rules at least 12 cm long (a narrative box spans the
    text width), one per height."""
    found = {}
    for e in page.edges:
        if e["orientation"] == "h" and e["width"] >= 120 * MM:
            key = round(e["top"] * 2) / 2
            found[key] = max(found.get(key, 0), e["width"])
    return sorted(found.items())


def room_of_each_narrative(pdf, fields):
    """Characters of handwriting each narrative's box holds: {field key: characters}, and which
    boxes are followed by the 另附页 note."""
    starts = {f.key: f.guidance.split("\n")[0][:14] for f in fields}
    room = {key: 0 for key in starts}
    current, rows_seen = None, 0
    with open_pdf(pdf, rules=True) as doc:
        for page in doc.pages:
            chars = text_chars(page)
            events = [(m["top"], "start", key) for key, text in starts.items()
                      for m in page.search(text)]
            events += [(top, "rule", width) for top, width in rules(page)]
            previous = None
            for top, kind, value in sorted(events, key=lambda e: (e[0], e[1] != "start")):
                if kind == "start":
                    current, rows_seen, previous = value, 0, top - 1  # the box's room starts at its prompt
                    continue
                if current is not None and previous is not None:
                    band = [c for c in chars if previous < (c["top"] + c["bottom"]) / 2 < top]
                    free = top - max([c["bottom"] for c in band] + [previous])  # below any text
                    if band and rows_seen:
                        current = None  # the box has ended: what follows has text
                    elif free >= ROW - 0.5:  # rows to write on (ruled, or the free room of the box)
                        room[current] += int(value // CHAR) * int((free + 0.5) // ROW)
                        rows_seen += 1
                previous = top
    return room


@pytest.mark.parametrize("round_", ["preliminary", "final"])
def test_every_narrative_box_of_the_blank_template_holds_its_limit_by_hand(app, round_):
    fields = [f for f in get_report(round_).fields if f.kind == "longtext"]
    pdf = blank_pdf(app, round_)
    room = room_of_each_narrative(pdf, fields)
    needed = {f.key: f.max_chars or HANDWRITING["unlimited"] for f in fields}
    short = {key: (room[key], needed[key]) for key in needed if room[key] < needed[key]}
    assert short == {}, short  # {field: (characters the box holds, characters its limit needs)}
    assert room["self_assessment"] >= 2500
    with open_pdf(pdf) as doc:
        text = "".join(page.extract_text() for page in doc.pages)
    unlimited = [f for f in fields if not f.max_chars]
    assert text.count(HANDWRITING["more"]) == len(unlimited)
