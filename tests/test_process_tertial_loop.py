"""Scenario tests of the tertial reporting loop (`tertial_loop`) over a simulated year.

The guideline says the work is followed up every tertial: at each period end every
participating organisation reports the status of each measure in its action plan, a reminder
goes out before the deadline, a late report escalates to the head of the organisation and the
coordinator, the coordinator may return a report for completion, and the risk management
council takes note of the compiled report or decides on actions. These tests run that year in
the demo city: the loop is started on its own with four organisations' plans as start data
(as the plan-to-follow-up cycle would call it), the clock moves from period end to deadline,
and named people complete their tasks through the engine's task API, so who sees which task
(lanes as roles, organisations as scope) is tested with the flow. Real databases, no mocks.

The traffic-light decision table is also tested on its own, through Kedja's bundle compiler
and script sandbox, so a process owner who edits it sees at once whether every case still gets
exactly one colour.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow

from engine.actors import Actor
from engine.bundle import Bundle, compile_bundle
from engine.errors import NotPermitted, ValidationError
from engine.models import HumanTask
from engine.scripting import make_script_engine
from engine.tasks import TaskInfo
from processes.calendar import GovernanceCalendar
from tests.city import City
from tests.diagrams import Diagram

KEY = "tertial_loop"
FOLDER = Path(__file__).resolve().parents[1] / "bpmn" / "tertial-loop"
ORGANISATIONS = {
    "farsta": "Farsta stadsdelsförvaltning",
    "bromma": "Bromma stadsdelsförvaltning",
    "trafikkontoret": "Trafikkontoret",
    "svenska_bostader": "AB Svenska Bostäder",
}
MEASURES = {"farsta": 3, "bromma": 2, "trafikkontoret": 5, "svenska_bostader": 4}
CALENDAR = GovernanceCalendar().variables(2026)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> City:
    """The demo city on SQLite and on PostgreSQL: the year-long scenario runs on both."""
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


# -- helpers ---------------------------------------------------------------------------------


def plan(org: str) -> dict[str, Any]:
    """An approved action plan in the contract's shape (docs/processes.md)."""
    return {
        "organisation": org,
        "organisation_name": ORGANISATIONS[org],
        "atgarder": [
            {
                "nr": nr,
                "orsak": f"Orsak {nr}",
                "atgard": f"Åtgärd {nr} i {ORGANISATIONS[org]}",
                "operativt_mal": f"Mål {nr}",
                "nar": "2026",
                "vem": "Enhetschef",
                "uppfoljning": f"Indikator {nr}",
            }
            for nr in range(1, MEASURES[org] + 1)
        ],
    }


def rows(org: str, *lights: tuple[str, str]) -> list[dict[str, Any]]:
    """The report's rows for `org`: (status, colour) per measure, the last pair repeated."""
    result = []
    for nr in range(1, MEASURES[org] + 1):
        status, farg = lights[min(nr, len(lights)) - 1]
        result.append(
            {
                "nr": nr,
                "atgard": f"Åtgärd {nr} i {ORGANISATIONS[org]}",
                "status": status,
                "farg": farg,
                "kommentar": f"Läget för åtgärd {nr}.",
                "indikatorvarde": f"{nr * 10} st",
            }
        )
    return result


GREEN = ("påbörjad", "grön")
DONE = ("genomförd", "grön")
RED = ("påbörjad", "röd")
LATE = ("försenad", "gul")


def task_data(city: City, task: TaskInfo) -> dict[str, Any]:
    """What the task's form is filled in from: the SpiffWorkflow task's data."""
    with city.engine.db.read() as session:
        spiff_id = session.get(HumanTask, task.id).spiff_task_id
    workflow = city.engine.runtime.workflow(task.instance_id)
    return workflow.get_task_from_id(UUID(spiff_id)).data


def open_reports(city: City, user: str) -> list[str | None]:
    return sorted(
        t.organisation or "" for t in city.tasks(user) if t.element_id == "tertial_report"
    )


