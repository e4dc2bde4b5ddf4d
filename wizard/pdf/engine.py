"""HTML -> PDF with xhtml2pdf: Chinese typography and a closed resource policy.

No Flask imports: this module is used by the web app and by CLI scripts.

Public API
----------
``render_pdf(html, *, static_root=None, font_path=None, static_url_path="/static") -> bytes``
    Render an HTML string (already rendered by Jinja with autoescape) to PDF
    bytes. Raises :class:`PdfRenderError` on any failure.

``PdfRenderError``
    The only exception ``render_pdf`` raises (``__cause__`` holds the
    original one, e.g. a ``RenderLimitError`` for a too-deeply nested
    document or a ``RecursionError``). Documents whose tags nest more than
    ``MAX_TAG_NESTING`` (500) deep are refused by a linear pre-scan before
    html5lib parses them (its parse time is quadratic in the depth); a
    parsed tree deeper than 200 is refused by xhtml2pdf's policy.

``font_status(font_path=None) -> FontStatus``
    Which Chinese font PDFs are made with (for an admin page).

Fonts
-----
:func:`wizard.pdf.fonts.register_cjk_fonts` registers the font with ReportLab
as the family ``CJKSong`` (or ``STSong-Light`` as a non-embedded fallback).
The family name is added to ``xhtml2pdf.default.DEFAULT_FONT`` -- the table
every xhtml2pdf document copies its known families from -- so CSS can name it.
Then two pieces of CSS controlled by the engine make *all* text use it:

* the user-agent stylesheet (``default_css``: xhtml2pdf's own plus
  ``html {font-family: CJKSong; -pdf-word-wrap: CJK}``), and
* a ``<style>`` block inserted at the start of the document with
  ``html, html * { font-family: CJKSong !important;
  -pdf-word-wrap: CJK !important }``, so a template's ``font-family: Arial``
  or ``<code>`` (Courier in the default CSS) cannot select a face without
  Chinese glyphs. (A bare ``*`` selector does not match in xhtml2pdf's CSS
  engine; ``html *`` does.) Only an ``!important`` rule with a more specific
  selector in the document itself can override it.

Resources (three layers)
------------------------
A document may read nothing but existing files under ``static_root``; no
network access, no ``data:`` URIs, nothing else on disk. Fonts are opened by
:mod:`wizard.pdf.fonts` itself, not by the document.

1. ``link_callback``: maps ``/static/...`` URLs, paths relative to
   ``static_root``, absolute paths and ``file:`` URIs *inside* ``static_root``
   to the file's absolute path; anything else is rewritten to the
   unresolvable ``refused:`` URI.
2. xhtml2pdf's own ``ResourceAccessPolicy`` (``xhtml2pdf.config.resources``),
   passed as ``resource_policy``: ``ResourceAccessPolicy.server(static_root,
   allow_remote=False)`` -- local reads confined to ``static_root`` (all
   denied without one), no http(s), plus the server limits (nesting depth
   200, 60 s per render, 10 MB document, image pixel and byte limits).
   xhtml2pdf consults it in the fetchers, including the call sites that never
   go through ``link_callback`` (fonts, backgrounds, ``<pdf:*>`` tags).
3. Lowest level: ``xhtml2pdf.files.FileNetworkManager.get_manager`` -- the
   factory behind every ``pisaFileObject``, i.e. every file/URL/``data:``
   read xhtml2pdf performs -- is wrapped. While ``render_pdf`` runs on the
   current thread, any URI that does not resolve to an existing file under
   ``static_root`` gets a file object that refuses to produce data (logged as
   "Blocked by the resource policy"), whatever scheme it has (``file:``,
   ``http:``, ``https:``, ``data:``, ...). Allowed files are handed on as
   absolute paths, so xhtml2pdf cannot re-resolve them elsewhere. Outside
   ``render_pdf`` (other code in the process using xhtml2pdf) the wrapper
   does nothing.

Paper (the watermark and the default font)
------------------------------------------
``render_pdf(..., watermark="草稿")`` draws the text large, diagonally and in a light translucent
grey over each page *after* its content, so filled table cells cannot hide it and the text stays
readable through it.  It is drawn once the layout is finished (``_add_watermark``): ReportLab's
canvas draws it on a page of the page's size (its MediaBox, read with pikepdf) and its operators
are appended to the page's own content stream, the page's content wrapped in ``q … Q``; a
document that prints 共 N 页 gets it in the pikepdf pass that adds the page-number stamps.
While xhtml2pdf lays a document out, ReportLab's default font is the embedded Chinese font
(``_default_font``): ``rl_config.canvas_basefontname`` (every canvas's initial font) and
``CellStyle.fontname`` (what a table selects for each cell); otherwise Helvetica, an unembedded
base-14 font that no text uses, is listed by ``pdffonts`` and makes the file fail an "all fonts
embedded" check.  Both settings are process-wide: ``_PAPER_LOCK`` holds them for one render at a
time and they are restored after it (xhtml2pdf renders one document at a time in a process
anyway).

``<pdf:condpagebreak height="4cm"/>``: a page break unless ``height`` of the page is left
(ReportLab's ``CondPageBreak``). xhtml2pdf 0.2.28 has no such tag; the engine adds it on import
(``TAGS`` entry and tag class, looked up by name by xhtml2pdf's parser). Templates put it before
a heading so the heading moves with the first rows of its table.

Speed (issue #25): a document that prints 共 N 页 is laid out once (``_render_stamped``);
ReportLab's C accelerator (the ``rl-accel`` package, in the lock) formats its numbers (a pure-Python
``fp_str`` took about 6 % of a report's render); the render process warms the engine and freezes its
long-lived objects out of the garbage collector's sight before its first job
(``wizard.pdf.render.warm_up``).  Where the rest of a render goes (xhtml2pdf's parse and CSS,
ReportLab's tables): docs/benchmarks.md.

Known limits: ``<a href>`` links are kept as PDF link annotations (they are
not fetched); only raw, unescaped HTML can create them.
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import xhtml2pdf.default
import pikepdf
from xhtml2pdf import files as x2p_files
from xhtml2pdf import pisa
from reportlab import rl_config
from reportlab.lib.colors import Color
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus.flowables import CondPageBreak
from reportlab.platypus.tables import CellStyle
from xhtml2pdf import parser as x2p_parser
from xhtml2pdf.config.resources import ResourceAccessError, ResourceAccessPolicy
from xhtml2pdf.default import MUST, SIZE, TAGS
from xhtml2pdf.tags import pisaTag

from . import cjk_patch
from .fonts import FontStatus, register_cjk_fonts

__all__ = ["PdfRenderError", "font_status", "render_pdf"]

log = logging.getLogger(__name__)

# Installed once, on import (idempotent).
cjk_patch.apply()


class PdfRenderError(RuntimeError):
    """Rendering failed; the original exception is chained as ``__cause__``."""


def font_status(font_path: str | None = None) -> FontStatus:
    """The Chinese font PDFs use (registers it on first call)."""
    return register_cjk_fonts(font_path)


# --------------------------------------------------------------------------
# Resource guard
# --------------------------------------------------------------------------

REFUSED_URI = "refused:"


class ResourceGuard:
    """Decides which URIs a document may read: existing files under ``root``."""

    def __init__(self, root: str | os.PathLike | None, static_url_path: str = "/static"):
        self.root = Path(root).resolve() if root else None
        self.prefix = "/" + static_url_path.strip("/") + "/" if static_url_path else None
        #: URIs refused during the render (for logging and tests).
        self.refused: list[str] = []

    def resolve(self, uri, basepath: str | None = None) -> Path | None:
        """Absolute path of the file ``uri`` names, or None if it is not allowed."""
        if self.root is None or not isinstance(uri, str | os.PathLike):
            return None
        uri = str(uri).strip()
        if not uri or len(uri) > 4096 or "\x00" in uri:
            return None
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme == "file":
            if parts.netloc not in {"", "localhost"}:
                return None
            candidate = Path(url2pathname(parts.path))
        elif scheme == "" or (os.name == "nt" and len(scheme) == 1):
            path = unquote(parts.path if scheme == "" else uri)
            if self.prefix and path.startswith(self.prefix):
                candidate = self.root / path[len(self.prefix):]
            elif os.path.isabs(path):
                candidate = Path(path)
            else:
                base = basepath if basepath and not urlsplit(str(basepath)).scheme else None
                candidate = Path(base or self.root) / path
        else:  # http, https, data, ftp, javascript, ...
            return None
        try:
            resolved = candidate.resolve(strict=True)  # follows symlinks
        except (OSError, RuntimeError, ValueError):
            return None
        if not resolved.is_file() or not resolved.is_relative_to(self.root):
            return None
        return resolved

    def link_callback(self, uri, rel):
        """xhtml2pdf ``link_callback`` (layer 1)."""
        resolved = self.resolve(uri, rel)
        if resolved is None:
            self.refused.append(str(uri)[:200])
            return REFUSED_URI
        return str(resolved)


_active = threading.local()


def _current_guard() -> ResourceGuard | None:
    return getattr(_active, "guard", None)


@contextmanager
def _guarded(guard: ResourceGuard):
    previous = _current_guard()
    _active.guard = guard
    try:
        yield
    finally:
        _active.guard = previous


class _RefusedFile(x2p_files.BaseFile):
    """A file object that never yields data (layer 3)."""

    def budget_key(self):
        return None

    def extract_data(self):
        msg = f"{str(self.path)[:200]!r} is not a file under the PDF static root"
        raise ResourceAccessError(msg)


_original_get_manager = x2p_files.FileNetworkManager.get_manager


def _guarded_get_manager(uri, basepath=None, policy=None):
    guard = _current_guard()
    # None: an internal temporary file; bytes: data xhtml2pdf already holds.
    if guard is None or uri is None or isinstance(uri, bytes):
        return _original_get_manager(uri, basepath, policy)
    resolved = guard.resolve(uri, basepath)
    if resolved is None:
        if uri != REFUSED_URI:  # already recorded by link_callback
            guard.refused.append(str(uri)[:200])
        return _RefusedFile(str(uri), basepath, policy)
    return _original_get_manager(str(resolved), None, policy)


x2p_files.FileNetworkManager.get_manager = staticmethod(_guarded_get_manager)


# --------------------------------------------------------------------------
# Paper: ReportLab's default font during a render, and the watermark over every page
# --------------------------------------------------------------------------

#: Held while xhtml2pdf lays a document out (and while a watermark is drawn): ReportLab's
#: default font is process-wide configuration.  xhtml2pdf renders one document at a time in a
#: process anyway (its own lock), so this serialises nothing that ran side by side before.
_PAPER_LOCK = threading.Lock()


@contextmanager
def _default_font(family: str | None):
    """ReportLab's default font is ``family`` (None: left as it is, Helvetica) while the block
    runs, under ``_PAPER_LOCK``.  Two public settings: ``rl_config.canvas_basefontname``, the
    initial font of every canvas created meanwhile (a canvas writes a non-embedded initial font
    such as Helvetica into every page), and ``CellStyle.fontname``, the font a table selects for
    each of its cells before drawing the cell's flowables (ReportLab's table default, read from the
    class when a table is made).  Otherwise Helvetica, an unembedded base-14 font that no text
    uses, is listed by ``pdffonts``."""
    with _PAPER_LOCK:
        if not family:
            yield
            return
        saved = rl_config.canvas_basefontname, CellStyle.fontname
        rl_config.canvas_basefontname = CellStyle.fontname = family
        try:
            yield
        finally:
            rl_config.canvas_basefontname, CellStyle.fontname = saved


#: The watermark: its size (points), angle, and a grey light enough to read the page through.
WATERMARK_SIZE = 150
WATERMARK_ANGLE = 40
WATERMARK_COLOR = Color(0.5, 0.5, 0.5, alpha=0.16)


def _watermark_pdf(sizes: list[tuple[float, float]], text: str, font: str) -> bytes:
    """One page per size: ``text`` large, diagonal, in translucent grey across the page's centre."""
    buf = io.BytesIO()
    c = Canvas(buf, initialFontName=font, invariant=1)
    for width, height in sizes:
        c.setPageSize((width, height))
        c.saveState()
        c.setFillColor(WATERMARK_COLOR)
        c.setFont(font, WATERMARK_SIZE)
        c.translate(width / 2, height / 2)
        c.rotate(WATERMARK_ANGLE)
        c.drawCentredString(0, -WATERMARK_SIZE / 3, text)
        c.restoreState()
        c.showPage()
    c.save()
    return buf.getvalue()


