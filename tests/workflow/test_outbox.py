"""E-mail goes after the commit, and never from the request (issue #24): a move writes its mail
as an outbox row in its own transaction; the background sender (beside ``flask render-worker``)
sends it, and ``flask cleanup`` sends what is left.  A move whose commit fails mails nothing; a
move that commits mails once; a crash after the commit leaves a row that the retry sends exactly
once; a move's request does not wait on an SMTP server that never answers, and a real
``flask render-worker`` process delivers its mail afterwards.  Real database, real SMTP
(tests/mailsink.py)."""
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import event

from factories import ALLOY, AuthActions, submission_of, user_named
import mailsink
from mailsink import background_round
from wizard.extensions import db
from wizard.models import OutboxMail, Submission
from wizard.workflow.moves import apply_move

ROOT = Path(__file__).resolve().parents[2]
mailbox, silent_smtp = mailsink.mailbox, mailsink.silent_smtp  # the fixtures: a real SMTP sink, a silent server

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
    background_round(app)
    assert mailbox == []


def test_a_move_that_commits_mails_once_from_the_background(app, people, mailbox, runner):
    sid = ready_to_accept(app)
    with app.app_context():
        apply_move(db.session.get(Submission, sid), "accept", user_named("admin"))
        assert state_of(sid) == "preliminary"
        [row] = outbox()
        assert row.sent_at is None and row.attempts == 0  # the move itself sent nothing
    assert mailbox == []
    background_round(app)
    assert len(mailbox) == 1
    assert mailbox[0]["To"] == APPLICANT_MAIL and "纳入初赛" in mailbox[0].get_content()
    with app.app_context():
        [row] = outbox()
        assert row.sent_at is not None and row.attempts == 1 and "纳入初赛" in row.text  # kept: no secret
    background_round(app)
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
    background_round(app)
    with app.app_context():
        [row] = outbox()
        assert row.sent_at is None and row.claimed_at is None and row.attempts == 1 and row.error
    background_round(app)  # the background sender tries a failed mail again only after a while
    with app.app_context():
        assert outbox()[0].attempts == 1
    monkeypatch.setitem(app.config, "MAIL_PORT", sink_port)
    runner.invoke(args=["cleanup"])  # the operator's run tries every waiting mail now
    runner.invoke(args=["cleanup"])
    background_round(app)
    assert [m["To"] for m in mailbox] == [APPLICANT_MAIL]


def test_without_a_mail_server_a_move_queues_no_mail(app, people):
    sid = ready_to_accept(app)
    with app.app_context():
        apply_move(db.session.get(Submission, sid), "accept", user_named("admin"))
        assert state_of(sid) == "preliminary" and outbox() == []


def render_worker(app, tmp_path, mail_port):
    """A real ``flask --app wizard render-worker`` process on this test's database, mail to
    ``mail_port``, and a render queue of its own (the session's consumer keeps the tests' renders)."""
    config = {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "test-secret",
              "INSTANCE_PATH": str(tmp_path / "worker"), "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
              "PDF_CACHE_FOLDER": app.config["PDF_CACHE_FOLDER"], "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": mail_port,
              "RENDER_QUEUE_URL": f"sqlite:///{tmp_path / 'worker-queue.db'}"}
    log = open(tmp_path / "render-worker.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", f"wizard:create_app({config!r})", "render-worker"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.server  # starts `flask render-worker`
def test_a_moves_request_does_not_wait_on_the_mail_server_and_the_render_worker_delivers(
        app, people, client, mailbox, silent_smtp, monkeypatch, tmp_path):
    sid = ready_to_accept(app)
    sink_port = app.config["MAIL_PORT"]
    monkeypatch.setitem(app.config, "MAIL_PORT", silent_smtp.port)  # accepts, never answers
    auth = AuthActions(client)
    auth.login("admin")
    with app.app_context():
        version = db.session.get(Submission, sid).version
    r = client.post(f"/submissions/{sid}/move", data={"csrf_token": auth.csrf(), "move": "accept",
                                                      "version": version})
    assert r.status_code == 302  # the move is done, and the request never spoke to the mail server
    assert silent_smtp.connections == 0
    with app.app_context():
        assert state_of(sid) == "preliminary"
        [row] = outbox()
        assert row.sent_at is None and row.attempts == 0
    worker = render_worker(app, tmp_path, sink_port)
    try:
        deadline = time.monotonic() + 180  # generous: a loaded machine starts the app slowly
        while not mailbox and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.poll() is None, (tmp_path / "render-worker.log").read_text()
    finally:
        worker.terminate()
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    assert [m["To"] for m in mailbox] == [APPLICANT_MAIL] and "纳入初赛" in mailbox[0].get_content()
    assert silent_smtp.connections == 0
    with app.app_context():
        [row] = outbox()
        assert row.sent_at is not None and row.attempts == 1
    assert "同时发送发件箱中的通知邮件" in (tmp_path / "render-worker.log").read_text()
