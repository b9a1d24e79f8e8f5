"""The REST API's OpenAPI 3.1 document, built in one place as a Python dict.

It is not only documentation: the views validate every JSON request body against the
schema the document names (the schemas are in `schemas.py`), so a body the document calls
invalid is refused with the same field pointers the document promises, and
tests/test_api.py checks that every route of the blueprint is in the document and every
path of the document is a route. Served at /api/v1/openapi.json.
"""

from __future__ import annotations

import copy
from typing import Any

from .schemas import (
    DECISION_KINDS,
    ID,
    INSTANCE_STATES,
    JSON,
    MAX_ID,
    MAX_LIMIT,
    PROBLEM_JSON,
    SCHEMAS,
    TASK_SCOPES,
    _ref,
)

API_VERSION = "1.0.0"

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
    409: "Someone else changed it first (for example completed the task), or the case is "
    "in a state that does not allow it (finished, or damaged: its stored state cannot be "
    "loaded); nothing was saved.",
    413: "The upload is larger than the server accepts.",
    422: "The content was understood but is invalid; `errors` lists every problem with the "
    "JSON pointer of the field.",
    429: "Too many requests from this token or address; wait and try again.",
    500: "Something went wrong in Kedja; the problem was logged.",
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
            "responses": {"200": _ok("The task.", "TaskDetail"), **_errors(404, 409)},
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