def _add_watermark(doc: pikepdf.Pdf, text: str, font: str) -> None:
    """Draw ``text`` over every page of ``doc``, after the page's content, so that filled table
    cells cannot hide it: a watermark page of the same size is drawn with ReportLab, and its
    operators are appended to the page's own content stream (its resources renamed), the page's
    content wrapped in ``q … Q`` so that nothing it leaves set can move the watermark.  Pages of
    one size share one watermark stream."""
    boxes = [tuple(float(v) for v in page.mediabox) for page in doc.pages]
    sizes = list(dict.fromkeys((x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes))
    with _PAPER_LOCK:  # ReportLab subsets the font per document: one at a time
        overlay = _watermark_pdf(sizes, text, font)
    marks_of, renamed = {}, {}  # size -> stream, names used; old name -> (kind, new name, object)
    with pikepdf.open(io.BytesIO(overlay)) as marks:
        for size, mark in zip(sizes, marks.pages):
            used = set()
            for kind, entries in mark.resources.items():
                for name, value in (entries.items() if isinstance(entries, pikepdf.Dictionary) else ()):
                    if name not in renamed:
                        value = value if value.is_indirect else marks.make_indirect(value)
                        renamed[name] = (kind, pikepdf.Name.random(prefix="Wm"), doc.copy_foreign(value))
                    used.add(name)
            ops = [pikepdf.ContentStreamInstruction(
                [renamed[str(o)][1] if isinstance(o, pikepdf.Name) and str(o) in used else o for o in op.operands],
                op.operator) for op in pikepdf.parse_content_stream(mark)]
            marks_of[size] = doc.make_stream(pikepdf.unparse_content_stream(ops)), [renamed[n] for n in used]
    push, pop = doc.make_stream(b"q\n"), doc.make_stream(b"\nQ\n")
    for page, (x0, y0, x1, y1) in zip(doc.pages, boxes):
        stream, resources = marks_of[(x1 - x0, y1 - y0)]
        for kind, name, value in resources:
            page.add_resource(value, pikepdf.Name(kind), name)
        page.contents_add(push, prepend=True)
        # the watermark's page starts at 0 0
        page.contents_add(doc.make_stream(f"\nQ 1 0 0 1 {x0:g} {y0:g} cm\n".encode()) if x0 or y0 else pop)
        page.contents_add(stream)


class CondPageBreakTag(pisaTag):
    """``<pdf:condpagebreak height=""/>``: a page break unless ``height`` is left on the page."""

    def start(self, c) -> None:
        if self.attr.height is None:  # xhtml2pdf has already warned: must be set
            return
        c.addPara()
        c.addStory(CondPageBreak(self.attr.height))


if "pdfcondpagebreak" not in TAGS:  # a later xhtml2pdf may bring its own
    TAGS["pdfcondpagebreak"] = (0, {"height": (SIZE, MUST)})
    x2p_parser.pisaTagPDFCONDPAGEBREAK = CondPageBreakTag


# --------------------------------------------------------------------------
# CSS
# --------------------------------------------------------------------------

def _register_family(status: FontStatus) -> None:
    """Make xhtml2pdf documents know the family (see module docstring)."""
    if status.embedded:
        xhtml2pdf.default.DEFAULT_FONT[status.family.lower()] = status.family


def _default_css(family: str) -> str:
    return xhtml2pdf.default.DEFAULT_CSS + (
        f"\nhtml {{ font-family: {family}; -pdf-word-wrap: CJK; }}\n"
        f"pre, code, kbd, samp, tt {{ font-family: {family}; }}\n"
    )


def _forced_style(family: str) -> str:
    return (f"<style>html, html * {{ font-family: {family} !important; "
            f"-pdf-word-wrap: CJK !important; }}</style>")


_DOCTYPE = re.compile(r"\A(\ufeff?\s*<!doctype[^>]*>)?", re.IGNORECASE)


def _inject_style(html: str, style: str) -> str:
    """Insert ``style`` at the start of the document (after a doctype)."""
    m = _DOCTYPE.match(html)
    return html[: m.end()] + style + html[m.end():]


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------

#: Refuse documents whose tags nest deeper than this *before* parsing them.
#: xhtml2pdf's own depth limit (200, from the server policy) is checked only
#: after html5lib has built the tree, and html5lib takes time quadratic in the
#: depth: 3,000 nested <div>s take ~6 s to parse, 20,000 would take minutes.
#: The estimate below counts start/end tags (void and optional-end elements
#: excluded), so it is generous; real templates nest < 50 deep.
MAX_TAG_NESTING = 500

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)[^<>]*?(/?)>")
_NO_NESTING = frozenset(
    "area base br col embed hr img input link meta param source track wbr "
    "p li dt dd tr td th thead tbody tfoot option optgroup colgroup caption "
    "rb rt rtc rp".split()
)


