"""The tests' fast PDF reader (tests/pdfread.py, on PDFium) reads the printed report as pdfplumber
does: on the full report of both rounds, filled in, every page's text is the same once whitespace
is squashed, every character and every ruling line is where pdfplumber puts it (within 1 pt), and
a search for every heading and label finds the same places."""
import io
import re
from collections import defaultdict

import pdfplumber
import pytest

from factories import ALLOY, submission_of
from fill import complete_answers
from pdfread import open_pdf, plain_text, text_runs
from wizard.extensions import db
from wizard.pdf.report import report_pdf
from wizard.report.definition import DRAFT_WATERMARK, get_report

# deterministic documents read, never a render counted: renders are shared by content (conftest)
pytestmark = pytest.mark.shared_pdf_cache

POINT = 1  # the most a position may differ between the readers


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def filled_pdf(app, round_):
    with app.app_context(), app.test_request_context():
        sub = submission_of(ALLOY)
        setattr(sub, f"{round_}_answers", complete_answers(round_))
        db.session.commit()
        return report_pdf(sub, round_)


def near(a, b, keys=("x0", "x1", "top", "bottom")):
    return all(abs(a[k] - b[k]) <= POINT for k in keys)


def unmatched(ours, theirs, keys=("x0", "x1", "top", "bottom")):
    """The objects of ``ours`` with no object of ``theirs`` (of the same text or orientation) near."""
    by_key = defaultdict(list)
    for o in theirs:
        by_key[o.get("text"), o.get("orientation")].append(o)
    return [o for o in ours if not any(near(o, t, keys) for t in by_key[o.get("text"), o.get("orientation")])]


@pytest.mark.parametrize("round_", ["preliminary", "final"])
def test_pdfread_reads_the_full_report_as_pdfplumber_does(app, round_):
    pdf = filled_pdf(app, round_)
    report = get_report(round_)
    needles = sorted({s.heading for s in report.sections if s.heading} | {f.label for f in report.fields})
    with open_pdf(pdf, rules=True) as doc, pdfplumber.open(io.BytesIO(pdf)) as reference:
        assert len(doc) == len(reference.pages) > 3
        for ours, theirs in zip(doc.pages, reference.pages):
            n = ours.page_number
            assert (ours.width, ours.height) == pytest.approx((theirs.width, theirs.height))
            assert squash(ours.extract_text()) == squash(theirs.extract_text()), n
            # (text lines are not compared: two words whose tops lie exactly 3 pt apart, 3 pt being
            # the tolerance, share a line or not by the last bit of a float, in either reader)
            chars = [c for c in ours.chars if c["text"].strip()]
            reference_chars = [c for c in theirs.chars if c["text"].strip()]
            assert len(chars) == len(reference_chars), n
            assert unmatched(chars, reference_chars, ("x0", "x1", "top", "bottom", "size")) == [], n
            assert unmatched(reference_chars, chars, ("x0", "x1", "top", "bottom", "size")) == [], n
            for kind in ("lines", "edges"):
                mine, reference_rules = getattr(ours, kind), getattr(theirs, kind)
                assert len(mine) == len(reference_rules), (n, kind)
                assert unmatched(mine, reference_rules) == [] and unmatched(reference_rules, mine) == [], (n, kind)
            below = (0, ours.height / 2, ours.width, ours.height)
            assert squash(ours.crop(below).extract_text()) == squash(theirs.crop(below).extract_text()), n
            for needle in needles:
                found, reference_found = ours.search(needle), theirs.search(needle, regex=False)
                assert len(found) == len(reference_found), (n, needle)
                assert all(near(a, b) for a, b in zip(found, reference_found)), (n, needle)


def test_plain_text_and_the_order_of_drawing(app):
    """The text anywhere (PDFium's order) and the text objects in the order they are drawn: the
    draft's watermark is one word, drawn last on every page."""
    pdf = filled_pdf(app, "preliminary")
    text = squash(plain_text(pdf))
    assert DRAFT_WATERMARK in text and ALLOY in text
    runs = text_runs(pdf)
    with pdfplumber.open(io.BytesIO(pdf)) as reference:
        assert len(runs) == len(reference.pages)
        for page_runs, page in zip(runs, reference.pages):
            assert squash(page_runs[-1]["text"]) == DRAFT_WATERMARK and page_runs[-1]["size"] > 100
            assert "".join(c["text"] for c in page.chars[-len(DRAFT_WATERMARK):]) == DRAFT_WATERMARK
            assert squash("".join(r["text"] for r in page_runs)) == squash("".join(c["text"] for c in page.chars))
