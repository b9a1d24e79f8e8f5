"""The mail for a notification, or a weekly digest of several, as its recipient reads it.

A mail is written in its recipient's language (`app_user.language`, Swedish or English):
the greeting, the link text, the digest's heading and the footer. A notification's own
subject and text are as they were queued — the rules of `processes.notification_rules` and a
handover write them in the recipient's language, the diagrams' `notify` texts are the
process owner's Swedish. Every mail has a plain-text part and a simple HTML part, and links
straight to the task (`KEDJA_BASE_URL` + the notification's link). Composing touches no
database and no server, so what a mail says can be read and tested apart from how it is
delivered (`processes.mailer`).
"""

from __future__ import annotations

import hashlib
import html
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from .calendar import STOCKHOLM
from .mail_settings import MailSettings
from .notification_rules import MONTHS_EN

TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "hello": "Hej {name}!",
        "hello_anonymous": "Hej!",
        "open_task": "Öppna uppgiften",
        "open": "Öppna i Kedja",
        "closed": "Uppgiften är redan avslutad.",
        "digest_subject": "Kedja: veckans sammanfattning ({count} meddelanden)",
        "digest_subject_one": "Kedja: veckans sammanfattning (1 meddelande)",
        "digest_intro": "Det här hände i dina ärenden i Kedja sedan förra sammanfattningen.",
        "queued_at": "Meddelande från {when}",
        "footer": (
            "Det här meddelandet kommer från Kedja, stadens system för styrprocesserna i det "
            "brottsförebyggande arbetet, eftersom du har en roll i ärendet. Under "
            "Inställningar väljer du om du vill få ett mejl för varje händelse eller en "
            "sammanfattning varje måndag: {settings}"
        ),
        "footer_anonymous": (
            "Det här meddelandet kommer från Kedja, stadens system för styrprocesserna i det "
            "brottsförebyggande arbetet, med anledning av ett ärende där du har lämnat din "
            "e-postadress. Svara inte på mejlet."
        ),
    },
    "en": {
        "hello": "Hello {name},",
        "hello_anonymous": "Hello,",
        "open_task": "Open the task",
        "open": "Open in Kedja",
        "closed": "The task has already been closed.",
        "digest_subject": "Kedja: your weekly summary ({count} notifications)",
        "digest_subject_one": "Kedja: your weekly summary (1 notification)",
        "digest_intro": "This happened in your cases in Kedja since the last summary.",
        "queued_at": "Notification of {when}",
        "footer": (
            "This message comes from Kedja, the city's system for the governance processes "
            "of crime prevention, because you have a part in the case. Texts written by the "
            "processes themselves are in Swedish. Under Settings you choose between a mail "
            "for each event and a summary every Monday: {settings}"
        ),
        "footer_anonymous": (
            "This message comes from Kedja, the city's system for the governance processes "
            "of crime prevention. Please do not reply."
        ),
    },
}


SUBJECT_LENGTH = 200
"""Longest subject a mail gets (characters); a longer one is cut with "…". Mail clients show
far less, and a subject made from process data must not become a header of any size."""


def one_line(text: str, limit: int = SUBJECT_LENGTH) -> str:
    """`text` as one header line: every run of whitespace and control characters (CR, LF,
    NUL, tab) becomes one space, and it is cut to `limit` characters. A subject comes from
    process data (a `notify` text, a nominee's name) and a CR/LF in it would otherwise stop
    the mail from being built at all, or worse, start a new header."""
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


@dataclass(frozen=True)
class Recipient:
    address: str
    language: str
    name: str | None
    has_account: bool


@dataclass(frozen=True)
class Item:
    """One notification as a mail shows it."""

    id: int
    subject: str
    message: str
    url: str | None
    is_task: bool
    task_closed: bool
    queued_at: datetime


def _when(instant: datetime, language: str) -> str:
    """`2026-05-07 08:00` in Swedish, `7 May 2026, 08:00` in English (Stockholm time)."""
    local = instant.astimezone(STOCKHOLM)
    if language == "en":
        return f"{local.day} {MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def _link_text(item: Item, texts: dict[str, str]) -> str:
    return texts["open_task"] if item.is_task else texts["open"]


