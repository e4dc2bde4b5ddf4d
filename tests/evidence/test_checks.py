"""Tests for wizard.evidence.checks: content checks, names, headers, PDF sanitizing.

All inputs are real files, made by tests/builders.py (reportlab, pypdf, Pillow)."""

import io
import zipfile
import zlib

import pytest

from pypdf import PdfReader, PdfWriter  # noqa: E402
from pypdf.generic import (  # noqa: E402
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
)

from builders import (  # noqa: E402
    HELVETICA_12,
    active_content_pdf,
    clone_pdf,
    encrypted_pdf,
    image_bytes,
    pdf_bytes,
    raw_png,
    write_pdf,
)
from wizard.evidence.checks import CheckedFile, UploadLimits, UploadRejected, inspect_upload, total_limit_check  # noqa: E402
from wizard.evidence.names import MB, safe_filename  # noqa: E402
from wizard.evidence.sanitise import strip_active_content  # noqa: E402
from wizard.web.http import content_disposition  # noqa: E402


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------

# Every PDF here: A4, a heading and 30 lines of text per page (see builders.pdf_bytes).
PAGE = dict(heading="{text} {n}", at=(72, 760), font=HELVETICA_12, body_lines=30,
            body="line {line} of page {n} some words here")
# Every JPEG here: a dotted pattern on blue (see builders.image), quality 90.
JPEG = dict(color=(10, 120, 200), pattern="dots", format="JPEG", quality=90)


LIMITS = UploadLimits()


# --------------------------------------------------------------------------
# accepted files
# --------------------------------------------------------------------------

def test_accepts_pdf():
    data = pdf_bytes(3, "Evidence page", **PAGE)
    res = inspect_upload(data, "年度报告 证明.pdf", LIMITS)
    assert isinstance(res, CheckedFile)
    assert res.kind == "pdf"
    assert res.page_count == 3
    assert res.safe_name == "年度报告 证明.pdf"
    assert res.sanitized is False
    assert res.data == data  # clean PDFs are stored unchanged
    assert res.size == len(data)
    import hashlib

    assert res.sha256 == hashlib.sha256(data).hexdigest() == res.original_sha256
    assert res.width is None and res.height is None
    assert res.kind == "pdf"


def test_accepts_png_and_uppercase_extension():
    data = image_bytes((120, 80))
    res = inspect_upload(data, "截图.PNG", LIMITS)
    assert (res.kind, res.page_count, res.width, res.height) == ("png", 1, 120, 80)
    assert res.data == data


@pytest.mark.parametrize("name", ["照片.jpg", "照片.JPEG", "photo.Jpg"])
def test_accepts_jpeg(name):
    data = image_bytes((320, 240), **JPEG)
    res = inspect_upload(data, name, LIMITS)
    assert (res.kind, res.page_count, res.width, res.height) == ("jpeg", 1, 320, 240)
    assert res.data == data


def test_accepts_cmyk_jpeg_with_note():
    data = image_bytes((50, 40), (0, 100, 200, 0), mode="CMYK", format="JPEG")
    res = inspect_upload(data, "cmyk.jpg", LIMITS)
    assert res.kind == "jpeg"
    assert any("CMYK" in n for n in res.notes)


def test_accepts_grey_and_palette_png():
    assert inspect_upload(image_bytes((10, 10), 128, mode="L"), "g.png", LIMITS).kind == "png"
    assert inspect_upload(image_bytes((10, 10), 3, mode="P"), "p.png", LIMITS).kind == "png"
    assert inspect_upload(image_bytes((10, 10), (1, 2, 3, 4), mode="RGBA"), "a.png", LIMITS).kind == "png"


# --------------------------------------------------------------------------
# refused by type
# --------------------------------------------------------------------------

def assert_rejected(data, name, *fragments, limits=LIMITS):
    with pytest.raises(UploadRejected) as info:
        inspect_upload(data, name, limits)
    msg = str(info.value)
    assert msg == info.value.message
    assert msg.endswith("。"), msg
    for f in fragments:
        assert f in msg, msg
    return msg


