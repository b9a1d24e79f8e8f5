"""Deliver the notification outbox by e-mail: once each, none lost, each or as a digest.

Notifications are queued in the transaction of the event that causes them (the handlers in
`processes.handlers`, `processes.notification_rules`, a task handover). This module takes
them out of the `notification` table and sends them over SMTP. `kedja worker` and `kedja
serve` run a delivery round every 30 seconds and at 08:00 Stockholm time every day (the
Monday digest goes out on the minute); `kedja notifications deliver` runs one by hand.
Neighbours: `processes.mail_settings` (the relay), `processes.smtp_session` (the
connection to it and what its errors say), `processes.notification_preferences`
(each or digest, and the digest's week), `processes.mail_compose` (what a mail says),
`processes.notification_outbox` (the administrators' view) and
`processes.notification_retention` (deleting old rows).

**Once.** Each mail is one database transaction: claim the row (`SELECT … FOR UPDATE SKIP
LOCKED` on PostgreSQL, so two deliverers never take the same row and neither waits for the
other; on SQLite the transaction is the single writer, `BEGIN IMMEDIATE`), check it is still
`queued`, hand the message to the SMTP server, and only after the server accepted it (its
250 reply to the message data) mark the row `sent` and commit. A second deliverer finds the
row sent or locked and leaves it. The one window left: if the process dies, or the database
connection fails, between the server's acceptance and the commit (a few milliseconds), the
claim rolls back and the next round sends that mail again. Kedja then sends one duplicate,
never loses one; the copy carries the same Message-ID, so mail systems that fold duplicates
show it once. Closing that window entirely would need the SMTP server to take part in the
database transaction, which it cannot.

**None lost.** While the server cannot be reached (refused, timed out, disconnected, failed
to authenticate) every notification stays `queued`; the rows due in that round get
`attempts` + 1 and `last_error`, and the mailer backs off: 30 s, 1, 2, 4, 8 minutes, then
every 15 minutes until the server answers, when the backlog goes out in order. The back-off
is kept in the delivering process (a restarted worker tries at once). A recipient the server
refuses is retried likewise; only after a permanent refusal (5xx) five times is the row
marked `failed` (`kedja notifications` lists it; `kedja notifications retry ID` queues it
again). A row for a user who is unknown, inactive or has no e-mail address is marked
`skipped`, because it can never be delivered. An address that is not a plain address
(`processes.email_addresses`: a display name, quotes, brackets, a control character) is never
handed to the relay: the row is marked `failed` with the reason.

**Each or digest.** A digest reader's notifications are due at the first Monday 08:00
Stockholm time after they were queued (`processes.notification_preferences`); everything
else is due at once. Mail to an e-mail address without an account is in Swedish.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine import Engine, email_addresses
from engine.clock import from_storage, to_storage
from engine.models import HumanTask

from .calendar import STOCKHOLM
from .mail_compose import TEXTS, Item, Recipient, compose
from .mail_settings import MailSettings
from .models import Notification, NotificationPreference, User
from .notification_preferences import DIGEST_TIME, digest_time_at_or_before
from .smtp_session import (
    ERROR_LENGTH,
    PERMANENT_CODES,
    ServerUnavailable,
    connect,
    describe,
    smtp_code,
)

log = logging.getLogger(__name__)

DELIVERY_SECONDS = 30
BACKOFF_FIRST = 30.0
BACKOFF_MAX = 15 * 60.0
PERMANENT_ATTEMPTS = 5


# -- delivery -------------------------------------------------------------------------------


@dataclass
class Round:
    """What one delivery round did."""

    sent: int = 0  # notifications sent (a digest counts each notification in it)
    mails: int = 0  # mails the SMTP server accepted
    failed: int = 0  # notifications whose attempt failed this round (they stay queued)
    given_up: int = 0  # marked `failed`: refused for good, or an address that is not plain
    skipped: int = 0  # marked `skipped`: no address to send to
    problem: str | None = None  # why the round stopped early, if it did

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Unit:
    """One mail to send: a single notification, or one user's due digest."""

    kind: str  # "one" | "digest"
    key: Any  # notification id | user id
    ids: tuple[int, ...]


