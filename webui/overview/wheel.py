"""The annual wheel (årshjul): the year's governance calendar as a picture and as a list.

One list of dated events (`events`) feeds both: the wheel drawn as inline SVG (server-side,
no script; the content security policy forbids inline styles, so the drawing uses classes
from kedja.css and presentation attributes) and the table that is its text alternative. The
wheel numbers its markers and the table has the same numbers, so whoever reads the picture
and whoever reads the table see the same year.

The year runs clockwise from the top (1 January) like a clock face; each day has its own
angle. Each kind of event has its own ring (track), so events a few days apart do not
cover each other: the tertial periods outermost, then the prize window, the deadlines, the
reminders and the council's meetings. Today, in the year shown, is a line from the centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from babel.dates import get_month_names
from flask_babel import gettext as _

from engine import Engine
from processes import agenda
from processes.calendar import STOCKHOLM, GovernanceCalendar, end_of_day, morning

SIZE = 720
CENTRE = SIZE / 2
R_OUTER = 300  # the month ring: 270–300
R_MONTHS_IN = 268
R_TERTIAL = (232, 264)
R_PRIZE = (200, 226)
R_INNER = 92  # the centre: the year and the survey note
MARKER = 12
TRACKS = {
    # kind -> radius of its markers
    "period_end": 248,
    "prize": 213,
    "deadline": 180,
    "revision": 180,
    "reminder": 150,
    "meeting": 120,
}
KIND_ORDER = ("period_end", "deadline", "reminder", "revision", "prize", "meeting")


@dataclass(frozen=True)
class Event:
    number: int
    when: datetime  # aware, Stockholm
    kind: str  # a key of TRACKS
    label: str
    all_day: bool = True


@dataclass(frozen=True)
class Period:
    name: str
    start: date  # of the four months the wheel draws (the report covers 1 January on)
    end: date
    deadline: date


def kinds() -> dict[str, str]:
    """What each kind of marker is, for the legend and the table."""
    return {
        "period_end": _("Tertialen slutar"),
        "deadline": _("Sista dag för tertialrapport"),
        "reminder": _("Påminnelse om tertialrapport"),
        "revision": _("Översyn av riktlinjen"),
        "prize": _("Trygghetspriset"),
        "meeting": _("Riskhanteringsrådets sammanträde"),
    }


def _days(year: int) -> int:
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def angle(year: int, when: date | datetime, end_of: bool = False) -> float:
    """The angle (radians, clockwise from the top) of a day's middle, or its end."""
    day = when.astimezone(STOCKHOLM).date() if isinstance(when, datetime) else when
    offset = (day - date(year, 1, 1)).days + (1.0 if end_of else 0.5)
    return 2 * math.pi * offset / _days(year)


def start_angle(year: int, day: date) -> float:
    return 2 * math.pi * (day - date(year, 1, 1)).days / _days(year)


def point(theta: float, radius: float) -> tuple[float, float]:
    return (
        round(CENTRE + radius * math.sin(theta), 2),
        round(CENTRE - radius * math.cos(theta), 2),
    )


def ring_sector(a: float, b: float, r_in: float, r_out: float) -> str:
    """An SVG path: the part of a ring between angles a and b (clockwise)."""
    large = 1 if b - a > math.pi else 0
    x1, y1 = point(a, r_out)
    x2, y2 = point(b, r_out)
    x3, y3 = point(b, r_in)
    x4, y4 = point(a, r_in)
    return (
        f"M {x1} {y1} A {r_out} {r_out} 0 {large} 1 {x2} {y2} "
        f"L {x3} {y3} A {r_in} {r_in} 0 {large} 0 {x4} {y4} Z"
    )


def periods(year: int, calendar: GovernanceCalendar) -> list[Period]:
    """The three tertials as the wheel draws them: the four months each report adds (the
    reports themselves are cumulative from 1 January)."""
    result, start = [], date(year, 1, 1)
    for tertial in calendar.tertials(year):
        result.append(Period(tertial.name, start, tertial.period_end, tertial.report_deadline))
        start = tertial.period_end + timedelta(days=1)
    return result


