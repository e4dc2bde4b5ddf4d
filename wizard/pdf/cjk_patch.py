"""Fixes for xhtml2pdf's CJK line breaking (``-pdf-word-wrap: CJK``).

xhtml2pdf 0.2.28 ships its own copy of ReportLab's paragraph code in
``xhtml2pdf/reportlab_paragraph.py``. Its CJK path has five defects, all of
which the engine hits with long Chinese narratives; :func:`apply` replaces
three module-level functions/methods there (nothing else is touched):

1. **Crash at page breaks** -- ``TypeError: sequence item 0: expected a
   bytes-like object, str found``. When a CJK paragraph is split across a
   page, the continuation paragraph is rebuilt from the remaining lines. If
   exactly one line is left (or kept) it has a single fragment, and
   ``Paragraph.breakLinesCJK`` then takes a different route for one-fragment
   paragraphs: ReportLab's ``wordSplit`` returns ``str`` lines in a "kind 0"
   layout, which the drawing code joins with ``b" ".join(...)`` -> TypeError.
   Whether it happens depends on where the page break falls. (The same branch
   also had a ``_splitpara`` shortcut that returned line objects in a kind 0
   layout, equally undrawable.) Fix: ``breakLinesCJK`` always uses the
   fragment splitter below, whatever the number of fragments.

2. **"Splitting error" LayoutError at page breaks** (with the test text of
   ``tests/pdf`` this happened at *every* spacer offset, more often than the
   TypeError). ``_split_blParaHard`` re-joins the lines of a split paragraph
   and appends a space after every line -- right for Latin text, where the
   break consumed a space, but it invents spaces in Chinese text. The first
   half is then re-wrapped at the same width; with xhtml2pdf's splitter, whose
   lines can be a full line plus a hanging punctuation mark, the extra space
   pushes a character over, the half needs one line more than the room it was
   split for, and ReportLab gives up. Fix: the new splitter lets spaces hang
   in the margin (so re-wrapping is stable), and lines it produces are marked
   and re-joined without the invented space, so the text of the continuation
   is exactly the source text.

3. **Missing 禁则 (kinsoku) rules.** ``cjkFragSplit`` only hangs *one*
   character of ReportLab's ``ALL_CANNOT_START`` into the margin (and then
   counts its width on the next line as well) and never checks
   ``ALL_CANNOT_END``. ReportLab's lists also lack most Chinese
   punctuation: ``，；：？！”’》〉…·`` are allowed to start a line and ``(`` to
   end one. Fix: a splitter that, when a line is full, moves the break
   backwards until the next line does not start with closing punctuation and
   the current one does not end with opening punctuation (characters are
   pushed to the next line; nothing overflows). Only if no such position
   exists on the whole line -- possible only in boxes a few characters wide --
   up to four characters may overflow the margin; failing that the line is
   cut where it is full. It also avoids breaking inside runs of Latin
   letters/digits (giving up after half a line, e.g. for long URLs), never
   starts a line with a space, and never splits ``——`` or ``……``.

4. **``<br/>`` ignored** in CJK paragraphs (the forced break was skipped with
   ``continue``). The new splitter ends the line there.

5. **A character alone on the last line** (孤字): a list cell's name one character
   longer than its full lines printed that character alone under them, which reads
   as a misprint. The splitter moves the last break back (up to four characters, at
   a position the 禁则 allow) so that the last line of a paragraph holds at least two
   characters; closing punctuation rides with the character before it.

Lines are built as xhtml2pdf's ``makeCJKParaLine`` builds them (same
fragments, texts, ascent/descent -- a test compares the two), without one Python
object and one comparison per character, which made long paragraphs in table
cells, measured several times by the table, about twice as slow.

The patch is applied once per process (idempotent) by importing
:mod:`wizard.pdf.engine`; :func:`is_applied` tells whether it is active.
"""

from __future__ import annotations

import unicodedata
from importlib.metadata import version

from reportlab.lib.textsplit import ALL_CANNOT_END, ALL_CANNOT_START
from reportlab.pdfbase.pdfmetrics import getFont
from xhtml2pdf import reportlab_paragraph as rp

#: Characters that must not start a line: ReportLab's list plus Chinese
#: closing punctuation (GB/T 15834 / W3C CLREQ) and half-width closers.
CANNOT_START = frozenset(
    ALL_CANNOT_START
    + "，。、；：？！”’）》】」』〉〕〗〙｝］…‥·・‧％‰℃°′″～"
    + ",.;:?!)]}%"
)
#: Characters that must not end a line: ReportLab's list plus Chinese
#: opening punctuation and half-width openers.
CANNOT_END = frozenset(ALL_CANNOT_END + "“‘（《【「『〈〔〖〘｛［([{")
#: Marks that must not be split in two (——, ……).
_NO_SPLIT_PAIRS = frozenset("—…")

