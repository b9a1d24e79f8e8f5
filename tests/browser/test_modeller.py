"""The modeller page in a real browser: what bpmn-js keeps of any BPMN file, and the page's own
controls.

Every MIWG reference model (the BPMN Model Interchange Working Group's test suite, in
`shared/corpora/miwg/`) is opened in the modeller page's own bpmn-js Modeler and saved back;
lxml then compares the two documents element by element (each element keyed by the nearest
element with an id, its name, its attributes and its text). Nothing may be lost except the
exact differences recorded in miwg_known_losses.json, each of which docs/modeller.md
explains; a difference that appears or disappears fails the test, so a bpmn-js upgrade that
changes what is kept is noticed.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from playwright.sync_api import expect

from tests.browser.conftest import axe, sign_in
from tests.conftest import shared_dir

MIWG = shared_dir() / "corpora" / "miwg"
MODELS = sorted(p.name for p in MIWG.glob("*.bpmn")) if MIWG.is_dir() else []
KNOWN = json.loads((Path(__file__).with_name("miwg_known_losses.json")).read_text("utf-8"))
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI_TAGS = {"BPMNShape", "BPMNEdge", "BPMNLabel", "Bounds", "waypoint"}
# Attribute values the BPMN 2.0 XSD declares as defaults: present or absent means the same,
# and bpmn-js writes only what differs from them.
DEFAULTS = {
    "completionQuantity": "1",
    "startQuantity": "1",
    "isForCompensation": "false",
    "gatewayDirection": "Unspecified",
    "triggeredByEvent": "false",
    "isCollection": "false",
    "isInterrupting": "true",
    "cancelActivity": "true",
    "parallelMultiple": "false",
    "isSequential": "false",
    "testBefore": "false",
    "instantiate": "false",
    "eventGatewayType": "Exclusive",
    "isClosed": "false",
    "processType": "None",
    "implementation": "##unspecified",
    "textFormat": "text/plain",
    "associationDirection": "None",
    "behavior": "All",
    "ordering": "Parallel",
    "cancelRemainingInstances": "true",
    "waitForCompletion": "true",
    "isCallable": "false",
    "expressionLanguage": "http://www.w3.org/1999/XPath",
    "typeLanguage": "http://www.w3.org/2001/XMLSchema",
}
SAVE = """async (xml) => {
  const modeler = window.kedjaModeller;
  const result = await window.kedjaModellerFiles.open(xml);
  const bpmnJs = await modeler.saveXML({ format: true });
  const page = await window.kedjaModellerFiles.save();
  return { warnings: result.warnings.map((w) => w.message), xml: page.xml, bpmnJs: bpmnJs.xml };
}"""


DELETE_FIRST_TASK = """async (xml) => {
  const modeler = window.kedjaModeller;
  const first = await window.kedjaModellerFiles.open(xml);
  const task = modeler.get("elementRegistry").filter((e) => e.type === "bpmn:Task")[0];
  modeler.get("modeling").removeElements([task]);
  const saved = await window.kedjaModellerFiles.save();
  const again = await modeler.importXML(saved.xml);
  return { id: task.id, xml: saved.xml, warnings: again.warnings.length,
           originalWarnings: first.warnings.length };
}"""


def _value(name: str, value: str) -> str:
    """Numbers compared as numbers (100 == 100.0), whitespace collapsed (bpmn-js writes a
    CR LF inside a name as a line feed), xsi:type by its local name (prefixes differ)."""
    if name == XSI_TYPE:
        value = value.split(":")[-1]
    try:
        return repr(round(float(value), 3))
    except ValueError:
        return " ".join(value.split())


def signatures(data: bytes) -> Counter[tuple[Any, ...]]:
    """Every element as (id of the nearest element with one, name, attributes, text)."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True
    )
    root = etree.fromstring(data, parser)
    found: Counter[tuple[Any, ...]] = Counter()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        anchor = el
        while anchor is not None and anchor.get("id") is None:
            anchor = anchor.getparent()
        attributes = tuple(
            sorted(
                (name, _value(name, value))
                for name, value in el.attrib.items()
                if not (name in DEFAULTS and _value(name, value) == _value(name, DEFAULTS[name]))
                and not (name == XSI_TYPE and value.split(":")[-1] in ("Point", "Bounds"))
            )
        )
        text = " ".join((el.text or "").split())
        owner = anchor.get("id") if anchor is not None else None
        found[(owner, etree.QName(el).localname, attributes, text)] += 1
    return found


