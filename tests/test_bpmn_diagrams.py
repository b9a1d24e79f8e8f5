"""The city's diagrams in bpmn/, read as files: complete layout, forms that exist, lanes that
are roles, and one bundle that deploys.

bpmn-js, Camunda Modeler and SpiffArena draw only what has diagram interchange (DI): a flow
node without a shape is invisible there, and a process owner would edit a diagram that hides
part of what runs. So every flow node, lane and sequence flow must have its shape or edge.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn_rules import resolve_form_reference
from processes.catalogue import BPMN_DIR, PROCESSES, unknown_lanes

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
FLOW_NODES = [
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "task",
    "userTask",
    "manualTask",
    "scriptTask",
    "serviceTask",
    "sendTask",
    "receiveTask",
    "businessRuleTask",
    "callActivity",
    "subProcess",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
]
DIAGRAMS = sorted(BPMN_DIR.rglob("*.bpmn"))
BUNDLE_FILES = {p.relative_to(BPMN_DIR).as_posix() for p in BPMN_DIR.rglob("*") if p.is_file()}


def _parse(path: Path) -> etree._ElementTree:
    return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))


def test_every_process_of_the_catalogue_has_its_folder():
    assert DIAGRAMS, "bpmn/ holds no diagrams"
    for entry in PROCESSES:
        assert list((BPMN_DIR / entry.folder).glob("*.bpmn")), f"no diagram for {entry.key}"


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.relative_to(BPMN_DIR).as_posix())
def test_every_element_has_a_shape_or_edge(path):
    tree = _parse(path)
    drawn = {el.get("bpmnElement") for el in tree.iterfind(".//bpmndi:BPMNShape", NS)}
    drawn |= {el.get("bpmnElement") for el in tree.iterfind(".//bpmndi:BPMNEdge", NS)}
    missing = []
    for tag in [*FLOW_NODES, "lane", "sequenceFlow", "participant", "messageFlow"]:
        for el in tree.iterfind(f".//bpmn:{tag}", NS):
            if el.get("id") not in drawn:
                missing.append(f"{tag} {el.get('id')} ({el.get('name')})")
    assert not missing, f"{path.name}: no shape/edge for " + ", ".join(missing)
    for edge in tree.iterfind(".//bpmndi:BPMNEdge", NS):
        assert len(edge.findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")) >= 2, (
            f"edge {edge.get('id')} has fewer than two waypoints"
        )


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.relative_to(BPMN_DIR).as_posix())
def test_every_flow_node_is_in_a_lane(path):
    tree = _parse(path)
    for process in tree.iterfind("bpmn:process", NS):
        lanes = process.findall(".//bpmn:lane", NS)
        if not lanes:
            continue
        in_lane = {ref.text.strip() for ref in process.iterfind(".//bpmn:flowNodeRef", NS)}
        nodes = [el for tag in FLOW_NODES for el in process.iterfind(f".//bpmn:{tag}", NS)]
        outside = [el.get("id") for el in nodes if el.get("id") not in in_lane]
        assert not outside, f"{path.name}: not in any lane: {outside}"


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.relative_to(BPMN_DIR).as_posix())
def test_every_user_task_has_forms_that_exist_and_parse(path):
    tree = _parse(path)
    name = path.relative_to(BPMN_DIR).as_posix()
    for task in tree.iterfind(".//bpmn:userTask", NS):
        props = {
            p.get("name"): p.get("value") for p in task.iterfind(".//spiffworkflow:property", NS)
        }
        for prop in ("formJsonSchemaFilename", "formUiSchemaFilename"):
            ref = props.get(prop)
            assert ref, f"{name}: user task {task.get('id')} has no {prop}"
            resolved = resolve_form_reference(name, ref, BUNDLE_FILES)
            assert resolved, f"{name}: {task.get('id')} names {ref}, which does not exist"
            json.loads((BPMN_DIR / resolved).read_text(encoding="utf-8"))
        doc = task.find("bpmn:documentation", NS)
        assert doc is not None and (doc.text or "").strip(), (
            f"{name}: user task {task.get('id')} has no instructions (documentation)"
        )


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.relative_to(BPMN_DIR).as_posix())
def test_every_lane_is_a_role(path):
    assert unknown_lanes(path) == [], "add the role to processes/roles.py or rename the lane"


def test_forms_have_swedish_titles_for_every_field():
    for schema_path in sorted(BPMN_DIR.rglob("*.schema.json")):
        schema = json.loads(schema_path.read_text(encoding="utf-8"))

        _check_titles(schema, schema_path.name, "")


def _check_titles(node: dict, file: str, where: str) -> None:
    for key, sub in (node.get("properties") or {}).items():
        assert sub.get("title"), f"{file}: {where}{key} has no title"
        _check_titles(sub, file, f"{where}{key}.")
        if sub.get("type") == "array" and isinstance(sub.get("items"), dict):
            _check_titles(sub["items"], file, f"{where}{key}[].")


def test_the_whole_folder_deploys_as_one_bundle(city):
    keys = {d.key for d in city.engine.repository.definitions()}
    assert {entry.key for entry in PROCESSES} <= keys
