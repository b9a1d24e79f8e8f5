"""Kedja's own deploy-time rules for BPMN files, beyond the XSD and SpiffWorkflow's parser.

SpiffWorkflow 3.2.0's parser accepts a number of diagrams it then runs with the wrong meaning:
it builds a process by walking sequence flows from the start events, so an element kind it has
no parser for, or an event definition it does not look for, is silently dropped or turned into
a "none" event; conditions on flows out of tasks are ignored; interrupting event sub-processes
run without interrupting. Uploaded BPMN is also code: every script and expression is checked
against the script sandbox at deploy. Each rule here turns such a case into a Problem that names
the file, the element, the line, what is wrong and what to do, so a process owner can fix a
diagram in one round instead of finding out at run time.

The sets of supported element kinds are derived from SpiffWorkflow's parser classes (the
version is pinned exactly), not written out by hand, so the rules cannot drift from the parser.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from lxml import etree

from engine.bpmn_schema import element_id_at
from engine.errors import Problem

if TYPE_CHECKING:
    from engine.services import Services

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
FORM_PROPERTIES = ("formJsonSchemaFilename", "formUiSchemaFilename")
# User-task properties holding an expression, evaluated when the task becomes ready.
ASSIGNMENT_EXPRESSIONS = ("dueDate", "roleFrom", "candidateUsersFrom", "candidateGroupsFrom")

FLOW_NODE_TAGS = frozenset(
    {
        # Every element of the BPMN 2.0 flowElement substitution group that is a FlowNode
        # (BPMN20 Semantic.xsd): activities, events, gateways and choreography nodes.
        "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask",
        "receiveTask", "businessRuleTask", "callActivity", "subProcess", "transaction",
        "adHocSubProcess", "startEvent", "endEvent", "intermediateCatchEvent",
        "intermediateThrowEvent", "boundaryEvent", "implicitThrowEvent", "exclusiveGateway",
        "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
        "callChoreography", "choreographyTask", "subChoreography",
    }
)  # fmt: skip
CONTAINER_TAGS = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})
MULTI_OUTGOING_TAGS = frozenset(
    # Parsers whose handles_multiple_outgoing() is True in SpiffWorkflow 3.2.0.
    {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "startEvent"}
)
CONDITIONAL_SOURCES = frozenset({"exclusiveGateway", "inclusiveGateway"})

SUPPORTED_EVENT_DEFINITIONS: dict[str, frozenset[str]] = {
    # The xpaths each event parser passes to get_event_definition() in
    # SpiffWorkflow/bpmn/parser/event_parsers.py (3.2.0). A definition not listed is never read:
    # the event silently becomes a "none" event (an error start event in an event sub-process
    # would start it at once; a signal end event would signal nothing).
    "startEvent": frozenset({"message", "signal", "timer", "conditional"}),
    "endEvent": frozenset({"message", "cancel", "error", "escalation", "terminate"}),
    "intermediateCatchEvent": frozenset({"message", "signal", "timer", "conditional"}),
    # The parser also reads timers on throw events, but BPMN has no throwing timer.
    "intermediateThrowEvent": frozenset({"escalation", "message", "signal"}),
    "boundaryEvent": frozenset(
        {"cancel", "error", "escalation", "message", "signal", "timer", "conditional"}
    ),
}
_REF_TARGETS = {
    "messageEventDefinition": ("messageRef", "message"),
    "signalEventDefinition": ("signalRef", "signal"),
    "errorEventDefinition": ("errorRef", "error"),
    "escalationEventDefinition": ("escalationRef", "escalation"),
    "sendTask": ("messageRef", "message"),
    "receiveTask": ("messageRef", "message"),
}
_FLOW_NODE_HINTS = {
    "complexGateway": "Replace it with exclusive, inclusive or parallel gateways",
    "implicitThrowEvent": "Use an intermediate throw event",
    "callChoreography": "Choreographies are descriptive; model the work as a process",
    "choreographyTask": "Choreographies are descriptive; model the work as a process",
    "subChoreography": "Choreographies are descriptive; model the work as a process",
}
_SANDBOX_HINT = (
    "Kedja runs scripts and expressions in a restricted Python sandbox (no imports, no names "
    "starting with '_', no class definitions, no file or network access); rewrite it with "
    "task variables and the functions the sandbox provides"
)
_SIMPLIFY_HINT = (
    "Simplify it: split a long expression into several statements with variables, or move "
    "the work into a service task operator"
)
_TIMER_HINT = (
    "Timer expressions are Python expressions in SpiffWorkflow: write an ISO-8601 value as a "
    'quoted string, e.g. "PT5M" or "2025-01-31T09:00:00+01:00"'
)
_PYTHON_SCRIPT_FORMATS = frozenset(
    {"python", "text/python", "text/x-python", "application/python", "application/x-python"}
)

_NUM = r"\d+(?:[.,]\d+)?"
_DURATION = rf"P(?=\d|T\d)(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"  # noqa: E501
_DATETIME = (
    r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}(?::\d{2}){0,2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_POINT = rf"(?:{_DURATION}|{_DATETIME})"
ISO_8601_LITERAL = re.compile(rf"(?:R\d*/)?{_POINT}(?:/{_POINT})?", re.IGNORECASE)
"""A bare ISO-8601 duration, date/time, interval or repetition, as a modeller would type it."""


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _is_bpmn(el: etree._Element, *names: str) -> bool:
    if not isinstance(el.tag, str):
        return False
    q = etree.QName(el)
    return q.namespace == BPMN_NS and (not names or q.localname in names)


@lru_cache(maxsize=1)
def supported_flow_nodes() -> frozenset[str]:
    """Flow node kinds SpiffBpmnParser has a parser class for (PARSER_CLASSES + OVERRIDE)."""
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

    tags = {**SpiffBpmnParser.PARSER_CLASSES, **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES}
    return frozenset(
        etree.QName(tag).localname for tag in tags if etree.QName(tag).namespace == BPMN_NS
    )


@lru_cache(maxsize=1)
def ad_hoc_child_nodes() -> frozenset[str]:
    """Kinds SpiffWorkflow's AdHocParser picks up inside an ad-hoc sub-process.

    AdHocParser.add_tasks() consults the base PARSER_CLASSES only, not the Spiff overrides,
    so e.g. a business rule task placed directly in an ad-hoc sub-process is skipped.
    """
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

    return frozenset(
        etree.QName(tag).localname
        for tag in SpiffBpmnParser.PARSER_CLASSES
        if etree.QName(tag).namespace == BPMN_NS
    )


def executable_process_ids(tree: etree._ElementTree) -> list[str]:
    """Ids of the top-level processes marked isExecutable="true", in document order.

    Only these are deployed. A missing attribute counts as not executable: a descriptive
    diagram must not start running because a modeller left the flag out.
    """
    return [
        p.get("id")
        for p in tree.getroot().iterfind("bpmn:process", NS)
        if p.get("isExecutable") == "true" and p.get("id")
    ]


def no_executable_process_problem(file_name: str) -> Problem:
    """The Problem for a bundle in which no file holds an executable process."""
    return Problem(
        'the file holds no process with isExecutable="true", so there is nothing to deploy',
        file=file_name,
        hint="Mark the process that should run as executable (in the modeller select the "
        'process or pool and tick "Executable"; in the XML set isExecutable="true" on '
        "bpmn:process), or deploy this file together with the file that holds the executable "
        "process",
    )


def resolve_form_reference(
    bpmn_file: str, reference: str, bundle_files: Iterable[str]
) -> str | None:
    """The bundle file a form reference names, or None.

    A reference is looked up as written (relative to the bundle root) and then relative to the
    folder of the BPMN file that makes it, so `forms/x.json` beside `main.bpmn` and `x.json`
    beside `sub/child.bpmn` both resolve.
    """
    names = set(bundle_files)
    ref = reference.strip().replace("\\", "/")
    candidates = [posixpath.normpath(ref)]
    folder = posixpath.dirname(bpmn_file)
    if folder:
        candidates.append(posixpath.normpath(posixpath.join(folder, ref)))
    for candidate in candidates:
        if candidate in names:
            return candidate
    return None


def spiff_properties(element: etree._Element) -> dict[str, str]:
    """The `spiffworkflow:properties` of one element as a name -> value dict."""
    props: dict[str, str] = {}
    for prop in element.iterfind(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS
    ):
        if prop.get("name") is not None:
            props[prop.get("name")] = prop.get("value") or ""
    return props


class _Checker:
    """Collects the problems of one file; one method per rule."""

    def __init__(self, file_name: str, tree: etree._ElementTree, bundle_files: set[str]) -> None:
        self.file_name = file_name
        self.tree = tree
        self.root = tree.getroot()
        self.bundle_files = bundle_files
        self.problems: list[Problem] = []

    # -- helpers ---------------------------------------------------------------------------

    def add(self, el: etree._Element, message: str, hint: str, element: str | None = None) -> None:
        self.problems.append(
            Problem(
                message,
                file=self.file_name,
                element=element or self._owner_id(el),
                line=el.sourceline,
                hint=hint,
            )
        )

    @staticmethod
    def _owner_id(el: etree._Element) -> str | None:
        """The id of the flow element (or definition) an expression belongs to."""
        current: etree._Element | None = el
        while current is not None:
            if _is_bpmn(current) and current.get("id"):
                local = _local(current)
                if local in FLOW_NODE_TAGS or local in CONTAINER_TAGS or local in {
                    "sequenceFlow", "message", "signal", "error", "escalation",
                }:  # fmt: skip
                    return current.get("id")
            current = current.getparent()
        return element_id_at(el)

    def _sandbox(self, el: etree._Element, source: str, mode: str, what: str) -> list[str]:
        from engine.scripting import TOO_DEEP, TOO_LONG, check_source

        errors = check_source(source, mode)
        for err in errors:
            rule = err.removeprefix("Line 1: ")
            if rule.startswith((TOO_DEEP, TOO_LONG)):
                self.add(el, f"the {what} is {rule}", _SIMPLIFY_HINT)
            elif "SyntaxError" in err:
                self.add(el, f"{what} is not valid Python: {err}", _syntax_hint(what, mode))
            elif mode == "exec":
                self.add(el, f"script not allowed: {err}", _SANDBOX_HINT)
            else:
                self.add(el, f"{what} not allowed: {err}", _SANDBOX_HINT)
        return errors

    # -- rules -----------------------------------------------------------------------------

    def run(self) -> list[Problem]:
        self.check_data_stores()
        self.check_definition_expressions()
        for process in self.root.iterfind("bpmn:process", NS):
            if process.get("isExecutable") != "true":
                continue
            for el in process.iter():
                if not _is_bpmn(el):
                    continue
                local = _local(el)
                if local in FLOW_NODE_TAGS:
                    self.check_flow_node(el, local)
                if local in CONTAINER_TAGS:
                    self.check_container(el, local)
                if local in _REF_TARGETS:
                    self.check_reference(el, local)
                if local in ("dataInputAssociation", "dataOutputAssociation"):
                    self.check_data_association(el, local)
            if process.find("bpmn:startEvent", NS) is None:
                self.add(
                    process,
                    "the executable process has no start event",
                    "Add a start event and connect it to the first element",
                )
            self.check_process_expressions(process)
        return self.problems

    def check_data_stores(self) -> None:
        for store in self.root.iterfind(".//bpmn:dataStore", NS):
            self.add(
                store,
                "data stores are not supported: Kedja registers no data store implementation, "
                "and SpiffWorkflow refuses to load a file that declares one",
                "Remove the data store and its references; keep the data in process variables "
                "(task data) instead",
                element=store.get("id"),
            )

    def check_flow_node(self, el: etree._Element, local: str) -> None:
        if local not in supported_flow_nodes():
            self.add(
                el,
                f"bpmn:{local} is not supported: SpiffWorkflow 3.2.0 has no parser for it, so "
                "the engine would skip it or refuse the process",
                _FLOW_NODE_HINTS.get(
                    local,
                    "Replace it with a supported element (tasks, exclusive/inclusive/parallel/"
                    "event-based gateways, sub-processes, call activities, events)",
                ),
            )
            return
        parent = el.getparent()
        in_ad_hoc = parent is not None and _is_bpmn(parent, "adHocSubProcess")
        if in_ad_hoc and local not in ad_hoc_child_nodes():
            self.add(
                el,
                f"bpmn:{local} directly inside an ad-hoc sub-process is skipped by "
                "SpiffWorkflow 3.2.0 (its ad-hoc parser only knows the basic task kinds)",
                "Wrap it in a sub-process or call activity inside the ad-hoc sub-process",
            )
        if local in SUPPORTED_EVENT_DEFINITIONS:
            self.check_event_definitions(el, local)
        if local == "scriptTask":
            self.check_script_task(el)
        if local == "userTask":
            self.check_forms(el)
            self.check_assignment(el)
        if local == "startEvent" and any(p in spiff_properties(el) for p in FORM_PROPERTIES):
            self.check_start_form(el)
        if local == "eventBasedGateway":
            self.check_event_gateway(el)
        self.check_loops(el)
        if local == "serviceTask" and (
            el.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS) is None
        ):
            self.add(
                el,
                "service task has no operator (spiffworkflow:serviceTaskOperator); SpiffWorkflow "
                "cannot build a service task without one",
                "Use a script task or a user task, or configure a service task operator",
            )
        if local in ("subProcess", "transaction"):
            starts = el.findall("bpmn:startEvent", NS)
            if len(starts) != 1:
                self.add(
                    el,
                    f"a sub-process needs exactly one start event; this one has {len(starts)}",
                    "Give the sub-process one start event connected to its first element",
                )
            if el.find("bpmn:endEvent", NS) is None:
                self.add(
                    el,
                    "the sub-process has no end event",
                    "Add an end event after the sub-process's last element",
                )
        if local == "businessRuleTask":
            decision = el.findtext(
                "bpmn:extensionElements/spiffworkflow:calledDecisionId", None, NS
            )
            if not (decision or "").strip():
                self.add(
                    el,
                    "business rule task names no decision (spiffworkflow:calledDecisionId)",
                    "Select the DMN decision to call in the task's properties and include the "
                    ".dmn file in the bundle",
                )
        if local == "adHocSubProcess":
            if (el.get("ordering") or "").lower() == "sequential":
                self.add(
                    el,
                    'ad-hoc sub-process with ordering="Sequential": SpiffWorkflow 3.2.0 ignores '
                    "the ordering and would run it in parallel",
                    'Use ordering="Parallel", or model the sequence with sequence flows',
                )
            if el.get("cancelRemainingInstances") == "false":
                self.add(
                    el,
                    'cancelRemainingInstances="false" is ignored by SpiffWorkflow 3.2.0 '
                    "(remaining instances are always cancelled)",
                    "Remove the attribute or model the remaining work outside the ad-hoc "
                    "sub-process",
                )
        if (
            local == "startEvent"
            and _is_bpmn(parent, "subProcess")
            and parent.get("triggeredByEvent") == "true"
        ):
            self.check_event_subprocess_start(el)

    def check_event_gateway(self, el: etree._Element) -> None:
        """SpiffWorkflow keeps one timer value per waiting task, and an event-based gateway
        waits as one task: two timers behind it would overwrite each other."""
        process = el.getparent()
        targets = {
            flow.get("targetRef")
            for flow in process.iterfind("bpmn:sequenceFlow", NS)
            if flow.get("sourceRef") == el.get("id")
        }
        timers = [
            t
            for t in targets
            if process.find(f"bpmn:intermediateCatchEvent[@id='{t}']/bpmn:timerEventDefinition", NS)
            is not None
        ]
        if len(timers) > 1:
            self.add(
                el,
                f"the event-based gateway waits for {len(timers)} timers "
                f"({', '.join(sorted(timers))}); SpiffWorkflow 3.2.0 keeps only one timer per "
                "gateway",
                "Keep the earliest timer after the gateway and move the others to the branch",
            )

    def check_loops(self, el: etree._Element) -> None:
        multi = el.find("bpmn:multiInstanceLoopCharacteristics", NS)
        if multi is not None:
            given = [
                name
                for name in ("loopCardinality", "loopDataInputRef")
                if multi.find(f"bpmn:{name}", NS) is not None
            ]
            if len(given) != 1:
                self.add(
                    el,
                    "a multi-instance activity needs exactly one of loop cardinality or input "
                    f"collection (loopDataInputRef); it has {len(given) or 'neither'}"
                    + (f" ({', '.join(given)})" if given else ""),
                    "Set either the number of instances (loop cardinality) or the collection to "
                    "iterate over, not both",
                )
        loop = el.find("bpmn:standardLoopCharacteristics", NS)
        if loop is not None:
            maximum = loop.get("loopMaximum")
            if maximum is None and loop.find("bpmn:loopCondition", NS) is None:
                self.add(
                    el,
                    "a loop activity needs a loop condition or a loop maximum",
                    "Set a loop condition (a Python expression) or loopMaximum",
                )
            elif maximum is not None and not maximum.strip().isdigit():
                self.add(
                    el,
                    f"loopMaximum {maximum!r} is not a whole number",
                    "Set loopMaximum to a whole number such as 3",
                )

    def check_data_association(self, el: etree._Element, local: str) -> None:
        """SpiffWorkflow resolves a data object reference in the task's own (sub-)process and
        the one directly around it only; a reference it cannot resolve inside a sub-process
        makes its parser loop forever (3.2.0), so every reference is checked here first."""
        ref_el = el.find(
            "bpmn:sourceRef" if local == "dataInputAssociation" else "bpmn:targetRef", NS
        )
        ref = (ref_el.text or "").strip() if ref_el is not None else ""
        if not ref:
            return
        found = self.root.xpath(".//*[@id=$ref]", ref=ref)
        target = found[0] if found else None
        if target is None or not _is_bpmn(target, "dataObjectReference", "dataStoreReference"):
            kind = f"bpmn:{_local(target)}" if target is not None else "nothing"
            self.add(
                el,
                f"data association refers to {ref!r}, which is {kind}, not a data object reference",
                "Connect the association to a data object reference (or delete the association; "
                "task data flows to later tasks without it)",
            )
            return
        if _is_bpmn(target, "dataStoreReference"):
            self.add(
                el,
                f"data association uses data store reference {ref!r}; data stores are not "
                "supported",
                "Delete the association and keep the data in process variables",
            )
            return
        object_id = target.get("dataObjectRef")
        containers = []
        current = el.getparent()
        while current is not None and len(containers) < 2:
            if _is_bpmn(current) and _local(current) in CONTAINER_TAGS:
                containers.append(current)
            current = current.getparent()
        visible = {obj.get("id") for c in containers for obj in c.iterfind("bpmn:dataObject", NS)}
        if object_id not in visible:
            self.add(
                el,
                f"data object reference {ref!r} points to data object {object_id!r}, which is "
                "not defined in this (sub-)process or the one directly around it; SpiffWorkflow "
                "3.2.0 cannot resolve it (and would hang)",
                "Define the data object in the (sub-)process that uses it, or one level up",
            )

    def check_event_definitions(self, el: etree._Element, local: str) -> None:
        allowed = SUPPORTED_EVENT_DEFINITIONS[local]
        for child in el:
            if not _is_bpmn(child):
                continue
            name = _local(child)
            if name == "eventDefinitionRef":
                self.add(
                    el,
                    f"bpmn:{local} refers to a shared event definition (eventDefinitionRef), "
                    "which SpiffWorkflow 3.2.0 does not read: the event would have no trigger",
                    "Put the event definition inside the event itself",
                )
            elif name.endswith("EventDefinition"):
                kind = name.removesuffix("EventDefinition")
                if kind not in allowed:
                    self.add(
                        el,
                        f"{_article(kind)} {kind} {_event_label(local)} is not supported: "
                        f"SpiffWorkflow 3.2.0 ignores {kind} definitions on bpmn:{local} and "
                        "would treat it as a none event",
                        f"Supported on bpmn:{local}: {', '.join(sorted(allowed))}; change the "
                        "event type or model it differently",
                    )

    def check_event_subprocess_start(self, el: etree._Element) -> None:
        triggers = [c for c in el if _is_bpmn(c) and _local(c).endswith("EventDefinition")]
        if not triggers:
            self.add(
                el,
                "the start event of an event sub-process has no trigger; SpiffWorkflow 3.2.0 "
                "would start the event sub-process immediately with the process",
                "Give the start event a message, signal, timer or conditional definition",
            )
        if el.get("isInterrupting", "true") != "false":
            self.add(
                el,
                "interrupting event sub-process: SpiffWorkflow 3.2.0 ignores isInterrupting "
                "and runs event sub-processes without cancelling the rest of the process",
                'Make the start event non-interrupting (isInterrupting="false"), or model the '
                "interruption with an interrupting boundary event on a sub-process",
            )

    def check_container(self, container: etree._Element, local: str) -> None:
        nodes = {c.get("id"): c for c in container if _is_bpmn(c) and _local(c) in FLOW_NODE_TAGS}
        flows = [c for c in container if _is_bpmn(c, "sequenceFlow")]
        flow_by_id = {f.get("id"): f for f in flows}
        outgoing: dict[str, list[etree._Element]] = {}
        for flow in flows:
            source, target = flow.get("sourceRef"), flow.get("targetRef")
            for role, ref in (("source", source), ("target", target)):
                if ref not in nodes:
                    self.add(
                        flow,
                        f"sequence flow's {role} {ref!r} is not a flow node of the same "
                        "(sub-)process",
                        "Reconnect the sequence flow in the modeller; flows cannot cross "
                        "sub-process or pool borders (use message flows between pools)",
                    )
            outgoing.setdefault(source, []).append(flow)

        for node_id, node in nodes.items():
            kind = _local(node)
            out = outgoing.get(node_id, [])
            default = node.get("default")
            if default is not None:
                target = flow_by_id.get(default)
                if target is None or target.get("sourceRef") != node_id:
                    self.add(
                        node,
                        f"default flow {default!r} is not an outgoing sequence flow of this "
                        "element",
                        "Choose one of the element's outgoing flows as default in the modeller",
                    )
            if len(out) > 1 and kind not in MULTI_OUTGOING_TAGS:
                self.add(
                    node,
                    f"bpmn:{kind} has {len(out)} outgoing sequence flows; SpiffWorkflow 3.2.0 "
                    "supports several outgoing flows only on gateways and start events",
                    "Add a parallel gateway after the element to split (or an exclusive gateway "
                    "to choose)",
                )
            for flow in out:
                condition = flow.find("bpmn:conditionExpression", NS)
                if condition is not None and kind not in CONDITIONAL_SOURCES:
                    self.add(
                        flow,
                        f"conditional sequence flow out of bpmn:{kind}: SpiffWorkflow 3.2.0 "
                        "ignores the condition and would always take the flow",
                        "Put an exclusive (or inclusive) gateway after the element and move the "
                        "condition to the gateway's outgoing flow",
                    )
                if (
                    kind in CONDITIONAL_SOURCES
                    and len(out) > 1
                    and flow.get("id") != default
                    and (condition is None or not (condition.text or "").strip())
                ):
                    self.add(
                        flow,
                        f"flow out of bpmn:{kind} {node_id!r} has no condition and is not the "
                        "gateway's default flow",
                        "Give the flow a condition expression, or make it the gateway's default "
                        "flow",
                    )
        if local != "adHocSubProcess":
            self.check_reachable(container, nodes, outgoing)

    def check_reachable(
        self,
        container: etree._Element,
        nodes: dict[str, etree._Element],
        outgoing: dict[str, list[etree._Element]],
    ) -> None:
        """Flag nodes no path from a start event reaches: SpiffWorkflow never parses them."""
        seeds = [
            i
            for i, n in nodes.items()
            if _local(n) == "startEvent"
            or (_local(n) == "subProcess" and n.get("triggeredByEvent") == "true")
            or n.get("isForCompensation") == "true"
        ]
        boundary: dict[str, list[str]] = {}
        for i, n in nodes.items():
            if _local(n) == "boundaryEvent":
                boundary.setdefault(n.get("attachedToRef"), []).append(i)
        reached: set[str] = set()
        stack = list(seeds)
        while stack:
            node_id = stack.pop()
            if node_id in reached or node_id not in nodes:
                continue
            reached.add(node_id)
            stack.extend(f.get("targetRef") for f in outgoing.get(node_id, []))
            stack.extend(boundary.get(node_id, []))
        if not any(_local(nodes[s]) == "startEvent" for s in seeds):
            return  # no start event at all: SpiffWorkflow reports that itself
        for node_id, node in nodes.items():
            if node_id not in reached and _local(node) in supported_flow_nodes():
                self.add(
                    node,
                    f"bpmn:{_local(node)} is not reachable from a start event; SpiffWorkflow "
                    "3.2.0 builds a process by following sequence flows from its start events "
                    "and would never run this element",
                    "Connect it with a sequence flow from the preceding element, or delete it",
                )

    def check_reference(self, el: etree._Element, local: str) -> None:
        attribute, target_kind = _REF_TARGETS[local]
        ref = el.get(attribute)
        if not ref:
            return
        found = self.root.xpath(f".//bpmn:{target_kind}[@id=$ref]", namespaces=NS, ref=ref)
        if not found:
            self.add(
                el,
                f"{attribute} {ref!r} names no bpmn:{target_kind} in this file",
                f"Select an existing {target_kind} in the modeller (it must be defined in the "
                "same file)",
            )

    def check_script_task(self, el: etree._Element) -> None:
        fmt = el.get("scriptFormat")
        if fmt and fmt.strip().lower() not in _PYTHON_SCRIPT_FORMATS:
            self.add(
                el,
                f"scriptFormat {fmt!r}: Kedja runs scripts as Python only",
                'Rewrite the script in Python and set scriptFormat="python" (or remove it)',
            )
        script = el.find("bpmn:script", NS)
        text = script.text if script is not None else None
        if not (text or "").strip():
            self.add(
                el,
                "script task has no script",
                "Write the Python script in the task's script field, or use a plain task",
            )
            return
        self._sandbox(script, text, "exec", "script")

    def check_forms(self, el: etree._Element) -> None:
        props = spiff_properties(el)
        for name in FORM_PROPERTIES:
            ref = props.get(name)
            if ref is None:
                continue
            if not ref.strip():
                self.add(el, f"{name} is empty", "Name the form file or remove the property")
            elif resolve_form_reference(self.file_name, ref, self.bundle_files) is None:
                listed = ", ".join(sorted(n for n in self.bundle_files if n.endswith(".json")))
                self.add(
                    el,
                    f"form file {ref!r} ({name}) is not in the bundle",
                    "Add the file to the bundle or correct the name in the user task's "
                    f"properties (JSON files in the bundle: {listed or 'none'})",
                )

    def check_start_form(self, el: etree._Element) -> None:
        """A start form declares what a process takes when a person or an integration starts
        it (engine/form_contract.py); only a process's own plain start event has one."""
        parent = el.getparent()
        plain = len([c for c in el if etree.QName(c).localname.endswith("EventDefinition")]) == 0
        if parent is None or etree.QName(parent).localname != "process" or not plain:
            self.add(
                el,
                "only a process's plain (none) start event can have a start form",
                "Move the form to the process's start event, or to a user task after this event",
            )
            return
        self.check_forms(el)

    def check_assignment(self, el: etree._Element) -> None:
        """Who gets a user task, its due date and its priority are read when the task becomes
        ready; a mistake there would stop every case at that task, so it is found here."""
        for prop in el.iterfind(
            "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS
        ):
            name, value = prop.get("name"), prop.get("value") or ""
            if name == "priority" and not (
                re.fullmatch(r"[0-9]{1,3}", value.strip()) and int(value) <= 100
            ):
                self.add(
                    prop,
                    f"priority {value!r} is not a whole number from 0 to 100",
                    "Write a number from 0 (lowest) to 100 (highest), or remove the property "
                    "for the default, 50",
                )
            elif name in ASSIGNMENT_EXPRESSIONS and value.strip():
                self._sandbox(prop, value, "eval", name)

    def check_process_expressions(self, process: etree._Element) -> None:
        for script in process.iterfind(".//bpmn:extensionElements/spiffworkflow:preScript", NS):
            self._sandbox(script, script.text or "", "exec", "pre-script")
        for script in process.iterfind(".//bpmn:extensionElements/spiffworkflow:postScript", NS):
            self._sandbox(script, script.text or "", "exec", "post-script")
        expressions = (
            (".//bpmn:sequenceFlow/bpmn:conditionExpression", "condition"),
            (".//bpmn:multiInstanceLoopCharacteristics/bpmn:loopCardinality", "loop cardinality"),
            (
                ".//bpmn:multiInstanceLoopCharacteristics/bpmn:completionCondition",
                "completion condition",
            ),
            (".//bpmn:standardLoopCharacteristics/bpmn:loopCondition", "loop condition"),
            (".//bpmn:conditionalEventDefinition/bpmn:condition", "event condition"),
            (".//bpmn:adHocSubProcess/bpmn:completionCondition", "completion condition"),
        )
        for path, what in expressions:
            for el in process.iterfind(path, NS):
                self._sandbox(el, el.text or "", "eval", what)
        for el in process.iterfind(".//bpmn:timerEventDefinition/*", NS):
            if _local(el) in {"timeDate", "timeDuration", "timeCycle"}:
                self.check_timer(el)

    def check_definition_expressions(self) -> None:
        """Message payloads and correlation expressions live outside the processes."""
        paths = (
            (".//spiffworkflow:messagePayload", "message payload"),
            (".//spiffworkflow:payloadExpression", "payload expression"),
            (
                ".//spiffworkflow:processVariableCorrelation/spiffworkflow:expression",
                "correlation expression",
            ),
            (
                ".//bpmn:correlationPropertyRetrievalExpression/bpmn:formalExpression",
                "correlation expression",
            ),
        )
        for path, what in paths:
            for el in self.root.iterfind(path, NS):
                if (el.text or "").strip():
                    self._sandbox(el, el.text, "eval", what)

    def check_timer(self, el: etree._Element) -> None:
        text = (el.text or "").strip()
        what = f"timer expression ({_local(el)})"
        if not text:
            self.add(el, f"{what} is empty", _TIMER_HINT)
            return
        if ISO_8601_LITERAL.fullmatch(text):
            self.add(
                el,
                f"{what} {text} is a bare ISO-8601 value, but SpiffWorkflow evaluates timer "
                "expressions as Python",
                f'Write it as a quoted string: "{text}"',
            )
            return
        from engine.scripting import TOO_DEEP, TOO_LONG, check_source

        for err in check_source(text, "eval"):
            rule = err.removeprefix("Line 1: ")
            if rule.startswith((TOO_DEEP, TOO_LONG)):
                self.add(el, f"the {what} is {rule}", _SIMPLIFY_HINT)
            else:
                self.add(el, f"{what} not allowed: {err}", _TIMER_HINT)


