"""Small BPMN diagrams for tests and benchmarks, built in code so each test shows its process.

`Diagram` writes valid BPMN 2.0 with diagram layout (every element gets a shape, every flow
an edge), lanes, SpiffArena-style form properties, messages with correlation, scripts and
call activities. It is test scaffolding, not a modelling API.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
    'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
)


@dataclass
class _Node:
    id: str
    tag: str
    name: str | None = None
    body: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    lane: str | None = None


@dataclass
class Diagram:
    process_id: str
    name: str | None = None
    nodes: list[_Node] = field(default_factory=list)
    flows: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)  # id -> name
    correlations: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    extra_definitions: str = ""
    forms: dict[str, str] = field(default_factory=dict)  # file name -> JSON Schema text

    def _add(self, node: _Node) -> Diagram:
        self.nodes.append(node)
        return self

    # -- elements -------------------------------------------------------------------------

    def start(
        self,
        id: str = "start",
        message: str | None = None,
        timer: str | None = None,
        kind: str = "timeDate",
    ) -> Diagram:
        body = ""
        if message:
            body = f'<bpmn:messageEventDefinition messageRef="{self._msg(message)}"/>'
        if timer:
            body = _timer(timer, kind)
        return self._add(_Node(id, "startEvent", body=body))

    def end(
        self,
        id: str = "end",
        message: str | None = None,
        payload: str | None = None,
        terminate: bool = False,
    ) -> Diagram:
        body = ""
        if message:
            body = self._message_def(message, payload=payload)
        if terminate:
            body = "<bpmn:terminateEventDefinition/>"
        return self._add(_Node(id, "endEvent", body=body))

    def user(
        self,
        id: str,
        name: str | None = None,
        lane: str | None = None,
        form: str | None = None,
        takes: tuple[str, ...] = (),
        **properties: str,
    ) -> Diagram:
        """A user task; `takes` gives it a form declaring those fields (any value), written
        beside the diagram by `write` and the `deploy` fixture: a task without a form takes
        no data (engine/form_contract.py)."""
        props = dict(properties)
        if takes and not form:
            form = f"{id}.schema.json"
            self.forms[form] = json.dumps(
                {"type": "object", "properties": {name: {} for name in takes}}
            )
        if form:
            props["formJsonSchemaFilename"] = form
        body = ""
        if props:
            items = "".join(
                f"<spiffworkflow:property name={quoteattr(k)} value={quoteattr(v)}/>"
                for k, v in props.items()
            )
            body = (
                "<bpmn:extensionElements><spiffworkflow:properties>"
                + items
                + "</spiffworkflow:properties></bpmn:extensionElements>"
            )
        return self._add(_Node(id, "userTask", name or id, body, lane=lane))

    def manual(self, id: str, name: str | None = None, lane: str | None = None) -> Diagram:
        return self._add(_Node(id, "manualTask", name or id, lane=lane))

    def script(
        self, id: str, script: str, name: str | None = None, lane: str | None = None
    ) -> Diagram:
        return self._add(
            _Node(
                id,
                "scriptTask",
                name or id,
                f"<bpmn:script>{escape(script)}</bpmn:script>",
                lane=lane,
            )
        )

    def xor(self, id: str, default: str | None = None) -> Diagram:
        attrs = {"default": default} if default else {}
        return self._add(_Node(id, "exclusiveGateway", attrs=attrs))

    def parallel(self, id: str) -> Diagram:
        return self._add(_Node(id, "parallelGateway"))

    def call(self, id: str, called: str, name: str | None = None) -> Diagram:
        return self._add(_Node(id, "callActivity", name or id, attrs={"calledElement": called}))

    def catch_message(self, id: str, message: str, variable: str | None = None) -> Diagram:
        return self._add(
            _Node(id, "intermediateCatchEvent", body=self._message_def(message, variable=variable))
        )

    def throw_message(self, id: str, message: str, payload: str) -> Diagram:
        return self._add(
            _Node(id, "intermediateThrowEvent", body=self._message_def(message, payload=payload))
        )

    def timer(self, id: str, expression: str, kind: str = "timeDuration") -> Diagram:
        return self._add(_Node(id, "intermediateCatchEvent", body=_timer(expression, kind)))

    def boundary_timer(
        self,
        id: str,
        attached_to: str,
        expression: str,
        kind: str = "timeDuration",
        interrupting: bool = True,
    ) -> Diagram:
        attrs = {"attachedToRef": attached_to}
        if not interrupting:
            attrs["cancelActivity"] = "false"
        return self._add(_Node(id, "boundaryEvent", body=_timer(expression, kind), attrs=attrs))

    def flow(
        self, source: str, target: str, condition: str | None = None, id: str | None = None
    ) -> Diagram:
        self.flows.append((id or f"flow_{source}_{target}", source, target, condition))
        return self

    def chain(self, *ids: str) -> Diagram:
        for a, b in itertools.pairwise(ids):
            self.flow(a, b)
        return self

    def correlate(self, message: str, prop: str, expression: str) -> Diagram:
        """Give `message` a correlation property `prop` read by `expression`."""
        self.correlations.setdefault(prop, (prop, {}))[1][self._msg(message)] = expression
        return self

    def files(self) -> dict[str, bytes]:
        """The diagram and the forms `takes` made, as a bundle's files (`Bundle.from_files`)."""
        return {
            f"{self.process_id}.bpmn": self.xml().encode(),
            **{name: text.encode() for name, text in self.forms.items()},
        }

    def write(self, folder: Path) -> Path:
        """The diagram as `<process id>.bpmn` in `folder`, with the forms `takes` made."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.files().items():
            (folder / name).write_bytes(data)
        return folder / f"{self.process_id}.bpmn"

    # -- helpers --------------------------------------------------------------------------

    def _msg(self, name: str) -> str:
        msg_id = "msg_" + "".join(c if c.isalnum() else "_" for c in name)
        self.messages[msg_id] = name
        return msg_id

    def _message_def(
        self, message: str, payload: str | None = None, variable: str | None = None
    ) -> str:
        ext = ""
        if payload:
            ext += f"<spiffworkflow:messagePayload>{escape(payload)}</spiffworkflow:messagePayload>"
        if variable:
            ext += f"<spiffworkflow:messageVariable>{variable}</spiffworkflow:messageVariable>"
        inner = f"<bpmn:extensionElements>{ext}</bpmn:extensionElements>" if ext else ""
        return (
            f'<bpmn:messageEventDefinition messageRef="{self._msg(message)}">{inner}'
            "</bpmn:messageEventDefinition>"
        )

    def xml(self) -> str:
        incoming: dict[str, list[str]] = {}
        outgoing: dict[str, list[str]] = {}
        for fid, s, t, _c in self.flows:
            outgoing.setdefault(s, []).append(fid)
            incoming.setdefault(t, []).append(fid)
        lanes = sorted({n.lane for n in self.nodes if n.lane})
        parts = []
        if lanes:
            parts.append('<bpmn:laneSet id="laneset">')
            for lane in lanes:
                refs = "".join(
                    f"<bpmn:flowNodeRef>{n.id}</bpmn:flowNodeRef>"
                    for n in self.nodes
                    if n.lane == lane or (n.lane is None and lane == lanes[0])
                )
                parts.append(
                    f'<bpmn:lane id="lane_{_slug(lane)}" name={quoteattr(lane)}>{refs}</bpmn:lane>'
                )
            parts.append("</bpmn:laneSet>")
        for n in self.nodes:
            attrs = "".join(f" {k}={quoteattr(v)}" for k, v in n.attrs.items())
            name = f" name={quoteattr(n.name)}" if n.name else ""
            ext = ""
            body = n.body
            if body.startswith("<bpmn:extensionElements>"):
                cut = body.index("</bpmn:extensionElements>") + len("</bpmn:extensionElements>")
                ext, body = body[:cut], body[cut:]
            ins = "".join(f"<bpmn:incoming>{f}</bpmn:incoming>" for f in incoming.get(n.id, []))
            outs = "".join(f"<bpmn:outgoing>{f}</bpmn:outgoing>" for f in outgoing.get(n.id, []))
            # BPMN's sequence: extensionElements, incoming, outgoing, then the rest.
            if n.tag == "scriptTask":
                parts.append(
                    f'<bpmn:{n.tag} id="{n.id}"{name}{attrs}>{ext}{ins}{outs}{body}</bpmn:{n.tag}>'
                )
            else:
                parts.append(
                    f'<bpmn:{n.tag} id="{n.id}"{name}{attrs}>{ext}{ins}{outs}{body}</bpmn:{n.tag}>'
                )
        for fid, s, t, cond in self.flows:
            c = (
                (
                    f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" '
                    f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{escape(cond)}'
                    "</bpmn:conditionExpression>"
                )
                if cond
                else ""
            )
            parts.append(
                f'<bpmn:sequenceFlow id="{fid}" sourceRef="{s}" targetRef="{t}">{c}'
                "</bpmn:sequenceFlow>"
            )
        process = (
            f'<bpmn:process id="{self.process_id}" isExecutable="true"'
            + (f" name={quoteattr(self.name)}" if self.name else "")
            + ">"
            + "".join(parts)
            + "</bpmn:process>"
        )
        defs = []
        if self.correlations:
            keys = "".join(
                f"<bpmn:correlationPropertyRef>{p}</bpmn:correlationPropertyRef>"
                for p in self.correlations
            )
            defs.append(
                f'<bpmn:collaboration id="collab_{self.process_id}">'
                f'<bpmn:correlationKey name="main">{keys}</bpmn:correlationKey>'
                "</bpmn:collaboration>"
            )
        for mid, mname in self.messages.items():
            defs.append(f'<bpmn:message id="{mid}" name={quoteattr(mname)}/>')
        for prop, (pname, exprs) in self.correlations.items():
            rex = "".join(
                f'<bpmn:correlationPropertyRetrievalExpression messageRef="{m}">'
                f"<bpmn:formalExpression>{escape(e)}</bpmn:formalExpression>"
                "</bpmn:correlationPropertyRetrievalExpression>"
                for m, e in exprs.items()
            )
            defs.append(
                f'<bpmn:correlationProperty id="{prop}" name="{pname}">{rex}'
                "</bpmn:correlationProperty>"
            )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NS} '
            f'id="defs_{self.process_id}" targetNamespace="http://kedja.example/test">'
            + "".join(defs)
            + process
            + self._di(lanes)
            + self.extra_definitions
            + "</bpmn:definitions>"
        )

    def _di(self, lanes: list[str]) -> str:
        pos = {}
        shapes = []
        for i, n in enumerate(self.nodes):
            lane_index = lanes.index(n.lane) if n.lane in lanes else 0
            x, y = 100 + i * 160, 80 + lane_index * 200
            small = n.tag.endswith("Event") or n.tag.endswith("Gateway")
            w, h = (36, 36) if small else (100, 80)
            pos[n.id] = (x, y, w, h)
            shapes.append(
                f'<bpmndi:BPMNShape id="{n.id}_di" bpmnElement="{n.id}">'
                f'<dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}"/>'
                "</bpmndi:BPMNShape>"
            )
        for i, lane in enumerate(lanes):
            shapes.append(
                f'<bpmndi:BPMNShape id="lane_{_slug(lane)}_di" '
                f'bpmnElement="lane_{_slug(lane)}" isHorizontal="true">'
                f'<dc:Bounds x="50" y="{40 + i * 200}" '
                f'width="{200 + 160 * len(self.nodes)}" height="200"/>'
                "</bpmndi:BPMNShape>"
            )
        for fid, s, t, _c in self.flows:
            sx, sy, sw, sh = pos[s]
            tx, ty, _tw, th = pos[t]
            shapes.append(
                f'<bpmndi:BPMNEdge id="{fid}_di" bpmnElement="{fid}">'
                f'<di:waypoint x="{sx + sw}" y="{sy + sh // 2}"/>'
                f'<di:waypoint x="{tx}" y="{ty + th // 2}"/></bpmndi:BPMNEdge>'
            )
        return (
            f'<bpmndi:BPMNDiagram id="diagram_{self.process_id}">'
            f'<bpmndi:BPMNPlane id="plane_{self.process_id}" '
            f'bpmnElement="{self.process_id}">'
            + "".join(shapes)
            + "</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>"
        )


def _timer(expression: str, kind: str) -> str:
    return (
        f"<bpmn:timerEventDefinition><bpmn:{kind}>{escape(expression)}</bpmn:{kind}>"
        "</bpmn:timerEventDefinition>"
    )


def _timer(expression: str, kind: str) -> str:
    return (
        f"<bpmn:timerEventDefinition><bpmn:{kind}>{escape(expression)}</bpmn:{kind}>"
        "</bpmn:timerEventDefinition>"
    )


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


# -- ready-made processes -----------------------------------------------------------------


def linear(
    process_id: str, n: int, form: str | None = None, takes: tuple[str, ...] = ()
) -> Diagram:
    """start -> task_1 … task_n -> end; `form` names task_1's form, `takes` gives every task
    a form with those fields."""
    d = Diagram(process_id).start()
    ids = ["start"]
    for i in range(1, n + 1):
        d.user(f"task_{i}", f"Task {i}", form=form if i == 1 else None, takes=takes)
        ids.append(f"task_{i}")
    d.end()
    return d.chain(*ids, "end")


def loop(process_id: str, with_parallel: bool = False) -> Diagram:
    """report -> count += 1 -> (count < rounds ? back : end): a tertial loop in miniature.
    The report takes a `status`."""
    d = Diagram(process_id).start()
    d.script("init", "count = 0")
    d.user("report", "Report", takes=("status",))
    d.script("tally", "count = count + 1")
    d.xor("more", default="flow_more_end")
    d.end()
    d.chain("start", "init", "report")
    if with_parallel:
        d.parallel("split").user("branch_a", "Branch A").user("branch_b", "Branch B")
        d.parallel("join")
        d.flow("report", "split").flow("split", "branch_a").flow("split", "branch_b")
        d.flow("branch_a", "join").flow("branch_b", "join").flow("join", "tally")
    else:
        d.flow("report", "tally")
    d.flow("tally", "more")
    d.flow("more", "report", condition="count < rounds", id="flow_more_back")
    d.flow("more", "end", id="flow_more_end")
    return d
