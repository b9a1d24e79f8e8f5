"""The modeller's properties panel in a real browser: a process owner changes what Kedja reads
(a user task's form and due date, a lane's role) in the panel, the change goes through
bpmn-js's command stack (undo/redo), "Validera" accepts it, and the deployed version holds it.

The panel is driven the way a person uses it: click the element on the canvas, choose in the
selects, type in the fields and leave them (the "change" event commits the edit).
"""

from __future__ import annotations

import re
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
    assert "tertial_loop version 2 är driftsatt men väntar på godkännande" in page.inner_text(
        ".flashes"
    )
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


def script_problems(page: Any) -> list[str]:
    """What the page's scripts report from now on: uncaught exceptions and console errors
    (a script that fails to load is one). The panel is several scripts, properties.js and its
    group files, so a broken one shows here whichever group it breaks."""
    problems: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on("console", console)
    return problems


def test_the_open_panel_passes_axe_in_swedish_and_english(modeller: Any, live: Any) -> None:
    problems = script_problems(modeller)
    open_process(modeller, "tertial_loop")  # again, so that loading the scripts is watched too
    select_on_canvas(modeller, "council_tertial")
    assert axe(modeller) == []
    select_on_canvas(modeller, "update_status")  # a script task: the scripts group
    expect(modeller.locator("#egenskap-skript")).to_be_visible()
    assert axe(modeller) == []
    select_on_canvas(modeller, "lane_radet")
    assert axe(modeller) == []
    # a service task (with its parameter rows) and a multi-instance call activity
    select_on_canvas(modeller, "notify_actions")
    expect(modeller.locator("#egenskap-parameter-4-varde")).to_be_visible()
    assert axe(modeller) == []
    select_on_canvas(modeller, "organisation_reports")
    expect(modeller.locator("#egenskap-samling")).to_be_visible()
    assert axe(modeller) == []
    # a receive task with its correlation rows, and a refused name with its error shown
    open_process(modeller, "safety_prize")
    select_on_canvas(modeller, "receive_nominations")
    modeller.fill("#egenskap-korrelation-1-namn", "inte ett namn")
    modeller.keyboard.press("Tab")
    expect(modeller.locator("fieldset[data-group=message] .field-error")).not_to_be_empty()
    # the refused field's border is the error colour (#b00020), not a text input's grey
    expect(modeller.locator("#egenskap-korrelation-1-namn")).to_have_css(
        "border-top-color", "rgb(176, 0, 32)"
    )
    assert axe(modeller) == []

    live.city.register.set_language("processagare", "en")
    open_process(modeller, "tertial_loop")
    select_on_canvas(modeller, "council_tertial")
    expect(modeller.locator("#egenskaper-rubrik")).to_have_text("Properties")
    expect(modeller.locator("label[for=egenskap-forfallodag]")).to_have_text(
        "Due date (expression)"
    )
    assert axe(modeller) == []
    select_on_canvas(modeller, "wait_period_end")
    assert axe(modeller) == []
    select_on_canvas(modeller, "notify_actions")
    expect(modeller.locator("label[for=egenskap-parameter-1-varde]")).to_have_text(
        "Value (expression)"
    )
    expect(modeller.locator("#egenskap-upprepning option:checked")).to_have_text("No, once")
    assert axe(modeller) == []
    open_process(modeller, "safety_prize")
    select_on_canvas(modeller, "receive_nominations")
    expect(modeller.locator("fieldset[data-group=message] legend").first).to_have_text("Message")
    assert axe(modeller) == []
    assert problems == []


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


# -- messages, multi-instance and service tasks --------------------------------------------------

UNDO = "() => window.kedjaModeller.get('commandStack').undo()"
REPLACE = """([id, type, definition]) => {
  const modeler = window.kedjaModeller;
  const element = modeler.get("elementRegistry").get(id);
  const target = definition ? { type, eventDefinitionType: definition } : { type };
  return modeler.get("bpmnReplace").replaceElement(element, target).id;
}"""


