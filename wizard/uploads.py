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
* :func:`safe_filename` – clean a user supplied file name.
* :func:`content_disposition` – build a download header value.
* :func:`strip_active_content` – remove JavaScript / actions from a PDF.
* :func:`sanitize_pdf_objects` – the same, in place, on a ``PdfWriter``.
* :func:`plan_image`, :func:`decode_image` – decode an image scaled to fit a
  box, never holding more than a stated memory budget (also used when
  evidence is bound, see :mod:`wizard.evidence_pdf`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import math
import re
import threading
import struct
import unicodedata
import urllib.parse
import zlib
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Optional, Tuple, Union

from PIL import Image, ImageFile, UnidentifiedImageError
from pypdf import PdfReader, PdfWriter
from pypdf.errors import DependencyError, PyPdfError
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    StreamObject,
)

__all__ = [
    "MB",
    "UploadLimits",
    "CheckedFile",
    "UploadRejected",
    "inspect_upload",
    "total_limit_check",
    "safe_filename",
    "content_disposition",
    "strip_active_content",
    "sanitize_pdf_objects",
    "drop_unreachable_objects",
    "PDF_ERRORS",
    "DEFAULT_MAX_TOTAL_BYTES",
    "DEFAULT_MAX_IMAGE_DECODE_BYTES",
    "DEFAULT_MAX_PDF_IMAGE_COMPONENTS",
    "NORMALISED_IMAGE_BOX",
    "ImageTooLarge",
    "ImagePlan",
    "plan_image",
    "decode_image",
]

MB = 1024 * 1024
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
FALLBACK_STEM = "未命名文件"
MAX_NAME_CHARS = 120

ACCEPTED_KINDS = "PDF、JPG 或 PNG"  # short form for hints beside upload fields
ACCEPTED_DESCRIPTION = "仅接受 PDF（.pdf）、JPEG（.jpg、.jpeg）和 PNG（.png）格式的文件"

#: Everything pypdf (and the libraries below it) is known to raise on
#: malformed, truncated or hostile input.  ``DependencyError`` is not a
#: ``PyPdfError`` subclass (raised e.g. for AES without a crypto library).
PDF_ERRORS = (
    PyPdfError,
    DependencyError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    RecursionError,
    AssertionError,
    ZeroDivisionError,
    OverflowError,
    UnicodeError,
    LookupError,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    NotImplementedError,
)

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
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

_EXTENSIONS = {
    ".pdf": "pdf",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
}

_KIND_LABEL = {"pdf": "PDF 文件", "png": "PNG 图片", "jpeg": "JPEG 图片"}
_KIND_DEFAULT_EXT = {"pdf": ".pdf", "png": ".png", "jpeg": ".jpg"}


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

    @property
    def mime_type(self) -> str:
        return {"pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg"}[self.kind]


# --------------------------------------------------------------------------
# names and headers
# --------------------------------------------------------------------------

_SEPARATORS = "/\\"


def _strip_unprintable(text: str) -> str:
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        # Cc: control chars incl. \r \n \t \x00 \x7f; Cf: format chars such as
        # U+202E RIGHT-TO-LEFT OVERRIDE (used to disguise extensions);
        # Zl/Zp: U+2028/U+2029 line/paragraph separators; Cs: lone surrogates.
        if cat in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            continue
        if ch in _SEPARATORS:
            continue
        out.append(ch)
    return "".join(out)


def safe_filename(filename: Optional[str], kind: Optional[str] = None) -> str:
    """Clean a user supplied file name for display and storage metadata.

    Keeps only the last path component, then removes control characters,
    line breaks, Unicode format characters (bidi overrides) and any path
    separators; collapses whitespace; trims
    spaces and dots at both ends of the stem and trailing dots of the name; keeps Chinese and other letters.  The
    name is shortened to at most ``MAX_NAME_CHARS`` characters keeping the
    extension.  If nothing usable is left the fallback is ``未命名文件``
    plus the extension (``.pdf`` unless *kind* says otherwise, or the
    extension found in the name).

    The result is NOT meant to be used as a path on disk: store files under
    generated names (e.g. their sha256).
    """
    if isinstance(filename, bytes):
        filename = filename.decode("utf-8", "replace")
    name = unicodedata.normalize("NFC", filename or "")
    # Old browsers send full client paths ("C:\\Users\\…\\证明.pdf"): keep
    # the last component; any remaining separators are removed below.
    last = re.split(r"[/\\]", name)[-1]
    if _strip_unprintable(last).strip(" ."):
        name = last
    name = _strip_unprintable(name.replace("\t", " "))  # tabs become spaces, line breaks vanish
    name = re.sub(r"\s+", " ", name).strip().rstrip(" .")
    stem, ext = _split_ext(name)
    stem = stem.strip(" .")
    default_ext = _KIND_DEFAULT_EXT.get(kind or "pdf", ".pdf")
    if not stem:
        return FALLBACK_STEM + (ext or default_ext)
    if len(stem) + len(ext) > MAX_NAME_CHARS:
        stem = stem[: max(1, MAX_NAME_CHARS - len(ext))].rstrip(" .") or FALLBACK_STEM
    return stem + ext


def _split_ext(name: str):
    """Split off a short extension (``.pdf``), returning (stem, ext)."""
    m = re.search(r"(\.[A-Za-z0-9]{1,8})$", name)
    if not m:
        return name, ""
    return name[: m.start()], m.group(1)


def _ascii_fallback(name: str) -> str:
    stem, ext = _split_ext(name)
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    # token-ish characters only: no quotes, backslashes, semicolons, percent
    ascii_stem = re.sub(r"[^A-Za-z0-9._\- ()\[\]+]", "_", ascii_stem)
    ascii_stem = re.sub(r"_+", "_", ascii_stem).strip(" ._")
    if not re.search(r"[A-Za-z0-9]", ascii_stem):
        ascii_stem = "file"
    ext = re.sub(r"[^A-Za-z0-9.]", "", ext)
    return ascii_stem + ext


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """Value for a ``Content-Disposition`` header (RFC 6266 / RFC 5987).

    ``attachment; filename="<ascii fallback>"; filename*=UTF-8''<pct-encoded>``
    Control characters, line breaks and path separators are removed first
    (via :func:`safe_filename`), so the result can never split a header.
    """
    if disposition not in ("attachment", "inline"):
        raise ValueError("disposition must be 'attachment' or 'inline'")
    clean = safe_filename(filename)
    fallback = _ascii_fallback(clean)
    encoded = urllib.parse.quote(clean, safe="!#$&+-.^_`|~", encoding="utf-8")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


