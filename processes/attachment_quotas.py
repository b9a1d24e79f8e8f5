"""How much one task and one person may keep in attached files, and how much they do.

Two limits, both from the environment (whole megabytes, read at every upload so a change
applies without a restart; a bad value is refused when the web app starts):

- `KEDJA_UPLOAD_QUOTA_TASK_MB` (default 100): every file kept for one task — the files its
  draft or its completion refers to, and uploads not yet cleaned up. Five files of the
  largest size (`processes.attachments.MAX_SIZE`, 20 MB): a lägesbild with its sources.
- `KEDJA_UPLOAD_QUOTA_USER_MB` (default 500): every file one person keeps in the tasks they
  have not completed yet (a coordinator works on many at once). Completed tasks do not count
  towards a person: their files are the record, and each task's own quota bounds them.

A file that would pass either limit is refused with `QuotaExceeded`; the web form shows the
reason beside the field and keeps everything else that was typed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import Actor
from engine.errors import ValidationError
from engine.models import HumanTask
from engine.tasks import TaskInfo

from .models import Attachment

MB = 1024 * 1024
TASK_QUOTA_ENV = "KEDJA_UPLOAD_QUOTA_TASK_MB"
USER_QUOTA_ENV = "KEDJA_UPLOAD_QUOTA_USER_MB"
TASK_QUOTA_MB = 100
"""Files one task may keep (five files of the largest size): a lägesbild with its sources."""
USER_QUOTA_MB = 500
"""Files one person may keep in tasks that are not completed yet (a coordinator works on
many at once)."""
MAX_QUOTA_MB = 1024 * 1024  # a terabyte: beyond any installation, and still a number


class QuotaExceeded(ValidationError):
    """The file would take a task (`scope` "task") or a person (`scope` "user") past its
    quota; `limit` and `used` are in bytes, `used` without the file."""

    def __init__(self, scope: str, filename: str, limit: int, used: int) -> None:
        who = "this task's files" if scope == "task" else "your files in open tasks"
        super().__init__(
            f"The file {filename} does not fit: {who} may take {limit // MB} MB together and "
            f"{used / MB:.1f} MB are used; remove a file or attach a smaller one."
        )
        self.scope, self.filename, self.limit, self.used = scope, filename, limit, used


def _megabytes(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_QUOTA_MB:
        raise ValidationError(
            f"{name} must be a whole number of megabytes from 1 to {MAX_QUOTA_MB}, not "
            f"{raw!r}. Unset it for the default of {default} MB."
        )
    return value


@dataclass(frozen=True)
class Quotas:
    """The two limits in bytes (see the module docstring)."""

    task_bytes: int = TASK_QUOTA_MB * MB
    user_bytes: int = USER_QUOTA_MB * MB

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Quotas:
        env = os.environ if env is None else env
        return cls(
            _megabytes(env, TASK_QUOTA_ENV, TASK_QUOTA_MB) * MB,
            _megabytes(env, USER_QUOTA_ENV, USER_QUOTA_MB) * MB,
        )


def check(
    session: Session,
    task: TaskInfo,
    field: str,
    name: str,
    size: int,
    actor: Actor,
    replacing: int | None,
    quotas: Quotas,
) -> None:
    """Raise `QuotaExceeded` if `size` more bytes for `task` by `actor` pass a limit. Runs
    in the upload's transaction, after the task's row is locked."""
    excluded = []
    if replacing is not None:
        replaced = session.get(Attachment, replacing)
        if replaced is not None and replaced.task_id == task.id and replaced.field == field:
            excluded = [Attachment.id != replacing]
    used = session.scalar(
        select(func.coalesce(func.sum(Attachment.size), 0)).where(
            Attachment.task_id == task.id, *excluded
        )
    )
    if used + size > quotas.task_bytes:
        raise QuotaExceeded("task", name, quotas.task_bytes, int(used))
    used = session.scalar(
        select(func.coalesce(func.sum(Attachment.size), 0))
        .join(HumanTask, HumanTask.id == Attachment.task_id)
        .where(Attachment.uploaded_by == actor.id, HumanTask.state == "open", *excluded)
    )
    if used + size > quotas.user_bytes:
        raise QuotaExceeded("user", name, quotas.user_bytes, int(used))
