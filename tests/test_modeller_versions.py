"""The modeller's version comparison and its import of new processes.

The comparison is tested twice: `diff.compare` on small diagrams built in code (each aspect it
reports: attributes, properties, extension elements, documentation, scripts, timers,
conditions, lanes), and the page on a real second version of the tertial loop deployed
through the modeller. The import runs the real application on the demo city with CSRF on:
a diagram as another modeller writes it (CR LF line ends, a foreign namespace the engine
does not know) must be stored byte for byte, and a broken one refused with each problem's
file, element, line and what to do.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.bundle import Bundle
from engine.errors import NotFound
from tests.diagrams import Diagram
from tests.test_modeller import _remove_period_end_wait, deployed, post_json
from tests.test_webui_auth import csrf_token, make_app
from tests.test_webui_decisions import client_for, html
from webui.modeller import diff

FORM = b'{"type": "object", "properties": {"motivering": {"type": "string"}}}'


@pytest.fixture
def app(city: Any) -> Flask:
    return make_app(city)


@pytest.fixture
def owner(app: Flask) -> FlaskClient:
    return client_for(app, "processagare")


# -- who may use it -----------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["samordnare", "ansvarig.farsta", "revisor"])
def test_only_process_owners_and_administrators_compare_and_import(app: Flask, user: str) -> None:
    client = client_for(app, user)
    for url in ("/modeller/tertial_loop/jamfor", "/modeller/ny"):
        assert client.get(url).status_code == 403, url
    refused = client.post("/modeller/ny", data={"csrf_token": csrf_token(client)})
    assert refused.status_code == 403
    signed_out = app.test_client().get("/modeller/ny")
    assert signed_out.status_code == 302 and "/logga-in" in signed_out.headers["Location"]


@pytest.mark.parametrize("user", ["processagare", "admin"])
def test_the_index_links_to_the_import(app: Flask, user: str) -> None:
    client = client_for(app, user)
    assert 'href="/modeller/ny"' in html(client, "/modeller/")
    page = html(client, "/modeller/ny")
    assert 'name="csrf_token"' in page and 'enctype="multipart/form-data"' in page
    assert '<label for="diagram-fil">' in page and '<label for="andra-filer">' in page


# -- the comparison itself ----------------------------------------------------------------------


def _process(**changes: Any) -> bytes:
    """A small process; `changes` vary one aspect at a time."""
    d = Diagram("ansokan", name="Ansökan")
    d.start()
    d.user(
        "granska",
        changes.get("task_name", "Granska"),
        lane=changes.get("lane", "Samordnare"),
        form=changes.get("form", "forms/granska.schema.json"),
    )
    d.script("rakna", changes.get("script", "summa = 1"), lane="Samordnare")
    d.timer("vanta", changes.get("timer", '"P1D"'))
    d.xor("gw", default="flow_gw_end")
    d.end()
    if changes.get("extra_task"):
        d.manual("ring", "Ring den sökande", lane="Samordnare")
        d.chain("start", "granska", "rakna", "ring", "vanta", "gw")
    else:
        d.chain("start", "granska", "rakna", "vanta", "gw")
    d.flow("gw", "end", id="flow_gw_end")
    d.flow("gw", "end", condition=changes.get("condition", "summa > 1"), id="flow_gw_more")
    return d.xml().encode()


def _compare(**changes: Any) -> diff.VersionDiff:
    return diff.compare({"a.bpmn": _process()}, {"a.bpmn": _process(**changes)})


def _changed(result: diff.VersionDiff) -> dict[str, list[tuple[str, str, Any, Any]]]:
    return {
        e.id: [(c.aspect, c.name, c.before, c.after) for c in e.changes] for e in result.changed
    }


def test_the_same_files_have_no_differences() -> None:
    assert diff.compare({"a.bpmn": _process()}, {"a.bpmn": _process()}).empty


def test_each_aspect_of_a_changed_element_is_named() -> None:
    assert _changed(_compare(task_name="Granska ansökan")) == {
        "granska": [("attribute", "name", "Granska", "Granska ansökan")]
    }
    assert _changed(_compare(form="forms/ny.schema.json"))["granska"] == [
        ("property", "formJsonSchemaFilename", "forms/granska.schema.json", "forms/ny.schema.json")
    ]
    assert _changed(_compare(script="summa = 2")) == {
        "rakna": [("script", "", "summa = 1", "summa = 2")]
    }
    assert _changed(_compare(timer='"P2D"')) == {
        "vanta": [("timer", "timeDuration", '"P1D"', '"P2D"')]
    }
    assert _changed(_compare(condition="summa > 2")) == {
        "flow_gw_more": [("condition", "", "summa > 1", "summa > 2")]
    }


def test_elements_moved_to_a_new_lane_change_the_old_one() -> None:
    """Moving a task to another lane changes who does it: the lane it left lists it."""
    result = _compare(lane="Riskhanteringsrådet")
    assert _changed(result) == {
        "lane_Samordnare": [("lane_members", "", "end, granska, gw, rakna, start, vanta", "rakna")]
    }
    assert [(e.id, e.kind, e.name) for e in result.added] == [
        ("lane_Riskhanteringsrådet", "lane", "Riskhanteringsrådet")
    ]


def test_added_and_removed_elements_and_their_flows() -> None:
    result = _compare(extra_task=True)
    assert [(e.id, e.kind, e.name) for e in result.added] == [
        ("flow_rakna_ring", "sequenceFlow", None),
        ("flow_ring_vanta", "sequenceFlow", None),
        ("ring", "manualTask", "Ring den sökande"),
    ]
    assert [(e.id, e.kind) for e in result.removed] == [("flow_rakna_vanta", "sequenceFlow")]
    assert result.files == [diff.FileChange("a.bpmn", "changed")]


def test_lane_renames_extension_elements_and_documentation_are_compared() -> None:
    before = _process()
    after = (
        before.replace(b'name="Samordnare"', 'name="Rådets sekreterare"'.encode())
        .replace(
            b"<bpmn:extensionElements><spiffworkflow:properties>",
            b"<bpmn:documentation>Se rutinen.</bpmn:documentation>"
            b"<bpmn:extensionElements><spiffworkflow:instructionsForEndUser>L\xc3\xa4s noga"
            b"</spiffworkflow:instructionsForEndUser><spiffworkflow:properties>",
        )
        .replace(b'<dc:Bounds x="100"', b'<dc:Bounds x="120"')  # layout only: no change
    )
    changed = _changed(diff.compare({"a.bpmn": before}, {"a.bpmn": after}))
    assert changed["lane_Samordnare"] == [("attribute", "name", "Samordnare", "Rådets sekreterare")]
    assert changed["granska"] == [
        ("documentation", "", None, "Se rutinen."),
        ("extension", "spiffworkflow:instructionsForEndUser", None, "Läs noga"),
    ]
    assert set(changed) == {"lane_Samordnare", "granska"}


def test_form_files_that_changed_are_listed() -> None:
    before = {"a.bpmn": _process(), "forms/granska.schema.json": FORM, "b.dmn": b"<x/>"}
    after = {"a.bpmn": _process(), "forms/granska.schema.json": FORM + b" ", "c.json": b"{}"}
    result = diff.compare(before, after)
    assert result.files == [
        diff.FileChange("b.dmn", "removed"),
        diff.FileChange("c.json", "added"),
        diff.FileChange("forms/granska.schema.json", "changed"),
    ]
    assert not (result.added or result.removed or result.changed)


# -- the comparison page ------------------------------------------------------------------------


def test_the_page_compares_a_new_version_with_the_previous_one(
    owner: FlaskClient, city: Any
) -> None:
    assert "Inga skillnader" not in html(owner, "/modeller/tertial_loop/jamfor?fran=1&till=1")
    assert "Du jämför en version med sig själv" in html(owner, "/modeller/tertial_loop/jamfor")
    assert "Jämför med föregående" not in html(owner, "/modeller/tertial_loop")  # one version
    changed = (
        _remove_period_end_wait(deployed(city))
        .replace(
            b'name="Behandla tertialrapporten"',
            'name="Behandla tertialrapporten i rådet"'.encode(),
        )
        .replace(b'beslut == "atgarder"', b'beslut in ("atgarder",)')
    )
    assert post_json(owner, "/modeller/tertial_loop/driftsatt", changed).get_json()["ok"]
    show = html(owner, "/modeller/tertial_loop")
    assert 'href="/modeller/tertial_loop/jamfor?fran=1&amp;till=2"' in show
    page = html(owner, "/modeller/tertial_loop/jamfor")  # latest against the one before
    assert "Ändringar från version 1 till version 2" in page
    removed = page.split("<h2>Borttagna element</h2>")[1].split("<h2>")[0]
    added = page.split("<h2>Tillagda element</h2>")[1].split("<h2>")[0]
    assert "<code>wait_period_end</code>" in removed and "period_end_passed" in added
    assert "<code>wait_period_end</code>" not in added
    assert "Behandla tertialrapporten i rådet <code>council_tertial</code>" in page
    assert "beslut == &#34;atgarder&#34;" in page and "beslut in (&#34;atgarder&#34;,)" in page
    assert '<th scope="row">tertial-loop/tertial-loop.bpmn</th><td>Ändrad</td>' in page
    assert 'scope="col">Version 1</th>' in page and "<caption>" in page


def test_a_changed_form_file_shows_on_the_page(owner: FlaskClient, city: Any) -> None:
    first = city.engine.repository.get("tertial_loop")
    files = city.engine.repository.files(first.id)
    form = "tertial-loop/forms/council_tertial.schema.json"
    changed = files[form].replace(b'"title"', b'"description": "Nytt", "title"', 1)
    assert changed != files[form]
    city.engine.repository.deploy(
        Bundle.from_files({**files, form: changed}), city.actor("processagare")
    )
    page = html(owner, "/modeller/tertial_loop/jamfor?fran=1&till=2")
    assert f'<th scope="row">{form}</th><td>Ändrad</td>' in page
    assert "Inga.</p>" in page  # no element changed


def test_unknown_versions_are_not_found(owner: FlaskClient) -> None:
    assert owner.get("/modeller/tertial_loop/jamfor?fran=7").status_code == 404
    assert owner.get("/modeller/tertial_loop/jamfor?till=x").status_code == 404
    assert owner.get("/modeller/no_such_process/jamfor").status_code == 404


def test_the_comparison_page_is_translated(owner: FlaskClient, city: Any) -> None:
    city.register.set_language("processagare", "en")
    owner = client_for(owner.application, "processagare")
    page = html(owner, "/modeller/tertial_loop/jamfor")
    assert "Changes from version 1 to version 1" in page and "Compare" in page


# -- importing a new process --------------------------------------------------------------------


def _foreign(xml: bytes) -> bytes:
    """The diagram as another modeller writes it: CR LF, and a namespace Kedja ignores."""
    xml = xml.replace(
        b"<bpmn:definitions ",
        b'<bpmn:definitions xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        b'exporter="Camunda Modeler" exporterVersion="5.20.0" ',
    )
    xml = xml.replace(
        b'<bpmn:manualTask id="ring"',
        b'<bpmn:manualTask camunda:asyncBefore="true" id="ring"',
    )
    return xml.replace(b"><", b">\r\n<")


def upload(client: FlaskClient, diagram: tuple[bytes, str] | None, *extra: tuple[bytes, str]):  # type: ignore[no-untyped-def]
    data: dict[str, Any] = {"csrf_token": csrf_token(client)}
    if diagram is not None:
        data["diagram"] = (BytesIO(diagram[0]), diagram[1])
    data["filer"] = [(BytesIO(content), name) for content, name in extra]
    return client.post("/modeller/ny", data=data, content_type="multipart/form-data")


def test_an_imported_process_is_stored_byte_for_byte_as_version_1(
    owner: FlaskClient, city: Any
) -> None:
    xml = _foreign(_process(extra_task=True))
    answer = upload(owner, (xml, "ansokan.bpmn"), (FORM, "granska.schema.json"))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert answer.headers["Location"] == "/modeller/ansokan"
    definition = city.engine.repository.get("ansokan")
    assert (definition.version, definition.deployed_by) == (1, "processagare")
    files = city.engine.repository.files(definition.id)
    assert files == {"ansokan.bpmn": xml, "forms/granska.schema.json": FORM}
    assert b'camunda:asyncBefore="true"' in files["ansokan.bpmn"]
    page = html(owner, "/modeller/ansokan")
    assert "ansokan version 1 är driftsatt." in page
    assert 'href="/modeller/ansokan"' in html(owner, "/modeller/")


def test_a_broken_import_is_refused_with_each_problem_located(
    owner: FlaskClient, city: Any
) -> None:
    xml = _process(timer="om en vecka", lane="Kommunikationsavdelningen")
    answer = upload(owner, (xml, "ansokan.bpmn"))  # and no form file
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'class="error-summary"' in page and 'href="#diagram-fil"' in page
    table = page.split('class="modeller-import-problems"')[1].split("</table>")[0]
    for element in ("vanta", "lane_Kommunikationsavdelningen", "granska"):
        assert f"<code>{element}</code>" in table, element
    assert "forms/granska.schema.json" in table and "Kommunikationsavdelningen" in table
    rows = table.split("<tbody>")[1].split("<tr>")[1:]
    assert len(rows) == 3
    for row in rows:  # each with its file, element, line and what to do
        cells = row.split("<td>")[1:]
        assert cells[0].startswith("ansokan.bpmn") and cells[2].split("<")[0].isdigit()
        assert not cells[3].startswith("–")
    with pytest.raises(NotFound):
        city.engine.repository.get("ansokan")


def test_an_existing_process_is_not_imported_again(owner: FlaskClient, city: Any) -> None:
    answer = upload(owner, (deployed(city), "tertial-loop.bpmn"))
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "already deployed" in page and "/modeller/tertial_loop" in page
    assert [d.version for d in city.engine.repository.definitions("tertial_loop")] == [1]


def test_only_bpmn_forms_and_decision_tables_are_accepted(owner: FlaskClient, city: Any) -> None:
    assert upload(owner, None).status_code == 422
    wrong = upload(owner, (b"<x/>", "ansokan.xml"))
    assert wrong.status_code == 422 and "inte en .bpmn-fil" in wrong.get_data(as_text=True)
    other = upload(owner, (_process(), "ansokan.bpmn"), (b"hej", "notes.txt"))
    assert other.status_code == 422 and "notes.txt" in other.get_data(as_text=True)
    with pytest.raises(NotFound):
        city.engine.repository.get("ansokan")


def test_an_import_without_the_csrf_token_is_refused(owner: FlaskClient, city: Any) -> None:
    answer = owner.post(
        "/modeller/ny",
        data={"diagram": (BytesIO(_process()), "ansokan.bpmn")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 400
    with pytest.raises(NotFound):
        city.engine.repository.get("ansokan")
