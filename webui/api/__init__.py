"""The REST API, `/api/v1` (docs/api.md; the OpenAPI document is webui/api/openapi.py).

Every request is made as the user a personal API token belongs to
(`Authorization: Bearer <token>`, processes/api_tokens.py), with exactly the checks of the
web UI: the same visibility of tasks and cases (404 for what the user may not see, so ids
give nothing away), the same roles for deploying and starting, the engine's own rules for
claiming and completing.

The API accepts no session cookie. A browser signed in to the web UI sends its cookie to
any address of the site, also when another site makes it (a form posted cross-site); if
the API accepted it, that other site could act as the user. A bearer token is never sent
by a browser on its own, so the API needs no CSRF token (the blueprint is exempt) and
is not open to cross-site requests either.

Errors are RFC 9457 problem details (`application/problem+json`), also for addresses under
/api/v1 that do not exist.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from flask_limiter.util import get_remote_address
from jsonschema import Draft202012Validator
from werkzeug.exceptions import BadRequest, HTTPException, Unauthorized

from engine import Actor, Engine
from engine.errors import Conflict, KedjaError, NotFound, NotPermitted, Problem, ValidationError
from engine.tasks import TaskInfo
from processes import api_tokens, catalogue
from processes.decisions import get_decision, list_decisions
from processes.governance import register_of
from webui.auth.access import SignedInUser, engine, login_manager
from webui.instances.access import may_see_case, visible_case_ids
from webui.security import csrf, limiter
from webui.tasks import access as task_access

from . import openapi
from .openapi import ERROR_TITLES, MAX_ID, MAX_LIMIT, PROBLEM_JSON

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens only: see the module's docstring

DEFAULT_RATE_LIMIT = "1200 per minute"
DEPLOYERS = frozenset({"process_owner"})
STARTERS = frozenset({"process_owner"})
TECHNICAL = frozenset({"process_owner", "auditor"})
"""Who sees a case's variables (`data`): as on the case page, administrators, process
owners and auditors."""


# -- rate limit -----------------------------------------------------------------------------


def _rate_limit() -> str:
    return str(
        current_app.config.get("KEDJA_API_RATE_LIMIT")
        or os.environ.get("KEDJA_API_RATE_LIMIT")
        or DEFAULT_RATE_LIMIT
    )


def _client_key() -> str:
    """Per token (a script behind a shared proxy is not throttled by its neighbours), else
    per address."""
    token = _bearer_token()
    if token:
        return "api-token:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:24]
    return "api-address:" + get_remote_address()


limiter.limit(_rate_limit, key_func=_client_key)(bp)


# -- problem details --------------------------------------------------------------------------


def problem(
    status: int,
    detail: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem details response (`type` about:blank: the status says it all)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": ERROR_TITLES.get(status, "Error"),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _pointer(parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _problem_errors(problems: list[Problem], form: str | None = None) -> list[dict[str, Any]]:
    """The engine's problems as the `errors` extension. A form field's pointer is relative
    to the form's data; `form` is where that data sits in the request body (`/data`), so
    the pointer becomes one into the body. A deployment's problems name file, element and
    line instead."""
    result = []
    for p in problems:
        entry: dict[str, Any] = {"message": p.message}
        if form is not None:
            entry["pointer"] = form + ("" if p.element in (None, "", "/") else str(p.element))
        else:
            if p.file:
                entry["file"] = p.file
            if p.element:
                entry["element"] = p.element
            if p.line:
                entry["line"] = p.line
        if p.hint:
            entry["hint"] = p.hint
        result.append(entry)
    return result


class Invalid(Exception):
    """A request body or field the API refuses with 422 before the engine sees it."""

    def __init__(
        self, errors: list[dict[str, Any]], detail: str = "The request is invalid."
    ) -> None:
        super().__init__(detail)
        self.errors = errors
        self.detail = detail


def _status_of(exc: KedjaError) -> int:
    if isinstance(exc, ValidationError):
        return 422
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, NotPermitted):
        return 403
    if isinstance(exc, Conflict):
        return 409
    return 400


@bp.errorhandler(Invalid)
def _invalid(exc: Invalid) -> Response:
    return problem(422, exc.detail, exc.errors)


@bp.errorhandler(KedjaError)
def _kedja_error(exc: KedjaError) -> Response:
    status = _status_of(exc)
    if isinstance(exc, ValidationError):
        return problem(status, exc.summary, _problem_errors(exc.problems))
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return problem(status, detail)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="kedja"' + (
            ', error="invalid_token"' if _bearer_token() else ""
        )
    if status == 405 and exc.get_headers():
        headers.update({k: v for k, v in exc.get_headers() if k.lower() == "allow"})
    return problem(status, exc.description, headers=headers)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("API request failed: %s %s", request.method, request.path)
    return problem(500, "Something went wrong in Kedja; the problem was logged.")


def _outside_routes(exc: HTTPException) -> Any:
    """404 and 405 for addresses under /api/v1 that match no route come as problem details
    too; every other address keeps the app's own error page."""
    if request.path == bp.url_prefix or request.path.startswith(f"{bp.url_prefix}/"):
        return _http_error(exc)
    return exc