def lost(original: bytes, saved: bytes) -> list[list[Any]]:
    """What the original has and the saved document does not, as JSON-comparable lists.

    An original element is kept if the saved document has an element with the same owner,
    name and text and at least its attributes (bpmn-js may add some, e.g. isMarkerVisible).
    """
    pool: dict[tuple[Any, ...], list[set[tuple[str, str]]]] = {}
    for (owner, tag, attributes, text), count in signatures(saved).items():
        pool.setdefault((owner, tag, text), []).extend(set(attributes) for _ in range(count))
    missing = []
    for (owner, tag, attributes, text), count in signatures(original).items():
        candidates = pool.get((owner, tag, text), [])
        for _ in range(count):
            match = next((c for c in candidates if set(attributes) <= c), None)
            if match is None:
                missing.append([owner, tag, [list(a) for a in attributes], text])
            else:
                candidates.remove(match)
    return sorted(missing, key=json.dumps)


def unpooled_ids(data: bytes) -> set[str]:
    """Ids of flow elements of processes no participant shows, in a file with pools (bpmn-js
    draws a collaboration's plane from its participants only), and of message flows that
    touch them (an edge needs both ends drawn)."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    shown = {p.get("processRef") for p in root.iter(f"{{{BPMN}}}participant")}
    ids: set[str] = set()
    for process in root.iter(f"{{{BPMN}}}process"):
        if process.get("id") not in shown:
            ids.update(el.get("id") for el in process.iter() if el.get("id"))
    for flow in root.iter(f"{{{BPMN}}}messageFlow"):
        if flow.get("sourceRef") in ids or flow.get("targetRef") in ids:
            ids.add(flow.get("id"))
    return ids


@pytest.fixture
def modeller(page: Any, live: Any) -> Any:
    sign_in(page, "processagare")
    page.goto("/modeller/tertial_loop")
    page.wait_for_selector("#modeller[data-ready=true]")
    return page


@pytest.mark.skipif(not MODELS, reason="shared/corpora/miwg is not available")
def test_every_miwg_model_survives_the_modeller(modeller: Any) -> None:
    assert len(MODELS) == 21
    results, by_bpmn_js = {}, {}
    for name in MODELS:
        original = (MIWG / name).read_bytes()
        text = original.decode("iso-8859-1" if b"ISO-8859-1" in original[:100] else "utf-8")
        saved = modeller.evaluate(SAVE, text)
        results[name] = lost(original, saved["xml"].encode("utf-8"))
        by_bpmn_js[name] = lost(original, saved["bpmnJs"].encode("utf-8"))
    assert {n: r for n, r in results.items() if r} == KNOWN
    # What the page puts back that bpmn-js alone drops: layout only. In B.1.0 and B.2.0 the
    # layout of the elements of a process no pool shows (bpmn-js draws a collaboration from
    # its pools), B.2.0's messageVisibleKind, and C.7.0's edge that draws no element.
    restored = {n for n in MODELS if by_bpmn_js[n] != results[n]}
    assert restored == {"B.1.0.bpmn", "B.2.0.bpmn", "C.7.0.bpmn"}
    for name in ("B.1.0.bpmn", "B.2.0.bpmn"):
        unpooled = unpooled_ids((MIWG / name).read_bytes())
        assert {tag for _owner, tag, _attrs, _text in by_bpmn_js[name]} <= DI_TAGS
        refs = {
            dict(map(tuple, attrs)).get("bpmnElement")
            for _owner, tag, attrs, _text in by_bpmn_js[name]
            if tag in ("BPMNShape", "BPMNEdge")
            and "messageVisibleKind" not in dict(map(tuple, attrs))
        }
        assert refs and refs <= unpooled, name
    kinds = [e for e in by_bpmn_js["B.2.0.bpmn"] if "messageVisibleKind" in dict(map(tuple, e[2]))]
    assert [(e[0], dict(map(tuple, e[2]))["messageVisibleKind"]) for e in kinds] == [
        ("E1373638081031__09e7cb23-4a1b-4165-b93a-cf635c223ee5", "initiating")
    ]
    edges = [e for e in by_bpmn_js["C.7.0.bpmn"] if e[1] == "BPMNEdge"]
    assert len(edges) == 1 and "bpmnElement" not in dict(map(tuple, edges[0][2]))


def test_a_layout_attribute_bpmn_js_knows_is_not_put_back(modeller: Any) -> None:
    """Only attributes bpmn-js cannot hold are restored: one it knows and leaves out was
    changed in the modeller (here a gateway's X marker switched off), and stays so."""
    saved = modeller.evaluate(
        """async () => {
          const modeler = window.kedjaModeller;
          const gateway = modeler.get("elementRegistry").get("council_gw");
          gateway.di.isMarkerVisible = undefined;
          return (await window.kedjaModellerFiles.save()).xml;
        }"""
    )
    root = etree.fromstring(saved.encode("utf-8"))
    (shape,) = root.xpath("//*[local-name()='BPMNShape'][@bpmnElement='council_gw']")
    assert shape.get("isMarkerVisible") is None


def test_what_the_process_owner_deletes_stays_deleted(modeller: Any) -> None:
    """The layout put back is only what bpmn-js could not show: a deleted element's shape
    is not brought back from the document as opened."""
    text = (MIWG / "B.1.0.bpmn").read_text("utf-8")
    deleted = modeller.evaluate(DELETE_FIRST_TASK, text)
    saved = etree.fromstring(deleted["xml"].encode("utf-8"))
    assert not saved.xpath(f"//*[@id='{deleted['id']}' or @bpmnElement='{deleted['id']}']")
    # and the page's save opens again in bpmn-js with no more warnings than the original
    assert deleted["warnings"] <= deleted["originalWarnings"]


def test_the_modeller_page_passes_axe_in_swedish_and_english(modeller: Any, live: Any) -> None:
    assert modeller.locator("button[data-action=validate]").is_visible()
    assert axe(modeller) == []
    live.city.register.set_language("processagare", "en")
    modeller.goto("/modeller/tertial_loop")
    modeller.wait_for_selector("#modeller[data-ready=true]")
    assert modeller.locator("button[data-action=validate]").inner_text() == "Validate"
    assert axe(modeller) == []
    modeller.goto("/modeller/")
    assert axe(modeller) == []


BREAK = """() => {
  const modeler = window.kedjaModeller;
  const registry = modeler.get("elementRegistry");
  const modeling = modeler.get("modeling");
  const task = registry.get("council_tertial").businessObject;
  const props = task.extensionElements.values.find((v) => v.$type === "spiffworkflow:Properties");
  const form = props.values.find((c) => c.name === "formJsonSchemaFilename");
  props.values.splice(props.values.indexOf(form), 1);
  window.kedjaRemovedForm = form;
  const timer = registry.get("wait_period_end");
  const definition = timer.businessObject.eventDefinitions[0];
  modeling.updateModdleProperties(timer, definition.timeDate, { body: "P4M" });
  const lane = modeling.addLane(registry.get("lane_radet"), "bottom");
  return lane.id;
}"""
FIX = """(laneId) => {
  const modeler = window.kedjaModeller;
  const registry = modeler.get("elementRegistry");
  const modeling = modeler.get("modeling");
  const task = registry.get("council_tertial").businessObject;
  const props = task.extensionElements.values.find((v) => v.$type === "spiffworkflow:Properties");
  props.values.unshift(window.kedjaRemovedForm);
  const timer = registry.get("wait_period_end");
  const definition = timer.businessObject.eventDefinitions[0];
  modeling.updateModdleProperties(timer, definition.timeDate, { body: 'tertial["period_end"]' });
  modeling.removeShape(registry.get(laneId));
}"""
MARKED = """() => Array.from(document.querySelectorAll(".djs-element.kedja-problem"))
  .map((el) => el.getAttribute("data-element-id")).sort()"""


def test_a_process_owner_breaks_the_tertial_loop_sees_why_fixes_it_and_deploys(
    modeller: Any, live: Any
) -> None:
    city = live.city
    running = city.start("tertial_loop", plans=[])
    page = modeller
    lane = page.evaluate(BREAK)
    page.click("button[data-action=validate]")
    page.wait_for_selector(".modeller-problems li")
    items = page.locator(".modeller-problems li").all_inner_texts()
    assert len(items) == 3, items
    assert page.evaluate(MARKED) == sorted(["council_tertial", "wait_period_end", lane])
    notes = page.locator(".kedja-problem-note").all_inner_texts()
    assert any("formJsonSchemaFilename" in n or "form" in n for n in notes)
    assert any("P4M" in n for n in notes) and any("lane has no name" in n for n in notes)
    # The list is the way in for keyboard and screen-reader users: a problem selects its element.
    page.click(f".modeller-problems button[data-element={lane}]")
    selected = page.evaluate("() => window.kedjaModeller.get('selection').get().map((e) => e.id)")
    assert selected == [lane]
    assert axe(page) == []

    page.evaluate(FIX, lane)
    page.click("button[data-action=validate]")
    page.wait_for_function(
        "() => !document.getElementById('modeller-result').textContent.includes('…')"
    )
    assert page.locator(".modeller-clean").count() == 1, page.inner_text("#modeller-result")
    assert page.evaluate(MARKED) == []
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("button[data-action=deploy]")
    flashed = page.inner_text(".flashes")
    assert "tertial_loop version 2 är driftsatt men väntar på godkännande" in flashed
    assert page.locator(".modeller-versions tbody tr").count() == 2
    latest = city.engine.repository.get("tertial_loop")
    assert (latest.version, latest.deployed_by) == (2, "processagare")
    assert city.engine.repository.get("organisation_tertial_report").version == 1
    # The instance started on version 1 stays there and keeps running on it.
    city.advance_to("2026-05-01T08:00:00+02:00")
    info = city.engine.runtime.get(running)
    assert (info.version, info.state) == (1, "running")
    # Until an administrator approves version 2 (it calls privileged services), new cases
    # start on version 1; afterwards on version 2.
    assert city.engine.repository.runnable("tertial_loop").version == 1
    city.engine.approvals.approve(latest.id, city.actor("admin"), "granskad")
    assert city.engine.runtime.get(city.start("tertial_loop", 2027, plans=[])).version == 2
    # Moving it: the page says the case can move; the process owner moves it with a reason.
    page.goto("/modeller/tertial_loop")
    row = page.locator(".modeller-migration tbody tr", has_text=str(running))
    expect(row).to_contain_text("Ja")
    page.fill("#flytta-skal", "Versionen rättar bara valideringsfel")
    page.click("text=Flytta de ärenden som kan flyttas")
    expect(page.locator(".flashes")).to_contain_text("1 ärende flyttades")
    assert city.engine.runtime.get(running).version == 2
    moved = [e for e in city.history(running) if e["kind"] == "instance.migrated"]
    assert moved[-1]["actor"] == "processagare"
