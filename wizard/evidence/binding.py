"""Binding evidence files (佐证材料) after a generated report.

Pure library code (no Flask).  See ``docs/evidence-files.md``.

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
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Dict, Hashable, Iterable, List, Optional, Sequence, Tuple, Union

from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    EncodedStreamObject,
    IndirectObject,
    NameObject,
    NumberObject,
    RectangleObject,
    StreamObject,
)
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from wizard.evidence.images import ImagePlan, ImageTooLarge, decode_image, plan_image
from wizard.evidence.names import MB
from wizard.evidence.sanitise import PDF_ERRORS, drop_unreachable_objects, sanitize_pdf_objects

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
EN_DASH = "\u2013"

IMAGE_MARGIN = 42.52  # 15 mm around images on their A4 page
STAMP_MARGIN_RIGHT = 28.35  # 10 mm
STAMP_MARGIN_BOTTOM = 17.0  # 6 mm baseline from the visible bottom edge
MAX_IMAGE_DPI = 300  # re-encoded images are downsampled to this at print size
MAX_UPSCALE = 1.5  # points per pixel; tiny images are not blown up further
JPEG_QUALITY = 85
PASSTHROUGH_FACTOR = 2  # embed originals up to 2x the pixels needed at 300 dpi
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

    @classmethod
    def from_checked(cls, checked: Any, *, label: Optional[str] = None, group_key: Hashable = None) -> "EvidenceSource":
        return cls(
            data=checked.data,
            kind=checked.kind,
            label=label if label is not None else checked.safe_name,
            group_key=group_key,
            page_count=checked.page_count,
        )


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


def _merge_ranges(ranges: Iterable[Tuple[int, int]]) -> List[Tuple[int, int]]:
    rs = sorted((int(a), int(b)) if a <= b else (int(b), int(a)) for a, b in ranges)
    out: List[Tuple[int, int]] = []
    for a, b in rs:
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


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


def format_page_refs(
    ranges: Iterable[Tuple[int, int]],
    prefix: str = "见佐证材料第 ",
    suffix: str = " 页",
) -> str:
    """``[(12, 15)]`` → “见佐证材料第 12–15 页”; ``[(12, 15), (18, 18)]`` →
    “见佐证材料第 12–15、18 页”; ``[(7, 7)]`` → “见佐证材料第 7 页”.
    Ranges are sorted and contiguous ones merged; empty input gives ''."""
    merged = _merge_ranges(ranges)
    if not merged:
        return ""
    parts = [str(a) if a == b else f"{a}{EN_DASH}{b}" for a, b in merged]
    return f"{prefix}{'、'.join(parts)}{suffix}"


# --------------------------------------------------------------------------
# image pages
# --------------------------------------------------------------------------

def _png_passthrough(data: bytes):
    """Return (width, height, colors, idat) if the PNG can be embedded
    without decoding (8-bit gray/RGB, not interlaced, no transparency),
    else None."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    pos = 8
    idat = []
    info = None
    n = len(data)
    while pos + 8 <= n:
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            return None
        if ctype == b"IHDR":
            w, h, depth, color, comp, flt, interlace = struct.unpack(">IIBBBBB", body[:13])
            if depth != 8 or color not in (0, 2) or comp or flt or interlace:
                return None
            info = (w, h, 1 if color == 0 else 3)
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype in (b"tRNS", b"eXIf", b"acTL"):  # transparency, EXIF rotation, animation
            return None
        elif ctype == b"IEND":
            break
        pos += 12 + length
    if info is None or not idat:
        return None
    return info + (b"".join(idat),)


