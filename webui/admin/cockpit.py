"""The cockpit: administrators find any instance and act on it, always saying why.

An administrator is the one who un-sticks the city's cases: pauses a case while something
is sorted out, ends one started by mistake, retries a step that failed (a mail server that
was down), hands a task to a colleague when its holder is away. Each of these changes a
record that is archived, so every action needs a written reason, and the reason goes into
the instance's tamper-evident history together with who acted (the engine records
suspend/resume/terminate with their reason; a reassignment's reason is appended in the same
transaction as the handover).

Filtering reads the engine's tables directly (read-only), since the runtime's list has no
filters for version, organisation, year or free text; every change goes through the engine's
public verbs, so the optimistic locking and the history work as for any other caller.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, func, or_, select

from engine.errors import Conflict, DamagedState, InvalidState, KedjaError, NotFound, NotPermitted
from engine.history import PendingEvent
from engine.models import HumanTask, Incident, ProcessDefinition, ProcessInstance
from webui import query_args
from webui.auth.access import current_actor, engine, register, role_required

from . import bp

PAGE_SIZE = 50
MIN_YEAR, MAX_YEAR = 1901, 2999  # a business key's year; datetime(year + 1) must exist
STATES = ("running", "suspended", "completed", "terminated")
ACTIONS = {
    "suspend": _l("Pausa"),
    "resume": _l("Återuppta"),
    "terminate": _l("Avbryt ärendet"),
    "retry": _l("Försök igen"),
    "migrate": _l("Flytta till senaste versionen"),
}
REASON_MISSING = _l("Skriv varför. Skälet sparas i ärendets historik.")


def _filters() -> dict[str, Any]:
    """The list's filters from the query string. A choice that is not one of the list's
    (state) is dropped; a number that is not one (version, year, page) is refused with 400
    by `query_args`, naming it, rather than silently widening the search."""
    args = request.args
    return {
        "process": args.get("process") or None,
        "state": args.get("state") if args.get("state") in STATES else None,
        "organisation": args.get("organisation") or None,
        "q": (args.get("q") or "").strip()[:200] or None,
        "version": query_args.number("version", 1, query_args.MAX_ID),
        "year": query_args.number("year", MIN_YEAR, MAX_YEAR),
        "page": query_args.page("page"),
    }


def search(filters: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The instances matching the filters, newest first, and how many match."""
    query = select(
        ProcessInstance.id,
        ProcessInstance.key,
        ProcessDefinition.version,
        ProcessInstance.business_key,
        ProcessInstance.state,
        ProcessInstance.started_at,
        ProcessInstance.started_by,
        ProcessInstance.open_incidents,
    ).join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
    if filters["process"]:
        query = query.where(ProcessInstance.key == filters["process"])
    if filters["version"] is not None:
        query = query.where(ProcessDefinition.version == filters["version"])
    if filters["state"]:
        query = query.where(ProcessInstance.state == filters["state"])
    if filters["organisation"]:
        query = query.where(
            ProcessInstance.id.in_(
                select(HumanTask.instance_id).where(
                    HumanTask.organisation == filters["organisation"]
                )
            )
        )
    if filters["year"] is not None:
        year = filters["year"]
        # A yearly process's business key names its year (plan_cycle:2026); otherwise the
        # year it started. Compared as a range, which every database indexes alike.
        start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1)
        query = query.where(
            or_(
                ProcessInstance.business_key.like(f"%:{year}"),
                ProcessInstance.started_at.between(start, end),
            )
        )
    if filters["q"]:
        pattern = f"%{filters['q'].lower()}%"
        conditions = [
            func.lower(ProcessInstance.key).like(pattern),
            func.lower(func.coalesce(ProcessInstance.business_key, "")).like(pattern),
            func.lower(ProcessInstance.started_by).like(pattern),
            cast(ProcessInstance.id, String).like(filters["q"]),
        ]
        query = query.where(or_(*conditions))
    offset = (filters["page"] - 1) * PAGE_SIZE
    with engine().db.read() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(
            query.order_by(ProcessInstance.id.desc()).limit(PAGE_SIZE).offset(offset)
        ).all()
    return [dict(r._mapping) for r in rows], total


