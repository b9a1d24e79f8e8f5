"""The modeller's server side: who may use it, the checks it runs (the deploy's own, plus lanes
that must be roles), where each problem is marked, and deploying a new version while a
running instance stays on its own.

Runs the real application on the small demo city, CSRF on; the edited diagram is the
deployed tertial loop changed as a process owner would change it in bpmn-js.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.test_webui_auth import make_app
from tests.test_webui_auth import (
    test_every_message_of_an_area_has_an_english_translation as english_complete,
)
from tests.test_webui_decisions import client_for, html

MAIN = "tertial-loop/tertial-loop.bpmn"
CSRF = re.compile(r'data-csrf="([^"]+)"')
TIMER = b'<bpmn:timeDate>tertial["period_end"]</bpmn:timeDate>'
FORM = b'value="forms/council_tertial.schema.json"'
COUNCIL_LANE = 'name="Riskhanteringsrådet"'.encode()


@pytest.fixture
def app(city: Any) -> Flask:
    return make_app(city)


@pytest.fixture
def owner(app: Flask) -> FlaskClient:
    return client_for(app, "processagare")


def deployed(city: Any, key: str = "tertial_loop") -> bytes:
    definition = city.engine.repository.get(key)
    return city.engine.repository.files(definition.id)[MAIN]


def broken(xml: bytes) -> bytes:
    """The three mistakes of the issue: a missing form, a lane with no role, a bad timer."""
    xml = xml.replace(TIMER, b"<bpmn:timeDate>P4M</bpmn:timeDate>")
    xml = xml.replace(FORM, b'value="forms/saknas.schema.json"')
    return xml.replace(COUNCIL_LANE, b'name="Kommunikationsavdelningen"')


def token(client: FlaskClient, key: str = "tertial_loop") -> str:
    match = CSRF.search(html(client, f"/modeller/{key}"))
    assert match
    return match.group(1)


def post_json(client: FlaskClient, url: str, xml: bytes, **extra: Any) -> Any:
    return client.post(
        url,
        json={"xml": xml.decode(), "file": MAIN, **extra},
        headers={"X-CSRFToken": token(client)},
    )


# -- who may use it -----------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["samordnare", "ansvarig.farsta", "revisor"])
def test_only_process_owners_and_administrators_may_use_the_modeller(
    app: Flask, city: Any, user: str
) -> None:
    client = client_for(app, user)
    for url in (
        "/modeller/",
        "/modeller/tertial_loop",
        "/modeller/tertial_loop/diagram.json",
        "/modeller/tertial_loop/ladda-ned",
    ):
        assert client.get(url).status_code == 403, url
    for url in ("/modeller/tertial_loop/validera", "/modeller/tertial_loop/driftsatt"):
        assert client.post(url, json={"xml": "<x/>"}).status_code in (400, 403), url
    assert "/modeller/" not in html(client, "/arenden")


def test_signed_out_visitors_are_sent_to_sign_in(app: Flask) -> None:
    response = app.test_client().get("/modeller/tertial_loop")
    assert response.status_code == 302 and "/logga-in" in response.headers["Location"]


@pytest.mark.parametrize("user", ["processagare", "admin"])
def test_process_owners_see_the_deployed_processes_in_the_menu(app: Flask, user: str) -> None:
    page = html(client_for(app, user), "/modeller/")
    assert 'href="/modeller/"' in page  # the main menu
    for key in ("plan_cycle", "tertial_loop", "guideline_revision", "safety_prize"):
        assert f'href="/modeller/{key}"' in page


def test_a_post_without_the_csrf_token_is_refused(owner: FlaskClient, city: Any) -> None:
    response = owner.post(
        "/modeller/tertial_loop/driftsatt", json={"xml": deployed(city).decode(), "file": MAIN}
    )
    assert response.status_code == 400
    assert [d.version for d in city.engine.repository.definitions("tertial_loop")] == [1]


def test_unknown_processes_files_and_versions_are_not_found(owner: FlaskClient) -> None:
    assert owner.get("/modeller/no_such_process").status_code == 404
    assert owner.get("/modeller/tertial_loop?version=9").status_code == 404
    assert owner.get("/modeller/tertial_loop?fil=../../etc/passwd").status_code == 404
    assert owner.get("/modeller/tertial_loop?fil=tertial-loop/traffic-light.dmn").status_code == 404


# -- opening what runs --------------------------------------------------------------------------


def test_the_page_opens_exactly_the_stored_files(owner: FlaskClient, city: Any) -> None:
    data = owner.get("/modeller/tertial_loop/diagram.json").get_json()
    assert data["file"] == MAIN and data["version"] == 1
    assert data["xml"].encode() == deployed(city)
    called = owner.get(
        "/modeller/tertial_loop/diagram.json?fil=tertial-loop/tertial-report.bpmn"
    ).get_json()
    assert 'id="organisation_tertial_report"' in called["xml"]
    page = html(owner, "/modeller/tertial_loop")
    assert "tertial-loop/tertial-report.bpmn" in page  # the choice of diagram
    assert "bpmn-modeler.production.min.js" in page and "modeller.js" in page


def test_download_gives_the_deployed_bpmn_file(owner: FlaskClient, city: Any) -> None:
    response = owner.get("/modeller/tertial_loop/ladda-ned?version=1")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="tertial-loop-v1.bpmn"'
    )
    assert response.data == deployed(city)


# -- checking -----------------------------------------------------------------------------------


def test_the_deployed_diagram_has_no_problems(owner: FlaskClient, city: Any) -> None:
    answer = post_json(owner, "/modeller/tertial_loop/validera", deployed(city)).get_json()
    assert answer == {"ok": True, "file": MAIN, "problems": []}


def test_each_problem_names_the_drawn_element_to_mark(owner: FlaskClient, city: Any) -> None:
    answer = post_json(owner, "/modeller/tertial_loop/validera", broken(deployed(city)))
    problems = answer.get_json()["problems"]
    assert answer.get_json()["ok"] is False
    by_shape = {p["shape"]: p for p in problems}
    assert sorted(by_shape) == ["council_tertial", "lane_radet", "wait_period_end"]
    assert "forms/saknas.schema.json" in by_shape["council_tertial"]["message"]
    assert "Kommunikationsavdelningen" in by_shape["lane_radet"]["message"]
    assert "P4M" in by_shape["wait_period_end"]["message"]
    assert all(p["file"] == MAIN and p["line"] > 0 and p["hint"] for p in problems)


def test_a_misspelt_service_parameter_is_marked_on_its_task(owner: FlaskClient, city: Any) -> None:
    """notify needs `subject`: a renamed parameter is caught by Validera, not by a case that
    reaches the task months later."""
    xml = deployed(city).replace(
        b"""<spiffworkflow:parameter id="subject" type="any" value="f'Riskhanteringsr""",
        b"""<spiffworkflow:parameter id="subjekt" type="any" value="f'Riskhanteringsr""",
    )
    problems = post_json(owner, "/modeller/tertial_loop/validera", xml).get_json()["problems"]
    assert [p["shape"] for p in problems] == ["notify_actions", "notify_actions"]
    assert [p["message"] for p in problems] == [
        "service task calls operator 'notify', but it leaves out parameter 'subject'",
        "service task calls operator 'notify', but it passes parameter 'subjekt', which the "
        "operator does not take",
    ]
    assert "it needs role, subject and may take organisation" in problems[0]["hint"]