def _image_xobject(data: bytes, kind: str) -> Tuple[StreamObject, int, int]:
    """Image XObject for an evidence image (EXIF orientation applied).

    Only the header is read up front (:func:`wizard.evidence.images.plan_image`).
    Images that can be embedded as they are never get decoded; the others
    are decoded already scaled to MAX_IMAGE_DPI at their printed size
    (JPEG at 1/2–1/8 scale by libjpeg, PNG strip by strip), within
    BIND_IMAGE_BUDGET bytes, so that files stored before uploads were
    normalised cannot make binding slow or memory hungry.
    """
    plan = plan_image(data, kind, _bind_box())
    passthrough = _passthrough_xobject(data, kind, plan)
    if passthrough is not None:
        return passthrough
    img = decode_image(data, plan, BIND_IMAGE_BUDGET, count_colours=False).image
    # Flatten transparency onto white, then encode: JPEG inputs as JPEG,
    # PNG inputs losslessly (Flate).
    if img.mode in ("RGBA", "LA"):
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, (255, 255, 255))
        img.paste(rgba, mask=rgba.getchannel("A"))
        del rgba
    w, h = img.size
    stream = EncodedStreamObject()  # raw, already encoded data in ._data
    colorspace = "/DeviceRGB" if img.mode == "RGB" else "/DeviceGray"
    if kind == "jpeg":
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=False)
        stream._data = buf.getvalue()
        flt = "/DCTDecode"
    else:
        stream._data = zlib.compress(img.tobytes(), 6)
        flt = "/FlateDecode"
    stream.update({
        NameObject("/Filter"): NameObject(flt),
        NameObject("/ColorSpace"): NameObject(colorspace),
    })
    return _finish_image(stream, w, h), w, h


def _passthrough_xobject(data: bytes, kind: str, plan: ImagePlan):
    """Embed the original compressed data untouched (no decoding) when the
    image is upright, in a colour model PDF takes as is, and has at most
    PASSTHROUGH_FACTOR x the pixels needed for MAX_IMAGE_DPI at its printed
    size; else None."""
    w, h = plan.width, plan.height
    if plan.orientation != 1 or w > PASSTHROUGH_FACTOR * _max_pixels_wide(w, h):
        return None
    stream = EncodedStreamObject()
    if kind == "jpeg" and plan.mode in ("RGB", "L") and plan.frames == 1:
        stream._data = data
        stream.update({
            NameObject("/Filter"): NameObject("/DCTDecode"),
            NameObject("/ColorSpace"): NameObject("/DeviceRGB" if plan.mode == "RGB" else "/DeviceGray"),
        })
        return _finish_image(stream, w, h), w, h
    simple = _png_passthrough(data) if kind == "png" else None
    if simple is None:
        return None
    w, h, colors, idat = simple
    stream._data = idat
    stream.update({
        NameObject("/Filter"): NameObject("/FlateDecode"),
        NameObject("/ColorSpace"): NameObject("/DeviceRGB" if colors == 3 else "/DeviceGray"),
        NameObject("/DecodeParms"): DictionaryObject({
            NameObject("/Predictor"): NumberObject(15),
            NameObject("/Colors"): NumberObject(colors),
            NameObject("/BitsPerComponent"): NumberObject(8),
            NameObject("/Columns"): NumberObject(w),
        }),
    })
    return _finish_image(stream, w, h), w, h


def _bind_box() -> Tuple[int, int]:
    """Pixels needed for MAX_IMAGE_DPI across the printable area of a page."""
    avail_w, avail_h = A4[0] - 2 * IMAGE_MARGIN, A4[1] - 2 * IMAGE_MARGIN
    return int(avail_w / 72 * MAX_IMAGE_DPI) + 1, int(avail_h / 72 * MAX_IMAGE_DPI) + 1


def _max_pixels_wide(w: int, h: int) -> int:
    """Pixels across needed for MAX_IMAGE_DPI at the printed width."""
    avail_w, avail_h = A4[0] - 2 * IMAGE_MARGIN, A4[1] - 2 * IMAGE_MARGIN
    scale = min(avail_w / w, avail_h / h, MAX_UPSCALE)  # points per pixel
    return int(w * scale / 72 * MAX_IMAGE_DPI) + 1


def _finish_image(stream: StreamObject, w: int, h: int) -> StreamObject:
    stream.update({
        NameObject("/Type"): NameObject("/XObject"),
        NameObject("/Subtype"): NameObject("/Image"),
        NameObject("/Width"): NumberObject(w),
        NameObject("/Height"): NumberObject(h),
        NameObject("/BitsPerComponent"): NumberObject(8),
    })
    return stream


def _num(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".") or "0"


