"""Tests for wizard.pdf (HTML -> PDF engine): fonts, CJK layout, hostile input.

No test asserts on time. Renders that could hang (ReDoS payloads) run under
a generous SIGALRM guard that only turns a hang into a failure.
"""

from __future__ import annotations

import io
import logging
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
from contextlib import contextmanager

import jinja2
import pytest
from markupsafe import Markup
from pypdf import PdfReader

from builders import image_bytes
from tools import have, require
from wizard.pdf import cjk_patch, fonts
from wizard.pdf.engine import PdfRenderError, ResourceGuard, render_pdf

needs_cjk_font = pytest.mark.needs("cjk-font")
PDFTOTEXT = shutil.which("pdftotext")
PDFFONTS = shutil.which("pdffonts")

# Closing punctuation that must not start a line / opening that must not end one.
CLOSING = set("，。、；：？！”’）》】」』〉…·,.;:?!)")
OPENING = set("“‘（《【「『〈(")


# ---------------------------------------------------------------- helpers

def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def text_lines(pdf: bytes) -> list[str]:
    """Visual lines of the PDF (pdftotext -layout if available, else pypdf)."""
    if have("poppler-utils"):
        out = subprocess.run([PDFTOTEXT, "-layout", "-enc", "UTF-8", "-", "-"],
                             input=pdf, capture_output=True, check=True).stdout
        text = out.decode("utf-8")
    else:
        text = pdf_text(pdf)
    return [line.strip() for line in text.splitlines() if line.strip()]


def count_images(pdf: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages)


@contextmanager
def hang_guard(seconds: int = 60):
    """Fail instead of hanging forever; not a timing assertion."""
    def _timeout(signum, frame):
        raise TimeoutError(f"render did not finish within {seconds}s (hang)")
    old = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


class Listener:
    """A TCP listener on 127.0.0.1 that counts accepted connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.count += 1
            conn.close()

    def settle(self):
        """Count every connection made so far.

        A connection attempt completes its handshake in the kernel's backlog
        during the render, so stopping the thread and draining the backlog
        without blocking is enough; nothing is timed.
        """
        self._stop.set()
        self._thread.join()
        self.sock.setblocking(False)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                break
            self.count += 1
            conn.close()

    def close(self):
        self.settle()
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    # Self-test: the listener does count a real connection.
    probe = Listener()
    socket.create_connection(("127.0.0.1", probe.port), timeout=2).close()
    probe.settle()
    assert probe.count == 1
    probe.close()
    yield lst
    lst.close()


@pytest.fixture
def static_root(tmp_path):
    root = tmp_path / "static"
    (root / "css").mkdir(parents=True)
    (root / "logo.png").write_bytes(image_bytes((40, 20), (200, 30, 30)))
    (root / "css" / "pdf.css").write_text("h1 { color: #003366; }\n", encoding="utf-8")
    return root


@pytest.fixture
def outside(tmp_path):
    """Files outside static_root that a document must not be able to read."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret.png").write_bytes(image_bytes((40, 20), (0, 200, 0)))
    (d / "secret.css").write_text("p { color: red; }", encoding="utf-8")
    return d


# ---------------------------------------------------------------- fonts

def test_register_is_idempotent_and_reports_status():
    a = fonts.register_cjk_fonts()
    b = fonts.register_cjk_fonts()
    assert a is b
    assert a.message
    if have("cjk-font"):
        from reportlab.lib.fonts import tt2ps
        assert a.embedded and a.family == fonts.FAMILY and a.path and a.bold_path
        assert tt2ps(fonts.FAMILY, 1, 0) == fonts.BOLD_FACE
        assert tt2ps(fonts.FAMILY, 0, 1) == fonts.FAMILY
    else:
        assert not a.embedded and a.family == fonts.FALLBACK_FAMILY


@needs_cjk_font
def test_uming_collection_face_is_simplified_chinese():
    font = fonts.find_cjk_font()
    require("fonts-arphic-uming")
    if not font.path.endswith("uming.ttc"):
        pytest.skip("AR PL UMing is not the font found here")
    assert font.subfont_index == 0 and "CN" in font.family


