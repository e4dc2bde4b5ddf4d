"""Chinese font discovery and registration for the PDF engine.

ReportLab (and therefore xhtml2pdf) can only draw text with fonts that have
been registered in-process. The base-14 PDF fonts have no Chinese glyphs, so a
document rendered without a registered CJK font shows empty boxes or nothing.

This module:

* finds a TrueType font with Chinese glyphs (:func:`find_cjk_font`): an
  explicitly configured path first (the app's ``PDF_FONT_PATH``), then the
  usual locations on Debian/Ubuntu, Windows and macOS;
* registers it with ReportLab under the stable family name ``CJKSong``
  (:func:`register_cjk_fonts`), plus a ``CJKSong-Bold`` face for bold text;
* falls back to ReportLab's built-in, *non-embedded* CID font ``STSong-Light``
  when nothing usable is installed, and says so (log WARNING and a Chinese
  message for the admin page in :class:`FontStatus`).

Only fonts with TrueType outlines (a ``glyf`` table) can be embedded by
ReportLab. OpenType/CFF fonts -- which includes the ``.ttc`` files shipped by
Debian's ``fonts-noto-cjk`` -- are rejected by ReportLab's ``TTFont`` and are
therefore skipped (they are still listed as candidates so that a future
TrueType build in the same place would be picked up).

Bold: ReportLab cannot synthesise ("fake") a bold face for a TrueType font.
When a real bold face is available for the chosen font (Noto Serif CJK Bold,
Microsoft YaHei Bold, ...) it is used. Otherwise a Hei (黑体, sans) face is used
for bold if one is installed -- the customary Chinese convention of 宋体 for
body text and 黑体 for headings -- and failing that the regular face itself is
registered as the bold face, so ``<b>`` and headings still render (their
emphasis then comes only from size/colour set in CSS). See
:attr:`FontStatus.bold_path`.

Registration is idempotent and cached per process (per ``explicit_path``).
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont, TTFontFile

log = logging.getLogger(__name__)

#: Family name under which the embedded Chinese font is registered. The
#: engine's CSS refers to this name; keep it stable.
FAMILY = "CJKSong"
BOLD_FACE = "CJKSong-Bold"
#: ReportLab's non-embedded Adobe-GB1 CID font, used when no TrueType font is
#: found. Every PDF viewer is expected to substitute a local Song face for it,
#: but the result depends on the viewer's machine.
FALLBACK_FAMILY = "STSong-Light"

#: Characters a candidate font must be able to draw to count as "Chinese".
_PROBE_CHARS = "中文字体，。（）《》"
#: Identifies the Simplified Chinese face of a collection by its family name.
_SC_NAME = re.compile(r"\b(SC|CN|GB)\b|Simplified|SimSun|Song", re.IGNORECASE)


@dataclass(frozen=True)
class CJKFont:
    """A usable TrueType Chinese font face.

    :param path: font file (``.ttf`` or ``.ttc``).
    :param subfont_index: face index inside a ``.ttc`` collection (0 for .ttf).
    :param family: the face's own family name, e.g. ``"AR PL UMing CN"``.
    """

    path: str
    subfont_index: int
    family: str


@dataclass(frozen=True)
class FontStatus:
    """Result of :func:`register_cjk_fonts`.

    :param embedded: True when a TrueType font is embedded in the PDFs; False
        for the non-embedded ``STSong-Light`` fallback.
    :param family: the CSS/ReportLab family name to use (``"CJKSong"`` or
        ``"STSong-Light"``).
    :param path: the regular face's file, or None for the fallback.
    :param message: a human-readable (Chinese) status for an admin page.
    :param face: the font's own family name (e.g. ``"AR PL UMing CN"``).
    :param bold_path: file used for the bold face; equal to ``path`` when the
        regular face doubles as bold (no bold face installed).
    """

    embedded: bool
    family: str
    path: str | None
    message: str
    face: str | None = None
    bold_path: str | None = None


def _windows_font_dirs() -> list[Path]:
    dirs = [Path(os.environ.get("WINDIR", "C:/Windows")) / "Fonts", Path("C:/Windows/Fonts")]
    local = os.environ.get("LOCALAPPDATA")
    if local:
        dirs.append(Path(local) / "Microsoft/Windows/Fonts")
    return list(dict.fromkeys(dirs))


def _candidates() -> list[tuple[Path, Path | None]]:
    """(regular, preferred bold) font files in order of preference.

    Song/Ming (serif) faces first, since the family is called CJKSong, then
    Hei (sans) faces. Missing files are simply skipped by the caller.
    """
    debian = Path("/usr/share/fonts")
    noto = [debian / "opentype/noto", debian / "truetype/noto", debian / "noto-cjk"]
    pairs: list[tuple[Path, Path | None]] = [
        # Debian/Ubuntu: fonts-arphic-uming (TrueType collection, face 0 = CN).
        (debian / "truetype/arphic/uming.ttc", None),
        # fonts-noto-cjk: normally CFF outlines, which ReportLab rejects; kept
        # so a TrueType build at the same place is used when present.
        *[(d / "NotoSerifCJK-Regular.ttc", d / "NotoSerifCJK-Bold.ttc") for d in noto],
        # fonts-wqy-zenhei / fonts-wqy-microhei.
        (debian / "truetype/wqy/wqy-zenhei.ttc", None),
        (debian / "truetype/wqy/wqy-microhei.ttc", None),
        *[(d / "NotoSansCJK-Regular.ttc", d / "NotoSansCJK-Bold.ttc") for d in noto],
        # Fedora-style locations.
        (debian / "wqy-zenhei/wqy-zenhei.ttc", None),
        (debian / "wqy-microhei/wqy-microhei.ttc", None),
    ]
    for d in _windows_font_dirs():
        pairs += [
            (d / "simsun.ttc", d / "simhei.ttf"),
            (d / "simsun.ttf", d / "simhei.ttf"),
            (d / "msyh.ttc", d / "msyhbd.ttc"),
            (d / "simhei.ttf", None),
        ]
    mac = [Path("/System/Library/Fonts/Supplemental"), Path("/System/Library/Fonts"),
           Path("/Library/Fonts"), Path.home() / "Library/Fonts"]
    for d in mac:
        pairs += [
            (d / "Songti.ttc", None),
            (d / "STHeiti Light.ttc", d / "STHeiti Medium.ttc"),
            (d / "Arial Unicode.ttf", None),
        ]
    return pairs


def _hei_candidates() -> list[Path]:
    """Hei (sans) faces used for bold when the chosen font has no bold face; the
    smallest first (ReportLab keeps the whole file in memory: microhei 5 MB, zenhei 17 MB)."""
    out = [Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
           Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")]
    out += [d / "simhei.ttf" for d in _windows_font_dirs()]
    out += [Path("/System/Library/Fonts/STHeiti Medium.ttc")]
    return out


def _ttc_count(path: Path) -> int:
    """Number of faces in a TrueType collection (1 for a plain font file)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
    except OSError:
        return 0
    if head[:4] == b"ttcf" and len(head) == 12:
        return struct.unpack(">I", head[8:12])[0]
    return 1