ACCEPTED = "仅接受 PDF"


def test_rejects_html_renamed_pdf():
    msg = assert_rejected(b"<!DOCTYPE html><html><body>hi</body></html>", "证明.pdf", "证明.pdf", "HTML", ACCEPTED)
    assert "JPEG" in msg and "PNG" in msg


def test_rejects_html_with_pdf_magic_later():
    # readers accept %PDF- within the first 1024 bytes; we require offset 0
    data = b"<html>" + pdf_bytes(1, "Evidence page", **PAGE)
    assert_rejected(data, "x.pdf", ACCEPTED)


def test_rejects_svg():
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert_rejected(svg, "图.svg", "SVG", ACCEPTED)
    assert_rejected(svg, "图.png", "SVG", ACCEPTED)


def test_rejects_gif():
    assert_rejected(image_bytes((10, 10), 0, format="GIF"), "动图.gif", "GIF", ACCEPTED)


def test_rejects_exe():
    assert_rejected(b"MZ\x90\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode", "setup.pdf",
                    "可执行程序", ACCEPTED)


def test_rejects_zip_and_docx():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    assert_rejected(buf.getvalue(), "材料.docx", "压缩包", ACCEPTED)
    assert_rejected(buf.getvalue(), "材料.pdf", ACCEPTED)


def test_rejects_empty():
    assert_rejected(b"", "空.pdf", "空文件")


def test_rejects_unknown_bytes():
    assert_rejected(b"just some text\n", "notes.pdf", "无法识别", ACCEPTED)


def test_rejects_png_named_pdf():
    assert_rejected(image_bytes((120, 80)), "扫描件.pdf", "PNG 图片", ".pdf", "不一致", ".png")


def test_rejects_pdf_named_jpg_and_jpeg_named_png():
    assert_rejected(pdf_bytes(1, "Evidence page", **PAGE), "scan.jpg", "PDF 文件", "不一致")
    assert_rejected(image_bytes((320, 240), **JPEG), "scan.png", "JPEG 图片", "不一致", ".jpg")


def test_rejects_valid_content_with_unsupported_extension():
    assert_rejected(pdf_bytes(1, "Evidence page", **PAGE), "report.exe", "扩展名", ACCEPTED)
    assert_rejected(pdf_bytes(1, "Evidence page", **PAGE), "report", "扩展名缺失", ACCEPTED)


# --------------------------------------------------------------------------
# refused PDFs
# --------------------------------------------------------------------------

@pytest.mark.parametrize("user_password", ["", "secret"])
def test_rejects_encrypted_pdf(user_password):
    data = encrypted_pdf(pdf_bytes(2, "Evidence page", **PAGE), user_password, owner_password="owner-secret",
                         algorithm="RC4-128")
    assert PdfReader(io.BytesIO(data)).is_encrypted
    assert_rejected(data, "加密.pdf", "加密.pdf", "已加密或设有密码")


