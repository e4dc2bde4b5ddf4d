"""Decoding images scaled to fit a box without holding more than a stated memory budget:
used when an image is uploaded (normalised to A4 at 200 dpi) and when evidence is bound.

Pillow decodes a whole image at once, at 4 bytes per pixel for RGB: a 150 KB PNG of
6300 × 6300 black pixels becomes 159 MB, and every further full-size step (conversion,
transparency, resampling) costs as much again.  So:

* JPEGs: Pillow.  Its draft mode has libjpeg decode directly at 1/2, 1/4 or 1/8 scale when
  the image is at least twice as large as needed; Pillow then resamples the (small) result
  (Lanczos).  libjpeg keeps every DCT coefficient of a progressive JPEG, which the estimate
  counts.
* PNGs: libvips (pyvips).  ``pngload`` with sequential access decodes the rows top to bottom
  while ``resize`` shrinks them (a box filter for the integer part of the factor, then
  Lanczos 3, on premultiplied alpha), so only a window of rows is held.  libpng can only
  decode an interlaced PNG whole, which the estimate counts.

:func:`plan_image` reads only the header and estimates the memory the decode will need
(``working_bytes``); :func:`decode_image` refuses to start when the estimate exceeds the
budget.  libvips runs with its operation cache off and one worker thread (set on first use):
the estimates assume both, and a render process keeps nothing between images.
"""

from __future__ import annotations

import io
import logging
import struct
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional, Tuple

from PIL import Image

from .names import MB

try:  # libvips (Debian: libvips42) is loaded here; missing, PNGs cannot be scaled: said on use
    import pyvips
except (ImportError, OSError) as _missing:  # pragma: no cover - CI and production install libvips42
    pyvips = None
    _VIPS_MISSING = f"{type(_missing).__name__}: {_missing}"
else:
    _VIPS_MISSING = ""

log = logging.getLogger(__name__)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: Bytes of decoded rows the colour count reads at a time.
_STRIP_BYTES = 2 * MB
#: Overhead of one libvips decode beyond the pixel buffers estimated below: libpng's state,
#: libvips's objects, the Python objects.
_VIPS_BASE = 12 * MB
#: Source rows libvips holds while it decodes and shrinks sequentially (its read-ahead, the
#: box filter's and Lanczos window's rows, the output strips in flight; measured: 1,000 to
#: 1,600 rows with one worker thread), counted at 8 bits per sample, and rows of the
#: loader's own samples (16 bits in a 16-bit PNG).
_VIPS_ROWS = 2048
_VIPS_SOURCE_ROWS = 512

#: EXIF orientation -> transposition that shows the image upright.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

#: PNG colour type -> channels (before libpng expands palettes and transparency).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}  # libvips bands -> Pillow mode


class ImageTooLarge(ValueError):
    """Decoding the image would need more memory than the budget."""

    def __init__(self, plan: "ImagePlan", budget: int):
        super().__init__(f"{plan.width}x{plan.height} image needs ~{plan.working_bytes} bytes, budget {budget}")
        self.plan = plan
        self.budget = budget


class ImageLibraryMissing(RuntimeError):
    """libvips could not be loaded: an installation fault (the Debian package libvips42)."""


class VipsDecodeError(OSError):
    """libvips refused the pixel data (damaged, truncated): an OSError like Pillow's."""


@dataclass(frozen=True)
class _PngHeader:
    width: int
    height: int
    depth: int
    colour_type: int
    interlaced: bool
    transparent: bool  # a tRNS chunk (a transparent colour or palette alpha)
    exif: Optional[bytes]

    @property
    def channels(self) -> int:
        """Bands libvips decodes to: palettes expanded, tRNS made an alpha band."""
        colour = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}[self.colour_type]
        return colour + 1 if self.transparent and self.colour_type in (0, 2, 3) else colour

    @property
    def colour_16(self) -> bool:
        return self.depth == 16 and self.colour_type in (2, 6)

    @property
    def sample_bytes(self) -> int:
        return 2 if self.depth == 16 else 1

    @property
    def few_colours(self) -> bool:
        """At most 256 colours whatever the pixels: palette or grey of at most 8 bits, no
        transparent colour that could add one (a palette's alpha stays within 256 entries)."""
        return self.colour_type == 3 or (self.colour_type == 0 and not self.transparent)


