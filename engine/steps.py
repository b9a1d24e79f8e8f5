"""One engine step = one transaction, from a wait state to the next.

Every change to a running instance goes through `StepRunner.run`: load the instance (or take it
from the in-process cache when the cached copy is the committed version), apply the change
(complete a task, deliver a message, fire a timer), let SpiffWorkflow run everything that needs
no person, then in the same transaction: cut the finished past (`pruning`), mirror human
tasks, message subscriptions and thrown messages, append the history, and save the state with
`UPDATE ... WHERE version = <version read>`. A concurrent writer makes that update match no
row and the caller gets `Conflict`; nothing of the losing step is written.

When the automatic continuation fails (a script raises, a handler crashes, the database
write fails) the whole transaction rolls back, and a second transaction records the person's
own change without continuing, plus an incident with the message. The instance then waits at
that committed state until an administrator fixes the cause and retries; what a person
submitted is never lost because a diagram has a bug.

The step is the engine's hot path, so it speaks SQLAlchemy Core with prepared statements and
keeps, next to each cached workflow, what it knows the database holds for it (the instance
row's head, the open task rows, the subscriptions); a cached copy is trusted only as far as the
final versioned update confirms it.
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
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import messages, pruning
from .actors import Actor
from .clock import Clock, to_storage
from .database import Database
from .errors import Conflict, InvalidState, KedjaError, NotFound
from .history import History, PendingEvent, instance_stream
from .models import HumanTask, Incident, MessageSubscription, ProcessInstance
from .serialization import SPIFF_STATE_VERSION, StateCodec
from .task_mirror import MirroredTasks, TaskPolicy, sync_tasks

log = logging.getLogger(__name__)
T = TypeVar("T")

PI = ProcessInstance
_SELECT_HEAD = select(
    PI.id,
    PI.definition_id,
    PI.key,
    PI.state,
    PI.version,
    PI.history_seq,
    PI.history_hash,
    PI.open_incidents,
).where(PI.id == bindparam("iid"))
_SELECT_STATE = select(PI.workflow_state, PI.serializer_version).where(PI.id == bindparam("iid"))
_SELECT_OPEN_ROWS = select(
    HumanTask.spiff_task_id, HumanTask.id, HumanTask.element_id, HumanTask.name
).where(HumanTask.instance_id == bindparam("iid"), HumanTask.state == "open")
_SAVE = (
    update(PI)
    .where(PI.id == bindparam("iid"), PI.version == bindparam("v"))
    .values(
        version=PI.version + 1,
        state=bindparam("state"),
        ended_at=bindparam("ended_at"),
        workflow_state=bindparam("ws"),
        serializer_version=bindparam("sv"),
        history_seq=bindparam("seq"),
        history_hash=bindparam("hash"),
        open_incidents=bindparam("incidents"),
    )
)


@dataclass
class InstanceHead:
    """The instance row's columns a step reads and writes (all but the state blob)."""

    id: int
    definition_id: int
    key: str
    state: str
    version: int
    history_seq: int
    history_hash: str
    open_incidents: int
    ended_at: datetime | None = None


@dataclass
class StepContext:
    """What a change function gets: the open transaction and the loaded instance."""

    conn: Connection
    instance: InstanceHead
    definition: Any  # repository.DefinitionInfo
    workflow: BpmnWorkflow
    actor: Actor
    now: datetime
    mirrored: MirroredTasks
    subscriptions: frozenset
    events: list[PendingEvent] = field(default_factory=list)
    continue_engine: bool = True
    queued_messages: int = 0
    new_subscriptions: bool = False
    created_tasks: list[int] = field(default_factory=list)
    _session: Session | None = None

    @property
    def session(self) -> Session:
        """An ORM session inside the step's transaction, for the less frequent changes."""
        if self._session is None:
            self._session = Session(bind=self.conn)
        return self._session

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
    """The change's own result, the human tasks the step created, and the incident if the
    continuation failed."""

    value: Any
    instance_id: int
    incident: str | None = None
    created_tasks: list[int] = field(default_factory=list)
    needs_delivery: bool = False


class StepFailed(KedjaError):
    """The change itself could not be applied (for example a failing post-script)."""


class _StaleCache(Exception):
    """The cached copy was not the committed version after all; load and run again."""


@dataclass
class _Cached:
    head: InstanceHead
    workflow: BpmnWorkflow
    mirrored: MirroredTasks
    subscriptions: frozenset


