"""Binding evidence files (佐证材料) after a generated report.

Pure library code (no Flask), on pikepdf (qpdf: pages copied between files, form XObjects for
the stamps, outlines) and img2pdf (an image becomes a PDF page without being re-encoded).
See ``docs/evidence-files.md``.

Public API
----------
* :class:`EvidenceSource` – one stored evidence file to bind.
* :class:`PlannedItem`, :func:`plan_pages`, :func:`group_ranges`,
  :func:`format_page_refs` – appendix page numbering for cross references
  such as “见佐证材料第 12–15、18 页”.
* :func:`merge_evidence` – report + TOC + evidence → one PDF (bytes), every
  evidence page stamped with its running number.
* :class:`EvidenceMergeError` – raised by :func:`merge_evidence` when an
  input cannot be read (Chinese message in ``str(exc)``).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
import zlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Dict, Hashable, Iterable, List, Optional, Sequence, Tuple

import img2pdf
import pikepdf
from pikepdf import Array, Dictionary, Name, OutlineItem
from PIL import Image
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from wizard.evidence.images import ImagePlan, ImageTooLarge, decode_image, plan_image
from wizard.evidence.names import MB
from wizard.evidence.pagerefs import EN_DASH, format_page_refs, merge_ranges as _merge_ranges  # noqa: F401 (re-exported)
from wizard.evidence.sanitise import PDF_ERRORS, open_pdf, sanitize_pdf, save_pdf

__all__ = [
    "EvidenceSource",
    "PlannedItem",
    "EvidenceMergeError",
    "plan_pages",
    "group_ranges",
    "format_page_refs",
    "merge_evidence",
    "A4",
    "EN_DASH",
]

A4 = (595.2756, 841.8898)  # points (210 × 297 mm)

IMAGE_MARGIN = 42.52  # 15 mm around images on their A4 page
STAMP_MARGIN_RIGHT = 28.35  # 10 mm
STAMP_MARGIN_BOTTOM = 17.0  # 6 mm baseline from the visible bottom edge
MAX_IMAGE_DPI = 300  # re-encoded images are downsampled to this at print size
MAX_UPSCALE = 1.5  # points per pixel; tiny images are not blown up further
JPEG_QUALITY = 85
PASSTHROUGH_FACTOR = 2  # embed originals up to 2x the pixels needed at 300 dpi
#: PNG modes img2pdf embeds as they are (the compressed rows copied, nothing decoded)
PASSTHROUGH_PNG_MODES = ("RGB", "L", "P", "1")
#: Memory one image may take while it is decoded for binding.  Uploads are
#: normalised to A4 at 200 dpi (a few MB); the budget is for files stored
#: before that: a 40-megapixel progressive JPEG (libjpeg keeps all its DCT
#: coefficients, ~120 MB) still fits, anything larger is refused.
BIND_IMAGE_BUDGET = 256 * MB


# --------------------------------------------------------------------------
# data classes
# --------------------------------------------------------------------------

@dataclass
class EvidenceSource:
    """One evidence file to bind.

    ``data`` – stored bytes (from :attr:`wizard.evidence.checks.CheckedFile.data`),
    or empty with ``path`` – the stored file, read only while it is bound (a
    rendering process is handed paths, not the files' bytes);
    ``kind`` – 'pdf', 'png' or 'jpeg'; ``label`` – shown in the outline
    (bookmarks) and in error messages; ``group_key`` – e.g. the indicator
    id, used by :func:`group_ranges`; ``page_count`` – needed only for
    :func:`plan_pages` (merge counts pages itself).
    """

    data: bytes
    kind: str
    label: str = ""
    group_key: Hashable = None
    page_count: Optional[int] = None
    path: Optional[str] = None

    def open(self) -> BinaryIO:
        """The file's bytes as a stream: ``data``, or the file at ``path`` (OSError if it is gone)."""
        return open(self.path, "rb") if self.path and not self.data else io.BytesIO(self.data)

    def identity(self) -> Tuple[str, Any]:
        """What makes two sources the same file (bound once, its pages copied again)."""
        if self.path and not self.data:
            return ("path", os.path.realpath(self.path))
        return ("data", hashlib.sha256(self.data).digest())


@dataclass(frozen=True)
class PlannedItem:
    index: int  # position in the input list
    item: Any  # the input object itself
    group_key: Hashable
    label: str
    page_count: int
    start: Optional[int]  # first appendix page number (None if 0 pages)
    end: Optional[int]  # last appendix page number (None if 0 pages)

    @property
    def ref(self) -> str:
        """“见佐证材料第 12–15 页” for this item alone ('' if no pages)."""
        if self.start is None:
            return ""
        return format_page_refs([(self.start, self.end)])


class EvidenceMergeError(ValueError):
    """An input of :func:`merge_evidence` could not be read.  ``str(exc)``
    is a Chinese sentence; ``index`` is the evidence item index (None for
    the report or the TOC)."""

    def __init__(self, message: str, index: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.index = index


# --------------------------------------------------------------------------
# planning
# --------------------------------------------------------------------------

def _field(item: Any, names: Sequence[str], default: Any = None) -> Any:
    for name in names:
        if isinstance(item, dict):
            if name in item:
                return item[name]
        elif hasattr(item, name):
            return getattr(item, name)
    return default


def plan_pages(items: Iterable[Any], first_page: int = 1) -> List[PlannedItem]:
    """Assign appendix page numbers to *items* (in the given order).

    Each item is an object or a dict with ``page_count`` and a group key
    (``group_key`` or ``group``) and optionally ``label``.  Numbers run
    continuously from *first_page*; an item with 0 pages gets
    ``start=end=None``.  Use the same number as ``stamp_start`` for
    :func:`merge_evidence` so the stamps match the references.
    """
    planned: List[PlannedItem] = []
    n = int(first_page)
    for i, item in enumerate(items):
        count = _field(item, ("page_count",))
        if count is None:
            raise ValueError(f"item {i} has no page_count")
        count = int(count)
        if count < 0:
            raise ValueError(f"item {i} has a negative page_count")
        key = _field(item, ("group_key", "group"))
        label = _field(item, ("label", "safe_name", "name"), "") or ""
        if count:
            start, end = n, n + count - 1
            n += count
        else:
            start = end = None
        planned.append(PlannedItem(i, item, key, str(label), count, start, end))
    return planned


def group_ranges(planned: Iterable[PlannedItem]) -> Dict[Hashable, List[Tuple[int, int]]]:
    """Page ranges per group key, contiguous ranges merged, in ascending
    order.  Keys appear in order of first appearance; items with 0 pages
    are skipped."""
    acc: Dict[Hashable, List[Tuple[int, int]]] = {}
    for p in planned:
        if p.start is None:
            continue
        acc.setdefault(p.group_key, []).append((p.start, p.end))
    return {k: _merge_ranges(v) for k, v in acc.items()}


# --------------------------------------------------------------------------
# image pages
# --------------------------------------------------------------------------

#: What img2pdf raises for an image it cannot embed.
_IMG2PDF_ERRORS = (img2pdf.AlphaChannelError, img2pdf.ImageOpenError, img2pdf.JpegColorspaceError,
                   img2pdf.UnsupportedColorspaceError, img2pdf.NegativeDimensionError,
                   img2pdf.ExifOrientationError, img2pdf.PdfTooLargeError)
_IMAGE_ERRORS = (OSError, ValueError, SyntaxError, struct.error, zlib.error) + _IMG2PDF_ERRORS


def _image_pdf(data: bytes, kind: str) -> bytes:
    """A one-page PDF (img2pdf) holding the evidence image upright, EXIF orientation applied.

    Only the header is read up front (:func:`wizard.evidence.images.plan_image`).  An image that
    can be embedded as it is (see :func:`_passes_through`) goes to img2pdf untouched, which copies
    a JPEG's bytes or a PNG's compressed rows into the PDF without decoding them.  The others are
    decoded already scaled to MAX_IMAGE_DPI at their printed size, within BIND_IMAGE_BUDGET bytes
    (:func:`wizard.evidence.images.decode_image`), flattened onto white, and encoded once (JPEG
    inputs as JPEG, PNG inputs as PNG) for img2pdf."""
    plan = plan_image(data, kind, _bind_box())
    if _passes_through(kind, plan):
        try:
            return img2pdf.convert(data, engine=img2pdf.Engine.internal, rotation=img2pdf.Rotation.none)
        except _IMG2PDF_ERRORS:
            pass  # a colour model img2pdf does not embed as it is: decoded below
    img = decode_image(data, plan, BIND_IMAGE_BUDGET, count_colours=False).image
    if img.mode in ("RGBA", "LA"):
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, (255, 255, 255))
        img.paste(rgba, mask=rgba.getchannel("A"))
        del rgba
    buf = io.BytesIO()
    if kind == "jpeg":
        img.save(buf, "JPEG", quality=JPEG_QUALITY)
    else:
        img.save(buf, "PNG", compress_level=6)
    del img
    return img2pdf.convert(buf.getvalue(), engine=img2pdf.Engine.internal, rotation=img2pdf.Rotation.none)


def _passes_through(kind: str, plan: ImagePlan) -> bool:
    """Embed the original untouched when the image is upright, in a colour model PDF takes as is
    (no transparency, a single frame; a PNG img2pdf can copy row data from), and has at most
    PASSTHROUGH_FACTOR x the pixels needed for MAX_IMAGE_DPI at its printed size."""
    if plan.orientation != 1 or plan.frames != 1 or plan.transparent:
        return False
    if plan.width > PASSTHROUGH_FACTOR * _max_pixels_wide(plan.width, plan.height):
        return False
    if kind == "jpeg":
        return plan.mode in ("RGB", "L")
    return plan.method == "png-strips" and plan.mode in PASSTHROUGH_PNG_MODES


def _bind_box() -> Tuple[int, int]:
    """Pixels needed for MAX_IMAGE_DPI across the printable area of a page."""
    avail_w, avail_h = A4[0] - 2 * IMAGE_MARGIN, A4[1] - 2 * IMAGE_MARGIN
    return int(avail_w / 72 * MAX_IMAGE_DPI) + 1, int(avail_h / 72 * MAX_IMAGE_DPI) + 1


def _max_pixels_wide(w: int, h: int) -> int:
    """Pixels across needed for MAX_IMAGE_DPI at the printed width."""
    avail_w, avail_h = A4[0] - 2 * IMAGE_MARGIN, A4[1] - 2 * IMAGE_MARGIN
    scale = min(avail_w / w, avail_h / h, MAX_UPSCALE)  # points per pixel
    return int(w * scale / 72 * MAX_IMAGE_DPI) + 1


def _num(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".") or "0"


def _lay_out_image_page(page_pdf: pikepdf.Pdf) -> None:
    """Make img2pdf's page an A4 portrait page showing the image inside 15 mm margins, aspect
    ratio kept, centred (drawn by our own content stream)."""
    page = page_pdf.pages[0]
    (image,) = [v for v in page.obj.Resources.XObject.values() if v.get("/Subtype") == Name.Image]
    w, h = int(image.Width), int(image.Height)
    page_w, page_h = A4
    avail_w, avail_h = page_w - 2 * IMAGE_MARGIN, page_h - 2 * IMAGE_MARGIN
    scale = min(avail_w / w, avail_h / h, MAX_UPSCALE)  # keep aspect ratio
    draw_w, draw_h = w * scale, h * scale
    x, y = (page_w - draw_w) / 2, (page_h - draw_h) / 2
    for key in ("/CropBox", "/TrimBox", "/BleedBox", "/ArtBox", "/Rotate", "/UserUnit"):
        if key in page.obj:
            del page.obj[key]
    page.obj.MediaBox = Array([0, 0, page_w, page_h])
    page.obj.Resources = Dictionary(XObject=Dictionary(Im0=image))
    page.obj.Contents = page_pdf.make_stream(
        f"q {_num(draw_w)} 0 0 {_num(draw_h)} {_num(x)} {_num(y)} cm /Im0 Do Q\n".encode("ascii"))


# --------------------------------------------------------------------------
# stamping
# --------------------------------------------------------------------------

def _visible_box(page: pikepdf.Page) -> Tuple[float, float, float, float, int]:
    """(x0, y0, x1, y1, rotation) of the visible area in user space."""
    mb = [float(v) for v in page.mediabox]
    cb = [float(v) for v in page.cropbox]
    mx0, mx1 = sorted((mb[0], mb[2]))
    my0, my1 = sorted((mb[1], mb[3]))
    cx0, cx1 = sorted((cb[0], cb[2]))
    cy0, cy1 = sorted((cb[1], cb[3]))
    x0, x1 = max(mx0, cx0), min(mx1, cx1)
    y0, y1 = max(my0, cy0), min(my1, cy1)
    if x1 - x0 < 1 or y1 - y0 < 1:  # crop box outside media box: use media box
        x0, y0, x1, y1 = mx0, my0, mx1, my1
    try:
        rot = int(page.obj.get("/Rotate", 0))
    except (TypeError, ValueError):
        rot = 0
    rot = rot % 360
    if rot % 90:
        rot = 0
    return x0, y0, x1, y1, rot


def _visible_to_user(x0: float, y0: float, x1: float, y1: float, rot: int):
    """Matrix mapping 'visible' coordinates (origin at the bottom left of the
    page as displayed, upright) to user space, for /Rotate = rot."""
    if rot == 90:
        return (0, 1, -1, 0, x1, y0)
    if rot == 180:
        return (-1, 0, 0, -1, x1, y1)
    if rot == 270:
        return (0, -1, 1, 0, x0, y1)
    return (1, 0, 0, 1, x0, y0)


def _needs_unicode_font(text: str) -> bool:
    try:
        text.encode("latin-1")
        return False
    except UnicodeEncodeError:
        return True


_STANDARD_FONTS = {
    "Helvetica", "Helvetica-Bold", "Helvetica-Oblique", "Helvetica-BoldOblique",
    "Times-Roman", "Times-Bold", "Times-Italic", "Times-BoldItalic",
    "Courier", "Courier-Bold", "Courier-Oblique", "Courier-BoldOblique",
}


def _draw_watermark(c, w: float, h: float, text: str, font: str) -> None:
    """The 草稿 mark across an evidence page as the report's pages carry it (wizard/pdf/engine.py:
    large, at 40°, a translucent grey), sized to the page."""
    size = min(150.0, max(24.0, min(w, h) / max(len(text), 1) * 0.9))
    c.saveState()
    c.setFillColorRGB(0.5, 0.5, 0.5, alpha=0.16)
    c.setFont(font, size)
    c.translate(w / 2, h / 2)
    c.rotate(40)
    c.drawCentredString(0, -size / 3, text)
    c.restoreState()


def _build_stamp_pdf(sizes: List[Tuple[float, float]], texts: List[str], font: str, font_size: float,
                     watermark: Optional[str] = None) -> bytes:
    """One reportlab document with one small stamp page per evidence page (and the draft
    watermark over it when *watermark* is given)."""

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=1, invariant=1)
    for (w, h), text in zip(sizes, texts):
        c.setPageSize((w, h))
        if watermark:
            _draw_watermark(c, w, h, watermark, font)
        c.setFont(font, font_size)
        c.setFillGray(0.25)
        right = max(font_size, w - STAMP_MARGIN_RIGHT)
        bottom = min(STAMP_MARGIN_BOTTOM, max(2.0, h / 4))
        c.drawRightString(right, bottom, text)
        c.showPage()
    c.save()
    return buf.getvalue()


