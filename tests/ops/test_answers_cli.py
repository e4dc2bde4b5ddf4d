"""The command-line answers import never loses data: it merges by default, refuses unknown keys
at any depth and fields of the other category, names labels, years, rows and columns, and says
what it changed; `submissions` lists what a newcomer needs to name a submission."""
import json

import pytest

from factories import ALLOY, LINXIANG, submission_of
from fill import complete_answers
from wizard.extensions import db


@pytest.fixture
def filled(app):
    """The alloy cluster's preliminary report, complete."""
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = complete_answers("preliminary", sub.cluster.category)
        db.session.commit()
        return sub.id, dict(sub.preliminary_answers)


def stored(app, cluster=ALLOY):
    with app.app_context():
        return submission_of(cluster).answers_for("preliminary")


def run_import(runner, tmp_path, ref, answers, *extra):
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({"answers": answers}, ensure_ascii=False), encoding="utf-8")
    return runner.invoke(args=["answers", "import", str(ref), str(path), *extra])


def test_a_partial_document_changes_only_what_it_names(app, runner, tmp_path, filled):
    sid, before = filled
    r = run_import(runner, tmp_path, sid, {"industry_field": "汽车"})
    assert r.exit_code == 0, r.output
    after = stored(app)
    assert after["industry_field"] == "汽车"
    assert after["top10"] == before["top10"] and after["output_total"] == before["output_total"]
    assert "新增 0 个字段，修改 1 个，清空 0 个" in r.output


def test_replace_clears_what_the_document_leaves_out_and_says_so(app, runner, tmp_path, filled):
    sid, before = filled
    r = run_import(runner, tmp_path, sid, {"industry_field": "汽车"}, "--replace")
    assert r.exit_code == 0, r.output
    after = stored(app)
    assert after["industry_field"] == "汽车" and not after.get("top10") and not after.get("output_total")
    cleared = int(r.output.split("清空 ")[1].split(" ")[0])
    assert cleared >= 50


@pytest.mark.parametrize("answers,message", [
    ({"top10": [{"name": "甲", "market_sharee": "1"}]}, "“营业收入排名前十企业"),
    ({"output_total": {"y1": "1", "y3": "2"}}, "中的未知项：“y3”"),
    ({"sme_share": {"y1": "1", "y2": "2"}}, "不适用于本集群的申报类别"),
    ({"nope": 1}, "未知字段：nope"),
])
def test_unknown_keys_and_other_category_fields_are_refused_with_nothing_changed(app, runner, tmp_path, filled,
                                                                                  answers, message):
    sid, before = filled
    r = run_import(runner, tmp_path, sid, answers)
    assert r.exit_code != 0 and message in r.output, r.output
    assert "未导入任何内容" in r.output
    assert stored(app) == before


def test_messages_name_the_section_label_row_column_and_year(app, runner, tmp_path, filled):
    sid, _ = filled
    r = run_import(runner, tmp_path, sid, {"top10": [{"name": "甲"}, {"name": "乙"}, {"name": "丙", "market_share": "x"}],
                                           "output_total": {"y1": "abc", "y2": "1"}})
    assert r.exit_code != 0
    assert "第 3 行 国内市场占有率" in r.output and "market_share-" not in r.output
    assert "2021年" in r.output and "output_total-y1" not in r.output


def test_export_leaves_blank_values_out(app, runner, filled):
    sid, _ = filled
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.preliminary_answers = {**sub.preliminary_answers, "industry_field": "", "top10": []}
        db.session.commit()
    doc = json.loads(runner.invoke(args=["answers", "export", str(sid)]).output)
    assert "industry_field" not in doc["answers"] and "top10" not in doc["answers"]
    assert doc["answers"]["output_total"]


def test_submissions_are_listed_and_named_by_cluster(app, runner, tmp_path):
    r = runner.invoke(args=["submissions"])
    assert r.exit_code == 0 and ALLOY in r.output and LINXIANG in r.output and "草稿" in r.output
    r = run_import(runner, tmp_path, LINXIANG, {"industry_field": "钓具"})
    assert r.exit_code == 0, r.output
    assert stored(app, LINXIANG)["industry_field"] == "钓具"
    r = runner.invoke(args=["answers", "export", "没有这个集群"])
    assert r.exit_code != 0 and "flask --app wizard submissions" in r.output
