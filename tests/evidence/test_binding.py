"""Tests for wizard.evidence.binding: page planning, reference strings, merging
with stamps.  Real PDFs/images are generated here and read back with pypdf."""

import io
import os
import re
import shutil
import subprocess
import tempfile

import pytest


from PIL import Image  # noqa: E402
from pypdf import PdfReader, PdfWriter  # noqa: E402
from pypdf.generic import (  # noqa: E402
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    RectangleObject,
    TextStringObject,
)

from builders import (  # noqa: E402
    HELVETICA_12,
    action,
    encode_image,
    image,
    image_bytes,
    odd_pages_pdf,
    pdf_bytes,
    pdf_with_actions,
    write_pdf,
)
from wizard.evidence.binding import (  # noqa: E402
    EvidenceMergeError,
    EvidenceSource,
    PlannedItem,
    format_page_refs,
    group_ranges,
    merge_evidence,
    plan_pages,
)
from wizard.evidence.checks import inspect_upload  # noqa: E402

STAMP_RE = re.compile(r"- (\d+) -")


# --------------------------------------------------------------------------
# inputs (made by tests/builders.py)
# --------------------------------------------------------------------------

# Every PDF here: a heading 60 pt in from the top-left corner and 20 lines of text per page.
PAGE = dict(at=(60, -60), font=HELVETICA_12, body_lines=20)
# Every JPEG here: a red block in the top-left quarter of light grey (see builders.image), quality 90.
JPEG = dict(color=(240, 240, 240), pattern="corner", format="JPEG", quality=90)


def read(data):
    return PdfReader(io.BytesIO(data))


def stamps(page):
    return [int(n) for n in STAMP_RE.findall(page.extract_text() or "")]


# --------------------------------------------------------------------------
# planning and reference strings
# --------------------------------------------------------------------------

def test_format_page_refs():
    assert format_page_refs([(12, 15)]) == "见佐证材料第 12–15 页"
    assert format_page_refs([(12, 15), (18, 18)]) == "见佐证材料第 12–15、18 页"
    assert format_page_refs([(7, 7)]) == "见佐证材料第 7 页"
    assert format_page_refs([]) == ""
    # unsorted and touching ranges are normalised
    assert format_page_refs([(18, 18), (12, 13), (14, 15)]) == "见佐证材料第 12–15、18 页"
    assert "\u2013" in format_page_refs([(1, 2)])


def test_plan_pages_and_group_ranges():
    items = [
        EvidenceSource(b"", "pdf", "a.pdf", group_key="1.1", page_count=4),
        EvidenceSource(b"", "jpeg", "b.jpg", group_key="1.2", page_count=1),
        EvidenceSource(b"", "pdf", "c.pdf", group_key="1.2", page_count=2),
        EvidenceSource(b"", "pdf", "d.pdf", group_key="1.1", page_count=1),
        {"group": "2.1", "page_count": 0, "label": "empty"},
        {"group_key": "2.1", "page_count": 3, "label": "e.pdf"},
        EvidenceSource(b"", "png", "f.png", group_key="1.1", page_count=1),
    ]
    planned = plan_pages(items, first_page=12)
    assert all(isinstance(p, PlannedItem) for p in planned)
    assert [(p.start, p.end) for p in planned] == [
        (12, 15), (16, 16), (17, 18), (19, 19), (None, None), (20, 22), (23, 23)]
    assert [p.label for p in planned] == ["a.pdf", "b.jpg", "c.pdf", "d.pdf", "empty", "e.pdf", "f.png"]
    assert planned[0].ref == "见佐证材料第 12–15 页"
    assert planned[1].ref == "见佐证材料第 16 页"
    assert planned[4].ref == ""

    groups = group_ranges(planned)
    assert list(groups) == ["1.1", "1.2", "2.1"]
    assert groups["1.1"] == [(12, 15), (19, 19), (23, 23)]
    assert groups["1.2"] == [(16, 18)]  # 16–16 and 17–18 are contiguous
    assert groups["2.1"] == [(20, 22)]
    assert format_page_refs(groups["1.1"]) == "见佐证材料第 12–15、19、23 页"
    assert format_page_refs(groups["1.2"]) == "见佐证材料第 16–18 页"


def test_plan_pages_rejects_missing_count():
    with pytest.raises(ValueError):
        plan_pages([{"group": "x"}], 1)


