"""Files in task forms, for one request: store the uploads, decide which kept file values
may stay, link to the files a form shows, and let go of the files the request replaced or
dropped (`processes.attachment_cleanup` decides which really go; `processes.attachment_quotas`
refuses a file that does not fit, with the reason shown beside its field).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _

from engine import Actor, Engine
from engine.errors import NotFound, NotPermitted, ValidationError
from engine.tasks import TaskInfo
from processes import attachment_cleanup, attachment_quotas, attachments


class Files:
    """File fields of one request: store uploads, say which kept values may stay, link to
    the files a form shows, and afterwards release the files the request let go of."""

    def __init__(
        self,
        eng: Engine,
        task: TaskInfo,
        actor: Actor,
        known: list[Any],
        sent: Any = None,
    ) -> None:
        self.eng = eng
        self.task = task
        self.actor = actor
        self.known = known  # values the server itself put in the form (draft, case data)
        self.sent = sent  # the submitted form (request.form), when there is one
        self.stored: list[int] = []
        self._cache: dict[int, attachments.AttachmentInfo | None] = {}

    def info(self, attachment_id: int) -> attachments.AttachmentInfo | None:
        if attachment_id not in self._cache:
            try:
                self._cache[attachment_id] = attachments.get(self.eng, attachment_id)
            except NotFound:
                self._cache[attachment_id] = None
        return self._cache[attachment_id]

    def store(self, pointer: str, upload: Any) -> str:
        name = attachments.safe_filename(upload.filename or "")
        extension = name.rpartition(".")[2].lower() if "." in name else ""
        if extension not in attachments.EXTENSIONS:
            raise ValueError(
                _(
                    "Filen %(name)s kan inte bifogas. Tillåtna filtyper: %(types)s.",
                    name=name,
                    types=", ".join(sorted(attachments.EXTENSIONS)),
                )
            )
        content = upload.read(attachments.MAX_SIZE + 1)
        if not content:
            raise ValueError(_("Filen %(name)s är tom.", name=name))
        if len(content) > attachments.MAX_SIZE:
            raise ValueError(
                _(
                    "Filen %(name)s är större än %(mb)s MB.",
                    name=name,
                    mb=attachments.MAX_SIZE // (1024 * 1024),
                )
            )
        replacing = attachments.parse_reference(self.sent.get(pointer) if self.sent else None)
        try:
            info = attachments.store(
                self.eng, self.task, pointer, name, content, self.actor, replacing=replacing
            )
        except attachment_quotas.QuotaExceeded as exc:
            raise ValueError(quota_message(exc)) from exc
        except (ValidationError, NotPermitted) as exc:
            raise ValueError(_("Filen %(name)s kunde inte sparas.", name=name)) from exc
        self.stored.append(info.id)
        self._cache[info.id] = info
        return info.reference

    def accept(self, pointer: str, value: str) -> bool:
        """A kept file value stays if it is an attachment of this case for the task's
        organisation, or a value the server itself showed (never one a tampered form
        invents)."""
        attachment_id = attachments.parse_reference(value)
        if attachment_id is None:
            return value in self.known
        info = self.info(attachment_id)
        return (
            info is not None
            and info.instance_id == self.task.instance_id
            and info.organisation == self.task.organisation
        )

    def released(self) -> set[int]:
        """The files this request may have let go of: those of the task's old draft, those
        the form showed (kept or ticked for removal) and those it stored. Which of them
        really go is `attachment_cleanup.release`'s decision."""
        ids = attachment_cleanup.references(self.task.draft or {}) | set(self.stored)
        if self.sent is not None:
            for _name, values in self.sent.lists():
                ids |= attachment_cleanup.references(values)
        return ids

    def link(self, value: str) -> tuple[str, str] | None:
        attachment_id = attachments.parse_reference(value)
        if attachment_id is None:
            return None
        info = self.info(attachment_id)
        if info is None or not attachments.may_view(self.eng, self.actor, info):
            return None
        return url_for(".attachment", attachment_id=info.id), info.filename


def quota_message(exc: attachment_quotas.QuotaExceeded) -> str:
    limit = exc.limit // attachment_quotas.MB
    used = format_decimal(round(exc.used / attachment_quotas.MB, 1))
    if exc.scope == "task":
        return _(
            "Filen %(name)s ryms inte: uppgiftens bifogade filer får vara högst %(limit)s MB "
            "tillsammans, och %(used)s MB används redan. Ta bort en fil du inte behöver eller "
            "bifoga en mindre.",
            name=exc.filename,
            limit=limit,
            used=used,
        )
    return _(
        "Filen %(name)s ryms inte: dina bifogade filer i uppgifter som inte är slutförda får "
        "vara högst %(limit)s MB tillsammans, och %(used)s MB används redan. Ta bort filer du "
        "inte behöver eller slutför andra uppgifter först.",
        name=exc.filename,
        limit=limit,
        used=used,
    )


def release(eng: Engine, files: Files, shown: dict[str, Any]) -> None:
    """Let go of the files this request replaced or dropped (what the page shows again, in
    `shown`, stays). A failure here never costs the person their answer: the nightly sweep
    tries again."""
    try:
        attachment_cleanup.release(
            eng, files.task.id, files.released(), keep=attachment_cleanup.references(shown)
        )
    except Exception:  # the form is saved either way; log and leave it for the sweep
        current_app.logger.exception("releasing attachments of task %s failed", files.task.id)


def known_values(data: Any) -> list[Any]:
    """Every string in `data` (the values a file field may legitimately keep)."""
    if isinstance(data, dict):
        return [v for item in data.values() for v in known_values(item)]
    if isinstance(data, list):
        return [v for item in data for v in known_values(item)]
    return [data] if isinstance(data, str) else []


def sweep_case(eng: Engine, instance_id: int) -> None:
    """After a completion: the task's files its final data does not hold go now (and
    whatever else of the case nothing refers to); a failure is left for the nightly sweep."""
    try:
        attachment_cleanup.sweep_instance(eng, instance_id)
    except Exception:  # the completion is committed either way
        current_app.logger.exception("sweeping the attachments of instance %s failed", instance_id)


def discard(eng: Engine, files: Files) -> None:
    """Files uploaded with a submission that did not go through are not kept: nothing of
    a failed completion stays behind."""
    if files.stored:
        attachments.discard(eng, files.stored)
        files.stored.clear()
