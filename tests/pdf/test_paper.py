"""The printed report as a paper to sign, seal and fill in by hand, measured on a
filled draft (the alloy cluster) and both blank templates: no heading left at the foot of a page,
the declaration and both signature blocks on one page with room to sign and seal, blank value
cells and answer boxes large enough to write in, the 草稿 watermark drawn over the content, every
font embedded, the metadata and the 附件 marker.  Read with tests/pdfread.py (PDFium, in
pdfplumber's conventions)."""
import io
import re

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream

from pdfread import open_pdf, text_runs
from factories import ALLOY, submission_of
from fill import complete_answers
from wizard.extensions import db
from wizard.pdf.report import report_pdf
from wizard.report.definition import ATTACHMENTS, DRAFT_WATERMARK, UNIT_SEAL, get_report

# deterministic documents read, never a render counted: renders are shared by content (conftest)
pytestmark = pytest.mark.shared_pdf_cache

CM = 72 / 2.54
MARGIN = 2.2 * CM  # the page's top and bottom margins: the running header and footer lie outside
DOCS = [("filled", "preliminary"), ("blank", "preliminary"), ("blank", "final")]


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def make_pdf(app, kind, round_):
    with app.app_context(), app.test_request_context():
        if kind == "blank":
            return report_pdf(None, round_, blank=True)
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers(round_)
        db.session.commit()
        return report_pdf(sub, round_)


def body_lines(page):
    """The text lines between the running header and footer, top to bottom (no watermark)."""
    lines = page.filter(lambda c: c["size"] < 30).extract_text_lines()
    return [ln for ln in lines if ln["top"] > MARGIN - 6 and ln["bottom"] < page.height - MARGIN + 6]


def headings(report):
    out = {squash(p) for p in report.parts.values()} | {squash(s.heading) for s in report.sections if s.heading}
    out |= {squash(f.label) for s in report.sections if s.layout == "plan" for f in s.fields}
    return out


@pytest.mark.parametrize("kind,round_", DOCS)
def test_no_page_ends_with_a_heading(app, kind, round_):
    pdf = make_pdf(app, kind, round_)
    heads = headings(get_report(round_))
    with open_pdf(pdf, rules=True) as doc:
        for page in doc.pages[:-1]:
            lines = body_lines(page)
            if not lines and kind == "blank":  # a page of a narrative's rows to write on
                assert len([e for e in page.edges if e["orientation"] == "h"]) >= 20, page.page_number
                continue
            assert lines, page.page_number
            assert squash(lines[-1]["text"]) not in heads, (page.page_number, lines[-1]["text"])


def _h_lines_below(page, x0, x1, y):
    return sorted((ln for ln in page.lines if ln["height"] < 1 and ln["top"] > y
                   and ln["x0"] < x1 and ln["x1"] > x0), key=lambda ln: ln["top"])


@pytest.mark.parametrize("kind,round_", DOCS)
def test_declaration_and_both_signature_blocks_share_a_page_with_room(app, kind, round_):
    report = get_report(round_)
    section = next(s for s in report.sections if s.layout == "declaration")
    signers = [f for f in section.fields if f.kind_of.one_line]
    agree = next(f for f in section.fields if f.kind == "agree")
    with open_pdf(make_pdf(app, kind, round_), rules=True) as doc:
        pages = [p for p in doc.pages if p.search(section.heading)]
        assert len(pages) == 1
        page = pages[0]
        text = squash(page.extract_text())
        assert squash(section.note.split("\n")[-1]) in text  # the whole declaration text
        assert squash(agree.label) not in text  # no 是/否 line on paper
        seals = page.search(UNIT_SEAL)
        assert len(seals) == len(signers) == 2
        for field in signers:
            label = page.search(field.print_label)[0]
            column = (label["x0"], label["x0"] + 6 * CM)
            sign_line = _h_lines_below(page, *column, label["bottom"])[0]
            assert sign_line["top"] - label["bottom"] >= 3 * CM  # room for a handwritten signature
            seal = next(s for s in seals if column[0] - CM < s["x0"] < column[0] + 8.5 * CM)
            above = [c["bottom"] for c in page.chars if c["bottom"] < seal["top"] - 1
                     and column[0] - CM < c["x0"] < seal["x1"] and c["top"] > sign_line["top"] - 1]
            free_top = max(above + [sign_line["bottom"]])
            assert seal["top"] - free_top >= 4 * CM  # a 4 cm seal covers no text


def _cell_around(page, match):
    """(left, right, top, bottom) of the table cell right of a label match."""
    mid_y = (match["top"] + match["bottom"]) / 2
    xs = sorted({round(ln["x0"], 1) for ln in page.lines if ln["width"] < 1 and ln["top"] < mid_y < ln["bottom"]})
    left = [x for x in xs if x <= match["x0"]]
    right = [x for x in xs if x >= match["x1"]]
    return left, right, mid_y