def notified(city: City, since: int = 0) -> list[tuple[str, str]]:
    """(recipient, subject) of the notifications queued after the first `since`."""
    return [(n["recipient"], n["subject"]) for n in city.notifications()[since:]]


def report(city: City, org: str, *lights: tuple[str, str]) -> None:
    user = f"ansvarig.{org}"
    city.complete(user, city.task(user, "tertial_report", org), {"atgarder": rows(org, *lights)})


def accept(city: City, org: str) -> None:
    task = city.task("samordnare", "review_tertial_report", org)
    city.complete("samordnare", task, {"beslut": "godkand", "motivering": "Rapporten är komplett."})


def council_notes(city: City) -> None:
    task = city.task("radet2", "council_tertial")
    city.complete(
        "radet2", task, {"beslut": "noterar", "motivering": "Uppföljningen går enligt plan."}
    )


# -- the year ---------------------------------------------------------------------------------


def test_a_year_of_tertial_reports(any_city: City) -> None:
    """T1 in detail (scoping, reminder, escalation, return for completion, compiled report,
    council decision), then T2 and T3 quickly; afterwards the year's reports and the latest
    status of every measure are left in the data, as the cycle expects."""
    city = any_city
    instance = city.start(KEY, year=2026, plans=[plan(org) for org in ORGANISATIONS])

    # Nothing to report before the period ends.
    city.advance_to("2026-04-30T23:00:00+02:00")
    assert all(open_reports(city, f"ansvarig.{org}") == [] for org in ORGANISATIONS)

    fired = city.advance_to(CALENDAR["t1_period_end"])
    assert [f.element_id for f in fired] == ["wait_period_end"]

    # Every responsible person has exactly their own organisation's report, prefilled.
    for org in ORGANISATIONS:
        user = f"ansvarig.{org}"
        assert open_reports(city, user) == [org]
        task = city.task(user, "tertial_report", org)
        assert task.role == "responsible"
        assert task.form_schema.endswith("forms/tertial_report.schema.json")
        assert task.due_at.isoformat() == "2026-05-15T21:59:59+00:00"  # 15 May, 23:59:59 CEST
        data = task_data(city, task)
        assert [(r["nr"], r["atgard"]) for r in data["atgarder"]] == [
            (m["nr"], m["atgard"]) for m in plan(org)["atgarder"]
        ]
        assert data["organisation"] == org and data["tertial_id"] == "T1"
        assert "plans" not in data  # only its own plan reaches the organisation's report
    farsta_task = city.task("ansvarig.farsta", "tertial_report", "farsta")
    bromma_task = city.task("ansvarig.bromma", "tertial_report", "bromma")
    with pytest.raises(NotPermitted):
        city.complete("ansvarig.farsta", bromma_task, {"atgarder": rows("bromma", GREEN)})
    # Reports are the responsible persons' work; the coordinator has nothing yet.
    assert [t.element_id for t in city.tasks("samordnare")] == []

    # Three report early; Bromma does not.
    city.complete("ansvarig.farsta", farsta_task, {"atgarder": rows("farsta", GREEN)})
    report(city, "trafikkontoret", RED, GREEN)  # 1 of 5 red: yellow overall
    report(city, "svenska_bostader", RED, GREEN)  # 1 of 4 red: red overall
    reviews = sorted(
        t.organisation or "" for t in city.tasks("samordnare") if t.definition_key == KEY
    )
    assert reviews == ["farsta", "svenska_bostader", "trafikkontoret"]

    # The reminder goes out at the reminder time (7 May, five working days before the
    # deadline, skipping Ascension Day), not before, and only to whoever has not reported.
    assert CALENDAR["t1_reminder"] == "2026-05-07T08:00:00+02:00"
    city.advance_to("2026-05-07T07:59:00+02:00")
    assert notified(city) == []
    city.advance_to(CALENDAR["t1_reminder"])
    assert notified(city) == [("ansvarig.bromma", "Påminnelse: tertialrapport T1 2026")]
    reminder = city.notifications()[0]
    assert reminder["link"] == f"/uppgifter/{bromma_task.id}"

    # At the deadline the late report escalates to Bromma's head and the coordinator; the
    # report stays open for Bromma's responsible person.
    city.advance_to("2026-05-15T23:00:00+02:00")
    assert len(city.notifications()) == 1
    city.advance_to(CALENDAR["t1_report_deadline"])
    late_subject = "Tertialrapport T1 2026 från Bromma stadsdelsförvaltning är sen"
    assert sorted(notified(city, 1)) == [
        ("chef.bromma", late_subject),
        ("samordnare", late_subject),
    ]
    assert open_reports(city, "ansvarig.bromma") == ["bromma"]
    city.advance_to("2026-05-18T10:00:00+02:00")
    report(city, "bromma", LATE)

    # The coordinator returns Farsta's report with a comment; Farsta sees the comment, and
    # re-opening the report after the deadline neither reminds nor escalates again.
    sent_before = len(city.notifications())
    returned = city.task("samordnare", "review_tertial_report", "farsta")
    assert task_data(city, returned)["sen"] is False
    city.complete(
        "samordnare",
        returned,
        {"beslut": "komplettering", "motivering": "Ange indikatorvärden för åtgärd 2 och 3."},
    )
    again = city.task("ansvarig.farsta", "tertial_report", "farsta")
    assert (
        task_data(city, again)["samordnarens_kommentar"]
        == "Ange indikatorvärden för åtgärd 2 och 3."
    )
    city.advance_to("2026-05-19T10:00:00+02:00")
    assert len(city.notifications()) == sent_before
    city.complete("ansvarig.farsta", again, {"atgarder": rows("farsta", DONE, GREEN)})
    assert task_data(city, city.task("samordnare", "review_tertial_report", "bromma"))["sen"]
    for org in ORGANISATIONS:
        accept(city, org)

    # The council gets the compiled report and decides on actions: a decision record.
    council = city.task("radet1", "council_tertial")
    assert council.role == "council"
    summary = task_data(city, council)["rapport_for_radet"]
    assert "4 av 4 organisationer har rapporterat" in summary
    assert "Sena rapporter: Bromma stadsdelsförvaltning." in summary
    city.complete(
        "radet1",
        council,
        {
            "beslut": "atgarder",
            "motivering": "Två organisationer har röda åtgärder.",
            "beslutade_atgarder": "Svenska Bostäder redovisar en ny tidplan till T2.",
        },
    )
    [record] = city.decisions()
    assert record["kind"] == "council"
    assert record["number"] == "RHR 2026:1"
    assert record["decided_by"] == "radet1"
    assert record["element_id"] == "council_tertial"
    assert record["subject"] == "Tertialuppföljning T1 2026"
    assert record["decision"] == "Rådet beslutar om åtgärder"
    assert record["motivation"] == (
        "Två organisationer har röda åtgärder. "
        "Beslutade åtgärder: Svenska Bostäder redovisar en ny tidplan till T2."
    )
    assert record["document"]["actions"] == "Svenska Bostäder redovisar en ny tidplan till T2."
    compiled = record["document"]["report"]
    assert compiled["tertial"] == "T1"
    assert (compiled["organisations"], compiled["submitted"]) == (4, 4)
    assert (compiled["late"], compiled["missing"]) == (["bromma"], [])
    assert compiled["measures"] == 14
    assert compiled["by_colour"] == {"grön": 10, "gul": 2, "röd": 2}
    assert compiled["by_status"]["genomförd"] == 1
    assert compiled["by_status"]["försenad"] == 2
    lights = {o["organisation"]: o["traffic_light"] for o in compiled["per_organisation"]}
    assert lights == {
        "bromma": "röd",  # every measure delayed
        "farsta": "grön",
        "svenska_bostader": "röd",  # a quarter of the measures red
        "trafikkontoret": "gul",  # a fifth red
    }
    assert notified(city)[-1] == (
        "samordnare",
        "Riskhanteringsrådet har beslutat om åtgärder: T1 2026",
    )

    # T2: nothing until 31 August; then everyone reports on time and the council notes it.
    city.advance_to("2026-08-31T12:00:00+02:00")
    assert all(open_reports(city, f"ansvarig.{org}") == [] for org in ORGANISATIONS)
    city.advance_to(CALENDAR["t2_period_end"])
    for org in ORGANISATIONS:
        report(city, org, GREEN)
        accept(city, org)
    council_notes(city)

    # T3 (the year as a whole, due in February): final statuses.
    city.advance_to(CALENDAR["t3_period_end"])
    report(city, "farsta", DONE)
    report(city, "bromma", DONE, LATE)
    report(city, "trafikkontoret", DONE)
    report(city, "svenska_bostader", ("avförd", "grön"), DONE)
    for org in ORGANISATIONS:
        accept(city, org)
    council_notes(city)

    finished = city.instance(instance)
    assert finished.state == "completed", finished.open_incidents
    data = finished.data
    assert [r["tertial"] for r in data["tertial_reports"]] == ["T1", "T2", "T3"]
    assert [r["late"] for r in data["tertial_reports"]] == [["bromma"], [], []]
    status = data["measure_status"]
    assert sorted(status) == sorted(ORGANISATIONS)
    assert [(m["nr"], m["status"]) for m in status["bromma"]] == [
        (1, "genomförd"),
        (2, "försenad"),
    ]
    assert status["svenska_bostader"][0]["status"] == "avförd"
    assert {m["status"] for m in status["farsta"]} == {"genomförd"}
    assert set(status["farsta"][0]) == {"nr", "atgard", "status", "farg", "kommentar"}
    assert [(d["number"], d["decision"]) for d in city.decisions()] == [
        ("RHR 2026:1", "Rådet beslutar om åtgärder"),
        ("RHR 2026:2", "Rådet noterar tertialrapporten"),
        ("RHR 2026:3", "Rådet noterar tertialrapporten"),
    ]


