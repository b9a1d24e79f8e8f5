"""Riskhanteringsrådet's meetings and the agenda of each: what waits for the council.

The council decides in its meetings, not whenever a task appears, so the items waiting for
it (open tasks of the role `council`: a tertial report to take note of, the city-wide
overview to advise on, a guideline revision to deliberate, a prize decision to confirm) are
gathered into the agenda of its next meeting. An item goes on the agenda of a meeting if it
was created before the meeting and is still open; one the council did not finish at a
meeting is still open, and so on the next meeting's agenda too.

The meeting dates are the governance calendar's defaults (`CalendarRules.council_meetings`:
the second Tuesday of February, April, June, September, November and December at 13:00)
together with the meetings an administrator adds (`council_meeting`). An added meeting on a
default meeting's day replaces it (a moved hour, a room, a title), so one day never holds
two meetings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import delete, or_, select

from engine import Engine
from engine.clock import from_storage, to_storage
from engine.errors import DamagedState, NotFound, ValidationError
from engine.models import HumanTask, TaskCandidate
from engine.tasks import TaskInfo

from .calendar import STOCKHOLM, GovernanceCalendar
from .models import CouncilMeeting

COUNCIL = "council"
DEFAULT_TITLE = "Riskhanteringsrådets sammanträde"
MAX_ITEMS = 500
"""Open council items read for one agenda; the council has a handful at a time."""


@dataclass(frozen=True)
class Meeting:
    """A meeting of the council. `id` is None for a default date from the calendar."""

    meets_at: datetime  # aware, Europe/Stockholm
    title: str
    location: str | None = None
    id: int | None = None

    @property
    def is_default(self) -> bool:
        return self.id is None

    @property
    def day(self) -> date:
        return self.meets_at.astimezone(STOCKHOLM).date()

    @property
    def key(self) -> str:
        """How a page names the meeting in a link: its Stockholm date (one meeting a day)."""
        return self.day.isoformat()


@dataclass(frozen=True)
class AgendaItem:
    """One item on the agenda: the open task and the case it belongs to."""

    task: TaskInfo
    data: dict[str, Any] = field(default_factory=dict)
    """What the task itself sees (`engine.tasks.data`): the documents the council reads."""
    business_key: str | None = None


def _added(engine: Engine, start: datetime, end: datetime) -> list[Meeting]:
    with engine.db.read() as session:
        rows = session.scalars(
            select(CouncilMeeting)
            .where(
                CouncilMeeting.meets_at >= to_storage(start),
                CouncilMeeting.meets_at < to_storage(end),
            )
            .order_by(CouncilMeeting.meets_at)
        ).all()
        return [
            Meeting(
                from_storage(r.meets_at).astimezone(STOCKHOLM),  # type: ignore[union-attr]
                r.title,
                r.location,
                r.id,
            )
            for r in rows
        ]


def meetings(
    engine: Engine, year: int, calendar: GovernanceCalendar | None = None
) -> list[Meeting]:
    """The council's meetings in `year` (Stockholm time), in time order: the calendar's
    default dates, each replaced by an added meeting on the same day, and the added ones."""
    calendar = calendar or GovernanceCalendar()
    start = datetime(year, 1, 1, tzinfo=STOCKHOLM)
    end = datetime(year + 1, 1, 1, tzinfo=STOCKHOLM)
    added = _added(engine, start, end)
    taken = {m.day for m in added}
    defaults = [
        Meeting(when, DEFAULT_TITLE)
        for when in calendar.council_meetings(year)
        if when.date() not in taken
    ]
    return sorted([*defaults, *added], key=lambda m: m.meets_at)


def upcoming(engine: Engine, now: datetime | None = None, count: int = 6) -> list[Meeting]:
    """The next `count` meetings from `now` (a meeting at `now` is still to come)."""
    now = now or engine.clock.now()
    year = now.astimezone(STOCKHOLM).year
    found = [m for y in (year, year + 1) for m in meetings(engine, y) if m.meets_at >= now]
    return found[:count]


def next_meeting(engine: Engine, now: datetime | None = None) -> Meeting | None:
    found = upcoming(engine, now, count=1)
    return found[0] if found else None


def meeting_on(engine: Engine, day: date) -> Meeting:
    """The meeting on `day` (Stockholm date); NotFound if the council does not meet then."""
    for meeting in meetings(engine, day.year):
        if meeting.day == day:
            return meeting
    raise NotFound(f"Riskhanteringsrådet has no meeting on {day.isoformat()}.")


def add_meeting(
    engine: Engine, day: date, at: time, title: str | None = None, location: str | None = None
) -> Meeting:
    """Add a meeting (or move a default one: the same day replaces it). Refuses a second
    added meeting on one day and a day in the past."""
    title = (title or "").strip() or DEFAULT_TITLE
    location = (location or "").strip() or None
    if len(title) > 200 or (location and len(location) > 200):
        raise ValidationError("A meeting's title and location are at most 200 characters.")
    meets_at = datetime.combine(day, at, tzinfo=STOCKHOLM)
    if day < engine.clock.now().astimezone(STOCKHOLM).date():
        raise ValidationError("A meeting cannot be added in the past.")
    start = datetime.combine(day, time(0, 0), tzinfo=STOCKHOLM)
    end = datetime.combine(day, time(23, 59, 59, 999999), tzinfo=STOCKHOLM)
    if _added(engine, start, end):
        raise ValidationError(f"There is already a meeting on {day.isoformat()}.")
    with engine.db.write() as session:
        row = CouncilMeeting(meets_at=to_storage(meets_at), title=title, location=location)
        session.add(row)
        session.flush()
        return Meeting(meets_at, title, location, row.id)


def remove_meeting(engine: Engine, meeting_id: int) -> None:
    """Remove an added meeting (a default date it replaced comes back)."""
    with engine.db.write() as session:
        removed = session.execute(delete(CouncilMeeting).where(CouncilMeeting.id == meeting_id))
        if removed.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound(f"There is no added council meeting {meeting_id}.")


def awaiting_council(engine: Engine, before: datetime | None = None) -> list[TaskInfo]:
    """Open tasks for the council (its lane, or offered to the role as candidates), created
    before `before`, oldest first."""
    offered = select(TaskCandidate.task_id).where(
        TaskCandidate.kind == "group", TaskCandidate.value == COUNCIL
    )
    query = select(HumanTask).where(
        HumanTask.state == "open", or_(HumanTask.role == COUNCIL, HumanTask.id.in_(offered))
    )
    if before is not None:
        query = query.where(HumanTask.created_at < to_storage(before))
    with engine.db.read() as session:
        rows = session.scalars(query.order_by(HumanTask.created_at, HumanTask.id).limit(MAX_ITEMS))
        return [TaskInfo.of(r, engine.codec) for r in rows]


def agenda(engine: Engine, meeting: Meeting) -> list[AgendaItem]:
    """The items of `meeting`'s agenda: what waits for the council and was there before the
    meeting, each with the data the council's task sees and its case's business key."""
    items = []
    keys: dict[int, str | None] = {}
    for task in awaiting_council(engine, meeting.meets_at):
        try:
            data = engine.tasks.data(task.id)
        except NotFound:  # completed between the two reads: no longer on the agenda
            continue
        except DamagedState:  # its case cannot be read (engine/damaged.py): listed bare
            data = {}
        if task.instance_id not in keys:
            keys[task.instance_id] = engine.runtime.get(
                task.instance_id, with_data=False
            ).business_key
        items.append(AgendaItem(task, data, keys[task.instance_id]))
    return items
