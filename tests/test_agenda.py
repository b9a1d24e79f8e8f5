"""The council's calendar: its meetings (the calendar's default dates and the ones an
administrator adds), the agenda of its next meeting (`/oversikt/dagordning`,
`processes.agenda`), and the annual wheel that shows the year's dates
(`/oversikt/arshjul`).

Agenda items are real tasks of the small demo city: the council's treatment of a tertial
report (a T1 run through `tertial_loop`) and of a revised guideline (the annual revision run
to the council's deliberation).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from flask import Flask
from flask.testing import FlaskClient

from engine.errors import NotFound, ValidationError
from processes import agenda
from processes.calendar import STOCKHOLM, CalendarRules, GovernanceCalendar
from tests.test_dashboard import complete_t1, simulate_t1
from tests.test_webui_auth import (
    JINJA,
    KEYWORDS,
    METHODS,
    _catalogue,
    _message_key,
    make_app,
    post,
    sign_in,
)
from tests.test_webui_decisions import open_task, revision_at_council

WEBUI = Path(__file__).resolve().parents[1] / "webui"
MEETINGS_2026 = [
    "2026-02-10T13:00:00+01:00",
    "2026-04-14T13:00:00+02:00",
    "2026-06-09T13:00:00+02:00",
    "2026-09-08T13:00:00+02:00",
    "2026-11-10T13:00:00+01:00",
    "2026-12-08T13:00:00+01:00",
]


@pytest.fixture
def app(city: Any) -> Flask:
    return make_app(city)


def client_for(app: Flask, user: str) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    return client


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def council_item_after_t1(city: Any) -> Any:
    """T1 reported (two late) and accepted: the council's `council_tertial` is open."""
    simulate_t1(city)
    complete_t1(city)
    return open_task(city, city.task("radet1", "council_tertial").instance_id, "council_tertial")


# -- meeting dates ----------------------------------------------------------------------------


def test_the_council_meets_on_the_second_tuesday_of_six_months() -> None:
    meetings = GovernanceCalendar().council_meetings(2026)
    assert [m.isoformat() for m in meetings] == MEETINGS_2026
    for year in range(2026, 2036):
        for meeting in GovernanceCalendar().council_meetings(year):
            assert meeting.weekday() == 1 and 8 <= meeting.day <= 14
            assert meeting.time() == time(13, 0) and meeting.tzinfo == STOCKHOLM


def test_meeting_rules_can_be_changed_and_a_holiday_moves_the_meeting() -> None:
    rules = CalendarRules(
        council_meetings=((1, 1, 3), (5, 5, 4)),  # first Thursday of January, fifth Friday of May
        council_meeting_time=(9, 30),
        overrides={2027: {"council_meeting_time": (15, 0)}},
    )
    calendar = GovernanceCalendar(rules)
    # 1 January 2026 is a Thursday and New Year's Day: the meeting moves to Friday 2 January.
    # May 2026 has five Fridays (1, 8, 15, 22, 29).
    assert calendar.council_meetings(2026) == [
        datetime(2026, 1, 2, 9, 30, tzinfo=STOCKHOLM),
        datetime(2026, 5, 29, 9, 30, tzinfo=STOCKHOLM),
    ]
    # May 2027 has four Fridays: "the fifth" is the last one.
    assert calendar.council_meetings(2027)[1] == datetime(2027, 5, 28, 15, 0, tzinfo=STOCKHOLM)


def test_an_added_meeting_joins_the_defaults_and_replaces_one_on_its_day(
    any_city: Any,
) -> None:
    eng = any_city.engine
    extra = agenda.add_meeting(eng, date(2026, 10, 13), time(10, 0), "Extra sammanträde", "Rum 3")
    moved = agenda.add_meeting(eng, date(2026, 6, 9), time(9, 0), "", "Stadshuset")
    meetings = agenda.meetings(eng, 2026)
    assert [m.meets_at.isoformat() for m in meetings] == [
        "2026-02-10T13:00:00+01:00",
        "2026-04-14T13:00:00+02:00",
        "2026-06-09T09:00:00+02:00",  # the default at 13:00 is replaced
        "2026-09-08T13:00:00+02:00",
        "2026-10-13T10:00:00+02:00",
        "2026-11-10T13:00:00+01:00",
        "2026-12-08T13:00:00+01:00",
    ]
    assert [m.is_default for m in meetings] == [True, True, False, True, False, True, True]
    assert meetings[2].title == agenda.DEFAULT_TITLE and meetings[2].location == "Stadshuset"
    assert meetings[4] == extra
    with pytest.raises(ValidationError):
        agenda.add_meeting(eng, date(2026, 10, 13), time(15, 0))  # one meeting a day
    with pytest.raises(ValidationError):
        agenda.add_meeting(eng, date(2025, 12, 1), time(13, 0))  # in the past
    agenda.remove_meeting(eng, moved.id)
    assert agenda.meeting_on(eng, date(2026, 6, 9)).meets_at.hour == 13  # the default is back
    with pytest.raises(NotFound):
        agenda.remove_meeting(eng, moved.id)
    with pytest.raises(NotFound):
        agenda.meeting_on(eng, date(2026, 6, 10))


