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
from engine.services import ServiceCall, privileged, takes

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


DECIDERS = {
    "council": "council",
    "city_director": "city_director",
    "jury": "jury_chair",
    "security_chief": "security_chief",
    "local_council": "local_council",
    "head": "head",
}
"""Decision kind -> the role whose member must have made it, in a task of that role."""


@privileged("registers a decision in the city's decisions register")
@takes("kind", "decision", "motivation", "task", optional=("subject", "organisation", "document"))
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
    task_id, decided_by, decided_at = _deciding_task(
        call, kind, str(p["task"]), str(organisation) if organisation else None
    )
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


def _deciding_task(
    call: ServiceCall, kind: str, element_id: str, organisation: str | None
) -> tuple[int, str, Any]:
    """The completed task the decision was made in, checked to be the right body's: a task
    of the kind's role, completed by someone who holds that role (for its organisation).

    Why here and not only in the diagram: the register is what everyone reads as the city's
    decisions, so a record must not come from anyone else's task, whatever a diagram says
    (an administrator may complete any task, but is not the council)."""
    role = DECIDERS[kind]
    found = completed_task(call, element_id, organisation)
    if found is None:
        raise PermissionError(
            f"register_decision: there is no completed task '{element_id}' in this case to "
            "take the decision from; the parameter 'task' must name the user task where it "
            "was decided, and the service task must come after it"
        )
    task_id, decided_by, decided_at = found
    row = call.sql.one("SELECT role, organisation FROM human_task WHERE id = :id", {"id": task_id})
    task_role, task_org = row if row else (None, None)
    holds = call.sql.one(
        "SELECT 1 FROM role_grant WHERE user_id = :u AND role = :r "
        "AND (organisation_id IS NULL OR organisation_id = :o)",
        {"u": decided_by, "r": role, "o": task_org},
    )
    if task_role != role or holds is None:
        raise PermissionError(
            f"register_decision: a {kind} decision must be made by a holder of the role "
            f"'{role}' in a task of that role; task '{element_id}' is for "
            f"'{task_role}' and was completed by {decided_by}, so nothing was registered. "
            "The case waits here as an incident for an administrator"
        )
    return task_id, decided_by, decided_at