# --------------------------------------------------------------------------
# merging
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def merged():
    report = pdf_bytes(3, "Report", **PAGE)
    toc = pdf_bytes(1, "Contents", **PAGE)
    png_bytes = image_bytes((300, 120), pattern="gradient")
    # JavaScript actions (no /Type) on the page, on a link and on opening the document
    js = lambda code: action("/JavaScript", type=None, JS=TextStringObject(code))  # noqa: E731
    hostile = pdf_with_actions(pdf_bytes(1, "Hostile", **PAGE), ("page AA", js("app.alert('page')")),
                               ("link A", js("app.alert('link')")), ("document OpenAction", js("app.alert('open')")),
                               rect=(0, 0, 50, 50))
    sources = [
        ("pdf", pdf_bytes(2, "EvA", **PAGE), "a.pdf", "1.1"),
        ("jpeg", image_bytes((800, 600), **JPEG), "photo.jpg", "1.2"),
        ("pdf", pdf_bytes(3, "EvB", pagesize=(842, 595), **PAGE), "landscape.pdf", "1.1"),
        ("png", png_bytes, "shot.png", "1.1"),
        ("pdf", hostile, "hostile.pdf", "2.1"),  # deliberately not sanitized beforehand
    ]
    items = [EvidenceSource(data, kind, label, group_key=g,
                            page_count=len(read(data).pages) if kind == "pdf" else 1)
             for kind, data, label, g in sources]
    out = merge_evidence(report, toc, items, stamp_start=4)
    return {"report": report, "toc": toc, "items": items, "out": out, "reader": read(out)}


def test_merged_page_count(merged):
    expected = 3 + 1 + sum(it.page_count for it in merged["items"])
    assert len(merged["reader"].pages) == expected == 12


def test_every_evidence_page_is_stamped_with_its_number(merged):
    pages = merged["reader"].pages
    for page in pages[:4]:  # report and TOC are not stamped
        assert stamps(page) == []
    for offset, page in enumerate(pages[4:]):
        assert stamps(page) == [4 + offset], page.extract_text()


def test_stamps_match_the_plan(merged):
    planned = plan_pages(merged["items"], first_page=4)
    pages = merged["reader"].pages
    for p in planned:
        first_page_index = 4 + (p.start - 4)
        assert stamps(pages[first_page_index]) == [p.start]
        assert stamps(pages[first_page_index + p.page_count - 1]) == [p.end]


def test_evidence_text_is_kept_in_order(merged):
    pages = merged["reader"].pages
    assert "Report page 1" in pages[0].extract_text()
    assert "Contents page 1" in pages[3].extract_text()
    assert "EvA page 1" in pages[4].extract_text()
    assert "EvA page 2" in pages[5].extract_text()
    assert "EvB page 3" in pages[9].extract_text()
    assert "Hostile page 1" in pages[11].extract_text()


def _image_xobjects(page):
    xobjects = page["/Resources"]["/XObject"]
    return [xobjects[k].get_object() for k in xobjects if xobjects[k].get_object()["/Subtype"] == "/Image"]


def _image_placement(page):
    data = b"".join(c.get_object().get_data() for c in page["/Contents"]) \
        if isinstance(page["/Contents"], ArrayObject) else page["/Contents"].get_data()
    m = re.search(rb"q ([\d.]+) 0 0 ([\d.]+) ([\d.]+) ([\d.]+) cm /Im0 Do Q", data)
    return tuple(float(v) for v in m.groups())


def test_image_pages_are_a4_with_centred_image(merged):
    pages = merged["reader"].pages
    for index, (px_w, px_h) in ((6, (800, 600)), (10, (300, 120))):
        page = pages[index]
        assert abs(float(page.mediabox.width) - 595.28) < 1
        assert abs(float(page.mediabox.height) - 841.89) < 1
        (img,) = _image_xobjects(page)
        assert (img["/Width"], img["/Height"]) == (px_w, px_h)
        w, h, x, y = _image_placement(page)
        assert abs(w / h - px_w / px_h) < 0.01  # aspect ratio kept
        assert abs(x - (595.2756 - w) / 2) < 0.5 and abs(y - (841.8898 - h) / 2) < 0.5  # centred
        assert x >= 40 and w <= 595.2756 - 80  # inside the margins


def test_merged_output_has_no_active_content(merged):
    out = merged["out"]
    reader = merged["reader"]
    seen, stack = set(), [reader.trailer]
    for gen, table in reader.xref.items():
        stack.extend(IndirectObject(i, gen, reader) for i in table)
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            if (obj.idnum, obj.generation) in seen:
                continue
            seen.add((obj.idnum, obj.generation))
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            assert not {"/JavaScript", "/JS", "/OpenAction", "/AA", "/Launch"} & set(obj.keys())
            assert obj.get("/S") not in ("/JavaScript", "/Launch", "/URI", "/SubmitForm")
            stack.extend(obj.values())
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
    for needle in (b"/JavaScript", b"/JS", b"/OpenAction", b"/AA", b"app.alert"):
        assert needle not in out


