"""Process instances: start, step, correlate messages, suspend, resume, terminate, retry.

The verbs an operator or an integration uses on instances. Each is one `StepRunner` step (see
`engine/steps.py` for the transaction and failure rules); this module decides what the step
does and what the history says about it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import damaged, form_contract, instance_migration
from .actors import Actor, system_actor
from .clock import Clock, from_storage, to_storage
from .correlation import MessageCorrelation
from .database import Database
from .errors import Conflict, DamagedState, InvalidState, NotFound
from .history import History
from .instance_migration import MigrationCheck
from .models import (
    Incident,
    ProcessInstance,
)
from .repository import Repository
from .serialization import SPIFF_STATE_VERSION, StateCodec
from .services import RUNNABLE
from .steps import NewInstance, StepContext, StepOutcome, StepRunner


@dataclass(frozen=True)
class InstanceInfo:
    id: int
    key: str
    version: int
    definition_id: int
    business_key: str | None
    state: str
    started_at: datetime
    started_by: str
    ended_at: datetime | None
    open_incidents: list[dict[str, Any]]
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["started_at"] = self.started_at.isoformat()
        d["ended_at"] = self.ended_at.isoformat() if self.ended_at else None
        return d


@dataclass(frozen=True)
class Started:
    instance_id: int
    incident: str | None
    created_tasks: list[int]


class Runtime(MessageCorrelation):
    def __init__(
        self,
        db: Database,
        codec: StateCodec,
        clock: Clock,
        history: History,
        repository: Repository,
        steps: StepRunner,
    ) -> None:
        self.db = db
        self.codec = codec
        self.clock = clock
        self.history = history
        self.repository = repository
        self.steps = steps

    # -- start ----------------------------------------------------------------------------

    def start(
        self,
        key: str,
        data: dict[str, Any] | None = None,
        actor: Actor | None = None,
        version: int | None = None,
        business_key: str | None = None,
    ) -> Started:
        """Start an instance of `key` (latest version unless given) and run it to its first
        wait state. If that first run fails, the instance is kept at its start with an
        incident, so the request is not lost."""
        actor = actor or system_actor()
        outcome = self._run(
            NewInstance(key, version, data or {}, business_key), lambda ctx: None, actor
        )
        return Started(outcome.instance_id, outcome.incident, outcome.created_tasks)

    def start_with_form(
        self,
        key: str,
        answers: dict[str, Any],
        actor: Actor,
        version: int | None = None,
        business_key: str | None = None,
        variables: dict[str, Any] | None = None,
    ) -> Started:
        """Start as a person or an integration asks to (the REST API, the command line):
        `answers` may hold only what the process's start form declares, valid against it
        (a process without a start form takes no answers). `variables` come from the host
        (the catalogue's calendar), are trusted, and win over answers of the same name.

        `start` itself takes trusted variables: it is what the host's own code calls."""
        definition = self.repository.runnable(key, version)
        form = self.repository.start_form(definition.id)
        form_contract.admit(
            self.repository.form(definition.id, form) if form else None,
            form,
            answers,
            {},
            f"the start of '{key}'",
            f"Starting '{key}'",
        )
        return self.start(
            key,
            {**answers, **(variables or {})},
            actor,
            version=definition.version,
            business_key=business_key,
        )

    def _run(
        self, instance_id: int | NewInstance, change, actor: Actor, **kwargs: Any
    ) -> StepOutcome:  # type: ignore[no-untyped-def]
        """A step, then delivery of whatever messages it made deliverable."""
        outcome = self.steps.run(instance_id, change, actor, **kwargs)
        if outcome.needs_delivery:
            self.deliver_pending()
        return outcome

    # -- stepping -------------------------------------------------------------------------

    def step(self, instance_id: int, actor: Actor | None = None) -> StepOutcome:
        """Run whatever is runnable now (timers that are due, work left by a retry)."""

        def refresh(ctx: StepContext) -> None:
            ctx.workflow.refresh_timers()

        return self._run(instance_id, refresh, actor or system_actor())

    def retry(self, instance_id: int, actor: Actor, reason: str = "") -> StepOutcome:
        """Resolve the open incidents and continue; the incident stays open (its attempts
        counted) if it fails again. `reason` goes into the history with the retry."""

        def resolve(ctx: StepContext) -> None:
            params = {"iid": ctx.instance.id, "at": to_storage(ctx.now), "by": actor.id}
            ids = [
                r[0]
                for r in ctx.sql.all(
                    "SELECT id FROM incident WHERE instance_id = :iid AND resolved_at IS NULL",
                    params,
                )
            ]
            if not ids:
                raise InvalidState(f"Instance {instance_id} has no open incident to retry.")
            ctx.sql.execute(
                "UPDATE incident SET resolved_at = :at, resolved_by = :by "
                "WHERE instance_id = :iid AND resolved_at IS NULL",
                params,
            )
            ctx.instance.open_incidents = 0
            ctx.record("incident.retried", {"incidents": ids, "reason": reason})
            ctx.workflow.refresh_timers()

        return self._run(instance_id, resolve, actor, keep_on_failure=False)

    # -- migration ------------------------------------------------------------------------

    def check_migration(self, instance_id: int, version: int | None = None) -> MigrationCheck:
        """Whether the instance can move to `version` (default: the latest) and, if not,
        exactly why (see engine/instance_migration.py). Changes nothing."""
        with self.db.read() as session:
            row = session.get(ProcessInstance, instance_id)
            if row is None:
                raise NotFound(f"There is no process instance {instance_id}.")
            current = self.repository.definition(row.definition_id)
            target = self._target(current.key, version)
            try:
                workflow = self.steps.load(row)
            except DamagedState as damage:  # it cannot move; it can be terminated
                result = MigrationCheck(instance_id, current.version, target.version)
                result.problems = [f"its stored state cannot be loaded ({damage.problem})"]
                return result
        result = MigrationCheck(instance_id, current.version, target.version)
        result.problems = self._migration_problems(row.state, current, target, workflow)
        return result

    def _target(self, key: str, version: int | None) -> Any:
        """The version to move to: the one asked for, else the newest that may run."""
        return (
            self.repository.runnable(key) if version is None else self.repository.get(key, version)
        )

    def _migration_problems(
        self, state: str, current: Any, target: Any, workflow: BpmnWorkflow
    ) -> list[str]:
        if state in ("completed", "terminated"):
            return [f"the instance is {state}; only a running instance moves"]
        if target.id == current.id:
            return [f"the instance already runs on version {current.version}"]
        approval = self.repository.approval_state(target.id)
        if approval not in RUNNABLE:
            return [
                f"version {target.version} "
                + (
                    "was refused by an administrator"
                    if approval == "refused"
                    else "awaits an administrator's approval"
                )
            ]
        spec, subprocess_specs = self.repository.specs(target.id)
        return instance_migration.check(self.codec.registry, workflow, spec, subprocess_specs)

    def migrate(
        self, instance_id: int, actor: Actor, version: int | None = None, reason: str = ""
    ) -> MigrationCheck:
        """Move a running instance to `version` (default: the latest) in one step, or raise
        `InvalidState` saying why it cannot move; the move and its reason go into the
        history."""
        outcome: dict[str, MigrationCheck] = {}

        def change(ctx: StepContext) -> None:
            current = ctx.definition
            target = self._target(current.key, version)
            found = MigrationCheck(instance_id, current.version, target.version)
            found.problems = self._migration_problems(
                ctx.instance.state, current, target, ctx.workflow
            )
            if found.problems:
                raise InvalidState(
                    f"Instance {instance_id} cannot move from version {current.version} to "
                    f"{target.version}: " + "; ".join(found.problems)
                )
            spec, subprocess_specs = self.repository.specs(target.id)
            instance_migration.apply(self.codec.registry, ctx.workflow, spec, subprocess_specs)
            try:  # what is saved must load again with the new version
                self.codec.load_state(
                    self.codec.dump_state(ctx.workflow),
                    SPIFF_STATE_VERSION,
                    spec,
                    subprocess_specs,
                    self.steps.script_engine,
                )
            except Exception as exc:
                raise InvalidState(
                    f"Instance {instance_id} cannot move to version {target.version}: its "
                    f"state would not load with that version ({exc})"
                ) from exc
            params = {"iid": instance_id, "d": target.id, "v": target.version}
            ctx.sql.execute(
                "UPDATE process_instance SET definition_id = :d WHERE id = :iid", params
            )
            ctx.sql.execute(
                "UPDATE human_task SET definition_id = :d, definition_version = :v "
                "WHERE instance_id = :iid AND state = 'open'",
                params,
            )
            ctx.instance.definition_id = target.id
            ctx.definition = target
            ctx.record(
                "instance.migrated",
                {"from_version": current.version, "to_version": target.version, "reason": reason},
            )
            outcome["check"] = found
            ctx.continue_engine = ctx.instance.state == "running"

        self._run(instance_id, change, actor, allow_suspended=True)
        return outcome["check"]

    def migrate_all(
        self, key: str, actor: Actor, version: int | None = None, reason: str = ""
    ) -> tuple[list[MigrationCheck], list[MigrationCheck]]:
        """Move every running or suspended instance of `key` on an older version to `version`
        (default: the latest): those that can move, move (each in its own step, recorded in
        its history); the others stay and are returned with their reasons.
        Returns (moved, refused)."""
        target = self._target(key, version)
        with self.db.read() as session:
            candidates = session.scalars(
                select(ProcessInstance.id)
                .where(ProcessInstance.key == key)
                .where(ProcessInstance.state.in_(("running", "suspended")))
                .where(ProcessInstance.definition_id != target.id)
                .order_by(ProcessInstance.id)
            ).all()
        moved, refused = [], []
        for instance_id in candidates:
            check = self.check_migration(instance_id, target.version)
            if not check.possible:
                refused.append(check)
                continue
            try:
                moved.append(self.migrate(instance_id, actor, target.version, reason))
            except (InvalidState, Conflict) as exc:  # changed since the check
                check.problems.append(str(exc))
                refused.append(check)
        return moved, refused

    # -- lifecycle ------------------------------------------------------------------------

    def suspend(self, instance_id: int, actor: Actor, reason: str = "") -> None:
        def change(ctx: StepContext) -> None:
            if ctx.instance.state != "running":
                raise InvalidState(f"Instance {instance_id} is {ctx.instance.state}, not running.")
            ctx.instance.state = "suspended"
            ctx.continue_engine = False
            ctx.record("instance.suspended", {"reason": reason})

        self.steps.run(instance_id, change, actor)

    def resume(self, instance_id: int, actor: Actor, reason: str = "") -> None:
        def change(ctx: StepContext) -> None:
            if ctx.instance.state != "suspended":
                raise InvalidState(
                    f"Instance {instance_id} is {ctx.instance.state}, not suspended."
                )
            ctx.instance.state = "running"
            ctx.record("instance.resumed", {"reason": reason})
            ctx.workflow.refresh_timers()

        self._run(instance_id, change, actor, allow_suspended=True)

    def terminate(self, instance_id: int, actor: Actor, reason: str = "") -> None:
        def change(ctx: StepContext) -> None:
            ctx.workflow.cancel()
            ctx.instance.state = "terminated"
            ctx.instance.ended_at = to_storage(ctx.now)
            ctx.continue_engine = False
            ctx.record("instance.terminated", {"reason": reason})

        try:
            self.steps.run(instance_id, change, actor, allow_suspended=True)
        except DamagedState as damage:  # its state cannot be loaded: end it from its rows
            damaged.terminate(
                self.db, self.history, self.clock.now(), instance_id, actor, reason, damage
            )

    # -- reading --------------------------------------------------------------------------

    def get(self, instance_id: int, with_data: bool = True) -> InstanceInfo:
        with self.db.read() as session:
            row = session.get(ProcessInstance, instance_id)
            if row is None:
                raise NotFound(f"There is no process instance {instance_id}.")
            return self._info(session, row, with_data)

    def list(
        self, key: str | None = None, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[InstanceInfo]:
        with self.db.read() as session:
            query = select(ProcessInstance)
            if key:
                query = query.where(ProcessInstance.key == key)
            if state:
                query = query.where(ProcessInstance.state == state)
            rows = session.scalars(
                query.order_by(ProcessInstance.id.desc()).limit(limit).offset(offset)
            ).all()
            return [self._info(session, r, with_data=False) for r in rows]

    def count(self, state: str | None = None) -> int:
        with self.db.read() as session:
            query = select(func.count()).select_from(ProcessInstance)
            if state:
                query = query.where(ProcessInstance.state == state)
            return session.scalar(query) or 0

    def _info(self, session: Session, row: ProcessInstance, with_data: bool) -> InstanceInfo:
        definition = self.repository.definition(row.definition_id)  # cached: no query per row
        incidents = session.scalars(
            select(Incident)
            .where(Incident.instance_id == row.id, Incident.resolved_at.is_(None))
            .order_by(Incident.id)
        ).all()
        data: dict[str, Any] = {}
        if with_data:
            data = self._current_data(row)
        return InstanceInfo(
            id=row.id,
            key=row.key,
            version=definition.version,
            definition_id=row.definition_id,
            business_key=row.business_key,
            state=row.state,
            started_at=from_storage(row.started_at),
            started_by=row.started_by,
            ended_at=from_storage(row.ended_at),
            open_incidents=[
                {
                    "id": i.id,
                    "element_id": i.element_id,
                    "message": i.message,
                    "created_at": from_storage(i.created_at).isoformat(),
                }
                for i in incidents
            ],
            data=data,
        )

    def _current_data(self, row: ProcessInstance) -> dict[str, Any]:
        """The data of the instance's most recent task (what a person would call "the case")."""
        workflow = self.steps.load(row)
        task = workflow.last_task or workflow.task_tree
        data = dict(workflow.data)
        data.update(task.data)
        return json.loads(self.codec.dump_data(data))

    def workflow(self, instance_id: int) -> BpmnWorkflow:
        """A read-only copy of the SpiffWorkflow state (for diagrams and diagnostics)."""
        with self.db.read() as session:
            row = session.get(ProcessInstance, instance_id)
            if row is None:
                raise NotFound(f"There is no process instance {instance_id}.")
            return self.steps.load(row)
