"""The modeller's form editor: the stored form files as text beside a server-rendered
preview, errors kept beside what was typed, a new form from a template, and deploying the
edited form as a new version with the definition's other files unchanged.

Runs the real application on the small demo city, CSRF on.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.test_webui_auth import make_app
from tests.test_webui_decisions import client_for, html

SCHEMA = "tertial-loop/forms/council_tertial.schema.json"
UI = "tertial-loop/forms/council_tertial.uischema.json"
EDITOR = f"/modeller/tertial_loop/formular/{SCHEMA}"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(city: Any) -> Flask:
    return make_app(city)


@pytest.fixture
def owner(app: Flask) -> FlaskClient:
    return client_for(app, "processagare")


def stored(city: Any, name: str = SCHEMA, key: str = "tertial_loop") -> bytes:
    definition = city.engine.repository.get(key)
    return city.engine.repository.files(definition.id)[name]


def post(client: FlaskClient, url: str, schema: str, ui: str, action: str, **extra: str) -> Any:
    token = CSRF.search(html(client, url))
    assert token
    data = {"csrf_token": token.group(1), "schema": schema, "ui": ui, "_action": action}
    return client.post(url, data={**data, **extra})


def test_the_modeller_page_links_to_the_list_of_forms(owner: FlaskClient) -> None:
    assert 'href="/modeller/tertial_loop/formular"' in html(owner, "/modeller/tertial_loop")
    page = html(owner, "/modeller/tertial_loop/formular")
    assert f'href="{EDITOR}"' in page
    assert "review_tertial_report.schema.json" in page


def test_the_editor_shows_the_stored_files_and_their_preview(owner: FlaskClient, city: Any) -> None:
    page = html(owner, EDITOR)
    assert "Riskhanteringsrådet: tertialrapporten" in page
    assert "&#34;ui:order&#34;" in page or "&quot;ui:order&quot;" in page  # the UI schema
    assert 'id="form-preview"' in page and "<label" in page.split('id="form-preview"')[1]


def test_the_preview_renders_the_edited_schema(owner: FlaskClient, city: Any) -> None:
    schema = stored(city).decode().replace('"title": "Beslut"', '"title": "Rådets beslut nu"')
    response = post(owner, EDITOR, schema, stored(city, UI).decode(), "preview")
    assert response.status_code == 200
    preview = response.get_data(as_text=True).split('id="form-preview"')[1]
    assert "Rådets beslut nu" in preview
    assert [d.version for d in city.engine.repository.definitions("tertial_loop")] == [1]


def test_the_json_preview_answers_with_the_rendered_html(owner: FlaskClient) -> None:
    token = CSRF.search(html(owner, EDITOR))
    assert token
    url = f"/modeller/tertial_loop/formular-forhandsgranska/{SCHEMA}"
    schema = '{"type": "object", "properties": {"namn": {"type": "string", "title": "Ditt namn"}}}'
    data = owner.post(
        url, json={"schema": schema, "ui": "{}"}, headers={"X-CSRFToken": token.group(1)}
    ).get_json()
    assert data["ok"] and "Ditt namn" in data["html"] and "<label" in data["html"]
    bad = owner.post(
        url, json={"schema": "{", "ui": "{}"}, headers={"X-CSRFToken": token.group(1)}
    ).get_json()
    assert not bad["ok"] and "schema" in bad["errors"]


def test_invalid_json_keeps_the_text_and_shows_the_error(owner: FlaskClient, city: Any) -> None:
    typed = '{"type": "object", "properties": {"x": '
    response = post(owner, EDITOR, typed, "{}", "deploy")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'class="error-summary"' in page and 'href="#schema-text"' in page
    assert "Ogiltig JSON på rad 1" in page
    assert 'aria-invalid="true"' in page and "schema-fel" in page
    assert "{&#34;type&#34;: &#34;object&#34;, &#34;properties&#34;: {&#34;x&#34;: " in page
    assert [d.version for d in city.engine.repository.definitions("tertial_loop")] == [1]


def test_an_invalid_json_schema_is_shown_by_its_textarea(owner: FlaskClient) -> None:
    response = post(owner, EDITOR, '{"type": "tal"}', "{}", "preview")
    assert response.status_code == 422
    assert "Ogiltigt JSON Schema" in response.get_data(as_text=True)
    response = post(owner, EDITOR, '{"type": "object"}', "[1]", "preview")
    assert response.status_code == 422
    assert 'href="#ui-text"' in response.get_data(as_text=True)


def test_deploying_makes_a_new_version_with_the_edited_form(owner: FlaskClient, city: Any) -> None:
    before = city.engine.repository.files(city.engine.repository.get("tertial_loop").id)
    schema = stored(city).decode().replace('"title": "Beslut"', '"title": "Rådets beslut"')
    ui = stored(city, UI).decode()
    response = post(owner, EDITOR, schema, ui, "deploy")
    assert response.status_code == 302, response.get_data(as_text=True)
    definition = city.engine.repository.get("tertial_loop")
    assert definition.version == 2
    after = city.engine.repository.files(definition.id)
    assert after[SCHEMA] == schema.encode()
    assert {n: d for n, d in after.items() if n != SCHEMA} == {
        n: d for n, d in before.items() if n != SCHEMA
    }
    assert "tertial_loop version 2 är driftsatt men väntar på godkännande" in html(owner, EDITOR)


def test_a_new_form_opens_from_a_template_and_is_not_deployed_while_unused(
    owner: FlaskClient, city: Any
) -> None:
    response = owner.get("/modeller/tertial_loop/formular/ny?namn=radets_beslut&mall=beslut")
    assert response.status_code == 302
    url = response.headers["Location"]
    assert url.endswith("/formular/tertial-loop/forms/radets_beslut.schema.json?mall=beslut")
    page = html(owner, url)
    assert "Godkänn" in page and "Återremittera" in page and "Motivering" in page
    assert 'name="mall" value="beslut"' in page
    # The engine versions what a process uses: alone, an unused form is no new version.
    response = post(owner, url, '{"type": "object", "title": "Rådets beslut"}', "{}", "deploy")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Ingen uppgift i processen använder" in page and "Rådets beslut" in page
    assert [d.version for d in city.engine.repository.definitions("tertial_loop")] == [1]
    assert owner.get("/modeller/tertial_loop/formular/ny?namn=../x&mall=tom").status_code == 400
    taken = owner.get("/modeller/tertial_loop/formular/ny?namn=council_tertial&mall=tom")
    assert taken.status_code == 400 and "finns redan" in taken.get_data(as_text=True)
    assert owner.get("/modeller/tertial_loop/formular/forms/nytt.schema.json").status_code == 404


@pytest.mark.parametrize("user", ["samordnare", "ansvarig.farsta", "revisor"])
def test_only_process_owners_and_administrators_may_edit_forms(app: Flask, user: str) -> None:
    client = client_for(app, user)
    for url in ("/modeller/tertial_loop/formular", EDITOR):
        assert client.get(url).status_code == 403, url
    assert client.post(EDITOR, data={"schema": "{}", "ui": "{}"}).status_code in (400, 403)


def test_a_post_without_the_csrf_token_is_refused(owner: FlaskClient, city: Any) -> None:
    response = owner.post(
        EDITOR, data={"schema": stored(city).decode(), "ui": "{}", "_action": "deploy"}
    )
    assert response.status_code == 400
    assert [d.version for d in city.engine.repository.definitions("tertial_loop")] == [1]
