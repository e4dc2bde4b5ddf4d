"""The header's unread badge is read with the logged-in user (web/security.load_user, one statement
for both): it shows the count at the time of the page, a message added or read shows on the next
page, and a page that writes before it is written shows the count after the write."""
import re

from flask import render_template_string
from flask_login import login_user

from factories import AuthActions, csrf_from, user_named
from wizard.extensions import db
from wizard.models import Message
from wizard.web.security import load_user


def badge(page_html):
    m = re.search(r'<span class="badge">(\d+)<span class="visually-hidden"> 条未读</span>', page_html)
    return int(m.group(1)) if m else 0


def add_messages(app, username, n):
    with app.app_context():
        user = user_named(username)
        db.session.add_all([Message(user_id=user.id, text=f"通知 {k}") for k in range(n)])
        db.session.commit()


def test_the_badge_follows_messages_added_and_read(app, people):
    client = app.test_client()
    AuthActions(client).login("applicant-a")
    assert badge(client.get("/applicant/").get_data(as_text=True)) == 0
    add_messages(app, "applicant-a", 2)
    add_messages(app, "applicant-b", 5)  # another's
    for path in ("/applicant/", "/applicant/step/basic", "/applicant/review"):
        assert badge(client.get(path).get_data(as_text=True)) == 2, path
    add_messages(app, "applicant-a", 1)
    assert badge(client.get("/applicant/step/basic").get_data(as_text=True)) == 3
    r = client.post("/messages/read", data={"csrf_token": csrf_from(client.get("/messages"))})
    assert r.status_code == 302
    assert badge(client.get(r.headers["Location"]).get_data(as_text=True)) == 0
    assert badge(client.get("/applicant/step/basic").get_data(as_text=True)) == 0


def test_a_request_that_writes_shows_the_count_after_its_writes(app, people):
    add_messages(app, "applicant-a", 1)
    with app.test_request_context("/applicant/"):
        user = load_user(user_named("applicant-a").session_token)
        login_user(user)
        assert render_template_string("{{ unread_count }}") == "1"
        db.session.add(Message(user_id=user.id, text="新通知"))
        db.session.flush()
        assert render_template_string("{{ unread_count }}") == "2"
        db.session.execute(db.update(Message).where(Message.user_id == user.id).values(read_at=db.func.now()))
        assert render_template_string("{{ unread_count }}") == "0"
        db.session.rollback()