# --------------------------------------------------------------------------
# size limits
# --------------------------------------------------------------------------

def file_size(n: int) -> str:
    """Human readable size for messages: '20 MB', '1.5 MB', '512 KB'."""
    if n >= MB:
        value, unit = n / MB, "MB"
    elif n >= 1024:
        value, unit = n / 1024, "KB"
    else:
        return f"{n} 字节"
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text} {unit}"


_fmt_size = file_size


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
            f"佐证材料总大小不能超过 {_fmt_size(max_total_bytes)}。"
            f"已上传 {_fmt_size(int(existing_total_bytes))}，本次文件 {_fmt_size(int(new_bytes))}，"
            f"合计 {_fmt_size(total)}，请删除部分文件或压缩后再上传。"
        )


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
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError("data must be bytes")
    name = safe_filename(filename)
    shown = name

    if len(data) == 0:
        raise UploadRejected(f"文件“{shown}”是空文件（0 字节），请检查后重新上传。")
    if len(data) > limits.max_file_bytes:
        raise UploadRejected(
            f"文件“{shown}”大小为 {_fmt_size(len(data))}，超过单个文件 "
            f"{_fmt_size(limits.max_file_bytes)} 的上限，请压缩或拆分后再上传。"
        )

    kind = sniff_kind(data)
    _, ext = _split_ext(name)
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
            f"请使用正确的扩展名（{_KIND_DEFAULT_EXT[kind]}）后重新上传。"
        )

    original_sha = hashlib.sha256(data).hexdigest()
    normalised = False
    if kind == "pdf":
        stored, pages, sanitized, notes = _check_pdf(data, shown, limits)
        width = height = None
    else:
        stored, stored_kind, width, height, notes = _check_image(data, shown, kind, limits)
        pages, sanitized = 1, False
        if stored is not data:
            normalised = True
            if stored_kind != kind:
                kind = stored_kind
                name = _with_extension(name, kind)

    return CheckedFile(
        kind=kind,
        page_count=pages,
        size=len(stored),
        sha256=hashlib.sha256(stored).hexdigest() if stored is not data else original_sha,
        safe_name=name,
        data=stored,
        width=width,
        height=height,
        original_size=len(data),
        original_sha256=original_sha,
        sanitized=sanitized,
        notes=tuple(notes),
        normalised=normalised,
    )


def _with_extension(name: str, kind: str) -> str:
    """*name* with the default extension of *kind* if its own does not match."""
    stem, ext = _split_ext(name)
    if _EXTENSIONS.get(ext.lower()) == kind:
        return name
    return stem + _KIND_DEFAULT_EXT[kind]


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