def test_the_next_meeting_is_the_first_still_to_come(city: Any) -> None:
    assert agenda.next_meeting(city.engine).meets_at.isoformat() == MEETINGS_2026[0]
    city.advance_to("2026-12-08T13:00:00+01:00")
    assert agenda.next_meeting(city.engine).meets_at.isoformat() == MEETINGS_2026[-1]
    city.advance_to("2026-12-08T13:01:00+01:00")
    assert agenda.next_meeting(city.engine).meets_at.isoformat() == "2027-02-09T13:00:00+01:00"


# -- the agenda -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> Any:
    """The demo city on SQLite and on PostgreSQL."""
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


def test_the_agenda_holds_what_awaits_the_council_from_before_the_meeting(
    any_city: Any,
) -> None:
    city = any_city
    task = council_item_after_t1(city)  # accepted 20 May
    meeting = agenda.next_meeting(city.engine)
    assert meeting.meets_at.isoformat() == "2026-06-09T13:00:00+02:00"
    [item] = agenda.agenda(city.engine, meeting)
    assert item.task.id == task.id and item.task.role == "council"
    assert item.business_key == "tertial_loop:2026"
    assert "4 av 4 organisationer har rapporterat" in item.data["rapport_for_radet"]
    # An earlier meeting's agenda did not have it: it came in after that meeting.
    assert agenda.agenda(city.engine, agenda.meeting_on(city.engine, date(2026, 4, 14))) == []

    # Not decided in June: still on the agenda in the autumn, now with the guideline too.
    revision = revision_at_council(city)  # reaches the council on 1 October
    autumn = agenda.next_meeting(city.engine)
    assert autumn.meets_at.isoformat() == "2026-11-10T13:00:00+01:00"
    items = agenda.agenda(city.engine, autumn)
    assert [(i.task.element_id, i.task.instance_id) for i in items] == [
        ("council_tertial", task.instance_id),
        ("council_deliberation", revision),
    ]
    # Decided: off the agenda.
    city.complete("radet2", task, {"beslut": "noterar", "motivering": "Noterat."})
    assert [i.task.element_id for i in agenda.agenda(city.engine, autumn)] == [
        "council_deliberation"
    ]


def test_the_agenda_page_attaches_each_items_case(city: Any, app: Flask) -> None:
    task = council_item_after_t1(city)
    html = page(client_for(app, "radet1"), "/oversikt/dagordning")
    assert "Riskhanteringsrådets sammanträde" in html and "2026-06-09 13:00" in html
    assert task.name in html
    assert "§ 1" in html
    assert f'href="/uppgifter/{task.id}"' in html
    assert f'href="/arenden/{task.instance_id}"' in html
    # The case's documents: the council's summary, not the fields the council fills in.
    assert "Sammanställning" in html and "4 av 4 organisationer har rapporterat" in html
    assert "Sena rapporter: AB Svenska Bostäder, Bromma stadsdelsförvaltning." in html
    assert 'name="beslut"' not in html and "Motivering" not in html
    # Printable: the print button is a script file, the links are printed in full.
    assert 'src="/static/print.js"' in html
    assert f"http://localhost/uppgifter/{task.id}" in html
    assert " style=" not in html and "<script>" not in html
    # Another meeting's agenda by its date; a day without a meeting is 404.
    earlier = page(client_for(app, "radet1"), "/oversikt/dagordning?mote=2026-04-14")
    assert "Inga ärenden väntar på rådet." in earlier
    assert "Sammanträdet har redan hållits." in earlier
    page(client_for(app, "radet1"), "/oversikt/dagordning?mote=2026-04-15", 404)
    page(client_for(app, "radet1"), "/oversikt/dagordning?mote=igår", 404)


