"""The modeller's properties panel in a real browser: a process owner changes what Kedja reads
(a user task's form and due date, a lane's role) in the panel, the change goes through
bpmn-js's command stack (undo/redo), "Validera" accepts it, and the deployed version holds it.

The panel is driven the way a person uses it: click the element on the canvas, choose in the
selects, type in the fields and leave them (the "change" event commits the edit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from playwright.sync_api import expect

from tests.browser.conftest import axe, sign_in

MAIN = "tertial-loop/tertial-loop.bpmn"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NEW_FORM = "forms/review_tertial_report.schema.json"
NEW_UI = "forms/review_tertial_report.uischema.json"
DUE = 'working_days_after(tertial["report_deadline"], 10)'
ZOOM_TO = """(id) => {
  const canvas = window.kedjaModeller.get("canvas");
  const element = window.kedjaModeller.get("elementRegistry").get(id);
  canvas.zoom(1);
  canvas.scrollToElement(element);
  if (!element.waypoints) {
    return null;
  }
  // a connection's box centre is off the line: the middle of its first segment is on it
  const [a, b] = element.waypoints;
  canvas.getContainer().scrollIntoView();
  const box = canvas.viewbox();
  const rect = canvas.getContainer().getBoundingClientRect();
  return [rect.left + ((a.x + b.x) / 2 - box.x) * box.scale,
          rect.top + ((a.y + b.y) / 2 - box.y) * box.scale];
}"""
SAVED = "async () => (await window.kedjaModeller.saveXML({ format: true })).xml"


@pytest.fixture
def modeller(page: Any, live: Any) -> Any:
    sign_in(page, "processagare")
    page.goto("/modeller/tertial_loop")
    page.wait_for_selector("#modeller[data-ready=true]")
    page.wait_for_selector("#modeller-properties[data-ready=true]")
    return page


def select_on_canvas(page: Any, element_id: str) -> None:
    """Click the element's drawn shape, as a process owner does (zoomed to 100 % first: the
    whole diagram fitted into the canvas draws an event a few pixels wide)."""
    point = page.evaluate(ZOOM_TO, element_id)
    if point:
        page.mouse.click(*point)
    else:
        page.click(f".djs-element[data-element-id={element_id}] .djs-hit", force=True)
    expect(page.locator("#egenskaper-vald")).to_contain_text(f"({element_id})")


def properties(xml: bytes | str, element_id: str) -> dict[str, str]:
    """The spiffworkflow:property values of one element in a saved or deployed document."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    element = root.find(f".//*[@id='{element_id}']")
    return {p.get("name"): p.get("value") for p in element.iter(f"{{{SPIFF}}}property")}