def _png_header(data: bytes) -> Optional[_PngHeader]:
    """IHDR, tRNS and eXIf from the chunks (no decompression; a chunk cut short ends the walk:
    libvips judges the pixel data); None without a usable IHDR.  (Pillow reads eXIf only by
    decoding the whole image when it follows the pixel data.)"""
    if not data.startswith(PNG_MAGIC):
        return None
    pos, n = 8, len(data)
    ihdr, exif, transparent = None, None, False
    while pos + 12 <= n:
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        if pos + 12 + length > n:
            break
        if ctype == b"IHDR" and length >= 13:
            ihdr = struct.unpack(">IIBBBBB", data[pos + 8:pos + 21])
        elif ctype == b"tRNS":
            transparent = True
        elif ctype == b"eXIf":
            exif = b"Exif\x00\x00" + data[pos + 8:pos + 8 + length]
        elif ctype == b"IEND":
            break
        pos += 12 + length
    if ihdr is None or ihdr[3] not in _PNG_CHANNELS:
        return None
    w, h, depth, colour, _, _, interlace = ihdr
    return _PngHeader(w, h, depth, colour, bool(interlace), transparent, exif)


@dataclass(frozen=True)
class ImagePlan:
    """What :func:`decode_image` will do, worked out from the header alone.

    ``width``/``height``: the stored pixel size; ``target``: the size after
    scaling, in the stored orientation (equal to the stored size when the
    image already fits); ``orientation``: EXIF orientation (applied after
    scaling); ``working_bytes``: estimated peak memory of the decode.
    ``method``: 'png-strips' (libvips decodes the rows in order, shrinking
    on the way), 'png-16bit' (the same, for a PNG of 16-bit colour samples,
    which img2pdf would embed at 16 bits), 'jpeg-draft' (libjpeg decodes at
    1/2 to 1/8 scale) or 'whole' (an interlaced PNG, or a JPEG decoded at
    full size).
    """

    kind: str
    width: int
    height: int
    mode: str
    orientation: int
    target: Tuple[int, int]
    method: str  # 'png-strips' | 'png-16bit' | 'jpeg-draft' | 'whole'
    decoded_size: Tuple[int, int]  # size the decoder produces (after draft)
    working_bytes: int
    progressive: bool = False
    frames: int = 1
    transparent: bool = False  # an alpha channel or a transparent colour

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


def _exif_orientation(im: "Image.Image", header: Optional[_PngHeader]) -> int:
    """EXIF orientation without decoding pixels."""
    try:
        if header is not None:
            if header.exif is None:
                return 1
            im.info["exif"] = header.exif
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
    header only; raises what Pillow raises on unreadable headers (and its
    DecompressionBombError)."""
    header = _png_header(data) if kind == "png" else None
    if kind == "png" and header is None:
        raise SyntaxError("broken PNG chunk structure")
    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        mode = im.mode
        frames = getattr(im, "n_frames", 1)
        transparent = "transparency" in im.info or mode in ("RGBA", "LA", "PA", "La", "RGBa")
        orientation = _exif_orientation(im, header)
        target = _fit((w, h), box, orientation)
        if header is not None:
            if (header.width, header.height) != (w, h):
                raise SyntaxError("PNG header read twice differently")
            method = "whole" if header.interlaced else "png-16bit" if header.colour_16 else "png-strips"
            working = _png_bytes(header, target)
            return ImagePlan(kind, w, h, mode, orientation, target, method, (w, h), working, False, frames,
                             transparent)
        tw, th = target
        progressive = kind == "jpeg" and bool(im.info.get("progressive") or im.info.get("progression"))
        coefficients = _jpeg_coefficient_bytes(im) if progressive else 0
        decoded, method = (w, h), "whole"
        if kind == "jpeg" and (tw, th) != (w, h):
            scale = min(w // tw, h // th)
            s = next(s for s in (8, 4, 2, 1) if scale >= s)
            if s > 1 and len(getattr(im, "tile", ())) == 1:
                method = "jpeg-draft"
                decoded = (-(-w // s), -(-h // s))
    working = _jpeg_bytes(decoded, target, _pixel_bytes(mode), coefficients, converted=mode not in ("RGB", "L"))
    return ImagePlan(kind, w, h, mode, orientation, target, method, decoded, working, progressive, frames,
                     transparent)


def _png_bytes(header: _PngHeader, target: Tuple[int, int]) -> int:
    """Estimated peak memory of decoding a PNG with :func:`_decode_png` (measured peaks of the
    upload check and of binding stay below it; see tests/evidence/test_hostile_files.py): the
    whole image when libpng must decode it whole (interlaced), libvips's window of rows, the
    strips the colour count reads, and the result (libvips's buffer, Pillow's copy and one
    conversion by the caller, at 4 bytes per pixel)."""
    w, h = header.width, header.height
    tw, th = target
    bands, sample = header.channels, header.sample_bytes
    whole = w * h * bands * sample if header.interlaced else 0
    window = _VIPS_ROWS * w * bands + _VIPS_SOURCE_ROWS * w * bands * (sample - 1)
    count = 3 * _STRIP_BYTES + 2 * w * 4
    return int(whole + window + count + tw * th * 4 * 3 + _VIPS_BASE)


def _jpeg_bytes(decoded: Tuple[int, int], target: Tuple[int, int], pixel_bytes: int, coefficients: int,
                converted: bool) -> int:
    """Estimated peak memory of decoding a JPEG with :func:`_decode_jpeg`: the image as libjpeg
    decodes it (at most twice the target across, thanks to draft mode), a converted copy (CMYK),
    the resampler's intermediate image and the result."""
    (dw, dh), (tw, th) = decoded, target
    copy = dw * dh * 4 if converted else 0
    return int(dw * dh * pixel_bytes + coefficients + copy + tw * dh * 4 + tw * th * 4 * 2 + 4 * MB)


