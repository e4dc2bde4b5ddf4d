"""No character left alone on the last line of a list cell (issue 23, item 15), measured with
pdfplumber: the names of a 2.5 list grow one character a row, so that, whatever the column's
width, some name is one character longer than its lines hold; each name's cell must end with a
line of at least two characters (a lone 厂 under a full line reads as a misprint).  The pages
holding the list are found with tests/pdfread.py; pdfplumber's table finder reads only those."""
import re
from collections import defaultdict

from pdfread import page_texts, plumber_pages
from factories import ALLOY, submission_of
from fill import complete_answers
from wizard.extensions import db
from wizard.pdf.cjk_patch import CANNOT_START
from wizard.pdf.report import report_pdf

#: one name per row: 14 to 48 characters, so every column width up to 2 lines meets a name
#: exactly one character longer than its full lines
WORDS = "湖南省长沙经济技术开发区新型合金材料绿色制造示范工厂国家级绿色供应链管理示范企业及绿色设计产品名单"
NAMES = [WORDS[:n] for n in range(14, 49)]


def cell_lines(page, cell):
    """The text lines of one table cell, top to bottom (characters grouped by baseline)."""
    x0, top, x1, bottom = cell
    lines = defaultdict(list)
    for c in page.chars:
        if x0 <= c["x0"] and c["x1"] <= x1 + 0.5 and top <= c["top"] and c["bottom"] <= bottom + 0.5:
            lines[round(c["top"])].append(c)
    return ["".join(c["text"] for c in sorted(lines[t], key=lambda c: c["x0"])) for t in sorted(lines)]


def counted(line):
    """The characters of a line that count as text (closing punctuation rides with the one before)."""
    return [ch for ch in line if not ch.isspace() and ch not in CANNOT_START]


def test_no_list_cell_ends_with_a_character_alone(app):
    with app.app_context(), app.test_request_context():
        sub = submission_of(ALLOY)
        answers = complete_answers("preliminary")
        answers["green_list"] = [{"name": name, "level": "省级", "approver": "湖南省工业和信息化厅",
                                  "approved_at": "2022年"} for name in NAMES]
        sub.preliminary_answers = answers
        db.session.commit()
        pdf = report_pdf(sub, "preliminary")
    seen, wrapped, lone = 0, 0, []
    listed = [i for i, text in enumerate(page_texts(pdf)) if WORDS[:4] in re.sub(r"\s+", "", text)]
    with plumber_pages(pdf, listed) as pages:  # every page where a name (or its first line) is
        for page in pages:
            for table in page.find_tables():
                for cell in table.cells:
                    lines = cell_lines(page, cell)
                    text = "".join(lines)
                    if text not in NAMES:
                        continue
                    seen += 1
                    wrapped += len(lines) > 1
                    if len(lines) > 1 and len(counted(lines[-1])) < 2:
                        lone.append(lines)
    assert seen == len(NAMES)  # every name was found in its cell
    assert wrapped > len(NAMES) // 2  # the longer names do wrap
    assert lone == [], lone