def test_a_user_task_form_and_due_date_and_a_lane_role_are_edited_and_deployed(
    modeller: Any, live: Any
) -> None:
    page = modeller
    city = live.city
    panel = page.locator("#modeller-properties")
    expect(panel).to_contain_text("Inget element är valt")

    select_on_canvas(page, "council_tertial")
    task_group = panel.locator("fieldset[data-group=userTask]")
    expect(task_group).to_be_visible()
    expect(panel.locator("fieldset[data-group=lane]")).to_be_hidden()
    form = page.locator("#egenskap-formular")
    assert form.input_value() == "forms/council_tertial.schema.json"
    # The choice is the definition's own form files, schemas and UI schemas apart.
    choices = form.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    assert NEW_FORM in choices and NEW_UI not in choices
    form.select_option(NEW_FORM)
    page.locator("#egenskap-uischema").select_option(NEW_UI)
    page.fill("#egenskap-forfallodag", DUE)
    page.keyboard.press("Tab")  # leaving the field commits it
    assert properties(page.evaluate(SAVED), "council_tertial") == {
        "formJsonSchemaFilename": NEW_FORM,
        "formUiSchemaFilename": NEW_UI,
        "dueDate": DUE,
    }

    # Each change is one command: undo takes the due date back, redo restores it, and the
    # panel follows.
    page.evaluate("() => window.kedjaModeller.get('commandStack').undo()")
    expect(page.locator("#egenskap-forfallodag")).to_have_value("")
    assert "dueDate" not in properties(page.evaluate(SAVED), "council_tertial")
    page.evaluate("() => window.kedjaModeller.get('commandStack').redo()")
    expect(page.locator("#egenskap-forfallodag")).to_have_value(DUE)

    # The lane's name is chosen from the roles.
    select_on_canvas(page, "lane_radet")
    expect(panel.locator("fieldset[data-group=lane]")).to_be_visible()
    expect(task_group).to_be_hidden()
    role = page.locator("#egenskap-roll")
    assert role.input_value() == "Riskhanteringsrådet"
    assert "Rådets sekreterare" in role.locator("option").all_inner_texts()
    role.select_option("Rådets sekreterare")
    expect(page.locator(".djs-element[data-element-id=lane_radet]")).to_contain_text(
        "Rådets sekreterare"
    )

    page.click("button[data-action=validate]")
    page.wait_for_function(
        "() => !document.getElementById('modeller-result').textContent.includes('…')"
    )
    assert page.locator(".modeller-clean").count() == 1, page.inner_text("#modeller-result")

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("button[data-action=deploy]")
    assert "tertial_loop version 2 är driftsatt." in page.inner_text(".flashes")
    latest = city.engine.repository.get("tertial_loop")
    deployed = city.engine.repository.files(latest.id)[MAIN]
    assert properties(deployed, "council_tertial") == {
        "formJsonSchemaFilename": NEW_FORM,
        "formUiSchemaFilename": NEW_UI,
        "dueDate": DUE,
    }
    root = etree.fromstring(deployed, etree.XMLParser(resolve_entities=False, no_network=True))
    assert root.find(f".//{{{BPMN}}}lane[@id='lane_radet']").get("name") == "Rådets sekreterare"
    # Everything else of the task's and the other elements' extensions is still there.
    assert deployed.count(b"<spiffworkflow:parameter ") == (
        city.engine.repository.files(city.engine.repository.get("tertial_loop", 1).id)[MAIN].count(
            b"<spiffworkflow:parameter "
        )
    )


def test_timer_call_activity_and_condition_show_what_the_diagram_says(modeller: Any) -> None:
    page = modeller
    select_on_canvas(page, "wait_period_end")
    expect(page.locator("fieldset[data-group=timer]")).to_be_visible()
    assert page.locator("#egenskap-timertyp").input_value() == "timeDate"
    assert page.locator("#egenskap-timer").input_value() == 'tertial["period_end"]'
    hint = page.locator("#egenskap-timer-hjalp")
    expect(hint).to_contain_text("t1_report_deadline")
    page.locator("#egenskap-timertyp").select_option("timeDuration")
    root = etree.fromstring(page.evaluate(SAVED).encode("utf-8"))
    timer = root.find(f".//*[@id='wait_period_end']/{{{BPMN}}}timerEventDefinition")
    assert [(etree.QName(c).localname, c.text) for c in timer] == [
        ("timeDuration", 'tertial["period_end"]')
    ]

    select_on_canvas(page, "organisation_reports")
    assert page.locator("#egenskap-anropad").input_value() == "organisation_tertial_report"

    select_on_canvas(page, "flow_council_actions")
    assert page.locator("#egenskap-villkor").input_value() == 'beslut == "atgarder"'


def test_the_open_panel_passes_axe_in_swedish_and_english(modeller: Any, live: Any) -> None:
    select_on_canvas(modeller, "council_tertial")
    assert axe(modeller) == []
    select_on_canvas(modeller, "lane_radet")
    assert axe(modeller) == []
    live.city.register.set_language("processagare", "en")
    modeller.goto("/modeller/tertial_loop")
    modeller.wait_for_selector("#modeller-properties[data-ready=true]")
    select_on_canvas(modeller, "council_tertial")
    expect(modeller.locator("#egenskaper-rubrik")).to_have_text("Properties")
    expect(modeller.locator("label[for=egenskap-forfallodag]")).to_have_text(
        "Due date (expression)"
    )
    assert axe(modeller) == []
    select_on_canvas(modeller, "wait_period_end")
    assert axe(modeller) == []


