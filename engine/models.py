"""The engine's tables.

One SQLAlchemy 2.x declarative model per table. Alembic migrations in `engine/migrations`
create them; these classes are the single description of the schema the code relies on (a
test compares them with the migrated database).

Conventions: timestamps are naive UTC (`engine.clock` hands out aware UTC datetimes and the
persistence layer strips the zone), JSON documents are stored as text we encode ourselves so
that key order survives PostgreSQL (SpiffWorkflow's delta-encoded task data depends on
parent-first order of the task mapping).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Deployment(Base):
    """One `deploy` call: who deployed which bundle when. Its files are kept verbatim."""

    __tablename__ = "deployment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployed_at: Mapped[datetime] = mapped_column(DateTime)
    deployed_by: Mapped[str] = mapped_column(String(200))
    bundle_hash: Mapped[str] = mapped_column(String(64), index=True)


class BundleFile(Base):
    __tablename__ = "bundle_file"
    __table_args__ = (UniqueConstraint("deployment_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"))
    name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ProcessDefinition(Base):
    """A versioned, executable process: key = BPMN process id, version counts content changes."""

    __tablename__ = "process_definition"
    __table_args__ = (
        UniqueConstraint("key", "version"),
        Index("ix_process_definition_key_hash", "key", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"))
    deployed_at: Mapped[datetime] = mapped_column(DateTime)
    deployed_by: Mapped[str] = mapped_column(String(200))
    # The files (names within the deployment) this process needs, JSON list.
    files: Mapped[str] = mapped_column(Text)
    # user task element id -> form schema file name, JSON object.
    forms: Mapped[str] = mapped_column(Text)
    # SpiffWorkflow's serialized spec and subprocess specs, so starting an instance never
    # re-parses XML. JSON object {"spec": ..., "subprocess_specs": ...}.
    spec_json: Mapped[str] = mapped_column(Text)
    # Message names that start this process (message start events), JSON list.
    start_messages: Mapped[str] = mapped_column(Text, default="[]")
    # The privileged service calls in this version, JSON list of {element, operator,
    # privilege}; and whether the version may run (engine/approvals.py): not_needed,
    # awaiting, approved or refused, with who decided, when and why.
    privileged_calls: Mapped[str] = mapped_column(Text, default="[]")
    approval: Mapped[str] = mapped_column(String(20), default="not_needed")
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    approval_note: Mapped[str | None] = mapped_column(Text)


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_process_instance_key_state", "key", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    # running | suspended | completed | terminated
    state: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    started_by: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Optimistic lock: every committed change increments it, written with
    # `UPDATE ... WHERE version = <what I read>`; a stale writer gets `Conflict`.
    version: Mapped[int] = mapped_column(Integer)
    workflow_state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(20))
    # Head of this instance's hash-chained history (see engine/history.py).
    history_seq: Mapped[int] = mapped_column(Integer, default=0)
    history_hash: Mapped[str] = mapped_column(String(64), default="")
    # Unresolved incidents; while > 0 the engine applies people's changes but does not
    # continue the instance until an administrator retries.
    open_incidents: Mapped[int] = mapped_column(Integer, default=0)


class Incident(Base):
    """A step that failed: the instance waits at its last committed state until retried."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_instance_open", "instance_id", "resolved_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    element_id: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    # A retry that fails the same way counts here instead of opening a second incident.
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(200))


OPEN = text("state = 'open'")


class HumanTask(Base):
    """A READY user or manual task, mirrored so task lists are indexed queries."""

    __tablename__ = "human_task"
    __table_args__ = (
        # Task lists ask for open tasks; partial indexes hold only those, so completing a
        # task removes its entries instead of moving them, and the indexes stay small.
        # Lists are sorted by due date, so it ends each index.
        Index(
            "ix_human_task_open_role_org",
            "role",
            "organisation",
            "due_at",
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        ),
        Index(
            "ix_human_task_open_assignee",
            "assignee",
            "due_at",
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        ),
        Index("ix_human_task_instance_state", "instance_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    definition_key: Mapped[str] = mapped_column(String(200))
    definition_version: Mapped[int] = mapped_column(Integer)
    spiff_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(500))
    documentation: Mapped[str | None] = mapped_column(Text)
    lane: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100))
    organisation: Mapped[str | None] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(200))
    candidate_users: Mapped[str] = mapped_column(Text, default="[]")
    candidate_groups: Mapped[str] = mapped_column(Text, default="[]")
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    priority: Mapped[int] = mapped_column(Integer, default=50)
    form_schema: Mapped[str | None] = mapped_column(String(500))
    form_ui_schema: Mapped[str | None] = mapped_column(String(500))
    # open | completed | cancelled
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_by: Mapped[str | None] = mapped_column(String(200))
    draft: Mapped[str | None] = mapped_column(Text)
    draft_saved_at: Mapped[datetime | None] = mapped_column(DateTime)


class TaskCandidate(Base):
    """Candidate users and groups of a task, one row each, so "claimable by me" is indexed."""

    __tablename__ = "task_candidate"
    __table_args__ = (Index("ix_task_candidate_kind_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # user | group
    value: Mapped[str] = mapped_column(String(200))


class HistoryEvent(Base):
    """Append-only, hash-chained event log; one chain ("stream") per instance."""

    __tablename__ = "history_event"
    __table_args__ = (UniqueConstraint("stream", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stream: Mapped[str] = mapped_column(String(60))
    seq: Mapped[int] = mapped_column(Integer)
    # Not indexed: an instance's events are read by `stream`, which names the instance.
    instance_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(60))
    element_id: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class HistoryHead(Base):
    """Head of a chain that has no instance row to hold it (deployments: stream 'repository')."""

    __tablename__ = "history_head"

    stream: Mapped[str] = mapped_column(String(60), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class MessageSubscription(Base):
    """An instance waiting for a message, with the correlation values it would accept."""

    __tablename__ = "message_subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    message_name: Mapped[str] = mapped_column(String(200), index=True)
    element_id: Mapped[str] = mapped_column(String(200))
    correlation: Mapped[str] = mapped_column(Text, default="{}")


class MessageOutbox(Base):
    """A message thrown by an instance, delivered to its receiver in the receiver's own step."""

    __tablename__ = "message_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_instance_id: Mapped[int | None] = mapped_column(Integer)
    message_name: Mapped[str] = mapped_column(String(200), index=True)
    payload: Mapped[str] = mapped_column(Text)
    correlation: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


WAITING = text("state = 'waiting'")


class Timer(Base):
    """A waiting timer: what fires when.

    Instance timers (intermediate, boundary, in subprocesses) are synced after every step from
    the instance's waiting timer events; the row goes when the timer fires or its task is
    cancelled. Start timers (a process whose start event is a timer) have no instance: the
    newest deployed version of the process owns them, and each firing starts one instance.
    Firing claims the row in the same transaction as the step it causes, so a timer fires
    once however many workers look at it.
    """

    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_due", "due_at", sqlite_where=WAITING, postgresql_where=WAITING),
        UniqueConstraint("instance_id", "spiff_task_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    # Start timers: the process key they start, and for cycles {"cycles": n, "every": seconds}.
    definition_key: Mapped[str | None] = mapped_column(String(200))
    schedule: Mapped[str | None] = mapped_column(Text)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    # timeDate | timeDuration | timeCycle
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(DateTime)
    # waiting (a row exists only while its timer waits; a failed firing moves `due_at` on)
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
