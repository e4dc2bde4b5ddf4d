"""E-mail (off unless MAIL_SERVER is configured), sent after the commit of what it tells, and
never by the request.

What has something to tell writes its mail as an ``OutboxMail`` row in its own transaction
(``queue_mail``: a move, a reviewer reminder, a password-reset link); the committed row is the
only signal.  A background sender delivers it (``deliver_outbox``): the loop
``deliver_in_background`` that runs beside the render consumer (``flask render-worker``) and
looks at the outbox every ``POLL_SECONDS``; where no consumer runs, ``flask cleanup`` (cron)
sends what is waiting.  So a request never waits on the SMTP server (5 s at worst per mail), a
transaction that is rolled back mails nothing, and no database lock is held while a server answers.

Each row is claimed (a conditional UPDATE, committed) before it is sent and marked sent after,
so two senders never send one row together; a sender that dies after its claim leaves the row
to be taken again after ``STALE_CLAIM``, and its message keeps its Message-ID, so a mail server
that had already accepted it can recognise the repeat.  A failed e-mail never blocks anything:
it is logged, kept and retried (up to ``MAX_ATTEMPTS`` times; the background sender waits
longer after each failure, ``RETRY_AFTER``).  A mail that carries a secret (``valid_for``: a
reset link) is never sent once it expired, its text is blanked once sent, and its row is deleted
once it expired."""
from __future__ import annotations

import smtplib
import threading
from datetime import timedelta
from email.message import EmailMessage

from flask import current_app, has_app_context
from sqlalchemy import delete, or_, update

from .extensions import db
from .models import OutboxMail, utcnow

SUBJECT = "湖南省产业集群竞赛申报系统通知"
SMTP_TIMEOUT = 5
#: a claim older than this belongs to a sender that died: the row is sent again
STALE_CLAIM = timedelta(minutes=10)
MAX_ATTEMPTS = 10
#: the background sender tries a failed row again RETRY_AFTER × (2ⁿ − 1) after it was written
#: (n failures so far: 1, 3, 7 … minutes; the tenth attempt about 8.5 hours later)
RETRY_AFTER = timedelta(minutes=1)
#: how often the background sender looks at the outbox (one indexed SELECT when nothing waits)
POLL_SECONDS = 3.0


def mail_enabled() -> bool:
    return has_app_context() and bool(current_app.config.get("MAIL_SERVER"))


def _message(to: list[str], text: str, message_id: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = SUBJECT
    msg["From"] = current_app.config["MAIL_SENDER"]
    msg["To"] = ", ".join(to)
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(text)
    return msg


def _smtp_send(msg: EmailMessage) -> None:
    with smtplib.SMTP(current_app.config["MAIL_SERVER"], current_app.config["MAIL_PORT"],
                      timeout=SMTP_TIMEOUT) as smtp:
        smtp.send_message(msg)


def queue_mail(to: list[str], text: str, valid_for: timedelta | None = None) -> OutboxMail | None:
    """Add the mail to the current transaction: the background sender sends it once committed.
    ``valid_for``: the text carries a secret that expires (a reset link): the mail is not sent
    after that, and its row is deleted then."""
    to = [address for address in to if address]
    if not to or not mail_enabled():
        return None
    row = OutboxMail(recipients=", ".join(to), text=text,
                     expires_at=utcnow() + valid_for if valid_for is not None else None)
    db.session.add(row)
    return row


def _message_id(row: OutboxMail) -> str:
    """The same for every attempt of one row (the repeat of a message is recognisable)."""
    domain = current_app.config["MAIL_SENDER"].rpartition("@")[2] or "localhost"
    return f"<outbox.{row.id}.{row.created_at:%Y%m%d%H%M%S%f}@{domain}>"


def _claim(row_id: int) -> bool:
    """Take the row for this sender (committed): False when it is sent, expired, or another
    sender has it."""
    now = utcnow()
    result = db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == row_id, OutboxMail.sent_at.is_(None), OutboxMail.attempts < MAX_ATTEMPTS,
               or_(OutboxMail.expires_at.is_(None), OutboxMail.expires_at > now),
               or_(OutboxMail.claimed_at.is_(None), OutboxMail.claimed_at < now - STALE_CLAIM))
        .values(claimed_at=now, attempts=OutboxMail.attempts + 1)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def _settle(row: OutboxMail, error: str | None) -> None:
    """A failure keeps the row for the next attempt; a sent row is never sent again, and a
    secret's text (a reset link) is blanked at once."""
    if error:
        values = {"claimed_at": None, "error": error[:500]}
    else:
        values = {"sent_at": utcnow(), "error": None}
        if row.expires_at is not None:
            values["text"] = ""
    db.session.execute(update(OutboxMail).where(OutboxMail.id == row.id).values(**values)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def _forget_expired() -> int:
    """Delete the rows whose secret has expired, sent or not (committed); how many."""
    result = db.session.execute(delete(OutboxMail).where(OutboxMail.expires_at <= utcnow())
                                .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount


def _due(attempts: int, created_at, now) -> bool:
    return attempts == 0 or now >= created_at + RETRY_AFTER * (2 ** attempts - 1)


def deliver_outbox(due_only: bool = False) -> tuple[int, int]:
    """Send the unsent mail, each row once; (sent, failed).  ``due_only``: a row that failed
    waits its turn (RETRY_AFTER; the background sender), else every unsent row is tried now
    (``flask cleanup``).  Commits its own claims: never call it inside a transaction to keep."""
    if not mail_enabled():
        return 0, 0
    _forget_expired()
    waiting = db.session.execute(
        db.select(OutboxMail.id, OutboxMail.attempts, OutboxMail.created_at)
        .where(OutboxMail.sent_at.is_(None), OutboxMail.attempts < MAX_ATTEMPTS).order_by(OutboxMail.id)).all()
    db.session.commit()  # no read transaction held while the SMTP server answers
    now = utcnow()
    sent = failed = 0
    for row_id, attempts, created_at in waiting:
        if due_only and not _due(attempts, created_at, now):
            continue
        if not _claim(row_id):
            continue
        row = db.session.get(OutboxMail, row_id)
        try:
            _smtp_send(_message(row.recipients.split(", "), row.text, _message_id(row)))
        except (OSError, smtplib.SMTPException) as exc:
            current_app.logger.warning("E-mail %d not sent (attempt %d)", row_id, row.attempts, exc_info=True)
            _settle(row, f"{type(exc).__name__}: {exc}")
            failed += 1
        else:
            _settle(row, None)
            sent += 1
    return sent, failed


def deliver_in_background(app, stop: threading.Event, every: float = POLL_SECONDS) -> None:
    """The background sender: sends what is due (``deliver_outbox(due_only=True)``) at once, then
    every ``every`` seconds until ``stop`` is set.  It runs beside the render consumer
    (``flask render-worker``: wizard/pdf/worker.serve's companion thread).  Several may run (one
    per rendering machine): the claims keep each row to one of them.  A database or SMTP server
    that is away is logged once, then tried again on every round."""
    failing = False
    while True:
        with app.app_context():
            try:
                deliver_outbox(due_only=True)
                failing = False
            except Exception:  # the database away for a moment, or a bug: the loop must not die
                if not failing:
                    app.logger.warning("The outbox could not be read or settled; trying again", exc_info=True)
                failing = True
            finally:
                db.session.remove()
        if stop.wait(every):
            return
