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
from dataclasses import dataclass, field
from typing import Iterable, Optional, Union

from PIL import Image, ImageFile, UnidentifiedImageError
from pypdf import PdfReader, PdfWriter
from pypdf.errors import DependencyError, PyPdfError
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
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
    "PDF_ERRORS",
    "DEFAULT_MAX_TOTAL_BYTES",
]

MB = 1024 * 1024
DEFAULT_MAX_TOTAL_BYTES = 300 * MB
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


@dataclass(frozen=True)
class CheckedFile:
    """A checked upload.

    ``data`` are the bytes to store.  For PDFs that contained active content
    (JavaScript, launch/URI/submit actions, …) these are the *sanitized*
    bytes and ``sanitized`` is True; otherwise the original bytes are kept
    unchanged (so digital signatures stay valid in the stored copy).
    ``size`` and ``sha256`` describe ``data``; ``original_size`` and
    ``original_sha256`` describe what the user sent.
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
    if kind == "pdf":
        stored, pages, sanitized, notes = _check_pdf(data, shown, limits)
        width = height = None
    else:
        width, height, notes = _check_image(data, shown, kind, limits)
        stored, pages, sanitized = data, 1, False

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
    )


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
        for page in pages:
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
                    stream.get_data()
            res = page.get("/Resources")
            if res is not None and not isinstance(res.get_object(), DictionaryObject):
                raise _broken_pdf(shown)
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
    notes = []
    limit = limits.max_image_pixels

    def too_big(w: int, h: int) -> UploadRejected:
        return UploadRejected(
            f"图片“{shown}”的尺寸过大（{w}×{h} 像素），超过 {limit / 10000:g} 万像素的上限。"
            f"请缩小图片尺寸后再上传。"
        )

    # Cheap header pre-check for PNG before Pillow sees the file at all.
    if kind == "png":
        dims = _png_header_size(data)
        if dims and dims[0] * dims[1] > limit:
            raise too_big(*dims)

    expected_format = {"png": "PNG", "jpeg": "JPEG"}[kind]
    try:
        # Image.open only parses the header; dimensions are known before any
        # pixel data is decoded.  Pillow's own global MAX_IMAGE_PIXELS check
        # (DecompressionBombError above 2x its limit) still applies and is
        # treated as a refusal too.
        with Image.open(io.BytesIO(data)) as im:
            if im.format != expected_format:
                raise _broken_image(shown, kind)
            width, height = im.size
            if width <= 0 or height <= 0:
                raise _broken_image(shown, kind)
            if width * height > limit:
                raise too_big(width, height)
            mode = im.mode
            frames = getattr(im, "n_frames", 1)
            im.verify()
        if ImageFile.LOAD_TRUNCATED_IMAGES:  # pragma: no cover - global misconfiguration
            notes.append("warning: PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set; truncation may go unnoticed")
        # verify() leaves the object unusable; decode a fresh instance fully to
        # catch truncated pixel data (verify does not decode JPEG at all).
        with Image.open(io.BytesIO(data)) as im2:
            im2.load()
    except UploadRejected:
        raise
    except Image.DecompressionBombError:
        dims = _png_header_size(data) if kind == "png" else None
        if dims:
            raise too_big(*dims)
        raise UploadRejected(
            f"图片“{shown}”的尺寸过大，超过 {limit / 10000:g} 万像素的上限。请缩小图片尺寸后再上传。"
        )
    except IMAGE_ERRORS as exc:
        raise _broken_image(shown, kind) from exc
    if mode == "CMYK":
        notes.append("CMYK image: converted to RGB when bound into the report")
    if frames > 1:
        notes.append(f"multi-frame image ({frames} frames): only the first frame is used")
    return width, height, notes


# --------------------------------------------------------------------------
# PDF active content removal
# --------------------------------------------------------------------------

#: Action types that are removed.  Only /GoTo (jump inside the same
#: document) is kept; everything else either runs code, opens external
#: resources, submits data, or is multimedia.
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
    "/AA",  # additional actions (page open/close, field keystroke, …)
    "/JS",  # JavaScript code in an action
    "/JavaScript",  # document level JavaScript name tree (in /Names)
    "/EmbeddedFiles",  # attached files (in /Names)
    "/XFA",  # XML forms (can carry scripts) in /AcroForm
)

_ACTION_KEYS = ("/A", "/OpenAction", "/PA")


def _resolve(obj):
    try:
        return obj.get_object() if isinstance(obj, IndirectObject) else obj
    except PDF_ERRORS:
        return None


def _is_bad_action(obj) -> bool:
    obj = _resolve(obj)
    if not isinstance(obj, DictionaryObject):
        return False
    s = _resolve(obj.get("/S"))
    if s is None:
        return "/JS" in obj
    typ = _resolve(obj.get("/Type"))
    if typ is not None and typ != "/Action":
        return False
    return s in DANGEROUS_ACTIONS or "/JS" in obj


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


def sanitize_pdf_objects(objects: Iterable, root: Optional[DictionaryObject] = None) -> int:
    """Remove active content from a set of PDF objects **in place**.

    *objects* should be all indirect objects of a ``PdfWriter``
    (``writer._objects``) – direct sub-dictionaries are visited too.  Returns
    the number of *dangerous* items removed (plain ``/OpenAction`` jumps are
    removed from *root* as well but are not counted).

    Removed: ``/AA`` (document, page, field and annotation additional
    actions), ``/JS``, the ``/JavaScript`` and ``/EmbeddedFiles`` name trees,
    ``/AcroForm /XFA``, every action whose type is not ``/GoTo`` (also in
    ``/Next`` chains, outlines, links and widgets), link annotations left
    without any action or destination, and multimedia / file attachment
    annotations.  Internal ``/GoTo`` links and ``/Dest`` links are kept.
    """
    containers = list(_iter_containers(o for o in objects if o is not None))
    removed = 0
    bad_ids = set()
    for c in containers:
        if isinstance(c, DictionaryObject) and _is_bad_action(c):
            bad_ids.add(id(c))

    def bad(v) -> bool:
        r = _resolve(v)
        return r is not None and (id(r) in bad_ids or _is_bad_action(r))

    for c in containers:
        if not isinstance(c, DictionaryObject):
            continue
        for key in _REMOVED_KEYS:
            if key in c:
                del c[key]
                removed += 1
        for key in _ACTION_KEYS:
            if key in c and bad(c[key]):
                del c[key]
                removed += 1
        if "/Next" in c:
            nxt = c["/Next"]
            nxt_r = _resolve(nxt)
            if isinstance(nxt_r, ArrayObject):
                keep = [x for x in nxt_r if not bad(x)]
                if len(keep) != len(nxt_r):
                    removed += len(nxt_r) - len(keep)
                    if keep:
                        c[NameObject("/Next")] = ArrayObject(keep)
                    else:
                        del c["/Next"]
            elif bad(nxt):
                del c["/Next"]
                removed += 1
        if "/Annots" in c:
            annots = _resolve(c["/Annots"])
            if isinstance(annots, ArrayObject):
                keep = []
                for a in annots:
                    ar = _resolve(a)
                    if not isinstance(ar, DictionaryObject):
                        continue
                    sub = ar.get("/Subtype")
                    if sub in DANGEROUS_ANNOTS:
                        removed += 1
                        continue
                    action = ar.get("/A")
                    if action is not None and bad(action):
                        removed += 1
                        continue  # the annotation existed only to run the action
                    if "/AA" in ar:
                        del ar["/AA"]
                        removed += 1
                    if sub == "/Link" and "/A" not in ar and "/Dest" not in ar:
                        continue  # dead link, drop silently
                    keep.append(a)
                if len(keep) != len(annots):
                    if keep:
                        annots[:] = keep
                    else:
                        del c["/Annots"]
    if root is not None and "/OpenAction" in root:
        # Remaining open actions are plain GoTo jumps: harmless, but we drop
        # them too so the rewritten document opens on page 1.
        del root["/OpenAction"]
    # Neutralise the (now unreferenced) action dictionaries themselves so no
    # script text survives even if an orphan object is written out.
    for c in containers:
        if isinstance(c, DictionaryObject) and id(c) in bad_ids:
            c.clear()
    return removed


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
    # Drop objects that became unreachable (the removed scripts, actions …).
    writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