def replace(page: Any, element_id: str, kind: str, definition: str | None = None) -> str:
    """Change an element's kind as the context pad's wrench does (bpmn-js selects the result);
    Kedja's diagrams have no message events to start from."""
    new_id = page.evaluate(REPLACE, [element_id, kind, definition])
    expect(page.locator("#egenskaper-vald")).to_contain_text(f"({new_id})")
    return new_id


def open_process(page: Any, key: str) -> None:
    page.goto(f"/modeller/{key}")
    page.wait_for_selector("#modeller[data-ready=true]")
    page.wait_for_selector("#modeller-properties[data-ready=true]")


def saved(page: Any) -> Any:
    """The diagram as the page would save it now, parsed."""
    data = page.evaluate(SAVED).encode("utf-8")
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def by_id(root: Any, element_id: str) -> Any:
    return root.find(f".//*[@id='{element_id}']")


def assert_validates(page: Any) -> None:
    page.click("button[data-action=validate]")
    page.wait_for_function(
        "() => !document.getElementById('modeller-result').textContent.includes('…')"
    )
    assert page.locator(".modeller-clean").count() == 1, page.inner_text("#modeller-result")


def correlation(root: Any) -> dict[str, list[tuple[str, str]]]:
    """Each bpmn:correlationProperty's id -> its (message, retrieval expression) pairs."""
    return {
        prop.get("id"): [(r.get("messageRef"), "".join(c.text or "" for c in r)) for r in prop]
        for prop in root.iter(f"{{{BPMN}}}correlationProperty")
    }


def test_a_receive_tasks_message_variable_and_correlation_are_edited(modeller: Any) -> None:
    page = modeller
    open_process(page, "safety_prize")
    select_on_canvas(page, "receive_nominations")
    group = page.locator("fieldset[data-group=message]")
    expect(group).to_be_visible()
    message = page.locator("#egenskap-meddelande")
    assert message.input_value() == "message_nomination"
    assert message.locator("option:checked").inner_text() == "nomination"
    assert page.locator("#egenskap-meddelandevariabel").input_value() == "inkommen"
    expect(page.locator("#egenskap-meddelandeinnehall")).to_be_hidden()  # it catches
    assert page.locator("#egenskap-korrelation-1-namn").input_value() == "year"
    assert page.locator("#egenskap-korrelation-1-uttryck").input_value() == "year"
    expect(page.locator("#egenskap-korrelation-2-namn")).to_have_count(0)

    page.fill("#egenskap-meddelandevariabel", "nominering")
    page.fill("#egenskap-korrelation-1-uttryck", "int(year)")
    page.keyboard.press("Tab")
    group.get_by_role("button", name="Lägg till en korrelationsegenskap").click()
    # the new row's name field has focus with its proposed name selected: typing replaces it
    expect(page.locator("#egenskap-korrelation-2-namn")).to_be_focused()
    page.keyboard.type("organisation")
    page.keyboard.press("Tab")
    page.keyboard.type("nominee_organisation")
    page.keyboard.press("Tab")
    root = saved(page)
    task = by_id(root, "receive_nominations")
    assert [e.text for e in task.iter(f"{{{SPIFF}}}messageVariable")] == ["nominering"]
    assert correlation(root) == {
        "year": [("message_nomination", "int(year)")],
        "organisation": [("message_nomination", "nominee_organisation")],
    }
    # the new property joins the key that holds the message's other property
    assert [r.text for r in root.iter(f"{{{BPMN}}}correlationPropertyRef")] == [
        "year",
        "organisation",
    ]

    # A name that cannot be a variable is refused, said why, and kept in the field.
    name = page.locator("#egenskap-korrelation-2-namn")
    name.fill("nominee organisation")
    page.keyboard.press("Tab")
    expect(name).to_have_accessible_description(re.compile("börja med en bokstav"))
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_value("nominee organisation")
    assert "organisation" in correlation(saved(page))
    assert_validates(page)

    # Removing a row removes the property and its place in the correlation key.
    group.get_by_role("button", name="Ta bort korrelationsegenskap 2").click()
    root = saved(page)
    assert list(correlation(root)) == ["year"]
    assert [r.text for r in root.iter(f"{{{BPMN}}}correlationPropertyRef")] == ["year"]
    page.evaluate(UNDO)
    assert list(correlation(saved(page))) == ["year", "organisation"]

    # A new message is added to the definitions and chosen, as one change: one undo takes
    # both back.
    page.fill("#egenskap-nytt-meddelande", "påminnelse")
    page.keyboard.press("Enter")
    expect(message).to_have_value("message_paminnelse")
    expect(page.locator("#egenskap-korrelation-1-namn")).to_have_count(0)
    root = saved(page)
    assert by_id(root, "receive_nominations").get("messageRef") == "message_paminnelse"
    assert by_id(root, "message_paminnelse").get("name") == "påminnelse"
    assert_validates(page)
    # The new message's first correlation property joins no correlation key (SpiffWorkflow's
    # default key); the prize's key stays the nomination's.
    group.get_by_role("button", name="Lägg till en korrelationsegenskap").click()
    page.keyboard.type("ar")
    page.keyboard.press("Tab")
    page.keyboard.type("year")
    page.keyboard.press("Tab")
    root = saved(page)
    assert correlation(root)["ar"] == [("message_paminnelse", "year")]
    assert [r.text for r in root.iter(f"{{{BPMN}}}correlationPropertyRef")] == [
        "year",
        "organisation",
    ]
    assert_validates(page)
    for _ in range(3):  # the expression, the name, the new property
        page.evaluate(UNDO)
    assert "ar" not in correlation(saved(page))
    expect(message).to_have_value("message_paminnelse")
    page.evaluate(UNDO)
    expect(message).to_have_value("message_nomination")
    root = saved(page)
    assert by_id(root, "receive_nominations").get("messageRef") == "message_nomination"
    assert by_id(root, "message_paminnelse") is None
    expect(page.locator("#egenskap-korrelation-2-namn")).to_have_value("organisation")


