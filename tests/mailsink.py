"""A real (tiny) SMTP server for tests: every message it accepts lands in a list; ``mailbox``
points MAIL_SERVER at it for one test.  Also: a server that accepts and never answers
(``silent_smtp``), one round of the background sender (``background_round``) and a commit that
fails, or a crash right after it, in the transaction that writes an outbox row
(``fail_when_mail_commits``)."""
import socket
import socketserver
import threading
from email import message_from_bytes
from email.policy import default
from types import SimpleNamespace

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from wizard.mail import deliver_in_background
from wizard.models import OutboxMail


class _Sink(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: every message received lands in server.messages."""

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        self.reply("220 sink")
        body, in_data = [], False
        for line in self.rfile:
            if in_data:
                if line.rstrip(b"\r\n") == b".":
                    self.server.messages.append(message_from_bytes(b"".join(body), policy=default))
                    body, in_data = [], False
                    self.reply("250 queued")
                else:
                    body.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.reply("250-sink")
                self.reply("250 8BITMIME")
            elif verb == b"DATA":
                in_data = True
                self.reply("354 go on")
            elif verb == b"QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def mailbox(app, monkeypatch):
    """An SMTP server on a free local port; MAIL_SERVER points at it for this test."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", server.server_address[1])
    yield server.messages
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_smtp():
    """A local server that accepts every connection and never answers (an SMTP server that
    hangs): ``.connections`` counts who connected.  Point MAIL_PORT at ``.port``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = SimpleNamespace(port=listener.getsockname()[1], connections=0, held=[])

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            server.connections += 1
            server.held.append(conn)  # kept open, never written to

    threading.Thread(target=accept, daemon=True).start()
    yield server
    listener.close()
    for conn in server.held:
        conn.close()


def background_round(app):
    """One round of the background sender (what ``flask render-worker`` runs every few seconds,
    wizard/mail.deliver_in_background): the event is set, so it sends what is due once and stops."""
    stop = threading.Event()
    stop.set()
    deliver_in_background(app, stop)


@pytest.fixture
def fail_when_mail_commits():
    """A function: ``fail(event_name, exception)`` raises ``exception`` from the ``before_commit``
    or ``after_commit`` of the next transaction that writes an outbox row (whichever session: a
    request's or the test's), once.  Whatever did not fire is removed after the test."""
    installed = []

    def fail(event_name, exception):
        def flushed(session, _context):
            if any(isinstance(o, OutboxMail) for o in session.new):
                session.info["wrote_mail"] = True

        def fire(session):
            if event_name == "before_commit" and any(isinstance(o, OutboxMail) for o in session.new):
                session.info["wrote_mail"] = True
            if session.info.pop("wrote_mail", False):
                remove()
                raise exception

        def remove():
            for name, listener in ((event_name, fire), ("after_flush", flushed)):
                if event.contains(Session, name, listener):
                    event.remove(Session, name, listener)

        event.listen(Session, "after_flush", flushed)
        event.listen(Session, event_name, fire)
        installed.append(remove)

    yield fail
    for remove in installed:
        remove()
