"""Tasks: the list, one task with its form, claiming, releasing and completing.

A task the user may not see answers 404 like one that does not exist (another
organisation's task numbers tell nobody anything); the engine's own rules decide who may
claim and complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Response

from engine import Actor, Engine
from engine.errors import NotFound, ValidationError
from engine.tasks import TaskInfo
from webui.auth.access import engine
from webui.tasks import access as task_access

from . import bp, openapi
from .auth import actor
from .parsing import body, bool_arg, check_id, choice_arg, paging, text_arg
from .problems import Invalid, problem_errors
from .responses import iso, ok


def task_json(task: TaskInfo, who: Actor, now: datetime) -> dict[str, Any]:
    return {
        "id": task.id,
        "instance_id": task.instance_id,
        "process": task.definition_key,
        "version": task.definition_version,
        "element_id": task.element_id,
        "name": task.name,
        "documentation": task.documentation,
        "role": task.role,
        "organisation": task.organisation,
        "assignee": task.assignee,
        "candidate_users": list(task.candidate_users),
        "candidate_groups": list(task.candidate_groups),
        "due_at": iso(task.due_at),
        "overdue": bool(task.state == "open" and task.due_at and task.due_at < now),
        "priority": task.priority,
        "state": task.state,
        "created_at": iso(task.created_at),
        "claimed_at": iso(task.claimed_at),
        "claimed_by": task.claimed_by,
        "completed_at": iso(task.completed_at),
        "completed_by": task.completed_by,
        "form": task.form_schema,
        "may_work": task_access.may_work(who, task),
        "may_claim": task_access.may_claim(who, task),
        "may_unclaim": task_access.may_unclaim(who, task),
    }


def _visible_task(task_id: int) -> TaskInfo:
    """The task, or 404 — for a task that does not exist and one the user may not see
    alike (another organisation's task numbers tell nobody anything)."""
    check_id(task_id)
    task = engine().tasks.get(task_id)
    if not task_access.may_see(actor(), task):
        raise NotFound(f"There is no task {task_id}.")
    return task


@bp.get("/tasks")
def tasks() -> Response:
    eng, who = engine(), actor()
    scope = choice_arg("scope", openapi.TASK_SCOPES, "all")
    process = text_arg("process")
    organisation = text_arg("organisation")
    overdue = bool_arg("overdue")
    limit, offset = paging()
    now = eng.clock.now()
    page = eng.tasks.list(
        actor=who,
        scope=scope or "all",
        definition_key=process,
        organisation=organisation,
        due_before=now if overdue else None,
        limit=limit,
        offset=offset,
    )
    return ok(
        {
            "items": [task_json(t, who, now) for t in page.items],
            "total": page.total,
            "limit": limit,
            "offset": offset,
        }
    )


def _form_schema(eng: Engine, task: TaskInfo) -> dict[str, Any] | None:
    if not task.form_schema:
        return None
    definition = eng.repository.get(task.definition_key, task.definition_version)
    return json.loads(eng.repository.form(definition.id, task.form_schema))


@bp.get("/tasks/<int:task_id>")
def task(task_id: int) -> Response:
    eng, who = engine(), actor()
    info = _visible_task(task_id)
    result = task_json(info, who, eng.clock.now())
    result["form_schema"] = _form_schema(eng, info)
    data = None
    if task_access.may_work(who, info):
        data = info.draft if info.draft is not None else eng.tasks.data(info.id)
        data = json.loads(eng.codec.dump_data(data))
    result["data"] = data
    return ok(result)


def _task_action(change: Callable[[int, Actor], TaskInfo], task_id: int) -> Response:
    _visible_task(task_id)
    updated = change(task_id, actor())
    return ok(task_json(updated, actor(), engine().clock.now()))


@bp.post("/tasks/<int:task_id>/claim")
def claim(task_id: int) -> Response:
    return _task_action(engine().tasks.claim, task_id)


@bp.post("/tasks/<int:task_id>/unclaim")
def unclaim(task_id: int) -> Response:
    return _task_action(engine().tasks.unclaim, task_id)


@bp.post("/tasks/<int:task_id>/complete")
def complete(task_id: int) -> Response:
    eng, who = engine(), actor()
    _visible_task(task_id)
    request_body = body("CompleteRequest")
    try:
        outcome = eng.tasks.complete(task_id, request_body["data"], who)
    except ValidationError as exc:
        raise Invalid(problem_errors(exc.problems, "/data"), exc.summary) from None
    return ok(
        {
            "task": task_json(eng.tasks.get(task_id), who, eng.clock.now()),
            "created_tasks": list(outcome.created_tasks),
            "incident": outcome.incident,
        }
    )
