"""Who may see which case (process instance).

A case holds what people wrote in its tasks, so it is shown only to those with a reason to
see it: anyone who may see one of its tasks (their own, their organisation's for a role they
hold there, or one offered to them as a candidate), and everyone holding a city-wide role
(the coordinator, the council, the auditor, …), whose work spans every organisation.
Administrators see everything. Everyone else gets 404, so that even the existence of another
organisation's case does not leak.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select

from engine import Actor, Engine
from engine.models import HumanTask, ProcessInstance, TaskCandidate


def sees_every_case(actor: Actor) -> bool:
    """Administrators, and holders of a role granted for the whole city (no organisation)."""
    return actor.admin or any(org is None for _role, org in actor.grants)


def task_visible_to(actor: Actor) -> Any:
    """A condition on `human_task`: the actor may see this task, whatever its state.

    Wider than "may work on it now": a task a colleague in my organisation has claimed or
    completed is still my organisation's task, and one I completed stays mine.
    """
    by_grant = [
        and_(HumanTask.role == role, HumanTask.organisation == org)
        for role, org in actor.grants
        if org is not None
    ]
    candidate = HumanTask.id.in_(
        select(TaskCandidate.task_id).where(
            or_(
                and_(TaskCandidate.kind == "user", TaskCandidate.value == actor.id),
                and_(TaskCandidate.kind == "group", TaskCandidate.value.in_(actor.roles)),
            )
        )
    )
    return or_(
        HumanTask.assignee == actor.id,
        HumanTask.completed_by == actor.id,
        HumanTask.claimed_by == actor.id,
        candidate,
        *by_grant,
    )


def may_see_case(engine: Engine, actor: Actor, instance_id: int) -> bool:
    if sees_every_case(actor):
        return True
    with engine.db.read() as session:
        found = session.scalar(
            select(HumanTask.id)
            .where(HumanTask.instance_id == instance_id, task_visible_to(actor))
            .limit(1)
        )
    return found is not None


def visible_case_ids(
    engine: Engine,
    actor: Actor,
    state: str | None,
    limit: int,
    offset: int,
    key: str | None = None,
) -> tuple[list[int], int]:
    """The ids of the cases the actor may see (of process `key`, in `state`), newest first,
    and how many there are."""
    query = select(ProcessInstance.id)
    if key:
        query = query.where(ProcessInstance.key == key)
    if state:
        query = query.where(ProcessInstance.state == state)
    if not sees_every_case(actor):
        query = query.where(
            ProcessInstance.id.in_(
                select(HumanTask.instance_id).where(task_visible_to(actor)).distinct()
            )
        )
    with engine.db.read() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        ids = list(
            session.scalars(query.order_by(ProcessInstance.id.desc()).limit(limit).offset(offset))
        )
    return ids, total
