"""The sign-in throttle, counted in the database so that it holds across every web process.

Why the database: a limiter in each process's memory allows N × M times the attempts when
`kedja serve --production` runs N gunicorn processes on M hosts. Every process already
shares the database, so the count lives there (table `sign_in_attempt`).

The rule: an attempt is refused, before its password is checked, when its user name has
`per_user` failures within the last `window`, or its client address has `per_address`.
Refused attempts do not count (hammering does not stretch the wait), and a successful
sign-in removes its user name's failures. Known and unknown user names are counted the same
way, so a refusal says nothing about whether an account exists; refusing before the
password check means the answer's timing says nothing about the password either.

How it counts without losing or exceeding: an attempt is a row, inserted and committed
*before* the password is checked, and only then are the rows counted, the new one included.
Of two processes trying at once, whichever counts second sees both rows, so no more than
`per_user` attempts get to check a password, however many processes there are (two at the
edge may both be refused; neither gets through). No counter is read and written back, so
no count is lost. The row stays if the password was wrong and is removed with the user
name's other rows if it was right.

What is stored: the time, and HMAC-SHA256 keyed with the application's secret key of the
case-folded user name and, separately, of the client address (an IPv6 address by its /64
network, which one household or server holds whole) — never the name or address itself,
so a copy of the database does not say who tried to sign in from where. Changing the
secret key starts every count afresh.

Pruning: each attempt also deletes up to `PRUNE_BATCH` rows older than the window, in the
same transaction. On PostgreSQL it skips rows another process has locked (`SKIP LOCKED`),
so two processes pruning at once never wait for each other; the table holds about one
window's failures and needs no worker.

Configuration (environment): `KEDJA_SIGN_IN_MAX_PER_USER` (default 5),
`KEDJA_SIGN_IN_MAX_PER_ADDRESS` (default 30), `KEDJA_SIGN_IN_WINDOW_MINUTES` (default 15);
0 turns a limit off. `kedja sign-in clear` lifts a lock-out. See docs/operations.md.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select

from engine import Engine
from engine.clock import from_storage, to_storage
from engine.errors import ValidationError

from .models import SignInAttempt

PRUNE_BATCH = 100
"""Expired rows removed per attempt: more than one, so a burst's leftovers go quickly, and
few enough that an attempt's transaction stays short."""

ENVIRONMENT = {
    "per_user": "KEDJA_SIGN_IN_MAX_PER_USER",
    "per_address": "KEDJA_SIGN_IN_MAX_PER_ADDRESS",
    "window": "KEDJA_SIGN_IN_WINDOW_MINUTES",
}


