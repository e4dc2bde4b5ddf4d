"""One rule, one implementation (issue #24): where the page (static/js/wizard.js) repeats a rule of
the server, it shows what the server computes.  Each pair is fed the same inputs — typed into the
real step page in Chromium, and given to the server's own function — and the two must agree:

- 增幅 while typing ↔ report/numbers.growth and points (the report, the PDF and the workbook print
  these): negative, zero, missing, refused and ordinary bases;
- the character counter ↔ numbers.count_chars of the text as text.clean_text stores it;
- the upload size message ↔ evidence/names.file_size;
- a table's row limit ↔ the definition's max_rows, which the server enforces;
- a line of text's length ↔ the form's limit in characters (code points, not UTF-16 units).

Telephone numbers: the page has no rule of its own for them (the server normalises and checks
what is posted), so there is no pair to hold.
"""
import random
import re

import pytest

from browserkit import expect
from factories import ALLOY, submission_of
from wizard.evidence.names import file_size
from wizard.report.definition import get_report
from wizard.report.numbers import MAX_DECIMALS, MAX_MAGNITUDE, change, count_chars, growth, points
from wizard.text import clean_text

INDICATORS = "/applicant/step/indicators"

# (first year, second year): what an applicant may type into a signed indicator's row
GROWTH_CASES = [
    ("-100", "-50"),                 # a loss that halves: the report prints 50.00 (the page showed -50.00)
    ("-2.5", "-1"),                  # 60.00 (the page showed -60.00)
    ("-100", "50"), ("100", "-50"), ("-3", "-4.5"),
    ("100", "125.5"), ("3", "1"), ("7", "1"), ("1.005", "2"), ("8", "8.0001"),
    ("0", "5"), ("0", "0"), ("-0", "3"), ("0.0000", "1"),    # no base: —
    ("", "5"), ("5", ""), ("", ""), ("abc", "1"),            # missing or not a number: —
    ("８０", "１００"), ("１２３４．５", "1000"), ("1,234.5", "2,000"), (" 12 ", "13"), ("+5", ".5"), ("5.", "6"),
    ("−100", "－50"),                # U+2212 and the full-width minus are minus signs
    ("1,5", "2"), ("12,34", "13"),   # a decimal comma is refused
    ("1.23456", "2"),                # more decimals than numbers.MAX_DECIMALS
    ("999999999999.9999", "1"), ("1000000000000", "1"),     # MAX_MAGNITUDE
    ("10²", "3"), ("①", "3"), ("١", "3"),                    # look-alike digits are refused
    ("100000", "99999.9999"),        # rounds to zero: 0.00, never -0.00
    ("0.0001", "999999999999.9999"),  # a huge growth, exactly
    ("3", "1e3"), ("NaN", "1"),
]
POINTS_CASES = [
    ("12.5", "13.7"), ("13.7", "12.5"), ("12.5", "12.5"), ("1.001", "1"), ("1", "1.005"), ("1", "0.995"),
    ("", "3"), ("-5", "5"), ("1,5", "2"), ("９９．５", "100"),
]


def step_page(tab):
    tab.login("applicant-a")
    return tab.goto(INDICATORS)


def test_growth_while_typing_is_what_the_report_prints(tab):
    page = step_page(tab)
    cell = page.locator("#f-profit td.growth output")
    assert cell.get_attribute("data-max-decimals") == str(MAX_DECIMALS)
    assert cell.get_attribute("data-max-magnitude") == format(MAX_MAGNITUDE, "f")
    for first, second in GROWTH_CASES:
        page.locator("#profit-y1").fill(first)
        page.locator("#profit-y2").fill(second)
        expect(cell, f"增幅 of {first!r} → {second!r}").to_have_text(growth(first, second))
    share = page.locator("#f-leading_provincial_share td.growth output")
    for first, second in POINTS_CASES:
        page.locator("#leading_provincial_share-y1").fill(first)
        page.locator("#leading_provincial_share-y2").fill(second)
        expect(share, f"个百分点 of {first!r} → {second!r}").to_have_text(points(first, second))
    tab.shot("growth-pairs")