def test_message_events_get_their_message_variable_and_payload(modeller: Any) -> None:
    """An event keeps its message and SpiffWorkflow's extensions on its
    messageEventDefinition (where SpiffWorkflow reads them); a catching event names the
    variable, a throwing one the payload."""
    page = modeller
    open_process(page, "safety_prize")
    catch = replace(
        page, "wait_window_open", "bpmn:IntermediateCatchEvent", "bpmn:MessageEventDefinition"
    )
    expect(page.locator("fieldset[data-group=message]")).to_be_visible()
    expect(page.locator("fieldset[data-group=timer]")).to_be_hidden()
    expect(page.locator("#egenskap-meddelande")).to_have_value("")
    page.locator("#egenskap-meddelande").select_option(label="nomination")
    # the chosen message brings its correlation
    expect(page.locator("#egenskap-korrelation-1-namn")).to_have_value("year")
    page.fill("#egenskap-meddelandevariabel", "forsta_nominering")
    page.keyboard.press("Tab")

    end = replace(page, "reminder_sent", "bpmn:EndEvent", "bpmn:MessageEventDefinition")
    expect(page.locator("#egenskap-meddelandevariabel")).to_be_hidden()  # it throws
    page.locator("#egenskap-meddelande").select_option(label="nomination")
    page.fill("#egenskap-meddelandeinnehall", '{"year": year}')
    page.keyboard.press("Tab")

    root = saved(page)
    caught = by_id(root, catch).find(f"{{{BPMN}}}messageEventDefinition")
    assert caught.get("messageRef") == "message_nomination"
    assert [e.text for e in caught.iter(f"{{{SPIFF}}}messageVariable")] == ["forsta_nominering"]
    thrown = by_id(root, end).find(f"{{{BPMN}}}messageEventDefinition")
    assert thrown.get("messageRef") == "message_nomination"
    assert [e.text for e in thrown.iter(f"{{{SPIFF}}}messagePayload")] == ['{"year": year}']
    assert_validates(page)
    page.evaluate(UNDO)
    assert not list(saved(page).iter(f"{{{SPIFF}}}messagePayload"))
    expect(page.locator("#egenskap-meddelandeinnehall")).to_have_value("")


