"""How each user wants to hear of their work, and when a weekly digest's week ends.

`notification_preference.mode`: `each` (the default) sends a mail per notification as it
comes; `digest` holds a user's notifications and sends them as one mail at the first Monday
08:00 Stockholm time after they were queued (the week's items). Mail to an e-mail address
without an account (a prize nominator) is always sent at once. The user chooses on their
settings page (`webui.account`); the deliverer (`processes.mailer`) asks the digest clock
here which notifications are due. See docs/notifications.md.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from engine import Engine
from engine.clock import to_storage
from engine.errors import NotFound, ValidationError

from .calendar import STOCKHOLM
from .models import NotificationPreference, User

MODES = ("each", "digest")
DIGEST_WEEKDAY = 0  # Monday
DIGEST_TIME = time(8, 0)


def preference(engine: Engine, user_id: str) -> str:
    """`each` or `digest` (no stored choice: `each`)."""
    with engine.db.read() as session:
        row = session.get(NotificationPreference, user_id)
        return row.mode if row is not None and row.mode in MODES else "each"


def set_preference(engine: Engine, user_id: str, mode: str) -> None:
    if mode not in MODES:
        raise ValidationError(f"Unknown notification mode {mode!r}; use each or digest.")
    with engine.db.write() as session:
        if session.get(User, user_id) is None:
            raise NotFound(f"There is no user {user_id!r}.")
        row = session.get(NotificationPreference, user_id)
        now = to_storage(engine.clock.now())
        if row is None:
            session.add(NotificationPreference(user_id=user_id, mode=mode, updated_at=now))
        else:
            row.mode, row.updated_at = mode, now


# -- the digest's week ----------------------------------------------------------------------


def digest_time_at_or_before(instant: datetime) -> datetime:
    """The latest Monday 08:00 Stockholm time not after `instant` (aware)."""
    local = instant.astimezone(STOCKHOLM)
    day = local.date() - timedelta(days=(local.weekday() - DIGEST_WEEKDAY) % 7)
    candidate = datetime.combine(day, DIGEST_TIME, tzinfo=STOCKHOLM)
    if candidate > local:
        candidate = datetime.combine(day - timedelta(days=7), DIGEST_TIME, tzinfo=STOCKHOLM)
    return candidate


def next_digest_time(instant: datetime) -> datetime:
    """The first Monday 08:00 Stockholm time after `instant`: when what is queued now for a
    digest reader goes out."""
    last = digest_time_at_or_before(instant)
    return datetime.combine(last.date() + timedelta(days=7), DIGEST_TIME, tzinfo=STOCKHOLM)