def test_explicit_path_is_tried_first_and_bad_path_falls_back(tmp_path, caplog):
    bogus = tmp_path / "not-a-font.ttf"
    bogus.write_bytes(b"not a font")
    with caplog.at_level(logging.WARNING):
        found = fonts.find_cjk_font(bogus)
    assert "PDF_FONT_PATH" in caplog.text
    assert found == fonts.find_cjk_font()
    if have("cjk-font"):
        assert fonts.find_cjk_font(found.path) == found


def test_fallback_to_stsong_when_no_font(monkeypatch, caplog, tmp_path):
    monkeypatch.setattr(fonts, "_candidates", lambda: [])
    missing = str(tmp_path / "missing.ttf")  # its own cache key
    with caplog.at_level(logging.WARNING):
        status = fonts.register_cjk_fonts(missing)
    assert not status.embedded and status.family == "STSong-Light" and status.path is None
    assert "STSong-Light" in status.message and "未找到" in status.message
    assert "non-embedded" in caplog.text
    pdf = render_pdf("<p>中文回退字体测试</p>", font_path=missing)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert b"STSong-Light" in pdf


@needs_cjk_font
def test_cjk_font_is_embedded():
    pdf = render_pdf("<h1>标题</h1><p>正文：中文字体嵌入测试。</p>")
    reader = PdfReader(io.BytesIO(pdf))
    embedded = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for desc_font in font.get("/DescendantFonts", [font]):
                desc = desc_font.get_object().get("/FontDescriptor")
                if desc is not None and "/FontFile2" in desc.get_object():
                    embedded.append(str(font["/BaseFont"]))
    assert embedded, "no embedded TrueType font (FontFile2) in the PDF"
    if have("poppler-utils"):
        out = subprocess.run([PDFFONTS, "-"], input=pdf, capture_output=True).stdout.decode()
        if out.strip():  # older pdffonts cannot read stdin
            rows = [r for r in out.splitlines() if "TrueType" in r]
            assert rows and all(" yes " in r for r in rows)
    assert "中文字体嵌入测试" in squash(pdf_text(pdf))


@needs_cjk_font
def test_all_text_uses_the_cjk_family_even_if_template_css_says_otherwise():
    from reportlab.pdfbase import pdfmetrics
    html = ("<html><head><style>p { font-family: Arial } code { font-family: courier }"
            "</style></head><body><p>正文 text <b>粗体</b> <code>代码 code</code></p>"
            "<table><tr><th>表头</th><td>单元格</td></tr></table></body></html>")
    pdf = render_pdf(html)
    faces = {pdfmetrics.getFont(name).face.name.decode()
             for name in (fonts.FAMILY, fonts.BOLD_FACE)}
    used = []

    def visit(text, cm, tm, font_dict, font_size):
        if text.strip() and font_dict is not None:
            used.append((text, str(font_dict.get("/BaseFont"))))

    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visit)
    assert used
    for text, base in used:
        assert any(face in base for face in faces), (text, base, faces)
    assert {"正文", "粗体", "代码", "表头", "单元格"} <= set(re.findall(r"[\u4e00-\u9fff]+", pdf_text(pdf)))


# ---------------------------------------------------------------- layout

SENTENCE = ("中华人民共和国成立于一九四九年，首都是北京。“你好！”他说（这是括号里的话）："
            "《书名号》【方括号】「引号」；结束？是的……数字123与English混排。")
LONG_PARAGRAPH = (SENTENCE * 40)[:2500]


def _offset_doc(offset: int) -> str:
    return (f"<html><body><div style='height:{offset}pt'></div>"
            f"<p style='font-size:12pt'>{LONG_PARAGRAPH}</p></body></html>")


OFFSETS = range(0, 600, 10)  # 60 spacer heights: the page break falls everywhere


def test_long_cjk_paragraph_never_crashes_at_page_breaks():
    assert cjk_patch.is_applied()
    for offset in OFFSETS:
        pdf = render_pdf(_offset_doc(offset))
        assert squash(LONG_PARAGRAPH) in squash(pdf_text(pdf)), offset


