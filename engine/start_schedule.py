"""Timer start events: evaluated when a version is deployed, owned by the newest version of a
process that may run.

A start timer's expression sees no instance data, so it is evaluated at deploy: a bad one
fails the deploy instead of never firing. The newest runnable version of a process owns its
start timers (rows in `timer` without an instance): deploying such a version replaces the
previous ones; a version awaiting an administrator's approval (engine/approvals.py) takes
them over only when approved, and only if no newer runnable version exists by then.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .clock import Clock, to_storage
from .errors import Problem, ValidationError
from .models import ProcessDefinition, Timer
from .services import RUNNABLE
from .spiff_clock import step_clock
from .timer_rows import StartTimer, start_timers


class StartSchedule:
    def __init__(self, clock: Clock, script_engine: Any) -> None:
        self.clock = clock
        self.script_engine = script_engine

    def evaluate(self, key: str, spec: Any) -> list[StartTimer]:
        """The process's start timers as of now; `ValidationError` naming the process if an
        expression fails."""
        try:
            return self._timers(spec)
        except Exception as exc:
            raise ValidationError(
                f"The start timer of '{key}' cannot be scheduled.",
                [
                    Problem(
                        f"the timer start event's expression failed: {exc}",
                        element=key,
                        hint="A start timer cannot use instance data; give a date, e.g. "
                        '"2027-01-04T08:00:00+01:00", or a cycle, e.g. '
                        '"R/2027-01-04T08:00:00+01:00/P1Y"',
                    )
                ],
            ) from exc

    def replace(self, session: Session, key: str, timers: list[StartTimer], now: datetime) -> None:
        """Make `timers` the process's start timers, in the caller's transaction."""
        session.execute(
            delete(Timer).where(Timer.instance_id.is_(None), Timer.definition_key == key)
        )
        for timer in timers:
            schedule = (
                json.dumps({"cycles": timer.cycles, "every": timer.every})
                if timer.kind == "timeCycle"
                else None
            )
            session.add(
                Timer(
                    instance_id=None,
                    definition_key=key,
                    schedule=schedule,
                    spiff_task_id=f"start:{timer.element_id}",
                    element_id=timer.element_id,
                    kind=timer.kind,
                    due_at=to_storage(timer.due_at),
                    state="waiting",
                    attempts=0,
                    created_at=to_storage(now),
                )
            )

    def after_approval(
        self, session: Session, row: ProcessDefinition, spec: Any, now: datetime
    ) -> None:
        """A version approved after a newer runnable one was deployed does not take that
        one's start timers."""
        newer = session.scalar(
            select(func.count())
            .select_from(ProcessDefinition)
            .where(
                ProcessDefinition.key == row.key,
                ProcessDefinition.version > row.version,
                ProcessDefinition.approval.in_(RUNNABLE),
            )
        )
        if not newer:
            self.replace(session, row.key, self._timers(spec), now)

    def _timers(self, spec: Any) -> list[StartTimer]:
        def evaluate(expression: str) -> Any:
            return self.script_engine.environment.evaluate(expression, {})

        with step_clock(self.clock):
            return start_timers(spec, evaluate)
