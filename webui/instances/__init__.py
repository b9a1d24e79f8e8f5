"""Cases (process instances): the list of the cases a user may see, and one case's page.

The case page is the whole case in one place: the diagram with what is done and what is
active marked (drawn by the bpmn-js viewer in the browser), and the same information as
text for everyone who cannot or does not use the picture: the history, the open tasks with
who has them and when they are due, the timers being waited for, the decisions taken and
the attached documents. The page works without JavaScript; the script only draws the
diagram from `/arenden/<id>/diagram.json`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)

from engine.errors import DamagedState, NotFound
from processes import attachments
from processes.decisions import list_decisions
from webui import names, query_args
from webui.auth.access import current_actor, engine, has_role, login_required

from .access import may_see_case, visible_case_ids
from .model import definition_model, diagram_xml
from .state import element_states
from .timeline import describe

bp = Blueprint(
    "instances",
    __name__,
    url_prefix="/arenden",
    template_folder="templates",
    static_folder="static",
)
PAGE_SIZE = 50
TASKS_SHOWN = 500


@bp.app_template_global()
def task_url(task_id: int) -> str:
    """The task's page in the tasks area (its form, or the decision form for a decision);
    the area's documented address while a release runs without it."""
    if "tasks.task" in current_app.view_functions:
        return url_for("tasks.task", task_id=task_id)
    return f"{request.script_root}/uppgifter/{task_id}"


@bp.get("")
@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    state = request.args.get("status") or None
    if state not in (None, *names.STATES):
        state = None
    page = query_args.page()
    ids, total = visible_case_ids(
        engine(), current_actor(), state, PAGE_SIZE, (page - 1) * PAGE_SIZE
    )
    cases = [engine().runtime.get(i, with_data=False) for i in ids]
    return render_template(
        "instances/index.html",
        cases=cases,
        total=total,
        page=page,
        pages=query_args.pages(total, PAGE_SIZE),
        state=state,
        states=names.STATES,
    )


def _visible_case(instance_id: int):  # type: ignore[no-untyped-def]
    """The case, or 404 — for a case that does not exist and for one the user may not see
    alike, so that guessing ids tells nobody anything."""
    if not may_see_case(engine(), current_actor(), instance_id):
        abort(404)
    try:
        return engine().runtime.get(instance_id, with_data=False)
    except NotFound:
        abort(404)


def _events(instance_id: int) -> list[dict[str, Any]]:
    with engine().db.read() as session:
        return engine().history.events(session, instance_id)


@bp.get("/<int:instance_id>")
@login_required
def show(instance_id: int):  # type: ignore[no-untyped-def]
    eng = engine()
    actor = current_actor()
    case = _visible_case(instance_id)
    model = definition_model(eng, case.definition_id)
    process_id = request.args.get("process") or model.key
    if process_id not in model.processes:
        abort(404)
    events = _events(instance_id)
    tasks = eng.tasks.list(instance_id=instance_id, limit=TASKS_SHOWN).items
    states, damage = _states(instance_id, model, events, tasks)
    diagrams = [
        (pid, names.process_name(pid, process.name))
        for pid, process in model.processes.items()
        if pid == model.key or states[pid].entered
    ]
    workable = {
        t.id for t in eng.tasks.list(actor=actor, instance_id=instance_id, limit=TASKS_SHOWN).items
    }
    timers = _timers(eng.timers.waiting(instance_id=instance_id), model)
    technical = has_role("administrator", "process_owner", "auditor")
    everything = request.args.get("alla") == "1"
    timeline = [
        entry
        for entry in describe(events, model, names.user_name, technical)
        if everything or entry.important
    ]
    current = model.processes[process_id]
    active_names = sorted(
        {current.elements[e].name or e for e in states[process_id].active if e in current.elements}
    )
    return render_template(
        "instances/show.html",
        case=case,
        case_name=names.process_name(case.key, model.main.name),
        model=model,
        process_id=process_id,
        process_label=names.process_name(process_id, current.name),
        diagrams=diagrams,
        active_names=active_names,
        tasks=tasks,
        workable=workable,
        timers=timers,
        decisions=list_decisions(eng, instance_id=instance_id, limit=1000),
        attachments=_attachments(instance_id),
        timeline=list(reversed(timeline)),
        everything=everything,
        technical=technical,
        now=eng.clock.now(),
        damage=damage,
    )


def _states(
    instance_id: int, model: Any, events: list[dict[str, Any]], tasks: list[Any]
) -> tuple[dict[str, Any], DamagedState | None]:
    """What is done and active in each diagram, and the damage if the instance's state
    cannot be loaded: then what is active comes from its open task rows, and the page says
    the case is damaged instead of failing (engine/damaged.py)."""
    try:
        return element_states(engine(), instance_id, model, events), None
    except DamagedState as damage:
        open_elements = {t.element_id for t in tasks if t.state == "open"}
        return element_states(engine(), instance_id, model, events, open_elements), damage


def _timers(waiting: list[dict[str, Any]], model: Any) -> list[dict[str, Any]]:
    """Waiting timers by name and due time; one per organisation of a multi-instance
    activity would otherwise repeat the same line many times."""
    grouped: dict[tuple[str, Any], dict[str, Any]] = {}
    for timer in waiting:
        name = model.element_name(timer["element_id"]) or timer["element_id"]
        entry = grouped.setdefault(
            (name, timer["due_at"]), {"name": name, "due_at": timer["due_at"], "count": 0}
        )
        entry["count"] += 1
    return list(grouped.values())


def _attachments(instance_id: int) -> list[Any]:
    """The case's attached documents the user may see (per organisation, as
    `processes.attachments` decides: Farsta's files are not Bromma's to read)."""
    return attachments.list_for_instance(engine(), instance_id, actor=current_actor())


@bp.get("/<int:instance_id>/bilagor/<int:attachment_id>")
@login_required
def attachment(instance_id: int, attachment_id: int):  # type: ignore[no-untyped-def]
    """Download an attached file: 404 unless it belongs to this case and the user may see
    it. Always as a download with the type its extension gives, never rendered inline, so
    an uploaded file cannot run as a page of this site."""
    _visible_case(instance_id)
    try:
        info = attachments.get(engine(), attachment_id)
    except NotFound:
        abort(404)
    if info.instance_id != instance_id or not attachments.may_view(engine(), current_actor(), info):
        abort(404)
    response = Response(
        attachments.content(engine(), attachment_id),
        mimetype=attachments.content_type_of(info.filename),
    )
    # An ASCII name for old clients, the real one (RFC 5987) for everyone else.
    plain = info.filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(info.filename)}"
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:instance_id>/diagram.json")
@login_required
def diagram(instance_id: int):  # type: ignore[no-untyped-def]
    """The diagram of one process of the case (the case's own unless `process` names a
    called one) and which of its elements are completed and active, for the viewer."""
    eng = engine()
    case = _visible_case(instance_id)
    model = definition_model(eng, case.definition_id)
    process_id = request.args.get("process") or model.key
    if process_id not in model.processes:
        abort(404)
    tasks = eng.tasks.list(instance_id=instance_id, limit=TASKS_SHOWN).items
    states, damage = _states(instance_id, model, _events(instance_id), tasks)
    state = states[process_id]
    found = {
        "instance": instance_id,
        "process": process_id,
        "file": model.processes[process_id].file,
        "xml": diagram_xml(eng, case.definition_id, process_id),
        "completed": sorted(state.completed),
        "active": sorted(state.active),
    }
    if damage is not None:  # active: only its open tasks (the rest is in the damaged state)
        found["damaged"] = True
    response = jsonify(**found)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie"
    return response
