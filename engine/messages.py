"""Messages between instances and from outside: who waits for what, and matching.

After every step an instance's waiting message catch events become `message_subscription`
rows, so finding the receiver of a message is an indexed lookup by name. Messages an instance
throws that nothing inside it catches go to `message_outbox` in the same transaction and are
delivered afterwards, each in the receiver's own step: a crash between the two loses nothing,
and a message sent before its receiver is ready waits in the outbox until it is.

Correlation: a catching event's correlation properties (BPMN `correlationProperty` with a
retrieval expression) decide which instance a message belongs to. The instance's value of a
property is the value already established by earlier messages (SpiffWorkflow's
`workflow.correlations`) or, before any exchange, the retrieval expression evaluated on the
instance's own data — so the prize instance for 2026 accepts nominations whose `year` is 2026.
The message's value is given by the caller or evaluated on its payload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.task import Task

from .models import MessageSubscription
from .step_sql import Tx


@dataclass(frozen=True)
class Subscription:
    message_name: str
    element_id: str
    values: dict[str, Any]
    expressions: dict[str, str]

    def key(self) -> tuple[str, str, str]:
        """What a `message_subscription` row holds: name, element, correlation JSON."""
        correlation = json.dumps(
            {"values": self.values, "expressions": self.expressions}, sort_keys=True, default=str
        )
        return self.message_name, self.element_id, correlation


def _evaluate(workflow: BpmnWorkflow, expression: str, context: dict[str, Any]) -> Any:
    try:
        return workflow.script_engine.environment.evaluate(expression, dict(context))
    except Exception:  # a property the data does not have yet: no value, no match on it
        return None


def message_definitions(spec: Any) -> list[MessageEventDefinition]:
    """The messages a waiting task catches: its own, or, for an event-based gateway (whose
    event definition is a `MultipleEventDefinition`), each message among the events it
    waits for."""
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, MessageEventDefinition):
        return [definition]
    if isinstance(definition, MultipleEventDefinition):
        return [d for d in definition.event_definitions if isinstance(d, MessageEventDefinition)]
    return []


def waiting_subscriptions(workflow: BpmnWorkflow) -> list[Subscription]:
    subs = []
    for task in workflow.event_manager.tasks.values():
        for definition in message_definitions(task.task_spec):
            subs.append(_subscription(workflow, task, definition))
    return subs


def _subscription(
    workflow: BpmnWorkflow, task: Task, definition: MessageEventDefinition
) -> Subscription:
    values, expressions = {}, {}
    for prop in definition.correlation_properties:
        expressions[prop.name] = prop.retrieval_expression
        established = None
        for key in prop.correlation_keys:
            established = task.workflow.correlations.get(key, {}).get(prop.name, established)
        value = (
            established
            if established is not None
            else _evaluate(workflow, prop.retrieval_expression, task.data)
        )
        if value is not None:
            values[prop.name] = value
    return Subscription(
        definition.name, task.task_spec.bpmn_id or task.task_spec.name, values, expressions
    )


def flatten_correlations(correlations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """SpiffWorkflow's {key: {property: value}} -> {property: value}."""
    flat: dict[str, Any] = {}
    for props in correlations.values():
        flat.update(props)
    return flat


INSERT_OUTBOX = """INSERT INTO message_outbox (source_instance_id, message_name, payload,
    correlation, created_at, attempts) VALUES (:source_instance_id, :message_name, :payload,
    :correlation, :created_at, 0)"""


def queue_thrown_messages(tx: Tx, instance_id: int, workflow: BpmnWorkflow, dump, now) -> int:  # type: ignore[no-untyped-def]
    """Move messages nobody inside the instance caught to the outbox; returns how many."""
    rows = [
        {
            "source_instance_id": instance_id,
            "message_name": event.event_definition.name,
            "payload": dump(event.payload or {}),
            "correlation": dump(flatten_correlations(event.correlations or {})),
            "created_at": now,
        }
        for event in workflow.get_events()
        if isinstance(event.event_definition, MessageEventDefinition)
    ]
    tx.executemany(INSERT_OUTBOX, rows)
    return len(rows)


def matches(
    row: MessageSubscription, correlation: dict[str, Any], payload: dict[str, Any], evaluate
) -> bool:  # type: ignore[no-untyped-def]
    """Does a message (explicit correlation values + payload) belong to this subscription?"""
    sub = json.loads(row.correlation)
    for prop, wanted in sub["values"].items():
        if prop in correlation:
            given = correlation[prop]
        else:
            given = evaluate(sub["expressions"].get(prop), payload)
        if given is None or str(given) != str(wanted):
            return False
    return True


def deliver(
    workflow: BpmnWorkflow,
    element_id: str,
    message_name: str,
    payload: dict[str, Any],
    correlation: dict[str, Any],
) -> Task:
    """Hand the message to the waiting task; SpiffWorkflow copies the payload into its data."""
    for task in list(workflow.event_manager.tasks.values()):
        if (task.task_spec.bpmn_id or task.task_spec.name) != element_id:
            continue
        for definition in message_definitions(task.task_spec):
            if definition.name != message_name:
                continue
            correlations: dict[str, dict[str, Any]] = {}
            for prop in definition.correlation_properties:
                value = correlation.get(prop.name)
                if value is None:
                    value = _evaluate(workflow, prop.retrieval_expression, payload)
                for key in prop.correlation_keys:
                    correlations.setdefault(key, {})[prop.name] = value
            event = BpmnEvent(definition, payload, correlations)
            task.task_spec.catch(task, event)
            task.task_spec._update(task)
            return task
    raise LookupError(f"no task waits for message '{message_name}' at '{element_id}'")