#: xhtml2pdf's own implementations, kept for :func:`revert`.
_ORIGINALS: dict[str, object] = {
    "cjkFragSplit": rp.cjkFragSplit,
    "_split_blParaHard": rp._split_blParaHard,
    "breakLinesCJK": rp.Paragraph.breakLinesCJK,
}


def _is_word_char(ch: str) -> bool:
    """Latin-like letters/digits: a break inside a run of them is avoided."""
    return ch.isascii() and ch.isalnum() or ("\u00c0" <= ch <= "\u024f")


def _is_space(ch: str) -> bool:
    return ch.isspace() or (len(ch) == 1 and unicodedata.category(ch) == "Zs")


def _break_ok(prev: str, nxt: str, *, soft: bool) -> bool:
    """May a line end after ``prev`` and the next one start with ``nxt``?"""
    if nxt in CANNOT_START or prev in CANNOT_END or _is_space(nxt):
        return False
    if prev == nxt and prev in _NO_SPLIT_PAIRS:
        return False
    return not (soft and _is_word_char(prev) and _is_word_char(nxt))


def _frag_text(f) -> str:
    text = getattr(f, "text", None)
    if text is None and hasattr(f, "words"):  # a kind-0 frag rebuilt by a split
        text = " ".join(w.decode("utf8") if isinstance(w, bytes) else w for w in f.words)
    if isinstance(text, bytes):
        text = text.decode("utf8")
    return text or ""


#: (font object, size) -> {character: advance width}, kept across paragraphs and renders: the
#: same few thousand characters are measured in every paragraph.  Keyed by the registered font
#: object (``pdfmetrics.getFont``), not its name, so a font registered again under the same name
#: (another PDF_FONT_PATH) is measured anew.  Emptied past _WIDTHS_MAX characters in all.
_widths: dict[tuple, dict[str, float]] = {}
_WIDTHS_MAX = 200_000
_widths_count = [0]


def _width_table(font_name: str, font_size: float) -> dict[str, float]:
    key = (getFont(font_name), font_size)
    table = _widths.get(key)
    if table is None:
        if _widths_count[0] > _WIDTHS_MAX:
            _widths.clear()
            _widths_count[0] = 0
        table = _widths[key] = {}
    return table


def _glyphs(frags):
    """Per character: text, owning fragment index and advance width (each character measured
    alone, ``stringWidth(ch)``, as the line breaking has always measured it); and where each
    fragment's characters end (every fragment has at least one, "" when it has no text)."""
    chars, owner, widths, ends = [], [], [], []
    for j, f in enumerate(frags):
        text = _frag_text(f)  # a page number's text is read once: it iterates, it has no len()
        run = list(text) if text else [""]
        chars.extend(run)
        owner.extend([j] * len(run))
        ends.append(len(chars))
        cb = getattr(f, "cbDefn", None)
        if cb is not None:  # inline image/box: its own width
            widths.extend([getattr(cb, "width", 0)] * len(run))
            continue
        table = _width_table(f.fontName, f.fontSize)
        missing = [ch for ch in run if ch not in table]
        for ch in missing:
            if ch not in table:
                table[ch] = rp.stringWidth(ch, f.fontName, f.fontSize)
                _widths_count[0] += 1
        widths.extend([table[ch] for ch in run])
    return chars, owner, widths, ends


