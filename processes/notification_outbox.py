"""The notification outbox as administrators see it: list it, count it, queue again.

Every notification is a row in the `notification` table, `queued` until delivered (`sent`),
given up after lasting refusals (`failed`) or undeliverable for want of an address
(`skipped`). `kedja notifications` shows these rows so an administrator can find a wrong
address, fix it in the register and put the notification back in the queue; delivery itself
is `processes.mailer`, deleting old rows `processes.notification_retention`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, update

from engine import Engine
from engine.clock import from_storage

from .models import Notification


def listing(
    engine: Engine, *, state: str | None = None, recipient: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Notifications, newest first, as dicts (the `kedja notifications` listing)."""
    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if state:
        query = query.where(Notification.state == state)
    if recipient:
        query = query.where(
            or_(Notification.recipient == recipient, Notification.email == recipient)
        )
    with engine.db.read() as session:
        return [
            {
                "id": r.id,
                "created_at": from_storage(r.created_at),
                "recipient": r.recipient or r.email,
                "kind": r.kind,
                "subject": r.subject,
                "link": r.link,
                "state": r.state,
                "attempts": r.attempts,
                "sent_at": from_storage(r.sent_at),
                "last_error": r.last_error,
            }
            for r in session.scalars(query)
        ]


def counts(engine: Engine) -> dict[str, int]:
    """How many notifications are in each state."""
    with engine.db.read() as session:
        rows = session.execute(
            select(Notification.state, func.count()).group_by(Notification.state)
        ).all()
    return {state: count for state, count in rows}


def requeue(engine: Engine, ids: list[int]) -> int:
    """Put failed or skipped notifications back in the queue (after fixing an address)."""
    with engine.db.write() as session:
        result = session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.state.in_(("failed", "skipped")))
            .values(state="queued")
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
