"""Service tasks call host functions by name; the names and parameters are checked at deploy.

A parameter is an expression in the diagram. Without a check, a misspelt or forgotten one
shows up only when a case reaches the task, perhaps months after the deploy, as an incident.
Services declare what they take (`engine.services.takes`), and the deploy refuses a service
task that leaves out a required parameter or passes one the service does not take.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine import Actor, Engine
from engine.bundle import Bundle
from engine.errors import ValidationError
from engine.services import Parameters, ServiceCall, Services, takes

ADMIN = Actor("owner", admin=True)


@takes("year", optional=("winner",))
def announce(call: ServiceCall) -> dict[str, Any]:
    return {"text": f"{call.params['year']}: {call.params.get('winner') or 'nobody'}"}


def free_form(call: ServiceCall) -> dict[str, Any]:  # declares nothing: not checked
    return {"got": sorted(call.params)}


def diagram(operator: str, **parameters: str) -> bytes:
    params = "".join(
        f'<spiffworkflow:parameter id="{name}" type="any" value="{value}"/>'
        for name, value in parameters.items()
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs" targetNamespace="http://example.org/kedja">
  <bpmn:process id="svc" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call_it"/>
    <bpmn:serviceTask id="call_it" name="Call it">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="result">
          <spiffworkflow:parameters>{params}</spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="call_it" targetRef="look"/>
    <bpmn:manualTask id="look" name="Look"/>
    <bpmn:sequenceFlow id="f3" sourceRef="look" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


@pytest.fixture
def engine(db_url, clock):  # type: ignore[no-untyped-def]
    eng = Engine(db_url, clock, services={"announce": announce, "free_form": free_form})
    yield eng
    eng.close()


def deploy(engine: Engine, xml: bytes) -> None:
    engine.repository.deploy(Bundle.from_files({"svc.bpmn": xml}), ADMIN)


def refusal(engine: Engine, xml: bytes) -> Any:
    with pytest.raises(ValidationError) as caught:
        deploy(engine, xml)
    (problem,) = caught.value.problems
    return problem


def test_a_declared_service_runs_with_its_parameters(engine: Engine) -> None:
    deploy(engine, diagram("announce", year="2026", winner="'Farsta'"))
    (task_id,) = engine.runtime.start("svc", {}, ADMIN).created_tasks
    assert engine.tasks.data(task_id)["result"] == {"text": "2026: Farsta"}


def test_an_optional_parameter_may_be_left_out(engine: Engine) -> None:
    deploy(engine, diagram("announce", year="2026"))
    (task_id,) = engine.runtime.start("svc", {}, ADMIN).created_tasks
    assert engine.tasks.data(task_id)["result"] == {"text": "2026: nobody"}


def test_a_missing_required_parameter_is_refused_at_deploy(engine: Engine) -> None:
    problem = refusal(engine, diagram("announce", winner="'Farsta'"))
    assert problem.element == "call_it" and problem.file == "svc.bpmn" and problem.line
    assert problem.message == (
        "service task calls operator 'announce', but it leaves out parameter 'year'"
    )
    assert problem.hint == "Add it; it needs year and may take winner"
    assert engine.repository.definitions() == []  # nothing stored


def test_a_parameter_the_service_does_not_take_is_refused(engine: Engine) -> None:
    problem = refusal(engine, diagram("announce", year="2026", winnr="'Farsta'"))
    assert problem.element == "call_it"
    assert "passes parameter 'winnr', which the operator does not take" in problem.message
    assert problem.hint == "Remove it or correct its name; it needs year and may take winner"


def test_a_parameter_without_a_name_is_refused_not_a_crash(engine: Engine) -> None:
    xml = diagram("announce", year="2026").replace(
        b'<spiffworkflow:parameter id="year"',
        b'<spiffworkflow:parameter id="year" type="any" value="1"/><spiffworkflow:parameter',
    )
    problem = refusal(engine, xml)
    assert problem.element == "call_it"
    assert problem.message.endswith("but one of its parameters has no name")


def test_an_unknown_operator_is_refused(engine: Engine) -> None:
    problem = refusal(engine, diagram("anounce", year="2026"))
    assert problem.element == "call_it"
    assert "operator 'anounce', which this installation does not have" in problem.message
    assert problem.hint == "Use one of: announce, free_form"


def test_a_service_that_declares_nothing_is_not_checked(engine: Engine) -> None:
    deploy(engine, diagram("free_form", anything="1", at_all="2"))
    (task_id,) = engine.runtime.start("svc", {}, ADMIN).created_tasks
    assert engine.tasks.data(task_id)["result"] == {"got": ["anything", "at_all"]}


def test_a_call_without_a_required_parameter_says_which() -> None:
    """A diagram deployed before the service declared its parameters still gets a clear
    error (and so an incident naming it), not a KeyError from inside the service."""
    services = Services({"announce": announce})
    with pytest.raises(LookupError, match="called without year; it needs year"):
        services.call(object(), "announce", {"winner": "x"})


def test_how_parameters_are_described() -> None:
    assert Parameters().describe() == "the operator takes no parameters"
    assert Parameters(optional=("a", "b")).describe() == "it may take a, b"
    assert Parameters(("a",)).problems({"a"}) == []
    assert Parameters(("a",)).problems(set()) == [
        ("it leaves out parameter 'a'", "Add it; it needs a")
    ]
