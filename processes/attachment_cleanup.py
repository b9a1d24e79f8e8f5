"""Deleting attached files that nothing refers to any more.

A file is uploaded with a form (`processes.attachments.store`) before the form itself is
saved, so every upload is first a row that nothing refers to; the draft or the completion
that follows makes it referenced. Replacing the file in a draft, ticking "remove", or
completing the task without it leaves the old row unreferenced — five draft saves of a 20 MB
file used to keep 100 MB. This module removes such rows.

**Referenced** means: the attachment's reference (`attachment:<id>/…`) is in the draft of an
open task of its instance, or in any event of its instance's history — a completion's data is
recorded there (`task.completed`), so a file a task was completed with is part of the record
for as long as the record exists, whichever later task shows it again. Nothing else counts:
not a cancelled task's draft (it can never be sent), not a reference from another instance
(a file belongs to its case). A row nothing refers to is deleted

- **by the request that made it so**: when a task's form is sent (a draft saved, a row added,
  a form refused for an error), the files its old draft held and the files the form showed
  are released unless still referenced or shown again (`release`); when a task is completed,
  its whole instance is swept (`sweep_instance`): the completed task's leftovers go at once;
- **by the sweep** (`sweep`: when `kedja worker`/`kedja serve` start, every night at 03:45
  Stockholm time, and `kedja attachments sweep`): every unreferenced row whose task is no
  longer open (completed, cancelled, its instance ended or terminated), and the unreferenced
  rows of open tasks uploaded more than `GRACE` ago — an upload whose form was never saved
  (the browser was closed after a refused submission, the process died between the upload and
  the draft). The grace keeps an upload that is waiting for its form to be sent.

**Safe removal.** The file is the row (`attachment.content`, in the database), so the file
goes exactly when the transaction that deletes the row commits; no crash can leave a file
without its row or a row without its file, and there is no directory to sweep. What a crash
*can* leave is an unreferenced row (uploaded, then the process died before the draft was
saved): the sweep takes it after the grace. The check and the delete are one transaction
that first locks the instance's row (`FOR UPDATE`), which every engine step and claim also
updates, so no completion can make a file referenced between the check and the delete; a
release also locks its task's row, which a draft save updates. On SQLite each write
transaction is alone anyway. The one case left is two browser tabs on the same task, one
saving a draft with a file the other has just released: that draft's reference then points
at nothing and the form drops it the next time it is shown (the person attaches it again).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import Engine
from engine.clock import to_storage
from engine.history import instance_stream
from engine.models import HistoryEvent, HumanTask, ProcessInstance

from .attachments import parse_reference
from .calendar import STOCKHOLM
from .models import Attachment

log = logging.getLogger(__name__)

GRACE = timedelta(hours=24)
"""How long an upload that no saved form refers to is kept for the form that will."""
SWEEP_HOUR, SWEEP_MINUTE = 3, 45  # Stockholm time; after the notification retention (03:30)
_IN_JSON = re.compile(r'"attachment:(\d+)/')
"""A reference as it appears in stored JSON (drafts, history): a string that starts with it."""
_ENDED = ("completed", "terminated")


@dataclass
class Swept:
    """What a sweep deleted (or, on a dry run, would delete)."""

    dry_run: bool = False
    ids: list[int] = field(default_factory=list)
    bytes: int = 0
    instances: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "deleted": len(self.ids),
            "bytes": self.bytes,
            "instances": self.instances,
            "ids": self.ids,
        }


def references(data: Any) -> set[int]:
    """The attachment ids that strings anywhere in `data` (form data, a draft) refer to."""
    found: set[int] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            attachment_id = parse_reference(item)
            if attachment_id is not None:
                found.add(attachment_id)
    return found


def _referenced(session: Session, instance_id: int) -> set[int]:
    """Ids referenced by the instance's open drafts and by its history."""
    found: set[int] = set()
    drafts = session.scalars(
        select(HumanTask.draft).where(
            HumanTask.instance_id == instance_id,
            HumanTask.state == "open",
            HumanTask.draft.is_not(None),
        )
    )
    for draft in drafts:
        found.update(int(i) for i in _IN_JSON.findall(draft or ""))
    events = session.scalars(
        select(HistoryEvent.data).where(
            HistoryEvent.stream == instance_stream(instance_id),
            HistoryEvent.data.like('%"attachment:%'),
        )
    )
    for data in events:
        found.update(int(i) for i in _IN_JSON.findall(data or ""))
    return found


def _lock_instance(session: Session, instance_id: int) -> str | None:
    """Lock the instance's row for this transaction; its state (None: no such instance)."""
    return session.scalar(
        select(ProcessInstance.state).where(ProcessInstance.id == instance_id).with_for_update()
    )


def _delete(session: Session, rows: list[tuple[int, int]], result: Swept) -> None:
    ids = [attachment_id for attachment_id, _size in rows]
    if not result.dry_run:
        for start in range(0, len(ids), 500):
            session.execute(delete(Attachment).where(Attachment.id.in_(ids[start : start + 500])))
    result.ids.extend(ids)
    result.bytes += sum(size for _id, size in rows)


