"""Checking of uploaded evidence files (佐证材料).

Pure library code: no Flask imports, callable from the web layer and from
command-line tools alike.  See ``docs/evidence-files.md`` for the policy
decisions (what is accepted, why, and what is rewritten).

Public API
----------
* :class:`UploadLimits` – configurable limits.
* :class:`CheckedFile` – result of a successful check.
* :class:`UploadRejected` – raised with a Chinese, user-facing message.
* :func:`inspect_upload` – check one uploaded file.
* :func:`total_limit_check` – check the per-report total size.

Beside it: names.py (file names and sizes for people), images.py (decoding
within a memory budget, also used when evidence is bound), sanitise.py
(removing active content from PDFs).
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import struct
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional, Tuple

import pikepdf
from pikepdf import Array, Dictionary
from PIL import Image, ImageFile, UnidentifiedImageError

from .images import PNG_MAGIC, ImagePlan, ImageTooLarge, decode_image, plan_image
from .names import KIND_DEFAULT_EXT, MB, fmt_size, safe_filename, split_ext
from .sanitise import PDF_ERRORS, name_of, open_pdf, strip_active_content

__all__ = [
    "UploadLimits",
    "CheckedFile",
    "UploadRejected",
    "inspect_upload",
    "total_limit_check",
    "DEFAULT_MAX_TOTAL_BYTES",
    "DEFAULT_MAX_IMAGE_DECODE_BYTES",
    "DEFAULT_MAX_PDF_IMAGE_COMPONENTS",
]

DEFAULT_MAX_TOTAL_BYTES = 300 * MB
#: Memory an image may need while it is decoded and scaled (Pillow's pixel
#: buffers plus libjpeg's coefficient buffer for progressive JPEGs), checked
#: from the header before any pixel is decoded.
DEFAULT_MAX_IMAGE_DECODE_BYTES = 128 * MB
#: Largest image a PDF may embed, in pixels × colour components (16-bit
#: components count twice): 50 million is e.g. an A4 page scanned at 600 dpi
#: in grey (34.8 M) or at 300 dpi in colour (26 M); A4 at 600 dpi in colour
#: (104 M) is refused.
DEFAULT_MAX_PDF_IMAGE_COMPONENTS = 50_000_000
#: Uploaded images are stored at most this large (pixels; fit inside, aspect
#: ratio kept): an A4 page (210 × 297 mm) at 200 dpi.
NORMALISED_IMAGE_BOX = (1654, 2339)
JPEG_QUALITY = 85

ACCEPTED_KINDS = "PDF、JPG 或 PNG"  # short form for hints beside upload fields
ACCEPTED_DESCRIPTION = "仅接受 PDF（.pdf）、JPEG（.jpg、.jpeg）和 PNG（.png）格式的文件"


IMAGE_ERRORS = (
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    UnidentifiedImageError,
    SyntaxError,  # Pillow raises SyntaxError for some broken PNG chunks
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    EOFError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
    MemoryError,
    RecursionError,
    ZeroDivisionError,
    OverflowError,
)

PDF_MAGIC = b"%PDF-"
JPEG_MAGIC = b"\xff\xd8\xff"

_EXTENSIONS = {
    ".pdf": "pdf",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
}

_KIND_LABEL = {"pdf": "PDF 文件", "png": "PNG 图片", "jpeg": "JPEG 图片"}


class UploadRejected(ValueError):
    """The upload is refused.  ``str(exc)`` / ``exc.message`` is a complete
    Chinese sentence that can be shown to the applicant as is."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int = 20 * MB
    max_pdf_pages: int = 300
    max_image_pixels: int = 40_000_000
    max_image_decode_bytes: int = DEFAULT_MAX_IMAGE_DECODE_BYTES
    max_pdf_image_components: int = DEFAULT_MAX_PDF_IMAGE_COMPONENTS
    normalised_image_box: Tuple[int, int] = NORMALISED_IMAGE_BOX
    #: the longest side of an image at most this many times its shortest: no scanned page or photo
    #: is slimmer, while a 4,000,000 × 10 strip (39 KB) cost 13–20 s and 200 MB to decode and scale
    max_aspect_ratio: int = 20


