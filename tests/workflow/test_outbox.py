"""E-mail goes after the commit (issue #24): a move writes its mail as an outbox row in its own
transaction and sends it once committed.  A move whose commit fails mails nothing; a move that
commits mails once; a crash between the commit and the sending leaves a row that
``flask cleanup`` sends exactly once.  Real database, real SMTP (tests/mailsink.py)."""
import socket

import pytest
from sqlalchemy import event

from factories import ALLOY, submission_of, user_named
from mailsink import mailbox  # noqa: F401  (the fixture)
from wizard.extensions import db
from wizard.models import OutboxMail, Submission
from wizard.workflow.moves import apply_move

APPLICANT_MAIL = "alloy@example.cn"


class CommitFailed(Exception):
    """What the database answers when a commit fails (lost connection, disk full, …)."""


class Crash(BaseException):
    """The process dies: nothing after this point of the request runs."""


def ready_to_accept(app):
    """ALLOY's submission approved by its county, its applicant with an e-mail address; the
    administrator's next move (纳入初赛) tells the applicant."""
    with app.app_context():
        applicant = user_named("applicant-a")
        applicant.email = APPLICANT_MAIL
        sub = submission_of(ALLOY)
        sub.state = "county_approved"
        db.session.commit()
        return sub.id


def state_of(sid):
    db.session.expire_all()
    return db.session.get(Submission, sid).state


def outbox():
    db.session.expire_all()
    return db.session.execute(db.select(OutboxMail).order_by(OutboxMail.id)).scalars().all()


def on_next_commit(name, exception):
    """Raise ``exception`` from the session's next ``before_commit`` or ``after_commit``, once."""
    session = db.session()

    def fire(*args):
        event.remove(session, name, fire)
        raise exception

    event.listen(session, name, fire)


def test_a_move_whose_commit_fails_mails_nothing(app, people, mailbox):
    sid = ready_to_accept(app)
    with app.app_context():
        on_next_commit("before_commit", CommitFailed("the database refused the commit"))
        with pytest.raises(CommitFailed):
            apply_move(db.session.get(Submission, sid), "accept", user_named("admin"))
        assert state_of(sid) == "county_approved"
        assert outbox() == []
    assert mailbox == []


def test_a_move_that_commits_mails_once(app, people, mailbox, runner):
    sid = ready_to_accept(app)
    with app.app_context():
        apply_move(db.session.get(Submission, sid), "accept", user_named("admin"))
        assert state_of(sid) == "preliminary"
        [row] = outbox()
        assert row.sent_at is not None and row.attempts == 1
    assert len(mailbox) == 1
    assert mailbox[0]["To"] == APPLICANT_MAIL and "纳入初赛" in mailbox[0].get_content()
    assert runner.invoke(args=["cleanup"]).exit_code == 0  # the retry finds nothing left to send
    assert len(mailbox) == 1


def test_a_crash_after_the_commit_leaves_a_row_the_retry_sends_once(app, people, mailbox, runner):
    sid = ready_to_accept(app)
    with app.app_context():
        on_next_commit("after_commit", Crash())
        with pytest.raises(Crash):
            apply_move(db.session.get(Submission, sid), "accept", user_named("admin"))
        db.session.remove()
    assert mailbox == []
    with app.app_context():
        assert state_of(sid) == "preliminary"  # the move is done …
        [row] = outbox()
        assert row.sent_at is None  # … and its mail is waiting
    result = runner.invoke(args=["cleanup"])
    assert result.exit_code == 0 and "已发送 1 封此前未发出的通知邮件" in result.output
    assert [m["To"] for m in mailbox] == [APPLICANT_MAIL]
    runner.invoke(args=["cleanup"])
    assert len(mailbox) == 1
    message_id = mailbox[0]["Message-ID"]
    with app.app_context():
        [row] = outbox()
        assert row.sent_at is not None and message_id == f"<outbox.{row.id}.{row.created_at:%Y%m%d%H%M%S%f}@localhost>"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_mail_server_that_is_down_does_not_fail_the_move_and_the_mail_waits(app, people, mailbox, runner,
                                                                              monkeypatch):
    sid = ready_to_accept(app)
    sink_port = app.config["MAIL_PORT"]
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there
    with app.app_context():
        apply_move(db.session.get(Submission, sid), "accept", user_named("admin"))
        assert state_of(sid) == "preliminary"
        [row] = outbox()
        assert row.sent_at is None and row.claimed_at is None and row.attempts == 1 and row.error
    monkeypatch.setitem(app.config, "MAIL_PORT", sink_port)
    runner.invoke(args=["cleanup"])
    runner.invoke(args=["cleanup"])
    assert [m["To"] for m in mailbox] == [APPLICANT_MAIL]


def test_without_a_mail_server_a_move_queues_no_mail(app, people):
    sid = ready_to_accept(app)
    with app.app_context():
        apply_move(db.session.get(Submission, sid), "accept", user_named("admin"))
        assert state_of(sid) == "preliminary" and outbox() == []