class _LineBuilder:
    """Builds FragLines like xhtml2pdf's ``makeCJKParaLine``, without the
    per-character objects and comparisons (same result, several times faster
    on long text)."""

    def __init__(self, frags, chars, owner, widths, ends, calc_bounds):
        self.frags, self.chars, self.owner, self.widths, self.ends = frags, chars, owner, widths, ends
        self.calc_bounds = calc_bounds
        special = [hasattr(f, "cbDefn") or hasattr(f, "lineBreak") for f in frags]
        self.special = special
        # May a run of one fragment continue into the next one?
        self.joins_prev = [False] + [
            bool(rp._sameFrag(frags[j - 1], frags[j])) for j in range(1, len(frags))
        ]
        self._bounds: dict[int, tuple[float, float]] = {}

    def bounds(self, j):
        b = self._bounds.get(j)
        if b is None:
            f = self.frags[j]
            cb = getattr(f, "cbDefn", None)
            if self.calc_bounds and getattr(cb, "width", 0):
                descent, ascent = rp.imgVRange(cb.height, cb.valign, f.fontSize)
            else:
                ascent, descent = rp.getAscentDescent(f.fontName, f.fontSize)
            b = self._bounds[j] = (ascent, descent)
        return b

    def line(self, start, end, max_width):
        """FragLine for characters [start, end); trailing spaces hang."""
        chars, owner = self.chars, self.owner
        used_end = end
        while used_end > start and _is_space(chars[used_end - 1]):
            used_end -= 1
        extra = max_width - sum(self.widths[start:used_end])
        words = []
        max_size = max_ascent = min_descent = 0
        k = start
        ends, special, joins_prev = self.ends, self.special, self.joins_prev
        while k < end:
            # a word: the rest of this fragment's characters, and of the following fragments
            # that may continue it (a special fragment -- an inline box, a <br/> -- stands alone)
            j0 = owner[k]
            if special[j0]:
                m = k + 1
            else:
                m = min(end, ends[j0])
                while m < end and joins_prev[owner[m]]:
                    m = min(end, ends[owner[m]])
            for j in range(j0, owner[m - 1] + 1):
                f = self.frags[j]
                ascent, descent = self.bounds(j)
                max_size = max(max_size, f.fontSize)
                max_ascent = max(max_ascent, ascent)
                min_descent = min(min_descent, descent)
            word = self.frags[j0].clone()
            word.text = "".join(chars[k:m])
            words.append(word)
            k = m
        line = rp.FragLine(kind=1, extraSpace=extra, wordCount=1, words=words,
                           fontSize=max_size, ascent=max_ascent, descent=min_descent)
        line.cjkLine = True  # read by split_bl_para_hard below
        return line


_MAX_HANG = 4


def _hang(chars, owner, is_br, i, n) -> int:
    """Break position after overflowing by at most _MAX_HANG characters."""
    for b in range(i + 1, min(n, i + _MAX_HANG) + 1):
        if is_br[owner[b - 1]]:
            break
        if b == n or _break_ok(chars[b - 1], chars[b], soft=False):
            return b
    return i


#: how many characters the line above may give to a character left alone on the last line
_ORPHAN_PULL = 4


def _counted(chars, start, end) -> int:
    """Characters of chars[start:end] that count as text: closing punctuation rides with the
    character before it (a last line "料。" is still one character alone), spaces do not count."""
    return sum(1 for ch in chars[start:end] if ch and not _is_space(ch) and ch not in CANNOT_START)


def _no_orphans(lines, chars, widths, is_br, owner) -> None:
    """避免孤字: a paragraph's last line (the text's end, or before a ``<br/>``) never holds one
    character alone under a full line; the line above gives it characters (at most _ORPHAN_PULL,
    at a break the 禁则 allow, keeping at least two on the line above).  Changes ``lines`` (a list
    of (start, end, width)) in place."""
    fuzz = rp._FUZZ
    for k in range(1, len(lines)):
        start, end, width = lines[k]
        ends_paragraph = k == len(lines) - 1 or is_br[owner[end - 1]]
        prev_start, prev_end, prev_width = lines[k - 1]
        if not ends_paragraph or prev_end != start or is_br[owner[prev_end - 1]]:
            continue  # not a paragraph's last line, or the line above ended at a <br/>
        if _counted(chars, start, end) != 1:
            continue
        for b in range(start - 1, max(prev_start + 1, start - _ORPHAN_PULL) - 1, -1):
            if _counted(chars, prev_start, b) < 2 or _counted(chars, b, end) < 2:
                continue
            if not _break_ok(chars[b - 1], chars[b], soft=True):
                continue
            if sum(widths[b:end]) > width + fuzz:
                break  # the last line cannot take more
            lines[k - 1] = (prev_start, b, prev_width)
            lines[k] = (b, end, width)
            break