def test_a_multi_instance_call_activity_is_edited_and_turned_off_and_on(modeller: Any) -> None:
    page = modeller
    open_process(page, "plan_cycle")
    select_on_canvas(page, "organisation_plans")
    group = page.locator("fieldset[data-group=loop]")
    expect(group).to_be_visible()
    kind = page.locator("#egenskap-upprepning")
    assert kind.input_value() == "parallel"
    shown = {
        name: page.locator(f"#egenskap-{name}").input_value()
        for name in ("samling", "samlingselement", "antal", "resultatsamling", "resultatelement")
    }
    assert shown == {
        "samling": "participant_ids",
        "samlingselement": "organisation",
        "antal": "",
        "resultatsamling": "plan_results",
        "resultatelement": "plan",
    }
    assert page.locator("#egenskap-klar").input_value() == ""

    kind.select_option("sequential")
    page.fill("#egenskap-samling", "deltagare")
    page.fill("#egenskap-resultatelement", "godkand_plan")
    page.fill("#egenskap-klar", "len([p for p in plan_results if p]) >= 100")
    page.keyboard.press("Tab")
    root = saved(page)
    activity = by_id(root, "organisation_plans")
    loop = activity.find(f"{{{BPMN}}}multiInstanceLoopCharacteristics")
    assert loop.get("isSequential") == "true"
    assert loop.find(f"{{{BPMN}}}loopDataInputRef").text == "deltagare"
    assert loop.find(f"{{{BPMN}}}loopDataOutputRef").text == "plan_results"
    assert loop.find(f"{{{BPMN}}}inputDataItem").get("id") == "organisation"
    assert loop.find(f"{{{BPMN}}}outputDataItem").attrib == {
        "id": "godkand_plan",
        "name": "godkand_plan",
    }
    assert loop.find(f"{{{BPMN}}}completionCondition").text == (
        "len([p for p in plan_results if p]) >= 100"
    )
    # the new collection is a property of the activity; the one it replaced is gone
    assert [p.get("id") for p in activity.findall(f"{{{BPMN}}}property")] == [
        "plan_results",
        "deltagare",
    ]
    assert_validates(page)
    page.evaluate(UNDO)
    expect(page.locator("#egenskap-klar")).to_have_value("")
    assert saved(page).find(f".//{{{BPMN}}}completionCondition") is None

    # A name another kind of element already has cannot become a collection.
    page.fill("#egenskap-samling", "collect_plans")
    page.keyboard.press("Tab")
    collection = page.locator("#egenskap-samling")
    expect(collection).to_have_accessible_description(re.compile("används redan"))
    expect(collection).to_have_value("collect_plans")
    assert (
        by_id(saved(page), "organisation_plans").find(f".//{{{BPMN}}}loopDataInputRef").text
        == "deltagare"
    )

    # Once: the loop goes, with the properties only it used; undo brings all of it back.
    kind.select_option("")
    expect(page.locator("#egenskap-samling")).to_be_hidden()
    activity = by_id(saved(page), "organisation_plans")
    assert activity.find(f"{{{BPMN}}}multiInstanceLoopCharacteristics") is None
    assert activity.findall(f"{{{BPMN}}}property") == []
    page.evaluate(UNDO)
    expect(kind).to_have_value("sequential")
    expect(page.locator("#egenskap-samling")).to_have_value("deltagare")
    assert len(by_id(saved(page), "organisation_plans").findall(f"{{{BPMN}}}property")) == 2

    # A single user task becomes multi-instance over a number of instances.
    select_on_canvas(page, "confirm_participants")
    expect(page.locator("#egenskap-upprepning")).to_have_value("")
    expect(page.locator("#egenskap-antal")).to_be_hidden()
    page.locator("#egenskap-upprepning").select_option("parallel")
    page.fill("#egenskap-antal", "2")
    page.keyboard.press("Tab")
    loop = by_id(saved(page), "confirm_participants").find(
        f"{{{BPMN}}}multiInstanceLoopCharacteristics"
    )
    assert loop.get("isSequential") is None
    assert loop.find(f"{{{BPMN}}}loopCardinality").text == "2"
    assert_validates(page)