def test_the_service_list_says_what_each_service_takes(owner: FlaskClient, city: Any) -> None:
    answer = owner.get("/modeller/tjanster.json").get_json()
    assert answer["operators"] == sorted(city.engine.services.names())
    assert answer["parameters"]["publish_prize_winner"] == {
        "required": ["year", "nomination_id"],
        "optional": ["prize_sum", "motivation"],
    }
    assert answer["parameters"]["participating_organisations"] == {
        "required": [],
        "optional": [],
    }


def test_xml_that_does_not_parse_is_a_problem_not_an_error(owner: FlaskClient, city: Any) -> None:
    answer = post_json(owner, "/modeller/tertial_loop/validera", b"<bpmn:definitions")
    problems = answer.get_json()["problems"]
    assert answer.status_code == 200 and problems and problems[0]["file"] == MAIN


# -- deploying ----------------------------------------------------------------------------------


def test_a_broken_diagram_is_not_deployed(owner: FlaskClient, city: Any) -> None:
    answer = post_json(owner, "/modeller/tertial_loop/driftsatt", broken(deployed(city)))
    assert answer.status_code == 422 and len(answer.get_json()["problems"]) == 3
    assert [d.version for d in city.engine.repository.definitions("tertial_loop")] == [1]


def test_deploying_makes_a_new_version_and_running_instances_stay(
    owner: FlaskClient, city: Any
) -> None:
    running = city.start("tertial_loop", plans=[])
    changed = deployed(city).replace(
        b'name="Behandla tertialrapporten"', 'name="Behandla tertialrapporten i rådet"'.encode()
    )
    answer = post_json(owner, "/modeller/tertial_loop/driftsatt", changed).get_json()
    assert answer["ok"] is True
    assert {"key": "tertial_loop", "version": 2} in answer["deployed"]
    latest = city.engine.repository.get("tertial_loop")
    assert (latest.version, latest.deployed_by) == (2, "processagare")
    assert city.engine.repository.files(latest.id)[MAIN] == changed
    assert city.engine.runtime.get(running).version == 1
    page = html(owner, "/modeller/tertial_loop")
    # The loop calls privileged services (notifications, the council's decision): the new
    # version waits for an administrator, and the page says so (engine/approvals.py).
    assert "tertial_loop version 2 är driftsatt men väntar på godkännande" in page
    assert "Väntar på godkännande" in page
    assert "Pelle Processägare" in page  # the version list says who
    again = post_json(owner, "/modeller/tertial_loop/driftsatt", changed).get_json()
    assert again == {"ok": True, "deployed": [], "url": "/modeller/tertial_loop"}
    assert "Inget ändrades" in html(owner, "/modeller/tertial_loop")