@dataclass(frozen=True)
class CheckedFile:
    """A checked upload.

    ``data`` are the bytes to store.  For PDFs that contained active content
    (JavaScript, launch/URI/submit actions, …) these are the *sanitized*
    bytes and ``sanitized`` is True; otherwise the original bytes are kept
    unchanged (so digital signatures stay valid in the stored copy).
    Images larger than :data:`NORMALISED_IMAGE_BOX` are stored scaled down
    and re-encoded (``normalised`` is True; ``kind`` is the stored format,
    which may differ from the upload's, and ``safe_name`` then carries the
    matching extension).  ``size``, ``sha256``, ``width`` and ``height``
    describe ``data``; ``original_size`` and ``original_sha256`` describe
    what the user sent.
    """

    kind: str  # 'pdf' | 'png' | 'jpeg'
    page_count: int
    size: int
    sha256: str
    safe_name: str
    data: bytes = field(repr=False)
    width: Optional[int] = None
    height: Optional[int] = None
    original_size: int = 0
    original_sha256: str = ""
    sanitized: bool = False
    notes: tuple = ()  # informational remarks (English, for logs)
    normalised: bool = False


# --------------------------------------------------------------------------
# content sniffing
# --------------------------------------------------------------------------

def sniff_kind(data: bytes) -> Optional[str]:
    """Kind by leading bytes: 'pdf', 'png', 'jpeg' or None.

    PDF requires ``%PDF-`` at offset 0 (readers tolerate up to 1024 bytes of
    junk before it, we deliberately do not: such files are usually
    polyglots or damaged).
    """
    if data.startswith(PDF_MAGIC):
        return "pdf"
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    return None


def _describe_unknown(data: bytes) -> str:
    """Short Chinese description of a refused content type (best effort)."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if data.startswith(b"GIF8"):
        return "GIF 图片"
    if data.startswith(b"MZ") or data.startswith(b"\x7fELF"):
        return "可执行程序"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return "压缩包或 Office 文档（如 DOCX、XLSX）"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return "旧版 Office 文档（如 DOC、XLS）"
    if data.startswith(b"Rar!") or data.startswith(b"7z\xbc\xaf"):
        return "压缩包"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WEBP 图片"
    if data.startswith(b"BM"):
        return "BMP 图片"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF 图片"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1"):
        return "HEIC 图片"
    if b"<svg" in head:
        return "SVG 图形"
    if head.startswith(b"<!doctype html") or b"<html" in head:
        return "网页（HTML）"
    if head.startswith(b"<?xml"):
        return "XML 文档"
    if b"%PDF-" in data[:1024]:
        return "开头含有多余数据的 PDF"
    return None


# --------------------------------------------------------------------------
# main entry point
# --------------------------------------------------------------------------

def inspect_upload(data: bytes, filename: str, limits: UploadLimits = UploadLimits()) -> CheckedFile:
    """Check one uploaded evidence file.

    Returns a :class:`CheckedFile`; raises :class:`UploadRejected` (and
    nothing else for bad input) with a Chinese message for the applicant.
    """
    data = _as_bytes(data)
    name = safe_filename(filename)
    _check_size(data, name, limits)
    kind = _check_type(data, name)
    original_sha = hashlib.sha256(data).hexdigest()
    content = _check_content(data, name, kind, limits)
    if content.kind != kind:
        name = _with_extension(name, content.kind)
    return _checked_file(data, original_sha, name, content)


@dataclass(frozen=True)
class _Content:
    """What is stored for an upload whose content passed the checks."""

    data: bytes
    kind: str  # stored kind (differs from the upload's only if normalised)
    page_count: int
    notes: tuple
    width: Optional[int] = None
    height: Optional[int] = None
    sanitized: bool = False
    normalised: bool = False


def _as_bytes(data) -> bytes:
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError("data must be bytes")
    return data


def _check_size(data: bytes, shown: str, limits: UploadLimits) -> None:
    if len(data) == 0:
        raise UploadRejected(f"文件“{shown}”是空文件（0 字节），请检查后重新上传。")
    if len(data) > limits.max_file_bytes:
        raise UploadRejected(
            f"文件“{shown}”大小为 {fmt_size(len(data))}，超过单个文件 "
            f"{fmt_size(limits.max_file_bytes)} 的上限，请压缩或拆分后再上传。"
        )


def _check_type(data: bytes, shown: str) -> str:
    """The upload's kind, sniffed from its content and matching its extension."""
    kind = sniff_kind(data)
    _, ext = split_ext(shown)
    ext_kind = _EXTENSIONS.get(ext.lower())

    if kind is None:
        what = _describe_unknown(data)
        detail = f"该文件实际是{what}，" if what else "无法识别该文件的格式，"
        raise UploadRejected(f"文件“{shown}”不能作为佐证材料上传：{detail}{ACCEPTED_DESCRIPTION}。")
    if ext_kind is None:
        raise UploadRejected(
            f"文件“{shown}”的扩展名{('“' + ext + '”') if ext else '缺失'}不受支持，{ACCEPTED_DESCRIPTION}。"
        )
    if ext_kind != kind:
        raise UploadRejected(
            f"文件“{shown}”的内容是{_KIND_LABEL[kind]}，但扩展名为“{ext}”，二者不一致。"
            f"请使用正确的扩展名（{KIND_DEFAULT_EXT[kind]}）后重新上传。"
        )
    return kind


