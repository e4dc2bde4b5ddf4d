"""Optional e-mail notifications (off unless MAIL_SERVER is configured).

A failed e-mail never blocks a move: it is logged and dropped."""
import smtplib
from email.message import EmailMessage

from flask import current_app, has_app_context


def send_mail(to: list[str], text: str) -> None:
    if not to or not has_app_context() or not current_app.config.get("MAIL_SERVER"):
        return
    msg = EmailMessage()
    msg["Subject"] = "湖南省产业集群竞赛申报系统通知"
    msg["From"] = current_app.config["MAIL_SENDER"]
    msg["To"] = ", ".join(to)
    msg.set_content(text)
    try:
        with smtplib.SMTP(current_app.config["MAIL_SERVER"], current_app.config["MAIL_PORT"], timeout=5) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException):
        current_app.logger.warning("E-mail notification failed", exc_info=True)
