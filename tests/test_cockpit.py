"""The administrators' cockpit (/admin/arenden): finding any instance by process, version,
state, organisation, year and free text; seeing its variables, tasks, timers, history and
incidents; and acting on it — suspend, resume, terminate, retry, reassign a task — always
with a reason that the history keeps with who acted. Nobody but an administrator gets in.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.test_webui_auth import make_app, post
from tests.test_webui_decisions import client_for, html, revision_unchanged
from tests.test_webui_instances import lagesbild, plan_cycle_at_lagesbild


@pytest.fixture
def app(city: Any) -> Flask:
    return make_app(city)


@pytest.fixture
def cases(city: Any) -> dict[str, int]:
    return {"plan": plan_cycle_at_lagesbild(city), "revision": revision_unchanged(city)}


def _events(city: Any, instance: int, kind: str) -> list[dict[str, Any]]:
    return [e for e in city.history(instance) if e["kind"] == kind]


def test_only_administrators_may_use_the_cockpit(app: Flask, cases: dict[str, int]) -> None:
    plan = cases["plan"]
    for user in ("samordnare", "revisor", "ansvarig.farsta"):
        client = client_for(app, user)
        assert client.get("/admin/arenden").status_code == 403, user
        assert client.get(f"/admin/arenden/{plan}").status_code == 403, user
        response = post(client, f"/admin/arenden/{plan}/suspend", {"reason_suspend": "x"})
        assert response.status_code == 403, user
    assert app.test_client().get("/admin/arenden").status_code == 302  # to the sign-in page


def test_the_list_filters_by_every_criterion(app: Flask, cases: dict[str, int]) -> None:
    client = client_for(app, "admin")
    plan, revision = f'/admin/arenden/{cases["plan"]}"', f'/admin/arenden/{cases["revision"]}"'

    def shows(query: str) -> tuple[bool, bool]:
        page = html(client, f"/admin/arenden?{query}")
        return plan in page, revision in page

    assert shows("") == (True, True)
    assert shows("process=plan_cycle") == (True, False)
    assert shows("state=completed") == (False, True)
    assert shows("state=running&process=plan_cycle") == (True, False)
    assert shows("organisation=farsta") == (True, False)  # the lägesbild is Farsta's too
    assert shows("year=2026") == (True, True)
    assert shows("year=2031") == (False, False)
    assert shows("version=1") == (True, True)
    assert shows("version=99") == (False, False)
    assert shows("q=guideline") == (False, True)
    assert shows(f"q={cases['plan']}") == (True, False)
    assert shows("state=nonsense") == (True, True)  # not one of the list's states: ignored
    for query in ("version=x", "year=y", "page=0"):  # a number that is none: said, not ignored
        assert client.get(f"/admin/arenden?{query}").status_code == 400, query


def test_an_instance_shows_variables_tasks_timers_history(
    app: Flask, city: Any, cases: dict[str, int]
) -> None:
    plan = cases["plan"]
    page = html(client_for(app, "admin"), f"/admin/arenden/{plan}")
    assert "deltagare" in page  # a variable
    assert "lagesbild" in page or "Lägesbild" in page  # an open task
    assert "Timrar som väntar" in page
    assert "task.completed" in page  # the coordinator's completed task in the history
    assert f'href="/arenden/{plan}"' in page  # the diagram is on the case page
    assert "Inga incidenter." in page
    assert client_for(app, "admin").get("/admin/arenden/999999").status_code == 404


def test_suspend_resume_terminate_need_a_reason_recorded_with_who(
    app: Flask, city: Any, cases: dict[str, int]
) -> None:
    plan = cases["plan"]
    client = client_for(app, "admin")
    missing = post(client, f"/admin/arenden/{plan}/suspend", {"reason_suspend": "  "})
    assert missing.status_code == 400
    text = missing.get_data(as_text=True)
    assert 'class="error-summary"' in text and 'href="#reason_suspend"' in text
    assert city.instance(plan).state == "running"

    done = post(client, f"/admin/arenden/{plan}/suspend", {"reason_suspend": "Utreds"})
    assert done.status_code == 303
    assert city.instance(plan).state == "suspended"
    (event,) = _events(city, plan, "instance.suspended")
    assert event["actor"] == "admin" and event["data"]["reason"] == "Utreds"

    again = post(client, f"/admin/arenden/{plan}/suspend", {"reason_suspend": "igen"})
    assert again.status_code == 409  # not running: said on the page, nothing changes

    post(client, f"/admin/arenden/{plan}/resume", {"reason_resume": "Klart utrett"})
    assert city.instance(plan).state == "running"
    assert _events(city, plan, "instance.resumed")[0]["data"]["reason"] == "Klart utrett"

    post(client, f"/admin/arenden/{plan}/terminate", {"reason_terminate": "Startat av misstag"})
    assert city.instance(plan).state == "terminated"
    (ended,) = _events(city, plan, "instance.terminated")
    assert ended["actor"] == "admin" and ended["data"]["reason"] == "Startat av misstag"
    assert "Ärendet är avslutat; det finns inget att göra." in html(
        client, f"/admin/arenden/{plan}"
    )
    assert city.engine.verify_history() == []


def test_retry_without_an_incident_is_refused_on_the_page(
    app: Flask, city: Any, cases: dict[str, int]
) -> None:
    plan = cases["plan"]
    client = client_for(app, "admin")
    response = post(client, f"/admin/arenden/{plan}/retry", {"reason_retry": "Prova"})
    assert response.status_code == 409
    assert _events(city, plan, "incident.retried") == []
    assert _events(city, plan, "admin.reason") == []


def test_reassigning_a_task_records_who_to_whom_and_why(
    app: Flask, city: Any, cases: dict[str, int]
) -> None:
    plan = cases["plan"]
    task = lagesbild(city, plan, "farsta")
    client = client_for(app, "admin")
    url = f"/admin/arenden/{plan}/uppgifter/{task.id}/tilldela"
    missing = post(client, url, {f"to_{task.id}": "ansvarig.farsta"})
    assert missing.status_code == 400
    assert city.engine.tasks.get(task.id).assignee is None

    wrong = post(client, url, {f"to_{task.id}": "ansvarig.bromma", f"reason_task_{task.id}": "x"})
    assert wrong.status_code == 409  # Bromma's person may not work on Farsta's task
    assert city.engine.tasks.get(task.id).assignee is None

    reason = "Ordinarie handläggare är sjuk"
    done = post(client, url, {f"to_{task.id}": "ansvarig.farsta", f"reason_task_{task.id}": reason})
    assert done.status_code == 303
    assert city.engine.tasks.get(task.id).assignee == "ansvarig.farsta"
    (delegated,) = [e for e in _events(city, plan, "task.delegated") if e["task_id"] == task.id]
    assert delegated["actor"] == "admin" and delegated["data"]["to"] == "ansvarig.farsta"
    (why,) = _events(city, plan, "admin.reason")
    assert why["data"] == {"action": "reassign", "to": "ansvarig.farsta", "reason": reason}
    assert why["actor"] == "admin" and why["task_id"] == task.id
    assert city.engine.verify_history() == []

    other = lagesbild(city, cases["plan"], "bromma")
    assert post(client, f"/admin/arenden/{cases['revision']}/uppgifter/{other.id}/tilldela", {})
    assert (
        post(
            client, f"/admin/arenden/{cases['revision']}/uppgifter/{other.id}/tilldela", {}
        ).status_code
        == 404
    )  # the task is not this instance's


def test_skipping_a_stuck_task_needs_a_reason_and_moves_the_case_on(
    app: Flask, city: Any, cases: dict[str, int]
) -> None:
    plan = cases["plan"]
    task = lagesbild(city, plan, "farsta")
    url = f"/admin/arenden/{plan}/uppgifter/{task.id}/hoppa-over"
    assert (
        post(client_for(app, "samordnare"), url, {f"reason_skip_{task.id}": "x"}).status_code == 403
    )
    client = client_for(app, "admin")
    assert post(client, url, {}).status_code == 400
    assert city.engine.tasks.get(task.id).state == "open"
    reason = "Farsta har ingen ansvarig i år; lägesbilden tas fram centralt"
    assert post(client, url, {f"reason_skip_{task.id}": reason}).status_code == 303
    assert city.engine.tasks.get(task.id).state == "completed"
    (skipped,) = _events(city, plan, "task.skipped")
    assert skipped["actor"] == "admin" and skipped["data"]["reason"] == reason
    assert city.engine.verify_history() == []


def test_moving_a_case_to_a_newer_version_with_a_reason(
    app: Flask, city: Any, tmp_path: Any
) -> None:
    import shutil

    from processes.catalogue import BPMN_DIR

    case = city.start("guideline_revision")  # waiting for the revision date
    folder = tmp_path / "guideline-revision"
    shutil.copytree(BPMN_DIR / "guideline-revision", folder)
    diagram = folder / "guideline-revision.bpmn"
    diagram.write_text(
        diagram.read_text(encoding="utf-8").replace(
            "<bpmn:documentation>", "<bpmn:documentation>Version 2. ", 1
        ),
        encoding="utf-8",
    )
    results = city.engine.repository.deploy([folder], city.register.actor("processagare"))
    (deployed,) = [r for r in results if r.definition.key == "guideline_revision"]
    client = client_for(app, "admin")
    # Version 2 calls privileged services: until it is approved, nothing moves to it.
    assert "Flytta till senaste versionen" not in html(client, f"/admin/arenden/{case}")
    city.engine.approvals.approve(deployed.definition.id, city.actor("admin"), "granskad")
    assert "Flytta till senaste versionen" in html(client, f"/admin/arenden/{case}")
    url = f"/admin/arenden/{case}/migrate"
    assert post(client, url, {}).status_code == 400
    done = post(client, url, {"reason_migrate": "Förtydligad instruktion"})
    assert done.status_code == 303
    assert city.instance(case).version == 2
    (moved,) = _events(city, case, "instance.migrated")
    assert moved["actor"] == "admin" and moved["data"]["reason"] == "Förtydligad instruktion"
