"""The audit log page: logins, failed logins and moves are listed newest first, filters narrow
the list, pages hold 50 rows, and only administrators may open it."""
import re
from datetime import datetime, timedelta

import pytest

from factories import ALLOY, submission_of
from wizard.extensions import db
from wizard.models import AuditEntry, User, utcnow
from wizard.workflow.moves import apply_move


def rows(page_html):
    """(username, action key, target) of every table row, in page order."""
    return re.findall(r'<tr><td>[^<]*</td><td class="audit-who">(?:<span class="audit-person">[^<]*</span><br>)?'
                      r'<span class="audit-username">([^<]*)</span></td>\s*<td data-action="([^"]+)">[^<]*</td><td>([^<]*)</td>',
                      page_html)


@pytest.fixture
def logged(app, client, auth, people):
    """A failed login, then county X logs in, then a workflow move by the admin, then the admin logs in."""
    auth.login("county-x", "wrong-password")
    auth.login("county-x")
    auth.logout()
    with app.app_context():
        sub = submission_of(ALLOY)
        sub.state = "county_approved"
        db.session.commit()
        admin = db.session.execute(db.select(User).filter_by(username="admin")).scalar_one()
        apply_move(sub, "accept", admin)
        sid = sub.id
    auth.login("admin")
    return sid


def test_login_failed_login_and_move_are_listed_newest_first(client, logged):
    page = client.get("/admin/audit/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "操作日志" in html
    listed = rows(html)
    actions = [a for _, a, _ in listed]
    # newest first: the admin's login, the move, county X's logout and login, the failed attempt
    assert actions[:5] == ["login", "move", "logout", "login", "login_failed"], listed
    assert listed[1] == ("admin", "move", ALLOY)
    assert listed[4][0] == "—" and listed[4][2] == "county-x"  # nobody was logged in; the name tried is the target
    # Chinese labels, not keys
    for label in ("登录失败", "流程操作", "退出登录"):
        assert label in html
    assert "纳入初赛：县级已审核 → 初赛" in html


@pytest.mark.parametrize("query,expected", [
    ("action=login_failed", ["login_failed"]),
    ("action=move", ["move"]),
    ("username=county", ["logout", "login"]),
    ("target=submission:", ["move"]),
    ("action=login&username=admin", ["login"]),
])
def test_filters(client, logged, query, expected):
    html = client.get(f"/admin/audit/?{query}").get_data(as_text=True)
    assert [a for _, a, _ in rows(html)] == expected


def test_date_filters(app, client, logged):
    with app.app_context():
        old = AuditEntry(action="account_saved", username="admin", target="old-account",
                         at=datetime(2020, 3, 15, 10, 0))
        db.session.add(old)
        db.session.commit()
    html = client.get("/admin/audit/?to=2020-03-15").get_data(as_text=True)
    assert [t for _, _, t in rows(html)] == ["old-account"]  # the end day is inclusive
    html = client.get("/admin/audit/?from=2020-03-16").get_data(as_text=True)
    assert "old-account" not in html and len(rows(html)) == 5
    today = utcnow().date().isoformat()
    html = client.get(f"/admin/audit/?from={today}&to={today}").get_data(as_text=True)
    assert "old-account" not in html
    page = client.get("/admin/audit/?from=not-a-date")
    assert page.status_code == 200 and "不是有效日期" in page.get_data(as_text=True)


def test_pagination_fifty_per_page(app, client, logged):
    with app.app_context():
        base = utcnow() - timedelta(days=1)
        db.session.add_all([AuditEntry(action="cluster_saved", username="admin", target=f"cluster-{i:03d}",
                                       at=base + timedelta(seconds=i)) for i in range(60)])
        db.session.commit()
    first = client.get("/admin/audit/?action=cluster_saved").get_data(as_text=True)
    targets = [t for _, _, t in rows(first)]
    assert len(targets) == 50 and targets[0] == "cluster-059" and "共 60 条" in first
    assert "下一页" in first
    second = client.get("/admin/audit/?action=cluster_saved&page=2").get_data(as_text=True)
    assert [t for _, _, t in rows(second)] == [f"cluster-{i:03d}" for i in range(9, -1, -1)]
    assert "上一页" in second and "action=cluster_saved" in second  # the filter survives paging


@pytest.mark.parametrize("username", ["applicant-a", "county-x"])
def test_non_admins_get_403(client, auth, people, username):
    auth.login(username)
    r = client.get("/admin/audit/")
    assert r.status_code == 403 and "没有权限" in r.get_data(as_text=True)


def test_anonymous_is_sent_to_login(client):
    r = client.get("/admin/audit/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
