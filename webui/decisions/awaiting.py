"""Which open tasks are decisions waiting for the signed-in user.

A decision is a task for a deciding role (the council, the city director, the security
chief, the jury, a local council, the head of an organisation) whose form asks for a
decision: a `beslut` field (approve / return / …) or, like the jury's choice of a winner, a
`motivering` that becomes the record's motivation (docs/processes.md: "Decisions use a field
`beslut` (enum) and `motivering`"). Reading the form rather than a list of element ids means
a process owner's new decision task appears here without a change to the web UI.

Only tasks for a deciding role the user holds (or assigned or offered to them by name) are
listed: an administrator may open any task, but nothing waits for them as a decision-maker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from engine import Actor, Engine
from engine.errors import NotFound
from engine.tasks import TaskInfo
from processes.decisions import Decision, list_decisions

DECISION_ROLES = frozenset(
    {
        "council",
        "city_director",
        "security_chief",
        "jury_chair",
        "jury_member",
        "local_council",
        "head",
    }
)
DECISION_FIELDS = ("beslut", "motivering")
SCAN_LIMIT = 1000
"""Open tasks looked at per request; a deciding role has a few dozen at most."""


@dataclass(frozen=True)
class Awaiting:
    task: TaskInfo
    earlier: list[Decision]
    """Decisions already taken in the same case (a returned item comes back with them): for
    an item of one organisation, that organisation's and the city-wide ones, not every other
    organisation's decisions in a case that holds all of them (the plan cycle)."""


def holds_decision_role(actor: Actor) -> bool:
    return bool(actor.roles & DECISION_ROLES)


def _form_asks_for_decision(engine: Engine, task: TaskInfo, definitions: dict) -> bool:  # type: ignore[type-arg]
    if not task.form_schema:
        return False
    key = (task.definition_key, task.definition_version)
    if key not in definitions:
        definitions[key] = engine.repository.get(*key).id
    try:
        schema = json.loads(engine.repository.form(definitions[key], task.form_schema))
    except (NotFound, ValueError):
        return False
    properties = schema.get("properties") or {}
    return any(name in properties for name in DECISION_FIELDS)


def _for_me(actor: Actor, task: TaskInfo) -> bool:
    if task.role not in DECISION_ROLES:
        return False
    return (
        task.assignee == actor.id
        or actor.id in task.candidate_users
        or actor.holds(task.role, task.organisation)
        or bool(set(task.candidate_groups) & actor.roles & DECISION_ROLES)
    )


def awaiting(engine: Engine, actor: Actor) -> list[Awaiting]:
    """Open decision tasks the actor may work on, the one due first at the top."""
    if not holds_decision_role(actor):
        return []
    definitions: dict[tuple[str, int], int] = {}
    found = []
    for task in engine.tasks.list(actor=actor, limit=SCAN_LIMIT).items:
        if _for_me(actor, task) and _form_asks_for_decision(engine, task, definitions):
            earlier = [
                d
                for d in list_decisions(engine, instance_id=task.instance_id, limit=100)
                if task.organisation is None or d.organisation in (None, task.organisation)
            ]
            found.append(Awaiting(task, earlier))
    return found
