"""The checks every uploaded Excel workbook passes before anything parses it: the report
template (exports/template_import.py) and the account workbook (exports/accounts.py) alike.

Refused outright (``WorkbookRefused``, a Chinese message): a file too large or empty, anything
but an .xlsx workbook (.xls, .csv, a renamed file: judged by content), a password-protected
(encrypted) file, a macro-enabled one, one with external links, a zip bomb (declared sizes and
ratios, before openpyxl opens it), XML with a DTD or an entity, and a workbook holding more than
a workbook of its kind can need (``Bounds``: sheets, parts, cells, rows, columns, text, shared
strings, formats, XML elements).

Every part that is or may be XML, whatever its name (declared XML by its name or
[Content_Types].xml, or whose first bytes are ``<`` in any encoding), is read once, streaming,
by defusedxml's SAX parser with DTDs forbidden (``census``): it refuses any DTD or entity and
counts what the parts hold, stopping at the first bound passed, so the counting itself costs at
most the bounds.  Only then is the workbook handed to openpyxl (in a short-lived process:
exports/xlsx_reader.py, started by ``read_in_process``)."""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field as dataclass_field
from io import BytesIO
from xml.sax import SAXException
from xml.sax.handler import ContentHandler

from defusedxml import DefusedXmlException
from defusedxml.expatreader import DefusedExpatParser

from ..evidence.names import file_size

MAX_UNCOMPRESSED = 40 * 1024 * 1024  # all parts together, as the zip declares them
MAX_PARTS = 500  # without bounds of the workbook's kind
MAX_RATIO = 100  # a part may unpack to at most this many times its compressed size …
RATIO_FLOOR = 1024 * 1024  # … once it is larger than this

#: what a workbook of any kind holds besides its sheets: [Content_Types].xml, the package's and
#: the workbook's relationships, workbook.xml, styles, theme, shared strings, calcChain, core,
#: app and custom properties, a few spare
BASE_PARTS = 16
#: what each sheet may bring as Excel or WPS saves it: the sheet, its relationships, a drawing
#: and its relationships, comments and their VML drawing, printer settings, a table, an image
PARTS_PER_SHEET = 9
#: XML elements per allowed cell (<c>, its <v>, <is> and <t>, a share of <row>, merges and
#: validations: the template holds about 2.3), per allowed format (<xf> with <alignment> and
#: <protection>), and for the parts that hold neither (theme, properties, relationships, defined
#: names, comments: the template as written holds 261; Excel's theme alone about 200)
ELEMENTS_PER_CELL, ELEMENTS_PER_FORMAT, FIXED_ELEMENTS = 4, 3, 2_000
#: the root elements of the parts whose elements the cells and formats bound: worksheets, shared
#: strings, the calculation chain (one element per formula), styles.  Every other part together:
#: FIXED_ELEMENTS, so that no workbook.xml with thousands of defined names nor [Content_Types].xml
#: with thousands of overrides passes (openpyxl builds an object of each)
CELL_ROOTS = frozenset({"worksheet", "sst", "calcChain", "styleSheet"})
#: the elements of styles.xml counted as formats
FORMAT_ELEMENTS = frozenset({"xf", "font", "fill", "border", "numFmt", "dxf", "cellStyle"})

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
WORKBOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
MACRO_MARKS = ("macroEnabled", "vbaProject")
NOT_XLSX = "文件不是 Excel 工作簿（.xlsx）。请上传从本系统下载并填写的{what}；如用 WPS 或 LibreOffice 编辑，请另存为“Excel 工作簿（.xlsx）”。"
BROKEN = "文件内容已损坏或格式不正确（无法解析其中的 XML），请在 Excel 中重新保存后上传。"
DTD = "文件中的 XML 含有文档类型声明（DTD）或实体定义，不是正常的 Excel 工作簿，已拒绝。"
TOO_BIG = "文件中{what}远多于{kind}所能容纳的（{count}，上限 {bound}），已拒绝。请使用从本系统下载的{kind}，不要在其以外的行、列或格式中填写。"


class WorkbookRefused(Exception):
    """The file is refused as a whole; the message says why, in Chinese."""


@dataclass(frozen=True)
class Bounds:
    """What a workbook of one kind may hold, derived by its module from what it needs (a few
    times over).  ``cells``: <c> elements of all sheets; ``extent``: what openpyxl's reader
    walks (per sheet its last row number plus every row's last column: empty cells before a
    filled one and empty rows before a row count); ``rows``, ``columns``: the last row number
    and column of any sheet; ``text``: the characters of all parts (cell values, inline and
    shared strings, formulas, and whatever else); ``strings``: shared strings; ``formats``: the
    records of styles.xml."""

    sheets: int
    cells: int
    extent: int
    rows: int
    columns: int
    text: int
    formats: int
    kind: str = "填报模板"  # the workbook the user was asked for, in the messages

    @property
    def strings(self) -> int:
        return self.cells  # a shared string is used by a cell, or by nothing

    @property
    def parts(self) -> int:
        return BASE_PARTS + PARTS_PER_SHEET * self.sheets

    @property
    def elements(self) -> int:
        return ELEMENTS_PER_CELL * self.cells + ELEMENTS_PER_FORMAT * self.formats + FIXED_ELEMENTS

    @property
    def other(self) -> int:
        return FIXED_ELEMENTS  # elements of the parts that hold neither cells, strings nor formats


