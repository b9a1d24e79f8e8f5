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

The step is the engine's hot path, so its SQL runs straight on the database driver
(`engine/step_sql.py`), and next to each cached workflow it keeps what it knows the database
holds for it (the instance row's head, the open task rows, the subscriptions); a cached copy
is trusted only as far as the final versioned update confirms it.
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
from SpiffWorkflow.util.task import TaskState

from . import damaged, messages, pruning
from .actors import Actor
from .approvals import not_runnable
from .clock import Clock, to_storage
from .database import Database
from .errors import Conflict, DamagedState, InvalidState, KedjaError, NotFound
from .history import History, PendingEvent, instance_stream
from .serialization import SPIFF_STATE_VERSION, StateCodec
from .services import RUNNABLE, step_in_progress
from .spiff_clock import current_clock, step_clock
from .step_sql import INTEGRITY_ERRORS, StepSQL, Tx
from .task_mirror import MirroredTasks, TaskPolicy, sync_tasks
from .timer_rows import WaitingTimer, sync_timers, waiting_timers

log = logging.getLogger(__name__)
T = TypeVar("T")

SELECT_HEAD = """SELECT id, definition_id, key, state, version, history_seq, history_hash,
    open_incidents FROM process_instance WHERE id = :iid"""
# "The latest version" to start is the newest that may run: one awaiting an administrator's
# approval is not in effect yet (engine/approvals.py).
SELECT_LATEST_DEFINITION = """SELECT id, approval, version FROM process_definition
    WHERE key = :key AND approval IN ('not_needed', 'approved') ORDER BY version DESC LIMIT 1"""
SELECT_DEFINITION_VERSION = """SELECT id, approval, version FROM process_definition
    WHERE key = :key AND version = :version"""
INSERT_INSTANCE = """INSERT INTO process_instance (definition_id, key, business_key, state,
    started_at, started_by, version, workflow_state, serializer_version, history_seq,
    history_hash, open_incidents) VALUES (:definition_id, :key, :business_key, 'running',
    :started_at, :started_by, 1, '', :sv, 0, '', 0) RETURNING id"""
SELECT_VERSION = "SELECT version FROM process_instance WHERE id = :iid"
SELECT_STATE = "SELECT workflow_state, serializer_version FROM process_instance WHERE id = :iid"
SELECT_OPEN_ROWS = """SELECT spiff_task_id, id, element_id, name FROM human_task
    WHERE instance_id = :iid AND state = 'open'"""
SAVE = """UPDATE process_instance SET version = version + 1, state = :state,
    ended_at = :ended_at, workflow_state = :ws, serializer_version = :sv,
    history_seq = :seq, history_hash = :hash, open_incidents = :incidents
    WHERE id = :iid AND version = :v"""
# Most steps leave the state as it was: naming `state` in SET would make SQLite rewrite its
# index entry (ix_process_instance_key_state) all the same, one more page in every commit.
SAVE_SAME_STATE = """UPDATE process_instance SET version = version + 1, workflow_state = :ws,
    serializer_version = :sv, history_seq = :seq, history_hash = :hash,
    open_incidents = :incidents WHERE id = :iid AND version = :v"""
INSERT_EVENT = """INSERT INTO history_event (stream, seq, instance_id, at, actor, kind,
    element_id, task_id, data, prev_hash, hash) VALUES (:stream, :seq, :instance_id, :at,
    :actor, :kind, :element_id, :task_id, :data, :prev_hash, :hash)"""
DELETE_SUBSCRIPTIONS = "DELETE FROM message_subscription WHERE instance_id = :iid"
INSERT_SUBSCRIPTION = """INSERT INTO message_subscription (instance_id, message_name,
    element_id, correlation) VALUES (:instance_id, :message_name, :element_id, :correlation)"""
SELECT_SAME_INCIDENT = """SELECT id, attempts FROM incident WHERE instance_id = :iid
    AND resolved_at IS NULL
    AND (element_id = :element OR (element_id IS NULL AND :element IS NULL))"""
REPEAT_INCIDENT = """UPDATE incident SET attempts = :attempts, message = :message,
    last_failed_at = :at WHERE id = :id"""
INSERT_INCIDENT = """INSERT INTO incident (instance_id, created_at, element_id, message,
    attempts, last_failed_at) VALUES (:iid, :at, :element, :message, 1, :at)"""


STATE_PAD = 512  # see StepRunner._stored_state


@dataclass(frozen=True)
class NewInstance:
    """What to start: the first step creates the instance in its own transaction."""

    key: str
    version: int | None
    data: dict[str, Any]
    business_key: str | None


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

    sql: Tx
    instance: InstanceHead
    definition: Any  # repository.DefinitionInfo
    workflow: BpmnWorkflow
    actor: Actor
    now: datetime
    mirrored: MirroredTasks
    subscriptions: frozenset
    timers: frozenset[WaitingTimer]
    events: list[PendingEvent] = field(default_factory=list)
    continue_engine: bool = True
    queued_messages: int = 0
    new_subscriptions: bool = False
    created_tasks: list[int] = field(default_factory=list)
    timers_changed: bool = False
    opened_state: str = "running"  # the instance row's state when the step began

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


class Abandon(Exception):
    """Raised by a change to roll its step back quietly (no error, no incident): for example a
    timer another worker has already fired."""


class ContinuationFailed(KedjaError):
    """The step's continuation failed and, as asked, nothing was committed."""

    def __init__(self, message: str, element: str | None) -> None:
        self.element = element
        super().__init__(message)


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
    timers: frozenset[WaitingTimer]


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
        cache_size: int = 1024,
    ) -> None:
        self.db = db
        self.codec = codec
        self.clock = clock
        self.history = history
        self.policy = policy
        self.repository = repository
        self.script_engine = script_engine
        self.cache = WorkflowCache(cache_size)
        self.sql = StepSQL(db)
        self._pad_state = db.is_sqlite
        # Hooks run inside the transaction after the engine advanced; tests use them to
        # inject failures, the governance layer to add its own bookkeeping.
        self.after_advance: list[Callable[[StepContext], None]] = []
        # Told (instance id, new task ids) after each commit that created human tasks.
        self.on_tasks_created: list[Callable[[int, list[int]], None]] = []
        # Called inside the transaction with the step and the human task rows it created,
        # so what they write (a "new task" notification) commits with the task itself.
        self.tasks_created_in_step: list[Callable[[StepContext, list[int]], None]] = []
        # Told the earliest due time after each commit that created or moved a timer.
        self.on_timers_changed: list[Callable[[datetime | None], None]] = []

    # -- the unit of work -----------------------------------------------------------------

    def run(
        self,
        instance_id: int | NewInstance,
        change: Callable[[StepContext], T],
        actor: Actor,
        *,
        allow_suspended: bool = False,
        keep_on_failure: bool = True,
        clock: Clock | None = None,
        raise_on_failure: bool = False,
    ) -> StepOutcome:
        """Apply `change` and continue the instance, as one transaction.

        `keep_on_failure`: when the continuation fails, commit the change alone plus an
        incident (a person's completion); otherwise record only the incident.
        `raise_on_failure`: commit nothing and raise `ContinuationFailed` instead (the caller
        retries later, as timers do). `clock`: the step's "now" for everything in it,
        SpiffWorkflow's timers included (default: the engine's clock).
        """
        with step_clock(clock or self.clock):
            try:
                return self._attempt(instance_id, change, actor, allow_suspended, advance=True)
            except _ContinuationError as failure:
                if raise_on_failure:
                    raise ContinuationFailed(failure.message, failure.element) from failure
                return self._record_failure(
                    instance_id, change, actor, failure, keep_on_failure, allow_suspended
                )

    def _attempt(
        self,
        instance_id: int | NewInstance,
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
        target: int | NewInstance,
        change: Callable[[StepContext], T],
        actor: Actor,
        allow_suspended: bool,
        advance: bool,
        incident: tuple[str | None, str] | None,
        use_cache: bool,
    ) -> StepOutcome:
        ctx: StepContext | None = None
        new = isinstance(target, NewInstance)
        cached = self.cache.take(target) if use_cache and not new else None
        instance_id = None if new else target
        try:
            with self.sql.transaction() as tx:
                if new:
                    ctx = self._create(tx, target, actor)
                else:
                    ctx = self._open(tx, target, actor, cached)
                instance_id = ctx.instance.id
                if ctx.instance.state in ("completed", "terminated"):
                    raise InvalidState(
                        f"Instance {instance_id} is {ctx.instance.state}; "
                        "nothing can change in it any more."
                    )
                if ctx.instance.state == "suspended" and not allow_suspended:
                    raise InvalidState(f"Instance {instance_id} is suspended; resume it first.")
                try:
                    with step_in_progress(ctx):
                        value = change(ctx)
                except (KedjaError, Abandon):
                    raise
                except Exception as exc:
                    raise StepFailed(f"The change could not be applied: {_describe(exc)}") from exc
                try:
                    if advance and ctx.continue_engine and ctx.instance.open_incidents == 0:
                        with step_in_progress(ctx):
                            self.advance(ctx)
                    if incident is not None:
                        self._add_incident(ctx, *incident)
                    self.finish(ctx, stale_means_cache=cached is not None)
                except (Conflict, _StaleCache, *INTEGRITY_ERRORS):
                    raise
                except Exception as exc:
                    raise _ContinuationError(exc) from exc
        except INTEGRITY_ERRORS as exc:
            raise Conflict(
                f"Instance {instance_id} was changed concurrently; nothing was "
                "saved. Reload and try again."
            ) from exc
        if ctx.instance.state in ("running", "suspended"):  # a finished one never steps again
            self.cache.put(
                instance_id,
                _Cached(ctx.instance, ctx.workflow, ctx.mirrored, ctx.subscriptions, ctx.timers),
            )
        if ctx.created_tasks:
            for listener in self.on_tasks_created:
                listener(instance_id, ctx.created_tasks)
        if ctx.timers_changed and self.on_timers_changed:
            earliest = min((t.due_at for t in ctx.timers), default=None)
            for listener in self.on_timers_changed:
                listener(earliest)
        return StepOutcome(
            value,
            instance_id,
            incident[1] if incident else None,
            ctx.created_tasks,
            needs_delivery=bool(ctx.queued_messages or ctx.new_subscriptions),
        )

    def _record_failure(
        self,
        instance_id: int | NewInstance,
        change: Callable[[StepContext], Any],
        actor: Actor,
        failure: _ContinuationError,
        keep: bool,
        allow_suspended: bool,
    ) -> StepOutcome:
        element, message = failure.element, failure.message
        log.warning("instance %s: step failed at %s: %s", instance_id, element, message)
        if isinstance(instance_id, NewInstance):
            keep = True  # a start that fails is kept at its beginning, with the incident
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

    def _open(self, tx: Tx, instance_id: int, actor: Actor, cached: _Cached | None) -> StepContext:
        if cached is not None:
            # Another process (a worker firing a timer, a second web process) may have moved
            # the instance on: a change must never be decided on an old copy.
            current = tx.one(SELECT_VERSION, {"iid": instance_id})
            if current is None or current[0] != cached.head.version:
                cached = None
        if cached is not None:
            head, workflow = cached.head, cached.workflow
            mirrored, subscriptions, timers = cached.mirrored, cached.subscriptions, cached.timers
        else:
            row = tx.one(SELECT_HEAD, {"iid": instance_id})
            if row is None:
                raise NotFound(f"There is no process instance {instance_id}.")
            head = InstanceHead(*row)
            text, version = tx.one(SELECT_STATE, {"iid": instance_id})
            workflow = self._load(instance_id, head.definition_id, text, version)
            mirrored = MirroredTasks(
                {
                    sid: (rid, element, name)
                    for sid, rid, element, name in tx.all(SELECT_OPEN_ROWS, {"iid": instance_id})
                }
            )
            subscriptions = frozenset(s.key() for s in messages.waiting_subscriptions(workflow))
            timers = waiting_timers(workflow)
        definition = self.repository.definition(head.definition_id)
        return StepContext(
            tx,
            head,
            definition,
            workflow,
            actor,
            self._now(),
            mirrored.copy(),
            subscriptions,
            timers,
            opened_state=head.state,
        )

    def _create(self, tx: Tx, new: NewInstance, actor: Actor) -> StepContext:
        """A new instance row and workflow, in the transaction of its first step."""
        if new.version is None:
            row = tx.one(SELECT_LATEST_DEFINITION, {"key": new.key})
        else:
            row = tx.one(SELECT_DEFINITION_VERSION, {"key": new.key, "version": new.version})
        if row is None and new.version is None:
            self.repository.runnable(new.key)  # says why: nothing deployed, or none approved
        if row is None:
            raise self.repository.not_deployed(new.key, new.version)
        if row[1] not in RUNNABLE:
            raise not_runnable(new.key, row[2], row[1])
        definition = self.repository.definition(row[0])
        spec, subprocess_specs = self.repository.specs(definition.id)
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
        workflow.task_tree.data.update(new.data)  # what every later task inherits
        now = self._now()
        instance_id = tx.insert_id(
            INSERT_INSTANCE,
            {
                "definition_id": definition.id,
                "key": definition.key,
                "business_key": new.business_key,
                "started_at": to_storage(now),
                "started_by": actor.id,
                "sv": SPIFF_STATE_VERSION,
            },
        )
        head = InstanceHead(instance_id, definition.id, definition.key, "running", 1, 0, "", 0)
        ctx = StepContext(
            tx, head, definition, workflow, actor, now, MirroredTasks({}), frozenset(), frozenset()
        )
        ctx.record(
            "instance.started",
            {
                "key": definition.key,
                "version": definition.version,
                "data": new.data,
                "business_key": new.business_key,
            },
        )
        return ctx

    def _now(self) -> datetime:
        """The running step's clock (a timer firing moves it to its due time)."""
        return (current_clock() or self.clock).now()

    def _load(self, instance_id: int, definition_id: int, text: str, version: str) -> BpmnWorkflow:
        """The stored state as a workflow, or `DamagedState` naming the instance and what
        is wrong with the state (engine/damaged.py)."""
        spec, subprocess_specs = self.repository.specs(definition_id)
        try:
            return self.codec.load_state(text, version, spec, subprocess_specs, self.script_engine)
        except Exception as exc:  # whatever the text makes SpiffWorkflow raise
            raise DamagedState(instance_id, damaged.describe(exc)) from exc

    def load(self, instance: Any) -> BpmnWorkflow:
        """A fresh copy of a stored instance's workflow (for reading, never for stepping)."""
        return self._load(
            instance.id,
            instance.definition_id,
            instance.workflow_state,
            instance.serializer_version,
        )

    def advance(self, ctx: StepContext) -> None:
        """Run everything that needs no person, recording each element that completed."""

        def did_complete(task) -> None:  # type: ignore[no-untyped-def]
            spec = task.task_spec
            if spec.bpmn_id is not None and not spec.manual:
                ctx.record(
                    "element.completed",
                    # The process (diagram) it belongs to: a called process's "start" is not
                    # the caller's "start".
                    {"type": type(spec).__name__, "process": task.workflow.spec.name},
                    element_id=spec.bpmn_id,
                    actor="engine",
                )

        ctx.workflow.do_engine_steps(did_complete_task=did_complete)
        for hook in self.after_advance:
            hook(ctx)

    def finish(self, ctx: StepContext, stale_means_cache: bool = False) -> None:
        """Bookkeeping and save, inside the step's transaction."""
        wf, head, tx = ctx.workflow, ctx.instance, ctx.sql
        if head.state == "running" and _is_completed(wf):
            head.state = "completed"
            head.ended_at = to_storage(ctx.now)
            ctx.record("instance.completed", actor="engine")
        pruning.prune(wf)
        finished = head.state in ("completed", "terminated")
        ctx.created_tasks = sync_tasks(
            tx, head, ctx.definition, wf, self.policy, ctx.now, ctx.events, ctx.mirrored, finished
        )
        if ctx.created_tasks:
            for hook in self.tasks_created_in_step:
                hook(ctx, ctx.created_tasks)
        self._sync_subscriptions(ctx, finished)
        timers = frozenset() if finished else waiting_timers(wf)
        sync_timers(tx, head.id, timers, ctx.timers, ctx.now)
        ctx.timers_changed = timers != ctx.timers
        ctx.timers = timers
        ctx.queued_messages = messages.queue_thrown_messages(
            tx, head.id, wf, self.codec.dump_data, to_storage(ctx.now)
        )
        rows, head.history_seq, head.history_hash = self.history.chain(
            instance_stream(head.id),
            head.id,
            head.history_seq,
            head.history_hash,
            ctx.events,
            ctx.now,
        )
        tx.executemany(INSERT_EVENT, rows)
        params = {
            "iid": head.id,
            "v": head.version,
            "ws": self._stored_state(wf),
            "sv": SPIFF_STATE_VERSION,
            "seq": head.history_seq,
            "hash": head.history_hash,
            "incidents": head.open_incidents,
        }
        if head.state == ctx.opened_state:  # then ended_at has not changed either
            saved = tx.execute(SAVE_SAME_STATE, params)
        else:
            params["state"], params["ended_at"] = head.state, head.ended_at
            saved = tx.execute(SAVE, params)
        if saved != 1:
            if stale_means_cache:
                raise _StaleCache()
            raise Conflict(
                f"Instance {head.id} was changed by someone else at the same time; "
                "nothing was saved. Reload and try again."
            )
        head.version += 1

    def _stored_state(self, workflow: BpmnWorkflow) -> str:
        """The state as saved. On SQLite padded with spaces to a multiple of `STATE_PAD`
        characters (JSON ignores trailing whitespace; every reader parses it).

        The state is larger than a page, so SQLite keeps most of it in overflow pages. An
        UPDATE that changes the row's size frees those pages and allocates new ones, which
        also rewrites the database header and the free-list page: two more pages in the log
        on every commit. A row that keeps its size is overwritten in place. A step changes a
        state by a few dozen characters, so most steps stay within the same multiple
        (bench/engine_overhead.py: 11 -> 9 pages written per completion).
        """
        text = self.codec.dump_state(workflow)
        if self._pad_state:
            text += " " * (-len(text) % STATE_PAD)
        return text

    def _sync_subscriptions(self, ctx: StepContext, finished: bool) -> None:
        wanted = (
            frozenset()
            if finished
            else frozenset(s.key() for s in messages.waiting_subscriptions(ctx.workflow))
        )
        if wanted == ctx.subscriptions:
            return
        ctx.sql.execute(DELETE_SUBSCRIPTIONS, {"iid": ctx.instance.id})
        ctx.sql.executemany(
            INSERT_SUBSCRIPTION,
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
        at = to_storage(ctx.now)
        same = ctx.sql.one(SELECT_SAME_INCIDENT, {"iid": ctx.instance.id, "element": element})
        if same is not None:
            incident_id, attempts = same
            ctx.sql.execute(
                REPEAT_INCIDENT,
                {"id": incident_id, "attempts": attempts + 1, "message": message, "at": at},
            )
            ctx.record(
                "incident.failed_again",
                {"incident": incident_id, "message": message, "attempts": attempts + 1},
                element_id=element,
                actor="engine",
            )
            return
        ctx.sql.execute(
            INSERT_INCIDENT,
            {"iid": ctx.instance.id, "at": at, "element": element, "message": message},
        )
        ctx.instance.open_incidents += 1
        ctx.record("incident.created", {"message": message}, element_id=element, actor="engine")


_UNFINISHED = TaskState.NOT_FINISHED_MASK


def _is_completed(workflow: BpmnWorkflow) -> bool:
    """`workflow.is_completed()`, without walking the tree on every step.

    SpiffWorkflow answers by iterating the task tree from the root until it meets an
    unfinished task: past every finished one first, the whole history of a straight process.
    Unfinished tasks are usually the newest, so look from the end of the task map; one that
    hangs from the root (within the depth SpiffWorkflow's iterator descends) settles it. Any
    other case, and the final "yes", are left to SpiffWorkflow.
    """
    if workflow.completed:
        return True
    tasks, root = workflow.tasks, workflow.task_tree
    for task in reversed(tasks.values()):
        if task._state & _UNFINISHED:
            node, depth = task, 0
            while node is not None and node is not root and depth < 900:
                node, depth = tasks.get(node._parent), depth + 1
            if node is root:
                return False
            break
    return workflow.is_completed()


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