ROUND_TRIP = """async (xml) => {
  const result = await window.kedjaModeller.importXML(xml);
  const saved = await window.kedjaModeller.saveXML({ format: true });
  const props = window.kedjaModeller.get("elementRegistry").filter(
    (e) => (e.businessObject.extensionElements || { values: [] }).values.some(
      (v) => v.$type === "spiffworkflow:Properties"));
  return { warnings: result.warnings.map((w) => w.message), xml: saved.xml, typed: props.length };
}"""


def test_kedjas_diagrams_keep_every_spiffworkflow_extension_as_typed_elements(
    modeller: Any,
) -> None:
    root = Path(__file__).resolve().parents[2] / "bpmn"
    for path in sorted(root.glob("*/*.bpmn")):
        original = path.read_bytes()
        result = modeller.evaluate(ROUND_TRIP, original.decode("utf-8"))
        assert result["warnings"] == [], path.name
        saved = result["xml"].encode("utf-8")
        assert result["typed"] == original.count(b"<spiffworkflow:properties>"), path.name
        for tag in (b"<spiffworkflow:", b"spiffworkflow:scriptsOnInstances="):
            assert saved.count(tag) == original.count(tag), (path.name, tag)
        assert all_properties(saved) == all_properties(original), path.name


def all_properties(data: bytes) -> list[tuple[str, str, str]]:
    """Every spiffworkflow:property as (owning element's id, name, value)."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    found = []
    for prop in root.iter(f"{{{SPIFF}}}property"):
        owner = prop
        while owner.get("id") is None:
            owner = owner.getparent()
        found.append((owner.get("id"), prop.get("name"), prop.get("value")))
    return sorted(found)


def test_only_process_owners_get_the_panels_role_list(page: Any, live: Any) -> None:
    sign_in(page, "ansvarig.farsta")
    assert page.request.get(f"{live.url}/modeller/roller.json").status == 403


SPIFFARENA = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d"
  targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="arena" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:scriptTask id="script">
      <bpmn:extensionElements>
        <spiffworkflow:unitTests>
          <spiffworkflow:unitTest id="test_one">
            <spiffworkflow:inputJson>{"a": 1}</spiffworkflow:inputJson>
            <spiffworkflow:expectedOutputJson>{"a": 2}</spiffworkflow:expectedOutputJson>
          </spiffworkflow:unitTest>
        </spiffworkflow:unitTests>
      </bpmn:extensionElements>
      <bpmn:script>a = a + 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="guest">
      <bpmn:extensionElements>
        <spiffworkflow:allowGuest>true</spiffworkflow:allowGuest>
        <spiffworkflow:guestConfirmation># Tack</spiffworkflow:guestConfirmation>
        <spiffworkflow:signalButtonLabel>Avbryt</spiffworkflow:signalButtonLabel>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sendTask id="send">
      <bpmn:extensionElements>
        <spiffworkflow:messagePayload>{"year": year}</spiffworkflow:messagePayload>
        <spiffworkflow:messageVariable>svar</spiffworkflow:messageVariable>
      </bpmn:extensionElements>
    </bpmn:sendTask>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="dia"><bpmndi:BPMNPlane id="plane" bpmnElement="arena">
    <bpmndi:BPMNShape id="s1" bpmnElement="start">
      <dc:Bounds x="100" y="100" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s2" bpmnElement="script">
      <dc:Bounds x="200" y="80" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s3" bpmnElement="guest">
      <dc:Bounds x="350" y="80" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s4" bpmnElement="send">
      <dc:Bounds x="500" y="80" width="100" height="80" /></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>"""


def test_spiffarenas_other_extension_elements_are_kept(modeller: Any) -> None:
    """SpiffArena's unit tests, guest settings and message payloads survive the modeller
    (with a descriptor for the namespace, bpmn-js would drop an element it does not name)."""
    result = modeller.evaluate(ROUND_TRIP, SPIFFARENA)
    assert result["warnings"] == []
    saved = etree.fromstring(result["xml"].encode("utf-8"))
    original = etree.fromstring(SPIFFARENA.encode("utf-8"))

    def spiff(root: Any) -> list[tuple[str, str]]:
        return sorted(
            (etree.QName(e).localname, (e.text or "").strip() or repr(sorted(e.attrib.items())))
            for e in root.iter(f"{{{SPIFF}}}*")
        )

    assert spiff(saved) == spiff(original)