class WorkflowCache:
    """Deserialized workflows of recently stepped instances, keyed by committed version.

    Loading a state costs more than running a typical step. An entry is taken out while a step
    uses it (so two threads never share a workflow object) and put back only after commit;
    any failure simply drops it and the next step loads from the database.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[int, _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, instance_id: int) -> _Cached | None:
        with self._lock:
            return self._items.pop(instance_id, None)

    def put(self, instance_id: int, item: _Cached) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._items[instance_id] = item
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
        repository: Any,
        script_engine: Any,
        cache_size: int = 256,
    ) -> None:
        self.db = db
        self.codec = codec
        self.clock = clock
        self.history = history
        self.policy = policy
        self.repository = repository
        self.script_engine = script_engine
        self.cache = WorkflowCache(cache_size)
        # Hooks run inside the transaction after the engine advanced; tests use them to
        # inject failures, the governance layer to add its own bookkeeping.
        self.after_advance: list[Callable[[StepContext], None]] = []
        # Told (instance id, new task ids) after each commit that created human tasks.
        self.on_tasks_created: list[Callable[[int, list[int]], None]] = []

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
        except _ContinuationError as failure:
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
        try:
            return self._transaction(
                instance_id, change, actor, allow_suspended, advance, incident, use_cache=True
            )
        except _StaleCache:
            return self._transaction(
                instance_id, change, actor, allow_suspended, advance, incident, use_cache=False
            )

    def _transaction(
        self,
        instance_id: int,
        change: Callable[[StepContext], T],
        actor: Actor,
        allow_suspended: bool,
        advance: bool,
        incident: tuple[str | None, str] | None,
        use_cache: bool,
    ) -> StepOutcome:
        ctx: StepContext | None = None
        cached = self.cache.take(instance_id) if use_cache else None
        try:
            with self.db.write_engine.begin() as conn:
                ctx = self._open(conn, instance_id, actor, cached)
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
                    raise StepFailed(f"The change could not be applied: {_describe(exc)}") from exc
                try:
                    if advance and ctx.continue_engine and ctx.instance.open_incidents == 0:
                        self.advance(ctx)
                    if incident is not None:
                        self._add_incident(ctx, *incident)
                    self.finish(ctx, stale_means_cache=cached is not None)
                except (Conflict, _StaleCache, IntegrityError):
                    raise
                except Exception as exc:
                    raise _ContinuationError(exc) from exc
                if ctx._session is not None:
                    ctx._session.flush()
        except IntegrityError as exc:
            raise Conflict(
                f"Instance {instance_id} was changed concurrently; nothing was "
                "saved. Reload and try again."
            ) from exc
        self.cache.put(
            instance_id, _Cached(ctx.instance, ctx.workflow, ctx.mirrored, ctx.subscriptions)
        )
        if ctx.created_tasks:
            for listener in self.on_tasks_created:
                listener(instance_id, ctx.created_tasks)
        return StepOutcome(
            value,
            instance_id,
            incident[1] if incident else None,
            ctx.created_tasks,
            needs_delivery=bool(ctx.queued_messages or ctx.new_subscriptions),
        )

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
        outcome = self._attempt(
            instance_id, lambda ctx: None, actor, True, advance=False, incident=(element, message)
        )
        outcome.value = None
        return outcome

    # -- pieces ---------------------------------------------------------------------------

    def _open(
        self, conn: Connection, instance_id: int, actor: Actor, cached: _Cached | None
    ) -> StepContext:
        if cached is not None:
            head, workflow = cached.head, cached.workflow
            mirrored, subscriptions = cached.mirrored, cached.subscriptions
        else:
            row = conn.execute(_SELECT_HEAD, {"iid": instance_id}).one_or_none()
            if row is None:
                raise NotFound(f"There is no process instance {instance_id}.")
            head = InstanceHead(*row)
            state = conn.execute(_SELECT_STATE, {"iid": instance_id}).one()
            workflow = self._load(
                head.definition_id, state.workflow_state, state.serializer_version
            )
            mirrored = MirroredTasks(
                {
                    r.spiff_task_id: (r.id, r.element_id, r.name)
                    for r in conn.execute(_SELECT_OPEN_ROWS, {"iid": instance_id})
                }
            )
            subscriptions = frozenset(s.key() for s in messages.waiting_subscriptions(workflow))
        definition = self.repository.definition(head.definition_id)
        return StepContext(
            conn,
            head,
            definition,
            workflow,
            actor,
            self.clock.now(),
            mirrored.copy(),
            subscriptions,
        )

    def _load(self, definition_id: int, text: str, version: str) -> BpmnWorkflow:
        spec, subprocess_specs = self.repository.specs(definition_id)
        return self.codec.load_state(text, version, spec, subprocess_specs, self.script_engine)

    def load(self, instance: ProcessInstance) -> BpmnWorkflow:
        """A fresh copy of a stored instance's workflow (for reading, never for stepping)."""
        return self._load(
            instance.definition_id, instance.workflow_state, instance.serializer_version
        )

    def advance(self, ctx: StepContext) -> None:
        """Run everything that needs no person, recording each element that completed."""

        def did_complete(task) -> None:  # type: ignore[no-untyped-def]
            spec = task.task_spec
            if spec.bpmn_id is not None and not spec.manual:
                ctx.record(
                    "element.completed",
                    {"type": type(spec).__name__},
                    element_id=spec.bpmn_id,
                    actor="engine",
                )

        ctx.workflow.do_engine_steps(did_complete_task=did_complete)
        for hook in self.after_advance:
            hook(ctx)

    def finish(self, ctx: StepContext, stale_means_cache: bool = False) -> None:
        """Bookkeeping and save, inside the step's transaction."""
        wf, head, conn = ctx.workflow, ctx.instance, ctx.conn
        if head.state == "running" and wf.is_completed():
            head.state = "completed"
            head.ended_at = to_storage(ctx.now)
            ctx.record("instance.completed", actor="engine")
        pruning.prune(wf)
        finished = head.state in ("completed", "terminated")
        ctx.created_tasks = sync_tasks(
            conn, head, ctx.definition, wf, self.policy, ctx.now, ctx.events, ctx.mirrored, finished
        )
        self._sync_subscriptions(ctx, finished)
        ctx.queued_messages = messages.queue_thrown_messages(
            conn, head.id, wf, self.codec.dump_data, to_storage(ctx.now)
        )
        head.history_seq, head.history_hash = self.history.write(
            conn,
            instance_stream(head.id),
            head.id,
            head.history_seq,
            head.history_hash,
            ctx.events,
            ctx.now,
        )
        saved = conn.execute(
            _SAVE,
            {
                "iid": head.id,
                "v": head.version,
                "state": head.state,
                "ended_at": head.ended_at,
                "ws": self.codec.dump_state(wf),
                "sv": SPIFF_STATE_VERSION,
                "seq": head.history_seq,
                "hash": head.history_hash,
                "incidents": head.open_incidents,
            },
        )
        if saved.rowcount != 1:
            if stale_means_cache:
                raise _StaleCache()
            raise Conflict(
                f"Instance {head.id} was changed by someone else at the same time; "
                "nothing was saved. Reload and try again."
            )
        head.version += 1

    def _sync_subscriptions(self, ctx: StepContext, finished: bool) -> None:
        wanted = (
            frozenset()
            if finished
            else frozenset(s.key() for s in messages.waiting_subscriptions(ctx.workflow))
        )
        if wanted == ctx.subscriptions:
            return
        ctx.conn.execute(
            delete(MessageSubscription).where(MessageSubscription.instance_id == ctx.instance.id)
        )
        if wanted:
            ctx.conn.execute(
                insert(MessageSubscription),
                [
                    {
                        "instance_id": ctx.instance.id,
                        "message_name": name,
                        "element_id": element,
                        "correlation": correlation,
                    }
                    for name, element, correlation in sorted(wanted)
                ],
            )
        ctx.new_subscriptions = bool(wanted - ctx.subscriptions)
        ctx.subscriptions = wanted

    def _add_incident(self, ctx: StepContext, element: str | None, message: str) -> None:
        stored_now = to_storage(ctx.now)
        same = ctx.conn.execute(
            select(Incident.id, Incident.attempts).where(
                Incident.instance_id == ctx.instance.id,
                Incident.resolved_at.is_(None),
                Incident.element_id == element,
            )
        ).first()
        if same is not None:
            ctx.conn.execute(
                update(Incident)
                .where(Incident.id == same.id)
                .values(attempts=same.attempts + 1, message=message, last_failed_at=stored_now)
            )
            ctx.record(
                "incident.failed_again",
                {"incident": same.id, "message": message, "attempts": same.attempts + 1},
                element_id=element,
                actor="engine",
            )
            return
        ctx.conn.execute(
            insert(Incident).values(
                instance_id=ctx.instance.id,
                created_at=stored_now,
                element_id=element,
                message=message,
                attempts=1,
                last_failed_at=stored_now,
            )
        )
        ctx.instance.open_incidents += 1
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
