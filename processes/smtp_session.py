"""The SMTP side of mail delivery: one connection to the relay, and what its errors say.

`processes.mailer` decides what to send and records the outcome; this module only opens the
session (EHLO, STARTTLS, login, as `processes.mail_settings` says) and turns smtplib's
exceptions into the reply code and the sentence stored in a notification's `last_error`.
Any failure to reach or greet the server is `ServerUnavailable`: nothing about one message.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from .mail_settings import MailSettings

ERROR_LENGTH = 1000
PERMANENT_CODES = range(500, 600)


class ServerUnavailable(Exception):
    """The SMTP server cannot take mail now (nothing about one message)."""


def smtp_code(exc: BaseException) -> int | None:
    """The reply code of a refusal (the lowest, when several recipients were refused)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return min(codes) if codes else None
    return getattr(exc, "smtp_code", None)


def describe(exc: BaseException) -> str:
    """What went wrong, as one line for `last_error` (at most ERROR_LENGTH characters)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        detail = "; ".join(
            f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for addr, (code, msg) in exc.recipients.items()
        )
        return f"recipient refused: {detail}"[:ERROR_LENGTH]
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error
        text = msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)
        return f"{type(exc).__name__}: {exc.smtp_code} {text}"[:ERROR_LENGTH]
    return f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]


@contextmanager
def connect(s: MailSettings) -> Iterator[smtplib.SMTP]:
    """A greeted (and, as configured, encrypted and signed-in) session; closed on exit."""
    try:
        smtp = smtplib.SMTP(s.host or "", s.port, timeout=s.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        raise ServerUnavailable(describe(exc)) from exc
    try:
        try:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, s.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise ServerUnavailable(describe(exc)) from exc
        yield smtp
    finally:
        with suppress(OSError, smtplib.SMTPException):
            smtp.quit()
        with suppress(OSError):
            smtp.close()
