"""The paper of every render (wizard/pdf/engine.py, "Paper"): the 草稿 watermark drawn over each
page after its content, centred on the page whatever its size and whichever way the document was
laid out; only embedded fonts, also when several threads render at once (the account letters are
rendered in the request, on the threads of a gthread worker).  Real renders, read back."""
from __future__ import annotations

import io
import math
import threading

import pdfplumber
import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream
from reportlab import rl_config

from wizard.pdf.engine import WATERMARK_ANGLE, render_pdf

needs_cjk_font = pytest.mark.needs("cjk-font")
MARK = "草稿"
PAINT = {b"re", b"f", b"f*", b"B", b"b", b"S", b"l", b"Do", b"sh"}

ROWS = "".join(f'<tr><td style="background-color:#d0d0d0">单元格{i}</td><td style="background-color:#202020;'
               f'color:#fff">{i * 10}</td></tr>' for i in range(150))
#: No 共 N 页: laid out the usual way (the watermark gets a pikepdf pass of its own).
PLAIN = f"""<html><head><style>@page {{ size: a4 portrait; margin: 2cm; }}</style></head><body>
<p>正文：已填写的表格单元格有底色，水印仍在最上层。</p><table repeat="1" border="1">{ROWS}</table></body></html>"""
#: Two page sizes: A4 portrait, then A4 landscape pages.
TWO_SIZES = f"""<html><head><style>@page {{ size: a4 portrait; margin: 2cm; }}
@page wide {{ size: a4 landscape; margin: 2cm; }}</style></head><body>
<p>纵向页面。</p><pdf:nexttemplate name="wide"/><pdf:nextpage/><p>横向页面。</p>
<table border="1">{ROWS}</table></body></html>"""


def marks(pdf: bytes) -> list[tuple[float, float, list]]:
    """Per page: its width, height and the watermark's characters (the page's last ones)."""
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return [(float(p.width), float(p.height), p.chars[-len(MARK):]) for p in doc.pages]


def assert_drawn_last(pdf: bytes) -> None:
    """On every page the watermark's text is the last thing drawn (its operators come last in the
    page's own content: nothing is painted over it)."""
    for page in PdfReader(io.BytesIO(pdf)).pages:
        ops = [op for _, op in ContentStream(page.get_contents(), page.pdf).operations]
        last_text = max(i for i, op in enumerate(ops) if op in (b"Tj", b"TJ"))
        assert not PAINT & set(ops[last_text:])


def embedded_fonts_only(pdf: bytes) -> bool:
    """Every font of every page has an embedded font file (no base-14 Helvetica)."""
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for ref in ((page.get("/Resources") or {}).get("/Font") or {}).values():
            font = ref.get_object()
            for face in [d.get_object() for d in font.get("/DescendantFonts") or []] or [font]:
                descriptor = face.get("/FontDescriptor")
                if descriptor is None or not {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor.get_object()):
                    return False
    return True


@needs_cjk_font
@pytest.mark.parametrize("html", [PLAIN, TWO_SIZES], ids=["plain", "two-sizes"])
def test_the_watermark_is_large_diagonal_centred_and_drawn_over_every_page(html):
    pdf = render_pdf(html, watermark=MARK)
    pages = marks(pdf)
    assert len(pages) >= 2
    if html is TWO_SIZES:
        assert {w > h for w, h, _ in pages} == {True, False}  # both sizes were made
    for width, height, chars in pages:
        assert "".join(c["text"] for c in chars) == MARK
        assert all(c["size"] > 100 for c in chars)
        a, b = chars[0]["matrix"][:2]
        assert math.degrees(math.atan2(b, a)) == pytest.approx(WATERMARK_ANGLE, abs=1)
        middle_x = sum(c["x0"] + c["x1"] for c in chars) / (2 * len(chars))
        middle_y = sum(c["top"] + c["bottom"] for c in chars) / (2 * len(chars))
        assert middle_x == pytest.approx(width / 2, abs=40) and middle_y == pytest.approx(height / 2, abs=40)
    assert_drawn_last(pdf)
    assert embedded_fonts_only(pdf)


@needs_cjk_font
def test_no_watermark_unless_asked():
    pdf = render_pdf(PLAIN)
    assert all(MARK not in "".join(c["text"] for c in chars) for _, _, chars in marks(pdf))
    assert embedded_fonts_only(pdf)


@needs_cjk_font
def test_renders_on_several_threads_at_once_embed_every_font():
    """Four threads render tables at once, two with the watermark: every PDF has only embedded
    fonts and its own watermark (or none), and ReportLab's defaults are back afterwards for the
    process's other ReportLab users (the evidence stamps)."""
    default_font = rl_config.canvas_basefontname
    results, errors = {}, []

    def render(i):
        try:
            results[i] = render_pdf(PLAIN, watermark=MARK if i % 2 else None)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=render, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors and len(results) == 4
    for i, pdf in results.items():
        assert embedded_fonts_only(pdf), i
        watermarked = {"".join(c["text"] for c in chars) == MARK for _, _, chars in marks(pdf)}
        assert watermarked == {bool(i % 2)}, i
    assert rl_config.canvas_basefontname == default_font
