"""Files attached to task forms: store, list, fetch, and who may see them.

A form field with `"ui:widget": "file"` (the lägesbild's sources, the guideline draft) gets
an uploaded file. The file goes into the `attachment` table, in the same database as the
case, and the form's value becomes a short reference, `attachment:<id>/<file name>` — text,
so it fits the forms' `"type": "string"` fields, stays readable in the process data and the
history, and never puts megabytes into a serialized workflow.

Who may download a file follows who may see the case's tasks: one instance of the plan
cycle holds every organisation's lägesbild, so "may see the instance" would let Farsta read
Bromma's files. The rule is therefore per organisation: a user sees an attachment if they
may see (work on, or have worked on) a task of the same instance for the attachment's
organisation — or a city-wide task of that instance (the coordinator and the council, whose
tasks gather every organisation's work). Administrators and auditors see all.

The file's bytes live in the row itself (`attachment.content`): there is no file on disk
beside it, so a row and its file are created and deleted in one transaction, and a crash
cannot leave one without the other. What can be left behind is a row nothing refers to (a
draft replaced the file, or an upload whose form was never saved);
`processes.attachment_cleanup` removes those. How much one task and one person may keep is
bounded by `processes.attachment_quotas`.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath

from sqlalchemy import select

from engine import Actor, Engine
from engine.clock import from_storage, to_storage
from engine.errors import NotFound, NotPermitted, ValidationError
from engine.models import HumanTask
from engine.tasks import TaskInfo

from . import attachment_quotas
from .models import Attachment

MAX_SIZE = 20 * 1024 * 1024
"""Largest file accepted (the web UI's request limit is 25 MB, for the rest of the form)."""

EXTENSIONS = frozenset(
    {
        "pdf", "doc", "docx", "odt", "rtf", "txt", "csv", "xls", "xlsx", "ods",
        "ppt", "pptx", "odp", "png", "jpg", "jpeg", "gif", "webp",
    }
)  # fmt: skip
"""Office documents, text, spreadsheets and images: what the city's staff attach. Anything
else (executables, HTML that a browser might run) is refused with this list in the message."""

_REFERENCE = re.compile(r"^attachment:(\d+)/(.*)$", re.DOTALL)
READ_ALL_ROLES = frozenset({"auditor"})


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    instance_id: int
    task_id: int | None
    organisation: str | None
    field: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime

    @property
    def reference(self) -> str:
        """The form value that stands for this file."""
        return reference(self.id, self.filename)

    @classmethod
    def of(cls, row: Attachment) -> AttachmentInfo:
        return cls(
            row.id,
            row.instance_id,
            row.task_id,
            row.organisation_id,
            row.field,
            row.filename,
            row.content_type,
            row.size,
            row.sha256,
            row.uploaded_by,
            from_storage(row.uploaded_at),
        )


def reference(attachment_id: int, filename: str) -> str:
    return f"attachment:{attachment_id}/{filename}"


def parse_reference(value: object) -> int | None:
    """The attachment id in a form value, or None if the value is not a reference."""
    if not isinstance(value, str):
        return None
    match = _REFERENCE.match(value)
    return int(match.group(1)) if match else None


def safe_filename(name: str) -> str:
    """The file's own name without any directory, control characters or leading dots, at
    most 200 characters (the extension kept): safe in a Content-Disposition header."""
    name = unicodedata.normalize("NFC", name or "")
    name = PurePath(name.replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '/\\:*?"<>|')
    name = name.strip().lstrip(".")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 199 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else name[:200]
    return name or "bilaga"


def content_type_of(filename: str) -> str:
    """The type served on download: from the extension (never what the browser claimed)."""
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


# -- permissions ------------------------------------------------------------------------------


def may_attach(actor: Actor, task: TaskInfo) -> bool:
    """Whoever may work on an open task may attach a file to its form."""
    if task.state != "open":
        return False
    if actor.admin or task.assignee == actor.id:
        return True
    if task.assignee is not None:
        return False
    return (
        actor.id in task.candidate_users
        or bool(actor.roles & set(task.candidate_groups))
        or actor.holds(task.role, task.organisation)
    )


def _sees_task(actor: Actor, row: HumanTask) -> bool:
    if actor.id in (row.assignee, row.completed_by, row.claimed_by):
        return True
    return (
        actor.id in json.loads(row.candidate_users or "[]")
        or bool(actor.roles & set(json.loads(row.candidate_groups or "[]")))
        or actor.holds(row.role, row.organisation)
    )


def _scope(engine: Engine, actor: Actor, instance_id: int) -> tuple[bool, set[str]]:
    """(sees every organisation's attachments of the instance, organisations it sees)."""
    if actor.admin or actor.roles & READ_ALL_ROLES:
        return True, set()
    with engine.db.read() as session:
        rows = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id))
        orgs: set[str] = set()
        for row in rows:
            if not _sees_task(actor, row):
                continue
            if row.organisation is None:
                return True, set()
            orgs.add(row.organisation)
    return False, orgs