def parameter_rows(root: Any, element_id: str) -> list[tuple[str, str, str]]:
    return [
        (p.get("id"), p.get("type"), p.get("value"))
        for p in by_id(root, element_id).iter(f"{{{SPIFF}}}parameter")
    ]


def test_a_service_tasks_operator_result_and_parameters_are_edited(
    modeller: Any, live: Any
) -> None:
    page = modeller
    select_on_canvas(page, "notify_actions")
    group = page.locator("fieldset[data-group=serviceTask]")
    expect(group).to_be_visible()
    operator = page.locator("#egenskap-tjanst")
    assert operator.input_value() == "notify"
    offered = operator.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    assert offered == sorted(live.city.engine.services.names())
    assert page.locator("#egenskap-resultatvariabel").input_value() == "atgardsbesked"
    rows = [
        (
            page.locator(f"#egenskap-parameter-{n}-namn").input_value(),
            page.locator(f"#egenskap-parameter-{n}-typ").input_value(),
            page.locator(f"#egenskap-parameter-{n}-varde").input_value(),
        )
        for n in range(1, 5)
    ]
    assert rows == parameter_rows(saved(page), "notify_actions")
    assert rows[1] == ("organisation", "any", "None")
    # What notify declared it takes is said, and its names are offered to the name fields.
    expect(page.locator("#egenskap-tjanst-parametrar")).to_have_text(
        "Tjänsten behöver: role, subject. Den kan också ta: organisation, task, kind, message."
    )
    offered_names = page.locator("#egenskap-parameternamn option").evaluate_all(
        "(os) => os.map((o) => o.value)"
    )
    assert offered_names == ["role", "subject", "organisation", "task", "kind", "message"]
    assert page.locator("#egenskap-parameter-1-namn").get_attribute("list") == (
        "egenskap-parameternamn"
    )

    page.fill("#egenskap-resultatvariabel", "besked")
    page.fill("#egenskap-parameter-4-varde", "f'Åtgärder: {beslutade_atgarder}'")
    page.keyboard.press("Tab")
    group.get_by_role("button", name="Ta bort parameter 2").click()
    expect(page.locator("#egenskap-parameter-2-namn")).to_be_focused()
    expect(page.locator("#egenskap-parameter-2-namn")).to_have_value("subject")
    group.get_by_role("button", name="Lägg till en parameter").click()
    expect(page.locator("#egenskap-parameter-4-namn")).to_be_focused()
    page.keyboard.type("kind")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # the type stays "any"
    page.keyboard.type("'decision'")
    page.keyboard.press("Tab")
    root = saved(page)
    assert by_id(root, "notify_actions").find(f".//{{{SPIFF}}}serviceTaskOperator").attrib == {
        "id": "notify",
        "resultVariable": "besked",
    }
    assert parameter_rows(root, "notify_actions") == [
        ("role", "any", "'coordinator'"),
        ("subject", "any", "f'Riskhanteringsrådet har beslutat om åtgärder: {tertial_id} {year}'"),
        ("message", "any", "f'Åtgärder: {beslutade_atgarder}'"),
        ("kind", "any", "'decision'"),
    ]

    # Two parameters cannot share a name; the typed name stays for correcting.
    page.fill("#egenskap-parameter-4-namn", "subject")
    page.keyboard.press("Tab")
    name = page.locator("#egenskap-parameter-4-namn")
    expect(name).to_have_accessible_description(re.compile("redan en parameter"))
    expect(name).to_have_value("subject")
    assert parameter_rows(saved(page), "notify_actions")[3][0] == "kind"
    name.fill("kind")
    page.keyboard.press("Tab")
    expect(group.locator(".field-error")).to_have_count(0)
    expect(name).not_to_have_attribute("aria-invalid", "true")

    operator.select_option("notify_users")
    assert (
        saved(page).find(f".//*[@id='notify_actions']//{{{SPIFF}}}serviceTaskOperator").get("id")
        == "notify_users"
    )
    page.evaluate(UNDO)
    expect(operator).to_have_value("notify")
    assert_validates(page)

    # A task made a service task chooses its operator; until then only the choice is shown.
    task = replace(page, "update_status", "bpmn:ServiceTask")
    expect(operator).to_have_value("")
    expect(page.locator("#egenskap-resultatvariabel")).to_be_hidden()
    operator.select_option("compile_tertial_report")
    expect(page.locator("#egenskap-resultatvariabel")).to_be_visible()
    expect(page.locator("#egenskap-tjanst-parametrar")).to_have_text(
        "Tjänsten behöver: tertial. Den kan också ta: reports, year."
    )
    page.fill("#egenskap-resultatvariabel", "uppdatering")
    page.keyboard.press("Tab")
    found = by_id(saved(page), task).find(f".//{{{SPIFF}}}serviceTaskOperator")
    assert found.attrib == {"id": "compile_tertial_report", "resultVariable": "uppdatering"}


