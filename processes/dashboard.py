"""The tertial dashboard's read model: per tertial, where each organisation's report stands.

The council and the City Executive Office want to see at a glance who has reported, who was
late, who is missing, and how the measures stand. Two sources give that:

* `tertial_report_row` — written by `compile_tertial_report` when the tertial is compiled
  (every organisation's report accepted). Once a tertial is compiled, its rows are the
  answer: the same figures the council's decision record holds.
* Before that, the reporting itself: the year's tertial reports (`tertial_report` tasks of
  the year's `tertial_loop` or `plan_cycle` instance) and what was submitted in them (the
  task's completion in the history). A tertial cannot be compiled while one organisation has
  not reported, and that is exactly when the dashboard is needed.

Who should report comes from the year's plans (`plans` in the instance's data: the approved
action plan of every participating organisation). An organisation in the plans that has not
submitted by the deadline is *missing*; one that submitted after the deadline is *late*
(as the process marks it: the first submission counts, a report returned for completion
stays on time if it first came in on time). Times compare in UTC; deadlines are the ones the
year's instance was started with (the calendar's, with any per-year override).

Trends compare each organisation with the previous tertial of the same year (a new year has
a new plan with new measures, so T1 has no previous tertial): the overall traffic light if
both tertials have one, else the average colour of the measures (green 2, yellow 1, red 0;
withdrawn measures do not count). Each measure is compared with the same measure (`nr`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from engine import Engine
from engine.clock import from_storage
from engine.errors import DamagedState
from engine.history import instance_stream
from engine.models import HistoryEvent, HumanTask, ProcessInstance

from .calendar import STOCKHOLM, GovernanceCalendar, end_of_day
from .governance import register_of
from .handlers.tertial_report import COLOURS, STATUSES
from .models import TertialReportRow

TERTIALS = ("T1", "T2", "T3")
YEAR_PROCESSES = ("tertial_loop", "plan_cycle")
REPORT_TASK = "tertial_report"
WITHDRAWN = "avförd"
SCORE = {"grön": 2, "gul": 1, "röd": 0}

# Where a report stands.
SUBMITTED = "submitted"  # came in by the deadline
LATE = "late"  # came in after the deadline
MISSING = "missing"  # not in, and the deadline has passed
AWAITED = "awaited"  # the period has ended, the deadline has not passed
NOT_DUE = "not_due"  # the period has not ended yet
STATES = (SUBMITTED, LATE, MISSING, AWAITED, NOT_DUE)

BETTER, WORSE, SAME = "better", "worse", "same"


@dataclass(frozen=True)
class Measure:
    nr: int | None
    atgard: str
    status: str | None
    farg: str | None
    kommentar: str | None = None
    previous_farg: str | None = None
    trend: str | None = None


@dataclass(frozen=True)
class OrganisationReport:
    organisation: str
    name: str
    kind: str | None
    district: str | None
    """The district's name for a district administration (as `participating_organisations`
    gives it), None for the other organisations."""
    state: str
    submitted_at: datetime | None
    traffic_light: str | None
    measures: tuple[Measure, ...]
    compiled: bool
    """True when the figures come from the compiled tertial report."""
    returned: bool = False
    """The coordinator returned the report for completion and it is open again."""
    instance_id: int | None = None
    previous_light: str | None = None
    trend: str | None = None

    @property
    def late(self) -> bool:
        return self.state == LATE

    @property
    def submitted(self) -> bool:
        return self.state in (SUBMITTED, LATE)

    @property
    def by_colour(self) -> dict[str, int]:
        counted = Counter(m.farg for m in self.measures if m.farg)
        return {c: counted[c] for c in COLOURS}

    @property
    def by_status(self) -> dict[str, int]:
        counted = Counter(m.status for m in self.measures if m.status)
        return {s: counted[s] for s in STATUSES}


@dataclass(frozen=True)
class Figures:
    organisations: int
    submitted: int  # on time and late
    on_time: int
    late: int
    missing: int
    awaited: int
    measures: int
    by_colour: dict[str, int]
    by_status: dict[str, int]
    by_light: dict[str, int]


@dataclass(frozen=True)
class TertialOverview:
    year: int
    tertial: str
    period_end: datetime
    deadline: datetime
    now: datetime
    previous: str | None
    compiled_at: datetime | None
    reports: list[OrganisationReport]
    figures: Figures
    planned: int
    """How many organisations the year's plans hold (before filters)."""

    @property
    def phase(self) -> str:
        """`before` the period ends, `reporting` until the deadline, `after` it."""
        if self.now < self.period_end:
            return "before"
        return "reporting" if self.now <= self.deadline else "after"

    def by_state(self, state: str) -> list[OrganisationReport]:
        return [r for r in self.reports if r.state == state]


