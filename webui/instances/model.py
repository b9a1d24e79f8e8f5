"""What the case page needs to know about a deployed definition's diagrams.

A definition is a bundle of files: the process's own diagram and the diagrams of the
processes it calls (the plan cycle calls one `organisation_plan` per organisation). The page
draws one process at a time, so it needs to know which file holds which process, which
elements each process has (to sort the history's element ids into the right diagram) and
what the elements are called (the history names element ids, people read names).

Deployed definitions never change, so a definition is parsed once per content hash and kept.
Files are parsed with the engine's hardened parser: they were uploaded by people.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from engine import Engine
from engine.xml_safety import parse_xml

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
FLOW_NODES = frozenset(
    {
        "task",
        "userTask",
        "manualTask",
        "serviceTask",
        "scriptTask",
        "sendTask",
        "receiveTask",
        "businessRuleTask",
        "callActivity",
        "subProcess",
        "transaction",
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "exclusiveGateway",
        "parallelGateway",
        "inclusiveGateway",
        "eventBasedGateway",
        "complexGateway",
    }
)


@dataclass(frozen=True)
class Element:
    id: str
    kind: str  # the BPMN element's local name: userTask, boundaryEvent, …
    name: str | None


@dataclass(frozen=True)
class ProcessModel:
    id: str
    name: str | None
    file: str
    elements: dict[str, Element] = field(default_factory=dict)
    calls: dict[str, str] = field(default_factory=dict)
    """Call activity id -> the id of the process it calls."""


@dataclass(frozen=True)
class DefinitionModel:
    key: str
    processes: dict[str, ProcessModel]
    """Every process in the definition's diagrams, the definition's own first."""

    @property
    def main(self) -> ProcessModel:
        return self.processes[self.key]

    def element(self, element_id: str | None) -> Element | None:
        """An element by id, looked up in the main process first (ids are unique within a
        diagram; across diagrams the definition's own wins)."""
        if not element_id:
            return None
        for process in self.processes.values():
            found = process.elements.get(element_id)
            if found is not None:
                return found
        return None

    def element_name(self, element_id: str | None) -> str | None:
        element = self.element(element_id)
        return element.name if element else None


_cache: dict[tuple[str, str], DefinitionModel] = {}
_lock = threading.Lock()


def definition_model(engine: Engine, definition_id: int) -> DefinitionModel:
    definition = engine.repository.definition(definition_id)
    cache_key = (definition.content_hash, definition.key)
    with _lock:
        cached = _cache.get(cache_key)
    if cached is not None:
        return cached
    files = engine.repository.files(definition_id)
    processes: dict[str, ProcessModel] = {}
    for name in sorted(files):
        if not name.endswith(".bpmn"):
            continue
        tree = parse_xml(name, files[name])
        for process in tree.getroot().iter(f"{{{BPMN}}}process"):
            model = ProcessModel(process.get("id", ""), process.get("name"), name)
            for node in process.iter():
                if not isinstance(node.tag, str) or not node.tag.startswith(f"{{{BPMN}}}"):
                    continue
                kind = node.tag.split("}", 1)[1]
                element_id = node.get("id")
                if kind in FLOW_NODES and element_id:
                    model.elements[element_id] = Element(element_id, kind, node.get("name"))
                    if kind == "callActivity" and node.get("calledElement"):
                        model.calls[element_id] = node.get("calledElement", "")
            processes[model.id] = model
    ordered = {definition.key: processes[definition.key]} if definition.key in processes else {}
    ordered.update((k, v) for k, v in processes.items() if k != definition.key)
    model = DefinitionModel(definition.key, ordered)
    with _lock:
        _cache[cache_key] = model
    return model


def diagram_xml(engine: Engine, definition_id: int, process_id: str) -> str:
    """The text of the file that holds `process_id` (as deployed)."""
    model = definition_model(engine, definition_id)
    process = model.processes[process_id]
    return engine.repository.files(definition_id)[process.file].decode("utf-8")
