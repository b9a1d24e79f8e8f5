"""Mirror READY user and manual tasks into `human_task` rows after every step.

Task lists must be indexed queries, never a scan of serialized workflows. After each step the
instance's READY human tasks are compared with its open rows: new ones are inserted with their
assignment (who may work on them), and rows whose task is no longer READY are closed as
cancelled (an interrupting boundary event, a terminated instance).

Who may work on a task is decided by a `TaskPolicy`. The default reads the diagram: the lane's
name is the role, the instance's `organisation` variable scopes it, and the user task's
`spiffworkflow:properties` may add `candidateUsers`, `candidateGroups` (comma-separated),
`candidateUsersFrom`, `candidateGroupsFrom` (expressions giving a list or comma-separated
text), `roleFrom` (an expression giving the role, instead of the lane's), `dueDate` (an
expression giving a date, datetime or ISO text), `priority` (0–100). The governance layer
replaces the policy to map lanes to the city's roles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Protocol

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .clock import to_storage
from .history import PendingEvent
from .step_sql import Tx


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
    """Lane name -> role, `organisation` variable -> organisation, properties for the rest.

    Subclasses change how a lane becomes a role by overriding `lane_role`."""

    def lane_role(self, lane: str | None, definition_key: str) -> str | None:
        return lane or None

    def assign(self, task: Task, definition_key: str) -> Assignment:
        props = task_properties(task)

        def computed(name: str) -> Any:
            expression = props.get(name)
            if not expression:
                return None
            return task.workflow.script_engine.evaluate(task, expression)

        organisation = task.data.get("organisation")
        role_from = computed("roleFrom")
        return Assignment(
            role=str(role_from)
            if role_from
            else self.lane_role(task.task_spec.lane, definition_key),
            organisation=str(organisation) if organisation is not None else None,
            candidate_users=_split(props.get("candidateUsers"))
            + _as_list(computed("candidateUsersFrom")),
            candidate_groups=_split(props.get("candidateGroups"))
            + _as_list(computed("candidateGroupsFrom")),
            due_at=_as_datetime(computed("dueDate")),
            priority=int(props.get("priority", 50)),
        )


def _as_list(value: Any) -> list[str]:
    """A computed candidate list: a comma-separated string, a list, or nothing."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return _split(value)
    return [str(v) for v in value]


def ready_human_tasks(workflow: BpmnWorkflow) -> dict[str, Task]:
    """READY user and manual tasks of the instance and its running subprocesses.

    A flat scan of the task maps: SpiffWorkflow's tree iterator does the same job several
    times slower, and this runs after every step."""
    ready = {}
    for wf in (workflow, *workflow.subprocesses.values()):
        for task in wf.tasks.values():
            if task._state == TaskState.READY and task.task_spec.manual:
                ready[str(task.id)] = task
    return ready


class MirroredTasks:
    """The open `human_task` rows of one instance, as the database holds them:
    spiff task id -> (row id, element id, name). Kept beside the cached workflow so a step
    knows what to insert and what to close without asking the database."""

    def __init__(self, rows: dict[str, tuple[int, str, str | None]]) -> None:
        self.rows = rows

    def copy(self) -> MirroredTasks:
        return MirroredTasks(dict(self.rows))

    def close(self, spiff_task_id: str) -> None:
        """The change completed this row itself; it is no longer open."""
        self.rows.pop(spiff_task_id, None)


_COLUMNS = (
    "instance_id",
    "definition_id",
    "definition_key",
    "definition_version",
    "spiff_task_id",
    "element_id",
    "name",
    "documentation",
    "lane",
    "role",
    "organisation",
    "assignee",
    "candidate_users",
    "candidate_groups",
    "due_at",
    "priority",
    "form_schema",
    "form_ui_schema",
    "state",
    "created_at",
)
# Built from constant column names only; every value is a bound parameter.
INSERT_TASK = (
    f"INSERT INTO human_task ({', '.join(_COLUMNS)}) VALUES "  # noqa: S608
    f"({', '.join(':' + c for c in _COLUMNS)}) RETURNING id"
)
INSERT_CANDIDATE = (
    "INSERT INTO task_candidate (task_id, kind, value) VALUES (:task_id, :kind, :value)"
)


