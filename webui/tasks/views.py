"""The task list and the task page.

`/uppgifter` lists what the signed-in user may work on (everything, theirs, or what their
group or organisation may take), filtered and sorted by due date, with claim / release
buttons. `/uppgifter/<id>` shows one task: its instructions, the case it belongs to, and its
form, rendered from the task's JSON Schema by `webui.forms`. Every action is a plain POST
(CSRF-protected) that works without JavaScript: save a draft, complete, add or remove a row
of a table, attach a file, hand the task over to a colleague.

A task the user may not see answers 404 whatever the URL, so guessing task numbers reveals
nothing about other organisations' work.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from engine import Actor, Engine
from engine.errors import (
    Conflict,
    DamagedState,
    InvalidState,
    NotFound,
    NotPermitted,
    ValidationError,
)
from engine.models import HumanTask
from engine.tasks import TaskInfo
from processes import attachments
from webui import forms, query_args
from webui.auth.access import current_actor, engine, login_required
from webui.i18n import format_when
from webui.names import process_name

from . import access, bp, handover, uploads
from .queries import (
    Filters,
    Names,
    organisation_choices,
    process_choices,
    task_page,
)

PAGE_SIZE = 25
TABS = (("alla", "all"), ("mina", "mine"), ("grupp", "claimable"))
DUE_FILTERS = {"forsenade": "overdue", "vecka": "week"}


def _tab_labels() -> dict[str, str]:
    return {
        "alla": _("Alla"),
        "mina": _("Mina"),
        "grupp": _("Min grupp/organisation"),
    }


def _safe_next(target: str | None, fallback: str) -> str:
    """A path on this site only (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        parsed = urlparse(target)
        if not parsed.netloc and not parsed.scheme:
            return target
    return fallback


def _visible_task(task_id: int, actor: Actor) -> TaskInfo:
    try:
        task = engine().tasks.get(task_id)
    except NotFound:
        abort(404)
    if not access.may_see(actor, task):
        abort(404)
    return task


def _overdue(task: TaskInfo, now: datetime) -> bool:
    return task.state == "open" and task.due_at is not None and task.due_at < now


# -- the list ---------------------------------------------------------------------------------


@bp.get("")
@login_required
def index():  # type: ignore[no-untyped-def]
    eng, actor = engine(), current_actor()
    tab = request.args.get("visa", "alla")
    scope = dict(TABS).get(tab)
    if scope is None:
        tab, scope = "alla", "all"
    due = request.args.get("frist") or None
    filters = Filters(
        scope=scope,
        process=request.args.get("process") or None,
        organisation=request.args.get("organisation") or None,
        due=DUE_FILTERS.get(due or ""),
        newest_first=request.args.get("sortera") == "senast",
    )
    page_no = query_args.page()
    now = eng.clock.now()
    page = task_page(eng, actor, filters, now, PAGE_SIZE, (page_no - 1) * PAGE_SIZE)
    pages = query_args.pages(page.total, PAGE_SIZE)
    names = Names(eng)
    rows = [
        {
            "task": t,
            "process": process_name(t.definition_key),
            "organisation": names.organisation(t.organisation),
            "assignee": names.user(t.assignee),
            "overdue": _overdue(t, now),
            "may_claim": access.may_claim(actor, t),
            "may_unclaim": access.may_unclaim(actor, t),
        }
        for t in page.items
    ]
    args = {
        k: v
        for k, v in request.args.items()
        if k in ("visa", "process", "organisation", "frist", "sortera") and v
    }
    return render_template(
        "tasks/index.html",
        rows=rows,
        page=page,
        page_no=page_no,
        pages=pages,
        tab=tab,
        tabs=[(key, label) for key, label in _tab_labels().items()],
        args=args,
        selected={
            "process": filters.process or "",
            "organisation": filters.organisation or "",
            "frist": due if due in DUE_FILTERS else "",
            "sortera": "senast" if filters.newest_first else "",
        },
        processes=process_choices(eng),
        organisations=organisation_choices(actor, names),
        here=request.full_path if request.query_string else request.path,
    )


# -- claim, release, hand over ----------------------------------------------------------------


def _back(task_id: int) -> Response:
    target = _safe_next(request.form.get("next"), url_for(".task", task_id=task_id))
    return redirect(target, code=303)


@bp.post("/<int:task_id>/ta")
@login_required
def claim(task_id: int):  # type: ignore[no-untyped-def]
    actor = current_actor()
    task = _visible_task(task_id, actor)
    try:
        engine().tasks.claim(task_id, actor)
        flash(_("Du har tagit uppgiften ”%(name)s”.", name=task.name or task.element_id))
    except (Conflict, NotPermitted):
        flash(
            _("Du kunde inte ta uppgiften: någon annan har den redan, eller så är den klar."),
            "error",
        )
    return _back(task_id)


@bp.post("/<int:task_id>/slapp")
@login_required
def unclaim(task_id: int):  # type: ignore[no-untyped-def]
    actor = current_actor()
    task = _visible_task(task_id, actor)
    try:
        engine().tasks.unclaim(task_id, actor)
        flash(
            _(
                "Du har släppt uppgiften ”%(name)s”. Dina kollegor kan nu ta den.",
                name=task.name or task.element_id,
            )
        )
    except (Conflict, NotPermitted):
        flash(_("Uppgiften kunde inte släppas: den är inte din, eller så är den klar."), "error")
    return _back(task_id)


@bp.post("/<int:task_id>/lamna-over")
@login_required
def hand_over(task_id: int):  # type: ignore[no-untyped-def]
    eng, actor = engine(), current_actor()
    task = _visible_task(task_id, actor)
    to_user = request.form.get("till", "")
    try:
        handover.hand_over(eng, task, to_user, actor)
    except NotPermitted:
        flash(_("Välj en kollega i listan som kan arbeta med uppgiften."), "error")
        return redirect(url_for(".task", task_id=task_id) + "#lamna-over", code=303)
    except (Conflict, NotFound):
        flash(_("Uppgiften kunde inte lämnas över: den har ändrats under tiden."), "error")
        return redirect(url_for(".task", task_id=task_id), code=303)
    flash(
        _(
            "Uppgiften ”%(name)s” är överlämnad till %(who)s.",
            name=task.name or task.element_id,
            who=Names(eng).user(to_user),
        )
    )
    return redirect(url_for(".index"), code=303)


# -- the task page ----------------------------------------------------------------------------


@dataclass
class TaskForm:
    """A task's form: its field tree, its schema text and the case's data it starts from."""

    root: forms.Field | None
    schema_text: str | None
    base: dict[str, Any]
    ui: dict[str, Any] | None = None


def _task_data(eng: Engine, task: TaskInfo) -> dict[str, Any]:
    """The data the task's form is filled in from: the SpiffWorkflow task's own data.

    Not the instance's "current data": one plan-cycle instance runs every organisation's
    lägesbild in parallel, and its latest task may well be another organisation's."""
    if task.state != "open":
        return {}
    with eng.db.read() as session:
        spiff_id = session.scalar(select(HumanTask.spiff_task_id).where(HumanTask.id == task.id))
    try:
        workflow = eng.runtime.workflow(task.instance_id)
        spiff_task = workflow.get_task_from_id(UUID(spiff_id)) if spiff_id else None
    except (NotFound, ValueError, KeyError):
        spiff_task = None
    if spiff_task is None:
        # Only a city-wide task may fall back to the instance's data: for one
        # organisation's task it could be another organisation's answers.
        return dict(eng.runtime.get(task.instance_id).data) if task.organisation is None else {}
    return json.loads(eng.codec.dump_data(dict(spiff_task.data)))


def _task_form(eng: Engine, task: TaskInfo) -> TaskForm:
    base = _task_data(eng, task)
    if not task.form_schema:
        return TaskForm(None, None, base)
    definition = eng.repository.get(task.definition_key, task.definition_version)
    schema_text = eng.repository.form(definition.id, task.form_schema)
    ui: dict[str, Any] = {}
    if task.form_ui_schema:
        try:
            ui = json.loads(eng.repository.form(definition.id, task.form_ui_schema))
        except NotFound:
            ui = {}
    return TaskForm(forms.build(json.loads(schema_text), ui), schema_text, base, ui)


@bp.route("/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int):  # type: ignore[no-untyped-def]
    eng, actor = engine(), current_actor()
    info = _visible_task(task_id, actor)
    if info.state != "open":
        if request.method == "GET":
            return _render(eng, actor, info, None, {}, {}, None, 200)
        # Sent after someone else completed it: say so, show what was typed, keep nothing.
        closed_form = _task_form(eng, info)
        typed: dict[str, Any] = {}
        if closed_form.root is not None:
            typed = forms.parse(closed_form.root, request.form, None, {}).data
        files = uploads.Files(eng, info, actor, [])
        message = _closed_message(info)
        return _render(eng, actor, info, closed_form, typed, {}, files, 409, closed=message)
    try:
        form = _task_form(eng, info)
    except DamagedState:  # nothing can be done in the case (engine/damaged.py): say so
        return _render(eng, actor, info, None, {}, {}, None, 409, closed=_damaged_message())
    known = uploads.known_values(form.base) + uploads.known_values(info.draft or {})
    files = uploads.Files(
        eng, info, actor, known, request.form if request.method == "POST" else None
    )
    if request.method == "GET":
        values = forms.initial(form.root, form.base, info.draft) if form.root else {}
        return _render(eng, actor, info, form, values, {}, files, 200)

    if not access.may_work(actor, info):
        message = _("Uppgiften är tilldelad någon annan. Dina ändringar sparades inte.")
        return _render(eng, actor, info, form, {}, {}, files, 403, closed=message)
    if form.root is not None:
        parsed = forms.parse(
            form.root,
            request.form,
            request.files,
            form.base,
            store_file=files.store,
            accept_reference=files.accept,
        )
        data, action, upload_errors = parsed.data, parsed.action, parsed.upload_errors
    else:
        data, action, upload_errors = {}, request.form.get("_action", "complete"), {}

    if form.root is not None and action.startswith(("add:", "remove:")):
        data, _focus = forms.apply_row_action(form.root, data, action)
        uploads.release(eng, files, data)
        return _render(eng, actor, info, form, data, upload_errors, files, 200)
    if upload_errors:
        uploads.release(eng, files, data)
        return _render(eng, actor, info, form, data, upload_errors, files, 400)
    if action == "draft":
        return _save_draft(eng, actor, info, form, data, files)
    try:
        eng.tasks.complete(task_id, data, actor)
    except ValidationError as exc:
        assert form.root is not None and form.schema_text is not None
        errors = forms.messages(form.root, form.schema_text, data, exc.problems)
        uploads.release(eng, files, data)
        return _render(eng, actor, info, form, data, errors, files, 400)
    except InvalidState as exc:
        uploads.discard(eng, files)
        return _render(eng, actor, info, form, data, {}, files, 409, closed=_state_message(exc))
    except Conflict:
        uploads.discard(eng, files)
        now_info = eng.tasks.get(task_id)
        return _render(
            eng, actor, now_info, form, data, {}, files, 409, closed=_closed_message(now_info)
        )
    except NotPermitted:
        uploads.discard(eng, files)
        message = _("Uppgiften är tilldelad någon annan. Dina ändringar sparades inte.")
        return _render(eng, actor, info, form, data, {}, files, 403, closed=message)
    except DamagedState:
        uploads.discard(eng, files)
        return _render(eng, actor, info, form, data, {}, files, 409, closed=_damaged_message())
    uploads.sweep_case(eng, info.instance_id)
    flash(_("Klart! Uppgiften ”%(name)s” är slutförd.", name=info.name or info.element_id))
    return redirect(url_for(".index"), code=303)


def _save_draft(
    eng: Engine, actor: Actor, info: TaskInfo, form: TaskForm, data: dict, files: uploads.Files
) -> Any:
    try:
        if info.assignee is None:
            # Whoever starts filling in a shared task takes it, so colleagues see it is taken.
            eng.tasks.claim(info.id, actor)
        eng.tasks.save_draft(info.id, data, actor)
    except (Conflict, NotPermitted):
        now_info = eng.tasks.get(info.id)
        message = (
            _closed_message(now_info)
            if now_info.state != "open"
            else _("Uppgiften är tilldelad någon annan. Dina ändringar sparades inte.")
        )
        return _render(eng, actor, now_info, form, data, {}, files, 409, closed=message)
    uploads.release(eng, files, data)
    flash(_("Utkastet är sparat. Du kan fortsätta senare."))
    return redirect(url_for(".task", task_id=info.id), code=303)


def _closed_message(info: TaskInfo) -> str:
    if info.state == "completed":
        who = Names(engine()).user(info.completed_by)
        when = info.completed_at
        return _(
            "Uppgiften slutfördes redan av %(who)s %(when)s. Dina ändringar sparades inte; "
            "det du skrev står kvar nedan så att du kan kopiera det.",
            who=who,
            when=format_when(when),
        )
    return _(
        "Uppgiften är inte längre öppen: processen har gått vidare. Dina ändringar sparades inte."
    )


def _damaged_message() -> str:
    return _(
        "Ärendet som uppgiften hör till är skadat: dess sparade tillstånd går inte att läsa, "
        "så uppgiften kan inte göras och inget du skickar sparas. En administratör kan "
        "avsluta ärendet."
    )


def _state_message(exc: Exception) -> str:
    return _(
        "Ärendet kan inte ta emot svar just nu (det kan vara pausat eller avslutat). Dina "
        "ändringar sparades inte; det du skrev står kvar nedan."
    )


def _render(
    eng: Engine,
    actor: Actor,
    info: TaskInfo,
    form: TaskForm | None,
    values: dict[str, Any],
    errors: dict[str, str],
    files: uploads.Files | None,
    status: int,
    closed: str | None = None,
) -> Any:
    names = Names(eng)
    locale = str(get_locale() or "sv")
    renderer = forms.Renderer(
        values,
        errors,
        file_link=files.link if files else None,
        action_url=url_for(".task", task_id=info.id),
        content_lang="sv" if locale != "sv" else None,
    )
    schema = json.loads(form.schema_text) if form and form.schema_text else {}
    working = closed is None and access.may_work(actor, info)
    form_html = None
    if form is not None and form.root is not None:
        if closed is not None:
            # What the person typed, as text: the task is closed, nothing can be sent.
            form_html = renderer.form(forms.build(schema, form.ui, readonly=True))
        elif working:
            form_html = renderer.form(form.root)
    listed = attachments.list_for_instance(
        eng, info.instance_id, actor, organisation=info.organisation
    )
    labels = {}
    if form and form.root:
        for a in listed:
            path = forms.locate(form.root, a.field)
            labels[a.id] = path[-1][0].label if path else ""
    case_url = (
        url_for("instances.show", instance_id=info.instance_id)
        if "instances.show" in current_app.view_functions
        else None
    )
    return (
        render_template(
            "tasks/task.html",
            task=info,
            process=process_name(info.definition_key),
            organisation=names.organisation(info.organisation),
            assignee=names.user(info.assignee),
            completed_by=names.user(info.completed_by),
            overdue=_overdue(info, eng.clock.now()),
            form_html=form_html,
            form_title=schema.get("title") if isinstance(schema, dict) else None,
            form_description=schema.get("description") if isinstance(schema, dict) else None,
            summary=renderer.summary() if errors else [],
            closed=closed,
            working=working,
            may_claim=closed is None and access.may_claim(actor, info),
            may_unclaim=closed is None and access.may_unclaim(actor, info),
            colleagues=(
                handover.colleagues(eng, info, actor)
                if closed is None and access.may_hand_over(actor, info)
                else []
            ),
            attachments=listed,
            attachment_labels=labels,
            uploaders={a.uploaded_by: names.user(a.uploaded_by) for a in listed},
            draft_saved=info.draft is not None,
            instructions=_paragraphs(info.documentation),
            content_lang="sv" if locale != "sv" else None,
            is_mine=info.assignee == current_user.id,
            case_url=case_url,
        ),
        status,
    )


def _paragraphs(text: str | None) -> list[str]:
    """The task's documentation as paragraphs (blank lines apart), each line trimmed of the
    indentation a BPMN file gives it."""
    if not text:
        return []
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return ["\n".join(line.strip() for line in p.splitlines()) for p in paragraphs if p.strip()]


# -- attachments ------------------------------------------------------------------------------


@bp.get("/bilagor/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):  # type: ignore[no-untyped-def]
    eng, actor = engine(), current_actor()
    try:
        info = attachments.get(eng, attachment_id)
    except NotFound:
        abort(404)
    if not attachments.may_view(eng, actor, info):
        abort(404)
    response = send_file(
        io.BytesIO(attachments.content(eng, attachment_id)),
        mimetype=info.content_type,
        as_attachment=True,
        download_name=info.filename,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