def test_without_javascript_an_uploaded_file_is_checked_and_deployed(
    owner: FlaskClient, city: Any
) -> None:
    def upload(xml: bytes) -> Any:
        from io import BytesIO

        return owner.post(
            "/modeller/tertial_loop/driftsatt",
            data={
                "csrf_token": token(owner),
                "version": "1",
                "file": MAIN,
                "diagram": (BytesIO(xml), "tertial-loop.bpmn"),
            },
            content_type="multipart/form-data",
        )

    refused = upload(broken(deployed(city)))
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'class="error-summary"' in page and "<code>lane_radet</code>" in page
    changed = deployed(city).replace(
        b'name="Behandla tertialrapporten"', 'name="Rådet behandlar tertialrapporten"'.encode()
    )
    accepted = upload(changed)
    assert accepted.status_code == 302
    assert city.engine.repository.get("tertial_loop").version == 2
    assert city.engine.repository.get("organisation_tertial_report").version == 1


def test_every_message_of_the_modeller_has_an_english_translation() -> None:
    # tests/test_webui_auth.py's AREAS does not list the modeller yet; run its check here.
    english_complete("modeller")


def test_cases_on_the_old_version_move_where_they_can_and_the_others_say_why(
    owner: FlaskClient, city: Any
) -> None:
    """A version that only renames a task: the waiting case moves, with the reason in its
    history. A version that removes the period-end wait: a case waiting there stays, and the
    page says it stands on that element."""
    from tests.test_webui_auth import post

    waiting = city.start("tertial_loop", plans=[])  # waits for T1's period end
    renamed = deployed(city).replace(
        b'name="Behandla tertialrapporten"', 'name="Behandla tertialrapporten i rådet"'.encode()
    )
    assert post_json(owner, "/modeller/tertial_loop/driftsatt", renamed).get_json()["ok"]
    assert "version 2 awaits an administrator" in html(owner, "/modeller/tertial_loop")
    approve_latest(city, "tertial_loop")
    page = html(owner, "/modeller/tertial_loop")
    assert "Ärenden på äldre versioner" in page and "Flytta de ärenden som kan flyttas" in page
    assert post(owner, "/modeller/tertial_loop/flytta", {}).status_code == 400
    done = post(owner, "/modeller/tertial_loop/flytta", {"reason": "Tydligare namn"})
    assert done.status_code == 200
    assert city.engine.runtime.get(waiting).version == 2
    assert "Alla pågående ärenden kör den senaste versionen." in html(
        owner, "/modeller/tertial_loop"
    )

    stuck = city.start("tertial_loop", plans=[])  # on version 2, waiting
    xml = deployed(city)
    without_wait = _remove_period_end_wait(xml)
    assert post_json(owner, "/modeller/tertial_loop/driftsatt", without_wait).get_json()["ok"]
    approve_latest(city, "tertial_loop")
    page = html(owner, "/modeller/tertial_loop")
    assert "wait_period_end" in page  # the reason names the element it stands on
    assert (
        post(owner, "/modeller/tertial_loop/flytta", {"reason": "Utan väntan"}).status_code == 200
    )
    assert city.engine.runtime.get(stuck).version == 2  # stays, with the reason shown
    assert city.engine.runtime.get(waiting).version == 2


def approve_latest(city: Any, key: str) -> None:
    """An administrator approves the newest version (it calls privileged services)."""
    newest = city.engine.repository.definitions(key)[-1]
    city.engine.approvals.approve(newest.id, city.actor("admin"), "granskad")


def _remove_period_end_wait(xml: bytes) -> bytes:
    """The tertial loop with its period-end timer replaced by a plain intermediate event."""
    text = xml.decode()
    start = text.index('<bpmn:intermediateCatchEvent id="wait_period_end"')
    end = text.index("</bpmn:intermediateCatchEvent>", start) + len(
        "</bpmn:intermediateCatchEvent>"
    )
    element = text[start:end]
    incoming = re.search(r"<bpmn:incoming>([^<]+)</bpmn:incoming>", element).group(1)
    outgoing = re.search(r"<bpmn:outgoing>([^<]+)</bpmn:outgoing>", element).group(1)
    replacement = (
        '<bpmn:intermediateThrowEvent id="period_end_passed" name="Tertialen är slut">'
        f"<bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing>"
        "</bpmn:intermediateThrowEvent>"
    )
    text = text[:start] + replacement + text[end:]
    text = text.replace('"wait_period_end"', '"period_end_passed"')
    text = text.replace(">wait_period_end<", ">period_end_passed<")
    return text.encode()