def test_rejects_truncated_pdf():
    data = pdf_bytes(6, "Evidence page", **PAGE)
    assert_rejected(data[: len(data) // 2], "半截.pdf", "不是有效的 PDF 文件", "损坏或被截断")


def test_rejects_truncated_pdf_even_with_eof_marker_appended():
    # half a file + a fake trailer: pypdf would rebuild the xref, the page
    # objects/contents are missing
    data = pdf_bytes(6, "Evidence page", **PAGE)
    cut = data[: len(data) // 2] + b"\n%%EOF\n"
    assert_rejected(cut, "半截.pdf", "不是有效的 PDF 文件")


@pytest.mark.parametrize("tail", [b"", b"\n%%EOF\n"])
def test_rejects_garbage_after_header(tail):
    rnd = bytes((i * 37 + 11) % 256 for i in range(4000))
    assert_rejected(b"%PDF-1.7\n" + rnd + tail, "乱码.pdf", "不是有效的 PDF 文件")


def test_rejects_zero_page_pdf():
    data = write_pdf(PdfWriter())
    assert len(PdfReader(io.BytesIO(data)).pages) == 0
    assert_rejected(data, "空白.pdf", "没有任何页面")


def test_rejects_too_many_pages():
    msg = assert_rejected(pdf_bytes(5, "Evidence page", **PAGE), "长.pdf", "共 5 页", "4 页的上限",
                          limits=UploadLimits(max_pdf_pages=4))
    assert "拆分" in msg
    assert inspect_upload(pdf_bytes(4, "Evidence page", **PAGE), "ok.pdf",
                          UploadLimits(max_pdf_pages=4)).page_count == 4


def test_rejects_oversize():
    data = pdf_bytes(2, "Evidence page", **PAGE)
    assert_rejected(data, "大.pdf", "超过单个文件 1 KB 的上限", limits=UploadLimits(max_file_bytes=1024))
    msg = assert_rejected(b"%PDF-" + b"0" * (21 * MB), "大.pdf", "20 MB")
    assert "21 MB" in msg


# --------------------------------------------------------------------------
# refused images
# --------------------------------------------------------------------------

def test_rejects_png_claiming_huge_dimensions():
    data = raw_png(50000, 50000, idat=zlib.compress(b"\x00" + b"\x00\x00\x00" * 4))  # IDAT: one row of 4 pixels
    assert len(data) < 200
    assert_rejected(data, "炸弹.png", "50000×50000", "4000 万像素")


def test_rejects_png_over_configured_pixel_limit():
    data = image_bytes((200, 100))
    assert_rejected(data, "x.png", "200×100", limits=UploadLimits(max_image_pixels=10_000))


def test_rejects_jpeg_over_pixel_limit():
    assert_rejected(image_bytes((300, 300), **JPEG), "x.jpg", "300×300", limits=UploadLimits(max_image_pixels=50_000))


def test_rejects_truncated_jpeg():
    data = image_bytes((640, 480), **JPEG)
    assert_rejected(data[: len(data) // 2], "截断.jpg", "不是有效的 JPEG 图片", "损坏或被截断")


def test_rejects_truncated_png():
    data = image_bytes((300, 300))
    assert_rejected(data[: len(data) - 30], "截断.png", "不是有效的 PNG 图片")


def test_rejects_png_with_bad_crc():
    data = bytearray(image_bytes((64, 64)))
    idat = data.index(b"IDAT")
    data[idat + 6] ^= 0xFF
    assert_rejected(bytes(data), "坏.png", "不是有效的 PNG 图片")


def test_rejects_jpeg_header_only():
    assert_rejected(b"\xff\xd8\xff\xe0" + b"\x00" * 20, "x.jpg", "不是有效的 JPEG 图片")


def test_never_raises_anything_else_on_mutated_pdfs():
    data = pdf_bytes(2, "Evidence page", **PAGE)
    for i in range(0, len(data), max(1, len(data) // 60)):
        for mutated in (data[:i], data[:i] + data[i + 7:], data[:i] + b"\x00" * 5 + data[i + 5:]):
            try:
                inspect_upload(mutated, "m.pdf", LIMITS)
            except UploadRejected:
                pass


def test_never_raises_anything_else_on_mutated_images():
    for data, name in ((image_bytes((40, 30)), "m.png"), (image_bytes((40, 30), **JPEG), "m.jpg")):
        for i in range(0, len(data), max(1, len(data) // 60)):
            for mutated in (data[:i], data[:i] + b"\xff" * 4 + data[i + 4:]):
                try:
                    inspect_upload(mutated, name, LIMITS)
                except UploadRejected:
                    pass


# --------------------------------------------------------------------------
# totals, names, headers
# --------------------------------------------------------------------------

def test_total_limit_check():
    total_limit_check(100 * MB, 200 * MB)  # exactly at the limit is fine
    with pytest.raises(UploadRejected) as info:
        total_limit_check(299 * MB, 2 * MB)
    assert "300 MB" in str(info.value)
    with pytest.raises(UploadRejected) as info:
        total_limit_check(0, 11, max_total_bytes=10)
    assert "10 字节" in str(info.value)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("证明材料.pdf", "证明材料.pdf"),
        ("  年度  报告\t(终稿).pdf  ", "年度 报告 (终稿).pdf"),
        ("报告\r\n第一章.pdf", "报告第一章.pdf"),
        ("a\x00b\x1fc\x7f.pdf", "abc.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\张三\\Desktop\\证书.PDF", "证书.PDF"),
        ("evil\u202egpj.pdf", "evilgpj.pdf"),
        ("line\u2028sep.pdf", "linesep.pdf"),
        ("", "未命名文件.pdf"),
        (None, "未命名文件.pdf"),
        (" \x00\n ", "未命名文件.pdf"),
        (".pdf", "未命名文件.pdf"),
        ("../", "未命名文件.pdf"),
        ("trailing.pdf...", "trailing.pdf"),
    ],
)
def test_safe_filename(raw, expected):
    assert safe_filename(raw) == expected


def test_safe_filename_fallback_uses_kind_and_limits_length():
    assert safe_filename("", kind="jpeg") == "未命名文件.jpg"
    long = safe_filename("长" * 500 + ".pdf")
    assert long.endswith(".pdf") and len(long) <= 120


def test_safe_name_in_checked_file():
    res = inspect_upload(pdf_bytes(1, "Evidence page", **PAGE), "dir/子目录\\证明\n材料.pdf", LIMITS)
    assert res.safe_name == "证明材料.pdf"


def test_content_disposition_unicode():
    value = content_disposition("佐证材料 1.pdf")
    assert value == (
        "attachment; filename=\"1.pdf\"; "
        "filename*=UTF-8''%E4%BD%90%E8%AF%81%E6%9D%90%E6%96%99%201.pdf"
    )
    value.encode("latin-1")  # valid header value


def test_content_disposition_ascii_and_fallbacks():
    assert content_disposition("report.pdf") == "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    assert content_disposition("证明.pdf").startswith("attachment; filename=\"file.pdf\"; ")
    assert content_disposition("x.pdf", "inline").startswith("inline; ")


def test_content_disposition_strips_injection():
    value = content_disposition('a"b\r\nSet-Cookie: x=1\\c.pdf')
    assert "\r" not in value and "\n" not in value
    fallback = value.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in fallback and "\\" not in fallback
    star = value.split("filename*=UTF-8''", 1)[1]
    assert all(ch not in star for ch in ' "\\;,')
    import urllib.parse

    assert "\n" not in urllib.parse.unquote(star)


# --------------------------------------------------------------------------
# JavaScript / action stripping
# --------------------------------------------------------------------------

BAD_KEYS = {"/JavaScript", "/JS", "/OpenAction", "/AA", "/XFA", "/EmbeddedFiles"}
BAD_ACTIONS = {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/URI"}


def collect_objects(reader):
    """Every object reachable from the trailer, plus every object listed in
    the cross-reference table (orphans included), decompressed by pypdf."""
    seen, found = set(), []
    stack = [reader.trailer]
    for gen, table in reader.xref.items():
        for idnum in table:
            stack.append(IndirectObject(idnum, gen, reader))
    for idnum in getattr(reader, "xref_objStm", {}):
        stack.append(IndirectObject(idnum, 0, reader))
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in seen:
                continue
            seen.add(key)
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            found.append(obj)
            for k, v in obj.items():
                stack.append(v)
        elif isinstance(obj, ArrayObject):
            found.append(obj)
            stack.extend(obj)
    return found


def assert_no_active_content(data):
    reader = PdfReader(io.BytesIO(data))
    for obj in collect_objects(reader):
        if isinstance(obj, DictionaryObject):
            assert not (set(obj.keys()) & BAD_KEYS), dict(obj)
            assert obj.get("/S") not in BAD_ACTIONS, dict(obj)
            assert obj.get("/Subtype") != "/FileAttachment"
            for v in obj.values():
                if isinstance(v, str):
                    assert "app.alert" not in v and "calc.exe" not in v and "cmd.exe" not in v
        else:
            for v in obj:
                assert v not in ("/JavaScript", "/Launch") or not isinstance(v, NameObject)
    for needle in (b"/JavaScript", b"/JS", b"/OpenAction", b"/AA", b"/Launch", b"app.alert", b"/URI"):
        assert needle not in data, needle
    return reader


def test_hostile_pdf_really_is_hostile():
    data = active_content_pdf(pdf_bytes(2, "Hostile", **PAGE))
    reader = PdfReader(io.BytesIO(data))
    keys = set()
    for obj in collect_objects(reader):
        if isinstance(obj, DictionaryObject):
            keys |= set(obj.keys())
            if "/S" in obj:
                keys.add(obj["/S"])
    assert {"/JavaScript", "/JS", "/OpenAction", "/AA", "/Launch", "/SubmitForm", "/ImportData",
            "/GoToR", "/URI", "/XFA"} <= keys


def test_strip_active_content_removes_everything():
    out = strip_active_content(active_content_pdf(pdf_bytes(2, "Hostile", **PAGE)))
    reader = assert_no_active_content(out)
    assert len(reader.pages) == 2
    assert "Hostile 1" in reader.pages[0].extract_text()
    # the plain internal links (GoTo action without its /Next, /Dest) are kept
    links = [a.get_object() for a in reader.pages[0].get("/Annots", [])]
    assert len(links) == 2
    assert all(l["/Subtype"] == "/Link" for l in links)
    goto = [l for l in links if "/A" in l][0]["/A"]
    assert goto["/S"] == "/GoTo" and "/Next" not in goto
    # widget kept without its actions, file attachment dropped
    p1_annots = [a.get_object() for a in reader.pages[1]["/Annots"]]
    assert [a["/Subtype"] for a in p1_annots] == ["/Widget"]


def test_strip_active_content_accepts_reader():
    reader = PdfReader(io.BytesIO(active_content_pdf(pdf_bytes(2, "Hostile", **PAGE))))
    assert_no_active_content(strip_active_content(reader))


def test_strip_active_content_only_if_needed():
    assert strip_active_content(pdf_bytes(1, "Evidence page", **PAGE), only_if_needed=True) is None
    assert strip_active_content(active_content_pdf(pdf_bytes(2, "Hostile", **PAGE)), only_if_needed=True) is not None


def test_inspect_upload_stores_sanitized_pdf():
    data = active_content_pdf(pdf_bytes(2, "Hostile", **PAGE))
    res = inspect_upload(data, "hostile.pdf", LIMITS)
    assert res.sanitized is True
    assert res.page_count == 2
    assert res.data != data
    assert res.size == len(res.data) and res.original_size == len(data)
    assert_no_active_content(res.data)
    # the sanitized file passes the check again, unchanged
    again = inspect_upload(res.data, "hostile.pdf", LIMITS)
    assert again.sanitized is False and again.data == res.data


def test_rejects_pdf_with_corrupted_content_stream():
    # Flate content stream with damaged bytes in the middle (same length, so
    # the file structure is intact): pypdf only logs a warning and returns
    # partial data; we refuse the file.
    w = clone_pdf(pdf_bytes(2, "Evidence page", **PAGE))
    for page in w.pages:
        page.compress_content_streams()
    data = bytearray(write_pdf(w))
    start = data.index(b"stream\n", data.index(b"/FlateDecode")) + len(b"stream\n")
    for k in range(start + 20, start + 60):
        data[k] = (data[k] + 0x55) % 256
    assert_rejected(bytes(data), "坏流.pdf", "不是有效的 PDF 文件")
