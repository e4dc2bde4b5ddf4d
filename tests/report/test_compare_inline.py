"""Comparisons of long texts mark the deleted and inserted characters inside the text (issue #23
item 8): a removed sentence or a "（决赛）" prefix is seen at a glance, not two whole paragraphs."""
import re

from flask import render_template_string

from wizard.report.compare import compare_submissions, inline_diff

YEARS = {"y1": 2021, "y2": 2022, "t1": 2023, "t2": 2024, "t3": 2025}
LONG = ("集群以新型合金材料为主导，形成了从冶炼、加工到应用的完整产业链。" * 12
        + "今年新建生产线5条，研发投入持续增长。" + "集群内企业协同创新，成果转化明显加快。" * 12)


def marks(pieces, kind):
    return [p.text for p in pieces if p.kind == kind]


def test_a_prefix_and_a_changed_number_are_the_only_marks():
    before, after = inline_diff(LONG, "（决赛）" + LONG.replace("5条", "12条"))
    assert marks(before, "del") == ["5"]
    assert marks(after, "ins") == ["（决赛）", "12"]  # a number stays whole, never "1" + "2"
    assert "".join(p.text for p in before) == LONG  # both sides read as the texts themselves


def test_a_deleted_sentence_is_one_mark():
    sentence = "今年新建生产线5条，研发投入持续增长。"
    before, after = inline_diff(LONG, LONG.replace(sentence, ""))
    assert marks(before, "del") == [sentence]
    assert marks(after, "ins") == []


def test_unrelated_texts_are_marked_whole():
    before, after = inline_diff("甲乙丙丁", "天地玄黄宇宙洪荒")
    assert marks(before, "del") == ["甲乙丙丁"] and marks(after, "ins") == ["天地玄黄宇宙洪荒"]


def test_the_county_comparison_renders_the_marks(app):
    with app.app_context():
        comparison = compare_submissions({"org_operation": LONG}, {"org_operation": "（决赛）" + LONG},
                                         "preliminary", "advanced", YEARS)
        with app.test_request_context():
            html = render_template_string('{% from "report/_compare.html" import sections_table %}'
                                          '{{ sections_table(c.only_changed().sections, "退回前", "重新提交") }}',
                                          c=comparison)
    assert '<ins class="diff-ins">（决赛）</ins>' in html
    assert "diff-new" not in html  # no whole paragraph in green beside a whole one in red
    assert html.count("<del") == 0 and len(re.findall(r"<ins ", html)) == 1