def test_the_agenda_in_english(city: Any, app: Flask) -> None:
    council_item_after_t1(city)
    city.register.set_language("sekreterare", "en")
    html = page(client_for(app, "sekreterare"), "/oversikt/dagordning")
    assert "Meeting of the risk management council" in html
    assert "Agenda" in html and "Documents" in html and "Open the task" in html
    assert '<span lang="sv">' in html  # the process's Swedish text is marked as Swedish


@pytest.mark.parametrize("user", ["radet1", "sekreterare", "samordnare", "admin"])
def test_the_council_its_secretary_and_the_coordinator_read_the_agenda(
    city: Any, app: Flask, user: str
) -> None:
    task = council_item_after_t1(city)
    assert task.name in page(client_for(app, user), "/oversikt/dagordning")


@pytest.mark.parametrize("user", ["ansvarig.farsta", "chef.bromma", "revisor", "stadsdirektor"])
def test_others_may_not_read_the_agenda(city: Any, app: Flask, user: str) -> None:
    page(client_for(app, user), "/oversikt/dagordning", 403)


# -- planning meetings -------------------------------------------------------------------------


def test_the_secretary_adds_and_removes_a_meeting(city: Any, app: Flask) -> None:
    client = client_for(app, "sekreterare")
    html = page(client, "/oversikt/dagordning")
    assert "Lägg till ett sammanträde" in html
    response = post(
        client,
        "/oversikt/dagordning/moten",
        {"datum": "2026-03-17", "tid": "10:00", "titel": "Extra sammanträde", "plats": "Rum 1"},
    )
    assert response.status_code == 302
    html = page(client, "/oversikt/dagordning")
    assert "Sammanträdet den 2026-03-17 är tillagt." in html
    assert "Extra sammanträde" in html and "Rum 1" in html
    assert agenda.next_meeting(city.engine).meets_at.isoformat() == MEETINGS_2026[0]
    [added] = [m for m in agenda.meetings(city.engine, 2026) if not m.is_default]
    assert added.meets_at.isoformat() == "2026-03-17T10:00:00+01:00"
    # The wheel shows it.
    assert "Extra sammanträde, Rum 1" in page(client, "/oversikt/arshjul")
    response = post(client, f"/oversikt/dagordning/moten/{added.id}/ta-bort")
    assert response.status_code == 302
    assert all(m.is_default for m in agenda.meetings(city.engine, 2026))
    assert post(client, f"/oversikt/dagordning/moten/{added.id}/ta-bort").status_code == 404