class _PypdfWarnings(logging.Handler):
    """Collects pypdf's robustness warnings per thread while a check runs.

    pypdf (strict=False) repairs many defects silently and only logs a
    warning; some of those mean that content was lost (undecodable streams,
    missing objects), which we treat as a damaged upload.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        bucket = getattr(self._local, "bucket", None)
        if bucket is not None:
            try:
                bucket.append(record.getMessage())
            except Exception:  # noqa: BLE001 - never break logging
                bucket.append(str(record.msg))

    @contextlib.contextmanager
    def collect(self):
        previous = getattr(self._local, "bucket", None)
        bucket: list = []
        self._local.bucket = bucket
        try:
            yield bucket
        finally:
            self._local.bucket = previous


_PYPDF_WARNINGS = _PypdfWarnings()
logging.getLogger("pypdf").addHandler(_PYPDF_WARNINGS)

#: pypdf warnings that mean data was lost; anything else (wrong xref
#: offsets, missing EOL, …) is repaired and tolerated.
_FATAL_PYPDF_WARNINGS = re.compile(
    r"while decompressing|decompressing data|not defined|Invalid Elementary Object"
    r"|Expecting a NameObject|are not a stream or an array|Could not read"
    r'|Cannot find "/Root"|Unexpected end of stream|Stream has ended unexpectedly',
    re.IGNORECASE,
)


def _check_pdf(data: bytes, shown: str, limits: UploadLimits):
    if not _has_eof_marker(data):
        raise _broken_pdf(shown)
    with _PYPDF_WARNINGS.collect() as warnings_seen:
        result = _check_pdf_inner(data, shown, limits, warnings_seen)
    return result


def _check_pdf_inner(data: bytes, shown: str, limits: UploadLimits, warnings_seen: list):
    notes = []
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Refused even when the user password is empty: the document
            # would have to be decrypted and re-written, and "owner
            # password" restrictions (no printing/copying) are usually
            # exactly what the reviewers must not be subjected to.
            raise _encrypted_pdf(shown)
        pages = reader.pages
        count = len(pages)
        if count > limits.max_pdf_pages:
            raise UploadRejected(
                f"文件“{shown}”共 {count} 页，超过单个文件 {limits.max_pdf_pages} 页的上限，请拆分后再上传。"
            )
        if count == 0:
            raise UploadRejected(f"文件“{shown}”中没有任何页面，请检查后重新上传。")
        images = _PdfImageCheck(shown, limits.max_pdf_image_components)
        for number, page in enumerate(pages, start=1):
            box = page.mediabox
            width, height = float(box.width), float(box.height)
            if not (math.isfinite(width) and math.isfinite(height)) or abs(width) < 1 or abs(height) < 1:
                raise _broken_pdf(shown)
            # Resolve (and decode) the content streams: a truncated file
            # loses objects and pypdf (strict=False) would otherwise return
            # null objects silently.
            contents = page.get("/Contents")
            if contents is not None:
                resolved = contents.get_object()
                if resolved is None or type(resolved).__name__ == "NullObject":
                    raise _broken_pdf(shown)
                stream = page.get_contents()
                if stream is not None:
                    images.check_content(stream.get_data(), number)
            res = page.get("/Resources")
            if res is not None and not isinstance(res.get_object(), DictionaryObject):
                raise _broken_pdf(shown)
            images.check_page(page, number)
        if any(_FATAL_PYPDF_WARNINGS.search(w) for w in warnings_seen):
            raise _broken_pdf(shown)
        rewritten = strip_active_content(reader, only_if_needed=True)
        if any(_FATAL_PYPDF_WARNINGS.search(w) for w in warnings_seen):
            raise _broken_pdf(shown)
    except UploadRejected:
        raise
    except MemoryError:
        raise UploadRejected(f"文件“{shown}”结构过于复杂，系统无法处理。请重新导出后再上传。")
    except PDF_ERRORS as exc:
        if _looks_encrypted_error(exc):
            raise _encrypted_pdf(shown) from exc
        raise _broken_pdf(shown) from exc
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
    obj = _resolve(obj)
    try:
        return int(obj) if obj is not None else default
    except (TypeError, ValueError):
        return default


def _colour_components(cs) -> int:
    cs = _resolve(cs)
    if isinstance(cs, ArrayObject) and len(cs) > 0:
        family = _resolve(cs[0])
        if family == "/ICCBased" and len(cs) > 1:
            stream = _resolve(cs[1])
            if isinstance(stream, DictionaryObject):
                return max(1, min(32, _int_value(stream.get("/N"), _UNKNOWN_COMPONENTS)))
        if family == "/DeviceN" and len(cs) > 1:
            names = _resolve(cs[1])
            return max(1, min(32, len(names))) if isinstance(names, ArrayObject) else _UNKNOWN_COMPONENTS
        return _CS_COMPONENTS.get(str(family), _UNKNOWN_COMPONENTS)
    if cs is None:
        return _UNKNOWN_COMPONENTS
    return _CS_COMPONENTS.get(str(cs), _UNKNOWN_COMPONENTS)


def _image_cost(width: int, height: int, components: int, bpc: int) -> int:
    """Pixels × colour components, 16-bit components counting twice."""
    return max(0, width) * max(0, height) * components * max(1, bpc // 8)


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

    def check_page(self, page, number: int) -> None:
        stack = [v for k, v in page.items() if k not in ("/Parent", "/Contents")]
        node = page
        for _ in range(64):  # resources inherited from the page tree
            node = _resolve(node.get("/Parent"))
            if not isinstance(node, DictionaryObject):
                break
            if "/Resources" in node:
                stack.append(node.raw_get("/Resources"))
        while stack:
            obj = stack.pop()
            if isinstance(obj, IndirectObject):
                key = (obj.idnum, obj.generation)
                if key in self.seen:
                    continue
                self.seen.add(key)
                obj = _resolve(obj)
            if isinstance(obj, ArrayObject):
                stack.extend(obj)
            elif isinstance(obj, DictionaryObject):
                if _resolve(obj.get("/Type")) in ("/Page", "/Pages"):
                    continue  # another page (a link target, an annotation's /P)
                self.check_object(obj, number)
                stack.extend(v for k, v in obj.items() if k != "/Parent")

    def check_object(self, obj: DictionaryObject, number: int) -> None:
        subtype = _resolve(obj.get("/Subtype"))
        if subtype == "/Image":
            w, h = _int_value(obj.get("/Width")), _int_value(obj.get("/Height"))
            flag = _resolve(obj.get("/ImageMask"))
            mask = isinstance(flag, BooleanObject) and bool(flag.value)
            components = 1 if mask else _colour_components(obj.get("/ColorSpace"))
            bpc = 1 if mask else _int_value(obj.get("/BitsPerComponent"), 8)
            if _image_cost(w, h, components, bpc) > self.budget:
                raise self.refuse(number, w, h, components)
        elif isinstance(obj, StreamObject) and (subtype == "/Form" or _int_value(obj.get("/PatternType")) == 1):
            self.check_content(obj.get_data(), number)  # a form or a tiling pattern: more content
        procs = _resolve(obj.get("/CharProcs"))  # Type 3 font glyphs: more content
        if isinstance(procs, DictionaryObject):
            for proc in procs.values():
                proc = _resolve(proc)
                if isinstance(proc, StreamObject):
                    self.check_content(proc.get_data(), number)


def _looks_encrypted_error(exc: BaseException) -> bool:
    from pypdf.errors import FileNotDecryptedError

    if isinstance(exc, (FileNotDecryptedError, DependencyError)):
        return True
    text = str(exc).lower()
    return "decrypt" in text or "encrypt" in text or "password" in text


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
    try:
        width, height, mode, frames = _image_header(data, shown, kind, too_big, limit)
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
        f"图片“{shown}”（{plan.width}×{plan.height} 像素）处理时约需 {_fmt_size(plan.working_bytes)} 内存，"
        f"超过系统每张图片 {_fmt_size(budget)} 的上限。请将图片缩小（例如长边不超过 4000 像素）"
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


# --------------------------------------------------------------------------
# decoding images within a memory budget
# --------------------------------------------------------------------------
#
# Pillow decodes a whole image at once, at 4 bytes per pixel for RGB: a
# 150 KB PNG of 6300 × 6300 black pixels becomes 159 MB, and every further
# full-size step (conversion, transparency, resampling) costs as much again.
# The functions below never hold the full image when it is scaled down:
#
# * non-interlaced PNGs are inflated strip by strip (a few MB of rows at a
#   time), each strip decoded by Pillow as a small PNG of its own;
# * JPEGs are decoded by libjpeg directly at 1/2, 1/4 or 1/8 scale
#   (``Image.draft``) when they are at least twice as large as needed;
# * everything else (interlaced or 16-bit colour PNGs, animated PNGs) is
#   decoded whole, which the memory estimate accounts for;
# * the resampling itself (Lanczos) runs on horizontal bands of the output,
#   each from a window of source rows with enough context rows for the
#   filter, so the result has no seams.
#
# :func:`plan_image` reads only the header and estimates the memory the
# decode will need (``working_bytes``); :func:`decode_image` refuses to start
# when the estimate exceeds the budget.

_STRIP_BYTES = 2 * MB  # decoded pixel bytes per strip / band (approximately)
_LANCZOS_SUPPORT = 3.0

#: PNG (bit depth, colour type) -> (Pillow mode, raw mode) that can be decoded
#: strip by strip: the raw mode packs a decoded row back into the PNG's own
#: bytes (needed as the "previous row" of the next strip).  16-bit colour is
#: reduced to 8 bits by Pillow and cannot be packed back.
_STREAMABLE_PNG = {
    (1, 0): ("1", "1"), (2, 0): ("L", "L;2"), (4, 0): ("L", "L;4"), (8, 0): ("L", "L"),
    (16, 0): ("I;16", "I;16B"), (8, 2): ("RGB", "RGB"),
    (1, 3): ("P", "P;1"), (2, 3): ("P", "P;2"), (4, 3): ("P", "P;4"), (8, 3): ("P", "P"),
    (8, 4): ("LA", "LA"), (8, 6): ("RGBA", "RGBA"),
}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}

#: EXIF orientation -> transposition that shows the image upright.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageTooLarge(ValueError):
    """Decoding the image would need more memory than the budget."""

    def __init__(self, plan: "ImagePlan", budget: int):
        super().__init__(f"{plan.width}x{plan.height} image needs ~{plan.working_bytes} bytes, budget {budget}")
        self.plan = plan
        self.budget = budget


@dataclass(frozen=True)
class _PngLayout:
    width: int
    height: int
    depth: int
    colour_type: int
    interlaced: bool
    animated: bool
    idat: tuple  # (offset, length) of every IDAT chunk body
    extra: bytes  # PLTE and tRNS chunks, copied into every strip
    exif: Optional[bytes]

    @property
    def streamable(self) -> bool:
        return not self.interlaced and not self.animated and (self.depth, self.colour_type) in _STREAMABLE_PNG

    @property
    def row_bytes(self) -> int:
        return (self.width * _PNG_CHANNELS[self.colour_type] * self.depth + 7) // 8


def _png_layout(data: bytes) -> Optional[_PngLayout]:
    """Walk the PNG chunks (no decompression); None if the structure is odd."""
    if not data.startswith(PNG_MAGIC):
        return None
    pos, n = 8, len(data)
    ihdr, idat, extra, exif, animated = None, [], [], None, False
    while pos + 12 <= n:
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        if pos + 12 + length > n:
            return None
        body = (pos + 8, length)
        if ctype == b"IHDR" and length >= 13:
            ihdr = struct.unpack(">IIBBBBB", data[pos + 8:pos + 21])
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype in (b"PLTE", b"tRNS"):
            extra.append(data[pos:pos + 12 + length])
        elif ctype == b"eXIf":
            exif = b"Exif\x00\x00" + data[pos + 8:pos + 8 + length]
        elif ctype == b"acTL":
            animated = True
        elif ctype == b"IEND":
            break
        pos += 12 + length
    if ihdr is None or not idat or ihdr[3] not in _PNG_CHANNELS:
        return None
    w, h, depth, colour, _, _, interlace = ihdr
    return _PngLayout(w, h, depth, colour, bool(interlace), animated, tuple(idat), b"".join(extra), exif)


@dataclass(frozen=True)
class ImagePlan:
    """What :func:`decode_image` will do, worked out from the header alone.

    ``width``/``height``: the stored pixel size; ``target``: the size after
    scaling, in the stored orientation (equal to the stored size when the
    image already fits); ``orientation``: EXIF orientation (applied after
    scaling); ``working_bytes``: estimated peak memory of the decode.
    """

    kind: str
    width: int
    height: int
    mode: str
    orientation: int
    target: Tuple[int, int]
    method: str  # 'png-strips' | 'jpeg-draft' | 'whole'
    decoded_size: Tuple[int, int]  # size Pillow decodes to (after draft)
    working_bytes: int
    progressive: bool = False
    frames: int = 1

    @property
    def needs_resize(self) -> bool:
        return self.target != (self.width, self.height)


@dataclass
class DecodedImage:
    image: "Image.Image"  # upright, scaled; mode L, RGB, LA or RGBA
    few_colours: Optional[bool]  # at most 256 colours (None: not counted)


def _pixel_bytes(mode: str) -> int:
    """Bytes per pixel of Pillow's in-memory image for *mode*."""
    return 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4


