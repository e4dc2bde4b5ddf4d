"""Decoding images scaled to fit a box without holding more than a stated memory budget:
used when an image is uploaded (normalised to A4 at 200 dpi) and when evidence is bound."""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections import deque
from dataclasses import dataclass, replace
from typing import Iterator, Optional, Tuple

from PIL import Image

from .names import MB

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# --------------------------------------------------------------------------
# decoding images within a memory budget
# --------------------------------------------------------------------------
#
# Pillow decodes a whole image at once, at 4 bytes per pixel for RGB: a
# 150 KB PNG of 6300 × 6300 black pixels becomes 159 MB, and every further
# full-size step (conversion, transparency, resampling) costs as much again.
#
# * JPEGs: Pillow's draft mode has libjpeg decode directly at 1/2, 1/4 or 1/8
#   scale when the image is at least twice as large as needed; Pillow then
#   resamples the (small) result (:func:`_decode_jpeg`).
# * Non-interlaced PNGs: Pillow has no way to decode part of a PNG, nor to
#   decode it scaled, so they are inflated strip by strip here (a few MB of
#   rows at a time), each strip decoded by Pillow as a small PNG of its own,
#   and resampled (Lanczos) on horizontal bands of the output, each from a
#   window of source rows with enough context rows for the filter, so the
#   result has no seams and equals Pillow's resize of the whole image.  This
#   is the part a streaming image library (pyvips: libvips decodes and shrinks
#   PNG and TIFF row by row) would replace; it is not a dependency yet.
# * Everything else (interlaced or 16-bit colour PNGs, animated PNGs) is
#   decoded whole, which the memory estimate accounts for.
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
        transparent = "transparency" in im.info or mode in ("RGBA", "LA", "PA", "La", "RGBa")
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
    if kind == "jpeg":
        working = _jpeg_bytes(decoded, target, _pixel_bytes(mode), coefficients, converted=mode not in ("RGB", "L"))
    else:
        working = _working_bytes(method, decoded, target, _pixel_bytes(mode), coefficients,
                                 layout.row_bytes if method == "png-strips" else 0)
    return ImagePlan(kind, w, h, mode, orientation, target, method, decoded, working, progressive, frames,
                     transparent)


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


def _jpeg_bytes(decoded: Tuple[int, int], target: Tuple[int, int], pixel_bytes: int, coefficients: int,
                converted: bool) -> int:
    """Estimated peak memory of decoding a JPEG with :func:`_decode_jpeg`: the image as libjpeg
    decodes it (at most twice the target across, thanks to draft mode), a converted copy (CMYK),
    the resampler's intermediate image and the result."""
    (dw, dh), (tw, th) = decoded, target
    copy = dw * dh * 4 if converted else 0
    return int(dw * dh * pixel_bytes + coefficients + copy + tw * dh * 4 + tw * th * 4 * 2 + 4 * MB)


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
    if plan.kind == "jpeg":
        return DecodedImage(_decode_jpeg(data, plan), None)
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


def _whole_strips(data: bytes, plan: ImagePlan) -> Iterator[Tuple[int, "Image.Image"]]:
    """Decode the whole image with Pillow and hand it out in strips."""
    with Image.open(io.BytesIO(data)) as im:
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

