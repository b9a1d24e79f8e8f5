"""Private calendar-feed addresses: a random token per user, of which only the hash is kept.

The feed is read by calendar programs (Outlook, Google Calendar, a phone) that cannot sign
in, so the address itself is the credential: 32 random bytes (256 bits), URL-safe. The
database keeps its SHA-256 only, so a copy of the database (a backup, a test dump) does not
open anyone's calendar; the consequence is that Kedja can show an address only when it
creates it. A user has at most one working address: creating a new one revokes the old,
and revoking leaves none. A revoked or unknown token gets 404, like any address that does
not exist.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from engine import Engine
from engine.clock import from_storage, to_storage
from processes.models import CalendarToken, User

TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class ActiveToken:
    id: int
    created_at: datetime


def active(engine: Engine, user_id: str) -> ActiveToken | None:
    """The user's working calendar address (when it was made; never the token)."""
    with engine.db.read() as session:
        row = session.scalars(
            select(CalendarToken)
            .where(CalendarToken.user_id == user_id, CalendarToken.revoked_at.is_(None))
            .order_by(CalendarToken.id.desc())
        ).first()
        return ActiveToken(row.id, from_storage(row.created_at)) if row else None  # type: ignore[arg-type]


def create(engine: Engine, user_id: str) -> str:
    """A new token for the user (the old one stops working); returns the token itself,
    which is not stored and cannot be shown again."""
    token = secrets.token_urlsafe(32)
    now = to_storage(engine.clock.now())
    with engine.db.write() as session:
        _revoke(session, user_id, now)
        session.add(CalendarToken(user_id=user_id, token_hash=token_hash(token), created_at=now))
    return token


def revoke(engine: Engine, user_id: str) -> int:
    """Stop the user's calendar address; returns how many were working (0 or 1)."""
    with engine.db.write() as session:
        return _revoke(session, user_id, to_storage(engine.clock.now()))


def _revoke(session, user_id: str, now: datetime) -> int:  # type: ignore[no-untyped-def]
    result = session.execute(
        update(CalendarToken)
        .where(CalendarToken.user_id == user_id, CalendarToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


def user_for(engine: Engine, token: str) -> str | None:
    """The active user a working token belongs to; None for anything else."""
    if not TOKEN.match(token):
        return None
    with engine.db.read() as session:
        return session.scalar(
            select(CalendarToken.user_id)
            .join(User, User.id == CalendarToken.user_id)
            .where(
                CalendarToken.token_hash == token_hash(token),
                CalendarToken.revoked_at.is_(None),
                User.active.is_(True),
            )
        )