def test_unpatched_xhtml2pdf_does_crash():
    """The test above can fail: without cjk_patch the same renders crash."""
    failures = []
    cjk_patch.revert()
    try:
        for offset in OFFSETS:
            try:
                render_pdf(_offset_doc(offset))
            except PdfRenderError as exc:
                failures.append(f"{type(exc.__cause__).__name__}: {exc.__cause__}")
    finally:
        cjk_patch.apply()
    assert cjk_patch.is_applied()
    if not failures:
        pytest.skip("xhtml2pdf no longer crashes without the patch; cjk_patch may be obsolete")
    assert any("TypeError" in f or "LayoutError" in f for f in failures)


def test_crash_is_the_bytes_join_type_error_without_the_frag_fix(monkeypatch):
    """Defect 1 in isolation: the one-fragment continuation paragraph."""
    from xhtml2pdf import reportlab_paragraph as rp
    monkeypatch.setattr(rp.Paragraph, "breakLinesCJK", cjk_patch._ORIGINALS["breakLinesCJK"])
    errors = []
    for offset in OFFSETS:
        try:
            render_pdf(_offset_doc(offset))
        except PdfRenderError as exc:
            errors.append(str(exc.__cause__))
    if not errors:
        pytest.skip("no page break fell where the one-line continuation occurs")
    assert any("expected a bytes-like object, str found" in e for e in errors), errors


def test_br_breaks_lines_in_cjk_paragraphs():
    lines = text_lines(render_pdf("<p>第一行<br/>第二行<br/>第三行</p>"))
    assert lines[:3] == ["第一行", "第二行", "第三行"]


def test_6000_char_narrative_flows_over_several_pages():
    text = (SENTENCE * 120)[:6000]
    pdf = render_pdf(f"<html><body><h2>项目概述</h2><p style='font-size:12pt'>{text}</p></body></html>")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 3
    assert squash(text) in squash(pdf_text(pdf))
    if have("poppler-utils"):
        assert squash(text) in squash("".join(text_lines(pdf)))


def test_table_header_repeats_on_every_page():
    rows = "".join(f"<tr><td>{i}</td><td>第{i}项产业集群材料</td><td>{i * 100}元</td></tr>"
                   for i in range(1, 201))
    html = (f"<table repeat='1' border='1'><tr><th>表头序号</th><th>表头名称</th>"
            f"<th>表头金额</th></tr>{rows}</table>")
    pages = page_texts(render_pdf(html))
    assert len(pages) >= 3
    for i, text in enumerate(pages):
        assert "表头名称" in text, f"header missing on page {i + 1}"
    assert "第200项产业集群材料" in squash("".join(pages))


def _dense_paragraph(rng: random.Random) -> str:
    words = ["中国", "发展", "产业集群", "湖南省", "竞赛", "申报", "材料", "技术", "创新", "企业"]
    out = [rng.choice(words)]
    for _ in range(150):
        r = rng.random()
        if r < 0.3:
            out.append(rng.choice("，。、；：？！…·"))
        elif r < 0.4:
            out.append("“" + rng.choice(words) + "”")
        elif r < 0.5:
            out.append("（" + rng.choice(words) + "）")
        elif r < 0.55:
            out.append("《" + rng.choice(words) + "》")
        elif r < 0.6:
            out.append("【" + rng.choice(words) + "】「" + rng.choice(words) + "」")
        elif r < 0.63:
            out.append("(ab)" + rng.choice(",.;:?!"))
        else:
            out.append(rng.choice(words))
    out.append("。")
    return "".join(out)


def _kinsoku_violations(pdf: bytes) -> list[str]:
    return [line for line in text_lines(pdf) if line[0] in CLOSING or line[-1] in OPENING]


KINSOKU_WIDTHS = (90, 133, 200, 317, 451)


def _kinsoku_doc(width: int) -> str:
    rng = random.Random(width)
    paras = "".join(f"<p>{_dense_paragraph(rng)}</p>" for _ in range(6))
    return f"<html><body><div style='width:{width}pt'>{paras}</div></body></html>"