def decode_image(data: bytes, plan: ImagePlan, budget: int, *, count_colours: bool = True) -> DecodedImage:
    """Decode *data* as planned: scaled to ``plan.target``, upright, in mode
    L, RGB, LA or RGBA (transparency kept as alpha).  Raises
    :class:`ImageTooLarge` before decoding when ``plan.working_bytes``
    exceeds *budget*; damaged data raises OSError (Pillow's, zlib's or
    :class:`VipsDecodeError`).  ``few_colours`` is counted for PNGs only
    (JPEGs give None); :class:`ImageLibraryMissing` when libvips is not
    installed."""
    if plan.working_bytes > budget:
        raise ImageTooLarge(plan, budget)
    if plan.kind == "jpeg":
        return DecodedImage(_decode_jpeg(data, plan), None)
    header = _png_header(data)
    if header is None or (header.width, header.height) != (plan.width, plan.height):
        raise SyntaxError("PNG header changed since it was planned")
    few = None
    if count_colours:
        few = True if header.few_colours else _count_few_colours(data, plan)
    image = _decode_png(data, plan)
    if plan.orientation in _ORIENTATION:
        image = image.transpose(_ORIENTATION[plan.orientation])
    return DecodedImage(image, few)


def _working(im: "Image.Image") -> "Image.Image":
    """Convert a decoded JPEG to L or RGB (CMYK, YCbCr … to RGB)."""
    if im.mode in ("RGB", "L"):
        return im
    return im.convert("L" if im.mode in ("1", "I", "F") or im.mode.startswith("I;16") else "RGB")


def _decode_jpeg(data: bytes, plan: ImagePlan) -> "Image.Image":
    """A JPEG decoded by libjpeg at 1/2 to 1/8 scale when it is that much larger than the target
    (Pillow's draft mode), then resampled to the target (Lanczos) and turned upright."""
    with Image.open(io.BytesIO(data)) as im:
        if plan.method == "jpeg-draft":
            im.draft(None, plan.target)
            if im.size != plan.decoded_size:  # pragma: no cover - Pillow refused the draft
                raise ImageTooLarge(plan, 0)
        im.load()
        image = _working(im)
    if image.size != plan.target:
        image = image.resize(plan.target, Image.Resampling.LANCZOS)
    if plan.orientation in _ORIENTATION:
        image = image.transpose(_ORIENTATION[plan.orientation])
    return image


# --------------------------------------------------------------------------
# PNG: libvips
# --------------------------------------------------------------------------

