"""The safety prize (Trygghetspriset) over a simulated year, as the city's people run it.

Why a whole year: the prize is mostly waiting (for the window to open and close, for the jury's
deadline, for the ceremony, for the retention period to end), and its rules live at those
boundaries: a nomination after the close must be refused, not parked; only the public fields
of a nomination may enter the process; the jury's tie must be resolved by the chair; the
nominators' personal data must be erased when the retention period ends, except the winner's.
The test drives the deployed diagram through the engine's task API as the named users of the
demo city (tests/city.py), on a real database, with the simulated clock.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from engine.errors import NotFound, NotPermitted
from engine.models import HumanTask
from engine.tasks import TaskInfo
from processes import nominations
from processes.calendar import STOCKHOLM
from processes.models import Nomination
from tests.city import City

YEAR = 2026
JURY = ["jury1", "jury2", "jury3", "juryordf"]
OPEN_PRIZE = {
    "tema": "Trygga mötesplatser",
    "jury": JURY,
    "prissumma": 50000,
    "bekraftas_av": "council",
    "gallringsdagar": 90,
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> City:
    """The demo city on SQLite and on PostgreSQL: the year-long scenario runs on both."""
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


def nominate(city: City, nominee: str, organisation: str, email: str) -> str:
    """A nomination through the public form; returns its id as the process keeps it."""
    submitted = nominations.submit(
        city.engine,
        YEAR,
        {
            "nominee": nominee,
            "nominee_organisation": organisation,
            "description": f"{nominee} gör kvällarna tryggare för unga.",
            "nominator_name": f"Nominerare {nominee}",
            "nominator_email": email,
            "consent": "ja",
        },
    )
    return str(submitted.nomination_id)


def task_data(city: City, task: TaskInfo) -> dict[str, Any]:
    """The data a task's form is filled from (what the person doing it sees)."""
    with city.engine.db.read() as session:
        spiff_id = session.get(HumanTask, task.id).spiff_task_id
    workflow = city.engine.runtime.workflow(task.instance_id)
    return dict(workflow.get_task_from_id(UUID(spiff_id)).data)


def open_tasks(city: City, user: str, element_id: str) -> list[TaskInfo]:
    return [t for t in city.tasks(user) if t.element_id == element_id]


def fired(timers: list[Any]) -> list[str]:
    return [t.element_id for t in timers if t.incident is None]


def nominator_email(city: City, nomination_id: str) -> str | None:
    with city.engine.db.read() as session:
        return session.get(Nomination, int(nomination_id)).nominator_email