def test_the_panels_service_list_is_for_process_owners_only(page: Any, live: Any) -> None:
    sign_in(page, "ansvarig.farsta")
    assert page.request.get(f"{live.url}/modeller/tjanster.json").status == 403


def test_a_user_tasks_priority_and_candidates_and_an_activitys_scripts_are_edited(
    modeller: Any,
) -> None:
    page = modeller
    select_on_canvas(page, "council_tertial")
    priority = page.locator("#egenskap-prioritet")
    expect(priority).to_have_value("")
    # Out of range: refused beside the field, nothing written, the number kept to correct.
    priority.fill("101")
    page.keyboard.press("Tab")
    expect(priority).to_have_accessible_description(re.compile("heltal från 0 till 100"))
    assert "priority" not in properties(page.evaluate(SAVED), "council_tertial")
    priority.fill("70")
    page.keyboard.press("Tab")
    expect(priority).not_to_have_attribute("aria-invalid", "true")
    page.fill("#egenskap-kandidater", "samordnare, sekreterare")
    page.fill("#egenskap-kandidatgrupper-uttryck", "extra_groups")
    page.fill("#egenskap-roll-uttryck", "'council_secretary' if delegated else 'council'")
    page.keyboard.press("Tab")
    written = properties(page.evaluate(SAVED), "council_tertial")
    assert written["priority"] == "70"
    assert written["candidateUsers"] == "samordnare, sekreterare"
    assert written["candidateGroupsFrom"] == "extra_groups"
    assert written["roleFrom"] == "'council_secretary' if delegated else 'council'"
    page.evaluate(UNDO)  # one command per change: the role expression goes first
    assert "roleFrom" not in properties(page.evaluate(SAVED), "council_tertial")

    # A user task has no script of its own, but pre- and post-scripts.
    expect(page.locator("#egenskap-skript")).to_be_hidden()
    page.fill("#egenskap-forskript", "behandlad = False")
    page.keyboard.press("Tab")
    pre = by_id(saved(page), "council_tertial").find(f".//{{{SPIFF}}}preScript")
    assert pre is not None and pre.text == "behandlad = False"
    page.fill("#egenskap-forskript", "   ")
    page.keyboard.press("Tab")
    assert by_id(saved(page), "council_tertial").find(f".//{{{SPIFF}}}preScript") is None

    # A script task's own script, indentation kept, checked by Validera.
    select_on_canvas(page, "update_status")
    script = page.locator("#egenskap-skript")
    expect(script).to_be_visible()
    assert script.input_value().startswith("tertial_reports = tertial_reports + [")
    script.fill("for r in rows:\n    total = r\nimport os")
    page.keyboard.press("Tab")
    assert (
        by_id(saved(page), "update_status")
        .find(f"{{{BPMN}}}script")
        .text.endswith("    total = r\nimport os")
    )
    page.click("button[data-action=validate]")
    expect(page.locator("#modeller-result")).to_contain_text("update_status")
    expect(page.locator("#modeller-result")).to_contain_text("Import")
    page.evaluate(UNDO)
    page.fill("#egenskap-efterskript", "klar = True")
    page.keyboard.press("Tab")
    post = by_id(saved(page), "update_status").find(f".//{{{SPIFF}}}postScript")
    assert post is not None and post.text == "klar = True"
    assert_validates(page)
