"""Hostile Excel workbooks built from a real template with zipfile, as an attacker would build
them: a styles part with hundreds of thousands of formats, a shared-strings part with a million
strings, a worksheet renamed to .bin (relationships and content types updated) that declares an
internal entity.  Each stays within the size and ratio limits of the file checks, so only the
counting of what the parts hold (or defusedxml) refuses it.  Used by tests/security and
benchmarks/bench_template.py."""
import random
import re
import zipfile
from io import BytesIO

from wizard.exports.xlsx_checks import check_file

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def rezip(data: bytes, *, drop=(), add=(), replace=None, rename=None) -> bytes:
    """The workbook's zip rebuilt: parts dropped, added (name, bytes), edited (name → fn of the
    bytes) or renamed (old → new name)."""
    out = BytesIO()
    with zipfile.ZipFile(BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in drop:
                continue
            content = src.read(info)
            if replace and info.filename in replace:
                content = replace[info.filename](content)
            dst.writestr((rename or {}).get(info.filename, info.filename), content)
        for name, content in add:
            dst.writestr(name, content)
    return out.getvalue()


def styles_bomb(data: bytes, count: int = 420_000) -> bytes:
    """The finding's file: xl/styles.xml with ``count`` cell formats (varied, so that the part
    compresses like a real one: about 36 MB unpacked at a ratio under 100)."""
    rng = random.Random(22)
    xfs = "".join(f'<xf numFmtId="{rng.randrange(50)}" fontId="{rng.randrange(5)}" fillId="{rng.randrange(5)}" '
                  f'borderId="{rng.randrange(9)}" xfId="0" applyNumberFormat="1"/>' for _ in range(count))

    def swell(styles: bytes) -> bytes:
        text = styles.decode()
        return re.sub(r'<cellXfs count="\d+">', f'<cellXfs count="{count}">{xfs}', text, count=1).encode()
    return rezip(data, replace={"xl/styles.xml": swell})


def strings_bomb(data: bytes, count: int = 1_270_000) -> bytes:
    """The finding's other file: a shared-strings part of ``count`` distinct strings (about
    3.7 MB zipped), declared in the content types and the workbook's relationships."""
    rng = random.Random(23)
    body = "".join(f"<si><t>{rng.getrandbits(18):x}</t></si>" for _ in range(count))
    sst = f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}" count="{count}" uniqueCount="{count}">{body}</sst>'
    override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_TYPE}"/></Types>'.encode()
    relation = f'<Relationship Id="rIdSst" Type="{SST_REL}" Target="sharedStrings.xml"/></Relationships>'.encode()
    return rezip(data, add=[("xl/sharedStrings.xml", sst.encode())],
                 replace={"[Content_Types].xml": lambda t: t.replace(b"</Types>", override),
                          "xl/_rels/workbook.xml.rels": lambda r: r.replace(b"</Relationships>", relation)})


