"""Overview: the annual wheel, the tertial dashboard and the council's agenda.

* `/oversikt/arshjul` — the year's governance calendar as a wheel and as a table (every
  signed-in user: the calendar is no secret).
* `/oversikt/lagesbild` — per tertial, each organisation's report: in on time, late or
  missing, every measure's status and colour, the trend since the previous tertial;
  filterable, exportable to CSV and xlsx. City-wide roles see every organisation; a
  responsible person or a head sees their own organisation only; others get 403.
* `/oversikt/dagordning` — what waits for riskhanteringsrådet, as the agenda of its next
  meeting, printable, each item with its case. For the council, its secretary, the
  coordinator and administrators; the secretary and administrators also add meetings.

Every page is server-rendered and works without JavaScript; the only script is the agenda's
"Print" button.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from engine import Actor
from engine.errors import NotFound, ValidationError
from processes import agenda as council_agenda
from processes import attachments, dashboard
from processes.calendar import STOCKHOLM, GovernanceCalendar
from processes.governance import register_of
from webui import forms
from webui.auth.access import current_actor, engine, login_required

from . import exports, labels, wheel

bp = Blueprint(
    "overview",
    __name__,
    url_prefix="/oversikt",
    template_folder="templates",
    static_folder="static",
)

SEES_EVERY_ORGANISATION = frozenset(
    {"coordinator", "council", "council_secretary", "city_director", "security_chief", "auditor"}
)
SEES_OWN_ORGANISATION = frozenset({"responsible", "head"})
AGENDA_ROLES = frozenset({"council", "council_secretary", "coordinator"})
MEETING_ROLES = frozenset({"council_secretary"})
"""Who may add and remove council meetings, besides administrators."""
YEARS_AROUND = 2
DOCUMENTS_SHOWN = 50


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"overview_labels": labels}


def _locale() -> str:
    return str(get_locale() or "sv")


def _now() -> datetime:
    return engine().clock.now()


def _year_arg(default: int) -> int:
    try:
        year = int(request.args.get("ar", ""))
    except ValueError:
        return default
    return year if 2000 <= year <= 2100 else default


# -- the annual wheel ------------------------------------------------------------------------


@bp.get("/arshjul", endpoint="wheel")
@login_required
def wheel_page():  # type: ignore[no-untyped-def]
    """The year's calendar; `?ar=2027` for another year."""
    today = _now().astimezone(STOCKHOLM).date()
    year = _year_arg(today.year)
    calendar = GovernanceCalendar()
    events = wheel.events(engine(), year, calendar)
    return render_template(
        "overview/wheel.html",
        year=year,
        years=range(today.year - YEARS_AROUND, today.year + YEARS_AROUND + 1),
        events=events,
        periods=wheel.periods(year, calendar),
        kinds=wheel.kinds(),
        drawing=wheel.drawing(year, events, calendar, today, _locale()),
        today=today,
        survey_year=calendar.is_survey_year(year),
        sees_dashboard=sees_dashboard(current_actor()),
    )


# -- the tertial dashboard -------------------------------------------------------------------


def sees_dashboard(actor: Actor) -> bool:
    return actor.admin or bool(actor.roles & (SEES_EVERY_ORGANISATION | SEES_OWN_ORGANISATION))


def dashboard_scope(actor: Actor) -> frozenset[str] | None:
    """The organisations the actor may see on the dashboard (None: every one); 403 for
    someone with no role that reads it."""
    if actor.admin or actor.roles & SEES_EVERY_ORGANISATION:
        return None
    own = frozenset(
        org for role, org in actor.grants if role in SEES_OWN_ORGANISATION and org is not None
    )
    if not own:
        abort(403)
    return own