def _attach_form(out: pikepdf.Pdf, page: pikepdf.Page, form: pikepdf.Object, matrix, q: pikepdf.Object) -> None:
    """Draw the form XObject on top of *page* without parsing its content:
    /Contents becomes [q, original…, 'Q q <matrix> cm /EvStamp Do Q'].  The page gets resource
    dictionaries of its own (pages may share theirs)."""
    res = page.obj.get("/Resources")
    new_res = Dictionary(dict(res.items())) if isinstance(res, Dictionary) else Dictionary()
    xo = new_res.get("/XObject")
    new_xo = Dictionary(dict(xo.items())) if isinstance(xo, Dictionary) else Dictionary()
    name = "/EvStamp"
    while name in new_xo:
        name += "x"
    new_xo[name] = form
    new_res.XObject = new_xo
    page.obj.Resources = new_res
    contents = page.obj.get("/Contents")
    parts = [q]
    if isinstance(contents, Array):
        parts.extend(contents)
    elif isinstance(contents, pikepdf.Stream):
        parts.append(contents)
    tail = "\nQ q " + " ".join(_num(v) for v in matrix) + f" cm {name} Do Q\n"
    parts.append(out.make_stream(tail.encode("ascii")))
    page.obj.Contents = Array(parts)


def _stamp_pages(out: pikepdf.Pdf, pages: List[pikepdf.Page], first: int, fmt: str, font: str, font_size: float,
                 watermark: Optional[str], keep: ExitStack) -> None:
    """Stamp each page with its running number (and the draft watermark): one reportlab page per
    evidence page, made a form XObject (pikepdf) and drawn over the page."""
    if not pages:
        return
    boxes = [_visible_box(p) for p in pages]
    sizes = []
    for x0, y0, x1, y1, rot in boxes:
        w, h = x1 - x0, y1 - y0
        sizes.append((h, w) if rot in (90, 270) else (w, h))
    texts = [fmt.format(n=first + i) for i in range(len(pages))]
    stamps = keep.enter_context(pikepdf.open(io.BytesIO(_build_stamp_pdf(sizes, texts, font, font_size, watermark))))
    q = out.make_stream(b"q\n")
    for page, stamp, (x0, y0, x1, y1, rot) in zip(pages, stamps.pages, boxes):
        form = out.copy_foreign(stamp.as_form_xobject())
        _attach_form(out, page, form, _visible_to_user(x0, y0, x1, y1, rot), q)


