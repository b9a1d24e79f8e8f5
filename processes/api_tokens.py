"""Personal API tokens for the REST API (`/api/v1`, docs/api.md).

A token is a credential that acts as its user — the same roles, the same organisations, the
same checks as the web UI — for a script or another system (a case-management system, the
load test in bench/). Unlike the calendar-feed address, a user may hold several (one per
integration, each with a name, each revoked on its own).

The token is `kedja_` followed by 32 random bytes (256 bits, URL-safe): the prefix lets
secret scanners and people recognise one in a log or a repository. Only its SHA-256 is
stored, so a copy of the database (a backup, a test dump) opens nothing, and Kedja can show
a token only once, when it is created. A revoked token, a token of a user who is no longer
active and an unknown token are all simply "not a token".

Every token expires (`expires_at`): 90 days after it is made unless `KEDJA_API_TOKEN_DAYS`
(or `--days` on the command line) says otherwise. Why: a token copied into a script, a
server's configuration or a log outlives the reason it was made; an expiry bounds how long a
forgotten or leaked one works, and the owner's renewal is the sign that it is still wanted.
An expired token is refused with its own error (`TokenExpired`, the API's 401 says when it
expired and where to renew it), because "unknown or revoked" would send its owner looking
for the wrong cause. Renewing (`renew`: on the account page for one's own tokens, with
`kedja token renew` for any) sets the expiry that many days from now and records when
(`renewed_at`, and a line in the log); a revoked token cannot be renewed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from engine import Engine
from engine.clock import from_storage, to_storage
from engine.errors import KedjaError, NotFound, ValidationError

from .calendar import STOCKHOLM
from .models import ApiToken, User

PREFIX = "kedja_"
TOKEN = re.compile(r"^kedja_[A-Za-z0-9_-]{32,128}$")
USED_RESOLUTION = timedelta(hours=1)
"""`last_used_at` is refreshed at most this often: an exact time would cost a write on every
API request, and "used within the hour" is what an administrator needs to know."""
DEFAULT_DAYS = 90
MAX_DAYS = 3650
log = logging.getLogger("kedja.api_tokens")


class TokenExpired(KedjaError):
    """A token that would work but for its age: its owner may renew it."""

    def __init__(self, token_id: int, expires_at: datetime) -> None:
        self.token_id = token_id
        self.expires_at = expires_at
        local = expires_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
        super().__init__(
            f"The API token expired on {local} (Stockholm time); renew it on your account "
            f"page (Inställningar), or ask an administrator to run `kedja token renew "
            f"{token_id}`."
        )


def lifetime_days(days: int | None = None) -> int:
    """How many days a new or renewed token works: `days` when given, else
    KEDJA_API_TOKEN_DAYS, else 90 — a whole number from 1 to 3650."""
    raw: object = days if days is not None else os.environ.get("KEDJA_API_TOKEN_DAYS", "")
    if raw == "":
        return DEFAULT_DAYS
    text = str(raw).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        source = "The token's lifetime" if days is not None else "KEDJA_API_TOKEN_DAYS"
        raise ValidationError(
            f"{source} must be a whole number of days from 1 to {MAX_DAYS}, not {raw!r} "
            f"(the default is {DEFAULT_DAYS})."
        )
    return int(text)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token (never the token itself)."""

    id: int
    user_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime
    renewed_at: datetime | None

    @property
    def active(self) -> bool:
        """Not revoked (it may still have expired: see `expired`)."""
        return self.revoked_at is None

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "user": self.user_id,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "expires_at": self.expires_at.isoformat(),
            "renewed_at": self.renewed_at.isoformat() if self.renewed_at else None,
        }


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        row.id,
        row.user_id,
        row.name,
        from_storage(row.created_at),  # type: ignore[arg-type]
        from_storage(row.last_used_at),
        from_storage(row.revoked_at),
        from_storage(row.expires_at),  # type: ignore[arg-type]
        from_storage(row.renewed_at),
    )