@dataclass
class _Year:
    """What the year's instances say: the plans, the deadlines, the reports made."""

    year: int
    instance_ids: list[int] = field(default_factory=list)
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    period_ends: dict[str, datetime] = field(default_factory=dict)
    deadlines: dict[str, datetime] = field(default_factory=dict)
    tasks: list[Any] = field(default_factory=list)  # tertial_report rows, oldest first
    submitted: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # task -> rows


def _aware(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=STOCKHOLM)


def _load_year(engine: Engine, year: int) -> _Year:
    found = _Year(year)
    calendar = GovernanceCalendar()
    for tertial in calendar.tertials(year):
        found.period_ends[tertial.name] = end_of_day(tertial.period_end)
        found.deadlines[tertial.name] = end_of_day(tertial.report_deadline)
    keys = [f"{key}:{year}" for key in YEAR_PROCESSES]
    with engine.db.read() as session:
        ids = list(
            session.scalars(
                select(ProcessInstance.id)
                .where(ProcessInstance.business_key.in_(keys))
                .where(ProcessInstance.state != "terminated")
                .order_by(ProcessInstance.id)
            )
        )
    found.instance_ids = ids
    for instance_id in ids:
        try:
            data = engine.runtime.get(instance_id).data
        except DamagedState:  # its data cannot be read (engine/damaged.py); show the rest
            continue
        for plan in data.get("plans") or []:
            if isinstance(plan, dict) and plan.get("organisation"):
                found.plans.setdefault(str(plan["organisation"]), plan)
        for entry in data.get("tertials") or []:
            if not isinstance(entry, dict) or entry.get("id") not in TERTIALS:
                continue
            for name, target in (
                ("period_end", found.period_ends),
                ("report_deadline", found.deadlines),
            ):
                when = _aware(entry.get(name))
                if when is not None:
                    target[entry["id"]] = when
    if ids:
        with engine.db.read() as session:
            found.tasks = list(
                session.scalars(
                    select(HumanTask)
                    .where(HumanTask.instance_id.in_(ids), HumanTask.element_id == REPORT_TASK)
                    .order_by(HumanTask.id)
                )
            )
            done = [t.id for t in found.tasks if t.state == "completed"]
            if done:
                events = session.scalars(
                    select(HistoryEvent)
                    .where(
                        HistoryEvent.stream.in_([instance_stream(i) for i in ids]),
                        HistoryEvent.kind == "task.completed",
                        HistoryEvent.task_id.in_(done),
                    )
                    .order_by(HistoryEvent.id)
                )
                for event in events:
                    rows = (json.loads(event.data).get("data") or {}).get("atgarder")
                    if isinstance(rows, list) and event.task_id is not None:
                        found.submitted[event.task_id] = [r for r in rows if isinstance(r, dict)]
    return found


def _tertial_of(task: Any, year: _Year) -> str | None:
    """Which tertial a report task belongs to: the one it is due at (its due date is the
    tertial's deadline), else the last period that had ended when it was created."""
    due = from_storage(task.due_at)
    if due is not None:
        for name, deadline in year.deadlines.items():
            if abs((deadline - due).total_seconds()) < 1:
                return name
    created = from_storage(task.created_at)
    ended = [n for n in TERTIALS if n in year.period_ends and year.period_ends[n] <= created]
    return ended[-1] if ended else None


def _measures(rows: list[dict[str, Any]] | None) -> list[Measure]:
    result = []
    for row in rows or []:
        nr = row.get("nr")
        result.append(
            Measure(
                nr=nr if isinstance(nr, int) else None,
                atgard=str(row.get("atgard") or ""),
                status=row.get("status") or None,
                farg=row.get("farg") or None,
                kommentar=row.get("kommentar") or None,
            )
        )
    return result


def _state(
    submitted_at: datetime | None,
    late: bool,
    now: datetime,
    period_end: datetime,
    deadline: datetime,
) -> str:
    if submitted_at is not None:
        return LATE if late else SUBMITTED
    if now > deadline:
        return MISSING
    return AWAITED if now >= period_end else NOT_DUE


