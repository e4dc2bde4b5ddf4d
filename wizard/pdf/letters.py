"""账号通知书: the account letters, one page per account, printed once when accounts are opened or
their passwords reset, and sent by official letter.  Each page names the organisation and the
person, the system's address, the username, the one-time password and until when it is valid,
the first-login steps and whom to ask.

The passwords exist only in the ``Letter`` objects the caller passes in (the moment they are
made): they are never stored, so the PDF is made at once and handed over once.  Every value is
escaped by the template (Jinja autoescape); the engine survives hostile markup anyway."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, has_request_context, render_template, request

from ..accounts import NEW_PASSWORD_MIN_LENGTH, PASSWORD_RULES, one_time_expires_at
from ..models import ROLE_EXPERT, EXPERT_CATEGORY_LABELS, local_now, to_local
from .inline import render_pdf

DEFAULT_ADDRESS = "http://127.0.0.1:5000/"


@dataclass(frozen=True)
class Letter:
    """One account's letter: what its page prints."""

    username: str
    password: str
    organisation: str
    person: str
    role: str
    expires: datetime | None  # Beijing time
    profile: str = ""  # an expert's 所在市州 · 擅长类别


def letter_for(user, password: str) -> Letter:
    """The letter of ``user`` whose one-time password was just issued."""
    expires = one_time_expires_at(user)
    profile = ""
    if user.role == ROLE_EXPERT:
        profile = "；".join(x for x in (user.region.name if user.region else "",
                                       EXPERT_CATEGORY_LABELS.get(user.expert_categories or "", "")) if x)
    return Letter(username=user.username, password=password, organisation=user.binding_label or "",
                  person=user.display_name or "", role=user.role_label, profile=profile,
                  expires=to_local(expires) if expires else None)


def system_address() -> str:
    """PUBLIC_URL as configured; otherwise the address this request came to (the CLI: localhost)."""
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured
    return request.url_root if has_request_context() else DEFAULT_ADDRESS


def letters_html(letters: list[Letter]) -> str:
    return render_template("print_letters.html", letters=letters, address=system_address(), rules=PASSWORD_RULES,
                           min_length=NEW_PASSWORD_MIN_LENGTH, help=current_app.config["ACCOUNT_HELP"],
                           issued=local_now(), days=current_app.config["ONE_TIME_PASSWORD_DAYS"])


def letters_pdf(letters: list[Letter]) -> bytes:
    return render_pdf(letters_html(letters), static_root=current_app.static_folder,
                      font_path=current_app.config.get("PDF_FONT_PATH"))


def letters_filename(count: int) -> str:
    return f"账号通知书-{local_now():%Y%m%d-%H%M}-{count}份.pdf"
