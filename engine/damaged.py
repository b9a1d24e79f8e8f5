"""Damaged instances: those whose stored SpiffWorkflow state cannot be loaded.

A state is damaged when its text is not JSON, or SpiffWorkflow cannot restore a workflow
from it — edited or truncated in the database, restored from a broken copy. Such an instance
cannot step, and nothing that needs its state works; but everything else Kedja knows about
it is in ordinary rows that do not depend on the state: the instance row (key, version,
start, state), its human tasks, timers, subscriptions and its hash-chained history. So:

* `StepRunner` raises `DamagedState` (naming the instance and what is wrong, see
  `describe`) wherever a state is loaded, instead of whatever the text made SpiffWorkflow
  raise; callers show the instance as damaged from its rows (the case page, the cockpit,
  the API, the CLI).
* `terminate` ends a damaged instance *without* loading the state: the row becomes
  terminated, its open human tasks cancelled, its timers and message subscriptions
  deleted, and `instance.terminated` (with the reason and what was damaged) appended to its
  history — one transaction, guarded by the row's version like a step. The stored text is
  left as it was: it is the evidence of what happened.
* `find` checks every stored state (for `kedja audit verify`) and says which instances are
  damaged; one terminated as damaged is reported as such, its damage on record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from .actors import Actor
from .clock import to_storage
from .database import Database
from .errors import Conflict, DamagedState, InvalidState, NotFound
from .history import History, PendingEvent, instance_stream
from .models import HistoryEvent, HumanTask, MessageSubscription, ProcessInstance, Timer

MAX_DESCRIPTION = 200


def describe(exc: BaseException) -> str:
    """What is wrong with a state that failed to load, in a few words a person can act on
    (the exception's text, shortened: a state's text can be long)."""
    if isinstance(exc, json.JSONDecodeError):
        text = f"not valid JSON: {exc.msg} (character {exc.pos})"
    elif isinstance(exc, RecursionError):
        text = "nested too deeply to be read"
    else:
        detail = str(exc).splitlines()[0] if str(exc) else ""
        text = f"SpiffWorkflow cannot restore it: {type(exc).__name__}" + (
            f": {detail}" if detail else ""
        )
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def terminate(
    db: Database,
    history: History,
    now: datetime,
    instance_id: int,
    actor: Actor,
    reason: str,
    damage: DamagedState,
) -> None:
    """End a damaged instance from its rows alone (see the module's docstring)."""
    at = to_storage(now)
    with db.write() as session:
        row = session.execute(
            select(
                ProcessInstance.state,
                ProcessInstance.version,
                ProcessInstance.history_seq,
                ProcessInstance.history_hash,
            ).where(ProcessInstance.id == instance_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"There is no process instance {instance_id}.")
        if row.state in ("completed", "terminated"):
            raise InvalidState(
                f"Instance {instance_id} is {row.state}; nothing can change in it any more."
            )
        events = [
            PendingEvent(
                "instance.terminated", actor.id, {"reason": reason, "damaged": damage.problem}
            )
        ]
        open_tasks = session.execute(
            select(HumanTask.id, HumanTask.element_id, HumanTask.name)
            .where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
            .order_by(HumanTask.id)
        ).all()
        if open_tasks:
            session.execute(
                update(HumanTask)
                .where(HumanTask.instance_id == instance_id, HumanTask.state == "open")
                .values(state="cancelled", completed_at=at)
            )
        events += [
            PendingEvent("task.cancelled", "engine", {"name": name}, element_id, task_id)
            for task_id, element_id, name in open_tasks
        ]
        session.execute(delete(Timer).where(Timer.instance_id == instance_id))
        session.execute(
            delete(MessageSubscription).where(MessageSubscription.instance_id == instance_id)
        )
        seq, digest = history.write(
            session.connection(),
            instance_stream(instance_id),
            instance_id,
            row.history_seq,
            row.history_hash,
            events,
            now,
        )
        ended = session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == instance_id, ProcessInstance.version == row.version)
            .values(
                state="terminated",
                ended_at=at,
                version=row.version + 1,
                history_seq=seq,
                history_hash=digest,
            )
        )
        if ended.rowcount != 1:
            raise Conflict(
                f"Instance {instance_id} was changed by someone else at the same time; "
                "nothing was saved. Reload and try again."
            )


@dataclass(frozen=True)
class DamagedInstance:
    instance_id: int
    key: str
    state: str
    problem: str
    ended_as_damaged: bool
    """Terminated because of the damage: the history records it (`instance.terminated`
    with `damaged`), so there is nothing left to do about it."""

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def find(db: Database, load) -> tuple[int, list[DamagedInstance]]:  # type: ignore[no-untyped-def]
    """Load every stored state with `load` (StepRunner.load); returns how many were checked
    and the damaged ones, by id. One instance at a time: states can be large."""
    with db.read() as session:
        ids = list(session.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)))
    found = []
    for instance_id in ids:
        with db.read() as session:
            row = session.get(ProcessInstance, instance_id)
            if row is None:  # deleted meanwhile (a test database being reset)
                continue
            try:
                load(row)
            except DamagedState as damage:
                found.append(
                    DamagedInstance(
                        instance_id,
                        row.key,
                        row.state,
                        damage.problem,
                        row.state == "terminated" and _ended_as_damaged(session, instance_id),
                    )
                )
    return len(ids), found


def _ended_as_damaged(session, instance_id: int) -> bool:  # type: ignore[no-untyped-def]
    texts = session.scalars(
        select(HistoryEvent.data).where(
            HistoryEvent.stream == instance_stream(instance_id),
            HistoryEvent.kind == "instance.terminated",
        )
    )
    return any("damaged" in (json.loads(text) or {}) for text in texts)
