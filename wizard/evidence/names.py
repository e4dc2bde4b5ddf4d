"""Names of uploaded files: cleaned for storage and display, and their sizes for people."""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

MB = 1024 * 1024
FALLBACK_STEM = "未命名文件"
MAX_NAME_CHARS = 120
KIND_DEFAULT_EXT = {"pdf": ".pdf", "png": ".png", "jpeg": ".jpg"}





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
    stem, ext = split_ext(name)
    stem = stem.strip(" .")
    default_ext = KIND_DEFAULT_EXT.get(kind or "pdf", ".pdf")
    if not stem:
        return FALLBACK_STEM + (ext or default_ext)
    if len(stem) + len(ext) > MAX_NAME_CHARS:
        stem = stem[: max(1, MAX_NAME_CHARS - len(ext))].rstrip(" .") or FALLBACK_STEM
    return stem + ext


def split_ext(name: str):
    """Split off a short extension (``.pdf``), returning (stem, ext)."""
    m = re.search(r"(\.[A-Za-z0-9]{1,8})$", name)
    if not m:
        return name, ""
    return name[: m.start()], m.group(1)


def ascii_fallback(name: str) -> str:
    stem, ext = split_ext(name)
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    # token-ish characters only: no quotes, backslashes, semicolons, percent
    ascii_stem = re.sub(r"[^A-Za-z0-9._\- ()\[\]+]", "_", ascii_stem)
    ascii_stem = re.sub(r"_+", "_", ascii_stem).strip(" ._")
    if not re.search(r"[A-Za-z0-9]", ascii_stem):
        ascii_stem = "file"
    ext = re.sub(r"[^A-Za-z0-9.]", "", ext)
    return ascii_stem + ext


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


fmt_size = file_size