def test_forms_refuse_an_unexplained_red_measure_and_a_decision_without_actions(
    city: City,
) -> None:
    """A red or delayed measure needs a comment; a council deciding on actions must name
    them. Nothing is stored when the form is refused."""
    city.start(KEY, year=2026, plans=[plan("farsta")])
    city.advance_to(CALENDAR["t1_period_end"])
    task = city.task("ansvarig.farsta", "tertial_report", "farsta")
    unexplained = rows("farsta", RED)
    unexplained[0]["kommentar"] = ""
    with pytest.raises(ValidationError) as refused:
        city.complete("ansvarig.farsta", task, {"atgarder": unexplained})
    assert [p.element for p in refused.value.problems] == ["/atgarder/0/kommentar"]
    report(city, "farsta", GREEN)
    accept(city, "farsta")

    council = city.task("radet1", "council_tertial")
    with pytest.raises(ValidationError) as refused:
        city.complete("radet1", council, {"beslut": "atgarder", "motivering": "Behövs."})
    assert [p.element for p in refused.value.problems] == ["/beslutade_atgarder"]
    assert city.decisions() == []


def test_called_by_another_process_the_loop_takes_its_inputs_and_gives_its_outputs(
    city: City, tmp_path: Path
) -> None:
    """As the cycle calls it: only `year`, `tertials` and `plans` go in (the caller's other
    data, here a situation picture and an `organisation`, stays out of the reports), and
    only `tertial_reports` and `measure_status` come back."""
    owner = Actor("system", admin=True)  # the set-up deploys: approved at once
    caller = Diagram("tertial_loop_caller").start().call("follow_up", "tertial_loop").end()
    caller.chain("start", "follow_up", "end")
    caller_file = tmp_path / "tertial_loop_caller.bpmn"
    caller_file.write_text(caller.xml(), encoding="utf-8")
    city.engine.repository.deploy([caller_file, FOLDER], owner)
    data = {
        "year": 2026,
        "tertials": CALENDAR["tertials"][:1],  # T1 only: the caller decides which tertials
        "plans": [plan("farsta")],
        "lagesbild": {"sammanfattning": "Stays with the caller."},
        "organisation": "bromma",
    }
    instance = city.engine.runtime.start("tertial_loop_caller", data, owner).instance_id

    city.advance_to(CALENDAR["t1_period_end"])
    assert open_reports(city, "ansvarig.bromma") == []
    task = city.task("ansvarig.farsta", "tertial_report", "farsta")
    assert "lagesbild" not in task_data(city, task)
    report(city, "farsta", DONE)
    accept(city, "farsta")
    council_notes(city)

    finished = city.instance(instance)
    assert finished.state == "completed", finished.open_incidents
    assert [r["tertial"] for r in finished.data["tertial_reports"]] == ["T1"]
    assert list(finished.data["measure_status"]) == ["farsta"]
    assert finished.data["lagesbild"] == data["lagesbild"]
    assert finished.data["organisation"] == "bromma"
    assert not {"tertial", "reports", "sammanstallning", "beslut"} & set(finished.data)