_configured = False


def _vips():
    """pyvips, set up for bounded work on first use: no operation cache (nothing is kept
    between images), one worker thread per pipeline (the memory estimates assume it), and the
    loaders libvips marks untrusted blocked.  Raises :class:`ImageLibraryMissing`, logged,
    when libvips is not installed."""
    global _configured
    if pyvips is None:
        log.error("libvips is missing (%s): PNG evidence images cannot be decoded. "
                  "Install the Debian package libvips42 (see docs/deployment.md).", _VIPS_MISSING)
        raise ImageLibraryMissing("libvips (Debian package libvips42) is not installed: " + _VIPS_MISSING)
    if not _configured:
        pyvips.cache_set_max(0)
        pyvips.cache_set_max_mem(0)
        pyvips.cache_set_max_files(0)
        pyvips.concurrency_set(1)
        if pyvips.at_least_libvips(8, 13):
            pyvips.block_untrusted_set(True)
        _configured = True
    return pyvips


@contextmanager
def _libvips(what: str):
    """libvips's errors (damaged, truncated or unexpected data) as :class:`VipsDecodeError`, an
    OSError like Pillow's, which the callers turn into their Chinese messages."""
    try:
        yield
    except pyvips.Error as exc:
        detail = " ".join((exc.detail or "").split())[:300]
        raise VipsDecodeError(f"libvips, {what}: {exc.message.strip()} ({detail})") from exc


def _load_png(data: bytes, plan: ImagePlan):
    """The PNG opened by libvips's PNG loader (and no other), rows read in order, failing on
    damaged or truncated data; its header checked against the plan before any row is decoded;
    16-bit samples reduced to 8 bits."""
    vips = _vips()
    with _libvips("header"):
        image = vips.Image.pngload_buffer(data, access="sequential", fail_on="error")
    if (image.width, image.height) != (plan.width, plan.height) or image.bands not in _MODES:
        raise VipsDecodeError(f"libvips reads {image.width}x{image.height}x{image.bands}, "
                              f"planned {plan.width}x{plan.height}")
    if image.format != "uchar":
        image = image.cast("uchar", shift=True)
    return image


def _decode_png(data: bytes, plan: ImagePlan) -> "Image.Image":
    """The PNG decoded and shrunk by libvips to ``plan.target`` (Lanczos 3 after a box filter
    for the integer part of the factor, on premultiplied alpha), handed to Pillow (stored
    orientation)."""
    image = _load_png(data, plan)
    w, h = plan.width, plan.height
    tw, th = plan.target
    with _libvips("decode"):
        if (tw, th) != (w, h):
            alpha = image.hasalpha()
            if alpha:  # premultiplied at 8 bits: floats would cost twice the time and memory
                image = (image.premultiply() + 0.5).cast("uchar")
            image = image.resize(tw / w, vscale=th / h, kernel="lanczos3")
            if alpha:
                image = (image.unpremultiply() + 0.5).cast("uchar")
        mode, size = _MODES[image.bands], (image.width, image.height)
        if size != (tw, th):  # pragma: no cover - a libvips release rounding sizes differently
            raise VipsDecodeError(f"libvips resized to {size}, planned {plan.target}")
        pixels = image.write_to_memory()
    del image
    return Image.frombytes(mode, size, pixels)


def _count_few_colours(data: bytes, plan: ImagePlan) -> bool:
    """Whether the PNG has at most 256 colours (after 16-bit samples are reduced to 8 bits and
    transparency made alpha): its rows decoded by libvips a few MB at a time, counted by
    Pillow; stops at the 257th colour (within the first rows of a photo)."""
    image = _load_png(data, plan)
    mode, w, h = _MODES[image.bands], image.width, image.height
    rows = max(1, _STRIP_BYTES // (4 * w))
    with _libvips("decode"):
        region = pyvips.Region.new(image)
    colours: set = set()
    for y in range(0, h, rows):
        n = min(rows, h - y)
        with _libvips("decode"):
            strip = Image.frombytes(mode, (w, n), region.fetch(0, y, w, n))
        found = strip.getcolors(257)
        if found is None:
            return False
        colours.update(c for _, c in found)
        if len(colours) > 256:
            return False
    return True
