"""The human-task store's verbs: claim, unclaim, hand over, save a draft, complete, skip.

Reading (one task, task lists) is `TaskQueries` (engine/task_queries.py). Completing a task
is an engine step: the data passes the task's form first (engine/form_contract.py: only the
fields the form lets a person set, valid against its JSON Schema; field-level problems,
nothing stored when refused), then is applied and the instance continued in one transaction.

Two people completing the same task at once: one wins, the other gets `Conflict` naming who
completed it. Two people completing *different* tasks of one instance at once both succeed:
the loser of the version race is retried automatically while its task is still open.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from . import form_contract
from .actors import Actor
from .clock import Clock, from_storage, to_storage
from .database import Database
from .errors import Conflict, NotFound, NotPermitted, Problem, ValidationError
from .history import History, PendingEvent
from .models import HumanTask, ProcessInstance
from .repository import Repository
from .serialization import StateCodec
from .steps import StepContext, StepOutcome, StepRunner
from .task_queries import Page, TaskInfo, TaskQueries

__all__ = ["Page", "TaskInfo", "Tasks"]

COMPLETE_RETRIES = 3

HT = HumanTask
_COMPLETE_FIELDS = (
    "id",
    "instance_id",
    "definition_id",
    "form_schema",
    "spiff_task_id",
    "name",
    "element_id",
    "state",
    "assignee",
    "role",
    "organisation",
    "candidate_users",
    "candidate_groups",
    "completed_by",
    "completed_at",
)
# Built from the constant field names above; the id is a bound parameter.
SELECT_FOR_COMPLETE = (
    f"SELECT {', '.join(_COMPLETE_FIELDS)} FROM human_task "  # noqa: S608
    "WHERE id = :tid"
)
# Closes the row and returns what the permission check needs, in one statement. An open
# task's `claimed_by` is its assignee (claim sets both, unclaim clears both), so it is the
# assignee from before this update. The permission check runs on it; if it fails, the step
# rolls back and the row is open again.
COMPLETE_ROW = """UPDATE human_task SET state = 'completed', completed_at = :at,
    completed_by = :by, assignee = COALESCE(assignee, :by), draft = NULL
    WHERE id = :tid AND state = 'open'
    RETURNING id, instance_id, definition_id, form_schema, spiff_task_id, name, element_id,
    'open', claimed_by, role, organisation, candidate_users, candidate_groups, NULL, NULL"""
_SELECT_INSTANCE = select(HT.instance_id).where(HT.id == bindparam("tid"))


class Tasks(TaskQueries):
    """Claim, hand over, save drafts of and complete human tasks (and read them: see
    `TaskQueries`)."""

    def __init__(
        self,
        db: Database,
        codec: StateCodec,
        clock: Clock,
        history: History,
        repository: Repository,
        steps: StepRunner,
        deliver_pending,
    ) -> None:  # type: ignore[no-untyped-def]
        self.db = db
        self.codec = codec
        self.clock = clock
        self.history = history
        self.repository = repository
        self.steps = steps
        self._deliver_pending = deliver_pending
        self._instances: dict[int, int] = {}  # task id -> instance id
        steps.on_tasks_created.append(self._remember_created)

    # -- permissions ----------------------------------------------------------------------

    def may_work_on(self, actor: Actor, row: HumanTask) -> bool:
        if actor.admin or row.assignee == actor.id:
            return True
        if row.assignee is not None:
            return False
        return self._eligible(actor, row)

    def _check_may_complete(self, row: Any, actor: Actor) -> None:
        self._check_open(row)
        if not self.may_work_on(actor, row):
            raise NotPermitted(
                f"{actor.id} may not complete task {row.id} ('{row.name}'); it is for role "
                f"{row.role}"
                + (f" in {row.organisation}" if row.organisation else "")
                + (f", claimed by {row.assignee}" if row.assignee else "")
                + "."
            )

    def _check_open(self, row: HumanTask) -> None:
        if row.state == "completed":
            raise Conflict(
                f"Task {row.id} ('{row.name}') was already completed by "
                f"{row.completed_by} at {from_storage(row.completed_at):%Y-%m-%d %H:%M} "
                "UTC; your change was not saved."
            )
        if row.state != "open":
            raise Conflict(
                f"Task {row.id} ('{row.name}') is no longer open ({row.state}); "
                "the process has moved on."
            )

    # -- claim, unclaim, draft ------------------------------------------------------------

    def claim(self, task_id: int, actor: Actor) -> TaskInfo:
        return self._assign(task_id, actor, claim=True)

    def unclaim(self, task_id: int, actor: Actor) -> TaskInfo:
        return self._assign(task_id, actor, claim=False)

    def _assign(self, task_id: int, actor: Actor, claim: bool) -> TaskInfo:
        now = self.clock.now()
        with self.db.write() as session:
            row = self._row(session, task_id)
            self._check_open(row)
            if claim:
                if row.assignee == actor.id:
                    return TaskInfo.of(row, self.codec)
                if row.assignee is not None:
                    raise Conflict(f"Task {task_id} is already claimed by {row.assignee}.")
                if not self.may_work_on(actor, row):
                    raise NotPermitted(
                        f"{actor.id} may not claim task {task_id} "
                        f"(role {row.role}, organisation {row.organisation})."
                    )
                row.assignee, row.claimed_by, row.claimed_at = actor.id, actor.id, to_storage(now)
                kind = "task.claimed"
            else:
                if row.assignee is None:
                    return TaskInfo.of(row, self.codec)
                if row.assignee != actor.id and not actor.admin:
                    raise NotPermitted(
                        f"Task {task_id} is claimed by {row.assignee}; only they "
                        "or an administrator can release it."
                    )
                previous = row.assignee
                row.assignee = row.claimed_by = row.claimed_at = None
                kind = "task.unclaimed"
            self._append(
                session, row, kind, actor, {} if claim else {"previous_assignee": previous}, now
            )
            return TaskInfo.of(row, self.codec)

    def delegate(
        self,
        task_id: int,
        to: Actor,
        actor: Actor,
        also: Callable[[Session, HumanTask], None] | None = None,
    ) -> TaskInfo:
        """Hand an open task to a colleague who could work on it themselves, in one
        transaction: no moment where a third person can take it, and the history says who
        handed it to whom (`task.delegated`), not a claim the colleague never made. `also`
        runs in the same transaction (the caller's "you have a task" notification)."""
        now = self.clock.now()
        with self.db.write() as session:
            row = self._row(session, task_id)
            self._check_open(row)
            if not (actor.admin or row.assignee == actor.id or self.may_work_on(actor, row)):
                raise NotPermitted(f"{actor.id} may not hand over task {task_id}.")
            if not self._eligible(to, row):
                raise NotPermitted(
                    f"{to.id} may not work on task {task_id} (role {row.role}, organisation "
                    f"{row.organisation}); hand it to someone who may."
                )
            previous = row.assignee
            row.assignee, row.claimed_by, row.claimed_at = to.id, to.id, to_storage(now)
            self._append(
                session, row, "task.delegated", actor, {"from": previous, "to": to.id}, now
            )
            if also is not None:
                also(session, row)
            return TaskInfo.of(row, self.codec)

    def _eligible(self, actor: Actor, row: HumanTask) -> bool:
        """Whether `actor` could take the task if nobody had it (not merely by being an
        administrator: an administrator may act on any task but is nobody's colleague)."""
        return (
            actor.id in json.loads(row.candidate_users)
            or bool(actor.roles & set(json.loads(row.candidate_groups)))
            or actor.holds(row.role, row.organisation)
        )

    def save_draft(self, task_id: int, data: dict[str, Any], actor: Actor) -> TaskInfo:
        """Keep half-filled answers without validating them; the task stays open."""
        now = self.clock.now()
        current = self.data(task_id) if data else {}  # what read-only fields must keep
        with self.db.write() as session:
            row = self._row(session, task_id)
            self._check_open(row)
            if not self.may_work_on(actor, row):
                raise NotPermitted(f"{actor.id} may not work on task {task_id}.")
            self._check_contract(row, data, current, validate=False)
            row.draft = self.codec.dump_data(data)
            row.draft_saved_at = to_storage(now)
            return TaskInfo.of(row, self.codec)

    def _check_contract(
        self, row: Any, data: dict[str, Any], current: Any, validate: bool = True
    ) -> None:
        """Only the fields the task's form lets a person set, and only valid values
        (engine/form_contract): the same gate for the web form, the API and the command
        line, and for drafts, which would otherwise carry a field into a later completion."""
        form = self.repository.form(row.definition_id, row.form_schema) if row.form_schema else None
        form_contract.admit(
            form,
            row.form_schema,
            data,
            current,
            f"task '{row.name or row.element_id}'",
            f"Task {row.id} ('{row.name}')",
            validate,
        )

    def _append(
        self,
        session: Session,
        row: HumanTask,
        kind: str,
        actor: Actor,
        data: dict[str, Any],
        now: datetime,
    ) -> None:
        # Moves the instance's history head and version: a claim racing a step is caught by
        # the same optimistic lock, and the step runner's cached copy is known to be stale.
        self.history.append_to_instance(
            session.connection(),
            row.instance_id,
            [PendingEvent(kind, actor.id, data, element_id=row.element_id, task_id=row.id)],
            now,
        )

    # -- complete -------------------------------------------------------------------------

    def complete(self, task_id: int, data: dict[str, Any], actor: Actor) -> StepOutcome:
        """Validate, apply and continue. Invalid data raises `ValidationError`, nothing saved.

        The returned outcome lists the tasks the step created (often the caller's next one)
        and, if the process could not continue, the incident; the completion itself is kept.
        """
        return self._close(task_id, data or {}, actor, reason=None)

    def skip(self, task_id: int, actor: Actor, reason: str) -> StepOutcome:
        """An administrator moves a stuck task on without its form (nobody can do it: the
        person left, the organisation was merged). Nothing is added to the data, so what
        follows may stop with an incident, which is resolved like any other; the reason and
        who skipped are in the history as `task.skipped`."""
        if not actor.admin:
            raise NotPermitted(f"Only an administrator may skip a task; {actor.id} is not one.")
        if not reason.strip():
            raise ValidationError(
                "Say why the task is skipped", [Problem("a reason is required", element="reason")]
            )
        return self._close(task_id, {}, actor, reason=reason.strip())

    def _close(
        self, task_id: int, data: dict[str, Any], actor: Actor, reason: str | None
    ) -> StepOutcome:
        instance_id = self._instance_of(task_id)

        def change(ctx: StepContext) -> None:
            params = {"tid": task_id, "at": to_storage(ctx.now), "by": actor.id}
            closed = ctx.sql.one(COMPLETE_ROW, params)
            if closed is None:  # not open (or not there): say why, from the row as it is
                found = ctx.sql.one(SELECT_FOR_COMPLETE, params)
                if found is None:
                    raise NotFound(f"There is no task {task_id}.")
                row = SimpleNamespace(**dict(zip(_COMPLETE_FIELDS, found, strict=True)))
                row.completed_at = ctx.sql.datetime(row.completed_at)
                self._check_open(row)
            row = SimpleNamespace(**dict(zip(_COMPLETE_FIELDS, closed, strict=True)))
            spiff_task = ctx.workflow.get_task_from_id(UUID(row.spiff_task_id))
            if reason is None:
                # Permission first, so a person without access learns nothing about the
                # form; then the contract and the data, so nothing undeclared or invalid
                # reaches the process.
                self._check_may_complete(row, actor)
                self._check_contract(row, data, spiff_task.data)
            spiff_task.data.update(data)
            spiff_task.run()
            ctx.mirrored.close(row.spiff_task_id)
            process = spiff_task.workflow.spec.name
            ctx.record(
                "task.completed" if reason is None else "task.skipped",
                {"name": row.name, "data": data, "process": process}
                if reason is None
                else {"name": row.name, "reason": reason, "process": process},
                element_id=row.element_id,
                task_id=task_id,
            )

        for attempt in range(COMPLETE_RETRIES):
            try:
                outcome = self.steps.run(instance_id, change, actor)
                break
            except Conflict:
                # Lost a version race. If our task is still open the other writer touched
                # something else; try again. Otherwise _check_open explains who won.
                with self.db.read() as session:
                    self._check_open(self._row(session, task_id))
                if attempt == COMPLETE_RETRIES - 1:
                    raise
        if outcome.needs_delivery:
            self._deliver_pending()
        return outcome

    def data(self, task_id: int) -> dict[str, Any]:
        """The data an open task sees (its own, inside a called process or a multi-instance
        activity; not the top-level instance's), to pre-fill its form. A copy: changing it
        changes nothing."""
        with self.db.read() as session:
            row = self._row(session, task_id)
            instance = session.get(ProcessInstance, row.instance_id)
            workflow = self.steps.load(instance)
        spiff_id = UUID(row.spiff_task_id)
        for wf in (workflow, *workflow.subprocesses.values()):
            task = wf.tasks.get(spiff_id)
            if task is not None:
                return copy.deepcopy(dict(task.data))
        return {}

    def _instance_of(self, task_id: int) -> int:
        """Which instance a task belongs to: a fact that never changes, so it is cached."""
        instance_id = self._instances.get(task_id)
        if instance_id is None:
            with self.db.read_engine.begin() as conn:
                instance_id = conn.execute(_SELECT_INSTANCE, {"tid": task_id}).scalar()
            if instance_id is None:
                raise NotFound(f"There is no task {task_id}.")
            self._remember(task_id, instance_id)
        return instance_id

    def _remember_created(self, instance_id: int, task_ids: list[int]) -> None:
        for task_id in task_ids:
            self._remember(task_id, instance_id)

    def _remember(self, task_id: int, instance_id: int) -> None:
        if len(self._instances) > 100_000:
            self._instances.clear()
        self._instances[task_id] = instance_id
