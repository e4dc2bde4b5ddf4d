"""The county reviewer's submission page (issue #14): the decision after the report with a jump
link at the top, approve as the primary button and return as the danger one, what changed since
a return (only the changed fields, each value named by its year), and success messages that say
what was done to whom."""
import html
import re

from factories import ALLOY, attach, csrf_from, submitted, user_named
from wizard.extensions import db
from wizard.models import Submission
from wizard.workflow.moves import apply_move


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)))


def section(page: str, element_id: str) -> str:
    """The markup of the element with this id, up to its closing tag (sections and divs do not nest here)."""
    start = page.index(f'id="{element_id}"')
    tag = page.rfind("<", 0, start)
    name = re.match(r"<(\w+)", page[tag:]).group(1)
    return page[tag:page.index(f"</{name}>", start)]


def post_move(client, sid, move, comment="", follow=True):
    page = client.get(f"/county/submissions/{sid}")
    token = csrf_from(page)
    version = re.search(r'name="version" value="(\d+)"', page.get_data(as_text=True)).group(1)
    return client.post(f"/submissions/{sid}/move", data={"csrf_token": token, "version": version, "move": move,
                                                          "comment": comment}, follow_redirects=follow)


def flashes(page: str) -> list[str]:
    return [text_of(m).strip() for m in re.findall(r'<div class="flash flash-success"[^>]*>(.*?)</div>', page, re.S)]


# --- the page's order and its buttons -----------------------------------------------------------

def test_the_decision_comes_after_the_report_with_a_jump_link_at_the_top(app, client, auth, people):
    with app.app_context():
        sid = submitted().id
    auth.login("county-x")
    page = client.get(f"/county/submissions/{sid}").get_data(as_text=True)
    jump = page.index('href="#decision"')
    report = page.index('class="card report-view"')
    decision = page.index('id="decision"')
    assert jump < report < decision  # read first, decide after
    assert text_of(page[page.rfind("<a", 0, jump):page.index("</a>", jump)]).strip() == "跳到审核意见"
    assert page.count('class="move-form') == 2
    assert page.index('class="move-form') > report  # no form above the report
    forms = section(page, "decision")
    assert "审核意见" in forms and "退回意见" in forms


def test_approve_is_the_primary_button_and_return_the_danger_one(app, client, auth, people):
    with app.app_context():
        sid = submitted().id
    auth.login("county-x")
    page = client.get(f"/county/submissions/{sid}").get_data(as_text=True)
    buttons = dict((text_of(label).strip(), cls) for cls, label in
                   re.findall(r'<button type="submit" class="([^"]+)"[^>]*>(.*?)</button>', section(page, "decision")))
    assert buttons == {"审核通过": "btn btn-primary", "退回修改": "btn btn-danger"}
    # the confirmation is asked by review.js after the comment check, not on the button's click
    assert 'data-confirm' not in section(page, "decision")
    assert 'data-review-confirm="确定执行“退回修改”吗？"' in page
    assert '/static/js/review.js' in page


def test_no_decision_and_no_jump_link_once_decided(app, client, auth, people):
    with app.app_context():
        sub = submitted()
        apply_move(sub, "county_approve", user_named("county-x"), comment="同意。")
        sid = sub.id
    auth.login("county-x")
    page = client.get(f"/county/submissions/{sid}").get_data(as_text=True)
    assert 'id="decision"' not in page and "跳到审核意见" not in page and "review.js" not in page


# --- success messages ------------------------------------------------------------------------------

def test_approval_says_what_was_done_to_whom(app, client, auth, people):
    with app.app_context():
        sid = submitted().id
    auth.login("county-x")
    page = post_move(client, sid, "county_approve", "经审核，同意推荐。").get_data(as_text=True)
    assert flashes(page) == [f"已审核通过：{ALLOY}"]
    assert "操作成功" not in page


def test_return_says_what_was_done_to_whom_and_an_empty_comment_is_refused(app, client, auth, people):
    with app.app_context():
        sid = submitted().id
    auth.login("county-x")
    refused = post_move(client, sid, "county_return", "   ")
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "请填写退回意见。" in text_of(section(page, "decision"))  # beside the box, not only at the top
    assert 'href="#decision"' in page
    with app.app_context():
        assert db.session.get(Submission, sid).state == "submitted"
    page = post_move(client, sid, "county_return", "请补充2.1的数据来源。").get_data(as_text=True)
    assert flashes(page) == [f"已退回修改：{ALLOY}"]
    with app.app_context():
        assert db.session.get(Submission, sid).state == "draft"


