"""Issue #25: a document that prints 第 x 页 共 y 页 is laid out once; the page-counting frame is
stamped onto the finished pages (wizard/pdf/engine.py, _render_stamped).  Real renders, read back."""
from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from xhtml2pdf.reportlab_paragraph import Paragraph

from wizard.pdf.engine import render_pdf

needs_cjk_font = pytest.mark.needs("cjk-font")

PAGE = """<html><head><style>
@page { size: a4 portrait; margin: 2.2cm 2cm 2.2cm 2cm;
  @frame header { -pdf-frame-content: page-header; top: 0.9cm; left: 2cm; right: 2cm; height: 0.8cm; }
  @frame footer { -pdf-frame-content: page-footer; bottom: 0.8cm; left: 2cm; right: 2cm; height: 0.8cm; } }
#page-footer { font-size: 8.5pt; text-align: center; }
</style></head><body>
<div id="page-header">页眉：湖南省产业集群</div>
<div id="page-footer">第 <pdf:pagenumber/> 页 共 <pdf:pagecount/> 页　校验码：0A4E249A255B</div>
{body}
</body></html>"""
BODY_MARK = "正文段落"
LAST = BODY_MARK + "159：集群"


def page_texts(pdf: bytes) -> list[str]:
    return [(p.extract_text() or "").replace(" ", "").replace("\n", "") for p in PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture
def layouts(monkeypatch):
    """How many times the body's last paragraph is drawn: once per layout pass of the document
    (xhtml2pdf's own paragraph, the real one, watched)."""
    seen = []
    real = Paragraph.draw

    def draw(self):
        if LAST in "".join(str(getattr(f, "text", "")) for f in getattr(self, "frags", ())):
            seen.append(1)
        return real(self)

    monkeypatch.setattr(Paragraph, "draw", draw)
    return seen


@needs_cjk_font
def test_page_numbers_and_the_count_are_right_on_every_page_with_one_layout(layouts):
    body = "".join(f"<p>{BODY_MARK}{i}：集群坚持创新驱动，推进产业链协同发展。</p>" for i in range(160))
    pdf = render_pdf(PAGE.replace("{body}", body), watermark="草稿")
    texts = page_texts(pdf)
    n = len(texts)
    assert n >= 3
    for i, text in enumerate(texts, start=1):
        assert re.findall(r"第(\d+)页共(\d+)页", text) == [(str(i), str(n))], text[-80:]
        assert "校验码：0A4E249A255B" in text and "页眉：湖南省产业集群" in text
    assert BODY_MARK + "159" in "".join(texts)
    assert len(layouts) == 1  # the body laid out once (the second render: the frames alone)


@needs_cjk_font
def test_a_count_outside_a_frame_is_still_printed_right(layouts):
    """共 N 页 in the body itself (not a frame's <div>): laid out the usual way, still right."""
    html = PAGE.replace("{body}", f"<p>{BODY_MARK}：本报告共 <pdf:pagecount/> 页。</p>")
    texts = page_texts(render_pdf(html))
    assert "本报告共1页" in texts[0] and re.findall(r"第(\d+)页共(\d+)页", texts[0]) == [("1", "1")]
