"""Event-based gateways: the first of a message or a timer wins, and the other branch is
dropped. SpiffWorkflow folds the gateway's events into one waiting task, so Kedja must find
the timer and the message inside it (a gateway that deployed but never woke was a bug)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import Actor
from engine.errors import ValidationError

ADMIN = Actor("admin", admin=True)


def _gateway(timers: int = 1) -> str:
    extra = ""
    extra_flows = ""
    if timers > 1:
        extra = (
            '<bpmn:intermediateCatchEvent id="catch_t2"><bpmn:incoming>f6</bpmn:incoming>'
            '<bpmn:timerEventDefinition><bpmn:timeDuration>"PT2H"</bpmn:timeDuration>'
            "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        )
        extra_flows = '<bpmn:sequenceFlow id="f6" sourceRef="gw" targetRef="catch_t2"/>'
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
  targetNamespace="http://kedja.example/test">
  <bpmn:message id="msg_m" name="svar"/>
  <bpmn:process id="vanta" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:eventBasedGateway id="gw"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:eventBasedGateway>
    <bpmn:intermediateCatchEvent id="catch_m"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing><bpmn:messageEventDefinition messageRef="msg_m"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="catch_t"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f5</bpmn:outgoing><bpmn:timerEventDefinition>
      <bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    {extra}
    <bpmn:endEvent id="end_m"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_t"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw"/>
    <bpmn:sequenceFlow id="f2" sourceRef="gw" targetRef="catch_m"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="catch_t"/>
    <bpmn:sequenceFlow id="f4" sourceRef="catch_m" targetRef="end_m"/>
    <bpmn:sequenceFlow id="f5" sourceRef="catch_t" targetRef="end_t"/>
    {extra_flows}
  </bpmn:process>
</bpmn:definitions>"""


def _deploy(engine, tmp_path, xml: str) -> None:
    (tmp_path / "vanta.bpmn").write_text(xml, encoding="utf-8")
    engine.repository.deploy([tmp_path / "vanta.bpmn"], ADMIN)


def _ended_at(engine, instance_id: int) -> str:
    with engine.db.read() as session:
        events = engine.history.events(session, instance_id)
    ends = [e["element_id"] for e in events if e["element_id"] in ("end_m", "end_t")]
    assert len(ends) == 1
    return ends[0]


def test_message_before_the_timer_takes_the_message_branch(engine, clock, tmp_path):
    _deploy(engine, tmp_path, _gateway())
    iid = engine.runtime.start("vanta", {}, ADMIN).instance_id
    assert [t["element_id"] for t in engine.timers.waiting(iid)] == ["gw"]
    clock.advance(timedelta(minutes=30))
    assert engine.runtime.correlate("svar", {"ok": True}) == iid
    assert engine.runtime.get(iid).state == "completed"
    assert _ended_at(engine, iid) == "end_m"
    assert engine.timers.waiting(iid) == []


def test_timer_before_the_message_takes_the_timer_branch(engine, clock, tmp_path):
    _deploy(engine, tmp_path, _gateway())
    iid = engine.runtime.start("vanta", {}, ADMIN).instance_id
    clock.advance(timedelta(hours=2))
    assert len(engine.timers.fire_due()) == 1
    assert engine.runtime.get(iid).state == "completed"
    assert _ended_at(engine, iid) == "end_t"


def test_two_timers_behind_one_gateway_are_refused_at_deploy(engine, tmp_path):
    with pytest.raises(ValidationError) as err:
        _deploy(engine, tmp_path, _gateway(timers=2))
    assert any(p.element == "gw" and "timers" in p.message for p in err.value.problems)
