"""The cases area: the list of cases a user may see, and a case's page (diagram data, open
tasks, waiting timers, decisions, attachments, history) — and who may see what.

The plan-to-follow-up cycle at the lägesbild stage is the case with the most in it: one
task per organisation inside a called process, a reminder timer per organisation, and the
coordinator's completed task in the history.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from processes import attachments
from processes.demo import DEMO_PASSWORD
from tests.test_webui_auth import make_app
from tests.test_webui_decisions import client_for, html, open_task, revision_unchanged
from webui.i18n import STOCKHOLM

PLANNING_OPENS = "2026-03-02T08:00:00+01:00"


def plan_cycle_at_lagesbild(city: Any) -> int:
    """This year's cycle, every demo organisation taking part, planning open: each
    organisation's responsible person has a lägesbild task."""
    instance = city.start("plan_cycle")
    confirm = open_task(city, instance, "confirm_participants")
    rows = city.instance(instance).data["deltagare"]
    city.complete("samordnare", confirm, {"deltagare": rows})
    city.advance_to(PLANNING_OPENS)
    return instance


def lagesbild(city: Any, instance: int, organisation: str) -> Any:
    return next(
        t
        for t in city.engine.tasks.list(instance_id=instance, limit=100).items
        if t.element_id == "lagesbild" and t.organisation == organisation
    )


@pytest.fixture
def app(city: Any) -> Flask:
    return make_app(city)


@pytest.fixture
def cases(city: Any) -> dict[str, int]:
    return {"plan": plan_cycle_at_lagesbild(city), "revision": revision_unchanged(city)}


# -- the list -----------------------------------------------------------------------------------


def test_each_user_lists_the_cases_they_may_see(app: Flask, cases: dict[str, int]) -> None:
    plan, revision = f'href="/arenden/{cases["plan"]}"', f'href="/arenden/{cases["revision"]}"'
    farsta = html(client_for(app, "ansvarig.farsta"), "/arenden/")
    assert plan in farsta and revision not in farsta
    assert "Planering och uppföljning" in farsta
    for city_wide in ("samordnare", "radet1", "revisor", "admin"):
        page = html(client_for(app, city_wide), "/arenden/")
        assert plan in page and revision in page, city_wide
    chief = html(client_for(app, "sakerhetschef"), "/arenden/")  # city-wide role
    assert revision in chief
    nobody = html(client_for(app, "chef.farsta"), "/arenden/")  # no task in any case yet
    assert "Det finns inga ärenden som du kan se." in nobody


def test_the_list_filters_by_state(app: Flask, cases: dict[str, int]) -> None:
    client = client_for(app, "admin")
    completed = html(client, "/arenden/?status=completed")
    assert f'href="/arenden/{cases["revision"]}"' in completed
    assert f'href="/arenden/{cases["plan"]}"' not in completed
    assert '<option value="completed" selected>' in completed
    assert "1 ärende, nyast först" in completed
    running = html(client, "/arenden/?status=running")
    assert f'href="/arenden/{cases["plan"]}"' in running
    assert "2 ärenden" in html(client, "/arenden/?status=ignored")


# -- who may open a case ------------------------------------------------------------------------


def test_a_case_is_not_found_for_those_who_may_not_see_it(
    app: Flask, cases: dict[str, int]
) -> None:
    revision = cases["revision"]
    for user in ("ansvarig.farsta", "chef.farsta", "lokalrad.bromma"):
        client = client_for(app, user)
        for url in (f"/arenden/{revision}", f"/arenden/{revision}/diagram.json"):
            assert client.get(url).status_code == 404, (user, url)
    admin = client_for(app, "admin")
    assert admin.get("/arenden/9999").status_code == 404
    assert admin.get("/arenden/9999/diagram.json").status_code == 404
    assert app.test_client().get(f"/arenden/{revision}").status_code == 302


