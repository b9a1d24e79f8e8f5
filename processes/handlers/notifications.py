"""Queue notifications in the step's transaction: a reminder exists exactly when the step
that caused it does, and the worker delivers it afterwards (docs/processes.md)."""

from __future__ import annotations

from typing import Any

from engine.clock import to_storage
from engine.services import ServiceCall, privileged, takes

from .lookups import open_task, users_with_role

INSERT = (
    "INSERT INTO notification (created_at, recipient, email, kind, subject, message, link, "
    "instance_id, task_id, state, attempts) VALUES (:at, :recipient, :email, :kind, :subject, "
    ":message, :link, :iid, :task, 'queued', 0)"
)


def task_link(task_id: int | None) -> str | None:
    return f"/uppgifter/{task_id}" if task_id else None


def queue(
    call: ServiceCall,
    *,
    kind: str,
    subject: str,
    message: str,
    recipients: list[str] = (),  # type: ignore[assignment]
    emails: list[str] = (),  # type: ignore[assignment]
    task_id: int | None = None,
) -> int:
    rows = [{"recipient": r, "email": None} for r in recipients] + [
        {"recipient": None, "email": e} for e in emails
    ]
    common = {
        "at": to_storage(call.now),
        "kind": kind,
        "subject": subject,
        "message": message,
        "link": task_link(task_id),
        "iid": call.instance_id,
        "task": task_id,
    }
    call.sql.executemany(INSERT, [{**common, **row} for row in rows])
    return len(rows)


@privileged("notifies everyone holding a role")
@takes("role", "subject", optional=("organisation", "task", "kind", "message"))
def notify(call: ServiceCall) -> dict[str, Any]:
    """Everyone holding `role` (for `organisation`) gets `subject` / `message`; with `task`
    (an element id) the notification links to that open task."""
    p = call.params
    organisation = p.get("organisation")
    recipients = users_with_role(call, str(p["role"]), organisation)
    task_id = open_task(call, str(p["task"]), organisation) if p.get("task") else None
    queued = queue(
        call,
        kind=str(p.get("kind") or "process"),
        subject=str(p["subject"]),
        message=str(p.get("message") or ""),
        recipients=recipients,
        task_id=task_id,
    )
    call.record(
        "notification.queued",
        {"role": p["role"], "organisation": organisation, "recipients": recipients},
    )
    return {"queued": queued, "recipients": recipients}


@privileged("notifies the users it names")
@takes("users", "subject", optional=("kind", "message"))
def notify_users(call: ServiceCall) -> dict[str, Any]:
    p = call.params
    users = [str(u) for u in (p.get("users") or [])]
    queued = queue(
        call,
        kind=str(p.get("kind") or "process"),
        subject=str(p["subject"]),
        message=str(p.get("message") or ""),
        recipients=users,
    )
    call.record("notification.queued", {"recipients": users})
    return {"queued": queued, "recipients": users}
