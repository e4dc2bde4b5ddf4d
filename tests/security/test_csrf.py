"""CSRF, from the URL map: every rule that accepts POST refuses a POST without a token from a
logged-in user of the role allowed to use it — 400 with the Chinese error page, nothing changed.

Where a body that really changes something is known (EFFECTIVE), the same request with the
token is sent afterwards and must change the data: proof that the refusal was the token's doing."""
import json
import re

import pytest

from factories import ALLOY, LINXIANG, PASSWORD, SMART_CAR, AuthActions, submission_of
from fill import complete_answers
from urlmap import ACTORS, OK, PUBLIC, build_url, expectation, param_values
from review.helpers import assign
from wizard.extensions import db
from wizard.models import Message, User

# The actor used for each role rule: the first one the table allows.
PREFERENCE = ["county_own", "owner", "admin", "other_applicant", "county_other", "expert", "expert_other"]


def effective_bodies(ids):
    """rule → (actor, form data) that changes the database when sent with a token."""
    return {
        "/submissions/<int:submission_id>/move": ("county_own", {"move": "county_approve", "comment": "同意。"}),
        "/messages/read": ("other_applicant", {}),
        "/logout": ("owner", {}),
        "/account/password": ("owner", {"current": PASSWORD, "new": "another-pass-1", "confirm": "another-pass-1"}),
        "/applicant/step/<step_key>": ("other_applicant", {"industry_field": "没有令牌的输入", "version": "1",
                                                           "action": "save"}),
        "/admin/accounts/new": ("admin", {"username": "csrf-made", "role": "admin", "cluster_id": "0",
                                          "region_id": "0", "password": "password-123", "active": "y"}),
        "/admin/accounts/<int:user_id>": ("admin", {"username": "applicant-a", "display_name": "改过的名字",
                                                    "role": "applicant", "cluster_id": str(ids["cluster_id"]),
                                                    "region_id": "0", "active": "y"}),
        "/admin/clusters/new": ("admin", {"name": "无令牌新建集群", "category": "sme", "designation": "test",
                                          "region_id": str(ids["region_id"]), "active": "y"}),
        "/admin/submissions/bulk": ("admin", {"move": "admin_return", "comment": "退回。", "ids": str(ids["other_id"])}),
    }


def fingerprint():
    """Every row of every table, as text: any change shows."""
    out = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(db.select(table)).all()
        out[table.name] = sorted(json.dumps([str(v) for v in r], ensure_ascii=False) for r in rows)
    db.session.rollback()
    return out


@pytest.fixture
def world(app, people):
    """A submitted (reviewable) submission A; applicant B's draft and an unread message for B;
    a third submission waiting for the administrator."""
    with app.app_context():
        a = submission_of(ALLOY)
        a.state, a.preliminary_answers = "submitted", complete_answers("preliminary")
        submission_of(SMART_CAR).state = "county_approved"
        owner = db.session.execute(db.select(User).filter_by(username="applicant-a")).scalar_one()
        other = db.session.execute(db.select(User).filter_by(username="applicant-b")).scalar_one()
        db.session.add(Message(user_id=other.id, submission_id=submission_of(LINXIANG).id, text="请查看。"))
        db.session.commit()
        expert = db.session.execute(db.select(User).filter_by(username="expert-e")).scalar_one()
        return {"submission_id": a.id, "cluster_id": a.cluster_id, "user_id": owner.id,
                "region_id": a.cluster.region_id, "other_id": submission_of(SMART_CAR).id,
                "assignment_id": assign(a, expert).id, "expert_id": expert.id}


def post_rules(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "POST" in rule.methods:
            yield rule


def actor_for(endpoint):
    expected = expectation(endpoint)
    assert expected is not None, f"classify new endpoint {endpoint} in tests/urlmap.py"
    if expected == PUBLIC:
        return "owner"
    return next(a for a in PREFERENCE if expected[a] == OK)


def test_every_post_needs_a_token(app, world):
    values = param_values(world)
    effective = effective_bodies(world)
    failures, checked = [], 0
    for rule in post_rules(app):
        url = build_url(rule, values)
        actor, body = effective.get(rule.rule, (actor_for(rule.endpoint), {}))
        client = app.test_client()
        auth = AuthActions(client)
        r = auth.login(ACTORS[actor])
        assert r.status_code == 302, (rule.rule, re.findall(r"flash[^>]*>([^<]*)|error[^>]*>([^<]*)", r.get_data(as_text=True)))
        token = auth.csrf()
        with app.app_context():
            before = fingerprint()
        r = client.post(url, data=body)
        html = r.get_data(as_text=True)
        with app.app_context():
            after = fingerprint()
        where = f"POST {rule.rule} [{rule.endpoint}] as {actor} without a token"
        if r.status_code != 400 or "页面已过期（安全校验未通过）" not in html:
            failures.append(f"{where}: got {r.status_code}, not the Chinese 400 page")
        changed = [t for t in before if before[t] != after[t]]
        if changed:
            failures.append(f"{where}: changed {', '.join(changed)}")
        if client.get("/messages").status_code != 200:
            failures.append(f"{where}: the session ended")
        if rule.rule in effective:  # control: with the token the same request does change something
            r = client.post(url, data={**body, "csrf_token": token})
            with app.app_context():
                if fingerprint() == before:
                    failures.append(f"POST {rule.rule} [{rule.endpoint}] with a token changed nothing "
                                    f"({r.status_code}): fix the body in effective_bodies()")
                if rule.endpoint == "auth.change_password":  # the later rules log in with the old one
                    db.session.execute(db.select(User).filter_by(username=ACTORS[actor])).scalar_one() \
                        .set_password(PASSWORD)
                    db.session.commit()
        checked += 1
    assert not failures, "\n".join(failures)
    assert checked >= 8


def test_form_pages_carry_the_token(app, world, client, auth):
    """The forms users really post from include the token (so the refusals above never hit them)."""
    auth.login("admin")
    for path in ("/admin/accounts/new", "/admin/submissions", f"/admin/submissions/{world['submission_id']}"):
        html = client.get(path).get_data(as_text=True)
        for form in re.findall(r'<form[^>]*method="post".*?</form>', html, flags=re.S | re.I):
            assert 'name="csrf_token"' in form, (path, form[:200])


def test_login_form_needs_a_token(app, client, people):
    r = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 400 and "页面已过期" in r.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302  # not logged in


def test_missing_token_on_a_read_only_step_is_not_a_crash(app, world, client, auth, monkeypatch):
    """A tab left open on a step after the report was submitted, posted without a valid token:
    the CSRF handler re-shows the step, the step refuses (read-only) — the user must get a
    Chinese 4xx page, never the 500 page."""
    auth.login("applicant-a")  # submission A is submitted: its steps are read-only
    # answer as production does (restored after the test: the shared app is not rebuilt for the next one)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    r = client.post("/applicant/step/basic", data={"industry_field": "旧标签页的输入", "csrf_token": "stale"})
    html = r.get_data(as_text=True)
    assert 400 <= r.status_code < 500, f"got {r.status_code}: {re.findall(r'<title>([^<]*)', html)}"
    assert "系统错误" not in html
    with app.app_context():
        assert "industry_field" not in (submission_of(ALLOY).preliminary_answers or {}) or \
            submission_of(ALLOY).preliminary_answers["industry_field"] != "旧标签页的输入"