def test_a_task_a_colleague_has_taken_still_shows_the_case(city: Any, app: Flask) -> None:
    instance = plan_cycle_at_lagesbild(city)
    city.register.add_user(
        "bo.farsta",
        "Bo Medarbetare",
        organisation="farsta",
        password=DEMO_PASSWORD,
        grants=[("responsible", "farsta")],
    )
    city.register.add_user("utan.roll", "Utan Roll", organisation="farsta", password=DEMO_PASSWORD)
    task = lagesbild(city, instance, "farsta")
    city.engine.tasks.claim(task.id, city.actor("ansvarig.farsta"))
    # Claimed by a colleague: still Farsta's task, so still Farsta's case.
    assert html(client_for(app, "bo.farsta"), f"/arenden/{instance}")
    html(client_for(app, "utan.roll"), f"/arenden/{instance}", status=404)


# -- the case page ------------------------------------------------------------------------------


def test_the_case_page_shows_tasks_timers_and_history(city: Any, app: Flask) -> None:
    instance = plan_cycle_at_lagesbild(city)
    farsta_task = lagesbild(city, instance, "farsta")
    bromma_task = lagesbild(city, instance, "bromma")
    page = html(client_for(app, "ansvarig.farsta"), f"/arenden/{instance}")

    assert "<h1>Planering och uppföljning 2026" in page
    assert "Farsta stadsdelsförvaltning" in page and "Bromma stadsdelsförvaltning" in page
    # Only the task the user may work on links to its form.
    assert f'href="/uppgifter/{farsta_task.id}"' in page
    assert f'href="/uppgifter/{bromma_task.id}"' not in page
    due = farsta_task.due_at.astimezone(STOCKHOLM)
    assert f">{due:%Y-%m-%d %H:%M}</time>" in page
    assert "Ingen ännu" in page
    # Every organisation's reminder is one line with a count.
    timers = city.engine.timers.waiting(instance_id=instance)
    assert timers
    first = timers[0]["due_at"].astimezone(STOCKHOLM)
    assert f">{first:%Y-%m-%d %H:%M}</time>" in page
    # History, newest first, in words, with who did it.
    confirm = next(
        t
        for t in city.engine.tasks.list(instance_id=instance, state="completed").items
        if t.element_id == "confirm_participants"
    )
    assert f"Uppgiften ”{confirm.name}” slutfördes." in page
    assert "Sara Samordnare" in page
    assert page.index("slutfördes.") < page.index("Ärendet startades.")
    assert "skapades." not in page  # the short timeline


def test_the_full_history_and_claims(city: Any, app: Flask) -> None:
    instance = plan_cycle_at_lagesbild(city)
    task = lagesbild(city, instance, "farsta")
    city.engine.tasks.claim(task.id, city.actor("ansvarig.farsta"))
    client = client_for(app, "samordnare")
    page = html(client, f"/arenden/{instance}")
    assert "Ansvarig Farsta stadsdelsförvaltning" in page  # the assignee, by name
    full = html(client, f"/arenden/{instance}?alla=1")
    assert f"Uppgiften ”{task.name}” skapades." in full
    assert f"Uppgiften ”{task.name}” togs." in full
    assert "Visa bara de viktigaste händelserna" in full


def test_overdue_tasks_are_marked_in_words(city: Any, app: Flask) -> None:
    instance = plan_cycle_at_lagesbild(city)
    city.advance_to(lagesbild(city, instance, "farsta").due_at + timedelta(hours=1))
    assert "Försenad" in html(client_for(app, "ansvarig.farsta"), f"/arenden/{instance}")


def test_the_decisions_of_a_case_are_listed_with_the_case(city: Any, app: Flask) -> None:
    instance = revision_unchanged(city)
    record = city.decisions()[0]
    page = html(client_for(app, "sakerhetschef"), f"/arenden/{instance}")
    assert f'href="/beslut/{record["id"]}">{record["number"]}</a>' in page
    assert f"Beslut {record['number']} registrerades" in page  # and in the history
    assert "Avslutat" in page
    assert "Ärendet har inga öppna uppgifter." in page


def test_the_case_page_in_english(city: Any, app: Flask) -> None:
    instance = plan_cycle_at_lagesbild(city)
    city.register.set_language("samordnare", "en")
    page = html(client_for(app, "samordnare"), f"/arenden/{instance}")
    assert "<h1>Plan-to-follow-up cycle 2026" in page
    assert "The case was started." in page and "Current tasks" in page
    task = lagesbild(city, instance, "farsta")
    assert f'<span lang="sv">{task.name}</span>' in page  # the diagram's Swedish names
    assert "Situation picture and action plan for an organisation" in page