def _probe(path: Path, index: int) -> CJKFont | None:
    """The face at ``index`` if ReportLab can embed it and it has Chinese glyphs."""
    try:
        face = TTFontFile(str(path), subfontIndex=index, validate=0)
    except Exception as exc:  # TTFError for CFF outlines, OSError, corrupt files
        log.debug("Font %s#%d not usable: %s", path, index, exc)
        return None
    if not all(ord(ch) in face.charToGlyph for ch in _PROBE_CHARS):
        log.debug("Font %s#%d has no Chinese glyphs", path, index)
        return None
    family = face.familyName
    if isinstance(family, bytes):
        family = family.decode("utf-8", "replace")
    return CJKFont(str(path), index, family)


def probe_font_file(path: str | os.PathLike) -> CJKFont | None:
    """Check one font file; for a ``.ttc`` pick its Simplified Chinese face.

    Returns None when the file does not exist, is not TrueType, or cannot draw
    Chinese.
    """
    p = Path(path)
    if not p.is_file():
        return None
    first = None
    for index in range(min(_ttc_count(p), 32)):
        font = _probe(p, index)
        if font is None:
            continue
        if _SC_NAME.search(font.family):
            return font
        first = first or font
    return first


def find_cjk_font(explicit_path: str | os.PathLike | None = None) -> CJKFont | None:
    """Find a TrueType font that can draw Chinese.

    ``explicit_path`` (the app's ``PDF_FONT_PATH``) is tried first; if it is
    set but unusable a WARNING is logged and the usual locations are searched.
    Returns None when nothing usable is installed.
    """
    if explicit_path:
        font = probe_font_file(explicit_path)
        if font is not None:
            return font
        log.warning("PDF_FONT_PATH %r is not a usable TrueType Chinese font; "
                    "searching the usual locations", str(explicit_path))
    for regular, _bold in _candidates():
        font = probe_font_file(regular)
        if font is not None:
            return font
    return None