@pytest.mark.needs("poppler-utils")
@pytest.mark.parametrize("width", KINSOKU_WIDTHS)
def test_no_line_starts_with_closing_or_ends_with_opening_punctuation(width):
    pdf = render_pdf(_kinsoku_doc(width))
    lines = text_lines(pdf)
    assert len(lines) > 20
    assert _kinsoku_violations(pdf) == []


@pytest.mark.needs("poppler-utils")
def test_kinsoku_check_detects_reportlab_default_behaviour():
    """The 禁则 test can fail: xhtml2pdf's own splitter violates the rules."""
    from xhtml2pdf import reportlab_paragraph as rp
    found = []
    cjk_patch.revert()
    # keep the crash fixes, use only the original splitter
    rp.Paragraph.breakLinesCJK = cjk_patch.break_lines_cjk
    rp._split_blParaHard = cjk_patch.split_bl_para_hard
    try:
        for width in KINSOKU_WIDTHS:
            try:
                found += _kinsoku_violations(render_pdf(_kinsoku_doc(width)))
            except PdfRenderError:
                pass
    finally:
        cjk_patch.apply()
    assert found, "xhtml2pdf's splitter unexpectedly obeys the rules; check the test"


def _split(text: str, width_in_glyphs: float, font: str = "Helvetica") -> list[str]:
    """Lines produced by the patched splitter for ``text`` at a given width."""
    from reportlab.platypus.paraparser import ParaFrag

    from xhtml2pdf import reportlab_paragraph as rp
    frag = ParaFrag()
    frag.fontName, frag.fontSize, frag.text = font, 10, text
    width = rp.stringWidth(text[0], font, 10) * width_in_glyphs + 0.01
    lines = cjk_patch.cjk_frag_split([frag], [width], False).lines
    return ["".join(word.text for word in line.words) for line in lines]


def test_kinsoku_rules_unit():
    lines = _split("ab,(cd", 2)  # ',' may not start a line, '(' may not end one
    assert "".join(lines) == "ab,(cd"
    assert all(t[0] not in ",." and t[-1] != "(" for t in lines), lines
    if have("cjk-font"):
        fonts.register_cjk_fonts()
        text = "中文测试，。“引号”（括号）《书》。"
        for glyphs in (3, 4, 5, 6, 7):
            lines = _split(text, glyphs, fonts.FAMILY)
            assert "".join(lines) == text
            assert all(t[0] not in CLOSING and t[-1] not in OPENING for t in lines[1:]), lines


def test_line_builder_matches_xhtml2pdf_make_cjk_para_line(monkeypatch):
    """The fast line builder produces what xhtml2pdf's makeCJKParaLine does."""
    from xhtml2pdf import reportlab_paragraph as rp
    original = cjk_patch._LineBuilder.line
    compared = []

    def checked(self, start, end, max_width):
        ours = original(self, start, end, max_width)
        glyphs = [rp.cjkU(self.chars[k], self.frags[self.owner[k]], "utf8")
                  for k in range(start, end)]
        theirs = rp.makeCJKParaLine(glyphs, ours.extraSpace, self.calc_bounds)
        key = lambda line: ([(w.text, w.fontName, w.fontSize) for w in line.words],
                            line.fontSize, line.ascent, line.descent)
        assert key(ours) == key(theirs)
        compared.append(1)
        return ours

    monkeypatch.setattr(cjk_patch._LineBuilder, "line", checked)
    render_pdf("<p>普通<b>粗体文字</b><i>斜体</i><span style='font-size:20pt'>大字</span>"
               "English words<br/>换行" + "中文测试内容，" * 40 + "</p>"
               "<p style='line-height:2'>" + "混合<b>粗</b>细" * 60 + "</p>")
    assert len(compared) > 5


# ---------------------------------------------------------------- resources

