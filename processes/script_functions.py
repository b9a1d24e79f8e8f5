"""Functions the city's diagrams may call in scripts and expressions.

Governance deadlines count Swedish working days ("answer within 15 working days"), which the
sandbox's `timedelta` cannot. They take and return ISO 8601 text, the form timer
expressions and task data use.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from engine.clock import SystemClock
from engine.spiff_clock import current_clock

from .calendar import STOCKHOLM, is_working_day

END_OF_WORKING_DAY = time(16, 0)
START_OF_WORKING_DAY = time(8, 0)


def _parse(instant: str | datetime) -> datetime:
    value = instant if isinstance(instant, datetime) else datetime.fromisoformat(str(instant))
    if value.tzinfo is None:
        value = value.replace(tzinfo=STOCKHOLM)
    return value.astimezone(STOCKHOLM)


def _walk(instant: str | datetime, days: int, step: int, at: time) -> str:
    day = _parse(instant).date()
    counted = 0
    while counted < days:
        day += timedelta(days=step)
        if is_working_day(day):
            counted += 1
    return datetime.combine(day, at, tzinfo=STOCKHOLM).isoformat()


def working_days_after(instant: str | datetime, days: int) -> str:
    """16:00 Stockholm time on the working day `days` working days after `instant`."""
    return _walk(instant, int(days), 1, END_OF_WORKING_DAY)


def working_days_before(instant: str | datetime, days: int) -> str:
    """08:00 Stockholm time on the working day `days` working days before `instant`."""
    return _walk(instant, int(days), -1, START_OF_WORKING_DAY)


def days_after(instant: str | datetime, days: int) -> str:
    """`days` calendar days after `instant`, same time of day (Stockholm)."""
    return (_parse(instant) + timedelta(days=int(days))).isoformat()


def now() -> str:
    """The step's "now" (the engine's clock, simulated in a simulation) as ISO text in
    Stockholm time; the sandbox's `datetime.now()` would read the computer's clock."""
    clock = current_clock() or SystemClock()
    return clock.now().astimezone(STOCKHOLM).isoformat()


SCRIPT_FUNCTIONS = {
    "now": now,
    "working_days_after": working_days_after,
    "working_days_before": working_days_before,
    "days_after": days_after,
}