# --------------------------------------------------------------------------
# merge
# --------------------------------------------------------------------------

def _open_input(source: Any, what: str, index: Optional[int], keep: ExitStack) -> pikepdf.Pdf:
    """A report, TOC or evidence PDF opened (closed with *keep*); EvidenceMergeError if unreadable."""
    try:
        pdf = keep.enter_context(open_pdf(source))
        if pdf.is_encrypted:
            raise EvidenceMergeError(f"{what}已加密，无法合并。", index)
        _ = len(pdf.pages)
        return pdf
    except EvidenceMergeError:
        raise
    except pikepdf.PasswordError as exc:
        raise EvidenceMergeError(f"{what}已加密，无法合并。", index) from exc
    except PDF_ERRORS as exc:
        raise EvidenceMergeError(f"{what}不是有效的 PDF 文件，无法合并。", index) from exc


def merge_evidence(
    report_pdf: Optional[bytes],
    toc_pdf: Optional[bytes],
    items: Sequence[EvidenceSource],
    *,
    stamp_start: int = 1,
    stamp_format: str = "- {n} -",
    stamp_font: str = "Helvetica",
    stamp_font_size: float = 9,
    add_outline: bool = True,
    outline_title: str = "佐证材料",
    dedupe_objects: bool = True,
    out: Optional[BinaryIO] = None,
    watermark: Optional[str] = None,
) -> bytes:
    """Report (optional) + TOC (optional) + every evidence item, as PDF bytes
    (or written to *out*, a binary file, and ``b""`` returned).

    * The report is the document the rest is added to: its outline, links and document
      information (Title, Author, Subject, Keywords) are kept.  The TOC's pages follow it.
      Neither is sanitized (we generate them).
    * Evidence PDFs are sanitized (no JavaScript, no non-GoTo actions, no attachments, see
      :func:`wizard.evidence.sanitise.sanitize_pdf`), then their pages are copied.  A file
      given twice (same bytes or same path, *dedupe_objects*) is prepared once and its pages
      given twice to qpdf, which stores its images and fonts once.
    * Images (``kind`` 'png'/'jpeg') get one A4 portrait page each, scaled to fit inside
      15 mm margins, aspect ratio kept, centred, EXIF orientation applied.
    * Every evidence page (not the report or TOC) is stamped at the visible
      bottom right with ``stamp_format.format(n=...)``, n running from
      *stamp_start*.  The default font is Helvetica, which only covers
      Latin-1: to stamp e.g. “佐证材料 第 {n} 页” register a CJK TTF font
      with reportlab first and pass its name as *stamp_font* – otherwise a
      ``ValueError`` is raised.
    * If *add_outline*, bookmarks “佐证材料 › <label>” are added.
    * *watermark* (a draft's “草稿”): drawn over every evidence page, as over the report's.
    * Memory stays near one evidence file whatever their total: every input is a file (a
      stored file by its ``path``, the others written to a temporary directory), qpdf puts
      the pages together reading each file while it writes, and the result is stamped and
      written out from that file again.

    Raises :class:`EvidenceMergeError` when an input is unreadable.
    """
    _check_stamp_font(stamp_format, stamp_font)
    with ExitStack() as keep:  # every file stays until the result is written
        work = keep.enter_context(tempfile.TemporaryDirectory(prefix="evidence-"))
        front = _front_files(report_pdf, toc_pdf, work)
        appendix = _prepare_evidence(items, dedupe_objects, work)
        doc = _assemble(front, appendix, work, keep)
        try:
            _stamp_pages(doc, appendix.pages(doc), stamp_start, stamp_format, stamp_font, stamp_font_size,
                         watermark, keep)
            if add_outline and appendix.starts:
                _add_outline(doc, [(appendix.first_page + n, label) for n, label in appendix.starts], outline_title)
            return save_pdf(doc, out)
        except EvidenceMergeError:
            raise
        except PDF_ERRORS as exc:
            raise EvidenceMergeError("佐证材料中含有无法处理的 PDF 结构，合并失败。") from exc


