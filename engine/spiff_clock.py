"""The one place where SpiffWorkflow's timers learn what time it is.

SpiffWorkflow's timer module calls `datetime.now(timezone.utc)` directly. Kedja replaces that
module's `datetime` name, once, with a subclass whose `now()` asks the clock of the step that
is running (a context variable set by the step runner); outside a step it is the real time.
Everything else about the class is `datetime`'s, and `isinstance` checks in the module keep
accepting ordinary datetimes.

SpiffWorkflow fires a timer when its due time is strictly earlier than now. Kedja fires a
timer at its due time, so the step that fires it runs with "now" set to at least one
microsecond after the due time (`engine/timers.py`).
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime as _datetime

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

from .clock import Clock
from .context_binding import Binding

_current: ContextVar[Clock | None] = ContextVar("kedja_step_clock", default=None)


class _Meta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, _datetime)


class ClockedDatetime(_datetime, metaclass=_Meta):
    """`datetime` whose `now()` is the running step's clock."""

    @classmethod
    def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
        clock = _current.get()
        if clock is None:
            return _datetime.now(tz)
        instant = clock.now()
        return (
            instant.astimezone(tz) if tz is not None else instant.astimezone().replace(tzinfo=None)
        )


def step_clock(clock: Clock) -> Binding[Clock | None]:
    """Make `clock` SpiffWorkflow's notion of now for the duration of a step
    (`with step_clock(clock):`)."""
    return Binding(_current, clock)


def current_clock() -> Clock | None:
    """The clock of the step running in this context, if any."""
    return _current.get()


def install() -> None:
    """Route SpiffWorkflow's timer module through `ClockedDatetime` (idempotent)."""
    if _spiff_timer.datetime is not ClockedDatetime:
        _spiff_timer.datetime = ClockedDatetime


install()
