"""Checking an edited diagram exactly as deploying it would, and locating each problem.

The modeller's "Validera" must never say "fine" about a diagram that deploying then refuses,
so it runs the deploy's own compile step (`engine.bundle.compile_bundle`, with the
definition's other files and the engine's service names) plus the governance rules Kedja
holds its own diagrams to (every lane is a role, processes.roles.LANES; every user task has
a form). The engine
names the element an expression belongs to; the diagram may not draw that element (a timer
definition, a process inside a pool), so each problem also gets the id of the nearest
element that *is* drawn, for the marker on the canvas.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.bpmn_rules import BPMN_NS, spiff_properties
from engine.bundle import Bundle, compile_bundle
from engine.errors import Problem, ValidationError
from engine.xml_safety import parse_xml
from processes.roles import LANES

DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
NS = {"bpmn": BPMN_NS, "bpmndi": DI_NS}


@dataclass(frozen=True)
class Finding:
    """One problem as the modeller page shows it: `shape` is the drawn element to mark."""

    message: str
    file: str | None
    element: str | None
    shape: str | None
    line: int | None
    hint: str | None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def edited_bundle(files: dict[str, bytes], file_name: str, xml: bytes) -> Bundle:
    """The definition's deployed files with one file replaced by the edited text."""
    return Bundle.from_files({**files, file_name: xml})


def governance_problems(file_name: str, tree: etree._ElementTree) -> list[Problem]:
    """Kedja's governance rules on top of the engine's (docs/processes.md, the same as
    tests/test_bpmn_diagrams.py holds the shipped diagrams to): a lane's name is a role's
    Swedish name, and every user task has a form (whether the file exists is the engine's
    check)."""
    problems = []
    for task in tree.iterfind(".//bpmn:userTask", NS):
        if not spiff_properties(task).get("formJsonSchemaFilename", "").strip():
            problems.append(
                Problem(
                    "the user task has no form (formJsonSchemaFilename)",
                    file=file_name,
                    element=task.get("id"),
                    line=task.sourceline,
                    hint="Name the task's JSON Schema form in its properties, e.g. "
                    "forms/<task id>.schema.json, and add the file beside the diagram",
                )
            )
    for lane in tree.iterfind(".//bpmn:lane", NS):
        name = (lane.get("name") or "").strip()
        if name not in LANES:
            problems.append(
                Problem(
                    f"the lane {name!r} is not a role" if name else "the lane has no name",
                    file=file_name,
                    element=lane.get("id"),
                    line=lane.sourceline,
                    hint="Name the lane after a role: " + ", ".join(sorted(LANES)),
                )
            )
    return problems


def check(files: dict[str, bytes], file_name: str, xml: bytes, services: Any) -> list[Problem]:
    """Every problem deploying the definition's files with `file_name` edited would meet."""
    problems: list[Problem] = []
    try:
        bundle = edited_bundle(files, file_name, xml)
    except ValidationError as err:
        return list(err.problems)
    for name, data in bundle.files.items():
        if name.lower().endswith(".bpmn"):
            # an unreadable file is reported by compile_bundle below
            with contextlib.suppress(ValidationError):
                problems.extend(governance_problems(name, parse_xml(name, data)))
    try:
        compile_bundle(bundle, services)
    except ValidationError as err:
        problems.extend(err.problems)
    return problems


def drawn_ids(tree: etree._ElementTree) -> tuple[dict[str, etree._Element], set[str]]:
    """Every element by id, and the ids the diagram draws (shapes and edges)."""
    by_id = {el.get("id"): el for el in tree.iter() if isinstance(el.tag, str) and el.get("id")}
    drawn = {
        el.get("bpmnElement")
        for el in tree.iter(f"{{{DI_NS}}}BPMNShape", f"{{{DI_NS}}}BPMNEdge")
        if el.get("bpmnElement")
    }
    return by_id, drawn


def shape_for(tree: etree._ElementTree | None, element: str | None) -> str | None:
    """The id of the drawn element nearest to `element`: itself, an ancestor, or for a process
    the pool (participant) that shows it."""
    if tree is None or not element:
        return None
    by_id, drawn = drawn_ids(tree)
    current = by_id.get(element)
    while current is not None:
        current_id = current.get("id")
        if current_id in drawn:
            return current_id
        if etree.QName(current).localname == "process":
            for participant in tree.iterfind(".//bpmn:participant", NS):
                if participant.get("processRef") == current_id and participant.get("id") in drawn:
                    return participant.get("id")
        current = current.getparent()
    return None


def findings(problems: list[Problem], file_name: str, xml: bytes) -> list[Finding]:
    """The problems in the order the page lists them, each with the shape to mark."""
    try:
        tree: etree._ElementTree | None = parse_xml(file_name, xml)
    except ValidationError:
        tree = None
    result = []
    for p in problems:
        shape = shape_for(tree, p.element) if p.file == file_name else None
        result.append(Finding(p.message, p.file, p.element, shape, p.line, p.hint))
    return result
