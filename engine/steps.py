"""One engine step = one transaction, from a wait state to the next.

Every change to a running instance goes through `StepRunner.run`: load the instance (or take it
from the in-process cache when the cached copy is the committed version), apply the change
(complete a task, deliver a message, fire a timer), let SpiffWorkflow run everything that needs
no person, then in the same transaction: cut the finished past (`pruning`), mirror human
tasks, message subscriptions and thrown messages, append the history, and save the state with
the instance row's version checked. A concurrent writer makes the version check fail and the
caller gets `Conflict`; nothing of the losing step is written.

When the automatic continuation fails (a script raises, a handler crashes, the database
write fails) the whole transaction rolls back, and a second transaction records the person's
own change without continuing, plus an incident with the message. The instance then waits at
that committed state until an administrator fixes the cause and retries; what a person
submitted is never lost because a diagram has a bug.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import messages, pruning
from .actors import Actor
from .clock import Clock, to_storage
from .database import Database
from .errors import Conflict, InvalidState, KedjaError, NotFound
from .history import History, PendingEvent
from .models import Incident, ProcessDefinition, ProcessInstance
from .serialization import SPIFF_STATE_VERSION, StateCodec
from .task_mirror import TaskPolicy, sync_tasks

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class StepContext:
    """What a change function gets: the open transaction and the loaded instance."""

    session: Session
    instance: ProcessInstance
    definition: ProcessDefinition
    workflow: BpmnWorkflow
    actor: Actor
    now: datetime
    events: list[PendingEvent] = field(default_factory=list)
    continue_engine: bool = True
    has_open_incident: bool = False
    queued_messages: int = 0
    new_subscriptions: bool = False

    def record(
        self,
        kind: str,
        data: dict[str, Any] | None = None,
        element_id: str | None = None,
        task_id: int | None = None,
        actor: str | None = None,
    ) -> None:
        self.events.append(
            PendingEvent(kind, actor or self.actor.id, data or {}, element_id, task_id)
        )


@dataclass
class StepOutcome:
    """The change's own result, and the incident if the continuation failed."""

    value: Any
    instance_id: int
    incident: str | None = None


class StepFailed(KedjaError):
    """The change itself could not be applied (for example a failing post-script)."""