#: the message of each bound passed: what was counted
COUNTED = {"sheets": "的工作表", "cells": "的单元格", "extent": "有内容或格式的行、列", "rows": "的行数",
           "columns": "的列数", "text": "的文字", "strings": "的共享字符串", "formats": "的单元格格式",
           "elements": "的 XML 元素", "other": "的工作簿设置（名称、关系、属性等 XML 元素）"}


def check_file(data: bytes, max_bytes: int, what: str = "填报模板", bounds: Bounds | None = None) -> "Census":
    """Refuse what is not a plain .xlsx workbook within the limits and ``bounds`` (raises
    WorkbookRefused); ``what`` names the workbook the user was asked for in the messages.
    What the parts hold, counted."""
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
            check_parts(zf, what, bounds)
            return census(zf, bounds)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError,
            KeyError, RuntimeError):
        raise WorkbookRefused("文件已损坏，无法作为 Excel 工作簿打开。请重新保存后上传。") from None


def check_parts(zf: zipfile.ZipFile, what: str = "填报模板", bounds: Bounds | None = None) -> None:
    """The zip's parts: their number and declared sizes (zip bombs), no encrypted part; the
    workbook's content types (a workbook, no macros), no external links."""
    infos = zf.infolist()
    if len(infos) > (bounds.parts if bounds is not None else MAX_PARTS):
        raise WorkbookRefused(f"文件包含的部件过多（{len(infos)} 个），不是系统生成的{what}。")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED or any(i.file_size > RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size, 1)
                                       for i in infos):
        raise WorkbookRefused(f"文件解压后异常巨大（疑似“压缩炸弹”），已拒绝。请上传从本系统下载并填写的{what}。")
    if any(i.flag_bits & 0x1 for i in infos):
        raise WorkbookRefused("文件设置了密码（已加密），系统无法读取。请取消密码后另存为 .xlsx 再上传。")
    names = {i.filename.lower() for i in infos}
    if "[content_types].xml" not in names:
        raise WorkbookRefused(NOT_XLSX.format(what=what))
    types = content_types(zf, next(i for i in infos if i.filename.lower() == "[content_types].xml"))
    values = set(types.defaults.values()) | set(types.overrides.values())
    if any(m in v for v in values for m in MACRO_MARKS) or any(n.endswith("vbaproject.bin") for n in names):
        raise WorkbookRefused("文件包含宏（.xlsm 或启用宏的工作簿），出于安全考虑不能导入。请另存为不含宏的 Excel 工作簿（.xlsx）后上传。")
    if WORKBOOK_TYPE not in values:
        raise WorkbookRefused(NOT_XLSX.format(what=what))
    if any(n.startswith("xl/externallinks/") for n in names) or any("externalLink+xml" in v for v in values):
        raise WorkbookRefused("文件包含指向其他工作簿的外部链接，不能导入。请在 Excel 中“编辑链接 → 断开链接”后另存再上传。")


# --- reading XML: defusedxml, streaming ----------------------------------------------------------

@dataclass
class ContentTypes:
    defaults: dict = dataclass_field(default_factory=dict)  # extension (lower case) → type
    overrides: dict = dataclass_field(default_factory=dict)  # part name (lower case, no /) → type

    def is_xml(self, name: str) -> bool:
        kind = self.overrides.get(name.lower()) or self.defaults.get(name.rsplit(".", 1)[-1].lower(), "")
        return kind.endswith(("+xml", "/xml"))


class Handler(ContentHandler):
    """A SAX handler that counts its events (``parse`` refuses a token that produces none for
    MAX_TOKEN bytes: expat holds a tag, a comment or a processing instruction whole)."""

    events = 0

    def endElement(self, name):
        self.events += 1

    def characters(self, content):
        self.events += 1


class TypesHandler(Handler):
    def __init__(self, types: ContentTypes):
        super().__init__()
        self.types = types

    def startElement(self, name, attrs):
        self.events += 1
        local = name.rsplit(":", 1)[-1]
        if local == "Default" and attrs.get("Extension"):
            self.types.defaults[attrs["Extension"].lower()] = attrs.get("ContentType", "")
        elif local == "Override" and attrs.get("PartName"):
            self.types.overrides[attrs["PartName"].lstrip("/").lower()] = attrs.get("ContentType", "")