class Mailer:
    """Delivers the outbox of one database (see the module docstring). Thread-safe: one
    round at a time per mailer; any number of mailers, in any number of processes."""

    def __init__(self, engine: Engine, settings: MailSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or MailSettings.from_env()
        self._lock = threading.Lock()
        self._server_failures = 0
        self._server_retry_at: datetime | None = None
        self._retry_at: dict[tuple[str, Any], tuple[int, datetime]] = {}

    # -- one round ----------------------------------------------------------------------

    def deliver(self) -> Round:
        """Send everything due now; never raises for an unreachable server."""
        result = Round()
        if not self.settings.enabled:
            result.problem = "KEDJA_SMTP_HOST is not set; notifications stay queued"
            return result
        if not self._lock.acquire(blocking=False):
            result.problem = "a delivery round is already running in this process"
            return result
        try:
            self._round(result)
        finally:
            self._lock.release()
        if result.mails or result.problem:
            log.info("mail delivery: %s", result.as_dict())
        return result

    def _round(self, result: Round) -> None:
        now = self.engine.clock.now()
        if self._server_retry_at is not None and now < self._server_retry_at:
            result.problem = (
                f"the SMTP server failed; next attempt after {self._server_retry_at:%H:%M:%S} UTC"
            )
            return
        units = [u for u in self.due(now) if self._may_try(u, now)]
        if not units:
            return
        try:
            with connect(self.settings) as smtp:
                self._server_failures, self._server_retry_at = 0, None
                for index, unit in enumerate(units):
                    try:
                        self._deliver(smtp, unit, result)
                    except ServerUnavailable as exc:
                        # This unit's attempt is recorded; the rest wait for the server.
                        self._server_down(units[index + 1 :], str(exc), result)
                        return
                    except Exception as exc:  # a bug or bad data in one row: not the others
                        log.exception("mail for notification(s) %s failed", unit.ids)
                        self._failed_unexpectedly(unit, exc, result)
        except ServerUnavailable as exc:
            self._server_down(units, str(exc), result)

    def due(self, now: datetime) -> list[Unit]:
        """What may go out now, oldest first: every queued notification of an `each`
        reader or an e-mail address, and a digest reader's notifications queued at or
        before the latest Monday 08:00."""
        boundary = to_storage(digest_time_at_or_before(now))
        mode = NotificationPreference.mode
        query = (
            select(Notification.id, Notification.recipient, mode)
            .outerjoin(
                NotificationPreference, NotificationPreference.user_id == Notification.recipient
            )
            .where(Notification.state == "queued")
            .where(
                or_(
                    mode.is_(None),
                    mode != "digest",
                    Notification.recipient.is_(None),
                    Notification.created_at <= boundary,
                )
            )
            .order_by(Notification.id)
        )
        with self.engine.db.read() as session:
            rows = session.execute(query).all()
        units: list[Unit] = []
        digests: dict[str, list[int]] = {}
        for nid, recipient, user_mode in rows:
            if user_mode == "digest" and recipient is not None:
                if recipient not in digests:
                    digests[recipient] = []
                    units.append(Unit("digest", recipient, ()))
                digests[recipient].append(nid)
            else:
                units.append(Unit("one", nid, (nid,)))
        return [
            Unit(u.kind, u.key, tuple(digests[u.key])) if u.kind == "digest" else u for u in units
        ]

    def _may_try(self, unit: Unit, now: datetime) -> bool:
        waiting = self._retry_at.get((unit.kind, unit.key))
        return waiting is None or waiting[1] <= now

    # -- the server ---------------------------------------------------------------------

    def _server_down(self, units: list[Unit], error: str, result: Round) -> None:
        """Record the failed attempt on every notification that was due, and back off."""
        ids = [nid for unit in units for nid in unit.ids]
        if ids:
            with self.engine.db.write() as session:
                for start in range(0, len(ids), 500):
                    session.execute(
                        update(Notification)
                        .where(
                            Notification.id.in_(ids[start : start + 500]),
                            Notification.state == "queued",
                        )
                        .values(attempts=Notification.attempts + 1, last_error=error)
                    )
        result.failed += len(ids)
        self._server_failures += 1
        delay = min(BACKOFF_FIRST * 2 ** (self._server_failures - 1), BACKOFF_MAX)
        self._server_retry_at = self.engine.clock.now() + timedelta(seconds=delay)
        result.problem = f"SMTP server unavailable ({error}); retrying in {delay:.0f} s"
        log.warning("mail delivery: %s", result.problem)

    def _failed_unexpectedly(self, unit: Unit, exc: BaseException, result: Round) -> None:
        """Record an unexpected error on the unit's rows (they stay queued) and back off."""
        with self.engine.db.write() as session:
            session.execute(
                update(Notification)
                .where(Notification.id.in_(unit.ids), Notification.state == "queued")
                .values(attempts=Notification.attempts + 1, last_error=describe(exc))
            )
        result.failed += len(unit.ids)
        self._back_off(unit)

    def _back_off(self, unit: Unit) -> None:
        failures = self._retry_at.get((unit.kind, unit.key), (0, None))[0] + 1
        delay = min(BACKOFF_FIRST * 2 ** (failures - 1), BACKOFF_MAX)
        self._retry_at[(unit.kind, unit.key)] = (
            failures,
            self.engine.clock.now() + timedelta(seconds=delay),
        )

    # -- one mail -----------------------------------------------------------------------

    def _deliver(self, smtp: smtplib.SMTP, unit: Unit, result: Round) -> None:
        """Claim, send and mark one unit in one transaction (see the module docstring)."""
        server_error: str | None = None
        with self.engine.db.write() as session:
            rows = self._claim(session, unit)
            if not rows:
                return  # sent or taken by another deliverer meanwhile
            recipient = self._recipient(session, rows[0])
            if recipient is None:
                for row in rows:
                    row.state = "skipped"
                    row.last_error = "no active user with an e-mail address to send it to"
                result.skipped += len(rows)
                return
            try:  # checked again here: a row may predate the check, or come from elsewhere
                recipient = replace(recipient, address=email_addresses.normalise(recipient.address))
            except email_addresses.InvalidAddress as exc:
                for row in rows:
                    row.state = "failed"
                    row.last_error = (
                        f"not sent: the e-mail address is not a plain address ({exc.reason}); "
                        "correct the address, then queue the notification again"
                    )[:ERROR_LENGTH]
                result.given_up += len(rows)
                log.warning("mail for notification(s) %s not sent: %s", unit.ids, exc.reason)
                return
            now = self.engine.clock.now()
            mail = compose(
                self.settings,
                recipient,
                [self._item(session, row) for row in rows],
                now,
                digest=unit.kind == "digest",
            )
            try:
                smtp.send_message(mail, to_addrs=[recipient.address])
            except (
                smtplib.SMTPRecipientsRefused,
                smtplib.SMTPDataError,
            ) as exc:  # about this message: retry it later, give up on a lasting refusal
                self._refused(unit, rows, exc, result)
                return
            except (OSError, smtplib.SMTPException) as exc:  # about the server
                server_error = describe(exc)
                for row in rows:
                    row.attempts += 1
                    row.last_error = server_error
                result.failed += len(rows)
            else:
                sent_at = to_storage(now)
                for row in rows:
                    row.state, row.sent_at, row.attempts = "sent", sent_at, row.attempts + 1
                result.sent += len(rows)
                result.mails += 1
                self._retry_at.pop((unit.kind, unit.key), None)
        if server_error is not None:
            raise ServerUnavailable(server_error)

    def _claim(self, session: Session, unit: Unit) -> list[Notification]:
        """Lock the unit's rows that are still queued; rows another deliverer holds are
        skipped (PostgreSQL), on SQLite this transaction is the only writer."""
        if unit.kind == "one":
            query = select(Notification).where(
                Notification.id == unit.key, Notification.state == "queued"
            )
            return list(session.scalars(query.with_for_update(skip_locked=True)))
        # A digest: the reader's preference row is the lock for their whole digest, so two
        # deliverers never split one week into two mails.
        held = session.scalar(
            select(NotificationPreference.user_id)
            .where(
                NotificationPreference.user_id == unit.key,
                NotificationPreference.mode == "digest",
            )
            .with_for_update(skip_locked=True)
        )
        if held is None:
            return []
        query = (
            select(Notification)
            .where(Notification.id.in_(unit.ids), Notification.state == "queued")
            .order_by(Notification.created_at, Notification.id)
        )
        return list(session.scalars(query.with_for_update(skip_locked=True)))

    def _recipient(self, session: Session, row: Notification) -> Recipient | None:
        if row.recipient is None:
            # An address without an account (a prize nominator): Swedish, the city's language.
            return Recipient(row.email, "sv", None, False) if row.email else None
        user = session.get(User, row.recipient)
        if user is None or not user.active or not (user.email or "").strip():
            return None
        language = user.language if user.language in TEXTS else "sv"
        return Recipient(user.email.strip(), language, user.name, True)  # type: ignore[union-attr]

    def _item(self, session: Session, row: Notification) -> Item:
        closed = False
        if row.task_id is not None:
            state = session.scalar(select(HumanTask.state).where(HumanTask.id == row.task_id))
            closed = state is not None and state != "open"
        return Item(
            row.id,
            row.subject,
            row.message or "",
            self.settings.absolute(row.link),
            bool(row.link and row.link.startswith("/uppgifter/")),
            closed,
            from_storage(row.created_at),  # type: ignore[arg-type]
        )

    def _refused(
        self, unit: Unit, rows: list[Notification], exc: BaseException, result: Round
    ) -> None:
        """The server refused this message (not the connection): try it again later; a
        permanent refusal (5xx) that persists gives up after a few attempts."""
        error = describe(exc)
        code = smtp_code(exc)
        permanent = code in PERMANENT_CODES
        for row in rows:
            row.attempts += 1
            row.last_error = error
            if permanent and row.attempts >= PERMANENT_ATTEMPTS:
                row.state = "failed"
                result.given_up += 1
            else:
                result.failed += 1
        self._back_off(unit)
        log.warning("mail for notification(s) %s refused: %s", unit.ids, error)


# -- running it -----------------------------------------------------------------------------


def schedule_delivery(
    engine: Engine, scheduler: Any, settings: MailSettings | None = None
) -> Mailer | None:
    """Deliver every 30 seconds and at 08:00 Stockholm time every day (on Mondays the
    digests are due then) in this process's scheduler — `kedja worker` and `kedja serve`.
    Without `KEDJA_SMTP_HOST` nothing is scheduled and notifications wait in the outbox."""
    mailer = Mailer(engine, settings)
    if not mailer.settings.enabled:
        log.warning("KEDJA_SMTP_HOST is not set: notifications are queued but not mailed")
        return None
    scheduler.add_interval(mailer.deliver, DELIVERY_SECONDS)
    scheduler.add_daily(
        mailer.deliver, hour=DIGEST_TIME.hour, minute=DIGEST_TIME.minute, timezone=STOCKHOLM
    )
    return mailer
