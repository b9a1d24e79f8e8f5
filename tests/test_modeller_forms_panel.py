"""Forms edited beside the diagram on the modeller page: the page's diagram request brings
the form texts, and "Validera", "Spara utkast" and "Driftsätt" take the edited forms with
the diagram — so a user task and a new form made from a template are deployed together as
one version, and a form that is not valid JSON (Schema) stops the deploy with its file named.

Runs the real application on the small demo city, CSRF on.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.test_modeller import FORM, deployed, post_json
from tests.test_webui_auth import make_app
from tests.test_webui_decisions import client_for

BASE = "/modeller/tertial_loop"
STORED = "tertial-loop/forms/council_tertial.schema.json"
NEW = "forms/radets_beslut.schema.json"
NEW_UI = "forms/radets_beslut.uischema.json"
DECISION = {
    "type": "object",
    "title": "Rådets beslut",
    "required": ["beslut"],
    "properties": {"beslut": {"type": "string", "title": "Beslut", "enum": ["ja", "nej"]}},
}


@pytest.fixture
def app(city: Any) -> Flask:
    return make_app(city)


@pytest.fixture
def owner(app: Flask) -> FlaskClient:
    return client_for(app, "processagare")


def files_of(city: Any, key: str = "tertial_loop") -> dict[str, bytes]:
    return city.engine.repository.files(city.engine.repository.get(key).id)


def files_of_version(city: Any, version: int) -> dict[str, bytes]:
    definition = city.engine.repository.get("tertial_loop", version)
    return city.engine.repository.files(definition.id)


def uses_new_form(city: Any) -> bytes:
    """The tertial loop with the council's task naming the new form's two files."""
    ui = b'value="forms/council_tertial.uischema.json"'
    return (
        deployed(city)
        .replace(FORM, f'value="{NEW}"'.encode(), 1)
        .replace(ui, f'value="{NEW_UI}"'.encode(), 1)
    )


def test_the_diagram_request_brings_the_form_texts(owner: FlaskClient, city: Any) -> None:
    body = owner.get(f"{BASE}/diagram.json").get_json()
    assert body["form_texts"]["forms/council_tertial.schema.json"] == files_of(city)[STORED].decode(
        "utf-8"
    )
    assert set(body["form_texts"]) == set(body["forms"])
    assert body["form_drafts"] == {}


def test_a_new_form_and_the_task_that_uses_it_deploy_as_one_version(
    owner: FlaskClient, city: Any
) -> None:
    forms = {NEW: json.dumps(DECISION, ensure_ascii=False), NEW_UI: "{}"}
    checked = post_json(owner, f"{BASE}/validera", uses_new_form(city), forms=forms)
    assert checked.get_json() == {
        "ok": True,
        "file": "tertial-loop/tertial-loop.bpmn",
        "problems": [],
    }
    answer = post_json(owner, f"{BASE}/driftsatt", uses_new_form(city), forms=forms, version="1")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["deployed"] == [{"key": "tertial_loop", "version": 2}]
    stored = files_of(city)
    assert json.loads(stored[f"tertial-loop/{NEW}"]) == DECISION
    assert stored[f"tertial-loop/{NEW_UI}"] == b"{}"
    # The engine keeps the files the process uses: the replaced form stays in version 1.
    assert STORED not in stored and STORED in files_of_version(city, 1)


def test_the_same_diagram_without_the_new_form_is_refused(owner: FlaskClient, city: Any) -> None:
    answer = post_json(owner, f"{BASE}/driftsatt", uses_new_form(city), version="1")
    assert answer.status_code == 422
    assert any("radets_beslut" in p["message"] for p in answer.get_json()["problems"])
    assert city.engine.repository.get("tertial_loop").version == 1


def test_an_edited_form_that_is_not_json_stops_the_deploy_and_names_the_file(
    owner: FlaskClient, city: Any
) -> None:
    forms = {"forms/council_tertial.schema.json": '{"type": "object",\n  "title": }'}
    answer = post_json(owner, f"{BASE}/driftsatt", deployed(city), forms=forms, version="1")
    assert answer.status_code == 422
    problems = answer.get_json()["problems"]
    # Reported once, by the deploy's own check, with the line; no marker on the diagram.
    assert [(p["file"], p["line"]) for p in problems] == [(STORED, 2)]
    assert "not valid JSON" in problems[0]["message"] and "shape" not in problems[0]
    assert problems[0]["hint"]
    assert city.engine.repository.get("tertial_loop").version == 1


def test_an_invalid_json_schema_is_a_problem(owner: FlaskClient, city: Any) -> None:
    forms = {"forms/council_tertial.schema.json": '{"type": "objekt"}'}
    answer = post_json(owner, f"{BASE}/validera", deployed(city), forms=forms)
    problems = answer.get_json()["problems"]
    assert len(problems) == 1 and "not a valid JSON Schema" in problems[0]["message"]


@pytest.mark.parametrize(
    "name",
    [
        "../plan-cycle/forms/lagesbild.schema.json",
        "tertial-loop.bpmn",
        "forms/Stora_bokstaver.schema.json",
        "annan/mapp.schema.json",
        "/etc/passwd.schema.json",
        "traffic-light.dmn",
    ],
)
def test_only_form_files_beside_the_diagram_can_be_sent(
    owner: FlaskClient, city: Any, name: str
) -> None:
    before = files_of(city)
    answer = post_json(owner, f"{BASE}/driftsatt", deployed(city), forms={name: "{}"}, version="1")
    assert answer.status_code == 422
    problems = answer.get_json()["problems"]
    assert [p["file"] for p in problems] == [name]
    assert "kan inte sparas" in problems[0]["message"]
    assert files_of(city) == before and city.engine.repository.get("tertial_loop").version == 1


def test_forms_that_are_not_a_mapping_of_texts_are_a_bad_request(
    owner: FlaskClient, city: Any
) -> None:
    for forms in (["x"], {NEW: 1}):
        answer = post_json(owner, f"{BASE}/validera", deployed(city), forms=forms)
        assert answer.status_code == 400


def test_a_draft_keeps_the_forms_even_unfinished_and_throwing_it_away_removes_them(
    owner: FlaskClient, city: Any
) -> None:
    unfinished = '{"type": "object", "title": '
    forms = {NEW: unfinished, NEW_UI: "{}", "forms/council_tertial.schema.json": "{}"}
    answer = post_json(owner, f"{BASE}/utkast", uses_new_form(city), forms=forms, version="1")
    assert answer.status_code == 200
    assert not answer.get_json()["valid"]
    opened = owner.get(f"{BASE}/diagram.json?utkast=1").get_json()
    assert opened["form_drafts"] == forms
    # The deployed view is unchanged and another process owner sees none of it.
    assert owner.get(f"{BASE}/diagram.json").get_json()["form_drafts"] == {}
    owner.delete(
        f"{BASE}/utkast?fil=tertial-loop/tertial-loop.bpmn",
        headers={"X-CSRFToken": _token(owner)},
    )
    assert owner.get(f"{BASE}/diagram.json?utkast=1").status_code == 404
    resaved = post_json(owner, f"{BASE}/utkast", deployed(city), version="1")
    assert resaved.status_code == 200
    assert owner.get(f"{BASE}/diagram.json?utkast=1").get_json()["form_drafts"] == {}


def test_deploying_removes_the_forms_saved_with_the_draft(owner: FlaskClient, city: Any) -> None:
    forms = {NEW: json.dumps(DECISION), NEW_UI: "{}"}
    post_json(owner, f"{BASE}/utkast", uses_new_form(city), forms=forms, version="1")
    answer = post_json(owner, f"{BASE}/driftsatt", uses_new_form(city), forms=forms, version="1")
    assert answer.status_code == 200
    resaved = post_json(owner, f"{BASE}/utkast", deployed(city), version="2")
    assert resaved.status_code == 200
    assert owner.get(f"{BASE}/diagram.json?utkast=1").get_json()["form_drafts"] == {}


def test_the_panels_preview_needs_no_file_name(owner: FlaskClient) -> None:
    answer = owner.post(
        f"{BASE}/formular-forhandsgranska",
        json={"schema": json.dumps(DECISION), "ui": "{}"},
        headers={"X-CSRFToken": _token(owner)},
    )
    body = answer.get_json()
    assert body["ok"] and body["title"] == "Rådets beslut" and "<select" in body["html"]


def test_another_users_view_has_no_form_drafts(app: Flask, owner: FlaskClient, city: Any) -> None:
    post_json(owner, f"{BASE}/utkast", deployed(city), forms={NEW: "{}"}, version="1")
    admin = client_for(app, "admin")
    assert admin.get(f"{BASE}/diagram.json").get_json()["form_drafts"] == {}


def _token(client: FlaskClient) -> str:
    from tests.test_modeller import token

    return token(client)
