"""Bulk moves on the administrators' list without JavaScript (issue #14): the list offers only
moves that apply to a row of the page, an empty selection gets a Chinese message and no
"已执行（0）" page, each row not moved says why (with the cluster's name, in the table's words),
and 返回申报管理 keeps the list's filters."""
import html
import re

import pytest

from factories import ALLOY, LINXIANG, SMART_CAR, csrf_from, submission_of
from wizard.extensions import db
from wizard.models import HistoryEntry
from wizard.workflow.states import MOVES, STATES


def put(app, **states):
    """Set submissions' states directly (cluster name → state); the moves under test are real."""
    with app.app_context():
        for name, state in states.items():
            submission_of(name).state = state
        db.session.commit()


def text_of(response):
    return html.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))


def offered(response):
    """The move keys in the list's bulk move menu."""
    menu = re.search(r'<select name="move".*?</select>', response.get_data(as_text=True), re.S)
    return re.findall(r'<option value="([a-z_]+)"', menu.group(0)) if menu else []


@pytest.fixture
def admin(client, auth, people):
    auth.login("admin")
    return client


def post_bulk(client, move, ids, comment="", back=""):
    token = csrf_from(client.get("/admin/submissions"))
    return client.post("/admin/submissions/bulk", data={"csrf_token": token, "move": move, "comment": comment,
                                                        "ids": [str(i) for i in ids], "back": back})


def test_the_menu_offers_only_moves_for_the_states_on_the_page(app, admin):
    put(app, **{ALLOY: "county_approved"})
    page = admin.get("/admin/submissions?state=county_approved")
    assert offered(page) == [m.key for m in MOVES if m.source == "county_approved" and m.role == "admin"]
    assert offered(page) == ["accept", "admin_return"]
    # every row carries its state for admin.js; each option its source state and label
    assert 'data-state="county_approved"' in page.get_data(as_text=True)
    assert 'data-source="county_approved" data-label="纳入初赛"' in page.get_data(as_text=True)
    # the seeded list (all drafts): no administrator move applies, so none is offered
    page = admin.get("/admin/submissions?state=draft")
    assert offered(page) == [] and "都没有可批量执行的流程操作" in text_of(page)


def test_nothing_ticked_is_refused_in_chinese_and_keeps_the_filter(app, admin):
    put(app, **{ALLOY: "preliminary"})
    r = post_bulk(admin, "advance", [], back="state=preliminary&q=长沙")
    assert r.status_code == 302
    assert "/admin/submissions?" in r.headers["Location"] and "state=preliminary" in r.headers["Location"]
    page = admin.get(r.headers["Location"])
    assert "请先勾选要操作的申报。" in text_of(page) and "已执行（0）" not in text_of(page)
    with app.app_context():
        assert submission_of(ALLOY).state == "preliminary"


def test_each_row_not_moved_says_why_with_the_cluster_name(app, admin):
    put(app, **{ALLOY: "preliminary", SMART_CAR: "preliminary", LINXIANG: "draft"})
    with app.app_context():
        ids = [submission_of(n).id for n in (ALLOY, LINXIANG, SMART_CAR)]
    r = post_bulk(admin, "advance", ids + [99999], back="state=&sort=updated&page=2")
    page = text_of(r)
    assert r.status_code == 200 and "批量操作结果：晋级决赛" in page
    assert "已执行（2）" in page and "未执行（2）" in page
    assert f"{LINXIANG}：当前状态为「{STATES['draft'].label}」，「晋级决赛」只适用于「初赛」状态的申报。" in page
    assert "#99999：不存在或无权操作" in page
    assert "页面可能已过期" not in page
    back = re.search(r'href="([^"]+)"[^>]*>返回申报管理', r.get_data(as_text=True)).group(1)
    assert "sort=updated" in back and "page=2" in back and back.startswith("/admin/submissions")
    with app.app_context():
        assert [submission_of(n).state for n in (ALLOY, SMART_CAR, LINXIANG)] == ["finalist", "finalist", "draft"]


def test_a_move_that_needs_a_reason_says_so_per_cluster(app, admin):
    put(app, **{ALLOY: "preliminary"})
    with app.app_context():
        sid = submission_of(ALLOY).id
    page = text_of(post_bulk(admin, "eliminate", [sid]))
    assert "已执行（0）" in page and f"{ALLOY}：请填写原因。" in page
    page = text_of(post_bulk(admin, "eliminate", [sid], comment="指标未达到要求。"))
    assert "已执行（1）" in page
    with app.app_context():
        assert submission_of(ALLOY).state == "eliminated"
        entry = db.session.execute(db.select(HistoryEntry).filter_by(submission_id=sid)).scalars().all()[-1]
        assert (entry.move, entry.comment) == ("eliminate", "指标未达到要求。")


@pytest.mark.parametrize("move", ["", "submit", "county_approve", "no-such-move"])
def test_a_move_the_list_does_not_offer_is_refused(app, admin, move):
    put(app, **{ALLOY: "submitted"})
    with app.app_context():
        sid = submission_of(ALLOY).id
    r = post_bulk(admin, move, [sid])
    assert r.status_code == 302
    assert "请选择要执行的操作。" in text_of(admin.get(r.headers["Location"]))
    with app.app_context():
        assert submission_of(ALLOY).state == "submitted"


@pytest.mark.parametrize("back", ["//evil.example/", "next=https://evil.example/&state=draft", "%00\x00", "a" * 2000])
def test_the_way_back_leads_only_to_the_list(app, admin, back):
    r = post_bulk(admin, "advance", [], back=back)
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.startswith("/admin/submissions") and "evil" not in location
