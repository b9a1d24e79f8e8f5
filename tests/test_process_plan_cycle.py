"""Scenario tests of the plan-to-follow-up cycle (`plan_cycle`) over a simulated 2026.

The guideline asks for documented planning that starts from a local situation picture
(lägesbild), an action plan decided from it, follow-up every tertial and a yearly evaluation
whose conclusions seed next year's lägesbild. These tests run that year in the demo city: the
catalogue starts the cycle, the clock moves from deadline to deadline, and named people
complete their tasks through the engine's task API, so who sees which task (lanes as roles,
organisations as scope), what is due when, which decisions are registered and how the data
flows (lägesbild -> action plan -> tertial status per measure -> annual evaluation -> next
year's lägesbild) are all tested with the flow. The tertial loop is driven through its
documented element ids. Real databases, no mocks.

People act a minute apart (`act`): decision records take who decided from the completed task,
and real people never complete two tasks in the same microsecond.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from engine.errors import ValidationError
from engine.models import HumanTask
from engine.tasks import TaskInfo
from processes import demo
from processes.calendar import STOCKHOLM
from tests.city import City

KEY = "plan_cycle"
NAMES = {
    "farsta": "Farsta stadsdelsförvaltning",
    "bromma": "Bromma stadsdelsförvaltning",
    "trafikkontoret": "Trafikkontoret",
    "svenska_bostader": "AB Svenska Bostäder",
    "stadsledningskontoret": "Stadsledningskontoret",
    "socialforvaltningen": "Socialförvaltningen",
}
DISTRICTS = ("farsta", "bromma")
# Socialförvaltningen sits this year out (the coordinator unticks it): five take part.
TAKING_PART = ("farsta", "bromma", "trafikkontoret", "svenska_bostader", "stadsledningskontoret")
SOURCES = (
    "brottsstatistik",
    "trygghetsmatning",
    "incidentrapporter",
    "risk_och_sarbarhetsanalys",
    "raddningstjanstens_statistik",
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> City:
    """The demo city on SQLite and on PostgreSQL: the year-long scenario runs on both."""
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


# -- helpers ---------------------------------------------------------------------------------


def at(text: str) -> datetime:
    """A Stockholm wall-clock time, as people read deadlines."""
    return datetime.fromisoformat(text).replace(tzinfo=STOCKHOLM)


def act(
    city: City, user: str, element_id: str, data: dict[str, Any], org: str | None = None
) -> TaskInfo:
    """`user` opens their one open `element_id` task (for `org`) a minute later and
    completes it with `data`; returns the task as it was offered."""
    city.advance_to(city.clock.now() + timedelta(minutes=1))
    task = city.task(user, element_id, org)
    city.complete(user, task, data)
    return task


def task_data(city: City, task: TaskInfo) -> dict[str, Any]:
    """What the task's form is filled in from: the SpiffWorkflow task's data."""
    with city.engine.db.read() as session:
        spiff_id = session.get(HumanTask, task.id).spiff_task_id
    workflow = city.engine.runtime.workflow(task.instance_id)
    return workflow.get_task_from_id(UUID(spiff_id)).data


def open_tasks(city: City, element_id: str) -> list[TaskInfo]:
    """Every open task with this element id, whoever it is for."""
    return [t for t in city.engine.tasks.list(limit=1000).items if t.element_id == element_id]


def orgs_of(tasks: list[TaskInfo]) -> list[str]:
    return sorted(t.organisation or "" for t in tasks)


def decisions(city: City, kind: str, org: str | None = None) -> list[dict[str, Any]]:
    return [
        d
        for d in city.decisions()
        if d["kind"] == kind and (org is None or d["organisation"] == org)
    ]


def lagesbild(org: str) -> dict[str, Any]:
    """A lägesbild built from crime statistics and incident reports; the others unused."""
    data: dict[str, Any] = {source: {"anvand": False} for source in SOURCES}
    data["brottsstatistik"] = {
        "anvand": True,
        "sammanfattning": f"Skadegörelse ökar i {NAMES[org]}.",
        "bilaga": f"/filer/{org}-brottsstatistik.pdf",
    }
    data["incidentrapporter"] = {"anvand": True, "sammanfattning": "Tre hot mot personal."}
    data["analys"] = f"Skadegörelse och hot kring centrum i {NAMES[org]}, kvällstid."
    return data


def measures(org: str, count: int = 2) -> list[dict[str, str]]:
    return [
        {
            "orsak": f"Orsak {nr} i {NAMES[org]}",
            "atgard": f"Åtgärd {nr} i {NAMES[org]}",
            "operativt_mal": f"Mål {nr}",
            "nar": "mars–december 2026",
            "vem": "Enhetschef",
            "uppfoljning": f"Indikator {nr}, varje tertial",
        }
        for nr in range(1, count + 1)
    ]


APPROVE = {"beslut": "godkand", "motivering": "Planen bygger på lägesbilden."}


def open_year(city: City, taking_part: tuple[str, ...], year: int = 2026) -> int:
    """Start the year's cycle, confirm `taking_part` and let planning open."""
    instance = city.start(KEY, year)
    confirm = city.task("samordnare", "confirm_participants")
    rows = task_data(city, confirm)["deltagare"]
    for row in rows:
        row["delta"] = row["id"] in taking_part
    act(city, "samordnare", "confirm_participants", {"deltagare": rows})
    city.advance_to(at(f"{year}-03-02T08:00"))
    return instance


