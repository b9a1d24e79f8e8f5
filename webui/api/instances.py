"""Cases (process instances): the list, starting one, and one case."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import Response

from engine import Engine
from engine.errors import Conflict, DamagedState, NotFound, NotPermitted, ValidationError
from processes import catalogue
from webui.auth.access import engine
from webui.instances.access import may_see_case, visible_case_ids

from . import bp, openapi
from .auth import STARTERS, TECHNICAL, actor, holds_any
from .parsing import body, check_id, choice_arg, paging, text_arg
from .problems import Invalid, problem_errors
from .responses import ok


def instance_json(eng: Engine, instance_id: int, with_data: bool = False) -> dict[str, Any]:
    info = eng.runtime.get(instance_id, with_data=with_data)
    result = info.as_dict()
    if not with_data:
        result.pop("data", None)
    return result


@bp.get("/instances")
def instances() -> Response:
    eng, who = engine(), actor()
    key = text_arg("key")
    state = choice_arg("state", openapi.INSTANCE_STATES)
    limit, offset = paging()
    ids, total = visible_case_ids(eng, who, state, limit, offset, key=key)
    items = [instance_json(eng, i) for i in ids]
    return ok({"items": items, "total": total, "limit": limit, "offset": offset})


@bp.post("/instances")
def start_instance() -> Response:
    eng, who = engine(), actor()
    if not holds_any(STARTERS):
        raise NotPermitted("Only process owners and administrators start processes.")
    request_body = body("StartRequest")
    key, data = request_body["key"], request_body.get("data", {})
    version = request_body.get("version")
    try:
        eng.repository.get(key, version)
    except NotFound as exc:
        pointer = "/version" if version is not None else "/key"
        raise Invalid([{"pointer": pointer, "message": str(exc)}]) from None
    entry = catalogue.BY_KEY.get(key)
    if entry is not None and entry.start == "yearly":
        wrong = [
            {"pointer": f"/{name}", "message": f"Not for a yearly process: {reason}"}
            for name, reason in (
                ("version", "it starts with its latest version."),
                ("business_key", f"Kedja names it '{key}:<year>'."),
            )
            if name in request_body
        ]
        if "year" not in request_body:
            wrong.append({"pointer": "/year", "message": f"{key} is started for a year."})
        if wrong:
            raise Invalid(wrong)
        year = request_body["year"]
        try:
            instance_id = catalogue.start_once(eng, key, year, actor=who, answers=data)
        except ValidationError as exc:
            raise Invalid(problem_errors(exc.problems, "/data"), exc.summary) from None
        if instance_id is None:
            already = catalogue.started_for(eng, key, year)
            raise Conflict(f"{key} is already started for {year}: instance {already}.")
        info = eng.runtime.get(instance_id, with_data=False)
        started = SimpleNamespace(
            instance_id=instance_id,
            created_tasks=[t.id for t in eng.tasks.list(instance_id=instance_id).items],
            incident=info.open_incidents[0]["message"] if info.open_incidents else None,
        )
    else:
        if "year" in request_body:
            raise Invalid([{"pointer": "/year", "message": "Only for a yearly process."}])
        try:
            started = eng.runtime.start_with_form(
                key, data, who, version=version, business_key=request_body.get("business_key")
            )
        except ValidationError as exc:
            raise Invalid(problem_errors(exc.problems, "/data"), exc.summary) from None
    return ok(
        {
            "instance": instance_json(eng, started.instance_id),
            "created_tasks": list(started.created_tasks),
            "incident": started.incident,
        },
        201,
    )


@bp.get("/instances/<int:instance_id>")
def instance(instance_id: int) -> Response:
    """One case. Its state is loaded for everyone (as the case page does), so that a
    damaged case says so — `damaged`, what is wrong — with what its rows tell, and no
    `data`; the variables only for the technical roles."""
    eng, who = engine(), actor()
    check_id(instance_id)
    if not may_see_case(eng, who, instance_id):
        raise NotFound(f"There is no process instance {instance_id}.")
    try:
        result = instance_json(eng, instance_id, with_data=True)
    except DamagedState as damage:
        result = instance_json(eng, instance_id) | {"damaged": damage.problem}
    if not holds_any(TECHNICAL):
        result.pop("data", None)
    return ok(result)