# -- the diagram --------------------------------------------------------------------------------


def test_the_diagram_data_marks_completed_and_active_elements(city: Any, app: Flask) -> None:
    instance = plan_cycle_at_lagesbild(city)
    client = client_for(app, "ansvarig.farsta")
    response = client.get(f"/arenden/{instance}/diagram.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    data = response.json
    assert data["process"] == "plan_cycle"
    assert 'id="plan_cycle"' in data["xml"]
    assert "confirm_participants" in data["completed"]
    assert "organisation_plans" in data["active"]  # the call activity running the plans
    assert not set(data["completed"]) & set(data["active"])

    called = client.get(f"/arenden/{instance}/diagram.json?process=organisation_plan").json
    assert 'id="organisation_plan"' in called["xml"]
    assert "lagesbild" in called["active"]
    assert client.get(f"/arenden/{instance}/diagram.json?process=nope").status_code == 404


def test_the_page_offers_the_diagrams_the_case_has_entered(city: Any, app: Flask) -> None:
    instance = plan_cycle_at_lagesbild(city)
    client = client_for(app, "samordnare")
    page = html(client, f"/arenden/{instance}")
    assert f'data-diagram-url="/arenden/{instance}/diagram.json"' in page
    assert f'href="/arenden/{instance}?process=organisation_plan#diagram-rubrik"' in page
    assert "process=organisation_evaluation" not in page  # not reached this year yet
    assert 'src="/vendor/bpmn-js/dist/bpmn-navigated-viewer.production.min.js"' in page
    assert 'src="/arenden/static/diagram.js"' in page
    # Without JavaScript the page says where the same information is, as text.
    assert "Samma information finns som text nedan" in page
    called = html(client, f"/arenden/{instance}?process=organisation_plan")
    assert f"/arenden/{instance}/diagram.json?process=organisation_plan" in called
    assert "Pågår nu:" in called
    html(client, f"/arenden/{instance}?process=nope", status=404)
    assert client.get("/arenden/static/diagram.js").status_code == 200


# -- attachments --------------------------------------------------------------------------------


def test_attachments_are_listed_and_downloaded_by_those_allowed(city: Any, app: Flask) -> None:
    instance = plan_cycle_at_lagesbild(city)
    task = lagesbild(city, instance, "farsta")
    stored = attachments.store(
        city.engine,
        task,
        "/kallor/0/bilaga",
        "Brottsstatistik Farsta.pdf",
        b"%PDF-1.4 demo",
        city.actor("ansvarig.farsta"),
    )
    url = f"/arenden/{instance}/bilagor/{stored.id}"

    farsta = client_for(app, "ansvarig.farsta")
    page = html(farsta, f"/arenden/{instance}")
    assert f'href="{url}"' in page and "Brottsstatistik Farsta.pdf" in page
    download = farsta.get(url)
    assert download.status_code == 200
    assert download.data == b"%PDF-1.4 demo"
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")

    coordinator = client_for(app, "samordnare")  # gathers every organisation's work
    assert coordinator.get(url).status_code == 200

    bromma = client_for(app, "ansvarig.bromma")  # sees the case, not Farsta's files
    page = html(bromma, f"/arenden/{instance}")
    assert "Brottsstatistik Farsta.pdf" not in page
    assert "Det finns inga bilagor i ärendet som du kan läsa." in page
    assert bromma.get(url).status_code == 404

    other_case = revision_unchanged(city)
    assert coordinator.get(f"/arenden/{other_case}/bilagor/{stored.id}").status_code == 404
    assert coordinator.get(f"/arenden/{instance}/bilagor/9999").status_code == 404


def test_the_diagram_json_is_only_the_case_itself(city: Any, app: Flask) -> None:
    """No form data travels with the diagram: ids of elements, the diagram, nothing else."""
    instance = plan_cycle_at_lagesbild(city)
    data = client_for(app, "ansvarig.farsta").get(f"/arenden/{instance}/diagram.json").json
    assert set(data) == {"instance", "process", "file", "xml", "completed", "active"}
    assert "deltagare" not in json.dumps(data["completed"] + data["active"])
