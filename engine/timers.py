"""Timers: every waiting timer is a row, and firing one is a step that claims its row.

SpiffWorkflow does not fire timers by itself; the host has to look. Kedja keeps each waiting
timer event (intermediate, boundary, inside subprocesses) as a `timer` row with its due time
in UTC, synced after every step (`StepRunner.finish`): a new waiting timer gets a row, a timer
that fired or whose task was cancelled loses it, a cycle timer's row moves to its next time.

`Timers.fire_due()` finds the rows that are due and fires each in a step of its own: the step
first claims the row (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's write lock does the same
there), then lets SpiffWorkflow see the time, continues the instance and, in the same
transaction, removes the row. A second worker looking at the same row finds it locked or gone
and moves on: a timer fires once however many workers run, and timers that fell due while
nothing ran fire at the next look, in due order.

What drives `fire_due` (APScheduler in `kedja serve` and `kedja worker`), the governance
calendar and `kedja simulate` build on this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from .actors import Actor, system_actor
from .clock import Clock, from_storage, to_storage
from .database import Database
from .errors import DamagedState
from .models import WAITING, Timer
from .steps import Abandon, ContinuationFailed, NewInstance, StepContext, StepRunner

CLAIM_SQLITE = "SELECT id FROM timer WHERE id = :id AND state = 'waiting'"
CLAIM_POSTGRESQL = CLAIM_SQLITE + " FOR UPDATE SKIP LOCKED"


@dataclass(frozen=True)
class Fired:
    timer_id: int
    instance_id: int  # for a start timer: the instance it started
    element_id: str
    due_at: datetime
    incident: str | None
    retried: bool = False  # the firing failed and was put off; `incident` says why


class _FloorClock:
    """The engine's clock, but never earlier than just after a timer's due time:
    SpiffWorkflow fires when due < now, Kedja at due."""

    def __init__(self, clock: Clock, floor: datetime) -> None:
        self._clock = clock
        self._floor = floor + timedelta(microseconds=1)

    def now(self) -> datetime:
        return max(self._clock.now(), self._floor)


class _AlreadyFired(Abandon):
    """Another worker claimed or fired the timer first."""


RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=8),
    timedelta(minutes=30),
)
RETRY = """UPDATE timer SET attempts = attempts + 1, last_error = :error, due_at = :due
    WHERE id = :id AND state = 'waiting'"""
RESCHEDULE = """UPDATE timer SET due_at = :due, schedule = :schedule, attempts = 0,
    last_error = NULL WHERE id = :id"""


@dataclass(frozen=True)
class DueTimer:
    id: int
    instance_id: int | None  # None: a start timer, which starts an instance of definition_key
    definition_key: str | None
    element_id: str
    due_at: datetime
    attempts: int
    schedule: dict[str, Any] | None


class Timers:
    """Fire due timers. A firing whose continuation fails is retried after 30 s, 2 min, 8 min
    and 30 min, keeping nothing of the failed attempt; the attempt after that records an
    incident on the instance, as any failed step does."""

    def __init__(
        self, db: Database, clock: Clock, steps: StepRunner, deliver_pending: Callable[[], int]
    ) -> None:
        self.db = db
        self.clock = clock
        self.steps = steps
        self._deliver_pending = deliver_pending
        self._claim = CLAIM_POSTGRESQL if db.is_postgresql else CLAIM_SQLITE

    def due(self, now: datetime | None = None, limit: int = 100) -> list[DueTimer]:
        """Timers due at `now` (default: the clock's now), earliest first."""
        instant = to_storage(now or self.clock.now())
        with self.db.read_engine.begin() as conn:
            rows = conn.execute(
                select(
                    Timer.id,
                    Timer.instance_id,
                    Timer.definition_key,
                    Timer.element_id,
                    Timer.due_at,
                    Timer.attempts,
                    Timer.schedule,
                )
                .where(WAITING, Timer.due_at <= instant)
                .order_by(Timer.due_at, Timer.id)
                .limit(limit)
            ).all()
        return [
            DueTimer(
                r.id,
                r.instance_id,
                r.definition_key,
                r.element_id,
                from_storage(r.due_at),
                r.attempts,
                json.loads(r.schedule) if r.schedule else None,
            )
            for r in rows
        ]

    def waiting(self, instance_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Waiting timers, earliest first (for operators: what fires next, what keeps failing)."""
        query = select(Timer).where(WAITING).order_by(Timer.due_at, Timer.id).limit(limit)
        if instance_id is not None:
            query = query.where(Timer.instance_id == instance_id)
        with self.db.read() as session:
            return [
                {
                    "id": t.id,
                    "instance_id": t.instance_id,
                    "starts": t.definition_key,
                    "element_id": t.element_id,
                    "kind": t.kind,
                    "due_at": from_storage(t.due_at),
                    "attempts": t.attempts,
                    "last_error": t.last_error,
                }
                for t in session.scalars(query)
            ]

    def next_due(self) -> datetime | None:
        """The earliest waiting timer's due time (for scheduling the next look)."""
        with self.db.read_engine.begin() as conn:
            due = conn.execute(select(func.min(Timer.due_at)).where(WAITING)).scalar()
        return from_storage(due)

    def fire_due(
        self, now: datetime | None = None, limit: int = 100, actor: Actor | None = None
    ) -> list[Fired]:
        """Fire every timer due at `now`, each in its own step, in due order."""
        actor = actor or system_actor()
        fired = []
        for timer in self.due(now, limit):
            result = self._fire(timer, actor)
            if result is not None:
                fired.append(result)
        return fired

    def _fire(self, timer: DueTimer, actor: Actor) -> Fired | None:
        def claim(ctx: StepContext) -> None:
            if ctx.sql.one(self._claim, {"id": timer.id}) is None:
                raise _AlreadyFired()
            ctx.record(
                "timer.fired",
                {"due_at": timer.due_at.isoformat(), "attempt": timer.attempts + 1},
                element_id=timer.element_id,
            )

        def fire_in_instance(ctx: StepContext) -> None:
            claim(ctx)
            ctx.workflow.refresh_timers()

        def start_instance(ctx: StepContext) -> None:
            claim(ctx)
            _mark_start_fired(ctx.workflow, timer.element_id)
            self._reschedule_start(ctx, timer)

        if timer.instance_id is None:
            target: int | NewInstance = NewInstance(timer.definition_key, None, {}, None)
            change = start_instance
        else:
            target, change = timer.instance_id, fire_in_instance
        last_try = timer.attempts >= len(RETRY_DELAYS)
        try:
            outcome = self.steps.run(
                target,
                change,
                actor,
                clock=_FloorClock(self.clock, timer.due_at),
                raise_on_failure=not last_try,
            )
        except _AlreadyFired:
            return None
        except DamagedState as damage:
            # The instance cannot step; its timer waits, saying why, and the timers due after
            # it still fire. Terminating the instance deletes it (engine/damaged.py).
            delay = RETRY_DELAYS[min(timer.attempts, len(RETRY_DELAYS) - 1)]
            retry_at = max(self.clock.now(), timer.due_at) + delay
            with self.steps.sql.transaction() as tx:
                tx.execute(
                    RETRY, {"id": timer.id, "error": str(damage), "due": to_storage(retry_at)}
                )
            return Fired(
                timer.id, timer.instance_id, timer.element_id, timer.due_at, str(damage), True
            )
        except ContinuationFailed as failure:
            retry_at = max(self.clock.now(), timer.due_at) + RETRY_DELAYS[timer.attempts]
            with self.steps.sql.transaction() as tx:
                tx.execute(
                    RETRY, {"id": timer.id, "error": str(failure), "due": to_storage(retry_at)}
                )
            return Fired(
                timer.id,
                timer.instance_id,
                timer.element_id,
                timer.due_at,
                f"attempt {timer.attempts + 1} failed ({failure}); retry at "
                f"{retry_at:%Y-%m-%d %H:%M:%S} UTC",
                retried=True,
            )
        if outcome.needs_delivery:
            self._deliver_pending()
        return Fired(
            timer.id, outcome.instance_id, timer.element_id, timer.due_at, outcome.incident
        )

    def _reschedule_start(self, ctx: StepContext, timer: DueTimer) -> None:
        """A cycle's next start, in the same transaction as this one; else the row goes."""
        schedule = timer.schedule or {}
        cycles = schedule.get("cycles")
        if timer.schedule is None or cycles == 1 or not schedule.get("every"):
            ctx.sql.execute("DELETE FROM timer WHERE id = :id", {"id": timer.id})
            return
        ctx.sql.execute(
            RESCHEDULE,
            {
                "id": timer.id,
                "due": to_storage(timer.due_at + timedelta(seconds=schedule["every"])),
                "schedule": json.dumps(
                    {**schedule, "cycles": cycles - 1 if cycles > 0 else cycles}
                ),
            },
        )


def _mark_start_fired(workflow: Any, element_id: str) -> None:
    """The start timer fired outside the instance: its start event proceeds at once, once
    (SpiffWorkflow would otherwise evaluate the timer again, and repeat a cycle inside the
    instance)."""
    for task in workflow.get_tasks():
        spec = task.task_spec
        definition = getattr(spec, "event_definition", None)
        if spec.bpmn_id != element_id or not isinstance(definition, TimerEventDefinition):
            continue
        task._set_internal_data(event_fired=True)
        if isinstance(definition, CycleTimerEventDefinition) and not task.children:
            # A cycle event predicts no path (it adds one per occurrence); give it the one.
            for output in spec.outputs:
                child = task._add_child(output, TaskState.FUTURE)
                child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