# -- the decision table ------------------------------------------------------------------------

_PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="probe_defs" targetNamespace="http://kedja.test">
  <bpmn:process id="probe" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:businessRuleTask id="rule">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>organisation_traffic_light</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="rule"/>
    <bpmn:sequenceFlow id="f2" sourceRef="rule" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@functools.cache
def _probe(collect: bool) -> Any:
    """A one-task process calling traffic-light.dmn, compiled by Kedja's deploy checks."""
    dmn = (FOLDER / "traffic-light.dmn").read_text(encoding="utf-8")
    if collect:
        dmn = dmn.replace('hitPolicy="UNIQUE"', 'hitPolicy="COLLECT"')
    return compile_bundle(
        Bundle.from_files({"probe.bpmn": _PROBE.encode(), "traffic-light.dmn": dmn.encode()})
    ).processes["probe"]


def decide(andel_roda: float, andel_forsenade: float, collect: bool = False) -> Any:
    """Run the decision table in Kedja's script sandbox on one case; with `collect`, every
    matching row's colour instead of the first."""
    build = _probe(collect)
    workflow = BpmnWorkflow(build.spec, build.subprocess_specs, script_engine=make_script_engine())
    workflow.get_next_task(spec_name="Start").set_data(
        andel_roda=andel_roda, andel_forsenade=andel_forsenade
    )
    workflow.do_engine_steps()
    assert workflow.completed
    return workflow.data["organisationens_farg"]


@pytest.mark.parametrize(
    ("andel_roda", "andel_forsenade", "farg"),
    [
        (0.0, 0.0, "grön"),
        (0.0, 0.2, "grön"),
        (0.0, 0.25, "gul"),
        (0.2, 0.0, "gul"),
        (0.2, 0.49, "gul"),
        (0.2, 0.5, "röd"),
        (0.25, 0.0, "röd"),
        (1.0, 1.0, "röd"),
        (0.0, 1.0, "röd"),
    ],
)
def test_traffic_light_table(andel_roda: float, andel_forsenade: float, farg: str) -> None:
    assert decide(andel_roda, andel_forsenade) == farg


def test_traffic_light_table_gives_every_case_exactly_one_colour() -> None:
    """The table's hit policy is UNIQUE: over a grid of shares (including every boundary),
    exactly one row matches. Run this after editing the table."""
    shares = [0.0, 0.1, 0.2, 0.24, 0.25, 0.3, 0.49, 0.5, 0.75, 1.0]
    for red, delayed in itertools.product(shares, shares):
        colours = decide(red, delayed, collect=True)
        assert len(colours) == 1, f"andel_roda={red}, andel_forsenade={delayed}: {colours}"
        assert colours[0] in ("grön", "gul", "röd")
