"""A fast reader of the PDFs the tests print, on PDFium (pypdfium2): a page's characters with their
boxes, its text, its text lines, a search for a string and a region of it, in pdfplumber's names
and conventions (points, origin at the top left; ``search`` as ``pdfplumber``'s ``search(s,
regex=False)``), 7 to 30 times less CPU than pdfplumber (pdfminer parses every page's content
in Python) or pypdf's ``extract_text``.

Characters: each one's box is pdfminer's (``_pdfminer_box``: PDFium's loose box, its top set a
font size above the descent as pdfminer sets it), so ``x0``, ``x1``, ``top``, ``bottom`` and
``size`` (the box's height, as pdfplumber's) agree with pdfplumber's within 0.1 pt, the turned 草稿
watermark's too.  Characters PDFium adds (line breaks, spaces between words) are left out; PDFium
does not count some runs of blank spaces as characters where pdfminer does: the text of a page is
the same once whitespace is squashed (tests/pdf/test_pdfread.py compares both readers), but such a
blank, clustered into another line, can split a word for pdfplumber and not here (its footer's
"校 验码" on the first page).

Text, lines and search are pdfplumber's non-layout text map, ported: characters clustered into
lines by ``top`` (3 pt), sorted by ``x0`` within a line, split into words at blanks and gaps of
more than 3 pt; words joined by one space, lines by a new line.  A crop keeps the characters that
touch the region, clipped to it, as pdfplumber's ``crop`` does.  Two words whose tops lie exactly
3 pt apart share a line or not by the last bit of a float (the readers' positions differ by a few
thousandths of a point), so a page's lines may be cut one apart where its text is the same.

Ruling lines (``open_pdf(pdf, rules=True)``): pdfplumber's ``lines`` and ``edges``, from PDFium's
path objects (their segments through the object's matrix), as pdfminer reads paths.  Fonts,
images and the table finder are not read here: a test that needs them finds its pages with this
reader and opens only those with pdfplumber (``plumber_pages``).

PDFium is reached through pypdfium2's helpers and, where they stop (a character's font size,
angle and origin, whether PDFium generated it; a path's segments), its ``pypdfium2.raw`` bindings."""
import ctypes
import io
import math
import re
from contextlib import contextmanager
from itertools import groupby

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

TOLERANCE = 3  # pdfplumber's x_tolerance and y_tolerance


@contextmanager
def open_pdf(data: bytes, rules: bool = False):
    """The document's pages (:class:`Page`), read once each, as ``pdfplumber.open`` gives them;
    with ``rules``, their ruling lines too (``Page.lines``, ``Page.edges``)."""
    doc = pdfium.PdfDocument(data)
    try:
        yield Document(doc, rules)
    finally:
        doc.close()


class Document:
    def __init__(self, doc, rules):
        self._doc, self._rules = doc, rules
        self._pages = [None] * len(doc)

    def __len__(self):
        return len(self._pages)

    def page(self, index: int) -> "Page":
        if self._pages[index] is None:
            self._pages[index] = Page.read(self._doc, index, self._rules)
        return self._pages[index]

    @property
    def pages(self):
        return [self.page(i) for i in range(len(self._pages))]


class Page:
    """A page's characters (dicts: text, x0, x1, top, bottom, size) and what is read from them; its
    ruling lines and edges (``lines``, ``edges``: dicts x0, x1, top, bottom, width, height; an edge's
    orientation "h", "v" or None).  A crop or a filter keeps the characters only."""

    def __init__(self, number, width, height, chars, bbox=None, lines=None, edges=None):
        self.page_number = number  # from 1, as pdfplumber's
        self.width, self.height = width, height
        self.chars = chars
        self._lines, self._edges = lines, edges
        self.bbox = bbox or (0, 0, width, height)
        self._textmap = None

    @classmethod
    def read(cls, doc, index, rules=False):
        page = doc[index]
        width, height = page.get_size()
        text = page.get_textpage()
        chars = []
        try:
            for i in range(text.count_chars()):
                if pdfium_c.FPDFText_IsGenerated(text.raw, i) == 1:
                    continue
                x0, y0, x1, y1 = _pdfminer_box(text, i)
                chars.append({"text": text.get_text_range(i, 1), "x0": x0, "x1": x1, "top": height - y1,
                              "bottom": height - y0, "size": y1 - y0})
            lines, edges = _paths(page, height) if rules else (None, None)
        finally:
            text.close()
            page.close()
        return cls(index + 1, width, height, chars, lines=lines, edges=edges)

    @property
    def lines(self):
        assert self._lines is not None, "open_pdf(pdf, rules=True) reads the ruling lines"
        return self._lines

    @property
    def edges(self):
        assert self._edges is not None, "open_pdf(pdf, rules=True) reads the ruling lines"
        return self._edges

    def crop(self, bbox) -> "Page":
        """The characters touching ``bbox`` (x0, top, x1, bottom), clipped to it (pdfplumber's crop)."""
        return Page(self.page_number, self.width, self.height,
                    [c for c in (_clip(c, bbox) for c in self.chars) if c is not None], bbox)

    def filter(self, keep) -> "Page":
        return Page(self.page_number, self.width, self.height, [c for c in self.chars if keep(c)], self.bbox)

    def _map(self):
        if self._textmap is None:
            self._textmap = _textmap(self.chars)
        return self._textmap

    def extract_text(self) -> str:
        return "".join(t for t, _ in self._map())

    def search(self, s: str) -> list:
        """Where ``s`` is printed (within one line), as pdfplumber's ``search(s, regex=False)``:
        dicts with text, x0, x1, top, bottom and chars."""
        return self._find(re.escape(s))

    def extract_text_lines(self) -> list:
        """The text lines (without surrounding blanks), as pdfplumber's ``extract_text_lines()``."""
        return self._find(r" *([^\n]+?) *(\n|$)", group=1)

    def _find(self, pattern, group=0):
        tuples = self._map()
        string = "".join(t for t, _ in tuples)
        out = []
        for m in re.finditer(pattern, string):
            if not m.group(group).strip():
                continue
            chars = [c for _, c in tuples[m.start(group):m.end(group)] if c is not None]
            out.append({"text": m.group(group), "x0": min(c["x0"] for c in chars),
                        "top": min(c["top"] for c in chars), "x1": max(c["x1"] for c in chars),
                        "bottom": max(c["bottom"] for c in chars), "chars": chars})
        return out