def cjk_frag_split(frags, maxWidths, calcBounds, encoding="utf8"):
    """Break fragments into lines character by character, obeying 禁则.

    Replacement for ``xhtml2pdf.reportlab_paragraph.cjkFragSplit``; same
    signature and return type (``ParaLines(kind=1, lines=[FragLine...])``).
    """
    chars, owner, widths, ends = _glyphs(frags)
    build = _LineBuilder(frags, chars, owner, widths, ends, calcBounds)
    is_br = [hasattr(f, "lineBreak") for f in frags]
    lines = []  # (start, end, width) of each line; built into FragLines at the end
    start = 0
    used = 0.0
    max_width = maxWidths[0]
    fuzz = rp._FUZZ

    def next_width():
        try:
            return maxWidths[len(lines)]
        except IndexError:
            return maxWidths[-1]

    i, n = 0, len(chars)
    while i < n:
        if is_br[owner[i]]:  # <br/>: forced break after it
            lines.append((start, i + 1, max_width))
            max_width = next_width()
            start, used, i = i + 1, 0.0, i + 1
            continue
        used += widths[i]
        # Spaces may hang in the margin; a glyph that does not fit ends the
        # line, unless it is alone on it (progress must be made).
        if used > max_width + fuzz and i > start and not _is_space(chars[i]):
            brk = None
            for soft in (True, False):
                # Keeping a Latin word whole may cost at most half a line.
                lowest = (start + i) // 2 if soft else start
                for b in range(i, lowest, -1):
                    if _break_ok(chars[b - 1], chars[b], soft=soft):
                        brk = b
                        break
                if brk is not None:
                    break
            if brk is None:
                # Only in very narrow boxes (e.g. "《书》。" on a 3-glyph line):
                # let up to _MAX_HANG characters overflow the margin rather
                # than break a rule; failing that, break where the line is full.
                brk = _hang(chars, owner, is_br, i, n)
            lines.append((start, brk, max_width))
            max_width = next_width()
            start = brk
            if brk > i:  # the overflowing characters went on this line
                i, used = brk, 0.0
                continue
            used = sum(widths[start:i + 1])
        i += 1
    if start < n:
        lines.append((start, n, max_width))
    _no_orphans(lines, chars, widths, is_br, owner)
    return rp.ParaLines(kind=1, lines=[build.line(a, b, w) for a, b, w in lines])


def break_lines_cjk(self, width):
    """Replacement for ``Paragraph.breakLinesCJK``: always the frag splitter.

    The original used ReportLab's ``wordSplit`` for one-fragment paragraphs
    (producing ``str`` lines that crash when drawn) -- see defect 1 above.
    """
    max_widths = list(width) if isinstance(width, list | tuple) else [width]
    style = self.style
    rp._handleBulletWidth(self.bulletText, style, max_widths, rtl=self.dir == "rtl")
    if not self.frags:
        return rp.ParaLines(kind=0, fontSize=style.fontSize, fontName=style.fontName,
                            textColor=style.textColor, lines=[],
                            ascent=style.fontSize, descent=-0.2 * style.fontSize)
    auto_leading = getattr(self, "autoLeading", getattr(style, "autoLeading", ""))
    calc_bounds = auto_leading not in {"", "off"}
    return rp.cjkFragSplit(self.frags, max_widths, calc_bounds, self.encoding)


def split_bl_para_hard(blPara, start: int, stop: int) -> list:
    """Replacement for ``_split_blParaHard``: no invented spaces in CJK lines.

    Identical to the original except that a separating space is only added
    after lines that did not come from :func:`cjk_frag_split` (defect 2).
    """
    out = []
    lines = blPara.lines[start:stop]
    for line in lines:
        out.extend(line.words)
        if line is lines[-1] or getattr(line, "cjkLine", False):
            continue
        i = len(out) - 1
        while i >= 0 and hasattr(out[i], "cbDefn") and not getattr(out[i].cbDefn, "width", 0):
            i -= 1
        if i >= 0:
            g = out[i]
            if not g.text:
                g.text = " "
            else:
                if isinstance(g.text, bytes):
                    g.text = g.text.decode("utf8")
                if g.text[-1] != " ":
                    g.text += " "
    return out


#: the xhtml2pdf release whose private paragraph code these replacements were written against
PATCHED_XHTML2PDF = "0.2.28"


def check_version() -> None:
    """Refuse to start on another xhtml2pdf release: its private internals may differ."""

    found = version("xhtml2pdf")
    if found != PATCHED_XHTML2PDF:
        raise RuntimeError(
            f"xhtml2pdf {PATCHED_XHTML2PDF} is required (wizard/pdf/cjk_patch.py patches its private "
            f"paragraph code), but {found} is installed: run `pip install -e .` to install the pinned version.")


def apply() -> None:
    """Install the replacements into ``xhtml2pdf.reportlab_paragraph`` (once)."""
    rp.cjkFragSplit = cjk_frag_split
    rp._split_blParaHard = split_bl_para_hard
    rp.Paragraph.breakLinesCJK = break_lines_cjk


def revert() -> None:
    """Restore xhtml2pdf's original code (used by tests to show the defects)."""
    rp.cjkFragSplit = _ORIGINALS["cjkFragSplit"]
    rp._split_blParaHard = _ORIGINALS["_split_blParaHard"]
    rp.Paragraph.breakLinesCJK = _ORIGINALS["breakLinesCJK"]


def is_applied() -> bool:
    """True when all three replacements are installed."""
    return (rp.cjkFragSplit is cjk_frag_split
            and rp._split_blParaHard is split_bl_para_hard
            and rp.Paragraph.breakLinesCJK is break_lines_cjk)