# --------------------------------------------------------------------------
# assembling: every input a file, the pages put together by qpdf
# --------------------------------------------------------------------------
#
# Copying pages between open documents (``pages.extend``) makes qpdf read the copied streams
# into memory at once: a rendering process would hold every evidence file's images.  qpdf's own
# page assembly (``--pages``, run through :class:`pikepdf.Job`) reads each input while it writes
# the result instead, and the result, opened again, is stamped and written out the same way: so
# memory stays near one file whatever the total.


@dataclass
class _Front:
    """The report and TOC as files (paths), and how many pages they have together."""

    files: List[str] = field(default_factory=list)
    report: Optional[str] = None
    pages: int = 0


@dataclass
class _Appendix:
    """The evidence as files for qpdf: their paths in order, each item's first page."""

    files: List[str] = field(default_factory=list)
    first_page: int = 0  # index of the first evidence page in the assembled document
    count: int = 0  # evidence pages
    starts: List[Tuple[int, str]] = field(default_factory=list)  # (page index, label)
    known: Dict[Any, Tuple[str, int]] = field(default_factory=dict)  # identity -> (path, pages)

    def pages(self, doc: pikepdf.Pdf) -> List[pikepdf.Page]:
        return [doc.pages[n] for n in range(self.first_page, self.first_page + self.count)]