def _text_item(item: Item, texts: dict[str, str], language: str, digest: bool) -> list[str]:
    lines = []
    if digest:
        heading = one_line(item.subject)
        lines += [heading, "-" * min(len(heading), 72)]
        lines.append(texts["queued_at"].format(when=_when(item.queued_at, language)))
    if item.message:
        lines.append(item.message)
    if item.task_closed:
        lines.append(texts["closed"])
    if item.url:
        lines.append(f"{_link_text(item, texts)}: {item.url}")
    return lines


def _html_item(item: Item, texts: dict[str, str], language: str, digest: bool) -> str:
    parts = []
    if digest:
        parts.append(f"<h2>{html.escape(one_line(item.subject))}</h2>")
        parts.append(
            "<p><small>"
            + html.escape(texts["queued_at"].format(when=_when(item.queued_at, language)))
            + "</small></p>"
        )
    if item.message:
        parts.append("<p>" + html.escape(item.message).replace("\n", "<br>\n") + "</p>")
    if item.task_closed:
        parts.append(f"<p><em>{html.escape(texts['closed'])}</em></p>")
    if item.url:
        parts.append(
            f'<p><a href="{html.escape(item.url, quote=True)}">'
            f"{html.escape(_link_text(item, texts))}</a></p>"
        )
    return "\n".join(parts)


def compose(
    settings: MailSettings,
    recipient: Recipient,
    items: list[Item],
    now: datetime,
    *,
    digest: bool = False,
) -> EmailMessage:
    """The mail for one notification, or for a digest of several, in the recipient's
    language: plain text plus a simple HTML alternative."""
    language = recipient.language if recipient.language in TEXTS else "sv"
    texts = TEXTS[language]
    if digest:
        subject = (
            texts["digest_subject_one"]
            if len(items) == 1
            else texts["digest_subject"].format(count=len(items))
        )
    else:
        subject = one_line(items[0].subject)
    name = one_line(recipient.name or "", 120)
    hello = texts["hello"].format(name=name) if name else texts["hello_anonymous"]
    footer = (
        texts["footer"].format(settings=settings.absolute("/konto"))
        if recipient.has_account
        else texts["footer_anonymous"]
    )

    text = [hello, ""]
    if digest:
        text += [texts["digest_intro"], ""]
    else:
        text += [subject, ""]
    for item in items:
        text += [*_text_item(item, texts, language, digest), ""]
    text += ["-- ", footer, ""]

    body = [f"<p>{html.escape(hello)}</p>"]
    body.append(
        f"<p>{html.escape(texts['digest_intro'])}</p>"
        if digest
        else f"<h1>{html.escape(subject)}</h1>"
    )
    body += [_html_item(item, texts, language, digest) for item in items]
    body.append(f"<hr>\n<p><small>{html.escape(footer)}</small></p>")
    page = (
        f'<!doctype html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(subject)}</title>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = (
        Address(display_name=name, addr_spec=recipient.address) if name else recipient.address
    )
    message["Date"] = format_datetime(now.astimezone(STOCKHOLM))
    message["Message-ID"] = _message_id(settings, items, digest)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    message["X-Kedja-Notification"] = ", ".join(str(item.id) for item in items)
    message.set_content("\n".join(text))
    message.add_alternative(page, subtype="html")
    message["Content-Language"] = language  # after the content, which clears Content-*
    return message


def _message_id(settings: MailSettings, items: list[Item], digest: bool) -> str:
    """The same notification gets the same Message-ID however often it is sent (the crash
    window described in `processes.mailer`), so a mail system that folds duplicates shows
    it once."""
    _, address = parseaddr(settings.sender)
    domain = address.rpartition("@")[2] or "kedja.invalid"
    if digest:
        key = hashlib.sha256(",".join(str(i.id) for i in items).encode()).hexdigest()[:20]
        return f"<kedja-digest-{key}@{domain}>"
    return f"<kedja-notification-{items[0].id}@{domain}>"
