"""A real (tiny) SMTP server for tests: every message it accepts lands in a list.  The same
sink as tests/accounts/test_reset.py's; ``mailbox`` points MAIL_SERVER at it for one test."""
import socketserver
import threading
from email import message_from_bytes
from email.policy import default

import pytest


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