def create(
    engine: Engine, user_id: str, name: str = "", days: int | None = None
) -> tuple[TokenInfo, str]:
    """A new token for an active user of the register, working for `days` (see
    `lifetime_days`); returns its description and the token itself, which is not stored and
    cannot be shown again."""
    name = name.strip()[:100] or "api"
    lifetime = timedelta(days=lifetime_days(days))
    now = engine.clock.now()
    with engine.db.write() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise NotFound(f"There is no active user {user_id!r} in the register.")
        token = PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            user_id=user_id,
            name=name,
            token_hash=token_hash(token),
            created_at=to_storage(now),
            expires_at=to_storage(now + lifetime),
        )
        session.add(row)
        session.flush()
        return _info(row), token


def tokens(engine: Engine, user_id: str | None = None) -> list[TokenInfo]:
    """Every token (or one user's), newest first, revoked ones included: an administrator
    checking who can reach the API wants the whole picture."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    with engine.db.read() as session:
        return [_info(row) for row in session.scalars(query)]


def revoke(engine: Engine, token_id: int) -> TokenInfo:
    """Stop a token at once (the next request with it gets 401). Revoking a revoked token
    changes nothing; an unknown id is an error, so a typo does not pass for success."""
    with engine.db.write() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise NotFound(f"There is no API token {token_id}.")
        if row.revoked_at is None:
            row.revoked_at = to_storage(engine.clock.now())
        return _info(row)


def renew(
    engine: Engine, token_id: int, owner: str | None = None, days: int | None = None
) -> TokenInfo:
    """Let a token work `days` (see `lifetime_days`) from now, expired or not, and record
    when. `owner`: only that user's token (the account page), so another user's id is "no
    such token", never a hint that it exists. A revoked token stays revoked."""
    lifetime = timedelta(days=lifetime_days(days))
    now = engine.clock.now()
    with engine.db.write() as session:
        row = session.get(ApiToken, token_id)
        if row is None or (owner is not None and row.user_id != owner):
            raise NotFound(f"There is no API token {token_id}.")
        if row.revoked_at is not None:
            raise ValidationError(
                f"API token {token_id} is revoked and cannot be renewed; create a new one."
            )
        row.expires_at = to_storage(now + lifetime)
        row.renewed_at = to_storage(now)
        info = _info(row)
    log.info(
        "API token %s of %s renewed until %s",
        info.id,
        info.user_id,
        info.expires_at.isoformat(),
        extra={"token_id": info.id, "user": info.user_id},
    )
    return info


def user_for(engine: Engine, token: str) -> str | None:
    """The active user a working token belongs to; None for anything else. A token that
    would work but has expired raises `TokenExpired`, so its owner learns what to do."""
    if not TOKEN.match(token):
        return None
    digest = token_hash(token)
    with engine.db.read() as session:
        found = session.execute(
            select(ApiToken.id, ApiToken.user_id, ApiToken.last_used_at, ApiToken.expires_at)
            .join(User, User.id == ApiToken.user_id)
            .where(
                ApiToken.token_hash == digest,
                ApiToken.revoked_at.is_(None),
                User.active.is_(True),
            )
        ).first()
    if found is None:
        return None
    token_id, user_id, last_used, expires = found
    now = engine.clock.now()
    expires_at = from_storage(expires)
    if expires_at is not None and expires_at <= now:
        raise TokenExpired(token_id, expires_at)
    used = from_storage(last_used)
    if used is None or now - used >= USED_RESOLUTION:
        with engine.db.write() as session:
            session.execute(
                update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=to_storage(now))
            )
    return user_id


def check_name(name: str) -> str:
    """A token's name as given on the command line: short, printable."""
    if len(name) > 100 or not name.isprintable():
        raise ValidationError("A token's name is at most 100 printable characters.")
    return name
