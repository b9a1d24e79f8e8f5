"""Delete finished notifications once they are no longer needed (GDPR storage limitation).

A notification row holds personal data — a name or an e-mail address, a task's text — and
once it has been mailed its only use is to answer "was I told?" for a while. So rows that are
finished are deleted after a retention period; queued rows are never touched, whatever their
age, because deleting one would lose a mail.

- `sent`: deleted `KEDJA_NOTIFICATION_RETENTION_DAYS` (default 90) days after they were sent
  (`sent_at`).
- `failed` and `skipped`: deleted `KEDJA_NOTIFICATION_FAILED_RETENTION_DAYS` (default 180)
  days after they were queued (`created_at`; these rows record no later time). Longer than
  for sent mail, because such a row is the only trace that someone was not told, and an
  administrator needs time to notice it, fix the address and queue it again.

There is no "keep for ever": each value must be a whole number of days from 1 to 36500; 0, a
negative number or anything else stops `kedja worker`/`kedja serve` at start with an error
naming the variable. An installation that needs longer sets a larger number, on purpose.

`kedja worker` and `kedja serve` (with timers) prune once at start — a laptop that is off at
night still prunes — and every night at 03:30 Stockholm time. Any number of processes may
prune one database at once: each batch of rows is one short transaction that locks only its
own rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite the batch holds the write lock
for milliseconds, and other writers get their turn between batches), and deleting a row
twice is impossible, not merely harmless. `kedja notifications prune` runs it by hand.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select

from engine import Engine
from engine.clock import to_storage
from engine.errors import ValidationError

from .calendar import STOCKHOLM
from .models import Notification

log = logging.getLogger(__name__)

SENT_ENV = "KEDJA_NOTIFICATION_RETENTION_DAYS"
FAILED_ENV = "KEDJA_NOTIFICATION_FAILED_RETENTION_DAYS"
SENT_DAYS = 90
FAILED_DAYS = 180
MAX_DAYS = 36500  # a hundred years: beyond it the cut-off date would leave the calendar
PRUNE_HOUR, PRUNE_MINUTE = 3, 30  # Stockholm time, when nobody works and no digest goes out
BATCH = 500
PRUNED_STATES = ("sent", "failed", "skipped")  # never `queued`: that would lose a mail


def _days(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(
            f"{name} must be a whole number of days from 1 to {MAX_DAYS}, not {raw!r}. "
            f"Unset it for the default of {default} days; there is no 'keep for ever' "
            "(see docs/notifications.md)."
        )
    return days


@dataclass(frozen=True)
class RetentionSettings:
    """How many days finished notifications are kept, by state."""

    sent_days: int = SENT_DAYS
    failed_days: int = FAILED_DAYS  # failed and skipped

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetentionSettings:
        env = os.environ if env is None else env
        return cls(_days(env, SENT_ENV, SENT_DAYS), _days(env, FAILED_ENV, FAILED_DAYS))

    @classmethod
    def uniform(cls, days: int) -> RetentionSettings:
        """The same period for every finished state (`prune --older-than-days N`)."""
        if not 1 <= days <= MAX_DAYS:
            raise ValidationError(f"The retention must be 1 to {MAX_DAYS} days, not {days}.")
        return cls(days, days)

    def days(self, state: str) -> int:
        return self.sent_days if state == "sent" else self.failed_days


@dataclass(frozen=True)
class Cut:
    """What one state's pruning matched: rows finished before `before`."""

    state: str
    older_than_days: int
    before: datetime
    count: int  # deleted; on a dry run, how many would be


@dataclass
class Pruned:
    """What one pruning did (or, on a dry run, would do)."""

    dry_run: bool
    cuts: list[Cut] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(cut.count for cut in self.cuts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "total": self.total,
            "states": {
                cut.state: {
                    "older_than_days": cut.older_than_days,
                    "before": cut.before,
                    "count": cut.count,
                }
                for cut in self.cuts
            },
        }


def _old(state: str, before: datetime) -> list[ColumnElement[bool]]:
    """The conditions for a row of `state` finished before `before` (naive UTC)."""
    conditions = [Notification.state == state, Notification.created_at < before]
    if state == "sent":
        # Aged by when it was sent. A row is sent after it is queued, so the created_at
        # condition above never excludes one, and it lets the query use that column's index
        # (sent_at has none).
        conditions.append(func.coalesce(Notification.sent_at, Notification.created_at) < before)
    return conditions


def prune(
    engine: Engine,
    settings: RetentionSettings | None = None,
    *,
    dry_run: bool = False,
    batch: int = BATCH,
) -> Pruned:
    """Delete finished notifications older than their retention, in batches of `batch`
    rows, each its own transaction; on a dry run count them and delete nothing."""
    settings = settings or RetentionSettings.from_env()
    now = engine.clock.now()
    result = Pruned(dry_run)
    for state in PRUNED_STATES:
        days = settings.days(state)
        before = now - timedelta(days=days)
        conditions = _old(state, to_storage(before))
        if dry_run:
            with engine.db.read() as session:
                count = session.scalar(
                    select(func.count()).select_from(Notification).where(*conditions)
                )
        else:
            count = _delete_in_batches(engine, conditions, batch)
        result.cuts.append(Cut(state, days, before, int(count or 0)))
    if result.total and not dry_run:
        log.info("notification retention: deleted %s", result.as_dict()["states"])
    return result


def _delete_in_batches(engine: Engine, conditions: list[ColumnElement[bool]], batch: int) -> int:
    """Lock up to `batch` matching rows nobody else holds, delete them, commit; again until
    a batch comes back short. Another pruner working at the same time takes other rows."""
    deleted = 0
    while True:
        with engine.db.write() as session:
            ids = list(
                session.scalars(
                    select(Notification.id)
                    .where(*conditions)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            )
            if ids:
                gone = session.execute(
                    delete(Notification).where(Notification.id.in_(ids), *conditions)
                )
                deleted += int(gone.rowcount or 0)  # type: ignore[attr-defined]
        if len(ids) < batch:
            return deleted


def schedule_retention(
    engine: Engine, scheduler: Any, settings: RetentionSettings | None = None
) -> RetentionSettings:
    """Prune as soon as the scheduler runs and every night at 03:30 Stockholm time, on this
    process's scheduler thread (`kedja worker`, `kedja serve`; a laptop is often off at
    night, and a large first prune must not hold up the start). A bad setting raises here,
    at start; a failed run is logged and tried again the next night."""
    settings = settings or RetentionSettings.from_env()

    def prune_notifications() -> None:
        prune(engine, settings)

    scheduler.add_daily(
        prune_notifications,
        hour=PRUNE_HOUR,
        minute=PRUNE_MINUTE,
        timezone=STOCKHOLM,
        also_now=True,
    )
    return settings