def _check_stamp_font(stamp_format: str, stamp_font: str) -> None:
    """ValueError unless *stamp_font* is usable for the stamp text."""
    if _needs_unicode_font(stamp_format.format(n=0)) and stamp_font in _STANDARD_FONTS:
        raise ValueError(
            "stamp_format contains non Latin-1 characters; register a CJK TTF font "
            "with reportlab and pass its name as stamp_font"
        )
    if stamp_font not in _STANDARD_FONTS:
        try:
            pdfmetrics.getFont(stamp_font)
        except KeyError as exc:
            raise ValueError(f"font {stamp_font!r} is not registered with reportlab") from exc


def _spill(data: bytes, work: str, name: str) -> str:
    """*data* written to the file *name* in *work* (a full path is taken as it is)."""
    path = os.path.join(work, name)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def _front_files(report_pdf: Optional[bytes], toc_pdf: Optional[bytes], work: str) -> _Front:
    """The report and the TOC, checked (readable, not encrypted) and written to files."""
    front = _Front()
    for blob, what, name in ((report_pdf, "报告正文", "report.pdf"), (toc_pdf, "佐证材料目录", "toc.pdf")):
        if blob:
            with ExitStack() as checking:
                front.pages += len(_open_input(blob, what, None, checking).pages)
            front.files.append(_spill(blob, work, name))
    front.report = front.files[0] if report_pdf else None
    return front