def may_view(engine: Engine, actor: Actor, attachment: AttachmentInfo) -> bool:
    if attachment.uploaded_by == actor.id:
        return True
    everything, orgs = _scope(engine, actor, attachment.instance_id)
    return everything or attachment.organisation in orgs


# -- storing and reading --------------------------------------------------------------------


def store(
    engine: Engine,
    task: TaskInfo,
    field: str,
    filename: str,
    content: bytes,
    actor: Actor,
    replacing: int | None = None,
    quotas: attachment_quotas.Quotas | None = None,
) -> AttachmentInfo:
    """Keep an uploaded file for `field` (a JSON pointer) of `task`'s form.

    Refuses (ValidationError, with a message for the person uploading) an empty file, a
    file over MAX_SIZE and a type outside EXTENSIONS, and (`attachment_quotas.QuotaExceeded`)
    a file that would take the task or the person past their quota; NotPermitted if the
    actor may not work on the task. `replacing` is the attachment the form showed in the
    same field, which this file takes the place of: it does not count towards the quotas
    (it goes once the form is saved), provided it really is this task's file for this
    field."""
    if not may_attach(actor, task):
        raise NotPermitted(f"{actor.id} may not attach files to task {task.id}.")
    name = safe_filename(filename)
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if extension not in EXTENSIONS:
        raise ValidationError(
            f"Files of type '.{extension}' cannot be attached; use one of "
            + ", ".join(sorted(EXTENSIONS))
            + "."
        )
    if not content:
        raise ValidationError(f"The file {name} is empty.")
    if len(content) > MAX_SIZE:
        raise ValidationError(f"The file {name} is larger than {MAX_SIZE // (1024 * 1024)} MB.")
    quotas = quotas or attachment_quotas.Quotas.from_env()
    with engine.db.write() as session:
        # The task's row is the lock: two uploads to one task are counted one after the
        # other (PostgreSQL; on SQLite every write transaction is alone anyway).
        state = session.scalar(
            select(HumanTask.state).where(HumanTask.id == task.id).with_for_update()
        )
        if state != "open":
            raise NotPermitted(f"Task {task.id} is no longer open; nothing was attached.")
        attachment_quotas.check(session, task, field, name, len(content), actor, replacing, quotas)
        row = Attachment(
            instance_id=task.instance_id,
            task_id=task.id,
            organisation_id=task.organisation,
            field=field[:500],
            filename=name,
            content_type=content_type_of(name),
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            content=content,
            uploaded_by=actor.id,
            uploaded_at=to_storage(engine.clock.now()),
        )
        session.add(row)
        session.flush()
        return AttachmentInfo.of(row)


def get(engine: Engine, attachment_id: int) -> AttachmentInfo:
    with engine.db.read() as session:
        row = session.get(Attachment, attachment_id)
        if row is None:
            raise NotFound(f"There is no attachment {attachment_id}.")
        return AttachmentInfo.of(row)


def content(engine: Engine, attachment_id: int) -> bytes:
    with engine.db.read() as session:
        data = session.scalar(select(Attachment.content).where(Attachment.id == attachment_id))
        if data is None:
            raise NotFound(f"There is no attachment {attachment_id}.")
        return bytes(data)


def list_for_instance(
    engine: Engine,
    instance_id: int,
    actor: Actor | None = None,
    organisation: str | None = None,
) -> list[AttachmentInfo]:
    """The instance's attachments, oldest first; with `actor`, only those they may see; with
    `organisation`, only that organisation's."""
    columns = [c for c in Attachment.__table__.columns if c.name != "content"]  # type: ignore[attr-defined]
    with engine.db.read() as session:
        query = select(*columns).where(Attachment.instance_id == instance_id)
        if organisation is not None:
            query = query.where(Attachment.organisation_id == organisation)
        rows = session.execute(query.order_by(Attachment.id)).all()
    found = [
        AttachmentInfo(
            r.id,
            r.instance_id,
            r.task_id,
            r.organisation_id,
            r.field,
            r.filename,
            r.content_type,
            r.size,
            r.sha256,
            r.uploaded_by,
            from_storage(r.uploaded_at),
        )
        for r in rows
    ]
    if actor is None or not found:
        return found
    everything, orgs = _scope(engine, actor, instance_id)
    return [a for a in found if everything or a.uploaded_by == actor.id or a.organisation in orgs]


def discard(engine: Engine, attachment_ids: list[int]) -> None:
    """Delete attachments uploaded with a submission that did not go through (the task was
    completed by someone else meanwhile): a failed completion leaves nothing behind."""
    if not attachment_ids:
        return
    with engine.db.write() as session:
        for row in session.scalars(select(Attachment).where(Attachment.id.in_(attachment_ids))):
            session.delete(row)