def test_a_year_of_the_safety_prize(any_city: City) -> None:
    city = any_city
    iid = city.start("safety_prize", YEAR)

    # January: the prize is not open yet, so a nomination has nowhere to go.
    with pytest.raises(NotFound):
        nominate(city, "För tidigt", "", "tidig@example.se")

    # The prize administrator opens the year; the window comes from the calendar.
    city.complete("prisadmin", city.task("prisadmin", "open_prize"), OPEN_PRIZE)
    data = city.instance(iid).data
    assert data["nominations_open_at"] == data["prize_nominations_open"]
    assert data["nominations_close_at"] == data["prize_nominations_close"]
    assert data["confirm_role"] == "council"
    with pytest.raises(NotFound):  # still before 1 March
        nominate(city, "Fortfarande för tidigt", "", "tidig@example.se")

    # 1 March: the window opens. Three nominations through the public form, one as a bare
    # `nomination` message (another channel, same contract).
    assert "wait_window_open" in fired(city.advance_to("2026-03-01T08:00"))
    nattvandrarna = nominate(city, "Nattvandrarna i Farsta", "Farsta", "anna@example.se")
    kupolen = nominate(city, "Fritidsgården Kupolen", "Bromma", "bertil@example.se")
    city.advance_to("2026-03-20T10:00")
    parkvardarna = nominate(city, "Parkvärdarna", "Trafikkontoret", "cecilia@example.se")
    reklam = "9001"
    assert (
        city.engine.runtime.correlate(
            "nomination",
            {
                "year": YEAR,
                "nomination_id": 9001,
                "nominee": "Larmbolaget AB",
                "nominee_organisation": "",
                "description": "Vi säljer larm.",
            },
            {"year": YEAR},
        )
        == iid
    )
    data = city.instance(iid).data
    assert [n["nomination_id"] for n in data["nominations"]] == [
        nattvandrarna,
        kupolen,
        parkvardarna,
        reklam,
    ]
    # Only the public fields enter the process: no nominator's name or e-mail, anywhere.
    assert set(data["nominations"][0]) == {
        "nomination_id",
        "nominee",
        "nominee_organisation",
        "description",
    }
    trail = json.dumps([data, city.history(iid)], default=str, ensure_ascii=False)
    assert "anna@example.se" not in trail and "Nominerare" not in trail

    # 30 April at midnight the window closes; a late nomination is refused with a clear error
    # and not stored, and no instance is left waiting for it.
    assert "nominations_closed" in fired(city.advance_to("2026-05-01T09:00"))
    with pytest.raises(NotFound, match="inte öppen"):
        nominate(city, "För sent", "", "sen@example.se")
    with pytest.raises(NotFound, match="No instance is waiting"):
        city.engine.runtime.correlate("nomination", {"year": YEAR}, {"year": YEAR})
    with city.engine.db.read() as session:
        assert session.scalars(select(Nomination.nominee)).all() == [
            "Nattvandrarna i Farsta",
            "Fritidsgården Kupolen",
            "Parkvärdarna",
        ]

    # Screening: one task per nomination for the prize administrator.
    screens = open_tasks(city, "prisadmin", "screen_nomination")
    assert len(screens) == 4
    for task in screens:
        shown = task_data(city, task)["nominering"]
        if shown["nomination_id"] == reklam:
            answer = {"beslut": "ej_valbar", "motivering": "Reklam för ett eget företag."}
        else:
            answer = {"beslut": "valbar", "motivering": "Verkar i staden för trygghet."}
        city.complete("prisadmin", task, answer)
    data = city.instance(iid).data
    assert [n["nomination_id"] for n in data["eligible"]] == [nattvandrarna, kupolen, parkvardarna]
    assert data["screened_out"] == [
        {
            "nomination_id": reklam,
            "nominee": "Larmbolaget AB",
            "eligible": False,
            "reason": "Reklam för ett eget företag.",
        }
    ]

    # Scoring: each jury member gets exactly one task, over the eligible nominations only.
    scoring = {member: city.task(member, "score_nominations") for member in JURY}
    assert len({t.id for t in scoring.values()}) == len(JURY)
    assert all(t.due_at is not None for t in scoring.values())
    table = task_data(city, scoring["jury1"])["poangsattning"]
    assert [row["nomination_id"] for row in table] == [nattvandrarna, kupolen, parkvardarna]
    with pytest.raises(NotPermitted):
        city.complete("jury2", scoring["jury1"], {"poangsattning": table})

    def scores(a: int, b: int, c: int) -> dict[str, Any]:
        return {
            "poangsattning": [
                {**row, "poang": points, "kommentar": f"{points} poäng"}
                for row, points in zip(table, (a, b, c), strict=True)
            ]
        }

    # Nattvandrarna and Kupolen end level on 17 points each.
    city.complete("jury1", scoring["jury1"], scores(5, 4, 2))
    city.complete("jury2", scoring["jury2"], scores(4, 5, 3))
    city.complete("jury3", scoring["jury3"], scores(3, 4, 3))
    # The reminder goes out five working days before the deadline; the task stays open.
    assert "remind_jury" in fired(city.advance_to(city.instance(iid).data["jury_reminder"]))
    reminded = [n for n in city.notifications() if n["subject"].startswith("Påminnelse")]
    assert sorted(n["recipient"] for n in reminded) == sorted(JURY)
    city.complete("juryordf", city.task("juryordf", "score_nominations"), scores(5, 4, 1))

    # The chair sees the tie and casts the deciding vote; a choice outside the tie comes back.
    decision = city.task("juryordf", "jury_decision")
    shown = task_data(city, decision)["resultat"]
    assert shown["lika_poang"] is True
    assert shown["ledande"] == [nattvandrarna, kupolen]
    assert [r["summa"] for r in shown["summor"]] == [17, 17, 9]
    city.complete("juryordf", decision, {"vinnare": parkvardarna, "motivering": "Bäst."})
    again = city.task("juryordf", "jury_decision")
    assert "inte bland dem som fick högst poäng" in task_data(city, again)["anmarkning"]
    motivation = "Kupolen har på två år gjort parken till en trygg mötesplats för unga."
    city.complete("juryordf", again, {"vinnare": kupolen, "motivering": motivation})

    # The council may return the decision to the chair; then it confirms it.
    assert not open_tasks(city, "prisadmin", "confirm_decision")
    city.complete(
        "radet1",
        city.task("radet1", "confirm_decision"),
        {"beslut": "atervisa", "motivering": "Förtydliga motiveringen."},
    )
    returned = city.task("juryordf", "jury_decision")
    assert task_data(city, returned)["anmarkning"] == "Återvisat: Förtydliga motiveringen."
    motivation += " Ungdomarna själva driver arbetet."
    city.complete("juryordf", returned, {"vinnare": kupolen, "motivering": motivation})
    city.complete(
        "radet2",
        city.task("radet2", "confirm_decision"),
        {"beslut": "bekrafta", "motivering": "Väl motiverat."},
    )
    records = [d for d in city.decisions() if d["definition_key"] == "safety_prize"]
    assert [(d["kind"], d["decided_by"]) for d in records] == [
        ("jury", "juryordf"),
        ("council", "radet1"),
        ("jury", "juryordf"),
        ("council", "radet2"),
    ]
    assert "Fritidsgården Kupolen" in records[2]["subject"]
    assert records[2]["decision"] == f"vinnare {kupolen} (ordförandens utslagsröst)"
    assert records[3]["decision"] == "bekräftat"
    assert records[2]["motivation"] == motivation

    # Everyone is told: the nominators by e-mail (their addresses never entered the process),
    # the jury in Kedja.
    sent = city.notifications()
    assert sorted(n["email"] for n in sent if n["kind"] == "prize_outcome") == [
        "anna@example.se",
        "bertil@example.se",
        "cecilia@example.se",
    ]
    told = [n for n in sent if "beslut är bekräftat" in (n["subject"] or "")]
    assert sorted(n["recipient"] for n in told) == sorted(JURY)

    # The ceremony: the award task appears on the calendar's day, not before.
    assert not open_tasks(city, "prisadmin", "award_prize")
    assert "wait_ceremony" in fired(city.advance_to("2026-11-16T08:00"))
    city.complete(
        "prisadmin",
        city.task("prisadmin", "award_prize"),
        {"utdelat_datum": "2026-11-16", "utbetald_summa": 50000, "anteckningar": "Delades ut."},
    )
    assert city.instance(iid).data["publication"] == {"published": True}

    # The retention period ends 90 days after the ceremony: the non-winning nominators' data
    # is erased, the winner's kept with the decision.
    city.advance_to("2027-02-13T08:00")
    assert nominator_email(city, nattvandrarna) == "anna@example.se"
    assert "wait_retention" in fired(city.advance_to("2027-02-14T08:00"))
    done = city.instance(iid)
    assert done.state == "completed"
    assert done.data["erasure"] == {"erased": 2}
    assert nominator_email(city, nattvandrarna) is None
    assert nominator_email(city, parkvardarna) is None
    assert nominator_email(city, kupolen) == "bertil@example.se"