def _add_image_page(writer: PdfWriter, data: bytes, kind: str):
    xobj, w, h = _image_xobject(data, kind)
    page_w, page_h = A4
    avail_w, avail_h = page_w - 2 * IMAGE_MARGIN, page_h - 2 * IMAGE_MARGIN
    scale = min(avail_w / w, avail_h / h, MAX_UPSCALE)  # keep aspect ratio
    draw_w, draw_h = w * scale, h * scale
    x = (page_w - draw_w) / 2
    y = (page_h - draw_h) / 2
    page = writer.add_blank_page(page_w, page_h)
    img_ref = writer._add_object(xobj)  # noqa: SLF001
    content = DecodedStreamObject()
    content.set_data(
        f"q {_num(draw_w)} 0 0 {_num(draw_h)} {_num(x)} {_num(y)} cm /Im0 Do Q\n".encode("ascii")
    )
    page[NameObject("/Resources")] = DictionaryObject({
        NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): img_ref}),
    })
    page[NameObject("/Contents")] = writer._add_object(content)  # noqa: SLF001
    return page


# --------------------------------------------------------------------------
# stamping
# --------------------------------------------------------------------------

def _visible_box(page) -> Tuple[float, float, float, float, int]:
    """(x0, y0, x1, y1, rotation) of the visible area in user space."""
    mb = page.mediabox
    cb = page.cropbox
    mx0, mx1 = sorted((float(mb[0]), float(mb[2])))
    my0, my1 = sorted((float(mb[1]), float(mb[3])))
    cx0, cx1 = sorted((float(cb[0]), float(cb[2])))
    cy0, cy1 = sorted((float(cb[1]), float(cb[3])))
    x0, x1 = max(mx0, cx0), min(mx1, cx1)
    y0, y1 = max(my0, cy0), min(my1, cy1)
    if x1 - x0 < 1 or y1 - y0 < 1:  # crop box outside media box: use media box
        x0, y0, x1, y1 = mx0, my0, mx1, my1
    try:
        rot = int(page.rotation or 0)
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


def _attach_form(writer: PdfWriter, page, form_ref: IndirectObject, matrix, q_ref: IndirectObject) -> None:
    """Draw the form XObject on top of *page* without parsing its content:
    /Contents becomes [q, original…, 'Q q <matrix> cm /EvStamp Do Q']."""
    res = page.get("/Resources")
    res = res.get_object() if res is not None else None
    new_res = DictionaryObject(res) if isinstance(res, DictionaryObject) else DictionaryObject()
    xo = new_res.get("/XObject")
    xo = xo.get_object() if xo is not None else None
    new_xo = DictionaryObject(xo) if isinstance(xo, DictionaryObject) else DictionaryObject()
    name = "/EvStamp"
    while name in new_xo:
        name += "x"
    new_xo[NameObject(name)] = form_ref
    new_res[NameObject("/XObject")] = new_xo
    page[NameObject("/Resources")] = new_res

    parts = ArrayObject([q_ref])
    contents = page.raw_get("/Contents") if "/Contents" in page else None
    if contents is not None:
        resolved = contents.get_object()
        if isinstance(resolved, ArrayObject):
            parts.extend(resolved)
        elif isinstance(resolved, StreamObject):
            if isinstance(contents, IndirectObject):
                parts.append(contents)
            else:
                parts.append(writer._add_object(resolved))  # noqa: SLF001
        _compress_raw_streams(parts)
    tail = DecodedStreamObject()
    tail.set_data(
        ("\nQ q " + " ".join(_num(v) for v in matrix) + f" cm {name} Do Q\n").encode("ascii")
    )
    parts.append(writer._add_object(tail))  # noqa: SLF001
    page[NameObject("/Contents")] = parts


def _compress_raw_streams(parts: Iterable) -> None:
    """Flate-compress uncompressed content streams in place (cheap: zlib
    only, no content parsing).  Already filtered streams are left alone."""
    for ref in parts:
        s = ref.get_object() if isinstance(ref, IndirectObject) else ref
        if isinstance(s, StreamObject) and "/Filter" not in s:
            raw = s._data  # noqa: SLF001
            if isinstance(raw, (bytes, bytearray)) and len(raw) > 64:
                s._data = zlib.compress(bytes(raw), 6)  # noqa: SLF001
                s[NameObject("/Filter")] = NameObject("/FlateDecode")
                if "/DecodeParms" in s:
                    del s["/DecodeParms"]


