"""The REST API's OpenAPI 3.1 document, built in one place as a Python dict.

It is not only documentation: the views validate every JSON request body against the
schema named here (`request_schema`), so a body the document calls invalid is refused with
the same field pointers the document promises, and tests/test_api.py checks that every
route of the blueprint is in the document and every path of the document is a route.
Served at /api/v1/openapi.json.
"""

from __future__ import annotations

import copy
from typing import Any

API_VERSION = "1.0.0"
MAX_ID = 2**31 - 1
"""Ids are 32-bit in every supported database; a larger number names nothing."""
MAX_LIMIT = 500

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"

TASK_SCOPES = ("all", "mine", "claimable")
INSTANCE_STATES = ("running", "suspended", "completed", "terminated")
DECISION_KINDS = ("council", "city_director", "jury", "security_chief", "local_council", "head")

ERROR_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
}
ERROR_DESCRIPTIONS = {
    400: "The request is malformed (not JSON, a query parameter of the wrong type).",
    401: "No `Authorization: Bearer` token, or one that is unknown or revoked. A session "
    "cookie of the web UI is not accepted.",
    403: "The token's user may not do this (role).",
    404: "There is no such object, or the token's user may not see it (the two are not told "
    "apart, so ids give nothing away).",
    409: "Someone else changed it first (for example completed the task); nothing was saved.",
    413: "The upload is larger than the server accepts.",
    422: "The content was understood but is invalid; `errors` lists every problem with the "
    "JSON pointer of the field.",
    429: "Too many requests from this token or address; wait and try again.",
    500: "Something went wrong in Kedja; the problem was logged.",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = _nullable("string", format="date-time")
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required is None:
        required = list(properties)
    if required:
        schema["required"] = required
    return schema


SCHEMAS: dict[str, Any] = {
    "ProblemError": _object(
        {
            "pointer": {
                "type": "string",
                "description": "JSON pointer (RFC 6901) of the field in the request body, "
                "e.g. `/data/atgarder/0/atgard`.",
            },
            "message": {"type": "string"},
            "file": {"type": "string", "description": "For a deployment: the file."},
            "line": {"type": "integer"},
            "element": {"type": "string", "description": "For a deployment: the BPMN element."},
            "hint": {"type": "string", "description": "What to do about it."},
        },
        ["message"],
    ),
    "Problem": {
        **_object(
            {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "errors": {"type": "array", "items": _ref("ProblemError")},
            },
            ["type", "title", "status"],
        ),
        "description": "RFC 9457 problem details; `errors` (an extension) lists field "
        "problems of a 422.",
    },
    "Definition": _object(
        {
            "id": {"type": "integer"},
            "key": {"type": "string"},
            "version": {"type": "integer"},
            "name": _nullable("string"),
            "content_hash": {"type": "string"},
            "deployed_at": DATE_TIME,
            "deployed_by": {"type": "string"},
            "files": {"type": "array", "items": {"type": "string"}},
            "forms": {"type": "object", "additionalProperties": {"type": "string"}},
        }
    ),
    "DefinitionList": _object({"items": {"type": "array", "items": _ref("Definition")}}),
    "Deployed": {
        "allOf": [
            _ref("Definition"),
            _object(
                {
                    "created": {
                        "type": "boolean",
                        "description": "False: the same content was already deployed.",
                    }
                }
            ),
        ]
    },
    "Deployment": _object({"deployed": {"type": "array", "items": _ref("Deployed")}}),
    "Incident": _object(
        {
            "id": {"type": "integer"},
            "element_id": _nullable("string"),
            "message": {"type": "string"},
            "created_at": DATE_TIME,
        }
    ),
    "Instance": _object(
        {
            "id": {"type": "integer"},
            "key": {"type": "string"},
            "version": {"type": "integer"},
            "definition_id": {"type": "integer"},
            "business_key": _nullable("string"),
            "state": {"type": "string", "enum": list(INSTANCE_STATES)},
            "started_at": DATE_TIME,
            "started_by": {"type": "string"},
            "ended_at": NULLABLE_DATE_TIME,
            "open_incidents": {"type": "array", "items": _ref("Incident")},
            "data": {
                "type": "object",
                "description": "The case's variables: only for administrators, process "
                "owners and auditors (as on the case page), and only on GET /instances/{id}.",
            },
        },
        [
            "id",
            "key",
            "version",
            "definition_id",
            "business_key",
            "state",
            "started_at",
            "started_by",
            "ended_at",
            "open_incidents",
        ],
    ),
    "InstanceList": _object(
        {
            "items": {"type": "array", "items": _ref("Instance")},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        }
    ),
    "StartRequest": {
        **_object(
            {
                "key": {"type": "string", "minLength": 1, "maxLength": 200},
                "data": {"type": "object"},
                "year": {"type": "integer", "minimum": 2000, "maximum": 2100},
                "version": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                "business_key": {"type": "string", "minLength": 1, "maxLength": 200},
            },
            ["key"],
        ),
        "additionalProperties": False,
        "description": "A yearly process of the city's catalogue (plan_cycle, "
        "guideline_revision, safety_prize) needs `year`: it is started with the governance "
        "calendar's dates for that year and the business key `<key>:<year>`, once per year.",
    },
    "Started": _object(
        {
            "instance": _ref("Instance"),
            "created_tasks": {"type": "array", "items": {"type": "integer"}},
            "incident": _nullable("string"),
        }
    ),
    "Task": _object(
        {
            "id": {"type": "integer"},
            "instance_id": {"type": "integer"},
            "process": {"type": "string"},
            "version": {"type": "integer"},
            "element_id": {"type": "string"},
            "name": _nullable("string"),
            "documentation": _nullable("string"),
            "role": _nullable("string"),
            "organisation": _nullable("string"),
            "assignee": _nullable("string"),
            "candidate_users": {"type": "array", "items": {"type": "string"}},
            "candidate_groups": {"type": "array", "items": {"type": "string"}},
            "due_at": NULLABLE_DATE_TIME,
            "overdue": {"type": "boolean"},
            "priority": {"type": "integer"},
            "state": {"type": "string"},
            "created_at": DATE_TIME,
            "claimed_at": NULLABLE_DATE_TIME,
            "claimed_by": _nullable("string"),
            "completed_at": NULLABLE_DATE_TIME,
            "completed_by": _nullable("string"),
            "form": _nullable("string", description="The form's file name, if it has one."),
            "may_work": {"type": "boolean"},
            "may_claim": {"type": "boolean"},
            "may_unclaim": {"type": "boolean"},
        }
    ),
    "TaskDetail": {
        "allOf": [
            _ref("Task"),
            _object(
                {
                    "form_schema": {
                        "type": ["object", "null"],
                        "description": "The JSON Schema the completion's `data` must meet.",
                    },
                    "data": {
                        "type": ["object", "null"],
                        "description": "What the form is filled in with (the saved draft, "
                        "else the task's own data); only for a user who may work on it now.",
                    },
                }
            ),
        ]
    },
    "TaskList": _object(
        {
            "items": {"type": "array", "items": _ref("Task")},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        }
    ),
    "CompleteRequest": {
        **_object({"data": {"type": "object"}}),
        "additionalProperties": False,
    },
    "Completed": _object(
        {
            "task": _ref("Task"),
            "created_tasks": {"type": "array", "items": {"type": "integer"}},
            "incident": _nullable("string"),
        }
    ),
    "Decision": _object(
        {
            "id": {"type": "integer"},
            "number": {"type": "string"},
            "kind": {"type": "string"},
            "subject": {"type": "string"},
            "decision": {"type": "string"},
            "motivation": {"type": "string"},
            "decided_by": _nullable("string"),
            "decided_at": DATE_TIME,
            "registered_at": DATE_TIME,
            "organisation": _nullable("string"),
            "instance_id": {"type": "integer"},
            "definition_key": {"type": "string"},
            "definition_version": {"type": "integer"},
            "element_id": _nullable("string"),
            "task_id": _nullable("integer"),
            "document": {"type": ["object", "null"]},
        }
    ),
    "DecisionList": _object(
        {
            "items": {"type": "array", "items": _ref("Decision")},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "more": {"type": "boolean", "description": "There is a next page."},
        }
    ),
    "MessageRequest": {
        **_object(
            {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "payload": {"type": "object"},
                "correlation": {"type": "object"},
            },
            ["name"],
        ),
        "additionalProperties": False,
    },
    "Correlated": _object({"instance_id": {"type": "integer"}}),
}


def _error(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": _ref("Problem")}},
    }
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}}
    return response


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(schema)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {"$ref": f"#/components/responses/Error{s}"}
        for s in sorted({400, 401, 429, 500, *statuses})
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


