"""A user's calendar feed (iCalendar, RFC 5545): their task deadlines and the governance
calendar, for Outlook and every other calendar program.

What it holds:
- Each open task the user may work on (their own and those they may claim, by role and
  organisation or as a candidate — not every task an administrator could act on) that has
  a due date: a VEVENT at the deadline, in Europe/Stockholm time (`DTSTART;TZID=…`), with
  no end (a point in time, RFC 5545 3.6.1), transparent (it does not make the user busy),
  linking to the task. VEVENT, not VTODO: Outlook shows no VTODO from a subscribed calendar.
- The governance calendar of this year and next (`processes.calendar`): each tertial's end
  and report deadline, the annual revision date, the prize's nomination window and its
  ceremony, as all-day events (they are dates, not moments); and the council's meetings.

Every event has a stable UID (`kedja-task-12@host`, `kedja-2026-t1-report@host`), so a
calendar program updates an event when a deadline moves and removes it when the task is
done. Texts are in the user's language. The Stockholm VTIMEZONE is written out so programs
that do not know the zone by name (Outlook among them) place the times right.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import gettext as _
from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard
from sqlalchemy import select

from engine import Actor, Engine
from engine.clock import from_storage, to_storage
from processes.calendar import GovernanceCalendar
from processes.governance import register_of
from processes.models import CouncilMeeting, Organisation

STOCKHOLM_ID = "Europe/Stockholm"
STOCKHOLM = ZoneInfo(STOCKHOLM_ID)
TASK_LIMIT = 1000


def stockholm_timezone() -> Timezone:
    """VTIMEZONE for Europe/Stockholm: CET, CEST from the last Sunday of March 02:00 to
    the last Sunday of October 03:00 (the EU rule since 1996)."""
    tz = Timezone()
    tz.add("tzid", STOCKHOLM_ID)
    summer = TimezoneDaylight()
    summer.add("tzname", "CEST")
    summer.add("dtstart", datetime(1970, 3, 29, 2, 0, 0))
    summer.add("tzoffsetfrom", timedelta(hours=1))
    summer.add("tzoffsetto", timedelta(hours=2))
    summer.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1su"})
    winter = TimezoneStandard()
    winter.add("tzname", "CET")
    winter.add("dtstart", datetime(1970, 10, 25, 3, 0, 0))
    winter.add("tzoffsetfrom", timedelta(hours=2))
    winter.add("tzoffsetto", timedelta(hours=1))
    winter.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1su"})
    tz.add_component(summer)
    tz.add_component(winter)
    return tz


class FeedBuilder:
    def __init__(self, engine: Engine, base_url: str, now: datetime) -> None:
        self.engine = engine
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).hostname or "kedja.invalid"
        self.now = now

    def build(self, user: Any) -> bytes:
        """The feed of `user` (a `processes.register.UserInfo`), in their language."""
        with force_locale(user.language if user.language in ("sv", "en") else "sv"):
            calendar = Calendar()
            calendar.add("prodid", "-//Kedja//Kalender 1.0//SV")
            calendar.add("version", "2.0")
            calendar.add("calscale", "GREGORIAN")
            calendar.add("method", "PUBLISH")
            calendar.add("x-wr-calname", _("Kedja – %(name)s", name=user.name))
            calendar.add("x-wr-caldesc", _("Dina tidsfrister i Kedja och stadens styrkalender."))
            calendar.add("x-wr-timezone", STOCKHOLM_ID)
            calendar.add("x-published-ttl", "PT1H")
            calendar.add_component(stockholm_timezone())
            actor = register_of(self.engine).actor(user.id)
            for event in self.task_events(actor):
                calendar.add_component(event)
            year = self.now.astimezone(STOCKHOLM).year
            for event in self.governance_events(year, year + 1):
                calendar.add_component(event)
            for event in self.meeting_events(year, year + 1):
                calendar.add_component(event)
            return calendar.to_ical()

    # -- events ---------------------------------------------------------------------------

    def _event(self, uid: str, summary: str, description: str | None = None) -> Event:
        event = Event()
        event.add("uid", f"kedja-{uid}@{self.host}")
        event.add("dtstamp", self.now)
        event.add("summary", summary)
        if description:
            event.add("description", description)
        event.add("transp", "TRANSPARENT")
        event.add("class", "PRIVATE")
        return event

    def _day(self, uid: str, summary: str, first: date, last: date | None = None) -> Event:
        event = self._event(uid, summary)
        event.add("dtstart", first)
        event.add("dtend", (last or first) + timedelta(days=1))  # DTEND is exclusive
        return event

    def task_events(self, actor: Actor) -> list[Event]:
        """The actor's open tasks with a deadline. As the actor without the administrator's
        override: an administrator's feed holds their own work, not every task there is."""
        own = Actor(actor.id, actor.grants, admin=False)
        tasks = self.engine.tasks.list(actor=own, state="open", limit=TASK_LIMIT).items
        with self.engine.db.read() as session:
            names = dict(session.execute(select(Organisation.id, Organisation.name)).all())
        events = []
        for task in tasks:
            if task.due_at is None:
                continue
            name = task.name or task.element_id
            where = names.get(task.organisation, task.organisation) if task.organisation else None
            summary = (
                _("Sista dag: %(task)s (%(organisation)s)", task=name, organisation=where)
                if where
                else _("Sista dag: %(task)s", task=name)
            )
            url = f"{self.base_url}/uppgifter/{task.id}"
            event = self._event(f"task-{task.id}", summary, _("Öppna uppgiften: %(url)s", url=url))
            event.add("dtstart", task.due_at.astimezone(STOCKHOLM))
            event.add("url", url)
            event.add("categories", [_("Uppgift")])
            events.append(event)
        return events

    def governance_events(self, *years: int) -> list[Event]:
        calendar = GovernanceCalendar()
        events = []
        for year in years:
            for tertial in calendar.tertials(year):
                key = f"{year}-{tertial.name.lower()}"
                events.append(
                    self._day(
                        f"{key}-period-end",
                        _("Tertial %(tertial)s %(year)s slutar", tertial=tertial.name, year=year),
                        tertial.period_end,
                    )
                )
                events.append(
                    self._day(
                        f"{key}-report",
                        _(
                            "Sista dag för tertialrapport %(tertial)s %(year)s",
                            tertial=tertial.name,
                            year=year,
                        ),
                        tertial.report_deadline,
                    )
                )
            events.append(
                self._day(
                    f"{year}-revision",
                    _("Årlig översyn av riktlinjen %(year)s", year=year),
                    calendar.revision_date(year),
                )
            )
            prize = calendar.prize_dates(year)
            events.append(
                self._day(
                    f"{year}-prize-nominations",
                    _("Nomineringar till trygghetspriset %(year)s", year=year),
                    prize["nominations_open"],
                    prize["nominations_close"],
                )
            )
            events.append(
                self._day(
                    f"{year}-prize-ceremony",
                    _("Utdelning av trygghetspriset %(year)s", year=year),
                    prize["ceremony"],
                )
            )
        for event in events:
            event.add("categories", [_("Styrkalender")])
        return events

    def meeting_events(self, first_year: int, last_year: int) -> list[Event]:
        start = to_storage(datetime(first_year, 1, 1, tzinfo=STOCKHOLM))
        end = to_storage(datetime(last_year + 1, 1, 1, tzinfo=STOCKHOLM))
        with self.engine.db.read() as session:
            meetings = session.scalars(
                select(CouncilMeeting)
                .where(CouncilMeeting.meets_at >= start, CouncilMeeting.meets_at < end)
                .order_by(CouncilMeeting.meets_at)
            ).all()
        events = []
        for meeting in meetings:
            event = self._event(f"meeting-{meeting.id}", meeting.title)
            event.add("dtstart", from_storage(meeting.meets_at).astimezone(STOCKHOLM))  # type: ignore[union-attr]
            if meeting.location:
                event.add("location", meeting.location)
            event.add("categories", [_("Styrkalender")])
            events.append(event)
        return events