class Selection:
    """The year, tertial and filters of a dashboard request (also the export's)."""

    def __init__(self, scope: frozenset[str] | None) -> None:
        now = _now()
        default_year, default_tertial = dashboard.default_period(engine(), now)
        self.year = _year_arg(default_year)
        tertial = request.args.get("tertial", "")
        if tertial not in dashboard.TERTIALS:
            if self.year == default_year:
                tertial = default_tertial
            else:
                tertial = "T3" if self.year < default_year else "T1"
        self.tertial = tertial
        self.scope = scope
        self.organisations = register_of(engine()).organisations(include_inactive=True)
        self.districts = [(o.id, o.name) for o in self.organisations if o.kind == "district"]
        kind = request.args.get("typ", "")
        district = request.args.get("stadsdel", "")
        # Someone who sees only their own organisation has nothing to filter.
        self.kind = kind if scope is None and kind in labels.KINDS else ""
        self.district = (
            district if scope is None and district in {d for d, _n in self.districts} else ""
        )
        self.years = sorted(set(dashboard.years(engine(), now)) | {self.year}, reverse=True)

    def args(self, **extra: str) -> dict[str, str]:
        values = {"ar": str(self.year), "tertial": self.tertial, "typ": self.kind}
        values["stadsdel"] = self.district
        values.update(extra)
        return {k: v for k, v in values.items() if v}

    def describe(self) -> str:
        """The filters in words (the export's summary says what it holds)."""
        if self.scope is not None:
            names = {o.id: o.name for o in self.organisations}
            own = ", ".join(sorted(names.get(o, o) for o in self.scope))
            return _("Egen organisation: %(names)s", names=own)
        parts = []
        if self.kind:
            parts.append(_("Organisationstyp: %(kind)s", kind=labels.kind(self.kind)))
        if self.district:
            parts.append(_("Stadsdel: %(name)s", name=dict(self.districts)[self.district]))
        return "; ".join(parts) if parts else _("Alla organisationer")

    def overview(self) -> dashboard.TertialOverview:
        return dashboard.overview(
            engine(),
            self.year,
            self.tertial,
            visible=self.scope,
            kind=self.kind or None,
            district=self.district or None,
            now=_now(),
        )


@bp.get("")
@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    return redirect(url_for(".dashboard"))


@bp.get("/lagesbild", endpoint="dashboard")
@login_required
def dashboard_page():  # type: ignore[no-untyped-def]
    selection = Selection(dashboard_scope(current_actor()))
    view = selection.overview()
    return render_template(
        "overview/dashboard.html",
        s=selection,
        view=view,
        kinds=labels.KINDS,
        tertials=dashboard.TERTIALS,
    )


TABLES = ("organisationer", "atgarder", "sammanfattning")


def _export_tables() -> tuple[Selection, list[exports.Table]]:
    selection = Selection(dashboard_scope(current_actor()))
    return selection, exports.tables(selection.overview(), selection.describe())