def _estimated_depth(html: str) -> int:
    depth = deepest = 0
    for m in _TAG.finditer(html):
        closing, name, self_closing = m.groups()
        if self_closing or name.lower() in _NO_NESTING:
            continue
        if closing:
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def render_pdf(
    html: str,
    *,
    static_root: str | os.PathLike | None = None,
    font_path: str | os.PathLike | None = None,
    static_url_path: str = "/static",
    watermark: str | None = None,
) -> bytes:
    """Render ``html`` to PDF bytes.

    :param html: a complete HTML document or fragment, user values already
        escaped (Jinja autoescape). Hostile markup is survivable anyway: see
        the module docstring for the resource policy.
    :param static_root: directory whose files (logo, CSS) the document may
        use; URLs ``/static/...`` (``static_url_path``), paths relative to it,
        and absolute paths / ``file:`` URIs inside it. None: no files at all.
    :param font_path: explicit Chinese TrueType font (config ``PDF_FONT_PATH``).
    :param static_url_path: URL prefix that maps to ``static_root``.
    :param watermark: text drawn over every page (the 草稿 of a draft); None: none.
    A document that prints ``<pdf:pagecount/>`` in a static frame (the page footer's 第 x 页
    共 y 页) is laid out once and the frame stamped onto the finished pages (``_render_stamped``).
    :returns: the PDF as bytes.
    :raises PdfRenderError: on any failure (too deeply nested or too large
        documents, render time limit, xhtml2pdf/ReportLab errors, recursion).
        Nesting: tags nested more than ``MAX_TAG_NESTING`` (500) deep are
        refused before parsing; xhtml2pdf's policy refuses a parsed tree
        deeper than 200.
    """
    _check_source(html)
    status = register_cjk_fonts(font_path)
    _register_family(status)
    if _PAGE_COUNT.search(html):
        stamped = _render_stamped(html, status, static_root, static_url_path, watermark)
        if stamped is not None:
            return stamped
    pdf = _render(html, status, static_root, static_url_path)
    if not watermark:
        return pdf
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        _add_watermark(doc, watermark, status.family)
        return _saved(doc)