def test_a_wrong_meeting_form_says_what_to_correct(city: Any, app: Flask) -> None:
    client = client_for(app, "admin")
    response = post(client, "/oversikt/dagordning/moten", {"datum": "", "tid": "kl 13"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'class="error-summary' in html
    assert '<a href="#mote-datum">Ange sammanträdets datum.</a>' in html
    assert 'href="#mote-tid"' in html
    assert re.search(r'id="mote-datum"[^>]*aria-invalid="true"', html)
    assert 'aria-describedby="mote-datum-hjalp mote-datum-fel"' in html
    past = post(client, "/oversikt/dagordning/moten", {"datum": "2025-06-01", "tid": "13:00"})
    assert "Datumet har redan varit." in past.get_data(as_text=True)
    agenda.add_meeting(city.engine, date(2026, 3, 3), time(13, 0))
    twice = post(client, "/oversikt/dagordning/moten", {"datum": "2026-03-03", "tid": "14:00"})
    assert "Det finns redan ett tillagt sammanträde den dagen." in twice.get_data(as_text=True)
    assert len([m for m in agenda.meetings(city.engine, 2026) if not m.is_default]) == 1


def test_only_the_secretary_and_administrators_plan_meetings(city: Any, app: Flask) -> None:
    added = agenda.add_meeting(city.engine, date(2026, 3, 3), time(13, 0))
    for user in ("radet1", "samordnare", "ansvarig.farsta"):
        client = client_for(app, user)
        form = {"datum": "2026-03-24", "tid": "13:00"}
        assert post(client, "/oversikt/dagordning/moten", form).status_code == 403
        assert post(client, f"/oversikt/dagordning/moten/{added.id}/ta-bort").status_code == 403
    assert "Lägg till ett sammanträde" not in page(
        client_for(app, "radet1"), "/oversikt/dagordning"
    )
    # CSRF: a form without the token is refused.
    client = client_for(app, "sekreterare")
    assert (
        client.post("/oversikt/dagordning/moten", data={"datum": "2026-03-24"}).status_code == 400
    )
    assert len(agenda.meetings(city.engine, 2026)) == 7


# -- the annual wheel --------------------------------------------------------------------------


def test_the_wheel_draws_the_years_dates_and_lists_them_as_text(city: Any, app: Flask) -> None:
    city.advance_to("2026-05-18T10:00:00+02:00")
    html = page(client_for(app, "ansvarig.farsta"), "/oversikt/arshjul")  # anyone signed in
    assert 'role="img" aria-labelledby="hjul-titel hjul-beskrivning"' in html
    assert '<title id="hjul-titel">Årshjul 2026</title>' in html
    rows = re.findall(
        r'<tr(?: class="past")?>\s*<td>(\d+)</td>\s*'
        r'<td><time datetime="([^"]+)">([^<]+)</time></td>\s*<th scope="row">([^<]+)</th>',
        html,
    )
    listed = {label: (int(number), shown) for number, _iso, shown, label in rows}
    assert listed["Sista dag för T1 2026"][1] == "2026-05-15"
    assert listed["Påminnelse om T1 2026"][1] == "2026-05-07"
    assert listed["Sista dag för T3 2025"][1] == "2026-02-16"  # last year's T3, due in February
    assert listed["T2 2026 slutar"][1] == "2026-08-31"
    assert listed["Årlig översyn av riktlinjen"][1] == "2026-10-01"
    assert listed["Nomineringen till trygghetspriset öppnar"][1] == "2026-03-01"
    assert listed["Nomineringen till trygghetspriset stänger"][1] == "2026-04-30"
    assert listed["Trygghetspriset delas ut"][1] == "2026-11-16"  # 15 Nov is a Sunday
    meetings = [
        shown for _n, _iso, shown, label in rows if label == "Riskhanteringsrådets sammanträde"
    ]
    assert meetings == [m[:10] + " 13:00" for m in MEETINGS_2026]
    # Every row's number is a marker in the picture, and every marker a row.
    markers = re.findall(r'class="marker-number"[^>]*>(\d+)</text>', html)
    assert sorted(int(m) for m in markers) == sorted(int(r[0]) for r in rows)
    assert len(rows) == 19
    # Today is marked in the picture and in the table; 2026 is a survey year.
    assert 'class="today-line"' in html
    assert (
        '<tr class="today-row"><td>–</td><td><time datetime="2026-05-18">2026-05-18</time>' in html
    )
    assert "2026 är ett mätår för stadens trygghetsmätning." in html
    # Nothing inline for the content security policy to refuse.
    assert " style=" not in html and "<style" not in html and "<script" not in html


def test_the_wheel_shows_another_year_without_today(city: Any, app: Flask) -> None:
    client = client_for(app, "radet1")
    html = page(client, "/oversikt/arshjul?ar=2027")
    assert "Årshjul 2027" in html and 'class="today-line"' not in html
    assert "today-row" not in html
    assert "2027-02-09 13:00" in html  # the council's first meeting of 2027
    assert "2027 är inte ett mätår" in html
    assert '<option value="2027" selected>' in html
    assert "Årshjul 2026" in page(client, "/oversikt/arshjul?ar=tjugo")  # a bad year: this one


def test_the_wheel_in_english(city: Any, app: Flask) -> None:
    city.register.set_language("radet1", "en")
    html = page(client_for(app, "radet1"), "/oversikt/arshjul")
    assert '<html lang="en">' in html
    assert "Annual wheel 2026" in html and "T1 2026 report due" in html
    assert "Meeting of the risk management council" in html
    assert ">Jan</text>" in html  # month names in English


# -- the English catalogue -----------------------------------------------------------------------


def test_every_message_of_the_overview_has_an_english_translation() -> None:
    folder = WEBUI / "overview"
    english = _catalogue(folder / "translations/en/LC_MESSAGES/messages.po")
    used = {
        _message_key(message, context)
        for _file, _line, message, _comments, context in extract_from_dir(
            folder, METHODS, {"**/templates/**.html": JINJA}, keywords=KEYWORDS
        )
    }
    assert sorted(used - english.keys(), key=str) == []