def parse(zf: zipfile.ZipFile, info, handler: Handler) -> None:
    """Stream one part through defusedxml's SAX parser (no DTD, no entity, nothing external),
    refusing a single tag, comment or instruction longer than MAX_TOKEN (expat would hold it
    whole: a 35 MB attribute would cost the worker hundreds of MB)."""
    parser = DefusedExpatParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    parser.setContentHandler(handler)
    quiet = 0  # bytes fed since the last event
    try:
        with zf.open(info) as part:
            while chunk := part.read(CHUNK):
                events = handler.events
                parser.feed(chunk)
                quiet = quiet + len(chunk) if handler.events == events else 0
                if quiet > MAX_TOKEN:
                    raise WorkbookRefused(BROKEN)
        parser.close()
    except DefusedXmlException:
        raise WorkbookRefused(DTD) from None
    except SAXException:
        raise WorkbookRefused(BROKEN) from None


def content_types(zf: zipfile.ZipFile, info) -> ContentTypes:
    types = ContentTypes()
    if zf.getinfo(info.filename).file_size > RATIO_FLOOR:  # a real one is a few KB
        raise WorkbookRefused(BROKEN)
    parse(zf, info, TypesHandler(types))
    return types


CHUNK = 64 * 1024  # bytes fed to the parser at a time
MAX_TOKEN = 1024 * 1024  # the longest tag, comment or instruction (a cell's text, 32,767 characters, streams)

#: byte-order marks and XML white space: what may come before the first "<" of an XML document
XML_LEAD = re.compile(rb"[\x00\x09\x0a\x0d\x20\xef\xbb\xbf\xfe\xff]*<")


def may_be_xml(zf: zipfile.ZipFile, info, types: ContentTypes) -> bool:
    """Is the part XML by its name or content type, or could any XML parser read it as XML
    (its first bytes, after byte-order marks and white space in UTF-8, -16 or -32, are "<")?"""
    if info.filename.lower().endswith((".xml", ".rels")) or types.is_xml(info.filename):
        return True
    with zf.open(info) as part:
        return XML_LEAD.match(part.read(64)) is not None


# --- counting what the parts hold ----------------------------------------------------------------

class Exceeded(Exception):
    def __init__(self, what: str, count: int, bound: int):
        super().__init__(what)
        self.what, self.count, self.bound = what, count, bound


COUNTS = ("sheets", "cells", "extent", "rows", "columns", "text", "strings", "formats", "elements", "other")


