"""The JSON schemas of the REST API's bodies: what requests must be, what answers are.

Part of the OpenAPI document (`openapi.py` puts them under `components/schemas`), and the
schemas `parsing.body` validates request bodies with, so a body the document calls invalid
is refused with the field pointers the document promises.
"""

from __future__ import annotations

from typing import Any

MAX_ID = 2**31 - 1
"""Ids are 32-bit in every supported database; a larger number names nothing."""
MAX_LIMIT = 500

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"

TASK_SCOPES = ("all", "mine", "claimable")
INSTANCE_STATES = ("running", "suspended", "completed", "terminated")
DECISION_KINDS = ("council", "city_director", "jury", "security_chief", "local_council", "head")


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
            "approval": {
                "type": "string",
                "enum": ["not_needed", "awaiting", "approved", "refused"],
                "description": "Whether the version may run: a version that calls "
                "privileged services awaits an administrator's approval (docs/operations.md, "
                "Security model).",
            },
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
            "damaged": {
                "type": "string",
                "description": "Only on GET /instances/{id}, only when the case's stored state "
                "cannot be loaded: what is wrong with it. Such a case has no `data`; nothing "
                "can be done in it but terminating it (`kedja terminate`, or the cockpit).",
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