def _reports(
    engine: Engine, year: _Year, tertial: str, now: datetime
) -> tuple[dict[str, OrganisationReport], datetime | None]:
    """Every organisation's report in one tertial (before the filters), and when the
    tertial was compiled (None: the figures are the reporting's own)."""
    organisations = {o.id: o for o in register_of(engine).organisations(include_inactive=True)}
    period_end, deadline = year.period_ends[tertial], year.deadlines[tertial]

    def make(org_id: str, **values: Any) -> OrganisationReport:
        info = organisations.get(org_id)
        plan = year.plans.get(org_id) or {}
        name = info.name if info else str(plan.get("organisation_name") or org_id)
        kind = info.kind if info else None
        return OrganisationReport(
            organisation=org_id,
            name=name,
            kind=kind,
            district=name if kind == "district" else None,
            **values,
        )

    with engine.db.read() as session:
        compiled = session.scalars(
            select(TertialReportRow).where(
                TertialReportRow.year == year.year, TertialReportRow.tertial == tertial
            )
        ).all()
        compiled_rows = [
            (
                r.organisation_id,
                from_storage(r.submitted_at),
                bool(r.late),
                r.traffic_light,
                json.loads(r.measures or "[]"),
                r.instance_id,
                from_storage(r.compiled_at),
            )
            for r in compiled
        ]
    reports: dict[str, OrganisationReport] = {}
    if compiled_rows:
        compiled_at = max(row[-1] for row in compiled_rows)
        for org_id, submitted_at, late, light, rows, instance_id, _at in compiled_rows:
            reports[org_id] = make(
                org_id,
                state=_state(submitted_at, late, now, period_end, deadline),
                submitted_at=submitted_at,
                traffic_light=light,
                measures=tuple(_measures(rows)),
                compiled=True,
                instance_id=instance_id,
            )
        for org_id in year.plans:
            if org_id not in reports:  # planned, yet not in the compiled report
                reports[org_id] = make(
                    org_id,
                    state=_state(None, False, now, period_end, deadline),
                    submitted_at=None,
                    traffic_light=None,
                    measures=tuple(_measures(year.plans[org_id].get("atgarder"))),
                    compiled=True,
                )
        return reports, compiled_at

    tasks: dict[str, list[Any]] = {}
    for task in year.tasks:
        if task.organisation and _tertial_of(task, year) == tertial:
            tasks.setdefault(task.organisation, []).append(task)
    for org_id in [*year.plans, *(o for o in tasks if o not in year.plans)]:
        own = tasks.get(org_id, [])
        done = [t for t in own if t.state == "completed" and t.completed_at is not None]
        submitted_at = from_storage(min(t.completed_at for t in done)) if done else None
        own_deadline = from_storage(own[0].due_at) if own and own[0].due_at else deadline
        late = submitted_at is not None and submitted_at > own_deadline
        latest = done[-1] if done else None
        rows = year.submitted.get(latest.id) if latest is not None else None
        if rows is None:
            rows = (year.plans.get(org_id) or {}).get("atgarder")
            rows = [{"nr": r.get("nr"), "atgard": r.get("atgard")} for r in rows or []]
        reports[org_id] = make(
            org_id,
            state=_state(submitted_at, late, now, period_end, own_deadline),
            submitted_at=submitted_at,
            traffic_light=None,
            measures=tuple(_measures(rows)),
            compiled=False,
            returned=bool(done) and any(t.state == "open" and t.id > done[-1].id for t in own),
            instance_id=own[0].instance_id if own else None,
        )
    return reports, None


def _score(report: OrganisationReport, use_light: bool) -> float | None:
    if use_light:
        return SCORE.get(report.traffic_light or "")
    scores = [SCORE[m.farg] for m in report.measures if m.farg in SCORE and m.status != WITHDRAWN]
    return sum(scores) / len(scores) if scores else None


def _compare(now: float | None, before: float | None) -> str | None:
    if now is None or before is None:
        return None
    if abs(now - before) < 1e-9:
        return SAME
    return BETTER if now > before else WORSE


def _with_trend(
    report: OrganisationReport, previous: OrganisationReport | None
) -> OrganisationReport:
    if previous is None:
        return report
    use_light = bool(report.traffic_light in SCORE and previous.traffic_light in SCORE)
    earlier = {m.nr: m for m in previous.measures if m.nr is not None}
    measures = []
    for m in report.measures:
        before = earlier.get(m.nr)
        before_colour = before.farg if before else None
        measures.append(
            Measure(
                m.nr,
                m.atgard,
                m.status,
                m.farg,
                m.kommentar,
                previous_farg=before_colour,
                trend=_compare(SCORE.get(m.farg or ""), SCORE.get(before_colour or "")),
            )
        )
    return OrganisationReport(
        **{
            **report.__dict__,
            "measures": tuple(measures),
            "previous_light": previous.traffic_light,
            "trend": _compare(_score(report, use_light), _score(previous, use_light)),
        }
    )