@bp.get("/lagesbild/export.csv")
@login_required
def export_csv():  # type: ignore[no-untyped-def]
    """One table as CSV: `tabell=organisationer` (default), `atgarder` or
    `sammanfattning`."""
    wanted = request.args.get("tabell", "organisationer")
    if wanted not in TABLES:
        abort(404)
    selection, found = _export_tables()
    table = next(t for t in found if t.name == wanted)
    name = f"lagesbild-{selection.year}-{selection.tertial}-{table.name}.csv"
    return Response(
        exports.to_csv(table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/lagesbild/export.xlsx")
@login_required
def export_xlsx():  # type: ignore[no-untyped-def]
    selection, found = _export_tables()
    title = _("Lägesöversikt %(tertial)s %(year)s", tertial=selection.tertial, year=selection.year)
    name = f"lagesbild-{selection.year}-{selection.tertial}.xlsx"
    return Response(
        exports.to_xlsx(found, title),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- the council's agenda --------------------------------------------------------------------


def _may_read_agenda(actor: Actor) -> bool:
    return actor.admin or bool(actor.roles & AGENDA_ROLES)


def _may_plan_meetings(actor: Actor) -> bool:
    return actor.admin or bool(actor.roles & MEETING_ROLES)


def _file_link(value: str) -> tuple[str, str] | None:
    attachment_id = attachments.parse_reference(value)
    if attachment_id is None:
        return None
    try:
        info = attachments.get(engine(), attachment_id)
    except NotFound:
        return None
    if not attachments.may_view(engine(), current_actor(), info):
        return None
    url = url_for("instances.attachment", instance_id=info.instance_id, attachment_id=info.id)
    return url, info.filename


def _summary(item: council_agenda.AgendaItem) -> Markup | None:
    """The item's documents as the council's form shows them: its read-only fields (the
    report, the draft, the jury's decision), not the fields the council fills in."""
    task = item.task
    if not task.form_schema:
        return None
    eng = engine()
    try:
        definition = eng.repository.get(task.definition_key, task.definition_version)
        schema = json.loads(eng.repository.form(definition.id, task.form_schema))
        ui = (
            json.loads(eng.repository.form(definition.id, task.form_ui_schema))
            if task.form_ui_schema
            else {}
        )
    except (NotFound, ValueError):
        return None
    root = forms.build(schema, ui)
    root.children = [
        child
        for child in root.children
        if child.readonly
        and not child.hidden
        and item.data.get(child.key or "") not in (None, "", [], {})
    ]
    if not root.children:
        return None
    renderer = forms.Renderer(
        item.data,
        file_link=_file_link,
        content_lang="sv" if _locale() != "sv" else None,
    )
    return renderer.form(root)


def _documents(item: council_agenda.AgendaItem) -> list[attachments.AttachmentInfo]:
    found = attachments.list_for_instance(
        engine(),
        item.task.instance_id,
        actor=current_actor(),
        organisation=item.task.organisation,
    )
    return found[:DOCUMENTS_SHOWN]


def _parse_meeting_form() -> tuple[dict[str, str], dict[str, str], date | None, time | None]:
    values = {k: request.form.get(k, "").strip() for k in ("datum", "tid", "titel", "plats")}
    errors: dict[str, str] = {}
    day = at = None
    try:
        day = date.fromisoformat(values["datum"])
    except ValueError:
        errors["datum"] = (
            _("Ange sammanträdets datum.")
            if not values["datum"]
            else _("Ange datumet som år-månad-dag, till exempel 2026-10-13.")
        )
    try:
        at = time.fromisoformat(values["tid"]) if values["tid"] else time(13, 0)
    except ValueError:
        errors["tid"] = _("Ange tiden som timmar:minuter, till exempel 13:00.")
    if len(values["titel"]) > 200:
        errors["titel"] = _("Rubriken får vara högst 200 tecken.")
    if len(values["plats"]) > 200:
        errors["plats"] = _("Platsen får vara högst 200 tecken.")
    if day is not None and day < _now().astimezone(STOCKHOLM).date():
        errors["datum"] = _("Datumet har redan varit. Ange ett kommande datum.")
    return values, errors, day, at


def _agenda_page(
    meeting_key: str | None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    eng = engine()
    actor = current_actor()
    now = _now()
    coming = council_agenda.upcoming(eng, now, count=6)
    meeting = coming[0] if coming else None
    if meeting_key:
        try:
            meeting = council_agenda.meeting_on(eng, date.fromisoformat(meeting_key))
        except (ValueError, NotFound):
            abort(404)
    items = council_agenda.agenda(eng, meeting) if meeting is not None else []
    planner = _may_plan_meetings(actor)
    year = (meeting.meets_at if meeting else now).astimezone(STOCKHOLM).year
    return (
        render_template(
            "overview/agenda.html",
            meeting=meeting,
            past=meeting is not None and meeting.meets_at < now,
            coming=coming,
            items=[{"item": i, "summary": _summary(i), "documents": _documents(i)} for i in items],
            planner=planner,
            year_meetings=council_agenda.meetings(eng, year) if planner else [],
            year=year,
            values=values or {"tid": "13:00"},
            errors=errors or {},
            meeting_title=_meeting_title,
        ),
        status,
    )


def _meeting_title(meeting: council_agenda.Meeting) -> str:
    if meeting.title == council_agenda.DEFAULT_TITLE:
        return _("Riskhanteringsrådets sammanträde")
    return meeting.title


@bp.get("/dagordning")
@login_required
def agenda():  # type: ignore[no-untyped-def]
    """The agenda of the next meeting; `?mote=2026-06-09` for another one."""
    if not _may_read_agenda(current_actor()):
        abort(403)
    return _agenda_page(request.args.get("mote") or None)


@bp.post("/dagordning/moten")
@login_required
def add_meeting():  # type: ignore[no-untyped-def]
    if not _may_plan_meetings(current_actor()):
        abort(403)
    values, errors, day, at = _parse_meeting_form()
    if not errors and day is not None and at is not None:
        try:
            council_agenda.add_meeting(engine(), day, at, values["titel"], values["plats"])
        except ValidationError:
            errors["datum"] = _("Det finns redan ett tillagt sammanträde den dagen.")
    if errors:
        return _agenda_page(None, values, errors, 400)
    flash(_("Sammanträdet den %(day)s är tillagt.", day=day.isoformat() if day else ""))
    return redirect(url_for(".agenda") + "#sammantraden")


@bp.post("/dagordning/moten/<int:meeting_id>/ta-bort")
@login_required
def remove_meeting(meeting_id: int):  # type: ignore[no-untyped-def]
    if not _may_plan_meetings(current_actor()):
        abort(403)
    try:
        council_agenda.remove_meeting(engine(), meeting_id)
    except NotFound:
        abort(404)
    flash(_("Sammanträdet är borttaget."))
    return redirect(url_for(".agenda") + "#sammantraden")