def test_static_files_are_usable(static_root, caplog):
    html = ("<html><head><link rel='stylesheet' href='/static/css/pdf.css'></head><body>"
            "<h1>标志</h1><img src='/static/logo.png'><img src='logo.png'>"
            f"<img src='{(static_root / 'logo.png').as_uri()}'>"
            f"<img src='{static_root / 'logo.png'}'></body></html>")
    with caplog.at_level(logging.WARNING):
        pdf = render_pdf(html, static_root=static_root)
    assert count_images(pdf) >= 1
    assert "refused" not in caplog.text and "Blocked" not in caplog.text


def test_guard_resolution(static_root, outside):
    g = ResourceGuard(static_root)
    logo = (static_root / "logo.png").resolve()
    assert g.resolve("/static/logo.png") == logo
    assert g.resolve("logo.png") == logo
    assert g.resolve(str(logo)) == logo
    assert g.resolve(logo.as_uri()) == logo
    for bad in ["/etc/passwd", "file:///etc/passwd", "/static/../outside/secret.png",
                "../outside/secret.png", "%2e%2e/outside/secret.png", str(outside / "secret.png"),
                (outside / "secret.png").as_uri(), "http://127.0.0.1/", "https://example.com/x.png",
                "data:image/png;base64,iVBORw0KGgo=", "ftp://x/y", "//evil.example/x.png",
                "/static/missing.png", "file://evil.example/etc/passwd"]:
        assert g.resolve(bad) is None, bad
    (static_root / "link.png").symlink_to(outside / "secret.png")
    assert g.resolve("/static/link.png") is None
    assert ResourceGuard(None).resolve("/etc/passwd") is None


HOSTILE = [
    ("cve_2023_33733",
     "<para><font color=\"[ [ getattr(pow,Word('__globals__'))['os'].system('touch {marker}') "
     "for Word in [orgTypeFun('Word', (str,), { 'mutated': 1, 'startswith': lambda self, x: False, "
     "'__eq__': lambda self,x: self.mutate() and self.mutated < 0 and str(self) == x, "
     "'mutate': lambda self: {setattr(self, 'mutated', self.mutated - 1)}, "
     "'__hash__': lambda self: hash(str(self)) })] ] for orgTypeFun in [type(type(1))] ] "
     "and 'red'\">exploit</font></para>"),
    ("unichar", "<unichar code=\"0x41\"/>"),
    ("img_abs", "<img src=\"/etc/passwd\">"),
    ("img_file", "<img src=\"file:///etc/passwd\">"),
    ("img_http", "<img src=\"http://127.0.0.1:{port}/\">"),
    ("img_https", "<img src=\"https://127.0.0.1:{port}/\">"),
    ("link_css", "<link rel=\"stylesheet\" href=\"http://127.0.0.1:{port}/x.css\">"),
    ("import_css", "<style>@import url(http://127.0.0.1:{port}/a.css);</style>"),
    ("font_face_text", "@font-face{src:url(/etc/passwd)}"),
    ("font_face_style", "<style>@font-face{font-family:x;src:url(/etc/passwd)} "
                        "@font-face{font-family:y;src:url(http://127.0.0.1:{port}/f.ttf)}</style>"),
    ("bg_http", "<div style=\"background-image:url(http://127.0.0.1:{port}/bg.png)\">背景</div>"),
    ("img_outside", "<img src=\"{secret_png}\"><img src=\"file://{secret_png}\">"
                    "<img src=\"/static/../outside/secret.png\">"),
    ("css_outside", "<link rel=\"stylesheet\" href=\"{secret_css}\">"),
    ("img_data", "<img src=\"data:image/png;base64,{png_b64}\">"),
    ("redos_bgcolor", "<table><tr><td bgcolor=\"rgb(" + "1" * 600 + "!\" >x</td></tr></table>"),
    ("style_brace", "<style>}</style>"),
    ("nested_divs", "<div>" * 3000 + "深" + "</div>" * 3000),
]

TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    "<html><head><style>td, th { border: 1px solid #000; }</style></head><body>"
    "<h1>申报材料</h1><p>项目名称：{{ value }}</p>"
    "<table repeat=\"1\"><tr><th>字段</th><th>内容</th></tr>"
    "<tr><td>说明</td><td>{{ value }}</td></tr></table>"
    "<p>结尾段落。</p></body></html>"
)