def _prepare_evidence(items: Sequence[EvidenceSource], dedupe: bool, work: str) -> _Appendix:
    """Each evidence item as a file for qpdf: a PDF sanitized (rewritten only when something was
    removed), an image made into its A4 page.  A file given twice is prepared once."""
    appendix = _Appendix()
    for i, item in enumerate(items):
        label = item.label or f"第 {i + 1} 份材料"
        what = f"佐证材料“{label}”"
        kind = (item.kind or "").lower()
        key = item.identity() if dedupe else ("item", i)
        if key in appendix.known:
            path, pages = appendix.known[key]
        elif kind == "pdf":
            path, pages = _prepare_pdf(item, i, what, work)
        elif kind in ("png", "jpeg", "jpg"):
            path, pages = _prepare_image(item, "png" if kind == "png" else "jpeg", i, what, work)
        else:
            raise EvidenceMergeError(f"{what}的类型“{item.kind}”不受支持。", i)
        appendix.known[key] = (path, pages)
        if pages:
            appendix.starts.append((appendix.count, label))
            appendix.files.append(path)
            appendix.count += pages
    return appendix


def _prepare_pdf(item: EvidenceSource, i: int, what: str, work: str) -> Tuple[str, int]:
    """An evidence PDF checked and sanitized: its own file when nothing was removed, else the
    sanitized copy (written by qpdf from the open file, not held in memory)."""
    with ExitStack() as reading:
        stream = reading.enter_context(item.open())  # a missing file is an OSError for the caller
        source = _open_input(stream, what, i, reading)
        try:
            pages = len(source.pages)
            path = os.path.join(work, f"evidence-{i}.pdf")
            if sanitize_pdf(source) == 0:
                return (item.path, pages) if item.path and not item.data else (_spill(item.data, work, path), pages)
            source.save(path)
        except PDF_ERRORS as exc:
            raise EvidenceMergeError(f"{what}不是有效的 PDF 文件，无法合并。", i) from exc
    return path, pages