def report_tertial(city: City, statuses: dict[str, tuple[str, str]]) -> None:
    """Every organisation reports (status, colour) for all its measures; the coordinator
    accepts each report and the council takes note."""
    for org in TAKING_PART:
        user = f"ansvarig.{org}"
        rows = [
            {
                "nr": row["nr"],
                "atgard": row["atgard"],
                "status": statuses[org][0],
                "farg": statuses[org][1],
                "kommentar": f"Läget i {NAMES[org]}.",
            }
            for row in task_data(city, city.task(user, "tertial_report", org))["atgarder"]
        ]
        act(city, user, "tertial_report", {"atgarder": rows}, org)
    for org in TAKING_PART:
        act(
            city,
            "samordnare",
            "review_tertial_report",
            {"beslut": "godkand", "motivering": "Ok."},
            org,
        )
    act(city, "radet2", "council_tertial", {"beslut": "noterar", "motivering": "Noterat."})


# -- the year --------------------------------------------------------------------------------


def test_a_year_from_lagesbild_to_evaluation_seeds_next_years_lagesbild(any_city: City) -> None:
    city = any_city
    instance = city.start(KEY, 2026)

    # January: the coordinator confirms who takes part, from the register, all ticked.
    confirm = city.task("samordnare", "confirm_participants")
    assert confirm.due_at == at("2026-01-30T16:00")
    rows = task_data(city, confirm)["deltagare"]
    assert {r["id"] for r in rows} == set(NAMES)
    assert all(r["delta"] for r in rows)
    assert city.tasks("ansvarig.farsta") == []
    for row in rows:
        row["delta"] = row["id"] != "socialforvaltningen"
    act(city, "samordnare", "confirm_participants", {"deltagare": rows})
    data = city.instance(instance).data
    assert set(data["participant_ids"]) == set(TAKING_PART)
    assert data["to_appoint"] == []  # every demo organisation has a responsible person

    # Planning opens on 2 March, after last year's evaluations are in: not before.
    city.advance_to(at("2026-03-01T12:00"))
    assert open_tasks(city, "lagesbild") == []
    city.advance_to(at("2026-03-02T08:00"))
    assert orgs_of(open_tasks(city, "lagesbild")) == sorted(TAKING_PART)
    # The responsible person sees their own organisation's lägesbild, not another's.
    farsta = city.task("ansvarig.farsta", "lagesbild")
    assert [t.element_id for t in city.tasks("ansvarig.farsta")] == ["lagesbild"]
    assert city.tasks("ansvarig.socialforvaltningen") == []
    assert farsta.due_at == at("2026-03-20T16:00")
    assert task_data(city, farsta)["forra_arets_slutsatser"].startswith(
        "Ingen årlig utvärdering för 2025"
    )

    # A source marked as used needs a summary; nothing is stored when it is missing.
    broken = lagesbild("farsta")
    broken["trygghetsmatning"] = {"anvand": True}
    with pytest.raises(ValidationError):
        city.complete("ansvarig.farsta", farsta, broken)
    for org in TAKING_PART:
        if org != "stadsledningskontoret":
            act(city, f"ansvarig.{org}", "lagesbild", lagesbild(org))

    # Five working days before the deadline only the one still working on it is reminded.
    before = len(city.notifications())
    city.advance_to(at("2026-03-13T09:00"))
    reminded = [(n["recipient"], n["subject"]) for n in city.notifications()[before:]]
    assert reminded == [
        ("ansvarig.stadsledningskontoret", "Påminnelse: lägesbild 2026 för Stadsledningskontoret")
    ]
    act(city, "ansvarig.stadsledningskontoret", "lagesbild", lagesbild("stadsledningskontoret"))

    # The action plans: due after Easter (3 April 2026 is Good Friday).
    plan_task = city.task("ansvarig.farsta", "atgardsplan")
    assert plan_task.due_at == at("2026-04-07T16:00")
    for org in TAKING_PART:
        act(city, f"ansvarig.{org}", "atgardsplan", {"atgarder": measures(org)})

    # District plans go to their local council; the others straight to the head.
    assert orgs_of(open_tasks(city, "local_council_review")) == ["bromma", "farsta"]
    assert orgs_of(open_tasks(city, "head_approval")) == [
        "stadsledningskontoret",
        "svenska_bostader",
        "trafikkontoret",
    ]
    review = city.task("lokalrad.farsta", "local_council_review")
    assert [t.organisation for t in city.tasks("lokalrad.farsta")] == ["farsta"]
    assert review.due_at == at("2026-04-15T16:00")
    shown = task_data(city, review)["plan_att_granska"]
    assert "Åtgärd 2 i Farsta stadsdelsförvaltning" in shown
    assert "Skadegörelse och hot kring centrum" in shown
    for org in DISTRICTS:
        act(city, f"lokalrad.{org}", "local_council_review", APPROVE)
    head = city.task("chef.farsta", "head_approval")
    assert head.due_at == at("2026-04-22T16:00")
    assert "godkände planen" in task_data(city, head)["lokala_radets_yttrande"]
    assert "beslut" not in task_data(city, head)  # the head's decision starts empty
    for org in TAKING_PART:
        act(city, f"chef.{org}", "head_approval", APPROVE)

    # Every approval is a decision record of who decided, on which version of the plan.
    local = decisions(city, "local_council")
    assert [(d["organisation"], d["decision"], d["decided_by"]) for d in local] == [
        ("farsta", "godkänd", "lokalrad.farsta"),
        ("bromma", "godkänd", "lokalrad.bromma"),
    ]
    heads = {d["organisation"]: d for d in decisions(city, "head")}
    assert {o: d["decided_by"] for o, d in heads.items()} == {o: f"chef.{o}" for o in TAKING_PART}
    assert heads["trafikkontoret"]["subject"] == "Åtgärdsplan 2026 för Trafikkontoret"

    # The approved plans, in the contract's shape, measures numbered from 1.
    data = city.instance(instance).data
    plans = {p["organisation"]: p for p in data["plans"]}
    assert set(plans) == set(TAKING_PART)
    assert plans["farsta"] == {
        "organisation": "farsta",
        "organisation_name": "Farsta stadsdelsförvaltning",
        "atgarder": [{"nr": nr, **m} for nr, m in enumerate(measures("farsta"), start=1)],
    }
    assert data["lagesbilder"]["farsta"]["kallor_anvanda"] == [
        "Brottsstatistik",
        "Incidentrapporter (RiSK)",
    ]

    # The coordinator's city-wide overview; the council approves and advises the director.
    overview = city.task("samordnare", "city_overview")
    assert overview.due_at == at("2026-04-24T16:00")
    assert (
        "Bromma stadsdelsförvaltning (2 åtgärder)"
        in task_data(city, overview)["planer_sammanstallning"]
    )
    act(
        city,
        "samordnare",
        "city_overview",
        {
            "sammanfattning": "Skadegörelse ökar i stadsdelarna.",
            "viktiga_risker": "Hot mot personal.",
            "prioriteringar": "Centrummiljöer.",
        },
    )
    council = city.task("radet1", "council_review")
    assert council.due_at == at("2026-04-30T16:00")
    assert "Centrummiljöer." in task_data(city, council)["stadsovergripande_bild"]
    before = len(city.notifications())
    act(city, "radet1", "council_review", {"beslut": "godkand", "motivering": "Väl underbyggt."})
    [record] = decisions(city, "council")
    assert (record["decision"], record["decided_by"]) == ("godkänd", "radet1")
    assert record["document"]["organisationer"] == data["participant_ids"]
    assert [n["recipient"] for n in city.notifications()[before:]] == ["stadsdirektor"]

    # The tertial loop runs on the approved plans: T1, T2, T3.
    city.advance_to(at("2026-05-04T09:00"))
    assert orgs_of(open_tasks(city, "tertial_report")) == sorted(TAKING_PART)
    assert [t.organisation for t in city.tasks("ansvarig.bromma")] == ["bromma"]
    report_tertial(city, {org: ("påbörjad", "grön") for org in TAKING_PART})
    city.advance_to(at("2026-09-07T09:00"))
    report_tertial(city, {org: ("påbörjad", "gul") for org in TAKING_PART})
    # The catalogue opens 2027 in January, before 2026 is evaluated: everyone takes part.
    city.advance_to(at("2027-01-07T09:00"))
    next_year = city.start(KEY, 2027)
    act(city, "samordnare", "confirm_participants", {})  # as suggested: everyone
    assert set(city.instance(next_year).data["participant_ids"]) == set(NAMES)
    city.advance_to(at("2027-02-01T09:00"))
    t3 = {org: ("genomförd", "grön") for org in TAKING_PART} | {"farsta": ("försenad", "röd")}
    report_tertial(city, t3)

    # The annual evaluation starts from each measure's latest tertial status.
    evaluation = city.task("ansvarig.farsta", "annual_evaluation")
    assert evaluation.due_at == at("2027-03-01T16:00")  # 10 working days after 15 February
    assert orgs_of(open_tasks(city, "annual_evaluation")) == sorted(TAKING_PART)
    rows = task_data(city, evaluation)["malbedomning"]
    assert [(r["nr"], r["atgard"]) for r in rows] == [
        (1, "Åtgärd 1 i Farsta stadsdelsförvaltning"),
        (2, "Åtgärd 2 i Farsta stadsdelsförvaltning"),
    ]
    assert rows[0]["senaste_status"].startswith("försenad (röd)")
    for org in TAKING_PART:
        assessment = "uppnås inte" if org == "farsta" else "uppnås helt"
        act(
            city,
            f"ansvarig.{org}",
            "annual_evaluation",
            {
                "malbedomning": [
                    {"nr": 1, "bedomning": assessment, "kommentar": "Se tertialrapporten."},
                    {"nr": 2, "bedomning": "uppnås delvis"},
                ],
                "allvarliga_handelser": [
                    {
                        "handelse": "Brand i skolan",
                        "datum": "2026-10-12",
                        "vad_hande": "En anlagd brand på kvällen.",
                        "lardomar": "Belysningen vid entrén behövs.",
                    }
                ]
                if org == "farsta"
                else [],
                "slutsatser": f"Fortsätt med centrummiljön i {NAMES[org]}.",
            },
        )
    summary = city.task("samordnare", "annual_summary")
    assert summary.due_at == at("2027-03-08T16:00")
    underlag = task_data(city, summary)["utvarderingar_sammanstallning"]
    assert "Farsta stadsdelsförvaltning: uppnås helt 0, delvis 1, inte 1" in underlag
    assert "Brand i skolan: Belysningen vid entrén behövs." in underlag
    act(
        city,
        "samordnare",
        "annual_summary",
        {"arets_resultat": "Mest på väg.", "lardomar": "Belysning.", "rekommendationer": "Mer."},
    )
    assert city.task("radet2", "council_annual").due_at == at("2027-03-15T16:00")
    act(city, "radet2", "council_annual", {"beslut": "noterad", "motivering": "Rådet noterar."})
    assert city.instance(instance).state == "completed"
    council = decisions(city, "council")
    assert [d["subject"] for d in council] == [
        "Stadsövergripande lägesbild och åtgärdsplaner 2026",
        "Tertialuppföljning T1 2026",
        "Tertialuppföljning T2 2026",
        "Tertialuppföljning T3 2026",
        "Årlig utvärdering av det brottsförebyggande arbetet 2026",
    ]
    assert (council[-1]["decision"], council[-1]["decided_by"]) == ("noterad", "radet2")

    # 2027's planning opens on 2 March: Farsta's lägesbild starts from 2026's conclusions.
    assert open_tasks(city, "lagesbild") == []
    city.advance_to(at("2027-03-02T08:00"))
    lagesbild_2027 = city.task("ansvarig.farsta", "lagesbild")
    seeded = task_data(city, lagesbild_2027)
    assert seeded["previous_evaluation"]["slutsatser"] == (
        "Fortsätt med centrummiljön i Farsta stadsdelsförvaltning."
    )
    text = seeded["forra_arets_slutsatser"]
    assert "Fortsätt med centrummiljön i Farsta stadsdelsförvaltning." in text
    assert "- Åtgärd 1 i Farsta stadsdelsförvaltning: uppnås inte" in text
    assert "- Brand i skolan: Belysningen vid entrén behövs." in text
    social = task_data(city, city.task("ansvarig.socialforvaltningen", "lagesbild"))
    assert social["forra_arets_slutsatser"].startswith("Ingen årlig utvärdering för 2026")