def _payload(template: str, listener, tmp_path, outside) -> tuple[str, object]:
    import base64
    marker = tmp_path / "pwned_marker"
    png = image_bytes((30, 30), (0, 0, 255))
    fields = {"port": listener.port, "marker": marker, "secret_png": outside / "secret.png",
              "secret_css": outside / "secret.css",
              "png_b64": base64.b64encode(png).decode()}
    value = template
    for key, field in fields.items():
        value = value.replace("{%s}" % key, str(field))
    return value, marker


@pytest.mark.parametrize("name,template", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_value_escaped_by_jinja(name, template, listener, tmp_path, outside, static_root):
    value, marker = _payload(template, listener, tmp_path, outside)
    html = TEMPLATE.render(value=value)
    with hang_guard(60):
        pdf = render_pdf(html, static_root=static_root)
    listener.settle()
    assert listener.count == 0
    assert not marker.exists()
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 1
    assert count_images(pdf) == 0
    text = squash(pdf_text(pdf))
    assert "申报材料" in text and "结尾段落" in text
    probe = squash(value)[:60]
    assert probe in text, (probe, text[:300])


@pytest.mark.parametrize("name,template", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_raw_html_is_contained(name, template, listener, tmp_path, outside, static_root,
                                       caplog):
    """The same payloads unescaped: the engine's resource policy must hold."""
    value, marker = _payload(template, listener, tmp_path, outside)
    html = TEMPLATE.render(value=Markup(value))
    assert value in html  # really unescaped
    with hang_guard(60), caplog.at_level(logging.WARNING):
        try:
            pdf = render_pdf(html, static_root=static_root)
        except PdfRenderError as exc:
            assert name == "nested_divs", f"{name}: {exc}"
            assert "nest" in str(exc)
            pdf = None
    listener.settle()
    assert listener.count == 0
    assert not marker.exists()
    if name == "nested_divs":
        assert pdf is None
        return
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 1
    assert count_images(pdf) == 0  # nothing outside static_root, no data: URI
    if name in {"img_abs", "img_file", "img_http", "img_https", "link_css", "import_css",
                "font_face_style", "bg_http", "img_outside", "css_outside", "img_data"}:
        assert "PDF render refused" in caplog.text


def test_raw_engine_level_policy_without_link_callback(listener, outside, static_root, caplog):
    """Layer 3 alone: the get_manager guard refuses even if link_callback is bypassed."""
    from xhtml2pdf import files

    from wizard.pdf import engine
    guard = ResourceGuard(static_root)
    with engine._guarded(guard):
        for uri in [f"http://127.0.0.1:{listener.port}/", "file:///etc/passwd", "/etc/passwd",
                    str(outside / "secret.png"), "data:text/plain,hello"]:
            assert files.getFile(uri).getData() is None, uri
        assert files.getFile("/static/logo.png", str(static_root)).getData()
    listener.settle()
    assert listener.count == 0
    assert len(guard.refused) == 5
    # outside render_pdf the wrapper is inert
    assert files.getFile(str(outside / "secret.css")).getData()


def test_render_errors_are_pdf_render_error():
    with pytest.raises(PdfRenderError):
        render_pdf(b"<p>bytes</p>")  # type: ignore[arg-type]
    # a parsed tree deeper than the policy's 200 levels
    with pytest.raises(PdfRenderError, match="200 levels") as info:
        render_pdf("<div>" * 250 + "深" + "</div>" * 250)
    assert type(info.value.__cause__).__name__ == "RenderLimitError"
    # far deeper: refused by the pre-scan, before html5lib parses it
    with pytest.raises(PdfRenderError, match="before parsing"):
        render_pdf("<span>" * 20000)
    # a link to an anchor that does not exist makes ReportLab fail at save
    with pytest.raises(PdfRenderError):
        render_pdf('<p><a href="#nowhere">链接</a></p>')
    # moderate nesting is fine
    assert render_pdf("<div>" * 100 + "深" + "</div>" * 100).startswith(b"%PDF")
