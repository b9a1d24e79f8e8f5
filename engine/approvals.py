"""Four eyes on power: a version that calls a privileged service runs only once approved.

A process owner is trusted to change how work flows, not who holds power. A service declared
`@privileged(...)` (engine/services.py) grants roles, registers decisions, notifies many,
erases or publishes; a diagram that calls one could do all that for whoever wrote it. So the
deploy records which privileged calls a version makes, and such a version *awaits approval*:
it cannot be started, no case can be moved to it, its start timers wait, and "the latest
version" of its process stays the one before it, until an administrator other than the one
who deployed it approves it. Approval and refusal are events in the repository's
hash-chained history, with who, when and why; the service call checks the approval again in
its own transaction.

A deploy by the system (the operator's `kedja serve --deploy`, `kedja demo`, the built-in
processes at set-up) is approved at once, recorded as such: whoever runs the server already
controls the code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from .actors import SYSTEM, Actor
from .clock import Clock, from_storage, to_storage
from .database import Database
from .errors import InvalidState, NotFound, NotPermitted, Problem, ValidationError
from .history import History, PendingEvent
from .models import ProcessDefinition
from .services import RUNNABLE, Services

NOT_NEEDED, AWAITING, APPROVED, REFUSED = "not_needed", "awaiting", "approved", "refused"
# An approval needs none of the stored spec (the largest column of a definition, by far).
_WITHOUT_SPEC = defer(ProcessDefinition.spec_json)


@dataclass(frozen=True)
class PrivilegedCall:
    """One service task of a version that calls a privileged operator."""

    element: str
    operator: str
    privilege: str
    process: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Approval:
    """Where a version stands: `state` is not_needed, awaiting, approved or refused."""

    definition_id: int
    key: str
    version: int
    state: str
    calls: list[PrivilegedCall]
    deployed_by: str
    deployed_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None

    @property
    def runnable(self) -> bool:
        return self.state in RUNNABLE

    @classmethod
    def of(cls, row: ProcessDefinition) -> Approval:
        return cls(
            row.id,
            row.key,
            row.version,
            row.approval,
            [PrivilegedCall(**c) for c in json.loads(row.privileged_calls or "[]")],
            row.deployed_by,
            from_storage(row.deployed_at),
            row.approved_by,
            from_storage(row.approved_at),
            row.approval_note,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "calls": [c.as_dict() for c in self.calls],
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "note": self.note,
        }


def privileged_calls(spec: Any, subprocess_specs: dict[str, Any], services: Services) -> list:
    """Every service task of the process and the processes it calls whose operator is
    privileged, in a stable order."""
    found = []
    for one in [spec, *(s for _, s in sorted(subprocess_specs.items()) if s is not None)]:
        for task_spec in one.task_specs.values():
            operator = getattr(task_spec, "operation_name", None)
            privilege = services.privilege(operator) if operator else None
            if privilege is not None:
                element = task_spec.bpmn_id or task_spec.name
                found.append(PrivilegedCall(element, operator, privilege, one.name))
    return sorted(set(found), key=lambda c: (c.process, c.element))


def initial_state(calls: list[PrivilegedCall], actor: Actor) -> tuple[str, str | None]:
    """The approval a new version starts with, and who decided it (the system, or nobody)."""
    if not calls:
        return NOT_NEEDED, None
    if actor.id == SYSTEM:
        return APPROVED, SYSTEM
    return AWAITING, None


class Approvals:
    """List, approve and refuse versions that call privileged services."""

    def __init__(self, db: Database, clock: Clock, history: History, repository: Any) -> None:
        self.db = db
        self.clock = clock
        self.history = history
        self.repository = repository

    def of(self, definition_id: int) -> Approval:
        with self.db.read() as session:
            row = session.get(ProcessDefinition, definition_id, options=[_WITHOUT_SPEC])
            if row is None:
                raise NotFound(f"There is no process definition with id {definition_id}.")
            return Approval.of(row)

    def for_key(self, key: str) -> dict[int, Approval]:
        """Every version of a process, by version number (the modeller's version list)."""
        with self.db.read() as session:
            rows = session.scalars(
                select(ProcessDefinition).options(_WITHOUT_SPEC).where(ProcessDefinition.key == key)
            ).all()
            return {r.version: Approval.of(r) for r in rows}

    def awaiting(self) -> list[Approval]:
        with self.db.read() as session:
            rows = session.scalars(
                select(ProcessDefinition)
                .options(_WITHOUT_SPEC)
                .where(ProcessDefinition.approval == AWAITING)
                .order_by(ProcessDefinition.deployed_at, ProcessDefinition.id)
            ).all()
            return [Approval.of(r) for r in rows]

    def approve(self, definition_id: int, actor: Actor, note: str = "") -> Approval:
        """An administrator who did not deploy the version lets it run. Its start timers
        take over if it is now the newest runnable version of its process."""
        return self._decide(definition_id, actor, APPROVED, note.strip())

    def refuse(self, definition_id: int, actor: Actor, reason: str) -> Approval:
        """The version never runs; the process owner deploys a corrected one."""
        if not reason.strip():
            raise ValidationError(
                "Say why the version is refused",
                [
                    Problem(
                        "a reason is required", element="reason", hint="the process owner reads it"
                    )
                ],
            )
        return self._decide(definition_id, actor, REFUSED, reason.strip())

    def _decide(self, definition_id: int, actor: Actor, state: str, note: str) -> Approval:
        if not actor.admin:
            raise NotPermitted(f"Only an administrator approves versions; {actor.id} is not one.")
        now = self.clock.now()
        with self.db.write() as session:
            row = session.get(ProcessDefinition, definition_id, with_for_update=True)
            if row is None:
                raise NotFound(f"There is no process definition with id {definition_id}.")
            if row.approval != AWAITING:
                raise InvalidState(
                    f"Version {row.version} of '{row.key}' is not awaiting approval "
                    f"(it is {row.approval.replace('_', ' ')})."
                )
            if row.deployed_by == actor.id:
                raise NotPermitted(
                    f"{actor.id} deployed version {row.version} of '{row.key}' and cannot also "
                    "approve it: another administrator must (four eyes)."
                )
            row.approval, row.approved_by = state, actor.id
            row.approved_at, row.approval_note = to_storage(now), note or None
            approval = Approval.of(row)
            event = "definition.approved" if state == APPROVED else "definition.refused"
            self.history.append_to_repository(
                session,
                [
                    PendingEvent(
                        event,
                        actor.id,
                        {
                            "key": row.key,
                            "version": row.version,
                            "deployed_by": row.deployed_by,
                            "calls": [c.as_dict() for c in approval.calls],
                            "note": note,
                        },
                    )
                ],
                now,
            )
            if state == APPROVED:
                self.repository.start_timers_after_approval(session, row, now)
            return approval

    def check_runnable(self, session: Session, definition_id: int) -> None:
        """Raise `InvalidState` unless the version may run (start, receive cases)."""
        row = session.get(ProcessDefinition, definition_id)
        if row is not None and row.approval not in RUNNABLE:
            raise not_runnable(row.key, row.version, row.approval)


def not_runnable(key: str, version: int, state: str) -> InvalidState:
    if state == REFUSED:
        return InvalidState(
            f"Version {version} of '{key}' was refused by an administrator and never runs; "
            "deploy a corrected version."
        )
    return InvalidState(
        f"Version {version} of '{key}' calls privileged services and awaits an "
        "administrator's approval (Administration > Godkännanden, or `kedja approve`); "
        "until then it cannot be started or receive cases."
    )
