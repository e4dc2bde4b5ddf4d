"""E-mail (off unless MAIL_SERVER is configured), sent after the commit of what it tells.

A move writes its mail as an ``OutboxMail`` row in its own transaction (``queue_mail``) and
sends it once the transaction has committed (``deliver_outbox``): a move that is rolled back
mails nothing, and no database lock is held while the SMTP server answers (5 s at worst).
Each row is claimed (a conditional UPDATE, committed) before it is sent and marked sent after,
so two senders never send one row together; a crash after the commit leaves the row unsent,
and ``flask cleanup`` sends it.  A row claimed by a sender that died is taken again after
``STALE_CLAIM``; its message keeps its Message-ID, so a mail server that had already accepted
it can recognise the repeat.  A failed e-mail never blocks a move: it is logged, kept and
retried (up to ``MAX_ATTEMPTS`` times)."""
from __future__ import annotations

import smtplib
from datetime import timedelta
from email.message import EmailMessage

from flask import current_app, has_app_context
from sqlalchemy import or_, update

from .extensions import db
from .models import OutboxMail, utcnow

SUBJECT = "湖南省产业集群竞赛申报系统通知"
SMTP_TIMEOUT = 5
#: a claim older than this belongs to a sender that died: the row is sent again
STALE_CLAIM = timedelta(minutes=10)
MAX_ATTEMPTS = 10


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


def send_mail(to: list[str], text: str) -> None:
    """Send now (callers call it after their commit; a failure is logged and dropped)."""
    if not to or not mail_enabled():
        return
    try:
        _smtp_send(_message(to, text))
    except (OSError, smtplib.SMTPException):
        current_app.logger.warning("E-mail notification failed", exc_info=True)


def queue_mail(to: list[str], text: str) -> OutboxMail | None:
    """Add the mail to the current transaction (sent by ``deliver_outbox`` after the commit)."""
    to = [address for address in to if address]
    if not to or not mail_enabled():
        return None
    row = OutboxMail(recipients=", ".join(to), text=text)
    db.session.add(row)
    return row


def _message_id(row: OutboxMail) -> str:
    """The same for every attempt of one row (the repeat of a message is recognisable)."""
    domain = current_app.config["MAIL_SENDER"].rpartition("@")[2] or "localhost"
    return f"<outbox.{row.id}.{row.created_at:%Y%m%d%H%M%S%f}@{domain}>"


def _claim(row_id: int) -> bool:
    """Take the row for this sender (committed): False when it is sent, or another sender has it."""
    now = utcnow()
    result = db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == row_id, OutboxMail.sent_at.is_(None), OutboxMail.attempts < MAX_ATTEMPTS,
               or_(OutboxMail.claimed_at.is_(None), OutboxMail.claimed_at < now - STALE_CLAIM))
        .values(claimed_at=now, attempts=OutboxMail.attempts + 1)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def _settle(row_id: int, error: str | None) -> None:
    values = {"claimed_at": None, "error": error[:500]} if error else {"sent_at": utcnow(), "error": None}
    db.session.execute(update(OutboxMail).where(OutboxMail.id == row_id).values(**values)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def deliver_outbox(ids: list[int] | None = None) -> tuple[int, int]:
    """Send the unsent mail (``ids``: only these rows), each row once; (sent, failed).  Call it
    after a commit: it commits its own claims."""
    if not mail_enabled():
        return 0, 0
    query = db.select(OutboxMail.id).where(OutboxMail.sent_at.is_(None)).order_by(OutboxMail.id)
    if ids is not None:
        query = query.where(OutboxMail.id.in_(ids))
    sent = failed = 0
    for row_id in db.session.execute(query).scalars().all():
        if not _claim(row_id):
            continue
        row = db.session.get(OutboxMail, row_id)
        try:
            _smtp_send(_message(row.recipients.split(", "), row.text, _message_id(row)))
        except (OSError, smtplib.SMTPException) as exc:
            current_app.logger.warning("E-mail %d not sent (attempt %d)", row_id, row.attempts, exc_info=True)
            _settle(row_id, f"{type(exc).__name__}: {exc}")
            failed += 1
        else:
            _settle(row_id, None)
            sent += 1
    return sent, failed
