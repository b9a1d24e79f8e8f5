"""Notifications no diagram asks for: a new task for the people who may work on it, and a
registered decision for the people it concerns.

The diagrams queue their own reminders and escalations (`notify`, `notify_users`,
`notify_nominators`, `publish_guideline`). Two events happen in every process, so they are
rules here instead of service tasks in every diagram:

- **A new human task** (`task_assigned`): everyone who may work on it — its assignee if it
  has one; otherwise its candidate users, the holders of its candidate groups, and the
  holders of its role for its organisation (a city-wide grant counts, as in
  `engine.tasks.Tasks.may_work_on`) — gets "Ny uppgift: <task>" with a link straight to the
  task. Administrators may act on any task but are nobody's assignee, so they are not told.
  The person whose own step created the task is not told either: they are looking at Kedja
  as it happens and find the task in their list.
- **A registered decision** (`decision_registered`): the people whose work the decision is
  about — whoever completed a task in the case (for a decision about one organisation, a task
  of that organisation), and the organisation's responsible persons — get the decision,
  its motivation and a link to the record in the register. The decider is not told, nor
  the other members of the deciding body: they took the decision together. Decisions are
  official records every signed-in user may read, so nobody learns more than the register
  shows.

Only active users with an e-mail address are queued: a row nobody can receive would sit in
the outbox for ever. Each recipient's subject and text are written in their own language
(`app_user.language`), as a handover's are; the decision and motivation are quoted as
registered. The decision hook is an `after_advance` hook, because a decision can be
registered in a step that creates no task. Both rules write in the step's transaction (the
task and the decision exist exactly when their notification does), with the statement the
handlers use. `install` adds them to an engine; `processes.governance.open_engine` calls it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from engine import Engine
from engine.clock import from_storage, to_storage
from engine.step_sql import Tx
from engine.steps import StepContext

from .calendar import STOCKHOLM
from .decisions import KIND_NAMES_SV
from .handlers.notifications import INSERT

TASK_ASSIGNED = "task_assigned"
DECISION_REGISTERED = "decision_registered"
SUBJECT_LENGTH = 300  # notification.subject


def install(engine: Engine) -> None:
    """Queue the rules' notifications in every step of `engine` from now on."""
    engine.steps.tasks_created_in_step.append(queue_new_tasks)
    engine.steps.after_advance.append(queue_decisions)


# -- new tasks ------------------------------------------------------------------------------


TASK_COLUMNS = (
    "SELECT id, name, element_id, role, organisation, assignee, candidate_users, "
    "candidate_groups, due_at FROM human_task WHERE id IN ({ids})"
)


def queue_new_tasks(ctx: StepContext, task_ids: list[int]) -> None:
    """`tasks_created_in_step` hook: a "new task" notification per new task and person, in
    that person's language."""
    tx = ctx.sql
    params: dict[str, Any] = {}
    rows = tx.all(TASK_COLUMNS.format(ids=tx.in_list("t", task_ids, params)), params)
    names = _organisation_names(tx, {row[4] for row in rows if row[4]})
    inserts = []
    for task_id, name, element_id, role, org, assignee, users, groups, due in rows:
        recipients = workers(
            tx, role, org, assignee, json.loads(users or "[]"), json.loads(groups or "[]")
        )
        recipients.pop(ctx.actor.id, None)
        title = name or element_id
        where = names.get(org, org) if org else None
        deadline = from_storage(tx.datetime(due))
        common = {
            "at": to_storage(ctx.now),
            "kind": TASK_ASSIGNED,
            "link": f"/uppgifter/{task_id}",
            "iid": ctx.instance.id,
            "task": task_id,
            "email": None,
        }
        for user, language in sorted(recipients.items()):
            subject, message = new_task_text(language, title, where, deadline)
            row = {"recipient": user, "subject": subject[:SUBJECT_LENGTH], "message": message}
            inserts.append({**common, **row})
    tx.executemany(INSERT, inserts)


def new_task_text(
    language: str, title: str, organisation: str | None, due: datetime | None
) -> tuple[str, str]:
    """Subject and message of a "new task" notification."""
    if language == "en":
        subject = f"New task: {title}" + (f" ({organisation})" if organisation else "")
        message = f"There is a new task in Kedja that you can work on: {title}"
        message += f" for {organisation}." if organisation else "."
        if due is not None:
            message += f" Due: {deadline_text(due, 'en')}."
        return subject, message
    subject = f"Ny uppgift: {title}" + (f" ({organisation})" if organisation else "")
    message = f"Du kan arbeta med en ny uppgift i Kedja: {title}"
    message += f" för {organisation}." if organisation else "."
    if due is not None:
        message += f" Sista dag: {deadline_text(due, 'sv')}."
    return subject, message


# The statements below are built from fixed fragments and `:name` placeholders only; every
# value is a bound parameter.


