"""The reviewers' reminder e-mails go through the outbox (issue #24): an outbox row per expert in
the reminder's transaction, sent by the background sender after the commit.  A reminder whose
commit fails mails nothing (and leaves no message); a crash right after the commit leaves rows
that the retry (``flask cleanup``) sends exactly once each.  Real database, real SMTP
(tests/mailsink.py)."""
import pytest

import mailsink
from factories import ALLOY, SMART_CAR, make_user, user_named
from mailsink import background_round
from review.helpers import assign, make_expert, put_state
from wizard.extensions import db
from wizard.models import Edition, Message, OutboxMail
from wizard.review.assign import remind

mailbox, fail_when_mail_commits = mailsink.mailbox, mailsink.fail_when_mail_commits  # the fixtures
EXPERTS = {"e-2": "e2@example.cn", "e-3": "e3@example.cn"}


class CommitFailed(Exception):
    """What the database answers when a commit fails."""


class Crash(BaseException):
    """The process dies: nothing after this point runs."""


@pytest.fixture
def unfinished(app):
    """Two experts with an e-mail address and unfinished reports of the preliminary round."""
    with app.app_context():
        make_user("admin", "admin")
        alloy, car = put_state("preliminary", ALLOY, SMART_CAR)
        for (username, email), city in zip(EXPERTS.items(), ("湘潭市", "衡阳市")):
            expert = make_expert(username, city)
            expert.email = email
            db.session.commit()
            assign(alloy, expert)
        assign(car, user_named("e-3"))


def remind_all():
    remind(db.session.execute(db.select(Edition)).scalars().first(), "preliminary", user_named("admin"))


def rows(app):
    with app.app_context():
        return db.session.execute(db.select(OutboxMail).order_by(OutboxMail.id)).scalars().all()


def test_reminders_are_outbox_rows_sent_by_the_background_sender_once(app, unfinished, mailbox, runner):
    with app.app_context():
        remind_all()
    assert mailbox == []  # the reminder itself sent nothing
    assert sorted(r.recipients for r in rows(app)) == sorted(EXPERTS.values())
    background_round(app)
    assert sorted(m["To"] for m in mailbox) == sorted(EXPERTS.values())
    by_address = {m["To"]: m.get_content() for m in mailbox}
    assert "尚有 2 份报告未提交评分" in by_address["e3@example.cn"]
    assert "尚有 1 份报告未提交评分" in by_address["e2@example.cn"]
    background_round(app)
    runner.invoke(args=["cleanup"])
    assert len(mailbox) == 2 and all(r.sent_at is not None for r in rows(app))


def test_a_reminder_whose_commit_fails_mails_nothing(app, unfinished, mailbox, runner, fail_when_mail_commits):
    with app.app_context():
        fail_when_mail_commits("before_commit", CommitFailed("the database refused the commit"))
        with pytest.raises(CommitFailed):
            remind_all()
        db.session.rollback()
        assert db.session.execute(db.select(db.func.count()).select_from(Message)).scalar() == 0
    assert rows(app) == []
    background_round(app)
    runner.invoke(args=["cleanup"])
    assert mailbox == []


def test_a_crash_after_the_reminders_commit_is_sent_once_by_the_retry(app, unfinished, mailbox, runner,
                                                                      fail_when_mail_commits):
    with app.app_context():
        fail_when_mail_commits("after_commit", Crash())
        with pytest.raises(Crash):
            remind_all()
        db.session.remove()
    assert mailbox == [] and [r.sent_at for r in rows(app)] == [None, None]
    result = runner.invoke(args=["cleanup"])
    assert result.exit_code == 0 and "已发送 2 封此前未发出的通知邮件" in result.output
    runner.invoke(args=["cleanup"])
    background_round(app)
    assert sorted(m["To"] for m in mailbox) == sorted(EXPERTS.values())
    with app.app_context():  # the in-app messages were committed with the mail
        assert db.session.execute(db.select(db.func.count()).select_from(Message)).scalar() == 2


def test_an_expert_without_an_address_gets_the_message_only(app, unfinished, mailbox):
    with app.app_context():
        user_named("e-2").email = ""
        db.session.commit()
        remind_all()
    background_round(app)
    assert [m["To"] for m in mailbox] == ["e3@example.cn"]
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Message)).scalar() == 2