def _side_run(page, x, mid_y):
    """The height of a box's left side from the guidance down: the vertical rules at ``x`` that
    follow each other without a gap (one per row of the box)."""
    segments = sorted((ln for ln in page.lines if ln["width"] < 1 and abs(ln["x0"] - x) < 1),
                      key=lambda ln: ln["top"])
    bottom = None
    for ln in segments:
        if bottom is None and ln["top"] < mid_y < ln["bottom"]:
            bottom = ln["bottom"]
        elif bottom is not None and ln["top"] <= bottom + 1:
            bottom = max(bottom, ln["bottom"])
    return bottom - mid_y if bottom is not None else 0


@pytest.mark.parametrize("round_", ["preliminary", "final"])
def test_blank_value_cells_and_answer_boxes_leave_room_to_write(app, round_):
    report = get_report(round_)
    labels = {f.label for s in report.sections if s.layout in ("form", "park")
              for f in s.fields if f.kind in ("text", "phone")}
    guidance = [f.guidance.split("\n")[0][:12] for f in report.fields if f.kind == "longtext"]
    measured, boxes = set(), 0
    with open_pdf(make_pdf(app, "blank", round_), rules=True) as doc:
        for page in doc.pages:
            for label in labels:
                for match in page.search(label):
                    left, right, mid_y = _cell_around(page, match)
                    if not left or match["x0"] - left[-1] > 8 or len(right) < 2 or any(
                            match["x1"] - 1 < c["x0"] < right[0] and c["top"] < mid_y < c["bottom"]
                            for c in page.chars):  # not a label cell, or a longer label starting so
                        continue
                    x0, x1 = right[0], right[1]
                    assert x1 - x0 >= 4 * CM - 1, (label, x1 - x0)
                    rows = sorted(ln["top"] for ln in page.lines if ln["height"] < 1 and ln["x0"] <= x0 + 1
                                  and ln["x1"] >= x1 - 1)
                    top = max(y for y in rows if y <= mid_y)
                    bottom = min(y for y in rows if y >= mid_y)
                    assert bottom - top >= 0.8 * CM - 0.5, (label, bottom - top)
                    measured.add(label)
            for start in guidance:
                for match in page.search(start):
                    mid_y = (match["top"] + match["bottom"]) / 2
                    sides = [ln for ln in page.lines if ln["width"] < 1 and ln["top"] < mid_y < ln["bottom"]
                             and ln["x0"] < match["x0"]]
                    assert sides, start  # a bordered box around the guidance
                    # its side runs on below the guidance, past at least 3 ruled rows to write on
                    # (the room for the whole limit: test_paper_room.py)
                    assert _side_run(page, sides[0]["x0"], mid_y) >= 3 * 0.8 * CM, start
                    boxes += 1
    assert measured == labels
    assert boxes >= len(guidance)


def test_draft_watermark_is_drawn_over_the_content(app):
    pdf = make_pdf(app, "filled", "preliminary")
    for runs in text_runs(pdf):  # each page's text in the order it is drawn
        drawn = [(ch, run["size"]) for run in runs for ch in run["text"] if not ch.isspace()]
        assert "".join(ch for ch, _ in drawn[-len(DRAFT_WATERMARK):]) == DRAFT_WATERMARK
        assert all(size > 100 for _, size in drawn[-len(DRAFT_WATERMARK):])  # full size
    for page in PdfReader(io.BytesIO(pdf)).pages:
        ops = [op for _, op in ContentStream(page.get_contents(), page.pdf).operations]
        last_text = max(i for i, op in enumerate(ops) if op in (b"Tj", b"TJ"))
        assert not {b"re", b"f", b"S", b"l"} & set(ops[last_text:])  # nothing painted over it


def _fonts(obj, seen):
    fonts = (obj.get("/Resources") or {}).get("/Font") or {}
    for ref in fonts.values():
        font = ref.get_object()
        if id(font) in seen:
            continue
        seen.add(id(font))
        yield font
        for desc in font.get("/DescendantFonts") or []:
            yield desc.get_object()


@pytest.mark.parametrize("kind,round_", DOCS)
def test_every_font_is_embedded_and_the_metadata_is_set(app, kind, round_):
    reader = PdfReader(io.BytesIO(make_pdf(app, kind, round_)))
    seen = set()
    for page in reader.pages:
        for font in _fonts(page, seen):
            if font.get("/Subtype") == "/Type0":
                continue  # checked through its descendant
            descriptor = font.get("/FontDescriptor")
            assert descriptor is not None, font.get("/BaseFont")
            assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor.get_object().keys()), \
                font.get("/BaseFont")
    meta = reader.metadata
    report = get_report(round_)
    assert report.title in meta.title and ATTACHMENTS[round_] in meta.subject and meta.author
    if kind == "filled":
        assert meta.author == ALLOY


@pytest.mark.parametrize("round_", ["preliminary", "final"])
def test_attachment_marker_and_corner_header(app, round_):
    with open_pdf(make_pdf(app, "blank", round_)) as doc:
        first = body_lines(doc.pages[0])[0]
        assert first["text"].strip() == ATTACHMENTS[round_] and first["x0"] < 3 * CM
        text = squash("".join(p.extract_text() for p in doc.pages))
    assert "近2年情况/企业名称" in text