def long_attribute(data: bytes, size: int = 3 * 2**20) -> bytes:
    """workbook.xml with one attribute of ``size`` characters (varied, so that it compresses like
    text): a parser must hold a tag whole, so this is memory taken before any count could stop it."""
    rng = random.Random(24)
    value = "".join(rng.choice(("甲乙丙丁", "ABCD", "1234", "戊己庚辛")) for _ in range(size // 4))
    return rezip(data, replace={"xl/workbook.xml": lambda w: w.replace(
        b"<workbookPr", f'<fileVersion appName="{value}"/><workbookPr'.encode(), 1)})


ENTITY = '<!DOCTYPE worksheet [<!ENTITY e "实体展开的内容">]>'


def entity_in(xml: bytes) -> bytes:
    """The part with an internal entity declared, and ``&e;`` typed as the 产业领域 (a stored
    text field) where the part is the 基本信息 sheet."""
    head, _, rest = xml.partition(b"?>") if xml.startswith(b"<?xml") else (b"", b"", xml)
    out = (head + b"?>" if head else b"") + ENTITY.encode() + rest
    return re.sub(rb"(f:industry_field</t></is></c><c[^>]*><is><t>[^<]*</t></is></c><c[^>]*><is><t>)[^<]*",
                  rb"\1&e;", out, count=1)


def renamed_sheet_with_entity(data: bytes, sheet: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The finding's file: a worksheet renamed to .bin, its relationship and content type
    updated, holding an internal entity that a lax parser would expand into a stored field."""
    name = sheet.rsplit("/", 1)[1]
    binary = name.replace(".xml", ".bin")
    sheet_type = b"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"

    def types(t: bytes) -> bytes:
        return t.replace(f'PartName="/{sheet}"'.encode(), f'PartName="/{sheet[:-4]}.bin"'.encode()).replace(
            b"</Types>", b'<Default Extension="bin" ContentType="' + sheet_type + b'"/></Types>')
    return rezip(data, rename={sheet: sheet[:-4] + ".bin"},
                 replace={sheet: entity_in, "[Content_Types].xml": types,
                          "xl/_rels/workbook.xml.rels": lambda r: r.replace(name.encode(), binary.encode())})


def hidden_part_with_entity(data: bytes) -> bytes:
    """An entity in a part with no XML name or content type at all (a custom part), which a
    check by name would not read."""
    return rezip(data, add=[("customXml/item1.dat", entity_in(b'<?xml version="1.0"?><root><t>x</t></root>'))])


def entity_in_utf16(data: bytes, sheet: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The renamed sheet's entity in UTF-16, which a search for ASCII bytes would miss."""
    def wide(xml: bytes) -> bytes:
        text = xml.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
        if not text.startswith("<?xml"):
            text = '<?xml version="1.0" encoding="UTF-16"?>' + text
        return text.encode("utf-16")
    return rezip(renamed_sheet_with_entity(data, sheet), replace={sheet[:-4] + ".bin": wide})


def heaviest_accepted(data: bytes, limits) -> bytes:
    """The workbook with every bound of ``limits`` filled to just under its limit at once:
    formats, shared strings and their text, cells in a notes sheet of the largest extent
    allowed, defined names in workbook.xml up to the elements allowed outside the sheets."""
    counts = check_file(data, 5 * 2**20, "填报模板", limits)
    margin = 0.97
    formats = int(limits.formats * margin) - counts.formats
    columns = limits.columns
    rows = min(limits.rows, int((limits.extent * margin - counts.extent) / (columns + 1)),
               int((limits.cells * margin - counts.cells) / columns))
    strings = rows * columns
    indices = sum(len(str(i)) for i in range(strings))  # the cells' <v>: text too
    per_string = int((limits.text * margin - counts.text - indices) / strings)
    sst = "".join(f"<si><t>{i:0{per_string}d}</t></si>" for i in range(strings))
    letters = [chr(65 + i // 26 - 1) + chr(65 + i % 26) if i >= 26 else chr(65 + i) for i in range(columns)]
    sheet = "".join(f'<row r="{r}">' + "".join(f'<c r="{letters[c]}{r}" t="s"><v>{(r - 1) * columns + c}</v></c>'
                                               for c in range(columns)) + "</row>" for r in range(1, rows + 1))
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    notes = f'<worksheet xmlns="{main}"><sheetData>{sheet}</sheetData></worksheet>'
    sst = f'<sst xmlns="{main}" count="{strings}" uniqueCount="{strings}">{sst}</sst>'
    other = int(limits.other * margin) - counts.other - 10  # the notes sheet's entries
    names = "".join(f'<definedName name="n{i}">备注!$A${i % rows + 1}</definedName>' for i in range(other))
    data = styles_bomb(data, formats)
    types = (b'<Override PartName="/xl/worksheets/notes.xml" ContentType="application/vnd.openxmlformats-'
             b'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
             b'"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    rels = (f'<Relationship Id="rIdN" Type="{rel}/worksheet" Target="/xl/worksheets/notes.xml"/>'
            f'<Relationship Id="rIdS" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/></Relationships>').encode()
    return rezip(data, add=[("xl/worksheets/notes.xml", notes.encode()), ("xl/sharedStrings.xml", sst.encode())],
                 replace={"[Content_Types].xml": lambda t: t.replace(b"</Types>", types),
                          "xl/_rels/workbook.xml.rels": lambda r: r.replace(b"</Relationships>", rels),
                          "xl/workbook.xml": lambda w: w.replace(b"</sheets>", (
                              f'<sheet xmlns:r="{rel}" name="备注" sheetId="99" r:id="rIdN"/></sheets>'
                              f'<definedNames>{names}</definedNames>').encode())})