def _check_content(data: bytes, shown: str, kind: str, limits: UploadLimits) -> _Content:
    """Check the PDF or image itself; what is to be stored."""
    if kind == "pdf":
        stored, pages, sanitized, notes = _check_pdf(data, shown, limits)
        return _Content(stored, kind, pages, tuple(notes), sanitized=sanitized)
    stored, stored_kind, width, height, notes = _check_image(data, shown, kind, limits)
    normalised = stored is not data
    return _Content(
        stored, stored_kind if normalised else kind, 1, tuple(notes), width, height, normalised=normalised
    )


def _checked_file(data: bytes, original_sha: str, name: str, content: _Content) -> CheckedFile:
    stored = content.data
    return CheckedFile(
        kind=content.kind,
        page_count=content.page_count,
        size=len(stored),
        sha256=hashlib.sha256(stored).hexdigest() if stored is not data else original_sha,
        safe_name=name,
        data=stored,
        width=content.width,
        height=content.height,
        original_size=len(data),
        original_sha256=original_sha,
        sanitized=content.sanitized,
        notes=content.notes,
        normalised=content.normalised,
    )


def _with_extension(name: str, kind: str) -> str:
    """*name* with the default extension of *kind* if its own does not match."""
    stem, ext = split_ext(name)
    if _EXTENSIONS.get(ext.lower()) == kind:
        return name
    return stem + KIND_DEFAULT_EXT[kind]


# --------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------

def _broken_pdf(shown: str) -> UploadRejected:
    return UploadRejected(f"文件“{shown}”不是有效的 PDF 文件，可能已损坏或被截断。请重新导出或扫描后再上传。")


def _encrypted_pdf(shown: str) -> UploadRejected:
    return UploadRejected(
        f"文件“{shown}”已加密或设有密码，系统无法处理。请去除密码或加密（例如用阅读器“另存为”或“打印为 PDF”）后重新上传。"
    )


def _has_eof_marker(data: bytes) -> bool:
    # Readers look for %%EOF in the last 1024 bytes; a file cut short loses it.
    return b"%%EOF" in data[-1024:]


#: qpdf warnings that mean data was lost (an object cut short, a stream that does not decode, an
#: object that is not there); anything else (wrong xref offsets, a missing EOL …) is repaired and
#: tolerated.
_FATAL_QPDF_WARNINGS = re.compile(
    r"expected endstream|recover stream length|error decoding|unable to find|not found in object"
    r"|unexpected (?:EOF|end)|EOF (?:while|after)|invalid|expected (?:n n obj|dictionary|array)"
    r"|treating as null|unknown token",
    re.IGNORECASE,
)
_REBUILT_XREF = re.compile(r"reconstruct cross-reference table", re.IGNORECASE)


