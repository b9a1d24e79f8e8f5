"""Reading the human-task store: one task, and task lists as indexed queries.

Lists read the mirrored `human_task` rows (indexed by state, role, organisation, assignee),
so a task list costs the same however many instances run; who may see what is a flat OR of
conditions, each answerable from a partial index. `Tasks` (engine/tasks.py) adds the verbs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from .actors import Actor
from .clock import from_storage, to_storage
from .database import Database
from .errors import NotFound
from .models import OPEN, HumanTask, TaskCandidate
from .serialization import StateCodec


@dataclass(frozen=True)
class TaskInfo:
    id: int
    instance_id: int
    definition_key: str
    definition_version: int
    element_id: str
    name: str | None
    documentation: str | None
    lane: str | None
    role: str | None
    organisation: str | None
    assignee: str | None
    candidate_users: list[str]
    candidate_groups: list[str]
    due_at: datetime | None
    priority: int
    form_schema: str | None
    form_ui_schema: str | None
    state: str
    created_at: datetime
    claimed_at: datetime | None
    claimed_by: str | None
    completed_at: datetime | None
    completed_by: str | None
    draft: dict[str, Any] | None

    @classmethod
    def of(cls, row: HumanTask, codec: StateCodec) -> TaskInfo:
        return cls(
            row.id,
            row.instance_id,
            row.definition_key,
            row.definition_version,
            row.element_id,
            row.name,
            row.documentation,
            row.lane,
            row.role,
            row.organisation,
            row.assignee,
            json.loads(row.candidate_users),
            json.loads(row.candidate_groups),
            from_storage(row.due_at),
            row.priority,
            row.form_schema,
            row.form_ui_schema,
            row.state,
            from_storage(row.created_at),
            from_storage(row.claimed_at),
            row.claimed_by,
            from_storage(row.completed_at),
            row.completed_by,
            codec.load_data(row.draft),
        )

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        for k, v in d.items():
            if isinstance(v, datetime):
                d[k] = v.isoformat()
        return d


@dataclass(frozen=True)
class Page:
    items: list[TaskInfo]
    total: int
    limit: int
    offset: int


class TaskQueries:
    db: Database
    codec: StateCodec

    # -- queries --------------------------------------------------------------------------

    def get(self, task_id: int) -> TaskInfo:
        with self.db.read() as session:
            return TaskInfo.of(self._row(session, task_id), self.codec)

    def list(
        self,
        *,
        actor: Actor | None = None,
        instance_id: int | None = None,
        state: str = "open",
        scope: str = "all",
        definition_key: str | None = None,
        organisation: str | None = None,
        due_before: datetime | None = None,
        newest_due_first: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> Page:
        """Tasks by state; for an actor, only those they may see.

        `scope` (with an actor): "mine" — assigned to them; "claimable" — unassigned and they
        may claim; "all" — both. Filters: the process, the organisation, due before an
        instant (overdue: before now). Open tasks are sorted by due date (soonest first, or
        latest first), undated last.
        """
        query = select(HumanTask)
        if actor is not None and state == "open":
            query = query.where(self._visible_open_to(actor, scope))
        elif state != "any":
            # The literal lets the database use the partial indexes on open tasks (a bound
            # parameter does not prove `state = 'open'` to SQLite's planner).
            query = query.where(OPEN if state == "open" else HumanTask.state == state)
        if actor is not None and state != "open":
            query = query.where(self._visible_to(actor, scope))
        if instance_id is not None:
            query = query.where(HumanTask.instance_id == instance_id)
        if definition_key is not None:
            query = query.where(HumanTask.definition_key == definition_key)
        if organisation is not None:
            query = query.where(HumanTask.organisation == organisation)
        if due_before is not None:
            query = query.where(HumanTask.due_at < to_storage(due_before))
        with self.db.read() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            if state == "completed":
                order = (HumanTask.completed_at.desc(), HumanTask.id.desc())
            else:
                due = HumanTask.due_at.desc() if newest_due_first else HumanTask.due_at
                order = (HumanTask.due_at.is_(None), due, HumanTask.id)
            rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
            return Page([TaskInfo.of(r, self.codec) for r in rows], total, limit, offset)

    def _visible_open_to(self, actor: Actor, scope: str):  # type: ignore[no-untyped-def]
        """Open tasks the actor may see, as a flat OR whose every term names `state = 'open'`:
        SQLite then answers each term from its own partial index instead of scanning every
        open task (bench/tasklist.py: p95 84 ms -> 28 ms for 10,000 open tasks)."""
        mine = and_(OPEN, HumanTask.assignee == actor.id)
        unassigned = and_(OPEN, HumanTask.assignee.is_(None))
        if actor.admin:
            eligible = [unassigned]
        else:
            eligible = [
                and_(
                    unassigned,
                    HumanTask.id.in_(
                        select(TaskCandidate.task_id).where(
                            or_(
                                and_(TaskCandidate.kind == "user", TaskCandidate.value == actor.id),
                                and_(
                                    TaskCandidate.kind == "group",
                                    TaskCandidate.value.in_(actor.roles),
                                ),
                            )
                        )
                    ),
                )
            ]
            eligible += [
                and_(unassigned, HumanTask.role == role)
                if org is None
                else and_(unassigned, HumanTask.role == role, HumanTask.organisation == org)
                for role, org in sorted(actor.grants, key=str)
            ]
        if scope == "mine":
            return mine
        if scope == "claimable":
            return or_(*eligible)
        return or_(mine, *eligible)

    def _visible_to(self, actor: Actor, scope: str):  # type: ignore[no-untyped-def]
        mine = HumanTask.assignee == actor.id
        if actor.admin:
            eligible = HumanTask.assignee.is_(None)
        else:
            # A grant without an organisation holds city-wide.
            by_grant = [
                HumanTask.role == role
                if org is None
                else and_(HumanTask.role == role, HumanTask.organisation == org)
                for role, org in actor.grants
            ]
            candidate = HumanTask.id.in_(
                select(TaskCandidate.task_id).where(
                    or_(
                        and_(TaskCandidate.kind == "user", TaskCandidate.value == actor.id),
                        and_(TaskCandidate.kind == "group", TaskCandidate.value.in_(actor.roles)),
                    )
                )
            )
            eligible = and_(
                HumanTask.assignee.is_(None), or_(candidate, *by_grant) if by_grant else candidate
            )
        if scope == "mine":
            return mine
        if scope == "claimable":
            return eligible
        return or_(mine, eligible)

    def _row(self, session: Session, task_id: int) -> HumanTask:
        row = session.get(HumanTask, task_id)
        if row is None:
            raise NotFound(f"There is no task {task_id}.")
        return row
