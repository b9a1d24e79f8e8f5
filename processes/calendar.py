"""The governance calendar: tertials, report deadlines, the yearly revision, the prize.

Governance deadlines are calendar facts, not ISO durations: "T1 is reported by 15 May" stays
15 May (or the next working day) every year, where a `P4M` cycle would drift by days a year.
This module computes the dates from the city's rules, moves deadlines off weekends and Swedish
public holidays (the `holidays` package), and hands them to diagrams as variables holding
timezone-aware ISO 8601 instants, used in `timeDate` timer expressions.

People live in Europe/Stockholm: a deadline is the end of its day there, a reminder goes out
at 08:00 there; the engine stores and compares UTC.

Defaults follow docs/domain.md (tertials per 30 April, 31 August and 31 December; reports due
15 May, 15 September and 15 February); every date can be overridden per year.

Riskhanteringsrådet meets on fixed weekdays rather than fixed dates: by default the second
Tuesday of February, April, June, September, November and December at 13:00 (after each
tertial report is due, before the summer and before the year's end). An administrator adds
further meetings in the web UI (`processes.agenda`); these rules give the default ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

STOCKHOLM = ZoneInfo("Europe/Stockholm")
END_OF_DAY = time(23, 59, 59)
MORNING = time(8, 0)


@dataclass(frozen=True)
class Tertial:
    """A reporting period, cumulative from 1 January, and when its report is due."""

    name: str  # T1, T2, T3 (T3 is the year as a whole: the annual report)
    period_start: date
    period_end: date
    report_deadline: date  # already moved to a working day
    reminder: date  # `reminder_working_days` working days before the deadline


@dataclass(frozen=True)
class CalendarRules:
    """The city's rules; override any of them for one year with `CalendarRules.for_year`."""

    period_ends: tuple[tuple[int, int], ...] = ((4, 30), (8, 31), (12, 31))
    # (month, day, years after the period's year) for T1, T2, T3
    report_deadlines: tuple[tuple[int, int, int], ...] = ((5, 15, 0), (9, 15, 0), (2, 15, 1))
    reminder_working_days: int = 5
    revision_date: tuple[int, int] = (10, 1)
    prize_nominations_open: tuple[int, int] = (3, 1)
    prize_nominations_close: tuple[int, int] = (4, 30)
    prize_ceremony: tuple[int, int] = (11, 15)
    survey_first_year: int = 2017  # trygghetsmätningen: every third year
    # The council's meetings: (month, which weekday of the month (1 = the first), weekday
    # (0 = Monday)), at `council_meeting_time` Stockholm time; a meeting day that is not a
    # working day moves to the next working day.
    council_meetings: tuple[tuple[int, int, int], ...] = (
        (2, 2, 1),
        (4, 2, 1),
        (6, 2, 1),
        (9, 2, 1),
        (11, 2, 1),
        (12, 2, 1),
    )
    council_meeting_time: tuple[int, int] = (13, 0)
    overrides: dict[int, dict[str, object]] = field(default_factory=dict)

    def for_year(self, year: int) -> CalendarRules:
        return replace(self, **self.overrides.get(year, {})) if year in self.overrides else self


@lru_cache(maxsize=64)
def _swedish_holidays(year: int) -> holidays.HolidayBase:
    # Public holidays plus the de facto ones (Midsummer Eve, Christmas Eve, New Year's Eve):
    # the city's offices are closed, so no deadline falls there.
    return holidays.country_holidays(
        "SE", years=[year - 1, year, year + 1], categories=("public", "de_facto")
    )


def is_working_day(day: date) -> bool:
    """Monday to Friday and neither a Swedish public holiday nor a de facto one."""
    return day.weekday() < 5 and day not in _swedish_holidays(day.year)


def next_working_day(day: date) -> date:
    """`day` itself if it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def working_days_before(day: date, count: int) -> date:
    """The working day `count` working days before `day`."""
    while count > 0:
        day -= timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, END_OF_DAY, tzinfo=STOCKHOLM)


def morning(day: date) -> datetime:
    return datetime.combine(day, MORNING, tzinfo=STOCKHOLM)


class GovernanceCalendar:
    def __init__(self, rules: CalendarRules | None = None) -> None:
        self.rules = rules or CalendarRules()

    def tertials(self, year: int) -> list[Tertial]:
        rules = self.rules.for_year(year)
        result, start = [], date(year, 1, 1)
        for index, ((month, day), (d_month, d_day, later)) in enumerate(
            zip(rules.period_ends, rules.report_deadlines, strict=True), start=1
        ):
            deadline = next_working_day(date(year + later, d_month, d_day))
            result.append(
                Tertial(
                    f"T{index}",
                    start,
                    date(year, month, day),
                    deadline,
                    working_days_before(deadline, rules.reminder_working_days),
                )
            )
        return result

    def revision_date(self, year: int) -> date:
        month, day = self.rules.for_year(year).revision_date
        return next_working_day(date(year, month, day))

    def prize_dates(self, year: int) -> dict[str, date]:
        rules = self.rules.for_year(year)
        return {
            "nominations_open": date(year, *rules.prize_nominations_open),
            "nominations_close": date(year, *rules.prize_nominations_close),
            "ceremony": next_working_day(date(year, *rules.prize_ceremony)),
        }

    def council_meetings(self, year: int) -> list[datetime]:
        """The council's default meetings in `year`, as Stockholm-time instants in date
        order (the agenda adds the meetings an administrator has added)."""
        rules = self.rules.for_year(year)
        hour, minute = rules.council_meeting_time
        result = []
        for month, nth, weekday in rules.council_meetings:
            first = date(year, month, 1)
            day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
            if day.month != month:  # a fifth weekday the month lacks: its last one
                day -= timedelta(days=7)
            result.append(
                datetime.combine(next_working_day(day), time(hour, minute), tzinfo=STOCKHOLM)
            )
        return sorted(result)

    def is_survey_year(self, year: int) -> bool:
        first = self.rules.for_year(year).survey_first_year
        return year >= first and (year - first) % 3 == 0

    def variables(self, year: int) -> dict[str, object]:
        """What a diagram gets: ISO 8601 instants for `timeDate` timers, and plain facts.

        Names: `t1_period_end`, `t1_report_deadline`, `t1_reminder` (likewise t2, t3),
        `revision_date`, `prize_nominations_open`, `prize_nominations_close`,
        `prize_ceremony`, `survey_year`, `year`, and `tertials`: the same three periods as a
        list of `{"id", "period_end", "report_deadline", "reminder"}`, for a loop or a
        multi-instance activity that runs once per tertial.
        """
        values: dict[str, object] = {"year": year, "survey_year": self.is_survey_year(year)}
        tertials = []
        for tertial in self.tertials(year):
            key = tertial.name.lower()
            dates = {
                "period_end": end_of_day(tertial.period_end).isoformat(),
                "report_deadline": end_of_day(tertial.report_deadline).isoformat(),
                "reminder": morning(tertial.reminder).isoformat(),
            }
            for name, value in dates.items():
                values[f"{key}_{name}"] = value
            tertials.append({"id": tertial.name, **dates})
        values["tertials"] = tertials
        values["revision_date"] = morning(self.revision_date(year)).isoformat()
        prize = self.prize_dates(year)
        values["prize_nominations_open"] = morning(prize["nominations_open"]).isoformat()
        values["prize_nominations_close"] = end_of_day(prize["nominations_close"]).isoformat()
        values["prize_ceremony"] = morning(prize["ceremony"]).isoformat()
        return values