def _pdfminer_box(text, i):
    """The box pdfminer gives character ``i`` (x0, y0, x1, y1; origin at the bottom left): PDFium's
    loose box spans the font's descent to its ascent, pdfminer's the descent to the descent plus the
    font size.  Upright: the same bottom, the top a font size above it.  Turned (the 草稿 watermark,
    40 degrees): the descent, ascent and advance recovered from PDFium's box, pdfminer's rectangle
    turned the same way.  Other angles: PDFium's box (no such text in these documents)."""
    left, bottom, right, top = text.get_charbox(i, loose=True)
    size = pdfium_c.FPDFText_GetFontSize(text.raw, i)
    angle = -pdfium_c.FPDFText_GetCharAngle(text.raw, i) % (2 * math.pi)  # PDFium's runs clockwise
    if angle < 1e-6 or angle > 2 * math.pi - 1e-6:
        return left, bottom, right, bottom + size
    if not 0 < angle < math.pi / 2:
        return left, bottom, right, top
    x, y = ctypes.c_double(), ctypes.c_double()
    pdfium_c.FPDFText_GetCharOrigin(text.raw, i, x, y)
    sin, cos = math.sin(angle), math.cos(angle)
    descent = (bottom - y.value) / cos
    advance = (right - x.value + descent * sin) / cos
    corners = [(x.value + dx * cos - dy * sin, y.value + dx * sin + dy * cos)
               for dx in (0, advance) for dy in (descent, descent + size)]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return min(xs), min(ys), max(xs), max(ys)


def _apply(m, x, y):
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def _times(m, n):
    """The matrix ``m`` then ``n`` (PDF order: a point is transformed by m, then by n)."""
    a, b, c, d, e, f = m
    p, q, r, s, t, u = n
    return (a * p + b * r, a * q + b * s, c * p + d * r, c * q + d * s, e * p + f * r + t, e * q + f * s + u)


def _paths(page, height):
    """pdfplumber's ``lines`` and ``edges`` of the page from its path objects, as pdfminer reads a
    path: each subpath of a move and one line is a line; an axis-aligned closed four-sided one a
    rectangle (four edges); any other (curves) gives an edge per pair of successive points."""
    lines, edges, forms = [], [], {}
    for obj in page.get_objects(max_depth=15):
        kind = pdfium_c.FPDFPageObj_GetType(obj.raw)
        m = tuple(obj.get_matrix().get())
        if obj.level:
            m = _times(m, forms[obj.level - 1])
        if kind == pdfium_c.FPDF_PAGEOBJ_FORM:
            forms[obj.level] = m
            continue
        if kind != pdfium_c.FPDF_PAGEOBJ_PATH:
            continue
        for points, closed in _subpaths(obj.raw, m):
            if len(points) == 2 and not closed:
                line = _segment(points[0], points[1], height)
                lines.append(line)
                edges.append(dict(line, orientation="h" if line["top"] == line["bottom"] else "v"))
                continue
            if closed and points[-1] != points[0]:
                points = points + [points[0]]
            for p0, p1 in zip(points, points[1:]):
                edge = _segment(p0, p1, height)
                edge["orientation"] = "h" if p0[1] == p1[1] else "v" if p0[0] == p1[0] else None
                edges.append(edge)
    return lines, edges