class WorkflowCache:
    """Deserialized workflows of recently stepped instances, keyed by committed version.

    Loading a state costs more than running a typical step. An entry is taken out while a step
    uses it (so two threads never share a workflow object) and put back only after commit;
    any failure simply drops it and the next step loads from the database.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, instance_id: int, version: int) -> BpmnWorkflow | None:
        with self._lock:
            item = self._items.pop(instance_id, None)
        if item is not None and item[0] == version:
            return item[1]
        return None

    def put(self, instance_id: int, version: int, workflow: BpmnWorkflow) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._items[instance_id] = (version, workflow)
            self._items.move_to_end(instance_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, instance_id: int) -> None:
        with self._lock:
            self._items.pop(instance_id, None)


class StepRunner:
    def __init__(
        self,
        db: Database,
        codec: StateCodec,
        clock: Clock,
        history: History,
        policy: TaskPolicy,
        specs: Callable[[int], tuple[Any, dict[str, Any]]],
        script_engine: Any,
        cache_size: int = 256,
    ) -> None:
        self.db = db
        self.codec = codec
        self.clock = clock
        self.history = history
        self.policy = policy
        self.specs = specs
        self.script_engine = script_engine
        self.cache = WorkflowCache(cache_size)
        # Hooks run inside the transaction after the engine advanced; tests use them to
        # inject failures, the governance layer to add its own bookkeeping.
        self.after_advance: list[Callable[[StepContext], None]] = []
        self.after_commit: list[Callable[[StepContext], None]] = []

    # -- the unit of work -----------------------------------------------------------------

    def run(
        self,
        instance_id: int,
        change: Callable[[StepContext], T],
        actor: Actor,
        *,
        allow_suspended: bool = False,
        keep_on_failure: bool = True,
    ) -> StepOutcome:
        """Apply `change` and continue the instance, as one transaction.

        `keep_on_failure`: when the continuation fails, commit the change alone plus an
        incident (a person's completion); otherwise record only the incident.
        """
        try:
            return self._attempt(instance_id, change, actor, allow_suspended, advance=True)
        except (Conflict, NotFound, StepFailed):
            raise
        except _ContinuationError as failure:
            self.cache.drop(instance_id)
            return self._record_failure(
                instance_id, change, actor, failure, keep_on_failure, allow_suspended
            )

    def _attempt(
        self,
        instance_id: int,
        change: Callable[[StepContext], T],
        actor: Actor,
        allow_suspended: bool,
        advance: bool,
        incident: tuple[str | None, str] | None = None,
    ) -> StepOutcome:
        ctx: StepContext | None = None
        try:
            with self.db.write() as session:
                ctx = self._open(session, instance_id, actor)
                if ctx.instance.state in ("completed", "terminated"):
                    raise InvalidState(
                        f"Instance {instance_id} is {ctx.instance.state}; "
                        "nothing can change in it any more."
                    )
                if ctx.instance.state == "suspended" and not allow_suspended:
                    raise InvalidState(f"Instance {instance_id} is suspended; resume it first.")
                try:
                    value = change(ctx)
                except KedjaError:
                    raise
                except Exception as exc:
                    raise StepFailed(_describe(exc)) from exc
                try:
                    if advance and ctx.continue_engine and not ctx.has_open_incident:
                        self.advance(ctx)
                    if incident is not None:
                        self._add_incident(ctx, *incident)
                    self.finish(ctx)
                except (Conflict, StaleDataError, IntegrityError):
                    raise
                except Exception as exc:
                    raise _ContinuationError(exc) from exc
        except StaleDataError as exc:
            self.cache.drop(instance_id)
            raise Conflict(
                f"Instance {instance_id} was changed by someone else at the same time; "
                "nothing was saved. Reload and try again."
            ) from exc
        except IntegrityError as exc:
            self.cache.drop(instance_id)
            raise Conflict(
                f"Instance {instance_id} was changed concurrently ({exc.orig}); "
                "nothing was saved. Reload and try again."
            ) from exc
        except BaseException:
            self.cache.drop(instance_id)
            raise
        self.cache.put(instance_id, ctx.instance.version, ctx.workflow)
        for hook in self.after_commit:
            hook(ctx)
        return StepOutcome(value, instance_id, incident[1] if incident else None)

    def _record_failure(
        self,
        instance_id: int,
        change: Callable[[StepContext], Any],
        actor: Actor,
        failure: _ContinuationError,
        keep: bool,
        allow_suspended: bool,
    ) -> StepOutcome:
        element, message = failure.element, failure.message
        log.warning("instance %s: step failed at %s: %s", instance_id, element, message)
        if keep:
            try:
                return self._attempt(
                    instance_id,
                    change,
                    actor,
                    allow_suspended,
                    advance=False,
                    incident=(element, message),
                )
            except (Conflict, NotFound, StepFailed):
                raise
            except Exception:  # the change alone fails too: record just the incident
                log.exception(
                    "instance %s: could not save the change without continuing", instance_id
                )
        self._attempt(
            instance_id, lambda ctx: None, actor, True, advance=False, incident=(element, message)
        )
        return StepOutcome(None, instance_id, message)

    # -- pieces ---------------------------------------------------------------------------

    def _open(self, session: Session, instance_id: int, actor: Actor) -> StepContext:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound(f"There is no process instance {instance_id}.")
        definition = session.get(ProcessDefinition, instance.definition_id)
        workflow = self.cache.take(instance_id, instance.version)
        if workflow is None:
            workflow = self.load(instance)
        open_incident = session.scalar(
            select(Incident.id)
            .where(Incident.instance_id == instance_id, Incident.resolved_at.is_(None))
            .limit(1)
        )
        return StepContext(
            session,
            instance,
            definition,
            workflow,
            actor,
            self.clock.now(),
            has_open_incident=open_incident is not None,
        )

    def load(self, instance: ProcessInstance) -> BpmnWorkflow:
        spec, subprocess_specs = self.specs(instance.definition_id)
        return self.codec.load_state(
            instance.workflow_state,
            instance.serializer_version,
            spec,
            subprocess_specs,
            self.script_engine,
        )

    def advance(self, ctx: StepContext) -> None:
        """Run everything that needs no person, recording each element that completed."""

        def did_complete(task) -> None:  # type: ignore[no-untyped-def]
            spec = task.task_spec
            if spec.bpmn_id is not None:
                ctx.record(
                    "element.completed",
                    {"type": type(spec).__name__},
                    element_id=spec.bpmn_id,
                    actor="engine",
                )

        ctx.workflow.do_engine_steps(did_complete_task=did_complete)
        for hook in self.after_advance:
            hook(ctx)

    def finish(self, ctx: StepContext) -> None:
        """Bookkeeping and save, inside the step's transaction."""
        wf, instance, session = ctx.workflow, ctx.instance, ctx.session
        if instance.state == "running" and wf.is_completed():
            instance.state = "completed"
            instance.ended_at = to_storage(ctx.now)
            ctx.record("instance.completed", actor="engine")
        pruning.prune(wf)
        finished = instance.state in ("completed", "terminated")
        sync_tasks(
            session, instance, ctx.definition, wf, self.policy, ctx.now, ctx.events, "engine"
        )
        ctx.new_subscriptions = messages.sync_subscriptions(session, instance, wf, finished)
        ctx.queued_messages = messages.queue_thrown_messages(
            session, instance, wf, self.codec.dump_data, to_storage(ctx.now)
        )
        self.history.append_to_instance(session, instance, ctx.events, ctx.now)
        instance.workflow_state = self.codec.dump_state(wf)
        instance.serializer_version = SPIFF_STATE_VERSION
        session.flush()

    def _add_incident(self, ctx: StepContext, element: str | None, message: str) -> None:
        stored_now = to_storage(ctx.now)
        same = ctx.session.scalars(
            select(Incident).where(
                Incident.instance_id == ctx.instance.id,
                Incident.resolved_at.is_(None),
                Incident.element_id == element,
            )
        ).first()
        if same is not None:
            same.attempts += 1
            same.message = message
            same.last_failed_at = stored_now
            ctx.record(
                "incident.failed_again",
                {"incident": same.id, "message": message, "attempts": same.attempts},
                element_id=element,
                actor="engine",
            )
            return
        ctx.session.add(
            Incident(
                instance_id=ctx.instance.id,
                created_at=stored_now,
                element_id=element,
                message=message,
                attempts=1,
                last_failed_at=stored_now,
            )
        )
        ctx.record("incident.created", {"message": message}, element_id=element, actor="engine")


class _ContinuationError(Exception):
    """The engine's continuation failed; carries what the incident should say."""

    def __init__(self, exc: BaseException) -> None:
        self.element = _element_of(exc)
        self.message = _describe(exc)
        super().__init__(self.message)


def _element_of(exc: BaseException) -> str | None:
    task_spec = getattr(exc, "task_spec", None)
    if task_spec is not None:
        return getattr(task_spec, "bpmn_id", None) or getattr(task_spec, "name", None)
    task = getattr(exc, "task", None)
    if task is not None:
        return getattr(task.task_spec, "bpmn_id", None)
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SpiffWorkflowException):
        text = str(exc)
        element = _element_of(exc)
        if element and element not in text:
            text = f"{text} (element '{element}')"
        return text
    return f"{type(exc).__name__}: {exc}"
