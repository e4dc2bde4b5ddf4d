"""Deadlines (issue #14): administrators set each round's deadline of the current edition (each
change audited), extend several submissions at once from the list's selection, and a date in the
past is named in an error summary at the top of the form; the hint's example is never past."""
import html
import re
from datetime import datetime

import pytest

from factories import ALLOY, LINXIANG, SMART_CAR, csrf_from, submission_of
from wizard.access import current_edition
from wizard.extensions import db
from wizard.models import AuditEntry, HistoryEntry, local_now


def text_of(response):
    return html.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))


@pytest.fixture
def admin(client, auth, people):
    auth.login("admin")
    return client


def audits(app, action):
    with app.app_context():
        return [(a.target, a.detail) for a in db.session.execute(
            db.select(AuditEntry).filter_by(action=action).order_by(AuditEntry.id)).scalars()]


def deadlines(app):
    with app.app_context():
        edition = current_edition()
        return edition.preliminary_deadline, edition.final_deadline


def summary_comes_first(body, field_id):
    """The error summary is on the page, above the field, and links to it."""
    summary = body.find('class="error-summary"')
    return 0 <= summary < body.find(f'id="f-{field_id}"') and f'href="#f-{field_id}"' in body


def test_the_hints_example_is_never_in_the_past(admin):
    body = text_of(admin.get("/admin/deadlines"))
    examples = re.findall(r"例如 (\d{4}-\d\d-\d\d \d\d:\d\d)", body)
    assert examples and all(datetime.strptime(e, "%Y-%m-%d %H:%M") > local_now() for e in examples)
    assert "2099-01-01 00:00" in body and "2099-06-01 00:00" in body  # the current deadlines


def test_an_administrator_changes_a_rounds_deadline_with_an_audit_row(app, admin):
    page = admin.get("/admin/deadlines")
    r = admin.post("/admin/deadlines", data={"csrf_token": csrf_from(page), "preliminary_deadline": "2098-04-30T18:00",
                                             "final_deadline": "2099-06-01T00:00"})
    assert r.status_code == 302
    assert "截止时间已保存：初赛 2098-04-30 18:00" in text_of(admin.get(r.headers["Location"]))
    assert deadlines(app) == (datetime(2098, 4, 30, 18), datetime(2099, 6, 1))
    with app.app_context():
        edition_id = current_edition().id
    # one row for the round that changed, none for the one that did not
    assert audits(app, "round_deadline") == [(f"edition:{edition_id}", "初赛截止时间：2099-01-01 00:00 → 2098-04-30 18:00")]
    log = text_of(admin.get("/admin/audit/?action=round_deadline"))
    assert "设置各轮截止时间" in log and "edition:" not in log


@pytest.mark.parametrize("field, value, message", [
    ("preliminary_deadline", "2021-03-31T18:00", "新的截止时间必须晚于当前时间。"),
    ("final_deadline", "2098-12-31T18:00", "决赛报告提交截止时间必须晚于初赛报告提交截止时间。"),
    ("final_deadline", "下周五", "无法识别的决赛报告提交截止时间"),
    ("preliminary_deadline", "", "请填写初赛报告提交截止时间。"),
])
def test_a_bad_round_deadline_is_summarised_at_the_top(app, admin, field, value, message):
    page = admin.get("/admin/deadlines")
    data = {"csrf_token": csrf_from(page), "preliminary_deadline": "2099-01-01T00:00",
            "final_deadline": "2099-06-01T00:00", field: value}
    r = admin.post("/admin/deadlines", data=data)
    body = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 200 and message in body
    assert summary_comes_first(body, field)
    assert f'value="{value}"' in body or not value  # the typed value is kept
    assert deadlines(app) == (datetime(2099, 1, 1), datetime(2099, 6, 1))
    assert audits(app, "round_deadline") == []