def _subpaths(path, m):
    """The path's subpaths: (points in page space, closed), a Bézier's control points left out."""
    out, points, closed = [], [], False
    x, y = ctypes.c_float(), ctypes.c_float()
    for k in range(pdfium_c.FPDFPath_CountSegments(path)):
        segment = pdfium_c.FPDFPath_GetPathSegment(path, k)
        pdfium_c.FPDFPathSegment_GetPoint(segment, x, y)
        kind = pdfium_c.FPDFPathSegment_GetType(segment)
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO:
            if points:
                out.append((points, closed))
            points, closed = [], False
        points.append(_apply(m, x.value, y.value))
        closed = closed or bool(pdfium_c.FPDFPathSegment_GetClose(segment))
    if points:
        out.append((points, closed))
    return out


def _segment(p0, p1, height):
    x0, x1 = sorted((p0[0], p1[0]))
    y0, y1 = sorted((p0[1], p1[1]))
    return {"x0": x0, "x1": x1, "top": height - y1, "bottom": height - y0, "width": x1 - x0, "height": y1 - y0}


def _clip(char, bbox):
    x0, top = max(char["x0"], bbox[0]), max(char["top"], bbox[1])
    x1, bottom = min(char["x1"], bbox[2]), min(char["bottom"], bbox[3])
    if x1 - x0 < 0 or bottom - top < 0 or (x1 - x0) + (bottom - top) <= 0:
        return None
    return dict(char, x0=x0, top=top, x1=x1, bottom=bottom)


def _clusters(items, key):
    """pdfplumber's cluster_objects: values within the tolerance of the previous one form a cluster;
    the clusters in order of value, each keeping the items' order."""
    values = sorted({key(x) for x in items})
    index, n, last = {}, -1, None
    for v in values:
        if last is None or v > last + TOLERANCE:
            n += 1
        index[v] = n
        last = v
    return index


def _lines(chars):
    index = _clusters(chars, lambda c: c["top"])
    ordered = sorted(chars, key=lambda c: index[c["top"]])
    return [sorted(g, key=lambda c: c["x0"]) for _, g in groupby(ordered, key=lambda c: index[c["top"]])]


def _words(line):
    word = []
    for c in line:
        if c["text"].isspace():
            if word:
                yield word
            word = []
        elif word and (c["x0"] < word[-1]["x0"] or c["x0"] > word[-1]["x1"] + TOLERANCE
                       or abs(c["top"] - word[-1]["top"]) > TOLERANCE):
            yield word
            word = [c]
        else:
            word.append(c)
    if word:
        yield word


def _textmap(chars):
    """(letter, char) pairs of the page's text; None for the blanks and new lines put between."""
    words = [w for line in _lines(chars) for w in _words(line)]
    tops = {id(w): min(c["top"] for c in w) for w in words}
    index = _clusters(words, lambda w: tops[id(w)])
    out = []
    for i, (_, line) in enumerate(groupby(words, key=lambda w: index[tops[id(w)]])):
        if i:
            out.append(("\n", None))
        for j, word in enumerate(line):
            if j:
                out.append((" ", None))
            out.extend((c["text"], c) for c in word)
    return out


def page_texts(pdf: bytes) -> list:
    """The text of each page."""
    with open_pdf(pdf) as doc:
        return [p.extract_text() for p in doc.pages]


def _each_page(pdf: bytes):
    """(page, its text page) of each page in turn, each closed after its turn, then the document."""
    doc = pdfium.PdfDocument(pdf)
    try:
        for i in range(len(doc)):
            page = doc[i]
            text = page.get_textpage()
            try:
                yield page, text
            finally:
                text.close()
                page.close()
    finally:
        doc.close()


def plain_text(pdf: bytes) -> str:
    """The document's text as PDFium reads it, in the order it is drawn (a text object's characters
    together: the turned 草稿 stays one word), pages joined by new lines: what pypdf's
    ``extract_text`` gives, for tests that look for a string anywhere."""
    return "\n".join(text.get_text_range().replace("\r\n", "\n") for _, text in _each_page(pdf))


def pages_with(pdf: bytes, s: str) -> list:
    """The indices (from 0) of the pages where ``s`` is printed (within one line)."""
    with open_pdf(pdf) as doc:
        return [i for i, p in enumerate(doc.pages) if p.search(s)]


def text_runs(pdf: bytes) -> list:
    """Each page's text objects in the order they are drawn (content order, which a page's
    characters do not always keep in PDFium): dicts with text and size (the font size as drawn,
    scaled by the object's matrix)."""
    out = []
    for page, text in _each_page(pdf):
        runs = []
        for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT], textpage=text):
            m = obj.get_matrix()
            scale = math.sqrt(abs(m.a * m.d - m.b * m.c))
            runs.append({"text": obj.extract(), "size": obj.get_font_size() * scale})
        out.append(runs)
    return out


@contextmanager
def plumber_pages(pdf: bytes, indices):
    """pdfplumber on the pages ``indices`` (from 0) only: for what this reader does not read (ruling
    lines, rectangles)."""
    import pdfplumber

    with pdfplumber.open(io.BytesIO(pdf), pages=[i + 1 for i in indices]) as doc:
        yield doc.pages