def workers(
    tx: Tx,
    role: str | None,
    organisation: str | None,
    assignee: str | None,
    candidate_users: Iterable[str],
    candidate_groups: Iterable[str],
) -> dict[str, str]:
    """Active users with an e-mail address who may work on a task so assigned (the
    engine's rule, without the administrators' override), with their language."""
    params: dict[str, Any] = {"active": True}
    if assignee:
        who = ["u.id = :assignee"]
        params["assignee"] = assignee
    else:
        who = []
        users, groups = list(candidate_users), list(candidate_groups)
        if users:
            who.append(f"u.id IN ({tx.in_list('cu', users, params)})")
        if groups:
            who.append(
                "u.id IN (SELECT user_id FROM role_grant WHERE role IN "  # noqa: S608
                f"({tx.in_list('cg', groups, params)}))"
            )
        if role:
            scope = "organisation_id IS NULL"
            if organisation is not None:
                scope = f"({scope} OR organisation_id = :org)"
                params["org"] = organisation
            who.append(
                f"u.id IN (SELECT user_id FROM role_grant WHERE role = :role AND {scope})"  # noqa: S608
            )
            params["role"] = role
    if not who:
        return {}
    return _with_language(tx, who, params)


def _with_language(tx: Tx, who: list[str], params: dict[str, Any]) -> dict[str, str]:
    """Active users with an e-mail address matching any of `who` -> their language."""
    sql = (
        "SELECT u.id, u.language FROM app_user u WHERE u.active = :active "  # noqa: S608
        f"AND u.email IS NOT NULL AND u.email <> '' AND ({' OR '.join(who)})"
    )
    return {user: language or "sv" for user, language in tx.all(sql, params)}


MONTHS_EN = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


def deadline_text(due: datetime, language: str) -> str:
    """A deadline as its reader says it, in Stockholm time: `2026-05-15` (or
    `2026-05-15 kl. 16.00`) in Swedish, `15 May 2026` (or `15 May 2026, 16:00`) in English.
    A deadline at the end of a day (23:59) is just the day."""
    local = due.astimezone(STOCKHOLM)
    end_of_day = (local.hour, local.minute) == (23, 59)
    if language == "en":
        day = f"{local.day} {MONTHS_EN[local.month - 1]} {local.year}"
        return day if end_of_day else f"{day}, {local:%H:%M}"
    day = local.date().isoformat()
    return day if end_of_day else f"{day} kl. {local:%H.%M}"


def _organisation_names(tx: Tx, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    params: dict[str, Any] = {}
    placeholders = tx.in_list("o", sorted(ids), params)
    sql = f"SELECT id, name FROM organisation WHERE id IN ({placeholders})"  # noqa: S608
    return dict(tx.all(sql, params))


# -- decisions ------------------------------------------------------------------------------


def queue_decisions(ctx: StepContext) -> None:
    """`after_advance` hook: tell the people a decision registered in this step concerns."""
    for event in ctx.events:
        if event.kind == "decision.registered":
            _queue_decision(ctx, event.data)


def _queue_decision(ctx: StepContext, data: dict[str, Any]) -> None:
    tx = ctx.sql
    record = tx.one(
        "SELECT id, number, kind, subject, decision, motivation, decided_by, organisation_id "
        "FROM decision_record WHERE id = :id",
        {"id": data.get("record_id")},
    )
    if record is None:
        return
    record_id, number, kind, subject, decision, motivation, decided_by, org = record
    recipients = concerned(tx, ctx.instance.id, org)
    for user in (decided_by, ctx.actor.id):
        recipients.pop(user, None)
    where = _organisation_names(tx, {org}).get(org, org) if org else None
    common = {
        "at": to_storage(ctx.now),
        "kind": DECISION_REGISTERED,
        "link": f"/beslut/{record_id}",
        "iid": ctx.instance.id,
        "task": None,
        "email": None,
    }
    inserts = []
    for user, language in sorted(recipients.items()):
        title, message = decision_text(language, number, kind, subject, decision, motivation, where)
        inserts.append(
            {**common, "recipient": user, "subject": title[:SUBJECT_LENGTH], "message": message}
        )
    tx.executemany(INSERT, inserts)


DECIDERS_EN = {
    "council": "The risk management council",
    "city_director": "The city director",
    "jury": "The safety prize jury",
    "security_chief": "The security chief",
    "local_council": "The local crime-prevention council",
    "head": "The head of administration or company",
}


def decision_text(
    language: str,
    number: str,
    kind: str,
    subject: str | None,
    decision: str,
    motivation: str,
    organisation: str | None,
) -> tuple[str, str]:
    """Subject and message of a "decision registered" notification. The decision and its
    motivation are quoted as registered (in Swedish)."""
    if language == "en":
        title = f"Decision {number}: {subject}" if subject else f"Decision {number}"
        message = f"{DECIDERS_EN.get(kind, kind)} has decided"
        message += f" for {organisation}: " if organisation else ": "
        return title, f"{message}{decision}\nReasons: {motivation}"
    title = f"Beslut {number}: {subject}" if subject else f"Beslut {number}"
    message = f"{KIND_NAMES_SV.get(kind, kind)} har beslutat"
    message += f" för {organisation}: " if organisation else ": "
    return title, f"{message}{decision}\nMotivering: {motivation}"


def concerned(tx: Tx, instance_id: int, organisation: str | None) -> dict[str, str]:
    """Active users with an e-mail address who worked on the case (on the organisation's
    tasks, for a decision about one organisation), and the organisation's responsible
    persons; with their language."""
    params: dict[str, Any] = {"iid": instance_id, "active": True}
    worked = "SELECT completed_by FROM human_task WHERE instance_id = :iid AND state = 'completed'"
    who = [f"u.id IN ({worked}{' AND organisation = :org' if organisation else ''})"]
    if organisation:
        params["org"] = organisation
        who.append(
            "u.id IN (SELECT user_id FROM role_grant WHERE role = 'responsible' "
            "AND organisation_id = :org)"
        )
    return _with_language(tx, who, params)