PAGING = [
    _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
        "Page size.",
    ),
    _query(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0},
        "Rows to skip.",
    ),
]
TASK_ID = _path("task_id", ID, "The task's id.")
FREE_TEXT = {"type": "string", "maxLength": 200}


def _json_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": _ref(schema)}}}


def _task_action(summary: str, description: str, statuses: tuple[int, ...]) -> dict[str, Any]:
    return {
        "summary": summary,
        "description": description,
        "parameters": [TASK_ID],
        "responses": {"200": _ok("The task as it is now.", "Task"), **_errors(*statuses)},
    }


PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document of this API.",
                    "content": {JSON: {"schema": {"type": "object"}}},
                },
                **{k: v for k, v in _errors().items() if k != "401"},
            },
        }
    },
    "/definitions": {
        "get": {
            "operationId": "listDefinitions",
            "summary": "Deployed process definitions",
            "description": "The latest version of each process, or every version.",
            "parameters": [
                _query("key", FREE_TEXT, "Only this process key."),
                _query("all_versions", {"type": "boolean", "default": False}, "Every version."),
            ],
            "responses": {"200": _ok("The definitions.", "DefinitionList"), **_errors()},
        }
    },
    "/deployments": {
        "post": {
            "operationId": "deploy",
            "summary": "Deploy BPMN, DMN and form files",
            "description": "For process owners and administrators. The files are checked "
            "together; if any has a problem nothing is stored and 422 lists every problem. "
            "A process whose files did not change keeps its version (`created: false`).",
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "files": {
                                    "type": "array",
                                    "items": {"type": "string", "format": "binary"},
                                    "description": "The .bpmn, .dmn and .json files; a "
                                    "file name may hold a folder (`forms/x.json`).",
                                }
                            },
                            "required": ["files"],
                        }
                    }
                },
            },
            "responses": {
                "201": _ok("At least one new version was deployed.", "Deployment"),
                "200": _ok("Nothing changed: every process was already deployed.", "Deployment"),
                **_errors(403, 409, 413, 422),
            },
        }
    },
    "/instances": {
        "get": {
            "operationId": "listInstances",
            "summary": "Cases (process instances) the user may see",
            "description": "Administrators and holders of a city-wide role see every case; "
            "others the cases with a task of theirs or of their organisation. Newest first.",
            "parameters": [
                _query("key", FREE_TEXT, "Only this process key."),
                _query(
                    "state", {"type": "string", "enum": list(INSTANCE_STATES)}, "Only this state."
                ),
                *PAGING,
            ],
            "responses": {"200": _ok("A page of cases.", "InstanceList"), **_errors()},
        },
        "post": {
            "operationId": "startInstance",
            "summary": "Start a process",
            "description": "For administrators and process owners only: the city's yearly "
            "processes start by themselves on their dates, and nobody else starts a process "
            "in the web UI either.",
            "requestBody": _json_body("StartRequest"),
            "responses": {
                "201": _ok("Started (see `incident` if its first step failed).", "Started"),
                **_errors(403, 409, 422),
            },
        },
    },
    "/instances/{instance_id}": {
        "get": {
            "operationId": "getInstance",
            "summary": "One case",
            "parameters": [_path("instance_id", ID, "The case's id.")],
            "responses": {"200": _ok("The case.", "Instance"), **_errors(404)},
        }
    },
    "/tasks": {
        "get": {
            "operationId": "listTasks",
            "summary": "The user's open tasks",
            "description": "Open tasks the user may work on: their own and those they may "
            "claim (their role in their organisation, or offered to them). Soonest due first.",
            "parameters": [
                _query(
                    "scope",
                    {"type": "string", "enum": list(TASK_SCOPES), "default": "all"},
                    "mine: assigned to the user; claimable: nobody has it and the user may "
                    "take it; all: both.",
                ),
                _query("process", FREE_TEXT, "Only this process key."),
                _query("organisation", FREE_TEXT, "Only this organisation's tasks."),
                _query("overdue", {"type": "boolean", "default": False}, "Only tasks past due."),
                *PAGING,
            ],
            "responses": {"200": _ok("A page of tasks.", "TaskList"), **_errors()},
        }
    },
    "/tasks/{task_id}": {
        "get": {
            "operationId": "getTask",
            "summary": "One task, with its form's JSON Schema",
            "parameters": [TASK_ID],
            "responses": {"200": _ok("The task.", "TaskDetail"), **_errors(404)},
        }
    },
    "/tasks/{task_id}/claim": {
        "post": _task_action(
            "Claim a task",
            "Take a task nobody has. Claiming one's own task again changes nothing.",
            (403, 404, 409),
        )
    },
    "/tasks/{task_id}/unclaim": {
        "post": _task_action(
            "Give a claimed task back",
            "Only its assignee (or an administrator) may; then anyone eligible may take it.",
            (403, 404, 409),
        )
    },
    "/tasks/{task_id}/complete": {
        "post": {
            "operationId": "completeTask",
            "summary": "Complete a task",
            "description": "The data is validated against the task's form (`form_schema`): "
            "422 lists every field problem, with pointers into the request body "
            "(`/data/...`), and nothing is saved. 409 if someone else completed it first. "
            "Forms with file fields cannot be completed through the API.",
            "parameters": [TASK_ID],
            "requestBody": _json_body("CompleteRequest"),
            "responses": {
                "200": _ok("Completed; the tasks it created.", "Completed"),
                **_errors(403, 404, 409, 422),
            },
        }
    },
    "/decisions": {
        "get": {
            "operationId": "listDecisions",
            "summary": "The decision register",
            "description": "Registered decisions are official records: every user may read "
            "them. Newest first.",
            "parameters": [
                _query(
                    "search", FREE_TEXT, "Words in the number, subject, decision or motivation."
                ),
                _query("kind", {"type": "string", "enum": list(DECISION_KINDS)}, "Who decided."),
                _query("organisation", FREE_TEXT, "Only this organisation's decisions."),
                *PAGING,
            ],
            "responses": {"200": _ok("A page of decisions.", "DecisionList"), **_errors()},
        }
    },
    "/decisions/{number}": {
        "get": {
            "operationId": "getDecision",
            "summary": "One decision, by its number (e.g. `RHR 2026:1`) or id",
            "parameters": [
                _path(
                    "number", {"type": "string", "minLength": 1, "maxLength": 100}, "Number or id."
                )
            ],
            "responses": {"200": _ok("The decision.", "Decision"), **_errors(404)},
        }
    },
    "/messages": {
        "post": {
            "operationId": "correlateMessage",
            "summary": "Deliver a message (correlate)",
            "description": "Delivers the message to the one instance waiting for it (picked "
            "out by `correlation`), or starts the process it starts. Administrators only. "
            "404 if nothing waits for it; 409 if several instances would match.",
            "requestBody": _json_body("MessageRequest"),
            "responses": {
                "200": _ok("Delivered; the instance that received it.", "Correlated"),
                **_errors(403, 404, 409, 422),
            },
        }
    },
}

_task_ops = {
    "/tasks/{task_id}/claim": "claimTask",
    "/tasks/{task_id}/unclaim": "unclaimTask",
}
for _path_name, _operation_id in _task_ops.items():
    PATHS[_path_name]["post"]["operationId"] = _operation_id


def document() -> dict[str, Any]:
    """The whole document (a fresh copy: callers may change theirs)."""
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "Kedja REST API",
                "version": API_VERSION,
                "description": "Process definitions, cases, tasks, decisions and messages of "
                "Kedja, the city's governance processes on BPMN. Every request is made as "
                "the user a personal API token belongs to, with that user's permissions "
                "(docs/api.md). Errors are RFC 9457 problem details.",
                "license": {"name": "EUPL-1.2", "identifier": "EUPL-1.2"},
            },
            "servers": [{"url": "/api/v1"}],
            "security": [{"bearerToken": []}],
            "paths": PATHS,
            "components": {
                "securitySchemes": {
                    "bearerToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A personal API token: `kedja token create --as USER`.",
                    }
                },
                "schemas": SCHEMAS,
                "responses": {f"Error{s}": _error(s) for s in ERROR_DESCRIPTIONS if s != 405},
            },
        }
    )