def test_administrator_moves_say_what_was_done_to_whom(app, client, auth, people):
    with app.app_context():
        sub = submitted()
        apply_move(sub, "county_approve", user_named("county-x"), comment="同意。")
        sid = sub.id
    auth.login("admin")
    said = []
    for move in ("accept", "advance"):
        page = client.get(f"/admin/submissions/{sid}")
        version = re.search(r'name="version" value="(\d+)"', page.get_data(as_text=True)).group(1)
        done = client.post(f"/submissions/{sid}/move", data={"csrf_token": csrf_from(page), "version": version,
                                                              "move": move}, follow_redirects=True)
        said += flashes(done.get_data(as_text=True))
    assert said == [f"已纳入初赛：{ALLOY}", f"已晋级决赛：{ALLOY}"]


# --- what changed since the return -----------------------------------------------------------

def resubmitted_with_changes(app):
    """Submitted, returned by the county, two answers changed, one file added, submitted again."""
    with app.app_context():
        sub = submitted()
        apply_move(sub, "county_return", user_named("county-x"), comment="请核实总产值。")
        answers = dict(sub.preliminary_answers)
        answers["output_total"] = dict(answers["output_total"], y2="131.7")
        answers["industry_field"] = "新一代先进合金材料"
        sub.preliminary_answers = answers
        db.session.commit()
        attach(sub, "other_evidence", name="补充说明.pdf")
        apply_move(sub, "submit", user_named("applicant-a"))
        return sub.id, sub.edition.years


def test_a_resubmitted_report_shows_exactly_what_changed_since_the_return(app, client, auth, people):
    sid, years = resubmitted_with_changes(app)
    auth.login("county-x")
    page = client.get(f"/county/submissions/{sid}").get_data(as_text=True)
    changes = section(page, "changes")
    assert page.index('id="changes"') < page.index('class="card report-view"')  # changes first
    text = text_of(changes)
    assert "自退回以来的修改" in text and "请核实总产值。" in text
    assert "其中 2 项有变化" in text
    labels = [text_of(x).replace("（有变化）", "").strip() for x in re.findall(r'<th scope="row">(.*?)</th>', changes, re.S)]
    assert labels == ["产业领域", "集群总产值（亿元）"]  # exactly the changed fields, in the report's order
    # each value named by its year; the changed year marked in both columns
    y1, y2 = f"{years['y1']}年", f"{years['y2']}年"
    assert f"{y1}： 100" in text and f"{y2}： 125.5" in text and f"{y2}： 131.7" in text
    marked = [text_of(x).strip() for x in re.findall(r'<li class="changed-part">(.*?)</li>', changes, re.S)]
    assert marked == [f"{y2}： 125.5", f"{y2}： 131.7"]  # only the year that changed
    assert re.findall(r'<span class="(diff-old|diff-new)">([^<]*)</span>', changes) == [
        ("diff-old", "125.5"), ("diff-new", "131.7")]
    assert "退回前" in text and "重新提交" in text
    assert "补充说明.pdf" in text and "新增" in text


def test_the_changes_stay_on_the_page_when_a_move_is_refused(app, client, auth, people):
    sid, _ = resubmitted_with_changes(app)
    auth.login("county-x")
    refused = post_move(client, sid, "county_return", "")
    assert refused.status_code == 409
    assert "自退回以来的修改" in text_of(refused.get_data(as_text=True))


def test_a_first_submission_has_no_changes_section(app, client, auth, people):
    with app.app_context():
        sid = submitted().id
    auth.login("county-x")
    page = client.get(f"/county/submissions/{sid}").get_data(as_text=True)
    assert 'id="changes"' not in page and "自退回以来的修改" not in page


def test_a_resubmission_without_changes_says_so(app, client, auth, people):
    with app.app_context():
        sub = submitted()
        apply_move(sub, "county_return", user_named("county-x"), comment="请再确认。")
        apply_move(sub, "submit", user_named("applicant-a"))
        sid = sub.id
    auth.login("county-x")
    text = text_of(section(client.get(f"/county/submissions/{sid}").get_data(as_text=True), "changes"))
    assert "重新提交的报告与退回前的报告相比没有变化。" in text
