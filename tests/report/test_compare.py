"""Comparisons (issue #14): every value of a row of numbers is named by its year, changes come
first and all items only behind a toggle; the same comparison serves the round comparison, the
changes since a return and the two-tab conflict of a wizard step."""
import html
import re

from factories import ALLOY, attach_declarations, submission_of, user_named
from fill import complete_answers
from wizard.extensions import db
from wizard.report.compare import compare_files, compare_rounds, compare_submissions, labelled_value, step_changes
from wizard.report.definition import get_report
from wizard.workflow.moves import apply_move

YEARS = {"y1": 2021, "y2": 2022, "t1": 2023, "t2": 2024, "t3": 2025}


def text_of(markup):
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)))


def test_a_row_of_numbers_names_each_value_by_its_year(app):
    with app.app_context():
        pre = complete_answers("preliminary")
        fin = {k: v for k, v in pre.items() if get_report("final").field(k)}
        fin["output_total"] = dict(fin["output_total"], y2="131.7")
        diff = compare_rounds(pre, fin, "advanced", YEARS)
    changed = {f.key: f for f in diff.fields if f.changed}
    assert set(changed) == {"output_total"}
    f = changed["output_total"]
    assert f.before == "2021年：100；2022年：125.5" and f.after == "2021年：100；2022年：131.7"
    assert [(p.label, p.changed) for p in f.parts] == [("2021年", False), ("2022年", True)]


def test_targets_and_park_rows_name_their_values_as_the_definition_does(app):
    with app.app_context():
        plan = get_report("preliminary").field("target_output")
        park = get_report("preliminary").field("park_gdp")
        assert labelled_value(plan, {"base": "1", "t1": "2", "t3": "4"}, YEARS) == \
            "上一年实际值：1；2023年发展目标：2；2024年发展目标：—；2025年发展目标：4"
        assert labelled_value(park, {"y1_total": "300", "y1_cluster": "100"}, YEARS).startswith(
            "2021年园区总额：300；2021年其中：集群产业：100；")
        assert labelled_value(plan, {}, YEARS) == ""


def test_two_submissions_of_one_round_list_exactly_the_changed_fields(app):
    with app.app_context():
        before = complete_answers("preliminary")
        after = dict(before, industry_field="新一代合金材料", org_head_phone="0731-12345678",
                     top10=[dict(before["top10"][0], name="新企业")])
        diff = compare_submissions(before, after, "preliminary", "advanced", YEARS)
    assert [f.key for f in diff.only_changed().fields] == ["industry_field", "org_head_phone", "top10"]
    labels = {f.key: f.label for f in diff.changed_fields}
    assert labels["org_head_phone"] == "集群促进组织·电话"  # the group names which of four 电话
    assert diff.only_preliminary == () and diff.only_final == ()
    assert "营业收入（亿元）2021年" in diff.only_changed().fields[2].columns


def test_the_two_tab_conflict_lists_the_steps_changed_fields_with_years(app):
    with app.app_context():
        step = get_report("preliminary").step("indicators")
        saved = complete_answers("preliminary")
        posted = {k: saved[k] for k in ("output_total", "leading_output", "revenue")}
        posted["output_total"] = {"y1": "0.82", "y2": "0.76"}
        changes = step_changes(step, saved, posted, YEARS)
    assert [c.key for c in changes] == ["output_total"]
    assert changes[0].after == "2021年：0.82；2022年：0.76"
    assert changes[0].before == "2021年：100；2022年：125.5"


def test_evidence_files_added_and_removed():
    labels = {"other_evidence": "其他佐证材料"}
    old = {"slot": "other_evidence", "name": "旧.pdf", "sha256": "a"}
    new = {"slot": "other_evidence", "name": "新.pdf", "sha256": "b"}
    changes = compare_files([old], [new], labels)
    assert [(c.slot_label, c.name, c.added) for c in changes] == [
        ("其他佐证材料", "旧.pdf", False), ("其他佐证材料", "新.pdf", True)]
    assert compare_files([old], [dict(old, name="改名.pdf")], labels) == ()  # same slot, same content


def finalist_with_two_changes():
    """Submitted, approved, accepted and advanced; the final report differs in two fields."""
    sub = submission_of(ALLOY)
    sub.preliminary_answers = complete_answers("preliminary")
    db.session.commit()
    attach_declarations(sub, rounds=("preliminary",))
    apply_move(sub, "submit", user_named("applicant-a"))
    apply_move(sub, "county_approve", user_named("county-x"), comment="同意推荐参赛。")
    apply_move(sub, "accept", user_named("admin"))
    apply_move(sub, "advance", user_named("admin"))
    sub.final_answers = dict(sub.final_answers, declaration_agree=True, industry_field="新一代合金材料",
                             output_total={"y1": "100", "y2": "999"})
    db.session.commit()
    return sub.id


def test_the_round_comparison_lists_changes_first_and_all_items_behind_a_toggle(app, client, auth, people):
    with app.app_context():
        sid = finalist_with_two_changes()
        years = submission_of(ALLOY).edition.years
    auth.login("admin")
    page = client.get(f"/admin/submissions/{sid}/compare").get_data(as_text=True)
    first, _, rest = page.partition("<details")
    assert rest, "all items sit in a <details> toggle"
    changes = first[first.index("compare-changes"):]
    rows = [text_of(x).replace("（有变化）", "").strip() for x in re.findall(r'<th scope="row">(.*?)</th>', changes, re.S)]
    assert rows == ["产业领域", "集群总产值（亿元）"]
    text = text_of(changes)
    assert f"{years['y2']}年： 125.5" in text and f"{years['y2']}年： 999" in text and f"{years['y1']}年： 100" in text
    assert "0.82 / 0.76" not in page and "100 / 999" not in page
    summary = text_of(rest[:rest.index("</summary>")])
    assert re.search(r"显示全部 \d+ 项", summary)
    assert "集群发展总体情况自评报告" in text_of(rest) and "集群发展总体情况自评报告" not in text_of(changes)
    only = client.get(f"/admin/submissions/{sid}/compare?changed=1").get_data(as_text=True)
    assert "<details" not in only and "显示全部项目" in text_of(only)


def test_the_conflict_table_macro_links_each_changed_field_and_names_the_years(app):
    """What the wizard step's two-tab conflict renders (templates/report/_compare.html)."""
    with app.app_context(), app.test_request_context():
        step = get_report("preliminary").step("basic")
        saved = complete_answers("preliminary")
        posted = {"industry_field": "新材料", "org_head_phone": saved["org_head_phone"]}
        changes = step_changes(step, saved, posted, YEARS)
        macro = app.jinja_env.get_template("report/_compare.html").module.diff_table
        markup = str(macro(changes, "当前已保存的内容", "您的内容", link=True))
    assert [c.key for c in changes] == ["industry_field"]
    assert '<a href="#f-industry_field">产业领域</a>' in markup
    heads = re.findall(r'<th scope="col">(.*?)</th>', markup)
    assert heads == ["项目", "当前已保存的内容", "您的内容"]
    assert '<td class="diff-new">新材料</td>' in markup
