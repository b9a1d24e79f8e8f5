"""Mirror an instance's waiting timers into `timer` rows after every step.

The rows are what `engine.timers` looks at to know what is due, so they must always say what
the committed workflow waits for: the step runner calls `sync_timers` in the same transaction
as everything else it writes. Due times come from SpiffWorkflow's own evaluation of the timer
expression (`event_value` in the task's internal data), so Kedja and SpiffWorkflow can never
disagree about when a timer is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

from .clock import to_storage
from .step_sql import Tx

KINDS = {
    TimeDateEventDefinition: "timeDate",
    DurationTimerEventDefinition: "timeDuration",
    CycleTimerEventDefinition: "timeCycle",
}

DELETE_TIMERS = "DELETE FROM timer WHERE instance_id = :iid"
INSERT_TIMER = """INSERT INTO timer (instance_id, spiff_task_id, element_id, kind, due_at, state,
    attempts, created_at) VALUES (:instance_id, :spiff_task_id, :element_id, :kind, :due_at,
    'waiting', 0, :created_at)"""


@dataclass(frozen=True)
class WaitingTimer:
    spiff_task_id: str
    element_id: str
    kind: str
    due_at: datetime  # aware, UTC


def _due(task: Any, definition: TimerEventDefinition) -> datetime | None:
    value = task.internal_data.get("event_value")
    if value is None:
        return None  # not evaluated yet: the step that reaches the timer evaluates it
    if isinstance(definition, CycleTimerEventDefinition):
        if value.get("cycles") == 0:
            return None
        due = datetime.fromisoformat(value["next"])
    else:
        due = TimerEventDefinition.parse_time_or_duration(value)
        if not isinstance(due, datetime):
            return None
    return due.astimezone(UTC) if due.tzinfo else due.replace(tzinfo=UTC)


def _timer_definition(definition: Any) -> Any:
    """The timer a waiting task waits for: its own, or the one timer among the events of an
    event-based gateway (deploy refuses a gateway with more than one: SpiffWorkflow keeps
    one timer value per task)."""
    if isinstance(definition, MultipleEventDefinition):
        timers = [d for d in definition.event_definitions if type(d) in KINDS]
        return timers[0] if len(timers) == 1 else None
    return definition


def waiting_timers(workflow: BpmnWorkflow) -> frozenset[WaitingTimer]:
    """The instance's waiting timer events (intermediate, boundary, in subprocesses)."""
    found = set()
    for task in workflow.event_manager.tasks.values():
        definition = _timer_definition(getattr(task.task_spec, "event_definition", None))
        kind = KINDS.get(type(definition))
        if kind is None:
            continue
        due = _due(task, definition)
        if due is not None:
            spec = task.task_spec
            found.add(WaitingTimer(str(task.id), spec.bpmn_id or spec.name, kind, due))
    return frozenset(found)


def sync_timers(
    tx: Tx,
    instance_id: int,
    wanted: frozenset[WaitingTimer],
    stored: frozenset[WaitingTimer],
    now: datetime,
) -> None:
    """Make the instance's rows say `wanted`; `stored` is what they said before the step."""
    if wanted == stored:
        return
    tx.execute(DELETE_TIMERS, {"iid": instance_id})
    tx.executemany(
        INSERT_TIMER,
        [
            {
                "instance_id": instance_id,
                "spiff_task_id": t.spiff_task_id,
                "element_id": t.element_id,
                "kind": t.kind,
                "due_at": to_storage(t.due_at),
                "created_at": to_storage(now),
            }
            for t in sorted(wanted, key=lambda t: (t.due_at, t.spiff_task_id))
        ],
    )


# -- start timers: processes started by a timer ----------------------------------------------


@dataclass(frozen=True)
class StartTimer:
    element_id: str
    kind: str
    due_at: datetime
    cycles: int | None = None  # remaining starts for a cycle (-1: forever)
    every: float | None = None  # seconds between starts


def start_timers(spec: Any, evaluate: Any) -> list[StartTimer]:
    """The timer start events of a process spec, with their first due time.

    `evaluate(expression)` evaluates a timer expression in the script sandbox (no instance
    data exists yet). A cycle (`R3/2027-01-04T08:00:00+01:00/P1Y`) starts one instance per
    occurrence, never several paths in one instance.
    """
    found = []
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        kind = KINDS.get(type(definition))
        if kind is None or type(task_spec).__name__ != "StartEvent":
            continue
        value = evaluate(definition.expression)
        element = task_spec.bpmn_id or task_spec.name
        if kind == "timeCycle":
            cycles, first, every = TimerEventDefinition.parse_iso_recurring_interval(value)
            found.append(
                StartTimer(element, kind, first.astimezone(UTC), cycles, every.total_seconds())
            )
        else:
            due = TimerEventDefinition.parse_time_or_duration(value)
            if not isinstance(due, datetime):  # a duration: from now
                due = datetime.now(UTC) + TimerEventDefinition.get_timedelta_from_start(due)
            found.append(StartTimer(element, kind, due.astimezone(UTC)))
    return found