def _check_pdf(data: bytes, shown: str, limits: UploadLimits):
    if not _has_eof_marker(data):
        raise _broken_pdf(shown)
    try:
        with open_pdf(data) as pdf:
            return _check_pdf_inner(data, pdf, shown, limits)
    except UploadRejected:
        raise
    except pikepdf.PasswordError as exc:
        raise _encrypted_pdf(shown) from exc
    except MemoryError:
        raise UploadRejected(f"文件“{shown}”结构过于复杂，系统无法处理。请重新导出后再上传。")
    except PDF_ERRORS as exc:
        raise _broken_pdf(shown) from exc


def _lost_data(pdf: "pikepdf.Pdf", pages_without_content: int) -> bool:
    """qpdf repaired the file by losing data: a fatal warning, or a rebuilt cross-reference table
    with pages whose content went missing."""
    warnings = pdf.get_warnings()
    if any(_FATAL_QPDF_WARNINGS.search(w) for w in warnings):
        return True
    return pages_without_content > 0 and any(_REBUILT_XREF.search(w) for w in warnings)


def _check_pdf_inner(data: bytes, pdf: "pikepdf.Pdf", shown: str, limits: UploadLimits):
    notes = []
    if pdf.is_encrypted:
        # Refused even when the user password is empty: the document
        # would have to be decrypted and re-written, and "owner
        # password" restrictions (no printing/copying) are usually
        # exactly what the reviewers must not be subjected to.
        raise _encrypted_pdf(shown)
    count = len(pdf.pages)
    if count > limits.max_pdf_pages:
        raise UploadRejected(
            f"文件“{shown}”共 {count} 页，超过单个文件 {limits.max_pdf_pages} 页的上限，请拆分后再上传。"
        )
    if count == 0:
        raise UploadRejected(f"文件“{shown}”中没有任何页面，请检查后重新上传。")
    images = _PdfImageCheck(shown, limits.max_pdf_image_components)
    without_content = 0
    for number, page in enumerate(pdf.pages, start=1):
        box = page.mediabox
        width, height = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
        if not (math.isfinite(width) and math.isfinite(height)) or abs(width) < 1 or abs(height) < 1:
            raise _broken_pdf(shown)
        # Decode the content streams: a stream that does not decode raises here (qpdf would
        # otherwise warn and hand back partial data).
        contents = page.obj.get("/Contents")
        if contents is None:
            without_content += 1
        else:
            streams = contents if isinstance(contents, Array) else [contents]
            for stream in streams:
                if not isinstance(stream, pikepdf.Stream):
                    raise _broken_pdf(shown)
                images.check_content(stream.read_bytes(), number)
        res = page.obj.get("/Resources")
        if res is not None and not isinstance(res, Dictionary):
            raise _broken_pdf(shown)
        images.check_page(page.obj, number)
    if _lost_data(pdf, without_content):
        raise _broken_pdf(shown)
    rewritten = strip_active_content(pdf, only_if_needed=True)
    if rewritten is None:
        return data, count, False, notes
    notes.append("active content (JavaScript/actions) removed")
    return rewritten, count, True, notes


# --------------------------------------------------------------------------
# images embedded in PDFs
# --------------------------------------------------------------------------

#: Colour components per colour space family (names and array heads).
_CS_COMPONENTS = {
    "/DeviceGray": 1, "/CalGray": 1, "/G": 1, "/Indexed": 1, "/I": 1, "/Separation": 1, "/Pattern": 1,
    "/DeviceRGB": 3, "/CalRGB": 3, "/RGB": 3, "/Lab": 3,
    "/DeviceCMYK": 4, "/CMYK": 4,
}
_UNKNOWN_COMPONENTS = 4  # missing or unknown colour space (e.g. JPX without /ColorSpace): assume the most

#: ``BI <dict> ID`` of an inline image in a content stream.
_INLINE_IMAGE = re.compile(rb"(?<![^\s\[\]<>(){}%])BI\s+(/.{0,4000}?)\sID\s", re.S)
_INLINE_INT = {
    "w": re.compile(rb"/(?:W|Width)\s+(\d+)"),
    "h": re.compile(rb"/(?:H|Height)\s+(\d+)"),
    "bpc": re.compile(rb"/(?:BPC|BitsPerComponent)\s+(\d+)"),
}
_INLINE_MASK = re.compile(rb"/(?:IM|ImageMask)\s+true")
_INLINE_CS = re.compile(rb"/(?:CS|ColorSpace)\s*(\[\s*)?(/[^\s/\[\]()<>{}%]+)")


