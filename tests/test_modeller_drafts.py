"""Drafts in the modeller: an edit saved without deploying, opened again by the one who saved
it (and nobody else), thrown away on request, and gone once the file is deployed.

Runs the real application on the small demo city, CSRF on.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.test_modeller import MAIN, broken, deployed, post_json, token
from tests.test_webui_auth import make_app
from tests.test_webui_decisions import client_for, html

DRAFT_URL = "/modeller/tertial_loop/utkast"


@pytest.fixture
def app(city: Any) -> Flask:
    return make_app(city)


@pytest.fixture
def owner(app: Flask) -> FlaskClient:
    return client_for(app, "processagare")


def edited(city: Any) -> bytes:
    return deployed(city).replace(
        b'name="Behandla tertialrapporten"', 'name="Rådet läser tertialrapporten"'.encode()
    )


def diagram_json(client: FlaskClient, query: str = "") -> Any:
    return client.get(f"/modeller/tertial_loop/diagram.json{query}")


def test_a_saved_draft_is_not_deployed_and_opens_again(owner: FlaskClient, city: Any) -> None:
    answer = post_json(owner, DRAFT_URL, edited(city), version="1")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["ok"] is True and body["valid"] is True and body["problems"] == []
    assert body["base_version"] == 1 and body["file"] == MAIN
    assert "Utkastet är sparat" in body["message"]
    assert [d.version for d in city.engine.repository.definitions("tertial_loop")] == [1]

    page = html(owner, "/modeller/tertial_loop")
    assert "Du har ett utkast från" in page and "baserat på version 1" in page
    assert "utkast=1" in page and "Kasta utkastet" in page

    opened = html(owner, "/modeller/tertial_loop?utkast=1")
    assert "Du redigerar ditt utkast" in opened
    assert "diagram.json?version=1&amp;fil=" in opened and "utkast=1" in opened
    draft = diagram_json(owner, f"?version=1&fil={MAIN}&utkast=1").get_json()
    assert draft["xml"].encode() == edited(city) and draft["draft"] is True
    # without the parameter the deployed file is served, as before
    assert diagram_json(owner).get_json()["xml"].encode() == deployed(city)


def test_saving_again_replaces_the_draft_and_says_whether_it_validates(
    owner: FlaskClient, city: Any
) -> None:
    post_json(owner, DRAFT_URL, edited(city))
    answer = post_json(owner, DRAFT_URL, broken(deployed(city))).get_json()
    assert answer["ok"] is True and answer["valid"] is False and len(answer["problems"]) == 3
    xml = diagram_json(owner, "?utkast=1").get_json()["xml"].encode()
    assert xml == broken(deployed(city))


def test_a_draft_is_discarded_by_form_or_by_delete(owner: FlaskClient, city: Any) -> None:
    post_json(owner, DRAFT_URL, edited(city))
    response = owner.post(f"{DRAFT_URL}/kasta", data={"csrf_token": token(owner), "file": MAIN})
    assert response.status_code == 302
    page = html(owner, "/modeller/tertial_loop")
    assert "Utkastet är borttaget." in page and "Du har ett utkast" not in page
    assert diagram_json(owner, "?utkast=1").status_code == 404

    post_json(owner, DRAFT_URL, edited(city))
    deleted = owner.delete(DRAFT_URL, headers={"X-CSRFToken": token(owner)})
    assert deleted.status_code == 200 and deleted.get_json()["ok"] is True
    assert diagram_json(owner, "?utkast=1").status_code == 404


def test_another_users_draft_is_not_shown(app: Flask, owner: FlaskClient, city: Any) -> None:
    post_json(owner, DRAFT_URL, edited(city))
    admin = client_for(app, "admin")
    page = html(admin, "/modeller/tertial_loop?utkast=1")
    diagram_url = page.split('data-diagram-url="')[1].split('"')[0]
    assert "utkast" not in diagram_url
    assert "Du har ett utkast" not in page and "Du redigerar ditt utkast" not in page
    assert diagram_json(admin, "?utkast=1").status_code == 404
    # nor can they throw it away
    admin.post(f"{DRAFT_URL}/kasta", data={"csrf_token": token(admin), "file": MAIN})
    assert diagram_json(owner, "?utkast=1").status_code == 200


def test_deploying_removes_the_draft(owner: FlaskClient, city: Any) -> None:
    post_json(owner, DRAFT_URL, edited(city))
    refused = post_json(owner, "/modeller/tertial_loop/driftsatt", broken(deployed(city)))
    assert refused.status_code == 422
    assert diagram_json(owner, "?utkast=1").status_code == 200  # a refused deploy keeps it
    answer = post_json(owner, "/modeller/tertial_loop/driftsatt", edited(city)).get_json()
    assert answer["ok"] is True
    assert diagram_json(owner, "?utkast=1").status_code == 404
    assert "Du har ett utkast" not in html(owner, "/modeller/tertial_loop")


def test_a_draft_of_an_older_version_opens_that_versions_page(
    app: Flask, owner: FlaskClient, city: Any
) -> None:
    saved = edited(city)
    post_json(owner, DRAFT_URL, saved)
    other = deployed(city).replace(
        b'name="Behandla tertialrapporten"', 'name="Rådet behandlar rapporten"'.encode()
    )
    admin = client_for(app, "admin")  # another user's deploy leaves this user's draft alone
    assert post_json(admin, "/modeller/tertial_loop/driftsatt", other).get_json()["ok"] is True
    assert city.engine.repository.get("tertial_loop").version == 2
    page = html(owner, "/modeller/tertial_loop?utkast=1")
    assert "baserat på version 1" in page and "Du ser en äldre version" in page
    draft = diagram_json(owner, "?utkast=1").get_json()
    assert draft["version"] == 1 and draft["xml"].encode() == saved


@pytest.mark.parametrize("user", ["samordnare", "ansvarig.farsta", "revisor"])
def test_only_process_owners_and_administrators_may_keep_drafts(
    app: Flask, city: Any, user: str
) -> None:
    client = client_for(app, user)
    csrf = token(client_for(app, "processagare"))
    assert client.post(
        DRAFT_URL, json={"xml": "<x/>"}, headers={"X-CSRFToken": csrf}
    ).status_code in (
        400,
        403,
    )
    assert client.get("/modeller/tertial_loop/diagram.json?utkast=1").status_code == 403


def test_a_draft_without_the_csrf_token_is_refused(owner: FlaskClient, city: Any) -> None:
    response = owner.post(DRAFT_URL, json={"xml": edited(city).decode(), "file": MAIN})
    assert response.status_code == 400
    assert owner.delete(DRAFT_URL).status_code == 400
    assert owner.post(f"{DRAFT_URL}/kasta", data={"file": MAIN}).status_code == 400
    assert diagram_json(owner, "?utkast=1").status_code == 404


def test_unknown_files_and_processes_have_no_drafts(owner: FlaskClient, city: Any) -> None:
    csrf = {"X-CSRFToken": token(owner)}
    xml = edited(city).decode()
    assert (
        owner.post(DRAFT_URL, json={"xml": xml, "file": "x.bpmn"}, headers=csrf).status_code == 404
    )
    assert owner.post("/modeller/nej/utkast", json={"xml": xml}, headers=csrf).status_code == 404
    assert owner.post(DRAFT_URL, json={"file": MAIN}, headers=csrf).status_code == 400
