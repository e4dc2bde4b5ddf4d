"""Password reset by e-mail (issue #26): only with SMTP configured, the same answer for known and
unknown addresses, throttled like logins, a signed link that expires and works once.  The mail
is an outbox row of the request's transaction (issue #24), sent by the background sender
(wizard/mail.py) to a real (tiny) SMTP server started by the test (tests/mailsink.py): a failed
commit sends nothing, a crash after the commit is sent once by the retry, and the link does not
linger in the table (blanked once sent, the row deleted when the link expires)."""
import re
import socket
from datetime import timedelta

import pytest

import mailsink
from factories import PASSWORD, AuthActions, csrf_from
from mailsink import background_round
from wizard.extensions import db
from wizard.models import AuditEntry, OutboxMail, User, utcnow
from wizard.views import profile

mailbox, fail_when_mail_commits = mailsink.mailbox, mailsink.fail_when_mail_commits  # the fixtures

LINK = re.compile(r"https?://\S+(/password/reset/[A-Za-z0-9_.\-]+)")


def set_email(app, username, email, active=True):
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one()
        user.email, user.active = email, active
        db.session.commit()


def ask(client, email):
    """The request for a link, then what the background sender does next (it sends the mail)."""
    r = asked(client, email)
    background_round(client.application)
    return r


def asked(client, email):
    token = csrf_from(client.get("/password/forgot"))
    return client.post("/password/forgot", data={"csrf_token": token, "email": email})


def outbox(app):
    with app.app_context():
        return db.session.execute(db.select(OutboxMail).order_by(OutboxMail.id)).scalars().all()


def link_in(message) -> str:
    return LINK.search(message.get_content()).group(1)


def set_new(client, path, new, confirm=None):
    token = csrf_from(client.get(path))
    return client.post(path, data={"csrf_token": token, "new": new, "confirm": confirm or new})


def test_the_login_page_offers_the_reset_only_when_mail_is_configured(app, client, people, monkeypatch):
    assert "忘记密码" not in client.get("/login").get_data(as_text=True)
    page = client.get("/password/forgot").get_data(as_text=True)
    assert "未配置邮件服务" in page and 'name="email"' not in page
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    assert 'href="/password/forgot"' in client.get("/login").get_data(as_text=True)


def test_the_answer_is_the_same_for_known_and_unknown_addresses(app, client, people, mailbox):
    set_email(app, "county-x", "x@hunan.gov.cn")
    set_email(app, "county-y", "y@hunan.gov.cn", active=False)  # a disabled account gets nothing
    answers = [ask(client, e).get_data(as_text=True) for e in ("X@hunan.gov.cn", "nobody@hunan.gov.cn",
                                                                 "y@hunan.gov.cn")]
    assert "如果该邮箱登记在某个有效账号上" in answers[0]
    assert answers[0] == answers[1] == answers[2]
    assert len(mailbox) == 1 and mailbox[0]["To"] == "x@hunan.gov.cn"
    text = mailbox[0].get_content()
    assert "county-x" in text and "60 分钟" in text and PASSWORD not in text


def test_the_link_sets_a_new_password_under_the_rules_and_works_once(app, client, people, mailbox):
    set_email(app, "county-x", "x@hunan.gov.cn")
    ask(client, "x@hunan.gov.cn")
    path = link_in(mailbox[0])
    page = client.get(path).get_data(as_text=True)
    assert "至少 10 个字符" in page and "10,000" in page  # the forced change's rules, before typing
    for bad, message in (("qwertyuiop", "最常见的密码"), ("short", "至少 10 个字符"), (PASSWORD, "不能与当前密码相同")):
        r = set_new(client, path, bad)
        assert r.status_code == 200 and message in r.get_data(as_text=True)
    r = set_new(client, path, "Xiangjiang-River-2026")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    auth = AuthActions(app.test_client())
    assert auth.login("county-x", PASSWORD).status_code == 200  # the old password no longer works
    assert auth.login("county-x", "Xiangjiang-River-2026").status_code == 302
    # used once: the same link is refused now
    page = client.get(path).get_data(as_text=True)
    assert "无效、已过期或已使用过" in page and 'name="new"' not in page
    token = csrf_from(client.get("/login"))
    r = client.post(path, data={"csrf_token": token, "new": "Another-Good-Pass-7", "confirm": "Another-Good-Pass-7"})
    assert r.status_code == 200 and "无效、已过期或已使用过" in r.get_data(as_text=True)
    assert AuthActions(app.test_client()).login("county-x", "Another-Good-Pass-7").status_code == 200
    with app.app_context():
        actions = set(db.session.execute(db.select(AuditEntry.action)).scalars())
        assert {"password_reset_requested", "password_reset"} <= actions