def _exif_orientation(im: "Image.Image", layout: Optional[_PngLayout]) -> int:
    """EXIF orientation without decoding pixels.  (PngImageFile.getexif()
    decodes the whole image when the eXIf chunk comes after the pixel data.)"""
    try:
        if layout is not None:
            if layout.exif is not None:
                im.info["exif"] = layout.exif
            exif = Image.Image.getexif(im)
        else:
            exif = im.getexif()
        value = int(exif.get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - broken EXIF: ignore orientation
        return 1
    return value if value in _ORIENTATION else 1


def _fit(size: Tuple[int, int], box: Tuple[int, int], orientation: int) -> Tuple[int, int]:
    """Stored-orientation size that fits *box* once shown upright (never enlarged)."""
    w, h = size
    if w <= 0 or h <= 0:
        raise ValueError("image without pixels")
    bw, bh = (box[1], box[0]) if orientation in (5, 6, 7, 8) else box
    scale = min(1.0, bw / w, bh / h)
    if scale >= 1.0:
        return w, h
    return max(1, min(w, round(w * scale))), max(1, min(h, round(h * scale)))


def _jpeg_coefficient_bytes(im: "Image.Image") -> int:
    """libjpeg keeps every DCT coefficient of a progressive JPEG in memory
    (2 bytes per sample of every component, whatever the output scale)."""
    layers = getattr(im, "layer", None) or []
    w, h = im.size
    if not layers:
        return 2 * 4 * w * h
    hmax = max(l[1] for l in layers) or 1
    vmax = max(l[2] for l in layers) or 1
    return sum(2 * -(-w * l[1] // hmax) * -(-h * l[2] // vmax) for l in layers)


def plan_image(data: bytes, kind: str, box: Tuple[int, int]) -> ImagePlan:
    """Work out how to decode *data* (``kind`` 'png' or 'jpeg') scaled to fit
    *box* (pixels, upright), and how much memory that takes.  Reads the
    header only; raises what Pillow raises on unreadable headers."""
    layout = _png_layout(data) if kind == "png" else None
    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        mode = im.mode
        frames = getattr(im, "n_frames", 1)
        orientation = _exif_orientation(im, layout)
        target = _fit((w, h), box, orientation)
        tw, th = target
        progressive = kind == "jpeg" and bool(im.info.get("progressive") or im.info.get("progression"))
        coefficients = _jpeg_coefficient_bytes(im) if progressive else 0
        decoded = (w, h)
        if layout is not None and layout.streamable:
            method = "png-strips"
        else:
            method = "whole"
            if kind == "jpeg" and (tw, th) != (w, h):
                scale = min(w // tw, h // th)
                s = next(s for s in (8, 4, 2, 1) if scale >= s)
                if s > 1 and len(getattr(im, "tile", ())) == 1:
                    method = "jpeg-draft"
                    decoded = (-(-w // s), -(-h // s))
    working = _working_bytes(method, decoded, target, _pixel_bytes(mode), coefficients,
                             layout.row_bytes if method == "png-strips" else 0)
    return ImagePlan(kind, w, h, mode, orientation, target, method, decoded, working, progressive, frames)


def _working_bytes(method: str, decoded: Tuple[int, int], target: Tuple[int, int], pixel_bytes: int,
                   coefficients: int, row_bytes: int) -> int:
    """Estimated peak memory of :func:`decode_image` (measured peaks stay
    below it; see tests/test_security_evidence.py)."""
    (dw, dh), (tw, th) = decoded, target
    rows = _strip_rows(dw)
    sy = dh / th
    resize = (dw, dh) != (tw, th)
    window = (_band_rows(tw, sy) * sy + 2 * _margin(sy) + 2) if resize else rows
    strip = rows * dw * 4 * 4  # a decoded strip, cropped, converted, premultiplied
    if method == "png-strips":
        decode = rows * row_bytes * 8 + strip  # inflated rows and their copies for the strip PNG
    else:
        decode = dw * dh * pixel_bytes + coefficients + strip
    bands = (window + rows) * tw * 4 + window * tw * 4 * 3  # narrowed strips held, window and its copies
    out = tw * th * 4 * 3  # the output, un-premultiplied and transposed copies
    return int(decode + bands + out)


def _strip_rows(width: int) -> int:
    return max(1, _STRIP_BYTES // max(1, 4 * width))


def _band_rows(width: int, sy: float) -> int:
    """Output rows per band: about _STRIP_BYTES of source rows each."""
    return max(1, int(_strip_rows(width) / max(sy, 1.0)))


def _margin(sy: float) -> int:
    """Context rows each side of a band for the Lanczos filter."""
    return int(math.ceil(_LANCZOS_SUPPORT * max(sy, 1.0))) + 2 if sy != 1 else 0


def decode_image(data: bytes, plan: ImagePlan, budget: int, *, count_colours: bool = True) -> DecodedImage:
    """Decode *data* as planned: scaled to ``plan.target``, upright, in mode
    L, RGB, LA or RGBA (transparency kept as alpha).  Raises
    :class:`ImageTooLarge` before decoding when ``plan.working_bytes``
    exceeds *budget*; Pillow/zlib errors on damaged data propagate.
    ``few_colours`` is counted for PNGs only (JPEGs give None)."""
    if plan.working_bytes > budget:
        raise ImageTooLarge(plan, budget)
    counting = count_colours and plan.kind == "png"
    counter = _ColourCounter() if counting else None
    try:
        strips = _png_strips(data, _png_layout(data)) if plan.method == "png-strips" else _whole_strips(data, plan)
        image = _resample(strips, plan, counter)
    except _NotStreamable:  # pragma: no cover - a Pillow release decoding PNG rows differently
        whole = _working_bytes("whole", plan.decoded_size, plan.target, _pixel_bytes(plan.mode), 0, 0)
        plan = replace(plan, method="whole", working_bytes=whole)
        if whole > budget:
            raise ImageTooLarge(plan, budget)
        counter = _ColourCounter() if counting else None
        image = _resample(_whole_strips(data, plan), plan, counter)
    if plan.orientation in _ORIENTATION:
        image = image.transpose(_ORIENTATION[plan.orientation])
    return DecodedImage(image, counter.few if counter is not None else None)


class _NotStreamable(Exception):
    """Pillow decoded a strip differently than expected: decode whole."""


class _ColourCounter:
    def __init__(self) -> None:
        self.colours: Optional[set] = set()

    def add(self, strip: "Image.Image") -> None:
        if self.colours is None:
            return
        found = strip.getcolors(257)
        if found is None:
            self.colours = None
            return
        self.colours.update(c for _, c in found)
        if len(self.colours) > 256:
            self.colours = None

    @property
    def few(self) -> bool:
        return self.colours is not None


def _working(strip: "Image.Image") -> "Image.Image":
    """Convert a decoded strip to L, RGB, LA or RGBA (16-bit grey scaled)."""
    mode = strip.mode
    transparent = "transparency" in strip.info
    if mode in ("RGB", "L") and not transparent or mode in ("RGBA", "LA"):
        return strip
    if mode in ("RGB", "L", "1", "P") and transparent:
        return strip.convert("RGBA" if mode in ("RGB", "P") else "LA")
    if mode in ("1", "L"):
        return strip.convert("L")
    if mode.startswith("I"):
        return strip.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if mode == "F":
        return strip.convert("L")
    return strip.convert("RGB")  # P, CMYK, YCbCr, …


def _whole_strips(data: bytes, plan: ImagePlan) -> Iterator[Tuple[int, "Image.Image"]]:
    """Decode the whole image with Pillow (at reduced scale for JPEG when
    planned) and hand it out in strips."""
    with Image.open(io.BytesIO(data)) as im:
        if plan.method == "jpeg-draft":
            im.draft(None, plan.target)
            if im.size != plan.decoded_size:  # pragma: no cover - Pillow refused the draft
                raise ImageTooLarge(plan, 0)
        im.load()
        w, h = im.size
        rows = _strip_rows(w)
        for y in range(0, h, rows):
            strip = im.crop((0, y, w, min(h, y + rows)))
            strip.info = dict(im.info)
            yield y, strip


def _png_strips(data: bytes, layout: _PngLayout) -> Iterator[Tuple[int, "Image.Image"]]:
    """Decode a non-interlaced PNG strip by strip.

    The filtered rows are inflated a strip at a time and wrapped, with the
    previous strip's last row (unfiltered, filter type 0) in front, into a
    small PNG of their own which Pillow decodes; so no more than a strip of
    rows is ever held.
    """
    mode, rawmode = _STREAMABLE_PNG[(layout.depth, layout.colour_type)]
    w, h = layout.width, layout.height
    stride = layout.row_bytes + 1
    rows = _strip_rows(w)
    y, previous = 0, None
    buf = bytearray()
    for piece in _inflate(data, layout.idat, rows * stride):
        buf += piece
        while len(buf) >= rows * stride and y < h:
            n = min(rows, h - y)
            strip, previous = _png_strip(layout, bytes(buf[:n * stride]), previous, n, mode, rawmode)
            del buf[:n * stride]
            yield y, strip
            y += n
    if y < h and len(buf) >= (h - y) * stride:
        n = h - y
        strip, previous = _png_strip(layout, bytes(buf[:n * stride]), previous, n, mode, rawmode)
        yield y, strip
        y += n
    if y < h:
        raise OSError("image file is truncated")


def _inflate(data: bytes, chunks: tuple, step: int) -> Iterator[bytes]:
    """Inflate the IDAT data, at most *step* bytes at a time."""
    d = zlib.decompressobj()
    view = memoryview(data)
    for offset, length in chunks:
        pending = view[offset:offset + length]
        while pending and not d.eof:
            out = d.decompress(pending, step)
            if out:
                yield out
            pending = d.unconsumed_tail
    while not d.eof:
        out = d.decompress(b"", step)
        if not out:
            break
        yield out
    if not d.eof:
        raise OSError("image file is truncated")


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def _png_strip(layout: _PngLayout, rows: bytes, previous: Optional[bytes], n: int, mode: str, rawmode: str):
    """Decode *n* filtered rows; returns (strip image, its last row as raw bytes)."""
    lead = 0 if previous is None else 1
    payload = rows if previous is None else b"\x00" + previous + rows
    header = struct.pack(">IIBBBBB", layout.width, n + lead, layout.depth, layout.colour_type, 0, 0, 0)
    png = (PNG_MAGIC + _png_chunk(b"IHDR", header) + layout.extra
           + _png_chunk(b"IDAT", zlib.compress(payload, 0)) + _png_chunk(b"IEND", b""))
    with Image.open(io.BytesIO(png)) as im:
        if im.mode != mode:
            raise _NotStreamable(im.mode)
        im.load()
        strip = im.crop((0, lead, layout.width, lead + n)) if lead else im.copy()
        strip.info = dict(im.info)
    last = strip.crop((0, n - 1, layout.width, n)).tobytes("raw", rawmode)
    if len(last) != layout.row_bytes:
        raise _NotStreamable(rawmode)
    return strip, last


#: Modes resampled with premultiplied alpha (as Pillow's resize() does).
_PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}


def _resample(strips: Iterator, plan: ImagePlan, counter: Optional[_ColourCounter]) -> "Image.Image":
    """Scale the decoded strips to ``plan.target`` (Lanczos, separably).

    Each strip is first scaled horizontally on its own (exact: the filter
    stays within a row); the vertical pass then runs on horizontal bands of
    the output, each from a window of the narrowed rows that includes the
    filter's context rows above and below, so the bands join without seams.
    """
    (w, h), (tw, th) = plan.decoded_size, plan.target
    resize = (w, h) != (tw, th)
    sy = h / th
    margin = _margin(sy) if resize else 0
    band = _band_rows(tw, sy) if resize else _strip_rows(w)
    held: deque = deque()  # (first row, strip in working mode, already tw wide)
    covered, out = 0, None
    for o0 in range(0, th, band):
        o1 = min(th, o0 + band)
        s0, s1 = (o0 * sy, min(h, o1 * sy)) if resize else (o0, o1)
        top = max(0, int(math.floor(s0)) - margin)
        bottom = min(h, int(math.ceil(s1)) + margin)
        while covered < bottom:
            y, strip = next(strips, (None, None))
            if strip is None:
                raise OSError("image file is truncated")
            held.append((y, _narrowed(strip, tw, resize, counter)))
            covered = y + strip.height
        while held and held[0][0] + held[0][1].height <= top:
            held.popleft()
        window = _window(held, top, bottom, tw)
        if resize:
            part = window.resize((tw, o1 - o0), Image.Resampling.LANCZOS, box=(0, s0 - top, tw, s1 - top))
        else:
            part = window
        if out is None:
            out = Image.new(part.mode, (tw, th))
        out.paste(part, (0, o0))
    for _ in strips:  # decode to the end: damage in the last rows must surface
        pass
    if out.mode in ("RGBa", "La"):
        out = out.convert(out.mode.upper())
    return out


def _narrowed(strip: "Image.Image", tw: int, resize: bool, counter: Optional[_ColourCounter]) -> "Image.Image":
    """A decoded strip in working mode (colours counted), scaled to *tw* wide."""
    strip = _working(strip)
    if counter is not None:
        counter.add(strip)
    if not resize:
        return strip
    if strip.mode in _PREMULTIPLIED:
        strip = strip.convert(_PREMULTIPLIED[strip.mode])
    if strip.width != tw:
        strip = strip.resize((tw, strip.height), Image.Resampling.LANCZOS)
    return strip


def _window(held: deque, top: int, bottom: int, width: int) -> "Image.Image":
    """Rows top..bottom of the held strips, as one image."""
    pieces = [(y, s) for y, s in held if y < bottom and y + s.height > top]
    if len(pieces) == 1:
        y, s = pieces[0]
        return s.crop((0, top - y, width, bottom - y))
    window = Image.new(pieces[-1][1].mode, (width, bottom - top))
    for y, s in pieces:
        part = s.crop((0, max(0, top - y), width, min(s.height, bottom - y)))
        window.paste(part, (0, max(0, y - top)))
    return window


# --------------------------------------------------------------------------
# PDF active content removal
# --------------------------------------------------------------------------
#
# An action is judged by its /S (the action type) and by where it hangs,
# never by /Type: /Type is optional for actions and viewers (pdf.js, Acrobat)
# run ``<< /Type /Foo /S /Launch … >>`` just the same.

#: The only action kept: a jump to a destination inside the same document.
#: Every other /S found where an action is expected is removed, including
#: unknown ones.
SAFE_ACTIONS = frozenset({"/GoTo"})

#: Action types that are removed wherever a dictionary carrying them is
#: found, even away from an action key (defence in depth).  Everything here
#: either runs code, opens external resources or files, submits or imports
#: data, changes the form or the displayed document, or plays multimedia.
DANGEROUS_ACTIONS = frozenset(
    "/" + s
    for s in (
        "JavaScript", "Launch", "SubmitForm", "ImportData", "ResetForm",
        "GoToR", "GoToE", "GoToDp", "URI", "Sound", "Movie", "Hide", "Named",
        "SetOCGState", "Rendition", "Trans", "GoTo3DView", "RichMediaExecute",
        "Thread", "ECMAScript",
    )
)

#: Annotation subtypes removed outright (multimedia, embedded files, 3D).
DANGEROUS_ANNOTS = frozenset(
    ("/Screen", "/Movie", "/Sound", "/FileAttachment", "/RichMedia", "/3D")
)

#: Keys removed from any dictionary in which they appear.
_REMOVED_KEYS = (
    "/AA",  # additional actions (document, page, field and annotation triggers)
    "/JS",  # JavaScript code in an action
    "/JavaScript",  # document level JavaScript name tree (in /Names)
    "/EmbeddedFiles",  # attached files (in /Names)
    "/AF",  # associated files (PDF 2.0): the same attachments, from the catalog, pages, annotations
    "/XFA",  # XML forms (can carry scripts) in /AcroForm
)

#: Keys whose value is an action: annotation, outline item and form field
#: /A, the catalog's /OpenAction, a link's /PA.  (/Next is handled apart: it
#: may also hold an array of actions.)
_ACTION_KEYS = ("/A", "/OpenAction", "/PA")


def _resolve(obj):
    try:
        return obj.get_object() if isinstance(obj, IndirectObject) else obj
    except PDF_ERRORS:
        return None


def _is_bad_action(obj) -> bool:
    """True for an action (found under an action key) that does anything
    but jump inside the document: any /S other than /GoTo, or JavaScript
    code (/JS) under whatever /S.  /Type is ignored.  A dictionary with
    neither /S nor /JS does nothing and is left alone."""
    obj = _resolve(obj)
    if not isinstance(obj, DictionaryObject):
        return False
    if "/JS" in obj:
        return True
    s = _resolve(obj.get("/S"))
    return s is not None and s not in SAFE_ACTIONS


def _is_stray_action(obj: DictionaryObject) -> bool:
    """A dictionary found anywhere that is recognisably a dangerous action:
    declared /Type /Action with a non-GoTo /S, or a dangerous /S without a
    /Type of its own (dictionaries such as /StructElem or /Group also use /S,
    with other meanings)."""
    s = _resolve(obj.get("/S"))
    if s is None:
        return "/JS" in obj
    typ = _resolve(obj.get("/Type"))
    if typ == "/Action":
        return s not in SAFE_ACTIONS
    return typ is None and s in DANGEROUS_ACTIONS


def _iter_containers(roots: Iterable) -> Iterable:
    """Yield every dictionary/array reachable from *roots* without following
    indirect references (the roots are all indirect objects of a writer)."""
    stack = [r for r in roots if isinstance(r, (DictionaryObject, ArrayObject))]
    while stack:
        obj = stack.pop()
        yield obj
        values = obj.values() if isinstance(obj, DictionaryObject) else obj
        for v in values:
            if isinstance(v, (DictionaryObject, ArrayObject)):
                stack.append(v)


class _Removed:
    """Counts what was removed and remembers the removed action
    dictionaries, which are emptied at the end."""

    def __init__(self) -> None:
        self.count = 0
        self.actions: list = []

    def action(self, obj) -> bool:
        """Record *obj* if it is a bad action; returns whether it was."""
        if not _is_bad_action(obj):
            return False
        self.actions.append(_resolve(obj))
        self.count += 1
        return True


def _drop_removed_keys(d: DictionaryObject, removed: _Removed) -> None:
    for key in _REMOVED_KEYS:
        if key in d:
            del d[key]
            removed.count += 1


def _drop_bad_actions(d: DictionaryObject, removed: _Removed) -> None:
    """Remove /A, /OpenAction and /PA when they hold a bad action."""
    for key in _ACTION_KEYS:
        if key in d and removed.action(d[key]):
            del d[key]


def _trim_next(d: DictionaryObject, removed: _Removed) -> None:
    """Remove bad actions from an action's /Next (one action or an array)."""
    if "/Next" not in d:
        return
    nxt = d["/Next"]
    items = _resolve(nxt)
    if isinstance(items, ArrayObject):
        keep = [x for x in items if not removed.action(x)]
        if len(keep) == len(items):
            return
        if keep:
            d[NameObject("/Next")] = ArrayObject(keep)
        else:
            del d["/Next"]
    elif removed.action(nxt):
        del d["/Next"]


def _keep_annotation(annot: DictionaryObject, removed: _Removed) -> bool:
    """Strip an annotation's actions; False if it must go altogether: a
    multimedia/attachment annotation, or a link left without any action or
    destination (it existed only to run the action).  Widgets and other
    annotations stay, minus their actions."""
    if annot.get("/Subtype") in DANGEROUS_ANNOTS:
        removed.count += 1
        return False
    _drop_removed_keys(annot, removed)
    _drop_bad_actions(annot, removed)
    return not (annot.get("/Subtype") == "/Link" and "/A" not in annot and "/Dest" not in annot)


def _clean_annotations(d: DictionaryObject, removed: _Removed) -> None:
    if "/Annots" not in d:
        return
    annots = _resolve(d["/Annots"])
    if not isinstance(annots, ArrayObject):
        return
    keep = []
    for ref in annots:
        annot = _resolve(ref)
        if isinstance(annot, DictionaryObject) and _keep_annotation(annot, removed):
            keep.append(ref)
    if len(keep) == len(annots):
        return
    if keep:
        annots[:] = keep
    else:
        del d["/Annots"]


def _clean_container(d: DictionaryObject, removed: _Removed) -> None:
    _drop_removed_keys(d, removed)
    _drop_bad_actions(d, removed)
    _trim_next(d, removed)
    _clean_annotations(d, removed)


def sanitize_pdf_objects(objects: Iterable, root: Optional[DictionaryObject] = None) -> int:
    """Remove active content from a set of PDF objects **in place**.

    *objects* should be all indirect objects of a ``PdfWriter``
    (``writer._objects``) – direct sub-dictionaries are visited too.  Returns
    the number of *dangerous* items removed (plain ``/OpenAction`` jumps are
    removed from *root* as well but are not counted).

    Removed: ``/AA`` (document, page, field and annotation additional
    actions), ``/JS``, the ``/JavaScript`` and ``/EmbeddedFiles`` name trees,
    ``/AF`` associated files, ``/AcroForm /XFA``, every action whose ``/S`` is not ``/GoTo`` under
    ``/A``, ``/OpenAction``, ``/PA`` or in ``/Next`` chains (outlines, links,
    widgets, fields, the catalog) whatever its ``/Type`` says, link
    annotations left without any action or destination, and multimedia /
    file attachment annotations.  Internal ``/GoTo`` links and ``/Dest``
    links are kept.
    """
    containers = list(_iter_containers(o for o in objects if o is not None))
    dicts = [c for c in containers if isinstance(c, DictionaryObject)]
    removed = _Removed()
    stray = [d for d in dicts if _is_stray_action(d)]
    for d in dicts:
        _clean_container(d, removed)
    if root is not None and "/OpenAction" in root:
        # Remaining open actions are plain GoTo jumps: harmless, but we drop
        # them too so the rewritten document opens on page 1.
        del root["/OpenAction"]
    # Neutralise the (now unreferenced) action dictionaries themselves so no
    # script text survives even if an orphan object is written out.
    for action in removed.actions + stray:
        if isinstance(action, DictionaryObject):
            action.clear()
    return removed.count


def strip_active_content(
    reader_or_bytes: Union[PdfReader, bytes, bytearray],
    *,
    only_if_needed: bool = False,
) -> Optional[bytes]:
    """Return the PDF re-written without JavaScript and non-GoTo actions.

    Accepts a ``PdfReader`` or the PDF bytes.  With ``only_if_needed=True``
    returns ``None`` when nothing dangerous was found (the caller keeps the
    original bytes, e.g. to preserve digital signatures); otherwise the
    document is always re-written.  Errors from pypdf propagate (callers
    wrap them; :func:`inspect_upload` turns them into UploadRejected).
    """
    if isinstance(reader_or_bytes, (bytes, bytearray, memoryview)):
        reader = PdfReader(io.BytesIO(bytes(reader_or_bytes)), strict=False)
    else:
        reader = reader_or_bytes
    writer = PdfWriter(clone_from=reader)
    objects = writer._objects  # noqa: SLF001 - pypdf has no public iterator
    root = writer._root_object  # noqa: SLF001
    removed = sanitize_pdf_objects(objects, root=None)
    if only_if_needed and removed == 0:
        return None
    if "/OpenAction" in root:
        del root["/OpenAction"]
    if "/Names" in root:
        names = _resolve(root["/Names"])
        if isinstance(names, DictionaryObject) and len(names) == 0:
            del root["/Names"]
    # Drop objects that became unreachable (the removed scripts, actions,
    # attachments …).
    drop_unreachable_objects(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def drop_unreachable_objects(writer: PdfWriter) -> int:
    """Remove every object of *writer* that cannot be reached from the
    catalog or the document information; returns how many were removed.

    (pypdf's ``compress_identical_objects(remove_unreferenced=True)`` keeps
    an object that is referenced only by other orphans, e.g. the file behind
    a removed attachment.)
    """
    objects = writer._objects  # noqa: SLF001 - pypdf has no public iterator
    reachable: set = set()
    stack: list = []
    for root in (writer._root_object, getattr(writer, "_info", None)):  # noqa: SLF001
        ref = getattr(root, "indirect_reference", None)
        stack.append(ref if isinstance(ref, IndirectObject) and ref.pdf is writer else root)
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            if obj.pdf is not writer or obj.idnum in reachable:
                continue
            reachable.add(obj.idnum)
            obj = objects[obj.idnum - 1] if 0 < obj.idnum <= len(objects) else None
        if isinstance(obj, DictionaryObject):
            stack.extend(obj.values())
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
    removed = 0
    for index, obj in enumerate(objects):
        if obj is not None and index + 1 not in reachable:
            objects[index] = None
            removed += 1
    return removed