bp.app_errorhandler(404)(_outside_routes)
bp.app_errorhandler(405)(_outside_routes)


# -- authentication ---------------------------------------------------------------------------


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


@bp.before_request
def _authenticate() -> None:
    # Flask-Login must never load a user from the session cookie here (see the docstring):
    # the user is whoever the token says, or nobody.
    g._login_user = login_manager.anonymous_user()
    if request.endpoint == "api.openapi_document":
        return
    token = _bearer_token()
    if token is None:
        raise Unauthorized("Send a personal API token: 'Authorization: Bearer <token>'.")
    user_id = api_tokens.user_for(engine(), token)
    if user_id is None:
        raise Unauthorized("The API token is unknown or revoked.")
    register = register_of(engine())
    g._login_user = SignedInUser(register.user(user_id))
    g.kedja_actor = register.actor(user_id)


def actor() -> Actor:
    return g.kedja_actor


def _holds_any(roles: frozenset[str]) -> bool:
    who = actor()
    return who.admin or bool(who.roles & roles)


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# -- request parsing --------------------------------------------------------------------------


def _text_arg(name: str, maximum: int = 200) -> str | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if len(value) > maximum:
        raise BadRequest(f"The query parameter '{name}' is longer than {maximum} characters.")
    return value


def _int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"The query parameter '{name}' must be an integer.") from None
    if not minimum <= value <= maximum:
        raise BadRequest(f"The query parameter '{name}' must be from {minimum} to {maximum}.")
    return value


def _bool_arg(name: str) -> bool:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return False
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise BadRequest(f"The query parameter '{name}' must be true or false.")


def _choice_arg(name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise BadRequest(f"The query parameter '{name}' must be one of {', '.join(choices)}.")
    return raw


def _paging() -> tuple[int, int]:
    return _int_arg("limit", 50, 1, MAX_LIMIT), _int_arg("offset", 0, 0, MAX_ID)


_VALIDATORS: dict[str, Draft202012Validator] = {}


def _body(schema_name: str) -> dict[str, Any]:
    """The JSON request body, checked against its schema in the OpenAPI document."""
    if not request.is_json:
        raise BadRequest("Send the body as JSON (Content-Type: application/json).")
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise BadRequest("The body is not valid JSON.") from None
    validator = _VALIDATORS.get(schema_name)
    if validator is None:
        validator = _VALIDATORS[schema_name] = Draft202012Validator(openapi.SCHEMAS[schema_name])
    errors = []
    for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        path = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [n for n in error.validator_value if n not in error.instance]
            for name in missing:
                errors.append({"pointer": _pointer([*path, name]), "message": "Required."})
            continue
        errors.append({"pointer": _pointer(path), "message": error.message})
    if errors:
        raise Invalid(errors)
    return body


def _check_id(value: int) -> None:
    if value > MAX_ID:
        raise NotFound("There is no such object.")


# -- representations --------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _ok(data: Any, status: int = 200) -> Response:
    return current_app.response_class(
        json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        mimetype="application/json",
    )


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
        "due_at": _iso(task.due_at),
        "overdue": bool(task.state == "open" and task.due_at and task.due_at < now),
        "priority": task.priority,
        "state": task.state,
        "created_at": _iso(task.created_at),
        "claimed_at": _iso(task.claimed_at),
        "claimed_by": task.claimed_by,
        "completed_at": _iso(task.completed_at),
        "completed_by": task.completed_by,
        "form": task.form_schema,
        "may_work": task_access.may_work(who, task),
        "may_claim": task_access.may_claim(who, task),
        "may_unclaim": task_access.may_unclaim(who, task),
    }


def instance_json(eng: Engine, instance_id: int, with_data: bool = False) -> dict[str, Any]:
    info = eng.runtime.get(instance_id, with_data=with_data)
    result = info.as_dict()
    if not with_data:
        result.pop("data", None)
    return result


# -- the document -----------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return _ok(openapi.document())


# -- definitions and deployments ----------------------------------------------------------------


@bp.get("/definitions")
def definitions() -> Response:
    rows = engine().repository.definitions(
        key=_text_arg("key"), latest_only=not _bool_arg("all_versions")
    )
    return _ok({"items": [d.as_dict() for d in rows]})


@bp.post("/deployments")
def deploy() -> Response:
    from engine.bundle import Bundle

    if not _holds_any(DEPLOYERS):
        raise NotPermitted("Only process owners and administrators deploy processes.")
    uploads = [f for f in request.files.getlist("files") if f.filename]
    if not uploads:
        raise Invalid(
            [{"pointer": "/files", "message": "Upload at least one .bpmn, .dmn or .json file."}]
        )
    bundle = Bundle.from_files({f.filename: f.read() for f in uploads})  # type: ignore[misc]
    results = engine().repository.deploy(bundle, actor())
    created = any(r.created for r in results)
    body = {"deployed": [{"created": r.created, **r.definition.as_dict()} for r in results]}
    return _ok(body, 201 if created else 200)