def release(
    engine: Engine,
    task_id: int,
    candidates: Iterable[int],
    keep: Iterable[int] = (),
    grace: timedelta = GRACE,
) -> Swept:
    """After a form of `task_id` was sent: delete the task's attachments among `candidates`
    (the old draft's files, the files the form showed or stored) and the task's uploads
    older than `grace`, except those in `keep` (what the page shows again) and those still
    referenced (see the module docstring). Another task's files are never touched."""
    wanted, kept = set(candidates), set(keep)
    result = Swept()
    cutoff = to_storage(engine.clock.now() - grace)
    with engine.db.write() as session:
        instance_id = session.scalar(
            select(HumanTask.instance_id).where(HumanTask.id == task_id).with_for_update()
        )
        if instance_id is None or _lock_instance(session, instance_id) is None:
            return result
        rows = session.execute(
            select(Attachment.id, Attachment.size, Attachment.uploaded_at).where(
                Attachment.task_id == task_id
            )
        ).all()
        doomed = [
            (a_id, size)
            for a_id, size, at in rows
            if (a_id in wanted or at < cutoff) and a_id not in kept
        ]
        if doomed:
            referenced = _referenced(session, instance_id)
            _delete(session, [(a, s) for a, s in doomed if a not in referenced], result)
    if result.ids:
        result.instances = 1
        log.info("attachments of task %s released: %s", task_id, result.ids)
    return result


def _instance_doomed(
    session: Session, instance_id: int, state: str | None, cutoff: Any
) -> list[tuple[int, int]]:
    """The instance's attachments the sweep would delete: (id, size)."""
    rows = session.execute(
        select(Attachment.id, Attachment.size, Attachment.uploaded_at, HumanTask.state)
        .outerjoin(HumanTask, HumanTask.id == Attachment.task_id)
        .where(Attachment.instance_id == instance_id)
    ).all()
    ended = state is None or state in _ENDED
    doomed = [
        (a_id, size)
        for a_id, size, at, task_state in rows
        if ended or task_state != "open" or at < cutoff
    ]
    if not doomed:
        return []
    referenced = _referenced(session, instance_id)
    return [(a, s) for a, s in doomed if a not in referenced]


def sweep_instance(
    engine: Engine, instance_id: int, grace: timedelta = GRACE, *, dry_run: bool = False
) -> Swept:
    """Delete the instance's attachments nothing refers to whose task is not open (or whose
    instance has ended), and those of open tasks uploaded more than `grace` ago. Looks
    first without a lock, and takes the instance's lock only when there is something to
    delete (a nightly sweep of a city's instances writes only where it must)."""
    result = Swept(dry_run)
    cutoff = to_storage(engine.clock.now() - grace)
    with engine.db.read() as session:
        state = session.scalar(
            select(ProcessInstance.state).where(ProcessInstance.id == instance_id)
        )
        doomed = _instance_doomed(session, instance_id, state, cutoff)
    if not doomed or dry_run:
        _delete_nothing(doomed, result)
        return result
    with engine.db.write() as session:  # again, under the lock: the look above may be stale
        state = _lock_instance(session, instance_id)
        _delete(session, _instance_doomed(session, instance_id, state, cutoff), result)
    if result.ids:
        result.instances = 1
    return result


def _delete_nothing(doomed: list[tuple[int, int]], result: Swept) -> None:
    """A dry run's (or an empty) answer: what would go."""
    result.ids.extend(a for a, _s in doomed)
    result.bytes += sum(s for _a, s in doomed)
    if doomed:
        result.instances = 1


def sweep(engine: Engine, grace: timedelta = GRACE, *, dry_run: bool = False) -> Swept:
    """`sweep_instance` for every instance that has attachments, each in its own short
    transaction (see the module docstring for when it runs)."""
    result = Swept(dry_run)
    with engine.db.read() as session:
        instances = list(
            session.scalars(
                select(Attachment.instance_id).distinct().order_by(Attachment.instance_id)
            )
        )
    for instance_id in instances:
        one = sweep_instance(engine, instance_id, grace, dry_run=dry_run)
        result.ids.extend(one.ids)
        result.bytes += one.bytes
        result.instances += one.instances
    if result.ids and not dry_run:
        log.info(
            "attachment sweep: deleted %s unreferenced file(s), %s bytes, in %s instance(s)",
            len(result.ids),
            result.bytes,
            result.instances,
        )
    return result


def schedule_sweep(engine: Engine, scheduler: Any) -> None:
    """Sweep as soon as the scheduler runs (a crash's leftovers go at the next start) and
    every night at 03:45 Stockholm time, on this process's scheduler thread (`kedja worker`,
    `kedja serve`). Any number of processes may sweep one database: each instance is one
    transaction holding that instance's lock, and deleting a row twice is impossible."""

    def sweep_attachments() -> None:
        sweep(engine)

    scheduler.add_daily(
        sweep_attachments,
        hour=SWEEP_HOUR,
        minute=SWEEP_MINUTE,
        timezone=STOCKHOLM,
        also_now=True,
    )