def test_a_past_deadline_for_one_submission_is_summarised_at_the_top(app, admin):
    with app.app_context():
        sid = submission_of(ALLOY).id
    page = admin.get(f"/admin/submissions/{sid}")
    r = admin.post(f"/admin/submissions/{sid}/deadline", data={
        "csrf_token": csrf_from(page), "deadline_until": "2020-03-31T18:00", "deadline_reason": "材料补充"})
    body = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 200 and "新的截止时间必须晚于当前时间。" in body
    assert summary_comes_first(body, "deadline_until") and ALLOY in body
    example = re.search(r"例如 (\d{4}-\d\d-\d\d \d\d:\d\d)", body).group(1)
    assert datetime.strptime(example, "%Y-%m-%d %H:%M") > local_now()


def ticked(app, *names):
    with app.app_context():
        return [str(submission_of(n).id) for n in names]


def test_several_submissions_get_a_later_deadline_at_once(app, admin):
    with app.app_context():
        submission_of(SMART_CAR).state = "submitted"  # not being written: nothing to extend
        db.session.commit()
    ids = ticked(app, ALLOY, LINXIANG, SMART_CAR)
    token = csrf_from(admin.get("/admin/submissions"))
    form = admin.post("/admin/submissions/deadline", data={"csrf_token": token, "ids": ids, "back": "q=集群"})
    page = text_of(form)
    assert form.status_code == 200 and "将为以下 3 个申报延长" in page
    assert all(name in page for name in (ALLOY, LINXIANG, SMART_CAR))
    until = datetime(2099, 3, 31, 18, 0)  # after the round's deadline (2099-01-01, tests/conftest.py)
    r = admin.post("/admin/submissions/deadline", data={
        "csrf_token": token, "ids": ids, "confirm": "1", "back": "q=集群",
        "deadline_until": f"{until:%Y-%m-%dT%H:%M}", "deadline_reason": "系统维护顺延"})
    result = text_of(r)
    assert "已执行（2）" in result and "未执行（1）" in result
    assert f"{SMART_CAR}：当前状态为「待县级审核」，不在填报阶段，无需延长截止时间。" in result
    assert "q=" in re.search(r'href="([^"]+)"[^>]*>返回申报管理', r.get_data(as_text=True)).group(1)
    with app.app_context():
        assert [submission_of(n).deadline_override for n in (ALLOY, LINXIANG, SMART_CAR)] == [until, until, None]
        notes = db.session.execute(db.select(HistoryEntry.comment).filter_by(move="deadline")).scalars().all()
        assert len(notes) == 2 and all("系统维护顺延" in n for n in notes)
    assert len(audits(app, "deadline")) == 2


def test_a_past_date_for_several_keeps_the_selection_and_summarises_the_error(app, admin):
    ids = ticked(app, ALLOY, LINXIANG)
    token = csrf_from(admin.get("/admin/submissions"))
    r = admin.post("/admin/submissions/deadline", data={
        "csrf_token": token, "ids": ids, "confirm": "1", "deadline_until": "2020-01-01T08:00",
        "deadline_reason": "顺延"})
    body = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 200 and "新的截止时间必须晚于当前时间。" in body
    assert summary_comes_first(body, "deadline_until")
    assert all(f'name="ids" value="{i}"' in body for i in ids)  # the selection is still there
    with app.app_context():
        assert submission_of(ALLOY).deadline_override is None


def test_extending_with_nothing_ticked_says_so(admin):
    token = csrf_from(admin.get("/admin/submissions"))
    r = admin.post("/admin/submissions/deadline", data={"csrf_token": token, "back": "state=draft"})
    assert r.status_code == 302 and "state=draft" in r.headers["Location"]
    assert "请先在列表中勾选要延长截止时间的申报。" in text_of(admin.get(r.headers["Location"]))


@pytest.mark.parametrize("username", ["applicant-a", "county-x"])
def test_only_administrators_set_deadlines(app, client, auth, people, username):
    auth.login(username)
    token = auth.csrf()
    assert client.get("/admin/deadlines").status_code == 403
    assert client.post("/admin/deadlines", data={"csrf_token": token,
                                                 "preliminary_deadline": "2098-01-01T00:00"}).status_code == 403
    assert client.post("/admin/submissions/deadline", data={"csrf_token": token, "ids": ticked(app, ALLOY),
                                                            "confirm": "1", "deadline_until": "2099-12-01T00:00",
                                                            "deadline_reason": "x"}).status_code == 403
    assert deadlines(app) == (datetime(2099, 1, 1), datetime(2099, 6, 1))