def _saved(doc: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


_PAGE_COUNT = re.compile(r"<pdf:pagecount\s*/?>(\s*</pdf:pagecount>)?", re.IGNORECASE)
#: A static frame's content (``<div id="page-footer">…</div>``, no <div> inside) that prints 共 N 页.
_COUNTING_FRAME = re.compile(r"(<div\b[^>]*>)((?:(?!</?div\b).)*?<pdf:pagecount\b(?:(?!</?div\b).)*?)(</div>)",
                             re.IGNORECASE | re.DOTALL)
_BODY = re.compile(r"(<body\b[^>]*>).*(</body>)", re.IGNORECASE | re.DOTALL)


def _render_stamped(html: str, status: FontStatus, static_root, static_url_path: str,
                    watermark: str | None) -> bytes | None:
    """One layout pass for a document that prints 共 N 页: the document is laid out once with the
    frames that count pages left empty; then those frames alone (the same CSS, so the same places
    and type) are rendered onto as many empty pages, with N written in, and laid under the finished
    pages with pikepdf (the frames' room is blank there); then the watermark, if any, goes over all.
    ``<pdf:pagecount/>`` would make xhtml2pdf lay the whole document out twice
    (the first pass only counts).  None: the document is not of that shape (a 共 N 页 outside a
    frame's <div>, no <body>): laid out the usual way."""
    frames = _COUNTING_FRAME.findall(html)
    emptied = _COUNTING_FRAME.sub(lambda m: m.group(1) + "&nbsp;" + m.group(3), html)
    if not frames or _PAGE_COUNT.search(emptied) or not _BODY.search(html):
        return None
    pdf = _render(emptied, status, static_root, static_url_path)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        pages = len(doc.pages)
        frames_html = "".join(start + _PAGE_COUNT.sub(str(pages), inner) + end for start, inner, end in frames)
        blank = "<p>&nbsp;</p>" + "<pdf:nextpage/><p>&nbsp;</p>" * (pages - 1)
        stamp_html = _BODY.sub(lambda m: m.group(1) + frames_html + blank + m.group(2), emptied, count=1)
        stamps = _render(stamp_html, status, static_root, static_url_path)
        with pikepdf.open(io.BytesIO(stamps)) as over:
            if len(over.pages) != pages:  # cannot happen with frames of one line; never print a wrong count
                log.warning("page stamps: %d pages for %d; laid out again", len(over.pages), pages)
                return None
            for page, stamp in zip(doc.pages, over.pages):
                page.add_underlay(stamp)  # under the page's content
            if watermark:
                _add_watermark(doc, watermark, status.family)
            return _saved(doc)


def _render(html: str, status: FontStatus, static_root, static_url_path: str) -> bytes:
    guard = ResourceGuard(static_root, static_url_path)
    out = io.BytesIO()
    result = _run_pisa(html, status.family, guard, out, status.family if status.embedded else None)
    if getattr(result, "err", 0):
        log.debug("xhtml2pdf reported %d error(s) while rendering", result.err)
    return _pdf_bytes(out)


def _check_source(html) -> None:
    """Refuse non-strings and documents nested too deeply to parse in time."""
    if not isinstance(html, str):
        raise PdfRenderError(f"html must be str, not {type(html).__name__}")
    depth = _estimated_depth(html)
    if depth > MAX_TAG_NESTING:
        raise PdfRenderError(f"document nests elements about {depth} levels deep "
                             f"(limit {MAX_TAG_NESTING}); refused before parsing")


def _run_pisa(html: str, family: str, guard: ResourceGuard, out: io.BytesIO, base_font: str | None = None):
    """Render into ``out`` under the resource policy, with ``base_font`` as ReportLab's default font
    (``_default_font``); returns pisa's result."""
    policy = ResourceAccessPolicy.server(guard.root, allow_remote=False)
    doc_path = str(guard.root / "__document__.html") if guard.root else ""
    source = _inject_style(html, _forced_style(family))
    try:
        with _guarded(guard), _default_font(base_font):
            return pisa.pisaDocument(
                source,
                dest=out,
                path=doc_path,
                link_callback=guard.link_callback,
                default_css=_default_css(family),
                encoding="utf-8",
                resource_policy=policy,
                raise_exception=True,
            )
    except RecursionError as exc:
        raise PdfRenderError("document is nested too deeply to render") from exc
    except Exception as exc:
        raise PdfRenderError(f"PDF rendering failed: {type(exc).__name__}: {exc}"[:500]) from exc
    finally:
        _log_refused(guard)


def _log_refused(guard: ResourceGuard) -> None:
    if guard.refused:
        log.warning("PDF render refused %d resource(s): %s", len(guard.refused),
                    ", ".join(repr(u[:80]) for u in guard.refused[:10]))


def _pdf_bytes(out: io.BytesIO) -> bytes:
    data = out.getvalue()
    if not data.startswith(b"%PDF"):
        raise PdfRenderError("xhtml2pdf produced no PDF")
    return data
