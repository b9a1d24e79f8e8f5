"""Mirror READY user and manual tasks into `human_task` rows after every step.

Task lists must be indexed queries, never a scan of serialized workflows. After each step the
instance's READY human tasks are compared with its open rows: new ones are inserted with their
assignment (who may work on them), and rows whose task is no longer READY are closed as
cancelled (an interrupting boundary event, a terminated instance).

Who may work on a task is decided by a `TaskPolicy`. The default reads the diagram: the lane's
name is the role, the instance's `organisation` variable scopes it, and the user task's
`spiffworkflow:properties` may add `candidateUsers`, `candidateGroups` (comma-separated),
`dueDate` (an expression giving a date, datetime or ISO text), `priority` (0–100). The
governance layer replaces the policy to map lanes to the city's roles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Protocol

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from .clock import to_storage
from .history import PendingEvent
from .models import HumanTask, ProcessDefinition, ProcessInstance, TaskCandidate


@dataclass
class Assignment:
    role: str | None = None
    organisation: str | None = None
    candidate_users: list[str] = field(default_factory=list)
    candidate_groups: list[str] = field(default_factory=list)
    due_at: datetime | None = None
    priority: int = 50


class TaskPolicy(Protocol):
    def assign(self, task: Task, definition_key: str) -> Assignment: ...


def task_properties(task: Task) -> dict[str, str]:
    """The `spiffworkflow:properties` of a task's element (empty if none)."""
    extensions = getattr(task.task_spec, "extensions", None) or {}
    return dict(extensions.get("properties", {}) or {})


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        # A date-only deadline means the end of that day.
        return datetime.combine(value, time(23, 59, 59), tzinfo=UTC)
    raise ValueError(f"dueDate gave {value!r}; expected a date, datetime or ISO 8601 text")


class DefaultTaskPolicy:
    """Lane name -> role, `organisation` variable -> organisation, properties for the rest."""

    def assign(self, task: Task, definition_key: str) -> Assignment:
        props = task_properties(task)
        due_expression = props.get("dueDate")
        due_at = None
        if due_expression:
            due_at = _as_datetime(task.workflow.script_engine.evaluate(task, due_expression))
        organisation = task.data.get("organisation")
        return Assignment(
            role=(task.task_spec.lane or None),
            organisation=str(organisation) if organisation is not None else None,
            candidate_users=_split(props.get("candidateUsers")),
            candidate_groups=_split(props.get("candidateGroups")),
            due_at=due_at,
            priority=int(props.get("priority", 50)),
        )


def ready_human_tasks(workflow: BpmnWorkflow) -> dict[str, Task]:
    return {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}


def sync_tasks(
    session: Session,
    instance: ProcessInstance,
    definition: ProcessDefinition,
    workflow: BpmnWorkflow,
    policy: TaskPolicy,
    now: datetime,
    events: list[PendingEvent],
    actor_id: str,
) -> None:
    ready = ready_human_tasks(workflow)
    open_rows = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.state == "open")
    ).all()
    stored_now = to_storage(now)
    known = set()
    for row in open_rows:
        if row.spiff_task_id in ready:
            known.add(row.spiff_task_id)
        else:
            row.state = "cancelled"
            row.completed_at = stored_now
            events.append(
                PendingEvent(
                    "task.cancelled",
                    actor_id,
                    {"name": row.name},
                    element_id=row.element_id,
                    task_id=row.id,
                )
            )
    created = []
    for spiff_id, task in ready.items():
        if spiff_id not in known:
            assignment = policy.assign(task, definition.key)
            row = _new_row(instance, definition, task, assignment, stored_now)
            session.add(row)
            created.append(row)
    if not created:
        return
    session.flush()  # assigns the ids the candidate rows and events refer to
    for row in created:
        for kind, values in (("user", row.candidate_users), ("group", row.candidate_groups)):
            for value in json.loads(values):
                session.add(TaskCandidate(task_id=row.id, kind=kind, value=value))
        events.append(
            PendingEvent(
                "task.created",
                actor_id,
                {
                    "name": row.name,
                    "role": row.role,
                    "organisation": row.organisation,
                    "due_at": row.due_at.isoformat() if row.due_at else None,
                },
                element_id=row.element_id,
                task_id=row.id,
            )
        )


def _new_row(
    instance: ProcessInstance,
    definition: ProcessDefinition,
    task: Task,
    assignment: Assignment,
    stored_now: datetime,
) -> HumanTask:
    spec = task.task_spec
    props = task_properties(task)
    return HumanTask(
        instance_id=instance.id,
        definition_id=definition.id,
        definition_key=definition.key,
        definition_version=definition.version,
        spiff_task_id=str(task.id),
        element_id=spec.bpmn_id or spec.name,
        name=spec.bpmn_name or spec.bpmn_id or spec.name,
        documentation=spec.documentation,
        lane=spec.lane,
        role=assignment.role,
        organisation=assignment.organisation,
        candidate_users=json.dumps(assignment.candidate_users),
        candidate_groups=json.dumps(assignment.candidate_groups),
        due_at=to_storage(assignment.due_at) if assignment.due_at else None,
        priority=assignment.priority,
        form_schema=props.get("formJsonSchemaFilename"),
        form_ui_schema=props.get("formUiSchemaFilename"),
        state="open",
        created_at=stored_now,
    )