def _stamp_pages(writer: PdfWriter, pages: List[Any], first: int, fmt: str, font: str, font_size: float,
                 watermark: Optional[str] = None) -> None:
    if not pages:
        return
    boxes = [_visible_box(p) for p in pages]
    sizes = []
    for x0, y0, x1, y1, rot in boxes:
        w, h = x1 - x0, y1 - y0
        sizes.append((h, w) if rot in (90, 270) else (w, h))
    texts = [fmt.format(n=first + i) for i in range(len(pages))]
    overlay = PdfReader(io.BytesIO(_build_stamp_pdf(sizes, texts, font, font_size, watermark)))

    q = DecodedStreamObject()
    q.set_data(b"q\n")
    q_ref = writer._add_object(q)  # noqa: SLF001
    res_cache: Dict[int, Any] = {}
    for page, ov, (x0, y0, x1, y1, rot), (w, h) in zip(pages, overlay.pages, boxes, sizes):
        ov_res = ov.raw_get("/Resources")
        key = id(ov_res.get_object())
        if isinstance(ov_res, IndirectObject):
            key = ov_res.idnum
        if key not in res_cache:
            res_cache[key] = ov_res.clone(writer)
        data = ov.get_contents().get_data()
        form = DecodedStreamObject()
        form.set_data(data)
        form.update({
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): RectangleObject([0, 0, w, h]),
            NameObject("/Resources"): res_cache[key],
        })
        form_ref = writer._add_object(form.flate_encode())  # noqa: SLF001
        _attach_form(writer, page, form_ref, _visible_to_user(x0, y0, x1, y1, rot), q_ref)


# --------------------------------------------------------------------------
# merge
# --------------------------------------------------------------------------

