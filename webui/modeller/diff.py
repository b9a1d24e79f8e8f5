"""What changed between two deployed versions of a process, element by element.

A process owner deciding whether to move running cases to a new version, or an auditor
asking what a deployment did, needs more than "the file changed": which tasks, flows and
lanes were added or removed, and for the ones kept, exactly which of their attributes,
properties (forms, due dates), documentation, scripts, timers and conditions differ. The
versions' stored files are compared with lxml (hardened parsing, as for deploy), elements
matched by their id within each file; the layout (BPMNDI) is not compared, moving a shape is
not a change of the process. Forms and decision tables are compared file by file.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from lxml import etree

from engine.bpmn_rules import BPMN_NS, FLOW_NODE_TAGS, SPIFF_NS, spiff_properties
from engine.errors import ValidationError
from engine.xml_safety import parse_xml

COMPARED_TAGS = FLOW_NODE_TAGS | {"sequenceFlow", "lane", "process"}
"""The elements the diff lists: flow nodes, sequence flows, lanes and the processes."""

TIMER_PARTS = ("timeDate", "timeDuration", "timeCycle")
LOOP_TAGS = ("multiInstanceLoopCharacteristics", "standardLoopCharacteristics")
OTHER_TAGS = ("ioSpecification", "dataInputAssociation", "dataOutputAssociation")
# Children described by their own aspect, or compared as elements of their own.
_SKIPPED_CHILDREN = {"incoming", "outgoing", "extensionElements", "documentation", "script"}
_SKIPPED_CHILDREN |= {"conditionExpression", "flowNodeRef", "childLaneSet", "laneSet"}


@dataclass(frozen=True)
class Change:
    """One aspect of an element that differs: `aspect` says what kind of thing (the page
    names it in the reader's language), `name` which one (an attribute, a property)."""

    aspect: str  # attribute, property, extension, documentation, script, timer, condition,
    # event, loop, lane_members, other
    name: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Element:
    """An element that was added, removed or changed."""

    file: str
    id: str
    kind: str  # the BPMN local name: userTask, sequenceFlow, lane …
    name: str | None
    changes: tuple[Change, ...] = ()


@dataclass
class FileChange:
    """A form, decision table or diagram file that was added, removed or changed."""

    name: str
    status: str  # added, removed, changed


@dataclass
class VersionDiff:
    """Everything that differs between version `before` and version `after`."""

    added: list[Element] = field(default_factory=list)
    removed: list[Element] = field(default_factory=list)
    changed: list[Element] = field(default_factory=list)
    files: list[FileChange] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.files)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _text(el: etree._Element | None) -> str:
    """An element's text content with whitespace collapsed (indentation is no change)."""
    if el is None:
        return ""
    return " ".join("".join(el.itertext()).split())


def _canonical(el: etree._Element) -> str:
    """A stable textual form of an element and its children, for comparing extension
    elements and loop characteristics whatever their prefixes and indentation."""
    attrs = " ".join(f"{etree.QName(k).localname}={v!r}" for k, v in sorted(el.attrib.items()))
    own = " ".join((el.text or "").split())
    children = " ".join(_canonical(c) for c in el if isinstance(c.tag, str))
    return f"<{_local(el)} {attrs}>{own}{children}</{_local(el)}>".replace(" >", ">")


def _prefixed(el: etree._Element) -> str:
    namespace = etree.QName(el).namespace
    prefix = "spiffworkflow:" if namespace == SPIFF_NS else ""
    return prefix + _local(el)