# -- returns ---------------------------------------------------------------------------------


def test_returned_plans_and_overview_come_back_with_comments(city: City) -> None:
    instance = open_year(city, ("farsta", "trafikkontoret"))
    for org in ("farsta", "trafikkontoret"):
        act(city, f"ansvarig.{org}", "lagesbild", lagesbild(org))
        act(city, f"ansvarig.{org}", "atgardsplan", {"atgarder": measures(org)})

    # A return early on keeps the year's deadline (the plan is due 7 April anyway) …
    city.advance_to(at("2026-03-09T10:00"))
    act(
        city,
        "chef.trafikkontoret",
        "head_approval",
        {"beslut": "aterremitterad", "motivering": "Koppla åtgärderna till analysen."},
    )
    assert city.task("ansvarig.trafikkontoret", "atgardsplan").due_at == at("2026-04-07T16:00")
    act(city, "ansvarig.trafikkontoret", "atgardsplan", {"atgarder": measures("trafikkontoret")})

    # … one on the council's last day gives five working days from the return.
    city.advance_to(at("2026-04-15T10:00"))
    act(
        city,
        "lokalrad.farsta",
        "local_council_review",
        {"beslut": "aterremitterad", "motivering": "Åtgärd 2 saknar ett mätbart mål."},
    )
    assert open_tasks(city, "head_approval")[0].organisation == "trafikkontoret"
    again = city.task("ansvarig.farsta", "atgardsplan")
    shown = task_data(city, again)
    assert shown["synpunkter"] == (
        "Lokala brottsförebyggande rådet återremitterade version 1 av planen: "
        "Åtgärd 2 saknar ett mätbart mål."
    )
    assert shown["atgarder"] == measures("farsta")  # the form keeps what was written
    assert "beslut" not in shown
    assert again.due_at == at("2026-04-22T16:00")

    revised = measures("farsta")
    revised[1]["operativt_mal"] = "Hälften så många anmälningar om skadegörelse som 2025"
    act(city, "ansvarig.farsta", "atgardsplan", {"atgarder": revised})
    review = city.task("lokalrad.farsta", "local_council_review")
    assert review.due_at == at("2026-04-29T16:00")
    assert "version 2" in task_data(city, review)["plan_att_granska"]
    act(city, "lokalrad.farsta", "local_council_review", APPROVE)
    assert city.task("chef.farsta", "head_approval").due_at == at("2026-05-07T16:00")
    for org in ("farsta", "trafikkontoret"):
        act(city, f"chef.{org}", "head_approval", APPROVE)

    records = [
        (d["decision"], d["document"]["version"], d["motivation"])
        for d in decisions(city, "local_council", "farsta")
    ]
    assert records == [
        ("återremitterad", 1, "Åtgärd 2 saknar ett mätbart mål."),
        ("godkänd", 2, APPROVE["motivering"]),
    ]
    [head] = decisions(city, "head", "farsta")
    assert [d["decision"] for d in decisions(city, "head", "trafikkontoret")] == [
        "återremitterad",
        "godkänd",
    ]
    assert head["document"]["atgarder"][1]["operativt_mal"] == revised[1]["operativt_mal"]
    plans = {p["organisation"]: p for p in city.instance(instance).data["plans"]}
    assert plans["farsta"]["atgarder"][1]["operativt_mal"] == revised[1]["operativt_mal"]

    # The council returns the overview on its last day; the coordinator sees why.
    overview = {"sammanfattning": "S.", "viktiga_risker": "R.", "prioriteringar": "P."}
    act(city, "samordnare", "city_overview", overview)
    city.advance_to(at("2026-04-30T10:00"))
    act(
        city,
        "radet1",
        "council_review",
        {"beslut": "aterremitterad", "motivering": "Prioriteringarna behöver motiveras."},
    )
    back = city.task("samordnare", "city_overview")
    assert task_data(city, back)["radets_synpunkter"] == (
        "Rådet återremitterade version 1: Prioriteringarna behöver motiveras."
    )
    assert back.due_at == at("2026-05-08T16:00")  # 1 May is a holiday
    # The council then has five working days: 14 May is Ascension Day.
    assert city.instance(instance).data["council_due"] == "2026-05-18T16:00:00+02:00"
    act(city, "samordnare", "city_overview", overview | {"prioriteringar": "P, eftersom R."})
    review = city.task("radet2", "council_review")
    assert "version 2" in task_data(city, review)["stadsovergripande_bild"]
    act(city, "radet2", "council_review", {"beslut": "godkand", "motivering": "Nu motiverat."})
    assert [(d["decision"], d["decided_by"]) for d in decisions(city, "council")] == [
        ("återremitterad", "radet1"),
        ("godkänd", "radet2"),
    ]
    assert city.instance(instance).data["council_advice"]["motivering"] == "Nu motiverat."