def _open_pdf(data: Union[bytes, BinaryIO], what: str, index: Optional[int]) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data) if isinstance(data, bytes) else data, strict=False)
        if reader.is_encrypted:
            raise EvidenceMergeError(f"{what}已加密，无法合并。", index)
        _ = len(reader.pages)
        return reader
    except EvidenceMergeError:
        raise
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

    * PDFs are appended page by page and sanitized (no JavaScript, no
      non-GoTo actions, see :func:`wizard.evidence.sanitise.sanitize_pdf_objects`).
      The report and TOC are appended with :meth:`PdfWriter.append` (their
      outlines and links are kept) and are not sanitized.
    * Images (``kind`` 'png'/'jpeg') get one A4 portrait page each, scaled
      to fit inside 15 mm margins, aspect ratio kept, centred, EXIF
      orientation applied.
    * Every evidence page (not the report or TOC) is stamped at the visible
      bottom right with ``stamp_format.format(n=...)``, n running from
      *stamp_start*.  The default font is Helvetica, which only covers
      Latin-1: to stamp e.g. “佐证材料 第 {n} 页” register a CJK TTF font
      with reportlab first and pass its name as *stamp_font* – otherwise a
      ``ValueError`` is raised.
    * If *add_outline*, bookmarks “佐证材料 › <label>” are added.
    * *watermark* (a draft's “草稿”): drawn over every evidence page, as over the report's.
    * The report's document information (Title, Author, Subject, Keywords) is kept.
    * With *out*, memory stays near one evidence file whatever their total:
      each file is read while it is appended, and its large streams (images,
      fonts: :data:`SPOOL_MIN_BYTES` and more) wait in an anonymous temporary
      file until they are copied to *out*.

    Raises :class:`EvidenceMergeError` when an input is unreadable.
    """
    _check_stamp_font(stamp_format, stamp_font)
    writer = PdfWriter()
    with _Spool() if out is not None else _NoSpool() as spool:
        _append_generated(writer, report_pdf, toc_pdf)
        appendix = _append_evidence(writer, items, spool)
        _sanitize_and_stamp(writer, appendix, stamp_start, stamp_format, stamp_font, stamp_font_size, watermark)
        if add_outline and appendix.starts:
            _add_outline(writer, appendix.starts, outline_title)
        return _write(writer, dedupe_objects, out)


# --------------------------------------------------------------------------
# large streams wait on disk (merge_evidence(out=...))
# --------------------------------------------------------------------------

SPOOL_MIN_BYTES = 64 * 1024
_COPY_CHUNK = 1024 * 1024


class _Spool:
    """An anonymous temporary file holding the large streams of the evidence."""

    def __enter__(self) -> "_Spool":
        self.file = tempfile.TemporaryFile()
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()

    def move_out(self, writer: PdfWriter, first_object: int, keep: set) -> None:
        """Replace each large stream from *first_object* on (but those in *keep*: page contents,
        which stamping reads) by a :class:`_SpooledStream`."""
        objects = writer._objects  # noqa: SLF001
        for idx in range(first_object, len(objects)):
            obj = objects[idx]
            if (isinstance(obj, StreamObject) and not isinstance(obj, _SpooledStream) and idx + 1 not in keep
                    and len(obj._data) >= SPOOL_MIN_BYTES):  # noqa: SLF001
                objects[idx] = _SpooledStream(obj, self.file)


class _NoSpool:
    def __enter__(self) -> "_NoSpool":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def move_out(self, writer: PdfWriter, first_object: int, keep: set) -> None:
        pass


class _SpooledStream(EncodedStreamObject):
    """A stream whose bytes wait in the spool file until the PDF is written.  What pypdf hashes
    (deduplication) is a digest of the bytes, so identical streams are still merged."""

    def __init__(self, source: StreamObject, spool) -> None:
        super().__init__()
        self.update(source)
        self.indirect_reference = source.indirect_reference
        data = source._data  # noqa: SLF001
        spool.seek(0, io.SEEK_END)
        self._spool, self._offset, self._length = spool, spool.tell(), len(data)
        spool.write(data)
        self._data = b"%spooled " + hashlib.sha256(data).hexdigest().encode()

    def write_to_stream(self, stream, *args, **kwargs) -> None:
        self[NameObject("/Length")] = NumberObject(self._length)
        DictionaryObject.write_to_stream(self, stream)
        del self["/Length"]
        stream.write(b"\nstream\n")
        self._spool.seek(self._offset)
        left = self._length
        while left:
            chunk = self._spool.read(min(left, _COPY_CHUNK))
            stream.write(chunk)
            left -= len(chunk)
        stream.write(b"\nendstream")


@dataclass
class _Appendix:
    """Evidence added to the writer so far (work in progress of the merge)."""

    first_object: int  # index of the first writer object that belongs to the evidence
    pages: List[Any] = field(default_factory=list)  # evidence pages, to be stamped
    starts: List[Tuple[int, str]] = field(default_factory=list)  # (first page index, label)


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


def _append_generated(writer: PdfWriter, report_pdf: Optional[bytes], toc_pdf: Optional[bytes]) -> None:
    """Append the report and the TOC as they are (outlines and links kept)."""
    for blob, what in ((report_pdf, "报告正文"), (toc_pdf, "佐证材料目录")):
        if blob:
            reader = _open_pdf(blob, what, None)
            try:
                writer.append(reader)
                if what == "报告正文" and reader.metadata:  # its Title, Author, Subject, Keywords
                    writer.add_metadata({k: str(v) for k, v in reader.metadata.items()
                                         if k in ("/Title", "/Author", "/Subject", "/Keywords", "/Creator")})
            except PDF_ERRORS as exc:
                raise EvidenceMergeError(f"{what}不是有效的 PDF 文件，无法合并。") from exc


def _append_evidence(writer: PdfWriter, items: Sequence[EvidenceSource], spool: Any) -> _Appendix:
    """Append every evidence item, remembering its pages and where it starts; each item's large
    streams go to the spool before the next item is read."""
    # Objects created from here on belong to the evidence; only those are
    # sanitized (the report and TOC are generated by us and may legitimately
    # contain e.g. web links).
    appendix = _Appendix(first_object=len(writer._objects))  # noqa: SLF001
    for i, item in enumerate(items):
        label = item.label or f"第 {i + 1} 份材料"
        what = f"佐证材料“{label}”"
        first_index, first_object = len(writer.pages), len(writer._objects)  # noqa: SLF001
        _append_item(writer, item, i, what, appendix.pages)
        if len(writer.pages) > first_index:
            appendix.starts.append((first_index, label))
        spool.move_out(writer, first_object, _content_ids(appendix.pages[-(len(writer.pages) - first_index):]
                                                          if len(writer.pages) > first_index else []))
    return appendix


def _content_ids(pages: List[Any]) -> set:
    """Object numbers of the pages' content streams."""
    ids = set()
    for page in pages:
        contents = page.raw_get("/Contents") if "/Contents" in page else None
        refs = contents.get_object() if isinstance(contents, IndirectObject) else contents
        for ref in (refs if isinstance(refs, ArrayObject) else [contents]):
            if isinstance(ref, IndirectObject):
                ids.add(ref.idnum)
    return ids


def _append_item(writer: PdfWriter, item: EvidenceSource, i: int, what: str, pages: List[Any]) -> None:
    """Append one evidence item (PDF pages or one image page) to *pages*."""
    kind = (item.kind or "").lower()
    if kind == "pdf":
        _append_pdf_item(writer, item, i, what, pages)
    elif kind in ("png", "jpeg", "jpg"):
        _append_image_item(writer, item, "png" if kind == "png" else "jpeg", i, what, pages)
    else:
        raise EvidenceMergeError(f"{what}的类型“{item.kind}”不受支持。", i)


def _append_pdf_item(writer: PdfWriter, item: EvidenceSource, i: int, what: str, pages: List[Any]) -> None:
    with item.open() as stream:
        reader = _open_pdf(stream, what, i)
        try:
            for page in reader.pages:
                pages.append(writer.add_page(page))
        except PDF_ERRORS as exc:
            raise EvidenceMergeError(f"{what}不是有效的 PDF 文件，无法合并。", i) from exc
        finally:
            # The reader's objects refer to each other (a cycle the garbage collector frees only
            # later): drop its cache now, so the file's streams leave memory with it.
            reader.resolved_objects.clear()


def _append_image_item(
    writer: PdfWriter, item: EvidenceSource, kind: str, i: int, what: str, pages: List[Any]
) -> None:
    with item.open() as stream:  # a missing file is an OSError for the caller, not a bad image
        data = stream.read()
    try:
        pages.append(_add_image_page(writer, data, kind))
    except (ImageTooLarge, Image.DecompressionBombError) as exc:
        raise EvidenceMergeError(f"{what}的图片尺寸过大，无法合并。请删除该文件后重新上传。", i) from exc
    except (OSError, ValueError, SyntaxError, struct.error, zlib.error) as exc:
        raise EvidenceMergeError(f"{what}不是有效的图片文件，无法合并。", i) from exc


def _sanitize_and_stamp(
    writer: PdfWriter, appendix: _Appendix, first: int, fmt: str, font: str, font_size: float,
    watermark: Optional[str] = None,
) -> None:
    """Sanitize the evidence objects, then stamp the evidence pages."""
    try:
        sanitize_pdf_objects(writer._objects[appendix.first_object:])  # noqa: SLF001
        _stamp_pages(writer, appendix.pages, first, fmt, font, font_size, watermark)
    except PDF_ERRORS as exc:
        if isinstance(exc, EvidenceMergeError):
            raise
        raise EvidenceMergeError("佐证材料中含有无法处理的 PDF 结构，合并失败。") from exc


def _add_outline(writer: PdfWriter, starts: List[Tuple[int, str]], title: str) -> None:
    """Bookmarks “<title> › <label>” for the evidence items."""
    parent = writer.add_outline_item(title=title, page_number=starts[0][0])
    for index, label in starts:
        writer.add_outline_item(title=label, page_number=index, parent=parent)


def _write(writer: PdfWriter, dedupe_objects: bool, out: Optional[BinaryIO] = None) -> bytes:
    if dedupe_objects:
        writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    # Objects of removed actions and annotations (and the files behind
    # attachments) must not stay in the file as orphans.
    drop_unreachable_objects(writer)
    if out is not None:
        writer.write(out)
        return b""
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()