def test_outline_lists_evidence(merged):
    outline = merged["reader"].outline
    assert outline[0]["/Title"] == "佐证材料"
    titles = [o["/Title"] for o in outline[1]]
    assert titles == ["a.pdf", "photo.jpg", "landscape.pdf", "shot.png", "hostile.pdf"]
    reader = merged["reader"]
    assert [reader.get_destination_page_number(o) for o in outline[1]] == [4, 6, 7, 10, 11]


def test_output_not_much_larger_than_inputs(merged):
    total = len(merged["report"]) + len(merged["toc"]) + sum(len(i.data) for i in merged["items"])
    assert len(merged["out"]) < 1.3 * total


def test_merge_without_report_and_toc():
    out = merge_evidence(None, None, [EvidenceSource(pdf_bytes(2, "Only", **PAGE), "pdf", "x")], stamp_start=1)
    reader = read(out)
    assert [stamps(p) for p in reader.pages] == [[1], [2]]


def test_merge_report_only():
    out = merge_evidence(pdf_bytes(2, "Report", **PAGE), None, [], stamp_start=3)
    reader = read(out)
    assert len(reader.pages) == 2 and all(stamps(p) == [] for p in reader.pages)


def test_custom_ascii_stamp_format():
    out = merge_evidence(None, None, [EvidenceSource(pdf_bytes(1, "X", **PAGE), "pdf", "x")],
                         stamp_start=41, stamp_format="Evidence p. {n}")
    assert "Evidence p. 41" in read(out).pages[0].extract_text()


def test_cjk_stamp_needs_a_registered_font():
    with pytest.raises(ValueError):
        merge_evidence(None, None, [EvidenceSource(pdf_bytes(1, "X", **PAGE), "pdf", "x")],
                       stamp_start=1, stamp_format="佐证材料 第 {n} 页")
    with pytest.raises(ValueError):
        merge_evidence(None, None, [], stamp_start=1, stamp_font="NoSuchFont")


UMING = "/usr/share/fonts/truetype/arphic/uming.ttc"


@pytest.mark.needs("fonts-arphic-uming")
def test_cjk_stamp_with_registered_font():
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    try:
        pdfmetrics.getFont("EvidenceTestUMing")
    except KeyError:
        pdfmetrics.registerFont(TTFont("EvidenceTestUMing", UMING, subfontIndex=0))
    out = merge_evidence(None, None, [EvidenceSource(pdf_bytes(2, "X", **PAGE), "pdf", "x")],
                         stamp_start=12, stamp_format="佐证材料 第 {n} 页", stamp_font="EvidenceTestUMing")
    texts = [p.extract_text() for p in read(out).pages]
    assert "第 12 页" in texts[0].replace("\u3000", " ")
    assert "第 13 页" in texts[1].replace("\u3000", " ")


# --------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------

def _single_image(data, kind):
    out = merge_evidence(None, None, [EvidenceSource(data, kind, "img")], stamp_start=1)
    page = read(out).pages[0]
    (img,) = _image_xobjects(page)
    return page, img


def test_jpeg_is_embedded_without_reencoding():
    data = image_bytes((640, 480), **JPEG)
    _, img = _single_image(data, "jpeg")
    assert img["/Filter"] == "/DCTDecode"
    assert img._data == data


@pytest.mark.parametrize("orientation, expected", [(1, (400, 200)), (3, (400, 200)), (6, (200, 400)),
                                                   (8, (200, 400))])
def test_exif_orientation_is_applied(orientation, expected):
    page, img = _single_image(image_bytes((400, 200), exif_orientation=orientation, **JPEG), "jpeg")
    assert (img["/Width"], img["/Height"]) == expected
    decoded = Image.open(io.BytesIO(img._data)).convert("RGB")
    # the red block started in the top-left corner of the stored pixels; after
    # rotation it must be where the viewer of the photo saw it
    w, h = decoded.size
    corners = {"tl": (5, 5), "tr": (w - 6, 5), "bl": (5, h - 6), "br": (w - 6, h - 6)}
    red = {k for k, xy in corners.items() if decoded.getpixel(xy)[0] > 150 and decoded.getpixel(xy)[1] < 100}
    assert red == {1: {"tl"}, 3: {"br"}, 6: {"tr"}, 8: {"bl"}}[orientation]


def test_cmyk_jpeg_is_converted_to_rgb():
    _, img = _single_image(image_bytes((120, 90), mode="CMYK", **JPEG), "jpeg")
    assert img["/ColorSpace"] == "/DeviceRGB"
    assert Image.open(io.BytesIO(img._data)).mode == "RGB"