# -- appointing a responsible person ----------------------------------------------------------


def test_head_appoints_a_missing_responsible_who_then_gets_the_lagesbild(sqlite_url: str) -> None:
    city = City(sqlite_url, only=demo.SMALL | {"exploateringskontoret"})
    try:
        instance = city.start(KEY, 2026)
        act(city, "samordnare", "confirm_participants", {})
        assert city.instance(instance).data["to_appoint"] == ["exploateringskontoret"]
        assert orgs_of(open_tasks(city, "choose_responsible")) == ["exploateringskontoret"]
        assert city.tasks("chef.farsta") == []
        choose = city.task("chef.exploateringskontoret", "choose_responsible")
        assert choose.due_at == at("2026-02-13T16:00")
        assert task_data(city, choose)["forvaltning"] == "Exploateringskontoret"

        with pytest.raises(ValidationError):
            city.complete(
                "chef.exploateringskontoret", choose, {"namn": "Nora Nilsson", "epost": "nora"}
            )
        act(
            city,
            "chef.exploateringskontoret",
            "choose_responsible",
            {"namn": "Nora Nilsson", "epost": "nora.nilsson@stockholm.se"},
        )
        assert city.instance(instance).data["appointments"] == [
            {
                "organisation": "exploateringskontoret",
                "user": "nora.nilsson@stockholm.se",
                "namn": "Nora Nilsson",
            }
        ]
        city.advance_to(at("2026-03-02T08:00"))
        task = city.task("nora.nilsson@stockholm.se", "lagesbild")
        assert task.organisation == "exploateringskontoret"
        assert [t.organisation for t in city.tasks("nora.nilsson@stockholm.se")] == [
            "exploateringskontoret"
        ]
    finally:
        city.close()