def aspects(el: etree._Element) -> dict[tuple[str, str], str]:
    """What the diff compares of one element, keyed by (aspect, name)."""
    found: dict[tuple[str, str], str] = {}
    for attr, value in el.attrib.items():
        if attr != "id":
            found[("attribute", etree.QName(attr).localname)] = value
    for prop, value in spiff_properties(el).items():
        found[("property", prop)] = value
    for ext in el.iterfind(f"{{{BPMN_NS}}}extensionElements/*"):
        if not isinstance(ext.tag, str) or _local(ext) == "properties":
            continue
        key = ("extension", _prefixed(ext))
        text = _text(ext) if len(ext) == 0 and not ext.attrib else _canonical(ext)
        found[key] = f"{found[key]} {text}" if key in found else text
    docs = [_text(d) for d in el.iterfind(f"{{{BPMN_NS}}}documentation")]
    if any(docs):
        found[("documentation", "")] = "\n".join(docs)
    script = el.find(f"{{{BPMN_NS}}}script")
    if script is not None:
        found[("script", "")] = (script.text or "").strip()
    condition = el.find(f"{{{BPMN_NS}}}conditionExpression")
    if condition is not None:
        found[("condition", "")] = _text(condition)
    for child in el:
        if not isinstance(child.tag, str):
            continue
        local = _local(child)
        if local.endswith("EventDefinition"):
            for part in TIMER_PARTS:
                timer = child.find(f"{{{BPMN_NS}}}{part}")
                if timer is not None:
                    found[("timer", part)] = _text(timer)
            if local != "timerEventDefinition":
                found[("event", local)] = _canonical(child)
        elif local in LOOP_TAGS:
            found[("loop", local)] = _canonical(child)
        elif local in OTHER_TAGS:
            key = ("other", local)
            found[key] = f"{found[key]} {_canonical(child)}" if key in found else _canonical(child)
    if _local(el) == "lane":
        members = sorted(_text(r) for r in el.iterfind(f"{{{BPMN_NS}}}flowNodeRef"))
        found[("lane_members", "")] = ", ".join(members)
    return found


def elements(tree: etree._ElementTree) -> dict[str, etree._Element]:
    """The compared elements of one diagram by id."""
    return {
        el.get("id"): el
        for el in tree.iter(f"{{{BPMN_NS}}}*")
        if el.get("id") and _local(el) in COMPARED_TAGS
    }


def _is_diagram(name: str) -> bool:
    return name.lower().endswith(".bpmn")


def _parse(name: str, data: bytes, diff: VersionDiff) -> dict[str, etree._Element]:
    try:
        return elements(parse_xml(name, data))
    except ValidationError:
        diff.unreadable.append(name)  # a deployed file always parses; say so if not
        return {}


def _entry(file: str, el: etree._Element, changes: tuple[Change, ...] = ()) -> Element:
    return Element(file, el.get("id"), _local(el), el.get("name"), changes)


def changes(before: etree._Element, after: etree._Element) -> tuple[Change, ...]:
    """The aspects of one element that differ between two versions, in a stable order."""
    old, new = aspects(before), aspects(after)
    result = [
        Change(aspect, name, old.get((aspect, name)), new.get((aspect, name)))
        for aspect, name in sorted(old.keys() | new.keys())
        if old.get((aspect, name)) != new.get((aspect, name))
    ]
    if _local(before) != _local(after):
        result.insert(0, Change("kind", "", _local(before), _local(after)))
    return tuple(result)


def compare(before: dict[str, bytes], after: dict[str, bytes]) -> VersionDiff:
    """The difference between two versions' stored files (`repository.files`)."""
    diff = VersionDiff()
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            diff.files.append(FileChange(name, "removed"))
        elif name not in before:
            diff.files.append(FileChange(name, "added"))
        elif before[name] != after[name]:
            diff.files.append(FileChange(name, "changed"))
        if not _is_diagram(name):
            continue
        old = _parse(name, before[name], diff) if name in before else {}
        new = _parse(name, after[name], diff) if name in after else {}
        for element_id in sorted(old.keys() - new.keys()):
            diff.removed.append(_entry(name, old[element_id]))
        for element_id in sorted(new.keys() - old.keys()):
            diff.added.append(_entry(name, new[element_id]))
        for element_id in sorted(old.keys() & new.keys()):
            found = changes(old[element_id], new[element_id])
            if found:
                diff.changed.append(_entry(name, new[element_id], found))
    return diff


def short_name(file: str) -> str:
    """A file's name without its folder, for table cells."""
    return posixpath.basename(file)
