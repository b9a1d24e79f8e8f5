"""One source of "now" for the whole engine.

Every timestamp the engine writes (history, tasks, incidents) comes from the `Clock` the
`Engine` was built with, so a simulated clock can run a year of governance in seconds and tests
can place events at exact instants. Times are timezone-aware UTC here; storage strips the zone.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to (simulation and tests)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("SimulatedClock.set needs a timezone-aware time")
        with self._lock:
            self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


def to_storage(instant: datetime) -> datetime:
    """Aware -> naive UTC, the form every DateTime column holds."""
    zone = instant.tzinfo
    if zone is None:
        return instant
    if zone is not UTC:  # the clocks hand out UTC already; converting costs a step ~1 µs a call
        instant = instant.astimezone(UTC)
    return instant.replace(tzinfo=None)


def from_storage(value: datetime | None) -> datetime | None:
    """Naive UTC from the database -> aware UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
