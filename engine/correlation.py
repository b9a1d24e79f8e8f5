"""Messages from outside and between instances: find the one receiver, or the process a
message starts, and deliver in a step.

A message names its receiver by correlation: the values it carries (explicitly, or read
from its payload by the correlation property's retrieval expression) must match what the
waiting instance established. One receiver or none; several is an error, never a guess. A
message thrown by an instance waits in the outbox until its receiver waits (`deliver_pending`,
after every step that made one deliverable). The payload lands only in the receiving event's
message variable (SpiffWorkflow's spiff flavour), so a message cannot set a process variable
the process did not name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from . import messages
from .actors import Actor, system_actor
from .database import Database
from .errors import Conflict, DamagedState, NotFound
from .models import MessageOutbox, MessageSubscription
from .serialization import StateCodec
from .steps import NewInstance, StepContext, StepOutcome, StepRunner


class MessageCorrelation:
    """The message verbs of `Runtime` (engine/runtime.py), which provides the step."""

    db: Database
    codec: StateCodec
    repository: Any
    steps: StepRunner
    _run: Callable[..., StepOutcome]  # Runtime._run: a step, then delivery of what it made

    def correlate(
        self,
        message_name: str,
        payload: dict[str, Any] | None = None,
        correlation: dict[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> int:
        """Deliver a message to the one instance waiting for it, or start the process whose
        start event it is. Returns the instance id. Ambiguity is an error, not a guess."""
        actor = actor or system_actor()
        payload, correlation = payload or {}, correlation or {}
        target = self._find_receiver(message_name, payload, correlation)
        if target is not None:
            instance_id, element_id = target
            self._deliver(instance_id, element_id, message_name, payload, correlation, actor)
            return instance_id
        starters = self.repository.start_message_definitions(message_name)
        if len(starters) == 1:
            definition = starters[0]
            instance_id = self._run(
                NewInstance(definition.key, definition.version, {}, None), lambda ctx: None, actor
            ).instance_id  # at the start event
            self._deliver(instance_id, None, message_name, payload, correlation, actor)
            return instance_id
        if len(starters) > 1:
            raise Conflict(
                f"Message '{message_name}' starts several processes "
                f"({', '.join(d.key for d in starters)}); Kedja will not guess."
            )
        waiting = self._waiting_values(message_name)
        if waiting:
            raise NotFound(
                f"{len(waiting)} instance(s) wait for message '{message_name}', but none "
                f"matches its correlation (the message gives {correlation or payload}; they "
                f"expect {'; '.join(waiting[:5])}). Check the correlation values."
            )
        where = f" with correlation {correlation}" if correlation else ""
        raise NotFound(
            f"No instance is waiting for message '{message_name}'{where}, and no "
            "deployed process starts with it. Check the message name and the "
            "correlation values."
        )

    def _find_receiver(
        self, message_name: str, payload: dict[str, Any], correlation: dict[str, Any]
    ) -> tuple[int, str] | None:
        environment = self.steps.script_engine.environment

        def evaluate(expression: str | None, context: dict[str, Any]) -> Any:
            if not expression:
                return None
            try:
                return environment.evaluate(expression, dict(context))
            except Exception:
                return None

        with self.db.read() as session:
            rows = session.scalars(
                select(MessageSubscription)
                .where(MessageSubscription.message_name == message_name)
                .order_by(MessageSubscription.id)
            ).all()
            hits = [r for r in rows if messages.matches(r, correlation, payload, evaluate)]
        instances = sorted({r.instance_id for r in hits})
        if len(instances) > 1:
            raise Conflict(
                f"{len(instances)} instances ({', '.join(map(str, instances))}) wait "
                f"for message '{message_name}' and the correlation does not single "
                "one out; give correlation values that identify the receiver."
            )
        return (hits[0].instance_id, hits[0].element_id) if hits else None

    def _waiting_values(self, message_name: str) -> list[str]:
        with self.db.read() as session:
            rows = session.scalars(
                select(MessageSubscription).where(MessageSubscription.message_name == message_name)
            ).all()
        return [f"instance {r.instance_id}: {json.loads(r.correlation)['values']}" for r in rows]

    def _deliver(
        self,
        instance_id: int,
        element_id: str | None,
        message_name: str,
        payload: dict[str, Any],
        correlation: dict[str, Any],
        actor: Actor,
    ) -> None:
        def change(ctx: StepContext) -> None:
            target = element_id
            if target is None:  # a message start event: the only waiting subscription
                subs = messages.waiting_subscriptions(ctx.workflow)
                target = next(s.element_id for s in subs if s.message_name == message_name)
            messages.deliver(ctx.workflow, target, message_name, payload, correlation)
            ctx.record(
                "message.received",
                {"name": message_name, "payload": payload, "correlation": correlation},
                element_id=target,
            )

        self._run(instance_id, change, actor)

    def deliver_pending(self, limit: int = 100) -> int:
        """Deliver queued messages whose receiver now waits; returns how many went out."""
        delivered = 0
        with self.db.read() as session:
            pending = session.scalars(
                select(MessageOutbox).order_by(MessageOutbox.id).limit(limit)
            ).all()
        for message in pending:
            payload = self.codec.load_data(message.payload) or {}
            correlation = self.codec.load_data(message.correlation) or {}
            try:
                target = self._find_receiver(message.message_name, payload, correlation)
            except Conflict as exc:
                self._note_outbox_error(message.id, str(exc))
                continue
            if target is None:
                continue
            instance_id, element_id = target

            def change(
                ctx: StepContext,
                message_id=message.id,
                element_id=element_id,
                payload=payload,
                correlation=correlation,
                name=message.message_name,
                source=message.source_instance_id,
            ) -> None:
                taken = ctx.sql.execute(
                    "DELETE FROM message_outbox WHERE id = :id", {"id": message_id}
                )
                if taken != 1:  # delivered by another process meanwhile
                    ctx.continue_engine = False
                    return
                messages.deliver(ctx.workflow, element_id, name, payload, correlation)
                ctx.record(
                    "message.received",
                    {"name": name, "payload": payload, "from_instance": source},
                    element_id=element_id,
                )

            try:
                self._run(instance_id, change, system_actor())
                delivered += 1
            except Conflict:
                continue
            except DamagedState as exc:  # kept, with why; the other messages go out
                self._note_outbox_error(message.id, str(exc))
        return delivered

    def _note_outbox_error(self, message_id: int, error: str) -> None:
        with self.db.write() as session:
            row = session.get(MessageOutbox, message_id)
            if row is not None:
                row.attempts += 1
                row.last_error = error
