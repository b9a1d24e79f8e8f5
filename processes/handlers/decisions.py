"""Register a decision as an official record (allmän handling).

The record says what was decided and why, by whom and when (taken from the completion of the
user task where it was decided, not from the form), in which instance and on which version of
which document. It is inserted once in the step's transaction and chained into the instance's
history; the database refuses to change or delete it.
"""

from __future__ import annotations

import json
from typing import Any

from engine.clock import to_storage
from engine.errors import ValidationError
from engine.services import ServiceCall, takes

from .lookups import completed_task

KINDS = {
    "council": "RHR",
    "city_director": "SD",
    "jury": "JURY",
    "security_chief": "SÄK",
    "local_council": "LBR",
    "head": "FC",
}

INSERT = (
    "INSERT INTO decision_record (number, kind, subject, decision, motivation, decided_by, "
    "decided_at, registered_at, organisation_id, instance_id, definition_key, "
    "definition_version, element_id, task_id, document) VALUES (:number, :kind, :subject, "
    ":decision, :motivation, :by, :decided_at, :registered_at, :org, :iid, :key, :version, "
    ":element, :task, :document) RETURNING id"
)


@takes("kind", "decision", "motivation", optional=("subject", "organisation", "task", "document"))
def register_decision(call: ServiceCall) -> dict[str, Any]:
    p = call.params
    kind = str(p["kind"])
    if kind not in KINDS:
        raise ValidationError(
            f"register_decision: unknown kind {kind!r}; use one of {', '.join(KINDS)}"
        )
    motivation = str(p.get("motivation") or "").strip()
    decision = str(p.get("decision") or "").strip()
    if not decision or not motivation:
        raise ValidationError(
            "register_decision needs both a decision and a motivation; the decision form "
            "must require them"
        )
    organisation = p.get("organisation")
    task = (
        completed_task(call, str(p["task"]), str(organisation) if organisation else None)
        if p.get("task")
        else None
    )
    task_id, decided_by, decided_at = task if task else (None, call.actor_id, call.now)
    year = call.now.year
    prefix = f"{KINDS[kind]} {year}:"
    count = call.sql.one(
        "SELECT COUNT(*) FROM decision_record WHERE number LIKE :p", {"p": prefix + "%"}
    )
    number = f"{prefix}{(count[0] if count else 0) + 1}"
    document = p.get("document")
    record_id = call.sql.insert_id(
        INSERT,
        {
            "number": number,
            "kind": kind,
            "subject": str(p.get("subject") or ""),
            "decision": decision,
            "motivation": motivation,
            "by": decided_by,
            "decided_at": to_storage(decided_at or call.now),
            "registered_at": to_storage(call.now),
            "org": p.get("organisation"),
            "iid": call.instance_id,
            "key": call.definition.key,
            "version": call.definition.version,
            "element": p.get("task") or call.element_id,
            "task": task_id,
            "document": json.dumps(document, ensure_ascii=False, default=str)
            if document is not None
            else None,
        },
    )
    call.record(
        "decision.registered",
        {
            "record_id": record_id,
            "number": number,
            "kind": kind,
            "decision": decision,
            "motivation": motivation,
            "decided_by": decided_by,
            "organisation": p.get("organisation"),
        },
    )
    return {"record_id": record_id, "number": number}