def events(engine: Engine, year: int, calendar: GovernanceCalendar | None = None) -> list[Event]:
    """The year's dated events, in date order, numbered from 1."""
    calendar = calendar or GovernanceCalendar()
    found: list[tuple[datetime, str, str, bool]] = []
    for tertial in calendar.tertials(year):
        found.append(
            (
                end_of_day(tertial.period_end),
                "period_end",
                _("%(tertial)s %(year)s slutar", tertial=tertial.name, year=year),
                True,
            )
        )
    # T3 of the year before is due in this year's February; this year's T3 in the next.
    for reporting_year in (year - 1, year):
        for tertial in calendar.tertials(reporting_year):
            for day, kind, text in (
                (tertial.report_deadline, "deadline", _("Sista dag för %(tertial)s %(year)s")),
                (tertial.reminder, "reminder", _("Påminnelse om %(tertial)s %(year)s")),
            ):
                if day.year == year:
                    when = end_of_day(day) if kind == "deadline" else morning(day)
                    label = text % {"tertial": tertial.name, "year": reporting_year}
                    found.append((when, kind, label, True))
    found.append(
        (morning(calendar.revision_date(year)), "revision", _("Årlig översyn av riktlinjen"), True)
    )
    prize = calendar.prize_dates(year)
    found += [
        (
            morning(prize["nominations_open"]),
            "prize",
            _("Nomineringen till trygghetspriset öppnar"),
            True,
        ),
        (
            end_of_day(prize["nominations_close"]),
            "prize",
            _("Nomineringen till trygghetspriset stänger"),
            True,
        ),
        (morning(prize["ceremony"]), "prize", _("Trygghetspriset delas ut"), True),
    ]
    for meeting in agenda.meetings(engine, year, calendar):
        title = _(agenda.DEFAULT_TITLE) if meeting.title == agenda.DEFAULT_TITLE else meeting.title
        label = f"{title}, {meeting.location}" if meeting.location else title
        found.append((meeting.meets_at, "meeting", label, False))
    found.sort(key=lambda e: (e[0], KIND_ORDER.index(e[1])))
    return [
        Event(number, when.astimezone(STOCKHOLM), kind, label, all_day)
        for number, (when, kind, label, all_day) in enumerate(found, start=1)
    ]


@dataclass(frozen=True)
class Drawing:
    """Everything the template needs to draw the wheel, already in SVG coordinates."""

    size: int
    centre: float
    months: list[dict[str, object]]
    tertials: list[dict[str, object]]
    prize: dict[str, object] | None
    markers: list[dict[str, object]]
    today: dict[str, object] | None
    radii: dict[str, float]


def drawing(
    year: int, events_: list[Event], calendar: GovernanceCalendar, today: date | None, locale: str
) -> Drawing:
    names = get_month_names("abbreviated", context="stand-alone", locale=locale)
    months = []
    for month in range(1, 13):
        first = date(year, month, 1)
        last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
        a, b = start_angle(year, first), angle(year, last, end_of=True)
        x, y = point((a + b) / 2, (R_OUTER + R_MONTHS_IN) / 2)
        months.append(
            {
                "path": ring_sector(a, b, R_MONTHS_IN, R_OUTER),
                "x": x,
                "y": y,
                "label": str(names[month]).rstrip("."),
                "odd": month % 2 == 1,
            }
        )
    tertials = []
    for index, period in enumerate(periods(year, calendar), start=1):
        a, b = start_angle(year, period.start), angle(year, period.end, end_of=True)
        x, y = point((a + b) / 2, sum(R_TERTIAL) / 2)
        tertials.append(
            {
                "path": ring_sector(a, b, *R_TERTIAL),
                "x": x,
                "y": y,
                "label": period.name,
                "n": index,
            }
        )
    dates = calendar.prize_dates(year)
    a = start_angle(year, dates["nominations_open"])
    b = angle(year, dates["nominations_close"], end_of=True)
    label_x, label_y = point((a + b) / 2, sum(R_PRIZE) / 2 + 20)
    prize = {"path": ring_sector(a, b, *R_PRIZE), "x": label_x, "y": label_y}
    markers = []
    for event in events_:
        theta = angle(year, event.when)
        x, y = point(theta, TRACKS[event.kind])
        markers.append({"x": x, "y": y, "kind": event.kind, "number": event.number})
    marked_today = None
    if today is not None and today.year == year:
        theta = angle(year, today)
        x1, y1 = point(theta, R_INNER)
        x2, y2 = point(theta, R_OUTER + 8)
        tx, ty = point(theta, R_OUTER + 30)
        marked_today = {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "tx": tx, "ty": ty}
    return Drawing(
        size=SIZE,
        centre=CENTRE,
        months=months,
        tertials=tertials,
        prize=prize,
        markers=markers,
        today=marked_today,
        radii={"inner": R_INNER, "outer": R_OUTER, "marker": MARKER},
    )