def _prepare_image(item: EvidenceSource, kind: str, i: int, what: str, work: str) -> Tuple[str, int]:
    with item.open() as stream:  # a missing file is an OSError for the caller, not a bad image
        data = stream.read()
    try:
        with pikepdf.open(io.BytesIO(_image_pdf(data, kind))) as page_pdf:
            _lay_out_image_page(page_pdf)
            path = os.path.join(work, f"evidence-{i}.pdf")
            page_pdf.save(path)
        return path, 1
    except (ImageTooLarge, Image.DecompressionBombError) as exc:
        raise EvidenceMergeError(f"{what}的图片尺寸过大，无法合并。请删除该文件后重新上传。", i) from exc
    except _IMAGE_ERRORS as exc:
        raise EvidenceMergeError(f"{what}不是有效的图片文件，无法合并。", i) from exc


def _assemble(front: _Front, appendix: _Appendix, work: str, keep: ExitStack) -> pikepdf.Pdf:
    """One document: the report (the primary file: its outline, links and document information
    kept), the TOC's pages, then every evidence file's pages, put together by qpdf."""
    files = front.files[1:] if front.report else front.files
    files += appendix.files
    appendix.first_page = front.pages
    if not files:
        return keep.enter_context(pikepdf.open(front.report)) if front.report \
            else keep.enter_context(pikepdf.new())
    merged = os.path.join(work, "merged.pdf")
    pages = ["."] if front.report else []
    for path in files:
        pages += [path, "1-z"]
    job = pikepdf.Job(["qpdf", front.report or "--empty", "--pages"] + pages + ["--", merged])
    try:
        job.run()
        if job.exit_code not in (0, 3):  # 3: warnings only
            raise EvidenceMergeError("佐证材料中含有无法处理的 PDF 结构，合并失败。")
        return keep.enter_context(pikepdf.open(merged))
    except EvidenceMergeError:
        raise
    except PDF_ERRORS as exc:
        raise EvidenceMergeError("佐证材料中含有无法处理的 PDF 结构，合并失败。") from exc


def _add_outline(doc: pikepdf.Pdf, starts: List[Tuple[int, str]], title: str) -> None:
    """Bookmarks “<title> › <label>” for the evidence items, after the report's own."""
    with doc.open_outline() as outline:
        parent = OutlineItem(title, starts[0][0])
        parent.children.extend(OutlineItem(label, index) for index, label in starts)
        outline.root.append(parent)
