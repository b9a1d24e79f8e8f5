"""The governance calendar: fixed calendar dates, working days, Swedish holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from engine import Actor
from processes.calendar import (
    CalendarRules,
    GovernanceCalendar,
    is_working_day,
    next_working_day,
    working_days_before,
)
from tests.diagrams import Diagram

CAL = GovernanceCalendar()


def test_ten_years_of_tertials_end_on_the_same_dates_and_are_due_on_working_days():
    for year in range(2026, 2036):
        tertials = CAL.tertials(year)
        assert [t.period_end for t in tertials] == [
            date(year, 4, 30),
            date(year, 8, 31),
            date(year, 12, 31),
        ]
        assert [t.period_start for t in tertials] == [date(year, 1, 1)] * 3  # cumulative
        for tertial, (month, day, later) in zip(
            tertials, ((5, 15, 0), (9, 15, 0), (2, 15, 1)), strict=True
        ):
            nominal = date(year + later, month, day)
            assert is_working_day(tertial.report_deadline)
            assert tertial.report_deadline >= nominal
            assert all(
                not is_working_day(nominal + timedelta(days=d))
                for d in range((tertial.report_deadline - nominal).days)
            )
            assert tertial.reminder < tertial.report_deadline


def test_a_saturday_deadline_moves_to_monday():
    assert date(2027, 5, 15).weekday() == 5  # Saturday
    assert CAL.tertials(2027)[0].report_deadline == date(2027, 5, 17)


def test_an_ascension_day_deadline_moves_to_the_next_working_day():
    # Easter 2042 is 6 April, so Ascension Day (Kristi himmelsfärds dag) is Thursday 15 May.
    assert not is_working_day(date(2042, 5, 15))
    assert CAL.tertials(2042)[0].report_deadline == date(2042, 5, 16)


def test_holidays_and_working_day_arithmetic():
    assert not is_working_day(date(2026, 6, 6))  # National Day (a Saturday anyway)
    assert not is_working_day(date(2026, 12, 25))
    assert next_working_day(date(2026, 12, 24)) == date(2026, 12, 28)  # Christmas Eve counts
    # Five working days before Monday 18 May 2026: Ascension Day (14 May) is skipped.
    assert working_days_before(date(2026, 5, 18), 5) == date(2026, 5, 8)


def test_dates_can_be_overridden_for_one_year():
    rules = CalendarRules(
        overrides={2027: {"report_deadlines": ((5, 20, 0), (9, 15, 0), (2, 15, 1))}}
    )
    cal = GovernanceCalendar(rules)
    assert cal.tertials(2027)[0].report_deadline == date(2027, 5, 20)
    assert cal.tertials(2028)[0].report_deadline == date(2028, 5, 15)


def test_survey_years_every_third_year():
    assert [y for y in range(2016, 2030) if CAL.is_survey_year(y)] == [2017, 2020, 2023, 2026, 2029]


def test_variables_drive_a_timedate_timer_in_stockholm_time(engine, deploy, clock):
    variables = CAL.variables(2026)
    assert variables["t1_report_deadline"] == "2026-05-15T23:59:59+02:00"
    d = (
        Diagram("tertial")
        .start()
        .timer("deadline", "t1_report_deadline", kind="timeDate")
        .user("late", "Report is late")
        .end()
    )
    deploy(d.chain("start", "deadline", "late", "end"))
    iid = engine.runtime.start("tertial", variables, Actor("admin", admin=True)).instance_id
    due = datetime(2026, 5, 15, 21, 59, 59, tzinfo=UTC)
    clock.set(due - timedelta(seconds=1))
    assert engine.timers.fire_due() == []
    clock.set(due)
    (fired,) = engine.timers.fire_due()
    assert fired.due_at == due
    assert engine.tasks.list(instance_id=iid).items[0].element_id == "late"
