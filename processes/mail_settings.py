"""Where and how Kedja sends mail: the SMTP relay, the sender and the web UI's address.

Read from the environment by each process that delivers (`kedja worker`, `kedja serve`,
`kedja notifications deliver`), so every deliverer of one installation sends the same way.
The composer needs the sender (for Message-IDs) and the base URL (for links) as much as the
deliverer needs the relay, which is why the settings are their own module.

Configuration (environment): `KEDJA_SMTP_HOST` (without it nothing is sent and everything
stays queued), `KEDJA_SMTP_PORT` (default 587 with STARTTLS, else 25), `KEDJA_SMTP_USER`,
`KEDJA_SMTP_PASSWORD`, `KEDJA_SMTP_STARTTLS` (1/true/yes), `KEDJA_SMTP_TIMEOUT` (seconds,
default 10), `KEDJA_MAIL_FROM` (default `Kedja <kedja@localhost>`), `KEDJA_BASE_URL` (the web
UI's address as users reach it; default `http://127.0.0.1:5000`). See docs/notifications.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.errors import ValidationError


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class MailSettings:
    """Where and how to send (docs/notifications.md)."""

    host: str | None = None
    port: int = 25
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    sender: str = "Kedja <kedja@localhost>"
    base_url: str = "http://127.0.0.1:5000"
    timeout: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MailSettings:
        env = os.environ if env is None else env
        starttls = _flag(env.get("KEDJA_SMTP_STARTTLS"))
        try:
            port = int(env.get("KEDJA_SMTP_PORT") or (587 if starttls else 25))
            timeout = float(env.get("KEDJA_SMTP_TIMEOUT") or 10)
        except ValueError as exc:
            raise ValidationError(
                f"KEDJA_SMTP_PORT and KEDJA_SMTP_TIMEOUT must be numbers: {exc}"
            ) from exc
        return cls(
            host=(env.get("KEDJA_SMTP_HOST") or "").strip() or None,
            port=port,
            user=env.get("KEDJA_SMTP_USER") or None,
            password=env.get("KEDJA_SMTP_PASSWORD") or None,
            starttls=starttls,
            sender=env.get("KEDJA_MAIL_FROM") or cls.sender,
            base_url=(env.get("KEDJA_BASE_URL") or cls.base_url).rstrip("/"),
            timeout=timeout,
        )

    @property
    def enabled(self) -> bool:
        return self.host is not None

    def absolute(self, link: str | None) -> str | None:
        """A notification's link (`/uppgifter/12`) as the address a mail reader can open."""
        if not link:
            return None
        return link if "://" in link else self.base_url + "/" + link.lstrip("/")