def _find_bold(font: CJKFont) -> CJKFont | None:
    """A bold (or, failing that, Hei) face to pair with ``font``, if any."""
    for regular, bold in _candidates():
        if bold is not None and str(regular) == font.path:
            found = probe_font_file(bold)
            if found is not None:
                return found
    hei = _hei_candidates()
    if Path(font.path) in hei:  # already a Hei face: keep it for bold too
        return None
    for path in hei:
        found = probe_font_file(path)
        if found is not None:
            return found
    return None


_lock = threading.Lock()
_cache: dict[str | None, FontStatus] = {}


def _registered(name: str) -> bool:
    return name in pdfmetrics.getRegisteredFontNames()


def register_cjk_fonts(explicit_path: str | os.PathLike | None = None) -> FontStatus:
    """Register the Chinese font family with ReportLab; idempotent, cached.

    On success the family ``CJKSong`` (regular) / ``CJKSong-Bold`` (bold) is
    registered with ``registerFontFamily`` so ``<b>``/``font-weight: bold``
    resolve to the bold face; italic maps to the upright faces (Chinese fonts
    have no italics). When no TrueType font is found, ``STSong-Light`` is
    registered instead and a WARNING is logged.
    """
    key = str(explicit_path) if explicit_path else None
    with _lock:
        status = _cache.get(key)
        # Re-register if somebody reset ReportLab's registry (rl_config._reset).
        if status is not None and _registered(FAMILY if status.embedded else FALLBACK_FAMILY):
            return status
        status = _register(explicit_path)
        _cache[key] = status
        return status


def _register(explicit_path) -> FontStatus:
    font = find_cjk_font(explicit_path)
    if font is None:
        pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FAMILY))
        message = ("未找到可嵌入的中文字体，PDF 使用非嵌入的 STSong-Light 字体，"
                   "显示效果取决于阅读器所在电脑是否安装了相应字体。"
                   "请安装 fonts-arphic-uming（或 fonts-wqy-zenhei），"
                   "或在配置 PDF_FONT_PATH 中指定 TrueType 中文字体文件。")
        log.warning("No embeddable Chinese TrueType font found; PDFs use the "
                    "non-embedded CID font %s. Install fonts-arphic-uming or set "
                    "PDF_FONT_PATH.", FALLBACK_FAMILY)
        return FontStatus(False, FALLBACK_FAMILY, None, message)

    pdfmetrics.registerFont(TTFont(FAMILY, font.path, subfontIndex=font.subfont_index))
    bold = _find_bold(font)
    if bold is not None:
        pdfmetrics.registerFont(TTFont(BOLD_FACE, bold.path, subfontIndex=bold.subfont_index))
        bold_note = f"粗体使用 {bold.family}（{bold.path}）。"
    else:
        # No bold face: the regular face doubles as bold (ReportLab cannot fake
        # bold for TrueType), so <b> and headings rely on size for emphasis.
        pdfmetrics.registerFont(TTFont(BOLD_FACE, font.path, subfontIndex=font.subfont_index))
        bold_note = "未找到粗体字形，粗体文字使用常规字形显示。"
    pdfmetrics.registerFontFamily(FAMILY, normal=FAMILY, bold=BOLD_FACE,
                                  italic=FAMILY, boldItalic=BOLD_FACE)
    log.info("Chinese PDF font: %s (%s#%d)", font.family, font.path, font.subfont_index)
    message = f"PDF 已嵌入中文字体 {font.family}（{font.path}）。{bold_note}"
    return FontStatus(True, FAMILY, font.path, message, font.family,
                      bold.path if bold else font.path)
