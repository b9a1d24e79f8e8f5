"""The append-only, hash-chained event log: what happened to an instance, who did it, when.

Decisions and received documents are official records; a log that can be edited silently is
not a record. Each event's hash covers its content and the previous event's hash, and the head
of each chain (sequence number and hash) is kept beside it — in the instance row for an
instance's chain, in `history_head` for the repository's — so `verify()` notices a changed
row, an inserted row, a deleted row, and a truncated tail.

Appending happens inside the same transaction as the change it records: a step that rolls
back leaves no history, and a committed step always has its events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .clock import from_storage, to_storage
from .errors import Conflict
from .models import HistoryEvent, HistoryHead, ProcessInstance

REPOSITORY_STREAM = "repository"


_INSERT_EVENT = insert(HistoryEvent)
_SELECT_HEAD = select(
    ProcessInstance.history_seq, ProcessInstance.history_hash, ProcessInstance.version
).where(ProcessInstance.id == bindparam("iid"))
_UPDATE_HEAD = (
    update(ProcessInstance)
    .where(ProcessInstance.id == bindparam("iid"), ProcessInstance.version == bindparam("v"))
    .values(
        history_seq=bindparam("seq"),
        history_hash=bindparam("hash"),
        version=ProcessInstance.version + 1,
    )
)


_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
try:  # the C encoder behind _CANONICAL.encode, called directly (the hashed values are a flat
    # list of texts, numbers and None, so there is nothing for its markers to catch)
    from _json import make_encoder as _make_encoder

    _canonical_chunks = _make_encoder(
        None,
        _CANONICAL.default,
        json.encoder.encode_basestring,
        None,
        ":",
        ",",
        False,
        False,
        True,
    )
except ImportError:  # pragma: no cover
    _canonical_chunks = None


def instance_stream(instance_id: int) -> str:
    return f"instance:{instance_id}"


@dataclass
class PendingEvent:
    """An event recorded during a step, written (and hashed) when the step commits."""

    kind: str
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    element_id: str | None = None
    task_id: int | None = None


def _digest(
    stream: str,
    seq: int,
    at: datetime,
    actor: str,
    kind: str,
    element_id: str | None,
    task_id: int | None,
    data: str,
    prev_hash: str,
) -> str:
    return _digest_text(
        stream,
        seq,
        to_storage(at).isoformat(timespec="microseconds"),
        actor,
        kind,
        element_id,
        task_id,
        data,
        prev_hash,
    )


def _digest_text(
    stream: str,
    seq: int,
    at_text: str,
    actor: str,
    kind: str,
    element_id: str | None,
    task_id: int | None,
    data: str,
    prev_hash: str,
) -> str:
    """The hash of one event; `at_text` is its naive-UTC time in ISO form."""
    fields = [stream, seq, at_text, actor, kind, element_id, task_id, data, prev_hash]
    if _canonical_chunks is None:
        canonical = _CANONICAL.encode(fields)
    else:
        canonical = "".join(_canonical_chunks(fields, 0))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class History:
    """Writes and reads the log; `verify` checks every chain."""

    def __init__(self, dump_data) -> None:  # type: ignore[no-untyped-def]
        self._dump = dump_data

    def chain(
        self,
        stream: str,
        instance_id: int | None,
        seq: int,
        prev: str,
        events: list[PendingEvent],
        at: datetime,
    ) -> tuple[list[dict[str, Any]], int, str]:
        """The rows for `events` appended after head (`seq`, `prev`), and the new head.

        The caller inserts the rows and stores the head in the same transaction (instance row
        or `history_head`)."""
        stored_at = to_storage(at)
        at_text = stored_at.isoformat(timespec="microseconds")  # the same for every event
        rows = []
        for ev in events:
            seq += 1
            data = "{}" if type(ev.data) is dict and not ev.data else self._dump(ev.data)
            digest = _digest_text(
                stream, seq, at_text, ev.actor, ev.kind, ev.element_id, ev.task_id, data, prev
            )
            rows.append(
                {
                    "stream": stream,
                    "seq": seq,
                    "instance_id": instance_id,
                    "at": stored_at,
                    "actor": ev.actor,
                    "kind": ev.kind,
                    "element_id": ev.element_id,
                    "task_id": ev.task_id,
                    "data": data,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        return rows, seq, prev

    def write(
        self,
        conn: Connection,
        stream: str,
        instance_id: int | None,
        seq: int,
        prev: str,
        events: list[PendingEvent],
        at: datetime,
    ) -> tuple[int, str]:
        """Append through SQLAlchemy (outside the step's hot path); returns the new head."""
        rows, seq, prev = self.chain(stream, instance_id, seq, prev, events, at)
        if rows:
            conn.execute(_INSERT_EVENT, rows)
        return seq, prev

    def append_to_instance(
        self, conn: Connection, instance_id: int, events: list[PendingEvent], at: datetime
    ) -> None:
        """Append outside a step (claims): read and move the instance's head, bumping its
        version so a concurrent step notices."""
        head = conn.execute(_SELECT_HEAD, {"iid": instance_id}).one()
        seq, digest = self.write(
            conn,
            instance_stream(instance_id),
            instance_id,
            head.history_seq,
            head.history_hash,
            events,
            at,
        )
        updated = conn.execute(
            _UPDATE_HEAD, {"iid": instance_id, "v": head.version, "seq": seq, "hash": digest}
        )
        if updated.rowcount != 1:
            raise Conflict(f"Instance {instance_id} changed at the same time; try again.")

    def append_to_repository(
        self, session: Session, events: list[PendingEvent], at: datetime
    ) -> None:
        head = session.get(HistoryHead, REPOSITORY_STREAM, with_for_update=True)
        if head is None:
            head = HistoryHead(stream=REPOSITORY_STREAM, seq=0, hash="")
            session.add(head)
        head.seq, head.hash = self.write(
            session.connection(), REPOSITORY_STREAM, None, head.seq, head.hash, events, at
        )

    def events(self, session: Session, instance_id: int) -> list[dict[str, Any]]:
        rows = session.scalars(
            select(HistoryEvent)
            .where(HistoryEvent.stream == instance_stream(instance_id))
            .order_by(HistoryEvent.seq)
        )
        return [
            {
                "seq": r.seq,
                "at": from_storage(r.at),
                "actor": r.actor,
                "kind": r.kind,
                "element_id": r.element_id,
                "task_id": r.task_id,
                "data": json.loads(r.data),
            }
            for r in rows
        ]

    # -- verification -----------------------------------------------------------------------

    def verify(self, session: Session) -> list[str]:
        """Every discrepancy found, as sentences naming the stream and sequence number."""
        problems: list[str] = []
        heads = {
            instance_stream(i): (s, h)
            for i, s, h in session.execute(
                select(
                    ProcessInstance.id, ProcessInstance.history_seq, ProcessInstance.history_hash
                )
            )
        }
        heads.update(
            {
                s: (q, h)
                for s, q, h in session.execute(
                    select(HistoryHead.stream, HistoryHead.seq, HistoryHead.hash)
                )
            }
        )
        seen: set[str] = set()
        for stream, rows in self._streams(session):
            seen.add(stream)
            problems.extend(self._verify_stream(stream, rows, heads.get(stream)))
        for stream, (seq, _h) in heads.items():
            if stream not in seen and seq > 0:
                problems.append(f"{stream}: all {seq} events are missing (deleted)")
        return problems

    def _streams(self, session: Session) -> Iterator[tuple[str, list[HistoryEvent]]]:
        streams = session.scalars(
            select(HistoryEvent.stream).distinct().order_by(HistoryEvent.stream)
        )
        for stream in list(streams):
            rows = list(
                session.scalars(
                    select(HistoryEvent)
                    .where(HistoryEvent.stream == stream)
                    .order_by(HistoryEvent.seq)
                )
            )
            yield stream, rows

    def _verify_stream(
        self, stream: str, rows: list[HistoryEvent], head: tuple[int, str] | None
    ) -> list[str]:
        problems: list[str] = []
        prev_hash, expected_seq = "", 1
        for row in rows:
            if row.seq != expected_seq:
                problems.append(
                    f"{stream}: event {expected_seq} is missing (deleted) before event {row.seq}"
                    if row.seq > expected_seq
                    else f"{stream}: event {row.seq} is out of sequence (inserted)"
                )
            digest = _digest(
                stream,
                row.seq,
                row.at,
                row.actor,
                row.kind,
                row.element_id,
                row.task_id,
                row.data,
                row.prev_hash,
            )
            if digest != row.hash:
                problems.append(
                    f"{stream}: event {row.seq} ({row.kind}) was changed after it "
                    "was written (its hash does not match its content)"
                )
            elif row.prev_hash != prev_hash:
                problems.append(
                    f"{stream}: event {row.seq} ({row.kind}) does not follow the "
                    "event before it (an event was inserted or deleted)"
                )
            prev_hash, expected_seq = row.hash, row.seq + 1
        if head is None:
            problems.append(f"{stream}: has events but no recorded head (inserted stream)")
        else:
            head_seq, head_hash = head
            last = rows[-1] if rows else None
            if last is not None and last.seq > head_seq:
                problems.append(
                    f"{stream}: events after {head_seq} were appended outside the engine (inserted)"
                )
            elif last is None or last.seq < head_seq:
                problems.append(
                    f"{stream}: the last {head_seq - (last.seq if last else 0)} "
                    "event(s) are missing (deleted)"
                )
            elif last.hash != head_hash:
                problems.append(
                    f"{stream}: the last event does not match the recorded head "
                    "(changed or replaced)"
                )
        return problems

    def count(self, session: Session) -> int:
        return session.scalar(select(func.count()).select_from(HistoryEvent)) or 0