def sync_tasks(
    tx: Tx,
    instance: Any,
    definition: Any,
    workflow: BpmnWorkflow,
    policy: TaskPolicy,
    now: datetime,
    events: list[PendingEvent],
    mirrored: MirroredTasks,
    finished: bool,
) -> list[int]:
    """Insert rows for new READY human tasks, cancel rows whose task is gone; returns the
    ids of the rows created."""
    ready = {} if finished else ready_human_tasks(workflow)
    stored_now = to_storage(now)
    gone = [sid for sid in mirrored.rows if sid not in ready]
    if gone:
        params: dict[str, Any] = {"at": stored_now}
        ids = tx.in_list("id", [mirrored.rows[sid][0] for sid in gone], params)
        # `ids` is a list of generated placeholders; the values are bound.
        tx.execute(
            "UPDATE human_task SET state = 'cancelled', completed_at = :at "  # noqa: S608
            f"WHERE id IN ({ids}) AND state = 'open'",
            params,
        )
        for sid in gone:
            row_id, element_id, name = mirrored.rows.pop(sid)
            events.append(
                PendingEvent(
                    "task.cancelled",
                    "engine",
                    {"name": name},
                    element_id=element_id,
                    task_id=row_id,
                )
            )
    created = []
    candidates = []
    for sid, task in ready.items():
        if sid in mirrored.rows:
            continue
        assignment = policy.assign(task, definition.key)
        row = _new_row(instance.id, definition, task, assignment, stored_now)
        row_id = tx.insert_id(INSERT_TASK, row)
        created.append(row_id)
        mirrored.rows[sid] = (row_id, row["element_id"], row["name"])
        candidates += [
            {"task_id": row_id, "kind": "user", "value": v} for v in assignment.candidate_users
        ]
        candidates += [
            {"task_id": row_id, "kind": "group", "value": v} for v in assignment.candidate_groups
        ]
        events.append(
            PendingEvent(
                "task.created",
                "engine",
                {
                    "name": row["name"],
                    "role": row["role"],
                    "organisation": row["organisation"],
                    "due_at": row["due_at"].isoformat() if row["due_at"] else None,
                },
                element_id=row["element_id"],
                task_id=row_id,
            )
        )
    tx.executemany(INSERT_CANDIDATE, candidates)
    return created


def _form_files(definition: Any, element_id: str | None, props: dict[str, str]) -> dict[str, Any]:
    """The task's form files as the bundle names them. Deploy resolved each form reference
    (relative to its BPMN file's folder); the UI schema sits in the same folder."""
    schema, ui = props.get("formJsonSchemaFilename"), props.get("formUiSchemaFilename")
    resolved = (getattr(definition, "forms", None) or {}).get(element_id) if schema else None
    if resolved and resolved != schema and resolved.endswith(schema):
        prefix = resolved[: -len(schema)]
        schema = resolved
        if ui:
            ui = prefix + ui
    return {"form_schema": schema, "form_ui_schema": ui}


def _json_list(values: list[str]) -> str:
    return json.dumps(values) if values else "[]"


def _new_row(
    instance_id: int, definition: Any, task: Task, assignment: Assignment, stored_now: datetime
) -> dict[str, Any]:
    spec = task.task_spec
    props = task_properties(task)
    return {
        "instance_id": instance_id,
        "definition_id": definition.id,
        "definition_key": definition.key,
        "definition_version": definition.version,
        "spiff_task_id": str(task.id),
        "element_id": spec.bpmn_id or spec.name,
        "name": spec.bpmn_name or spec.bpmn_id or spec.name,
        "documentation": spec.documentation,
        "lane": spec.lane,
        "role": assignment.role,
        "organisation": assignment.organisation,
        "assignee": None,
        "candidate_users": _json_list(assignment.candidate_users),
        "candidate_groups": _json_list(assignment.candidate_groups),
        "due_at": to_storage(assignment.due_at) if assignment.due_at else None,
        "priority": assignment.priority,
        **_form_files(definition, spec.bpmn_id, props),
        "state": "open",
        "created_at": stored_now,
    }
