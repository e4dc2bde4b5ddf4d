"""The checks every uploaded Excel workbook passes before anything parses it: the report
template (exports/template_import.py) and the account workbook (exports/accounts.py) alike.

Refused outright (``WorkbookRefused``, a Chinese message): a file too large or empty, anything
but an .xlsx workbook (.xls, .csv, a renamed file: judged by content), a password-protected
(encrypted) file, a macro-enabled one, one with external links, a zip bomb (declared sizes and
ratios, before openpyxl opens it) and XML with a DTD."""
from __future__ import annotations

import zipfile
from io import BytesIO

from ..evidence.names import file_size

MAX_UNCOMPRESSED = 40 * 1024 * 1024  # all parts together, as the zip declares them
MAX_RATIO = 100  # a part may unpack to at most this many times its compressed size …
RATIO_FLOOR = 1024 * 1024  # … once it is larger than this
MAX_PARTS = 500

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
WORKBOOK_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
MACRO_MARKS = (b"macroEnabled", b"vbaProject")
DTD_MARKS = (b"<!DOCTYPE", b"<!ENTITY")
NOT_XLSX = "文件不是 Excel 工作簿（.xlsx）。请上传从本系统下载并填写的{what}；如用 WPS 或 LibreOffice 编辑，请另存为“Excel 工作簿（.xlsx）”。"


class WorkbookRefused(Exception):
    """The file is refused as a whole; the message says why, in Chinese."""


def check_file(data: bytes, max_bytes: int, what: str = "填报模板") -> None:
    """Refuse what is not a plain .xlsx workbook within the limits (raises WorkbookRefused);
    ``what`` names the workbook the user was asked for in the messages."""
    if len(data) > max_bytes:
        raise WorkbookRefused(f"文件过大：{what}不能超过 {file_size(max_bytes)}。请删除多余的工作表、图片或格式后重新保存再上传。")
    if not data:
        raise WorkbookRefused(f"文件是空的，请选择填好的{what}。")
    if data.startswith(OLE_MAGIC):
        if ENCRYPTED_STREAM in data:
            raise WorkbookRefused("文件设置了打开密码（已加密），系统无法读取。请在 Excel 中取消密码后另存为 .xlsx 再上传。")
        raise WorkbookRefused(f"这是旧版 Excel（.xls）文件。请上传从本系统下载的 .xlsx {what}，"
                              "或在 Excel 中“另存为 Excel 工作簿（.xlsx）”后上传。")
    if not data.startswith(ZIP_MAGIC):
        raise WorkbookRefused(NOT_XLSX.format(what=what))
    try:
        with zipfile.ZipFile(BytesIO(data)) as zf:
            check_parts(zf, what)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError):
        raise WorkbookRefused("文件已损坏，无法作为 Excel 工作簿打开。请重新保存后上传。") from None


def check_parts(zf: zipfile.ZipFile, what: str = "填报模板") -> None:
    """The zip's parts: their number and declared sizes (zip bombs), the workbook's content
    types (a workbook, no macros), no external links, no encrypted part, no DTD in any XML."""
    infos = zf.infolist()
    if len(infos) > MAX_PARTS:
        raise WorkbookRefused(f"文件包含的部件过多，不是系统生成的{what}。")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED or any(i.file_size > RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size, 1)
                                       for i in infos):
        raise WorkbookRefused(f"文件解压后异常巨大（疑似“压缩炸弹”），已拒绝。请上传从本系统下载并填写的{what}。")
    if any(i.flag_bits & 0x1 for i in infos):
        raise WorkbookRefused("文件设置了密码（已加密），系统无法读取。请取消密码后另存为 .xlsx 再上传。")
    names = {i.filename.lower() for i in infos}
    if "[content_types].xml" not in names:
        raise WorkbookRefused(NOT_XLSX.format(what=what))
    types = zf.read(next(i for i in infos if i.filename.lower() == "[content_types].xml"))
    if any(m in types for m in MACRO_MARKS) or any(n.endswith("vbaproject.bin") for n in names):
        raise WorkbookRefused("文件包含宏（.xlsm 或启用宏的工作簿），出于安全考虑不能导入。请另存为不含宏的 Excel 工作簿（.xlsx）后上传。")
    if WORKBOOK_TYPE not in types:
        raise WorkbookRefused(NOT_XLSX.format(what=what))
    if any(n.startswith("xl/externallinks/") for n in names) or b"externalLink+xml" in types:
        raise WorkbookRefused("文件包含指向其他工作簿的外部链接，不能导入。请在 Excel 中“编辑链接 → 断开链接”后另存再上传。")
    for info in infos:
        if info.filename.lower().endswith((".xml", ".rels")) and has_dtd(zf, info):
            raise WorkbookRefused("文件中的 XML 含有文档类型声明（DTD），不是正常的 Excel 工作簿，已拒绝。")


#: byte-order marks of UTF-16 and UTF-32
WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def has_dtd(zf: zipfile.ZipFile, info) -> bool:
    """Does the XML part declare a DTD or entities (never in a workbook Excel writes)?"""
    tail = b""
    with zf.open(info) as part:
        head = part.peek(4)[:4]
        if head.startswith(WIDE_BOMS) or b"\x00" in head:
            return True  # UTF-16/32 would hide the marks from a byte search; Excel writes UTF-8
        while chunk := part.read(64 * 1024):
            if any(m in tail + chunk for m in DTD_MARKS):
                return True
            tail = chunk[-16:]
    return False