def test_a_saved_loss_shows_the_same_growth_on_the_page_and_in_the_report(app, tab):
    page = step_page(tab)
    page.locator("#profit-y1").fill("-100")
    page.locator("#profit-y2").fill("-50")
    cell = page.locator("#f-profit td.growth output")
    expect(cell).to_have_text("50.00")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".flash-success").first).to_contain_text("已保存")
    with app.app_context():
        answers = submission_of(ALLOY).preliminary_answers
    profit = next(f for f in get_report("preliminary").fields if f.key == "profit")
    assert answers["profit"] == {"y1": "-100", "y2": "-50"}
    expect(cell).to_have_text(change(profit, answers["profit"]))  # the server's figure, kept by the page
    tab.shot("saved-loss")


def random_number(rng):
    digits = rng.choice([1, 1, 2, 3, 5, 8, 12])
    whole = str(rng.randrange(10 ** digits)) if rng.random() > 0.1 else "0"
    frac = "".join(rng.choice("0123456789") for _ in range(rng.choice([0, 0, 1, 2, 3, 4])))
    return ("-" if rng.random() < 0.3 else "") + whole + ("." + frac if frac else "")


def test_the_page_and_the_server_compute_the_same_growth_over_many_numbers(tab):
    """A sweep of the same function the page uses while typing, with the limits the page carries."""
    page = step_page(tab)
    rng = random.Random(24)
    pairs = [(random_number(rng), random_number(rng)) for _ in range(1500)]
    shown = page.locator("#f-profit td.growth output").evaluate(
        """(cell, pairs) => {
             const limits = {decimals: parseInt(cell.dataset.maxDecimals, 10), magnitude: BigInt(cell.dataset.maxMagnitude)};
             return pairs.map(([a, b]) => [window.HNWizard.computeGrowth('relative', a, b, limits),
                                           window.HNWizard.computeGrowth('points', a, b, limits)]);
           }""", pairs)
    expected = [[growth(a, b), points(a, b)] for a, b in pairs]
    differ = [(p, s, e) for p, s, e in zip(pairs, shown, expected) if s != e]
    assert differ == []


# --- counting characters ----------------------------------------------------------------------

COUNT_CASES = [
    "集群 促进\n组织",
    "甲" * 1000 + "\u200b" * 5,          # 1000 characters: zero-width spaces are not stored, not over
    "a\u200bb\u200c\u200d\u2060\ufeffc",  # zero-width characters
    "\u202eabc\u202c\u2066d\u2069\u200e\u200f\u061c",  # bidi controls
    "x\x85y\x1cz\x1d\x1e\x1f",           # NEL and the separators: Python's whitespace, or not stored
    "a\x00b\x07c\x7f",                    # control characters: not stored
    "𠀀𠀁𪚥",                              # astral characters count one each
    "a\u00a0b\u3000c\u2003d\u202fe\u205ff\u1680g",   # spaces of every kind
    "e\u0301 👍🏽 😀",                    # combining marks and emoji modifiers: code points
    "\t\t行首\r\n行尾\r",
]


def server_count(text):
    return count_chars(clean_text(text, multiline=True))


def test_the_character_counter_counts_what_the_server_counts(tab):
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/org")
    box, counter = page.locator("#org_operation"), page.locator("#org_operation-counter")
    limit = next(f for f in get_report("preliminary").fields if f.key == "org_operation").max_chars
    for text in COUNT_CASES:
        box.evaluate("(el, text) => { el.value = text; el.dispatchEvent(new Event('input', {bubbles: true})); }", text)
        n = server_count(text)
        expected = f"已输入 {n} / {limit} 字" + (f"（超出 {n - limit} 字）" if n > limit else "")
        expect(counter, repr(text[:40])).to_have_text(expected)
        expect(counter).to_have_class(re.compile(r"\bover\b") if n > limit else re.compile(r"^(?!.*\bover\b)"))
    rng = random.Random(24)
    pool = "甲乙 \t\n\u3000\u00a0\u200b\ufeff\x85\x1c\x00\u202e𠀀ab1，。😀\u0301\u2028\u2029\x0b\x0c"
    texts = ["".join(rng.choice(pool) for _ in range(rng.randrange(0, 40))) for _ in range(500)]
    counted = page.evaluate("texts => texts.map(t => window.HNWizard.countChars(t))", texts)
    assert [(t, c) for t, c in zip(texts, counted) if c != server_count(t)] == []
    tab.shot("counted")


