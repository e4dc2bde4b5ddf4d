"""The report's body on the reviewers' pages is written from skeletons (issue #25: the body of a
report not shown before cost about 5 ms of Jinja a page; report/fragments.py written_body): the
body's frame once per report, years and category, each field's macro once per path it takes
through the answers.  Whatever the answers of the submission shown next — empty, partly filled,
figures typed as numbers, markup typed into every text, rows that are not rows, an opinion or
none, files in the appendix or none, another category — a reviewer reads exactly what the
report's templates write for them (the body's macro rendered as it is, field by field)."""
import copy

import pytest

from factories import ALLOY, LINXIANG, submission_of, submitted
from fill import complete_answers
from wizard.evidence.storage import Appendix, appendix, files_of
from wizard.report.definition import get_report
from wizard.report.fragments import report_body_html

ROUND = "preliminary"
MARK = '<b>甲 & "乙" \'丙\'</b>%(s0)s %s \ue004s0\ue005\ue008'


def _marked(value):
    """Markup (and format and slot look-alikes) typed into every text of the answers."""
    if isinstance(value, str):
        return MARK + value
    if isinstance(value, dict):
        return {k: _marked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_marked(v) for v in value]
    return value


def _as_numbers(value):
    """Figures stored as numbers rather than the texts the forms save."""
    if isinstance(value, dict):
        return {k: _as_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_numbers(v) for v in value]
    if isinstance(value, str):
        try:
            return int(value) if value.isdigit() else float(value)
        except ValueError:
            return value
    return value


def _partly(answers):
    """Every other answer left out, others emptied, odd rows and cells."""
    out = {}
    for k, (key, value) in enumerate(sorted(answers.items())):
        if k % 3 == 0:
            continue
        if k % 3 == 1:
            out[key] = None if k % 2 else ("" if isinstance(value, str) else type(value)())
        else:
            out[key] = value
    for key, value in answers.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            first = dict(value[0])
            first[next(iter(first))] = None
            out[key] = ["not a row", first, {}, *value[1:2]]
        elif isinstance(value, dict) and key in out and len(value) > 1:
            out[key] = {next(iter(value)): value[next(iter(value))]}
    return out


def _variants():
    full = complete_answers(ROUND, "advanced")
    return [full, {}, _marked(full), _as_numbers(full), _partly(full), _marked(_partly(full)),
            {k: (" " if isinstance(v, str) else v) for k, v in full.items()}]


def _evidence_cases(sub):
    files = files_of(sub, ROUND)
    every_slot = Appendix(refs={f.key: f"见佐证材料第 {n + 1} 页 <i>&</i>" for n, f in enumerate(get_report(ROUND).fields)
                                if f.evidence or f.kind == "evidence"})
    return [appendix(sub, ROUND, files=files), None, every_slot, Appendix()]


OPINIONS = [None, {"text": "同意推荐。\n第二段 <script>&</script>", "by": "某县人民政府", "person": "张三",
                   "date_text": "2026年5月1日"}, {"text": "", "by": "某县人民政府", "date_text": "2026年5月2日"}]


@pytest.mark.parametrize("cluster", [ALLOY, LINXIANG])
def test_a_reviewer_reads_what_the_templates_write_for_any_answers(app, people, cluster):
    with app.test_request_context("/admin/"):
        sub = submitted() if cluster == ALLOY else submission_of(cluster)
        report, years = get_report(ROUND), sub.edition.years
        body = app.jinja_env.get_template("report/_body.html").make_module({})
        cases = [(answers, opinion, ev) for answers in _variants() for opinion in OPINIONS[:2]
                 for ev in _evidence_cases(sub)[:2]]
        cases += [(_variants()[0], OPINIONS[2], ev) for ev in _evidence_cases(sub)]
        for rounds in range(2):  # the second time every field's skeleton is kept: filled, not written
            for answers, opinion, ev in cases:
                expected = str(body.written_body(report, copy.deepcopy(answers), sub, years, False, opinion, ev, None))
                shown = str(report_body_html(body.written_body, report, copy.deepcopy(answers), sub, years,
                                             opinion=opinion, ev=ev, partials=body.kind_partials,
                                             appendix=body.appendix))
                assert shown == expected
        if cluster == ALLOY:  # what the cases show: the answers as typed, escaped; the appendix's files
            ev = _evidence_cases(sub)[0]
            marked = str(report_body_html(body.written_body, report, _marked(_variants()[0]), sub, years, ev=ev,
                                          partials=body.kind_partials, appendix=body.appendix))
            assert "&lt;b&gt;甲 &amp; &#34;乙&#34; &#39;丙&#39;&lt;/b&gt;%(s0)s %s \ue004s0\ue005\ue008" in marked
            assert "<b>" not in marked
            assert ev.placed and all(p.file.original_name in marked for p in ev.placed)


def test_the_printed_report_is_written_by_the_templates_as_before(app, people):
    """The paper's body (the PDF) never takes the skeletons: the same text as its macro writes."""
    with app.test_request_context("/admin/"):
        sub = submitted()
        report, years = get_report(ROUND), sub.edition.years
        body = app.jinja_env.get_template("report/_body.html").make_module({})
        answers = _marked(complete_answers(ROUND, "advanced"))
        from types import SimpleNamespace
        paper = SimpleNamespace(corners={}, hand=SimpleNamespace(more="", unlimited=800, per_row=40, row_cm=0.8))
        expected = str(body.written_body(report, answers, sub, years, False, None, None, paper))
        shown = str(report_body_html(body.written_body, report, answers, sub, years, paper=paper,
                                     partials=body.kind_partials, appendix=body.appendix))
        assert shown == expected and "pdf:condpagebreak" in shown


def test_a_narrative_reads_as_its_paragraphs(app, people):
    """A narrative's paragraphs (written from text_block's skeleton): one per line that is not
    blank, each escaped, as text_block's loop writes them."""
    from wizard.report.fragments import paragraphs
    with app.test_request_context("/admin/"):
        text_block = app.jinja_env.get_template("report/_shared.html").make_module({}).text_block
        texts = ["", "一段", "第一段\n\n  \n第二段 <b>&</b>\n\u3000\n 第三段 ", "\r\n".join(["甲", "乙"]), "%s %(a)s \ue004a\ue005",
                 "\n\n\n"]
        for text in texts:
            assert str(paragraphs(text_block, text)) == str(text_block(text))
        assert str(paragraphs(text_block, "甲\n乙 <i>")) == '<p class="para">甲</p><p class="para">乙 &lt;i&gt;</p>'