def _figures(reports: list[OrganisationReport]) -> Figures:
    states = Counter(r.state for r in reports)
    by_colour: Counter[str] = Counter({c: 0 for c in COLOURS})
    by_status: Counter[str] = Counter({s: 0 for s in STATUSES})
    by_light: Counter[str] = Counter({c: 0 for c in COLOURS})
    measures = 0
    for report in reports:
        measures += len(report.measures) if report.submitted else 0
        if report.submitted:
            by_colour.update(report.by_colour)
            by_status.update(report.by_status)
        if report.traffic_light:
            by_light[report.traffic_light] += 1
    return Figures(
        organisations=len(reports),
        submitted=states[SUBMITTED] + states[LATE],
        on_time=states[SUBMITTED],
        late=states[LATE],
        missing=states[MISSING],
        awaited=states[AWAITED] + states[NOT_DUE],
        measures=measures,
        by_colour=dict(by_colour),
        by_status=dict(by_status),
        by_light=dict(by_light),
    )


def previous_tertial(tertial: str) -> str | None:
    index = TERTIALS.index(tertial)
    return TERTIALS[index - 1] if index > 0 else None


def overview(
    engine: Engine,
    year: int,
    tertial: str,
    *,
    visible: frozenset[str] | None = None,
    kind: str | None = None,
    district: str | None = None,
    now: datetime | None = None,
) -> TertialOverview:
    """One tertial's reports, with trends from the previous tertial.

    `visible`: the organisations the viewer may see (None: every one); `kind` an
    organisation type (`district`, `central`, `specialist`, `company`); `district` a
    district administration's id. The figures count the reports shown.
    """
    if tertial not in TERTIALS:
        raise ValueError(f"Unknown tertial {tertial!r}; use one of {', '.join(TERTIALS)}.")
    now = now or engine.clock.now()
    loaded = _load_year(engine, year)
    current, compiled_at = _reports(engine, loaded, tertial, now)
    previous_id = previous_tertial(tertial)
    before: dict[str, OrganisationReport] = {}
    if previous_id is not None:
        before, _ = _reports(engine, loaded, previous_id, now)
    reports = [
        _with_trend(r, before.get(r.organisation))
        for r in current.values()
        if (visible is None or r.organisation in visible)
        and (not kind or r.kind == kind)
        and (not district or (r.kind == "district" and r.organisation == district))
    ]
    reports.sort(key=lambda r: (r.name.casefold(), r.organisation))
    return TertialOverview(
        year=year,
        tertial=tertial,
        period_end=loaded.period_ends[tertial],
        deadline=loaded.deadlines[tertial],
        now=now,
        previous=previous_id,
        compiled_at=compiled_at,
        reports=reports,
        figures=_figures(reports),
        planned=len(loaded.plans),
    )


def default_period(engine: Engine, now: datetime | None = None) -> tuple[int, str]:
    """The tertial people look at now: the latest whose period has ended (January to April:
    last year's T3, which is being reported), else the current year's T1."""
    now = now or engine.clock.now()
    year = now.astimezone(STOCKHOLM).year
    calendar = GovernanceCalendar()
    for candidate in (year, year - 1):
        ended = [t.name for t in calendar.tertials(candidate) if end_of_day(t.period_end) <= now]
        if ended:
            return candidate, ended[-1]
    return year, TERTIALS[0]


def years(engine: Engine, now: datetime | None = None) -> list[int]:
    """Years the dashboard can show: this year, last year, and every year with a compiled
    report or a yearly instance, newest first."""
    now = now or engine.clock.now()
    current = now.astimezone(STOCKHOLM).year
    found = {current, current - 1}
    with engine.db.read() as session:
        found.update(session.scalars(select(TertialReportRow.year).distinct()))
        for key in session.scalars(
            select(ProcessInstance.business_key).where(
                ProcessInstance.key.in_(YEAR_PROCESSES), ProcessInstance.business_key.is_not(None)
            )
        ):
            tail = str(key).rsplit(":", 1)[-1]
            if tail.isdigit():
                found.add(int(tail))
    return sorted(found, reverse=True)


def local_day(value: datetime | None) -> date | None:
    return value.astimezone(STOCKHOLM).date() if value else None


__all__ = [
    "AWAITED",
    "BETTER",
    "LATE",
    "MISSING",
    "NOT_DUE",
    "SAME",
    "STATES",
    "SUBMITTED",
    "TERTIALS",
    "WORSE",
    "Figures",
    "Measure",
    "OrganisationReport",
    "TertialOverview",
    "default_period",
    "overview",
    "previous_tertial",
    "years",
]