def _int_value(obj, default: int = 0) -> int:
    """A PDF number as int (pikepdf gives int or Decimal); *default* for anything else."""
    if isinstance(obj, bool) or not isinstance(obj, (int, float, Decimal)):
        return default
    try:
        return int(obj)
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        return default


def _colour_components(cs) -> int:
    if isinstance(cs, Array) and len(cs) > 0:
        family = name_of(cs[0])
        if family == "/ICCBased" and len(cs) > 1:
            stream = cs[1]
            if isinstance(stream, pikepdf.Stream):
                return max(1, min(32, _int_value(stream.stream_dict.get("/N"), _UNKNOWN_COMPONENTS)))
        if family == "/DeviceN" and len(cs) > 1:
            names = cs[1]
            return max(1, min(32, len(names))) if isinstance(names, Array) else _UNKNOWN_COMPONENTS
        return _CS_COMPONENTS.get(str(family), _UNKNOWN_COMPONENTS)
    if cs is None:
        return _UNKNOWN_COMPONENTS
    return _CS_COMPONENTS.get(str(name_of(cs)), _UNKNOWN_COMPONENTS)


def _image_cost(width: int, height: int, components: int, bpc: int) -> int:
    """Pixels × colour components, 16-bit components counting twice."""
    return max(0, width) * max(0, height) * components * max(1, bpc // 8)


def _entries(obj) -> list:
    """(key, value) pairs of a dictionary or of a stream's dictionary."""
    d = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
    return list(d.items())


class _PdfImageCheck:
    """Refuses a PDF whose pages show an image larger than *budget* (pixels
    × colour components), reading only the image dictionaries
    (/Width /Height /BitsPerComponent /ColorSpace /ImageMask): no image data
    is decoded.  Walks everything a page can draw, without following
    /Parent or into other pages: resources, nested Form XObjects, patterns,
    Type 3 fonts, soft masks, annotation appearances, thumbnails.  Inline
    images (``BI … ID``) are read from the content streams of pages, forms,
    tiling patterns and Type 3 glyphs."""

    def __init__(self, shown: str, budget: int):
        self.shown = shown
        self.budget = budget
        self.seen: set = set()

    def refuse(self, number: int, width: int, height: int, components: int) -> UploadRejected:
        return UploadRejected(
            f"文件“{self.shown}”第 {number} 页含有尺寸过大的图片（{width}×{height} 像素，{components} 个颜色通道），"
            f"超过每张图片 {self.budget / 10000:g} 万（像素数×颜色通道数）的上限，审核人员可能无法打开。"
            f"请以较低分辨率（如 300 dpi）重新扫描或导出后再上传。"
        )

    def check_content(self, content: bytes, number: int) -> None:
        for match in _INLINE_IMAGE.finditer(content or b""):
            head = match.group(1)
            w, h, bpc = (int(m.group(1)) if m else 0
                         for m in (_INLINE_INT[k].search(head) for k in ("w", "h", "bpc")))
            if _INLINE_MASK.search(head):
                components = 1
            else:
                cs = _INLINE_CS.search(head)
                components = _CS_COMPONENTS.get(cs.group(2).decode("latin-1"), _UNKNOWN_COMPONENTS) if cs \
                    else _UNKNOWN_COMPONENTS
            if _image_cost(w, h, components, bpc) > self.budget:
                raise self.refuse(number, w, h, components)

    def check_page(self, page: Dictionary, number: int) -> None:
        stack = [v for k, v in page.items() if k not in ("/Parent", "/Contents")]
        node = page
        for _ in range(64):  # resources inherited from the page tree
            node = node.get("/Parent")
            if not isinstance(node, Dictionary):
                break
            if "/Resources" in node:
                stack.append(node.Resources)
        while stack:
            obj = stack.pop()
            if not isinstance(obj, pikepdf.Object):
                continue  # a number, a boolean
            if obj.is_indirect:
                if obj.objgen in self.seen:
                    continue
                self.seen.add(obj.objgen)
            if isinstance(obj, Array):
                stack.extend(obj)
            elif isinstance(obj, (Dictionary, pikepdf.Stream)):
                if name_of(obj.get("/Type")) in ("/Page", "/Pages"):
                    continue  # another page (a link target, an annotation's /P)
                self.check_object(obj, number)
                stack.extend(v for k, v in _entries(obj) if k != "/Parent")

    def check_object(self, obj, number: int) -> None:
        subtype = name_of(obj.get("/Subtype"))
        if subtype == "/Image":
            w, h = _int_value(obj.get("/Width")), _int_value(obj.get("/Height"))
            mask = obj.get("/ImageMask") is True
            components = 1 if mask else _colour_components(obj.get("/ColorSpace"))
            bpc = 1 if mask else _int_value(obj.get("/BitsPerComponent"), 8)
            if _image_cost(w, h, components, bpc) > self.budget:
                raise self.refuse(number, w, h, components)
        elif isinstance(obj, pikepdf.Stream) and (subtype == "/Form" or _int_value(obj.get("/PatternType")) == 1):
            self.check_content(obj.read_bytes(), number)  # a form or a tiling pattern: more content
        procs = obj.get("/CharProcs")  # Type 3 font glyphs: more content
        if isinstance(procs, Dictionary):
            for proc in procs.values():
                if isinstance(proc, pikepdf.Stream):
                    self.check_content(proc.read_bytes(), number)


# --------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------

def _broken_image(shown: str, kind: str) -> UploadRejected:
    return UploadRejected(f"文件“{shown}”不是有效的 {kind.upper()} 图片，可能已损坏或被截断。请重新保存后再上传。")


def _png_header_size(data: bytes):
    if len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def _check_image(data: bytes, shown: str, kind: str, limits: UploadLimits):
    """Check an image and return ``(stored, stored_kind, width, height, notes)``.

    ``stored`` is *data* itself when the image fits in
    ``limits.normalised_image_box``; otherwise the normalised image (see
    :func:`_encode_normalised`).  Every refusal happens on the header alone,
    before any pixel is decoded: the pixel limit, Pillow's decompression
    bomb check (inside ``Image.open``) and the memory budget.
    """
    notes = []
    limit = limits.max_image_pixels

    def too_big(w: int, h: int) -> UploadRejected:
        return UploadRejected(
            f"图片“{shown}”的尺寸过大（{w}×{h} 像素），超过 {limit / 10000:g} 万像素的上限。"
            f"请缩小图片尺寸后再上传。"
        )

    # Cheap header pre-check for PNG before Pillow sees the file at all.
    dims = _png_header_size(data) if kind == "png" else None
    if dims and dims[0] * dims[1] > limit:
        raise too_big(*dims)
    if dims:
        _check_proportions(shown, *dims, limits.max_aspect_ratio)
    try:
        width, height, mode, frames = _image_header(data, shown, kind, too_big, limit)
        _check_proportions(shown, width, height, limits.max_aspect_ratio)
        if ImageFile.LOAD_TRUNCATED_IMAGES:  # pragma: no cover - global misconfiguration
            notes.append("warning: PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set; truncation may go unnoticed")
        plan = plan_image(data, kind, limits.normalised_image_box)
        # verify() does not decode JPEG at all: every pixel row is decoded
        # here (scaled down on the way when the image is larger than the box)
        # to catch truncated or corrupt pixel data.  Refused before decoding
        # when the plan exceeds the memory budget.
        decoded = decode_image(data, plan, limits.max_image_decode_bytes, count_colours=plan.needs_resize)
    except UploadRejected:
        raise
    except ImageTooLarge as exc:
        raise _too_heavy(shown, exc.plan, limits.max_image_decode_bytes) from exc
    except Image.DecompressionBombError:
        if dims:
            raise too_big(*dims)
        raise UploadRejected(
            f"图片“{shown}”的尺寸过大，超过 {limit / 10000:g} 万像素的上限。请缩小图片尺寸后再上传。"
        )
    except IMAGE_ERRORS as exc:
        raise _broken_image(shown, kind) from exc
    if frames > 1:
        notes.append(f"multi-frame image ({frames} frames): only the first frame is used")
    if not plan.needs_resize:
        if mode == "CMYK":
            notes.append("CMYK image: converted to RGB when bound into the report")
        return data, kind, width, height, notes
    stored, stored_kind = _encode_normalised(decoded.image, kind, decoded.few_colours)
    w, h = decoded.image.size
    notes.append(f"normalised: {width}x{height} {kind} stored as {w}x{h} {stored_kind}")
    return stored, stored_kind, w, h, notes


def _check_proportions(shown: str, width: int, height: int, max_ratio: int) -> None:
    """Refuse, from the header, an image slimmer than any page or photo (long side / short side)."""
    if width > 0 and height > 0 and max(width, height) > max_ratio * min(width, height):
        raise UploadRejected(
            f"图片“{shown}”的尺寸为 {width}×{height} 像素，长宽比超过 {max_ratio}:1，不像扫描件或照片。"
            f"请裁剪或重新扫描为正常页面比例后再上传。")


def _image_header(data: bytes, shown: str, kind: str, too_big, limit: int):
    """(width, height, mode, frames) from the header; PNG chunk CRCs checked.

    Image.open only parses the header: dimensions are known before any pixel
    data is decoded.  Pillow's own global MAX_IMAGE_PIXELS check
    (DecompressionBombError above 2x its limit) runs inside open().
    """
    with Image.open(io.BytesIO(data)) as im:
        if im.format != {"png": "PNG", "jpeg": "JPEG"}[kind]:
            raise _broken_image(shown, kind)
        width, height = im.size
        if width <= 0 or height <= 0:
            raise _broken_image(shown, kind)
        if width * height > limit:
            raise too_big(width, height)
        mode = im.mode
        frames = getattr(im, "n_frames", 1)
        im.verify()  # PNG: chunk CRCs (no pixel is decoded)
    return width, height, mode, frames


def _too_heavy(shown: str, plan: "ImagePlan", budget: int) -> UploadRejected:
    return UploadRejected(
        f"图片“{shown}”（{plan.width}×{plan.height} 像素）处理时约需 {fmt_size(plan.working_bytes)} 内存，"
        f"超过系统每张图片 {fmt_size(budget)} 的上限。请将图片缩小（例如长边不超过 4000 像素）"
        f"或另存为普通（非渐进式、非隔行）的 JPEG 或 PNG 后再上传。"
    )


def _encode_normalised(img: "Image.Image", source_kind: str, few_colours: bool) -> Tuple[bytes, str]:
    """Encode a scaled-down image for storage; returns ``(bytes, kind)``.

    The rule:

    * **PNG** when the image really has transparency (an alpha channel that
      is not fully opaque; the alpha is kept), and for PNG uploads with at
      most 256 distinct colours: line art, charts, screenshots of documents,
      black-and-white or palette scans.  Lossless, and small for such
      content.
    * **JPEG** (quality 85) otherwise: every JPEG upload (already lossy;
      photos and scans) and PNG uploads with many colours (photos, colour
      scans), where PNG would be several times larger.

    Colour profiles and EXIF data are not carried over (the orientation has
    already been applied to the pixels).
    """
    if img.mode in ("RGBA", "LA"):
        if img.getchannel("A").getextrema()[0] < 255:
            return _save(img, "PNG"), "png"
        img = img.convert(img.mode[:-1])
    if source_kind == "png" and few_colours:
        return _save(img, "PNG"), "png"
    return _save(img, "JPEG", quality=JPEG_QUALITY, optimize=True), "jpeg"


def _save(img: "Image.Image", fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def total_limit_check(
    existing_total_bytes: int,
    new_bytes: int,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
) -> None:
    """Raise :class:`UploadRejected` if adding *new_bytes* to the files
    already attached (*existing_total_bytes*) would exceed *max_total_bytes*."""
    total = int(existing_total_bytes) + int(new_bytes)
    if total > max_total_bytes:
        raise UploadRejected(
            f"佐证材料总大小不能超过 {fmt_size(max_total_bytes)}。"
            f"已上传 {fmt_size(int(existing_total_bytes))}，本次文件 {fmt_size(int(new_bytes))}，"
            f"合计 {fmt_size(total)}，请删除部分文件或压缩后再上传。"
        )