# -- instances --------------------------------------------------------------------------------


@bp.get("/instances")
def instances() -> Response:
    eng, who = engine(), actor()
    key = _text_arg("key")
    state = _choice_arg("state", openapi.INSTANCE_STATES)
    limit, offset = _paging()
    ids, total = visible_case_ids(eng, who, state, limit, offset, key=key)
    items = [instance_json(eng, i) for i in ids]
    return _ok({"items": items, "total": total, "limit": limit, "offset": offset})


@bp.post("/instances")
def start_instance() -> Response:
    eng, who = engine(), actor()
    if not _holds_any(STARTERS):
        raise NotPermitted("Only process owners and administrators start processes.")
    body = _body("StartRequest")
    key, data = body["key"], body.get("data", {})
    version = body.get("version")
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
            if name in body
        ]
        if "year" not in body:
            wrong.append({"pointer": "/year", "message": f"{key} is started for a year."})
        if wrong:
            raise Invalid(wrong)
        year = body["year"]
        instance_id = catalogue.start_once(eng, key, year, data, actor=who)
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
        if "year" in body:
            raise Invalid([{"pointer": "/year", "message": "Only for a yearly process."}])
        started = eng.runtime.start(
            key, data, who, version=version, business_key=body.get("business_key")
        )
    return _ok(
        {
            "instance": instance_json(eng, started.instance_id),
            "created_tasks": list(started.created_tasks),
            "incident": started.incident,
        },
        201,
    )


@bp.get("/instances/<int:instance_id>")
def instance(instance_id: int) -> Response:
    eng, who = engine(), actor()
    _check_id(instance_id)
    if not may_see_case(eng, who, instance_id):
        raise NotFound(f"There is no process instance {instance_id}.")
    return _ok(instance_json(eng, instance_id, with_data=_holds_any(TECHNICAL)))


# -- tasks ------------------------------------------------------------------------------------


def _visible_task(task_id: int) -> TaskInfo:
    """The task, or 404 — for a task that does not exist and one the user may not see
    alike (another organisation's task numbers tell nobody anything)."""
    _check_id(task_id)
    task = engine().tasks.get(task_id)
    if not task_access.may_see(actor(), task):
        raise NotFound(f"There is no task {task_id}.")
    return task


@bp.get("/tasks")
def tasks() -> Response:
    eng, who = engine(), actor()
    scope = _choice_arg("scope", openapi.TASK_SCOPES, "all")
    process = _text_arg("process")
    organisation = _text_arg("organisation")
    overdue = _bool_arg("overdue")
    limit, offset = _paging()
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
    return _ok(
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
    body = task_json(info, who, eng.clock.now())
    body["form_schema"] = _form_schema(eng, info)
    data = None
    if task_access.may_work(who, info):
        data = info.draft if info.draft is not None else eng.tasks.data(info.id)
        data = json.loads(eng.codec.dump_data(data))
    body["data"] = data
    return _ok(body)


def _task_action(change: Callable[[int, Actor], TaskInfo], task_id: int) -> Response:
    _visible_task(task_id)
    updated = change(task_id, actor())
    return _ok(task_json(updated, actor(), engine().clock.now()))


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
    body = _body("CompleteRequest")
    try:
        outcome = eng.tasks.complete(task_id, body["data"], who)
    except ValidationError as exc:
        raise Invalid(_problem_errors(exc.problems, "/data"), exc.summary) from None
    return _ok(
        {
            "task": task_json(eng.tasks.get(task_id), who, eng.clock.now()),
            "created_tasks": list(outcome.created_tasks),
            "incident": outcome.incident,
        }
    )


# -- decisions --------------------------------------------------------------------------------


@bp.get("/decisions")
def decisions() -> Response:
    limit, offset = _paging()
    found = list_decisions(
        engine(),
        kind=_choice_arg("kind", openapi.DECISION_KINDS),
        organisation=_text_arg("organisation"),
        search=_text_arg("search"),
        limit=limit + 1,
        offset=offset,
    )
    return _ok(
        {
            "items": [d.as_dict() for d in found[:limit]],
            "limit": limit,
            "offset": offset,
            "more": len(found) > limit,
        }
    )


@bp.get("/decisions/<number>")
def decision(number: str) -> Response:
    if number.isdigit() and (not number.isascii() or int(number) > MAX_ID):
        raise NotFound(f"There is no decision {number}.")
    return _ok(get_decision(engine(), number).as_dict())


# -- messages ---------------------------------------------------------------------------------


@bp.post("/messages")
def correlate() -> Response:
    if not actor().admin:
        raise NotPermitted("Only administrators deliver messages through the API.")
    body = _body("MessageRequest")
    instance_id = engine().runtime.correlate(
        body["name"], body.get("payload", {}), body.get("correlation", {}), actor()
    )
    return _ok({"instance_id": instance_id})