def test_png_passthrough_is_pixel_exact():
    im = image((97, 53), pattern="gradient")
    data = encode_image(im, "PNG")
    page, img = _single_image(data, "png")
    assert img["/Filter"] == "/FlateDecode"
    extracted = page.images[0].image.convert("RGB")
    assert extracted.size == (97, 53)
    assert extracted.tobytes() == im.tobytes()


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "LA"])
def test_png_other_modes(mode):
    data = image_bytes((64, 40), mode=mode, pattern="gradient")
    page, img = _single_image(data, "png")
    assert "/SMask" not in img  # transparency flattened onto white
    assert (img["/Width"], img["/Height"]) == (64, 40)
    assert page.images[0].image.size == (64, 40)


def test_large_images_are_downsampled():
    # A4 minus margins is ~510 pt wide: 300 dpi -> about 2130 px.  Originals
    # up to twice that are embedded as they are, larger ones are resampled.
    data = image_bytes((4000, 300), pattern="gradient")
    _, img = _single_image(data, "png")
    assert img["/Width"] == 4000
    data = image_bytes((5000, 300), pattern="gradient")
    _, img = _single_image(data, "png")
    assert 2000 < img["/Width"] < 2200
    data_rgba = image_bytes((4000, 300), mode="RGBA", pattern="gradient")
    _, img2 = _single_image(data_rgba, "png")
    assert 2000 < img2["/Width"] < 2200
    _, img3 = _single_image(image_bytes((5000, 400), **JPEG), "jpeg")
    assert 2000 < img3["/Width"] < 2200 and img3["/Filter"] == "/DCTDecode"


def test_images_from_inspect_upload():
    checked = inspect_upload(image_bytes((300, 300), **JPEG), "证明.jpg")
    out = merge_evidence(None, None, [EvidenceSource(checked.data, checked.kind, checked.safe_name, group_key="g", page_count=checked.page_count)], stamp_start=9)
    assert stamps(read(out).pages[0]) == [9]


# --------------------------------------------------------------------------
# stamp placement on rotated pages and odd boxes
# --------------------------------------------------------------------------

BOXES = [  # (/Rotate, /MediaBox, /CropBox or None)
    (0, (0, 0, 400, 300), None),
    (90, (100, 200, 500, 500), None),
    (180, (-50, -60, 350, 240), None),
    (270, (10, 20, 310, 620), None),
    (0, (0, 0, 612, 792), (50, 50, 562, 742)),
    (-90, (0, 0, 595, 842), None),
]


def _to_visible(x, y, rot, box):
    """Map user space to displayed coordinates (origin bottom left)."""
    import math

    t = math.radians(rot % 360)
    x0, y0, x1, y1 = box

    def rotate(px, py):  # clockwise by rot
        return (px * math.cos(t) + py * math.sin(t), -px * math.sin(t) + py * math.cos(t))

    corners = [rotate(cx, cy) for cx in (x0, x1) for cy in (y0, y1)]
    ux, uy = rotate(x, y)
    min_x, min_y = min(c[0] for c in corners), min(c[1] for c in corners)
    max_x, max_y = max(c[0] for c in corners), max(c[1] for c in corners)
    return ux - min_x, uy - min_y, max_x - min_x, max_y - min_y, rotate


def test_stamp_lands_upright_at_visible_bottom_right():
    out = merge_evidence(None, None, [EvidenceSource(odd_pages_pdf(BOXES), "pdf", "odd")], stamp_start=1)
    reader = read(out)
    for page, (rot, box, crop) in zip(reader.pages, BOXES):
        assert stamps(page) and stamps(page)[0] >= 1
        # our stamp is drawn by the last content stream: "Q q a b c d e f cm /Name Do Q"
        tail = page["/Contents"][-1].get_object().get_data().decode()
        m = re.search(r"cm (/\S+) Do", tail)
        a, b, c, d, e, f = (float(v) for v in re.search(r"q (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) cm", tail).groups())
        form = page["/Resources"]["/XObject"][m.group(1)].get_object()
        # where the text is drawn inside the form (reportlab: "1 0 0 1 x y Tm")
        fx, fy = (float(v) for v in re.search(rb"1 0 0 1 (\S+) (\S+) Tm", form.get_data()).groups())
        ux, uy = a * fx + c * fy + e, b * fx + d * fy + f
        visible_box = crop or box
        vx, vy, vw, vh, rotate = _to_visible(ux, uy, rot, visible_box)
        assert vw - 80 < vx < vw - 20, (rot, vx, vw)  # right part of the visible page
        assert 5 < vy < 30, (rot, vy)  # just above the visible bottom edge
        # the text x-axis (a, b) must point right on screen
        dx, dy = rotate(a, b)
        assert dx > 0.99 and abs(dy) < 0.01, (rot, dx, dy)


