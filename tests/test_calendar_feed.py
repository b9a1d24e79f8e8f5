"""The private calendar feed (`/kalender/<token>.ics`): it parses with the `icalendar`
package, holds the user's own task deadlines in Europe/Stockholm time and the governance
calendar of this year and next, never another user's tasks, and a revoked or unknown token
gets 404. The address is made on the settings page by the signed-in user, through the real
application (CSRF on), on the small demo city running the tertial reporting loop.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import select

from engine.clock import to_storage
from processes.calendar import STOCKHOLM
from processes.models import CalendarToken, CouncilMeeting
from tests.city import City
from tests.test_notifications import start_loop
from tests.test_process_tertial_loop import CALENDAR, GREEN, report
from tests.test_webui_auth import make_app, post, sign_in

FEED = re.compile(r'id="kalenderadress" value="(http://localhost(/kalender/[A-Za-z0-9_-]+\.ics))"')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> City:
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


def signed_in(app: Flask, user: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, user)
    return client


def new_address(client: FlaskClient) -> str:
    """Make a calendar address on the settings page; returns its path (shown this once)."""
    page = post(client, "/konto/kalender/ny")
    assert page.status_code == 200
    match = FEED.search(page.get_data(as_text=True))
    assert match, "the new address is shown on the page"
    return match.group(2)


def fetch(app: Flask, path: str) -> Calendar:
    """The feed as a calendar program reads it: no session, no cookies."""
    response = app.test_client().get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    return Calendar.from_ical(response.data)


def events(calendar: Calendar) -> dict[str, Any]:
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def task_uid(task_id: int) -> str:
    return f"kedja-task-{task_id}@localhost"


# -- what the feed holds ----------------------------------------------------------------------


def test_the_feed_holds_the_users_deadlines_in_stockholm_time(any_city: City) -> None:
    city = any_city
    start_loop(city)
    city.advance_to(CALENDAR["t1_period_end"])
    app = make_app(city)
    path = new_address(signed_in(app, "ansvarig.bromma"))
    calendar = fetch(app, path)

    assert str(calendar["VERSION"]) == "2.0" and str(calendar["METHOD"]) == "PUBLISH"
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Stockholm"

    task = city.task("ansvarig.bromma", "tertial_report", "bromma")
    found = events(calendar)
    deadline = found[task_uid(task.id)]
    start = deadline["DTSTART"]
    assert start.params["TZID"] == "Europe/Stockholm"
    assert start.dt == datetime(2026, 5, 15, 23, 59, 59, tzinfo=STOCKHOLM)
    assert start.dt.utcoffset().total_seconds() == 2 * 3600  # summer time
    assert str(deadline["SUMMARY"]) == (
        "Sista dag: Rapportera tertialen (Bromma stadsdelsförvaltning)"
    )
    assert str(deadline["URL"]) == f"http://localhost/uppgifter/{task.id}"
    assert "DTSTAMP" in deadline and "DTEND" not in deadline
    assert str(deadline["TRANSP"]) == "TRANSPARENT"

    # The governance calendar of this year and next, as all-day events.
    report_day = found["kedja-2026-t1-report@localhost"]
    assert report_day["DTSTART"].dt == date(2026, 5, 15)
    assert str(report_day["SUMMARY"]) == "Sista dag för tertialrapport T1 2026"
    assert found["kedja-2026-t1-period-end@localhost"]["DTSTART"].dt == date(2026, 4, 30)
    assert found["kedja-2026-revision@localhost"]["DTSTART"].dt == date(2026, 10, 1)
    window = found["kedja-2026-prize-nominations@localhost"]
    assert (window["DTSTART"].dt, window["DTEND"].dt) == (date(2026, 3, 1), date(2026, 5, 1))
    assert "kedja-2026-prize-ceremony@localhost" in found
    assert found["kedja-2027-t3-report@localhost"]["DTSTART"].dt == date(2028, 2, 15)
    assert not any(uid.startswith("kedja-2028-") for uid in found)
    for event in found.values():
        assert "DTSTAMP" in event and "SUMMARY" in event

    # Stable: the same UIDs on the next fetch, so a calendar program updates, not duplicates.
    assert set(events(fetch(app, path))) == set(found)


def test_another_users_tasks_never_appear(any_city: City) -> None:
    city = any_city
    start_loop(city)
    city.advance_to(CALENDAR["t1_period_end"])
    report(city, "farsta", GREEN)  # a review task for the coordinator
    app = make_app(city)
    bromma = events(fetch(app, new_address(signed_in(app, "ansvarig.bromma"))))
    coordinator = events(fetch(app, new_address(signed_in(app, "samordnare"))))
    admin = events(fetch(app, new_address(signed_in(app, "admin"))))

    def tasks(found: dict[str, Any]) -> set[str]:
        return {uid for uid in found if uid.startswith("kedja-task-")}

    own = city.task("ansvarig.bromma", "tertial_report", "bromma")
    review = city.task("samordnare", "review_tertial_report", "farsta")
    assert tasks(bromma) == {task_uid(own.id)}
    assert tasks(coordinator) == {task_uid(review.id)}
    # An administrator may act on any task, but their calendar holds only their own work.
    assert tasks(admin) == set()


def test_a_claimed_task_leaves_the_colleagues_feeds(city: City) -> None:
    city.register.add_user(
        "ansvarig2.bromma",
        "Andra Ansvarig",
        email="ansvarig2.bromma@demo.kedja.example",
        organisation="bromma",
        password="kedja-demo",
        grants=[("responsible", "bromma")],
    )
    start_loop(city)
    city.advance_to(CALENDAR["t1_period_end"])
    task = city.task("ansvarig.bromma", "tertial_report", "bromma")
    app = make_app(city)
    colleague = new_address(signed_in(app, "ansvarig2.bromma"))
    assert task_uid(task.id) in events(fetch(app, colleague))
    city.engine.tasks.claim(task.id, city.actor("ansvarig.bromma"))
    assert task_uid(task.id) not in events(fetch(app, colleague))


def test_an_english_user_gets_english_texts_and_meetings_are_in_it(city: City) -> None:
    city.register.set_language("ansvarig.farsta", "en")
    meets = datetime(2026, 6, 10, 13, 0, tzinfo=STOCKHOLM)
    with city.engine.db.write() as session:
        session.add(
            CouncilMeeting(
                meets_at=to_storage(meets), title="Riskhanteringsrådet", location="Stadshuset"
            )
        )
    start_loop(city)
    city.advance_to(CALENDAR["t1_period_end"])
    app = make_app(city)
    found = events(fetch(app, new_address(signed_in(app, "ansvarig.farsta"))))
    task = city.task("ansvarig.farsta", "tertial_report", "farsta")
    assert str(found[task_uid(task.id)]["SUMMARY"]) == (
        "Due: Rapportera tertialen (Farsta stadsdelsförvaltning)"
    )
    assert str(found["kedja-2026-t1-report@localhost"]["SUMMARY"]) == (
        "Deadline for the tertial report T1 2026"
    )
    [meeting] = [e for uid, e in found.items() if uid.startswith("kedja-meeting-")]
    assert meeting["DTSTART"].dt == meets and meeting["DTSTART"].params["TZID"] == (
        "Europe/Stockholm"
    )
    assert str(meeting["LOCATION"]) == "Stadshuset"


# -- the token ------------------------------------------------------------------------------------


def test_a_revoked_or_replaced_or_unknown_token_gets_404(city: City) -> None:
    app = make_app(city)
    client = signed_in(app, "ansvarig.bromma")
    first = new_address(client)
    fetch(app, first)

    second = new_address(client)  # a new address replaces the old one
    assert app.test_client().get(first).status_code == 404
    fetch(app, second)

    assert post(client, "/konto/kalender/aterkalla").status_code == 302
    assert app.test_client().get(second).status_code == 404
    page = client.get("/konto/").get_data(as_text=True)
    assert "Du har ingen kalenderadress." in page

    anonymous = app.test_client()
    assert anonymous.get("/kalender/" + "A" * 43 + ".ics").status_code == 404
    assert anonymous.get("/kalender/kort.ics").status_code == 404


def test_only_the_tokens_hash_is_stored_and_it_is_shown_once(city: City) -> None:
    app = make_app(city)
    client = signed_in(app, "ansvarig.bromma")
    path = new_address(client)
    token = path.removeprefix("/kalender/").removesuffix(".ics")
    assert len(token) >= 43  # 256 random bits
    with city.engine.db.read() as session:
        rows = session.scalars(select(CalendarToken)).all()
    assert [r.token_hash for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in str(vars(r)) for r in rows)
    later = client.get("/konto/").get_data(as_text=True)
    assert token not in later and "Du har en kalenderadress sedan" in later


def test_an_inactive_users_feed_is_gone(city: City) -> None:
    app = make_app(city)
    path = new_address(signed_in(app, "ansvarig.bromma"))
    from processes.models import User

    with city.engine.db.write() as session:
        session.get(User, "ansvarig.bromma").active = False  # type: ignore[union-attr]
    assert app.test_client().get(path).status_code == 404


def test_the_calendar_address_is_made_only_by_its_signed_in_owner(city: City) -> None:
    app = make_app(city)
    anonymous = app.test_client()
    assert anonymous.post("/konto/kalender/ny").status_code in (302, 400)
    client = signed_in(app, "ansvarig.bromma")
    # Without the form's CSRF token nothing is made.
    assert client.post("/konto/kalender/ny").status_code == 400
    with city.engine.db.read() as session:
        assert session.scalars(select(CalendarToken)).all() == []