def test_a_year_without_nominations_awards_nothing_and_still_erases(city: City) -> None:
    iid = city.start("safety_prize", YEAR)
    city.complete(
        "prisadmin",
        city.task("prisadmin", "open_prize"),
        {**OPEN_PRIZE, "gallringsdagar": 30},
    )
    city.advance_to("2026-05-01T09:00")
    assert not open_tasks(city, "prisadmin", "screen_nomination")
    assert not open_tasks(city, "jury1", "score_nominations")
    notices = [n for n in city.notifications() if "inga valbara" in (n["subject"] or "")]
    assert sorted(n["recipient"] for n in notices) == sorted(JURY)

    city.advance_to("2026-12-16T08:00")  # 30 days after the ceremony
    done = city.instance(iid)
    assert done.state == "completed"
    assert done.data["erasure"] == {"erased": 0}
    assert not [d for d in city.decisions() if d["definition_key"] == "safety_prize"]


def test_the_configured_role_confirms_the_decision(city: City) -> None:
    iid = city.start("safety_prize", YEAR)
    city.complete(
        "prisadmin",
        city.task("prisadmin", "open_prize"),
        {
            **OPEN_PRIZE,
            "jury": ["jury1", "juryordf"],
            "bekraftas_av": "city_director",
            "nominering_stanger": "2026-04-15",  # shorter than the calendar's window
            "jury_senast": "2026-05-29",
        },
    )
    city.advance_to("2026-03-02T09:00")
    only = nominate(city, "Grannsamverkan Bromma", "Bromma", "dora@example.se")
    assert "nominations_closed" in fired(city.advance_to("2026-04-16T09:00"))
    with pytest.raises(NotFound):
        nominate(city, "För sent", "", "sen@example.se")
    screen = city.task("prisadmin", "screen_nomination")
    city.complete("prisadmin", screen, {"beslut": "valbar", "motivering": "Uppfyller kraven."})
    assert not open_tasks(city, "jury2", "score_nominations")  # not on this year's jury
    for member in ("jury1", "juryordf"):
        task = city.task(member, "score_nominations")
        assert task.due_at == datetime(2026, 5, 29, 16, 0, tzinfo=STOCKHOLM)
        table = task_data(city, task)["poangsattning"]
        city.complete(member, task, {"poangsattning": [{**table[0], "poang": 4}]})
    decision = city.task("juryordf", "jury_decision")
    assert task_data(city, decision)["resultat"]["lika_poang"] is False
    city.complete("juryordf", decision, {"vinnare": only, "motivering": "Enig jury."})

    # The city director confirms this year, not the council.
    assert not open_tasks(city, "radet1", "confirm_decision")
    confirm = city.task("stadsdirektor", "confirm_decision")
    assert confirm.role == "city_director"
    city.complete("stadsdirektor", confirm, {"beslut": "bekrafta", "motivering": "Bekräftas."})
    records = [d for d in city.decisions() if d["definition_key"] == "safety_prize"]
    assert [(d["kind"], d["decision"]) for d in records] == [
        ("jury", f"vinnare {only}"),
        ("city_director", "bekräftat"),
    ]
    assert city.instance(iid).data["nominators_notified"] == {"queued": 1}