def test_an_expired_or_altered_link_is_refused(app, client, people, mailbox, monkeypatch):
    set_email(app, "county-x", "x@hunan.gov.cn")
    ask(client, "x@hunan.gov.cn")
    path = link_in(mailbox[0])
    assert "无效、已过期或已使用过" in client.get(path[:-2] + "xx").get_data(as_text=True)
    monkeypatch.setattr(profile, "RESET_LINK_SECONDS", -1)  # every link is now older than its validity
    assert "无效、已过期或已使用过" in client.get(path).get_data(as_text=True)
    token = csrf_from(client.get("/login"))
    new = "Xiangjiang-River-2026"
    r = client.post(path, data={"csrf_token": token, "new": new, "confirm": new})
    assert r.status_code == 200
    assert AuthActions(app.test_client()).login("county-x", PASSWORD).status_code == 302


def test_requests_are_throttled_like_logins(app, client, people, mailbox):
    set_email(app, "county-x", "x@hunan.gov.cn")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit):
        ask(client, "x@hunan.gov.cn")
    assert len(mailbox) == limit
    r = ask(client, "x@hunan.gov.cn")
    assert "请求次数过多" in r.get_data(as_text=True) and len(mailbox) == limit


class CommitFailed(Exception):
    """What the database answers when a commit fails."""


class Crash(BaseException):
    """The process dies: nothing after this point of the request runs."""


def test_the_reset_mail_is_an_outbox_row_sent_by_the_background_sender_and_blanked(app, client, people, mailbox):
    set_email(app, "county-x", "x@hunan.gov.cn")
    r = asked(client, "x@hunan.gov.cn")
    assert "如果该邮箱登记在某个有效账号上" in r.get_data(as_text=True)
    assert mailbox == []  # the request sent nothing itself
    [row] = outbox(app)
    assert row.sent_at is None and "/password/reset/" in row.text
    assert timedelta(minutes=59) < row.expires_at - row.created_at <= timedelta(minutes=60)  # the link's life
    background_round(app)
    assert [m["To"] for m in mailbox] == ["x@hunan.gov.cn"]
    [row] = outbox(app)
    assert row.sent_at is not None and row.text == ""  # the link is no longer in the table
    assert client.get(link_in(mailbox[0])).status_code == 200 and 'name="new"' in client.get(
        link_in(mailbox[0])).get_data(as_text=True)


def test_a_reset_request_whose_commit_fails_mails_nothing(app, client, people, mailbox, runner,
                                                         fail_when_mail_commits):
    set_email(app, "county-x", "x@hunan.gov.cn")
    fail_when_mail_commits("before_commit", CommitFailed("the database refused the commit"))
    r = asked(client, "x@hunan.gov.cn")
    assert r.status_code == 500 and "Traceback" not in r.get_data(as_text=True)  # the error page, in Chinese
    assert outbox(app) == []
    background_round(app)
    runner.invoke(args=["cleanup"])
    assert mailbox == []


def test_a_crash_after_the_reset_commit_is_sent_once_by_the_retry(app, client, people, mailbox, runner,
                                                                  fail_when_mail_commits):
    set_email(app, "county-x", "x@hunan.gov.cn")
    fail_when_mail_commits("after_commit", Crash())
    with pytest.raises(Crash):
        asked(client, "x@hunan.gov.cn")
    assert mailbox == []
    [row] = outbox(app)
    assert row.sent_at is None
    result = runner.invoke(args=["cleanup"])
    assert result.exit_code == 0 and "已发送 1 封此前未发出的通知邮件" in result.output
    runner.invoke(args=["cleanup"])
    background_round(app)
    assert [m["To"] for m in mailbox] == ["x@hunan.gov.cn"]
    assert "county-x" in mailbox[0].get_content()


def test_a_reset_mail_not_sent_within_the_hour_is_never_sent_and_forgotten(app, client, people, mailbox, runner,
                                                                          monkeypatch):
    """The mail server was away for the link's hour: the link is dead, so the mail is not sent late
    and its row (with the link) is deleted; a mail of a move waiting as long is still sent."""
    set_email(app, "county-x", "x@hunan.gov.cn")
    sink_port = app.config["MAIL_PORT"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setitem(app.config, "MAIL_PORT", s.getsockname()[1])  # nothing listens there
    asked(client, "x@hunan.gov.cn")
    background_round(app)
    [row] = outbox(app)
    assert row.attempts == 1 and row.error and row.sent_at is None
    with app.app_context():  # an hour passes
        db.session.execute(db.update(OutboxMail).values(created_at=utcnow() - timedelta(hours=1, seconds=1),
                                                        expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    monkeypatch.setitem(app.config, "MAIL_PORT", sink_port)
    runner.invoke(args=["cleanup"])
    background_round(app)
    assert mailbox == [] and outbox(app) == []
