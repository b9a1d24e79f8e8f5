"""Who may see, work on and hand over a task — the checks every task route makes.

They mirror the engine's own rule (`engine.tasks.Tasks.may_work_on`), read from a `TaskInfo`:
a task is for its assignee, or, while nobody has it, for everyone holding its role in its
organisation (a city-wide grant holds everywhere) and for its candidate users and groups.
Seeing is a little wider than working: a colleague who could take the task sees it while
someone else has it (who has it, and since when), and whoever completed a task sees that it
is done; an auditor reads every task. Anyone else gets 404 — not 403 — so that another
organisation's task numbers give nothing away.
"""

from __future__ import annotations

from engine import Actor
from engine.tasks import TaskInfo


def eligible(actor: Actor, task: TaskInfo) -> bool:
    """Could `actor` work on `task` if nobody had claimed it?"""
    return (
        actor.admin
        or actor.id in task.candidate_users
        or bool(actor.roles & set(task.candidate_groups))
        or actor.holds(task.role, task.organisation)
    )


READ_ALL_ROLES = frozenset({"auditor"})
"""Roles that may read every task (never change one): the auditor follows a case from its
page in the instances area to its tasks."""


def may_see(actor: Actor, task: TaskInfo) -> bool:
    if actor.id in (task.assignee, task.completed_by, task.claimed_by):
        return True
    return eligible(actor, task) or bool(actor.roles & READ_ALL_ROLES)


def may_work(actor: Actor, task: TaskInfo) -> bool:
    if task.state != "open":
        return False
    if actor.admin or task.assignee == actor.id:
        return True
    return task.assignee is None and eligible(actor, task)


def may_claim(actor: Actor, task: TaskInfo) -> bool:
    return task.state == "open" and task.assignee is None and eligible(actor, task)


def may_unclaim(actor: Actor, task: TaskInfo) -> bool:
    return (
        task.state == "open"
        and task.assignee is not None
        and (task.assignee == actor.id or actor.admin)
    )


def may_hand_over(actor: Actor, task: TaskInfo) -> bool:
    """The assignee hands their task to a colleague; while nobody has it, anyone who could
    take it may give it to a colleague instead (a team lead distributing work)."""
    return may_work(actor, task)