class Census:
    """What the workbook's XML parts hold, counted (``Bounds`` names the same things): read as
    attributes (``census.cells``).  Counting is a dictionary update per element, so that the
    count of a large part stays cheap."""

    def __init__(self, bounds: Bounds | None = None):
        self.bounds = bounds
        self.counts = dict.fromkeys(COUNTS, 0)
        self.limits = {k: getattr(bounds, k) if bounds is not None else float("inf") for k in COUNTS}

    def __getattr__(self, name: str) -> int:
        try:
            return self.__dict__["counts"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"Census({self.counts})"

    def add(self, what: str, n: int = 1) -> None:
        """Count ``n`` more (raises Exceeded past the bound)."""
        value = self.counts[what] + n
        self.counts[what] = value
        if value > self.limits[what]:
            raise Exceeded(what, value, self.limits[what])

    def most(self, what: str, value: int) -> None:
        """Keep the largest value seen (raises Exceeded past the bound)."""
        if value > self.counts[what]:
            self.counts[what] = value
            if value > self.limits[what]:
                raise Exceeded(what, value, self.limits[what])


COLUMN = re.compile(r"[A-Za-z]{1,3}")


def column_of(ref: str | None, previous: int) -> int:
    """The column number of a cell reference (A1 → 1); the next column without one."""
    letters = COLUMN.match(ref or "")
    if not letters:
        return previous + 1
    n = 0
    for ch in letters.group().upper():
        n = n * 26 + ord(ch) - 64
    return n


class CountingHandler(Handler):
    """Counts, by what the part's root element is (not by its name): a worksheet's rows, cells
    and columns, the shared strings, the formats of styles.xml, the sheets of workbook.xml, and
    every element and character of every part."""

    def __init__(self, counts: Census):
        super().__init__()
        self.counts, self.root, self.depth = counts, None, 0
        self.row = self.last_row = self.row_width = self.column = 0

    def startElement(self, name, attrs):
        self.events += 1
        local = name[name.rfind(":") + 1:]
        self.counts.add("elements")
        self.depth += 1
        if self.root is None:
            self.root = local
        if self.root not in CELL_ROOTS:
            self.counts.add("other")
        if self.root == "worksheet":
            self.sheet_element(local, attrs)
        elif self.root == "sst" and local == "si":
            self.counts.add("strings")
        elif self.root == "styleSheet" and local in FORMAT_ELEMENTS:
            self.counts.add("formats")
        elif self.root == "workbook" and local == "sheet":
            self.counts.add("sheets")

    def sheet_element(self, local, attrs):
        if local == "row":
            self.end_row()
            r = attrs.get("r")
            self.row = int(r) if r and r.isdigit() else self.last_row + 1
            self.counts.most("rows", self.row)
            self.column = self.row_width = 0
        elif local == "c":
            self.counts.add("cells")
            self.column = column_of(attrs.get("r"), self.column)
            self.counts.most("columns", self.column)
            self.row_width = max(self.row_width, self.column)

    def end_row(self):
        if self.row:
            self.counts.add("extent", self.row_width)
            self.last_row, self.row = self.row, 0

    def endElement(self, name):
        self.events += 1
        self.depth -= 1
        if self.root == "worksheet" and self.depth == 0:
            self.end_row()
            self.counts.add("extent", self.last_row)  # the empty rows openpyxl yields, and each row

    def characters(self, content):
        self.events += 1
        self.counts.add("text", len(content))


def census(zf: zipfile.ZipFile, bounds: Bounds | None = None) -> Census:
    """Read every part that is or may be XML with defusedxml (refusing any DTD or entity, and
    XML that does not parse), counting what it holds; refuse at the first bound passed."""
    counts = Census(bounds=bounds)
    types = content_types(zf, next(i for i in zf.infolist() if i.filename.lower() == "[content_types].xml"))
    try:
        for info in zf.infolist():
            if info.is_dir() or not may_be_xml(zf, info, types):
                continue
            parse(zf, info, CountingHandler(counts))
    except Exceeded as too_many:
        raise WorkbookRefused(TOO_BIG.format(what=COUNTED[too_many.what], kind=bounds.kind,
                                             count=f"{too_many.count:,}", bound=f"{too_many.bound:,}")) from None
    return counts


# --- reading the workbook with openpyxl, in a short-lived process -------------------------------

log = logging.getLogger(__name__)

#: the process that reads: exports/xlsx_reader.py, run as a script (it imports only the standard
#: library and openpyxl, so it starts in a fraction of a second)
READER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xlsx_reader.py")
#: openpyxl reads every part with defusedxml (with lxml installed it would prefer lxml's parser)
READER_ENV = {"OPENPYXL_LXML": "False", "OPENPYXL_DEFUSEDXML": "True", "LC_ALL": "C.UTF-8"}
READ_MEMORY = 512 * 1024 * 1024  # the reading process's address space (RLIMIT_AS), bytes
READ_SECONDS = 20  # wall clock, then it is killed (it also stops itself: an alarm, RLIMIT_CPU)
TOO_HEAVY = ("文件内容过于复杂，无法在限定的时间和内存内读取，已拒绝。"
             "请使用从本系统下载的{kind}，删除多余的格式、工作表或图片后重新保存再上传。")


def read_in_process(job: str, data: bytes, payload: dict, kind: str = "填报模板",
                    memory: int = READ_MEMORY, seconds: float = READ_SECONDS) -> dict:
    """Read a checked workbook with openpyxl in a fresh, short-lived process bounded in memory
    (RLIMIT_AS) and time: its memory goes back to the system when it ends, whatever openpyxl
    held.  ``job`` names what is read (see exports/xlsx_reader.py); the answer is plain data
    (with ``peak_rss``: the reading process's peak memory, bytes), or a WorkbookRefused with the
    reader's message."""
    header = json.dumps({"job": job, "payload": payload, "memory": memory, "seconds": seconds}).encode()
    try:
        done = subprocess.run([sys.executable, "-I", READER], input=header + b"\n" + data, capture_output=True,
                              timeout=seconds + 5, close_fds=True, env=READER_ENV)
    except subprocess.TimeoutExpired:
        raise WorkbookRefused(TOO_HEAVY.format(kind=kind)) from None
    except OSError:  # no process could be started (the machine is out of memory or processes)
        raise WorkbookRefused("服务器暂时无法读取文件，文件未导入。请稍后重新上传。") from None
    try:
        answer = json.loads(done.stdout) if done.returncode == 0 else None
    except ValueError:
        answer = None
    if done.returncode == 4:
        raise RuntimeError("openpyxl does not read with defusedxml: is defusedxml installed?")
    if answer is None:  # killed by its limits (MemoryError, SIGXCPU, SIGALRM) or crashed
        log.warning("The workbook reader ended with %s: %s", done.returncode,
                    done.stderr[-2000:].decode(errors="replace"))
        raise WorkbookRefused(TOO_HEAVY.format(kind=kind))
    if "refused" in answer:
        raise WorkbookRefused(answer["refused"])
    return answer