@pytest.mark.needs("poppler-utils")
def test_stamp_rendered_bottom_right():
    out = merge_evidence(None, None, [EvidenceSource(odd_pages_pdf(BOXES), "pdf", "odd")], stamp_start=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.pdf")
        with open(path, "wb") as fh:
            fh.write(out)
        subprocess.run(["pdftoppm", "-r", "72", "-cropbox", "-gray", "-png", path, os.path.join(tmp, "p")],
                       check=True, timeout=60)
        files = sorted(f for f in os.listdir(tmp) if f.endswith(".png"))
        assert len(files) == len(BOXES)
        for name in files:
            im = Image.open(os.path.join(tmp, name)).convert("L")
            w, h = im.size
            dark = [(x, y) for y in range(h) for x in range(w) if im.getpixel((x, y)) < 160]
            # ignore the 5x5 blue square drawn by the page itself at user (0,0)
            stamp_px = [(x, y) for x, y in dark if x > w - 90 and y > h - 32]
            assert stamp_px, name
            others = [(x, y) for x, y in dark if not (x > w - 90 and y > h - 32)]
            assert all(abs(x - ox) < 8 and abs(y - oy) < 8 for (x, y) in others
                       for (ox, oy) in [others[0]]), name


# --------------------------------------------------------------------------
# content streams, errors
# --------------------------------------------------------------------------

def test_uncompressed_content_streams_get_compressed():
    w = PdfWriter()
    page = w.add_blank_page(595, 842)
    content = DecodedStreamObject()
    content.set_data(b"BT /F1 12 Tf 72 700 Td (uncompressed text) Tj ET\n" * 50)
    page[NameObject("/Contents")] = w._add_object(content)
    data = write_pdf(w)
    out = merge_evidence(None, None, [EvidenceSource(data, "pdf", "raw")], stamp_start=1)
    page = read(out).pages[0]
    big = [c.get_object() for c in page["/Contents"] if len(c.get_object().get_data()) > 200]
    assert big and all(s.get("/Filter") == "/FlateDecode" for s in big)
    assert len(out) < len(data)


def test_shared_resources_are_not_polluted():
    # two pages sharing one /Resources dictionary must each get their own stamp
    w = PdfWriter()
    shared = w._add_object(DictionaryObject())
    for _ in range(2):
        page = w.add_blank_page(300, 300)
        page[NameObject("/Resources")] = shared
    out = merge_evidence(None, None, [EvidenceSource(write_pdf(w), "pdf", "shared")], stamp_start=1)
    assert [stamps(p) for p in read(out).pages] == [[1], [2]]


def test_unreadable_item_raises_merge_error():
    items = [EvidenceSource(pdf_bytes(1, "ok", **PAGE), "pdf", "ok.pdf"),
             EvidenceSource(b"%PDF-1.4 garbage", "pdf", "坏.pdf")]
    with pytest.raises(EvidenceMergeError) as info:
        merge_evidence(None, None, items, stamp_start=1)
    assert info.value.index == 1 and "坏.pdf" in str(info.value)
    with pytest.raises(EvidenceMergeError):
        merge_evidence(None, None, [EvidenceSource(b"\x89PNG\r\n\x1a\nxx", "png", "x.png")], stamp_start=1)
    with pytest.raises(EvidenceMergeError):
        merge_evidence(None, None, [EvidenceSource(b"GIF89a", "gif", "x.gif")], stamp_start=1)
    with pytest.raises(EvidenceMergeError) as info:
        merge_evidence(b"not a pdf", None, [], stamp_start=1)
    assert info.value.index is None


def test_inherited_rotation_and_mediabox():
    # /Rotate and /MediaBox on the /Pages node, not on the page itself
    w = PdfWriter()
    page = w.add_blank_page(100, 100)
    del page["/MediaBox"]
    pages_node = w._root_object["/Pages"]
    pages_node[NameObject("/MediaBox")] = RectangleObject((100, 200, 500, 500))
    pages_node[NameObject("/Rotate")] = NumberObject(90)
    out = merge_evidence(None, None, [EvidenceSource(write_pdf(w), "pdf", "inh")], stamp_start=3)
    page = read(out).pages[0]
    assert page.rotation == 90
    assert stamps(page) == [3]
    tail = page["/Contents"][-1].get_object().get_data().decode()
    assert "0 1 -1 0 500 200 cm" in tail