def _syntax_hint(what: str, mode: str) -> str:
    if mode == "exec":
        return f"Kedja runs every {what} as Python; fix the syntax at the line named"
    return (
        f"Kedja evaluates every {what} as one Python expression (not JUEL ${{...}}, FEEL or "
        'XPath); write e.g. amount > 1000 or status == "approved", using task variable names'
    )


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _event_label(local: str) -> str:
    return {
        "startEvent": "start event",
        "endEvent": "end event",
        "intermediateCatchEvent": "intermediate catch event",
        "intermediateThrowEvent": "intermediate throw event",
        "boundaryEvent": "boundary event",
    }.get(local, local)


def check(file_name: str, tree: etree._ElementTree, bundle_files: set[str]) -> list[Problem]:
    """Run Kedja's rules on one parsed BPMN file; every problem found, in document order.

    `bundle_files` are the names of all files in the bundle, for checking form references.
    Only executable processes are checked for constructs, scripts and forms (the others are not
    deployed); data stores and message expressions are checked file-wide because they affect
    every process in the file.
    """
    problems = _Checker(file_name, tree, set(bundle_files)).run()
    return sorted(problems, key=lambda p: p.line or 0)


def check_service_operators(
    file_name: str, tree: etree._ElementTree, services: Services
) -> list[Problem]:
    """Every service task of an executable process names a registered operator and passes
    the parameters the operator declared (`engine.services.takes`)."""
    known = services.names()
    problems = []
    for pid in executable_process_ids(tree):
        process = tree.getroot().find(f"bpmn:process[@id='{pid}']", NS)
        if process is None:
            continue
        for el in process.iterfind(".//bpmn:serviceTask", NS):
            operator = el.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
            name = operator.get("id") if operator is not None else None
            if name is not None and name == el.get("id"):
                problems.append(
                    Problem(
                        f"the service task's id is the same as its operator's ({name!r}); "
                        "SpiffWorkflow then mistakes one for the other",
                        file=file_name,
                        element=el.get("id"),
                        line=el.sourceline,
                        hint=f"Give the task another id, for example 'Task_{name}'",
                    )
                )
            elif name is not None and name not in known:
                problems.append(
                    Problem(
                        f"service task calls operator {name!r}, which this installation does "
                        "not have",
                        file=file_name,
                        element=el.get("id"),
                        line=el.sourceline,
                        hint="Use one of: " + (", ".join(sorted(known)) or "(none registered)"),
                    )
                )
            elif name is not None and (declared := services.parameters(name)) is not None:
                ids = [
                    (p.get("id") or "").strip()
                    for p in operator.iterfind(
                        "spiffworkflow:parameters/spiffworkflow:parameter", NS
                    )
                ]
                found = declared.problems({i for i in ids if i})
                if "" in ids:
                    found.append(
                        ("one of its parameters has no name", "Name it; " + declared.describe())
                    )
                for what, hint in found:
                    problems.append(
                        Problem(
                            f"service task calls operator {name!r}, but {what}",
                            file=file_name,
                            element=el.get("id"),
                            line=el.sourceline,
                            hint=hint,
                        )
                    )
    return problems


def check_call_targets(
    file_name: str, tree: etree._ElementTree, process_ids: set[str]
) -> list[Problem]:
    """Call activities in executable processes must call an executable process of the bundle.

    SpiffWorkflow reports a missing called process without naming the calling element; this
    rule names it.
    """
    problems: list[Problem] = []
    for process in tree.getroot().iterfind("bpmn:process", NS):
        if process.get("isExecutable") != "true":
            continue
        for call in process.iterfind(".//bpmn:callActivity", NS):
            called = call.get("calledElement")
            if not called:
                problems.append(
                    Problem(
                        "call activity names no process to call (calledElement is empty)",
                        file=file_name,
                        element=call.get("id"),
                        line=call.sourceline,
                        hint="Set the called process id in the call activity's properties",
                    )
                )
            elif called not in process_ids:
                known = ", ".join(sorted(process_ids)) or "none"
                problems.append(
                    Problem(
                        f"call activity calls process {called!r}, which no file in the bundle "
                        'holds as an executable process (isExecutable="true")',
                        file=file_name,
                        element=call.get("id"),
                        line=call.sourceline,
                        hint="Add the BPMN file that holds the called process to the bundle, or "
                        f"correct calledElement (executable processes in the bundle: {known})",
                    )
                )
    return problems