@dataclass(frozen=True)
class Limits:
    per_user: int = 5
    per_address: int = 30
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        """The limits as configured; a value that is not a whole number ≥ 0 (window ≥ 1) is
        an error naming the variable, so a typo does not switch the throttle off."""
        env = os.environ if env is None else env
        default = cls()
        values = {
            "per_user": default.per_user,
            "per_address": default.per_address,
            "window": int(default.window.total_seconds() // 60),
        }
        for field, variable in ENVIRONMENT.items():
            raw = (env.get(variable) or "").strip()
            if not raw:
                continue
            least = 1 if field == "window" else 0
            if not raw.isdigit() or int(raw) < least:
                raise ValidationError(
                    f"{variable} must be a whole number of at least {least}, not {raw!r}."
                )
            values[field] = int(raw)
        return cls(values["per_user"], values["per_address"], timedelta(minutes=values["window"]))


@dataclass(frozen=True)
class Admission:
    """The throttle's answer to one attempt: go on and check the password (`attempt_id` is
    the attempt's row, a failure until `SignInThrottle.succeeded`), or refused until
    `retry_at`."""

    attempt_id: int | None
    user_key: str
    retry_at: datetime | None = None

    @property
    def refused(self) -> bool:
        return self.retry_at is not None


class SignInThrottle:
    def __init__(self, engine: Engine, secret: str | bytes, limits: Limits | None = None) -> None:
        if not secret:
            raise ValidationError("The sign-in throttle needs the application's secret key.")
        self.engine = engine
        self.limits = limits or Limits()
        self._secret = secret.encode("utf-8") if isinstance(secret, str) else secret

    # -- the keys ----------------------------------------------------------------------------

    def user_key(self, user_name: str) -> str:
        return self._digest("user", user_name.strip().casefold())

    def address_key(self, address: str | None) -> str | None:
        if not address:
            return None
        return self._digest("address", _network(address))

    def _digest(self, kind: str, value: str) -> str:
        message = f"kedja-sign-in:{kind}:{value}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    # -- attempts ----------------------------------------------------------------------------

    def admit(self, user_name: str, address: str | None) -> Admission:
        """Record an attempt for `user_name` from `address` and say whether its password may
        be checked. Call before checking the password; call `succeeded` if it was right."""
        user_key, address_key = self.user_key(user_name), self.address_key(address)
        now = self.engine.clock.now()
        since = to_storage(now - self.limits.window)
        with self.engine.db.write() as session:
            expired = (
                select(SignInAttempt.id)
                .where(SignInAttempt.at <= since)
                .order_by(SignInAttempt.at)
                .limit(PRUNE_BATCH)
                .with_for_update(skip_locked=True)
            )
            session.execute(delete(SignInAttempt).where(SignInAttempt.id.in_(expired)))
            row = SignInAttempt(at=to_storage(now), user_key=user_key, address_key=address_key)
            session.add(row)
            session.flush()
            attempt_id = row.id
        # Counted only now, after the commit: see the module's docstring.
        checks = [(SignInAttempt.user_key, user_key, self.limits.per_user)]
        if address_key is not None:
            checks.append((SignInAttempt.address_key, address_key, self.limits.per_address))
        retry_at: datetime | None = None
        with self.engine.db.read() as session:
            for column, key, limit in checks:
                if limit <= 0:
                    continue
                counted = session.scalar(
                    select(func.count())
                    .select_from(SignInAttempt)
                    .where(column == key, SignInAttempt.at > since)
                )
                if (counted or 0) <= limit:
                    continue
                # Free again when the limit-th newest earlier failure leaves the window.
                oldest_kept = session.scalar(
                    select(SignInAttempt.at)
                    .where(column == key, SignInAttempt.at > since)
                    .where(SignInAttempt.id != attempt_id)
                    .order_by(SignInAttempt.at.desc())
                    .offset(limit - 1)
                    .limit(1)
                )
                free_at = from_storage(oldest_kept) + self.limits.window if oldest_kept else now
                retry_at = free_at if retry_at is None else max(retry_at, free_at)
        if retry_at is None:
            return Admission(attempt_id, user_key)
        with self.engine.db.write() as session:
            session.execute(delete(SignInAttempt).where(SignInAttempt.id == attempt_id))
        return Admission(None, user_key, max(retry_at, now))

    def succeeded(self, admission: Admission) -> None:
        """The password was right: forget the user name's failures, this attempt's row
        included (the address's count keeps failures made for other user names)."""
        with self.engine.db.write() as session:
            session.execute(
                delete(SignInAttempt).where(SignInAttempt.user_key == admission.user_key)
            )

    def clear(self, user_name: str | None = None, address: str | None = None) -> int:
        """An administrator lifts a lock-out: forget the failures of `user_name` and/or of
        `address` (counted as the throttle counts it: an IPv6 address by its /64). Returns
        how many failures were forgotten.

        Five wrong passwords lock a user name for the window, whoever typed them; without
        this a person locked out by somebody else waits it out (docs/operations.md)."""
        if not user_name and not address:
            raise ValidationError("Say whose failed sign-ins to clear: a user name or an address.")
        keys = []
        if user_name:
            keys.append(SignInAttempt.user_key == self.user_key(user_name))
        if address:
            keys.append(SignInAttempt.address_key == self.address_key(address))
        with self.engine.db.write() as session:
            result = session.execute(delete(SignInAttempt).where(or_(*keys)))
        return int(result.rowcount or 0)


def _network(address: str) -> str:
    """The address as it is counted: an IPv4 address as itself, an IPv6 address by its /64
    (an IPv4-mapped one as the IPv4 address); anything unparsable as given."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)