# --- file sizes in the upload check -----------------------------------------------------------

def test_the_upload_check_names_sizes_as_the_server_does(app, tab):
    app.config["UPLOAD_MAX_FILE_BYTES"] = 1280  # 1.25 KB, a tie: the server rounds it to even, 1.2 KB
    page = step_page(tab)
    sizes = [0, 1, 1023, 1024, 1075, 1126, 1280, 1331, 1536, 10 * 1024, 1024 * 1024 - 1, 1024 * 1024,
             1310720, 1363149, 15 * 1024 * 1024, 20 * 1024 * 1024 + 52429, 100 * 1024 * 1024]
    rng = random.Random(24)
    sizes += [rng.randrange(1, 200 * 1024 * 1024) for _ in range(500)]
    shown = page.evaluate("sizes => sizes.map(n => window.HNWizard.fileSize(n))", sizes)
    assert [(n, s) for n, s in zip(sizes, shown) if s != file_size(n)] == []
    # and in the message itself: a file over the limit, named in the server's words
    page.locator("#evf-listed_enterprises").set_input_files(
        files=[{"name": "过大.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n" + b"%" * 1322}])
    expect(page.locator(".upload-size-error")).to_contain_text(
        f"“过大.pdf”大小为 {file_size(1331)}，超过单个文件 {file_size(1280)} 的上限")


# --- a table's row limit ------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["top10"])
def test_a_table_takes_as_many_rows_as_the_server_accepts(app, tab, key):
    field = next(f for f in get_report("preliminary").fields if f.key == key)
    page = step_page(tab)
    table = page.locator(f'table[data-table="{key}"]')
    assert table.get_attribute("data-max-rows") == str(field.max_rows)
    add = page.locator(f'button[data-add-row="{key}"]')
    rows = table.locator("tbody tr")
    for i in range(field.max_rows):
        page.locator(f"#{key}-{i}-name").fill(f"企业{i + 1}")
        page.locator(f"#{key}-{i}-product").fill("合金")
        page.locator(f"#{key}-{i}-revenue_y1").fill("1")
        page.locator(f"#{key}-{i}-revenue_y2").fill("2")
        if i + 1 < field.max_rows:
            add.click()
            expect(rows).to_have_count(i + 2)
    expect(add).to_be_disabled()
    expect(page.locator(f"#f-{key}")).to_contain_text(f"最多 {field.max_rows} 行")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".flash-success").first).to_contain_text("已保存")
    with app.app_context():
        assert len(submission_of(ALLOY).preliminary_answers[key]) == field.max_rows
    tab.shot("rows-full")


# --- a line of text's length ------------------------------------------------------------------

def test_a_line_of_text_takes_as_many_characters_as_the_server_accepts(app, tab):
    """The server counts code points; a browser's maxlength counts UTF-16 units, so a name of rare
    characters (𠀀, outside the Basic Multilingual Plane) was cut at half the limit.  The page now
    leaves the length to the server, which refuses a longer text with a message and keeps it."""
    field = next(f for f in get_report("preliminary").fields if f.key == "industry_field")
    tab.login("applicant-a")
    page = tab.goto("/applicant/step/basic")
    box = page.locator("#industry_field")
    assert box.get_attribute("maxlength") is None
    box.fill("𠀀" * field.max_length)
    assert box.evaluate("e => Array.from(e.value).length") == field.max_length
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".flash-success").first).to_contain_text("已保存")
    with app.app_context():
        assert submission_of(ALLOY).preliminary_answers["industry_field"] == "𠀀" * field.max_length
    box.fill("甲" * (field.max_length + 1))
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#f-industry_field")).to_contain_text(f"最多 {field.max_length} 个字符。")
    expect(page.locator("#industry_field")).to_have_value("甲" * (field.max_length + 1))  # kept as typed
    tab.shot("line-length")