@bp.get("/arenden")
@role_required("administrator")
def cockpit():  # type: ignore[no-untyped-def]
    filters = _filters()
    rows, total = search(filters)
    eng = engine()
    keys = sorted({d.key for d in eng.repository.definitions(latest_only=True)})
    return render_template(
        "admin/cockpit.html",
        rows=rows,
        total=total,
        filters=filters,
        keys=keys,
        states=STATES,
        organisations=[(o.id, o.name) for o in register().organisations()],
        pages=query_args.pages(total, PAGE_SIZE),
    )


def _instance_page(instance_id: int, errors: dict[str, str] | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    eng = engine()
    damage = None
    try:
        info = eng.runtime.get(instance_id)
    except NotFound:
        abort(404)
    except DamagedState as exc:  # shown from its rows; it can only be terminated
        damage = exc
        info = eng.runtime.get(instance_id, with_data=False)
    tasks = eng.tasks.list(instance_id=instance_id, state="any", limit=500).items
    with eng.db.read() as session:
        events = eng.history.events(session, instance_id)
        incidents = session.scalars(
            select(Incident).where(Incident.instance_id == instance_id).order_by(Incident.id)
        ).all()
        incidents = [
            {
                "id": i.id,
                "element_id": i.element_id,
                "message": i.message,
                "attempts": i.attempts,
                "created_at": _aware(i.created_at),
                "resolved_at": _aware(i.resolved_at),
                "resolved_by": i.resolved_by,
            }
            for i in incidents
        ]
    users = [(u.id, u.name) for u in register().users() if u.active]
    migration = None
    if damage is None and info.state in ("running", "suspended"):
        latest = eng.repository.get(info.key)
        if latest.version != info.version:
            migration = eng.runtime.check_migration(instance_id)
    actions = _possible_actions(info, damage) + (
        ["migrate"] if migration and migration.possible else []
    )
    return (
        render_template(
            "admin/cockpit_instance.html",
            info=info,
            tasks=tasks,
            open_tasks=[t for t in tasks if t.state == "open"] if damage is None else [],
            timers=eng.timers.waiting(instance_id=instance_id),
            events=list(reversed(events)),
            incidents=incidents,
            users=users,
            actions=actions,
            migration=migration,
            action_names=ACTIONS,
            errors=errors or {},
            values=request.form if request.method == "POST" else {},
            damage=damage,
        ),
        status,
    )


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _possible_actions(info: Any, damage: DamagedState | None = None) -> list[str]:
    """Only the actions that make sense in the instance's state are offered; a damaged
    instance can only be terminated (which works without its state, engine/damaged.py)."""
    if damage is not None:
        return ["terminate"] if info.state in ("running", "suspended") else []
    if info.state == "running":
        return ["suspend", "terminate"] + (["retry"] if info.open_incidents else [])
    if info.state == "suspended":
        return ["resume", "terminate"]
    return []


@bp.get("/arenden/<int:instance_id>")
@role_required("administrator")
def cockpit_instance(instance_id: int):  # type: ignore[no-untyped-def]
    return _instance_page(instance_id)


def _reason(field: str = "reason") -> str:
    return (request.form.get(field) or "").strip()[:2000]


@bp.post("/arenden/<int:instance_id>/<any(suspend, resume, terminate, retry, migrate):action>")
@role_required("administrator")
def cockpit_action(instance_id: int, action: str):  # type: ignore[no-untyped-def]
    eng, actor = engine(), current_actor()
    reason = _reason(f"reason_{action}")
    if not reason:
        return _instance_page(instance_id, {f"reason_{action}": str(REASON_MISSING)}, 400)
    try:
        if action == "retry":
            outcome = eng.runtime.retry(instance_id, actor, reason=reason)
            if outcome.incident:
                flash(_("Steget misslyckades igen: %(error)s", error=outcome.incident), "error")
                return redirect(url_for(".cockpit_instance", instance_id=instance_id), code=303)
        elif action == "migrate":
            eng.runtime.migrate(instance_id, actor, reason=reason)
        else:
            getattr(eng.runtime, action)(instance_id, actor, reason)
    except NotFound:
        abort(404)
    except (InvalidState, Conflict, DamagedState) as exc:
        message = _("Det gick inte: %(error)s", error=str(exc))
        return _instance_page(instance_id, {f"reason_{action}": message}, 409)
    flash(_("Klart: %(action)s. Skälet finns i historiken.", action=ACTIONS[action]))
    return redirect(url_for(".cockpit_instance", instance_id=instance_id), code=303)


@bp.post("/arenden/<int:instance_id>/uppgifter/<int:task_id>/tilldela")
@role_required("administrator")
def cockpit_reassign(instance_id: int, task_id: int):  # type: ignore[no-untyped-def]
    eng, actor = engine(), current_actor()
    _task_of(instance_id, task_id)
    field = f"reason_task_{task_id}"
    reason, to_user = _reason(field), (request.form.get(f"to_{task_id}") or "").strip()
    errors = {}
    if not reason:
        errors[field] = str(REASON_MISSING)
    if not to_user:
        errors[f"to_{task_id}"] = _("Välj vem som ska få uppgiften.")
    if errors:
        return _instance_page(instance_id, errors, 400)

    def record(session: Any, row: HumanTask) -> None:
        eng.history.append_to_instance(
            session.connection(),
            instance_id,
            [
                PendingEvent(
                    "admin.reason",
                    actor.id,
                    {"action": "reassign", "to": to_user, "reason": reason},
                    element_id=row.element_id,
                    task_id=row.id,
                )
            ],
            eng.clock.now(),
        )

    try:
        to = register().actor(to_user)
        eng.tasks.delegate(task_id, to, actor, also=record)
    except (NotFound, NotPermitted, InvalidState, Conflict) as exc:
        return _instance_page(instance_id, {f"to_{task_id}": str(exc)}, 409)
    except KedjaError as exc:  # anything else the engine refuses, said on the page
        return _instance_page(instance_id, {f"to_{task_id}": str(exc)}, 409)
    flash(_("Uppgiften är tilldelad %(user)s. Skälet finns i historiken.", user=to_user))
    return redirect(url_for(".cockpit_instance", instance_id=instance_id), code=303)


def _task_of(instance_id: int, task_id: int) -> Any:
    """The task, or 404 unless it belongs to the case in the address (a task id from
    another case must not be acted on through this one's page)."""
    try:
        task = engine().tasks.get(task_id)
    except NotFound:
        abort(404)
    if task.instance_id != instance_id:
        abort(404)
    return task


@bp.post("/arenden/<int:instance_id>/uppgifter/<int:task_id>/hoppa-over")
@role_required("administrator")
def cockpit_skip(instance_id: int, task_id: int):  # type: ignore[no-untyped-def]
    """Move a stuck task on without its form; the reason goes into the history."""
    eng, actor = engine(), current_actor()
    _task_of(instance_id, task_id)
    field = f"reason_skip_{task_id}"
    reason = _reason(field)
    if not reason:
        return _instance_page(instance_id, {field: str(REASON_MISSING)}, 400)
    try:
        outcome = eng.tasks.skip(task_id, actor, reason)
    except KedjaError as exc:
        return _instance_page(instance_id, {field: str(exc)}, 409)
    if outcome.incident:
        flash(
            _("Uppgiften är överhoppad, men processen stannade: %(error)s", error=outcome.incident),
            "error",
        )
    else:
        flash(_("Uppgiften är överhoppad. Skälet finns i historiken."))
    return redirect(url_for(".cockpit_instance", instance_id=instance_id), code=303)
