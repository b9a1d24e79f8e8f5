"""Deploying bundles as versioned process definitions.

A bundle (BPMN, DMN and form files) is read and checked by `engine.bundle` — hardened XML,
the BPMN XSD, SpiffWorkflow's parser, Kedja's rules — and every executable process in it
becomes a definition keyed by its BPMN process id. The version goes up only when the files
that process needs change (a content hash over them): deploying the same thing twice is a
no-op, and a change to one process does not create versions of its neighbours. The files are
stored verbatim with the deployment, so the modeller opens exactly what runs, and the
parsed spec is stored too, so starting an instance never parses XML again.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .actors import Actor
from .approvals import RUNNABLE, initial_state, not_runnable, privileged_calls
from .bundle import Bundle, compile_bundle
from .clock import Clock, from_storage, to_storage
from .database import Database
from .errors import Conflict, NotFound
from .history import History, PendingEvent
from .models import BundleFile, Deployment, ProcessDefinition
from .serialization import StateCodec
from .services import Services
from .start_schedule import StartSchedule
from .timer_rows import StartTimer


@dataclass(frozen=True)
class DefinitionInfo:
    id: int
    key: str
    version: int
    name: str | None
    content_hash: str
    deployed_at: datetime
    deployed_by: str
    files: list[str]
    forms: dict[str, str]

    @classmethod
    def of(cls, row: ProcessDefinition) -> DefinitionInfo:
        return cls(
            row.id,
            row.key,
            row.version,
            row.name,
            row.content_hash,
            from_storage(row.deployed_at),
            row.deployed_by,
            json.loads(row.files),
            json.loads(row.forms),
        )

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["deployed_at"] = self.deployed_at.isoformat()
        return d


@dataclass(frozen=True)
class DeployedProcess:
    definition: DefinitionInfo
    created: bool  # False: the same content was already deployed as this version


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Repository:
    """Deploy bundles; look definitions, their files and their parsed specs up."""

    def __init__(
        self, db: Database, codec: StateCodec, clock: Clock, history: History, script_engine: Any
    ) -> None:
        self.db = db
        self.codec = codec
        self.clock = clock
        self.history = history
        self.script_engine = script_engine
        # Deployed definitions never change: their parsed specs, info and forms are cached.
        self._specs: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._definitions: dict[int, DefinitionInfo] = {}
        self._forms: dict[tuple[int, str], str] = {}
        self._lock = threading.Lock()
        self.start_schedule = StartSchedule(clock, script_engine)

    # -- deploy ---------------------------------------------------------------------------

    def deploy(self, source: Bundle | Iterable[str | Path], actor: Actor) -> list[DeployedProcess]:
        """Deploy every executable process of the bundle; raises `ValidationError` if any
        file has a problem (then nothing is stored)."""
        bundle = source if isinstance(source, Bundle) else Bundle.from_paths(source)
        compiled = compile_bundle(bundle, getattr(self.script_engine, "services", None))
        starts = {
            key: self.start_schedule.evaluate(key, build.spec)
            for key, build in compiled.processes.items()
        }
        file_hashes = {name: _sha(data) for name, data in bundle.files.items()}
        bundle_hash = _sha(json.dumps(sorted(file_hashes.items())).encode())
        now = self.clock.now()
        try:
            with self.db.write() as session:
                results = self._store(
                    starts, session, bundle, compiled, file_hashes, bundle_hash, now, actor
                )
        except IntegrityError as exc:
            raise Conflict(
                "Another deployment of the same process was stored at the same "
                "moment; nothing was saved. Deploy again."
            ) from exc
        return results

    def _store(
        self,
        starts: dict[str, list[StartTimer]],
        session: Session,
        bundle: Bundle,
        compiled: Any,
        file_hashes: dict[str, str],
        bundle_hash: str,
        now: datetime,
        actor: Actor,
    ) -> list[DeployedProcess]:
        results: list[DeployedProcess] = []
        deployment: Deployment | None = None
        events: list[PendingEvent] = []
        for key, build in sorted(compiled.processes.items()):
            content_hash = _sha(json.dumps([(f, file_hashes[f]) for f in build.files]).encode())
            latest = session.scalars(
                select(ProcessDefinition)
                .where(ProcessDefinition.key == key)
                .order_by(ProcessDefinition.version.desc())
                .limit(1)
            ).first()
            if latest is not None and latest.content_hash == content_hash:
                results.append(DeployedProcess(DefinitionInfo.of(latest), created=False))
                continue
            if deployment is None:
                deployment = Deployment(
                    deployed_at=to_storage(now), deployed_by=actor.id, bundle_hash=bundle_hash
                )
                session.add(deployment)
                session.flush()
                for name, data in sorted(bundle.files.items()):
                    session.add(
                        BundleFile(
                            deployment_id=deployment.id,
                            name=name,
                            sha256=file_hashes[name],
                            content=data,
                        )
                    )
            calls = privileged_calls(build.spec, build.subprocess_specs, self.services)
            approval, decided_by = initial_state(calls, actor)
            row = ProcessDefinition(
                key=key,
                version=(latest.version + 1) if latest else 1,
                name=build.name,
                content_hash=content_hash,
                deployment_id=deployment.id,
                deployed_at=to_storage(now),
                deployed_by=actor.id,
                files=json.dumps(build.files),
                forms=json.dumps(build.element_forms),
                spec_json=self.codec.dump_specs(build.spec, build.subprocess_specs),
                start_messages=json.dumps(_start_messages(build.spec)),
                privileged_calls=json.dumps([c.as_dict() for c in calls]),
                approval=approval,
                approved_by=decided_by,
                approved_at=to_storage(now) if decided_by else None,
                approval_note="deployed by the system" if decided_by else None,
            )
            session.add(row)
            session.flush()
            if approval in RUNNABLE:  # an awaiting version's start timers wait for approval
                self.start_schedule.replace(session, key, starts[key], now)
            events.append(
                PendingEvent(
                    "definition.deployed",
                    actor.id,
                    {
                        "key": key,
                        "version": row.version,
                        "content_hash": content_hash,
                        "files": build.files,
                        "approval": approval,
                        "privileged_calls": [c.as_dict() for c in calls],
                    },
                )
            )
            results.append(DeployedProcess(DefinitionInfo.of(row), created=True))
        if events:
            self.history.append_to_repository(session, events, now)
        return results

    def start_timers_after_approval(
        self, session: Session, row: ProcessDefinition, now: datetime
    ) -> None:
        """Called by `Approvals.approve` in its transaction (engine/start_schedule.py)."""
        self.start_schedule.after_approval(session, row, self.specs(row.id)[0], now)

    @property
    def services(self) -> Services:
        return getattr(self.script_engine, "services", None) or Services()

    # -- look-ups -------------------------------------------------------------------------

    def runnable(self, key: str, version: int | None = None) -> DefinitionInfo:
        """The version a start uses: the one asked for, if it may run; else the newest that
        may (a version awaiting approval is not yet in effect)."""
        with self.db.read() as session:
            query = select(ProcessDefinition).where(ProcessDefinition.key == key)
            if version is None:
                query = query.where(ProcessDefinition.approval.in_(RUNNABLE))
                query = query.order_by(ProcessDefinition.version.desc()).limit(1)
            else:
                query = query.where(ProcessDefinition.version == version)
            row = session.scalars(query).first()
            if row is None and version is None:  # deployed, but no version may run yet?
                row = session.scalars(
                    select(ProcessDefinition)
                    .where(ProcessDefinition.key == key)
                    .order_by(ProcessDefinition.version.desc())
                    .limit(1)
                ).first()
            if row is None:
                raise self.not_deployed(key, version)
            if row.approval not in RUNNABLE:
                raise not_runnable(row.key, row.version, row.approval)
            return DefinitionInfo.of(row)

    def definitions(
        self, key: str | None = None, latest_only: bool = False
    ) -> list[DefinitionInfo]:
        with self.db.read() as session:
            query = select(ProcessDefinition)
            if key is not None:
                query = query.where(ProcessDefinition.key == key)
            if latest_only:
                newest = (
                    select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
                    .group_by(ProcessDefinition.key)
                    .subquery()
                )
                query = query.join(
                    newest,
                    (ProcessDefinition.key == newest.c.key)
                    & (ProcessDefinition.version == newest.c.v),
                )
            rows = session.scalars(
                query.order_by(ProcessDefinition.key, ProcessDefinition.version)
            ).all()
            return [DefinitionInfo.of(r) for r in rows]

    def get(self, key: str, version: int | None = None) -> DefinitionInfo:
        with self.db.read() as session:
            return DefinitionInfo.of(self.row(session, key, version))

    def row(self, session: Session, key: str, version: int | None = None) -> ProcessDefinition:
        query = select(ProcessDefinition).where(ProcessDefinition.key == key)
        if version is None:
            query = query.order_by(ProcessDefinition.version.desc()).limit(1)
        else:
            query = query.where(ProcessDefinition.version == version)
        row = session.scalars(query).first()
        if row is None:
            raise self.not_deployed(key, version)
        return row

    def not_deployed(self, key: str, version: int | None) -> NotFound:
        known = ", ".join(d.key for d in self.definitions(latest_only=True)) or "none"
        which = f"'{key}'" + (f" version {version}" if version is not None else "")
        return NotFound(
            f"No process definition {which} is deployed (deployed: {known}). "
            "Deploy it with `kedja deploy PATH`."
        )

    def files(self, definition_id: int) -> dict[str, bytes]:
        """The definition's files exactly as deployed (for the modeller and downloads)."""
        with self.db.read() as session:
            row = session.get(ProcessDefinition, definition_id)
            if row is None:
                raise NotFound(f"There is no process definition with id {definition_id}.")
            names = json.loads(row.files)
            files = session.scalars(
                select(BundleFile).where(
                    BundleFile.deployment_id == row.deployment_id, BundleFile.name.in_(names)
                )
            )
            return {f.name: f.content for f in files}

    def _once(self, store: dict, key: Any, load: Any) -> Any:  # type: ignore[type-arg]
        """Deployed definitions never change: load a thing about one once, then reuse it."""
        with self._lock:
            if key in store:
                return store[key]
        value = load()
        with self._lock:
            store[key] = value
        return value

    def _row_by_id(self, definition_id: int) -> ProcessDefinition:
        with self.db.read() as session:
            row = session.get(ProcessDefinition, definition_id)
            if row is None:
                raise NotFound(f"There is no process definition with id {definition_id}.")
            return row

    def form(self, definition_id: int, name: str) -> str:
        """A form file's text (cached)."""

        def load() -> str:
            files = self.files(definition_id)
            resolved = _resolve_form(name, files)
            if resolved is None:
                raise NotFound(f"The form '{name}' is not part of definition {definition_id}.")
            return files[resolved].decode("utf-8")

        return self._once(self._forms, (definition_id, name), load)

    def approval_state(self, definition_id: int) -> str:
        """not_needed, awaiting, approved or refused, as stored now (never cached: approval
        changes a definition that is otherwise immutable)."""
        with self.db.read() as session:
            state = session.scalar(
                select(ProcessDefinition.approval).where(ProcessDefinition.id == definition_id)
            )
        if state is None:
            raise NotFound(f"There is no process definition with id {definition_id}.")
        return state

    def start_form(self, definition_id: int) -> str | None:
        """The name of the form the process's plain start event names (what a person or an
        integration may give when starting it), or None."""
        spec, _subprocesses = self.specs(definition_id)
        forms = self.definition(definition_id).forms
        for task_spec in spec.task_specs.values():
            if task_spec.bpmn_id in forms and type(task_spec).__name__ == "StartEvent":
                return forms[task_spec.bpmn_id]
        return None

    def definition(self, definition_id: int) -> DefinitionInfo:
        """A definition by id (cached)."""
        return self._once(
            self._definitions,
            definition_id,
            lambda: DefinitionInfo.of(self._row_by_id(definition_id)),
        )

    def specs(self, definition_id: int) -> tuple[Any, dict[str, Any]]:
        """The parsed spec and subprocess specs (cached): starting and loading instances
        never parse XML."""
        return self._once(
            self._specs,
            definition_id,
            lambda: self.codec.load_specs(self._row_by_id(definition_id).spec_json),
        )

    def start_message_definitions(self, message_name: str) -> list[DefinitionInfo]:
        """For each process, its newest version that may run, if a message with this name
        starts it (a version awaiting approval does not start anything yet)."""
        with self.db.read() as session:
            rows = session.execute(
                select(
                    ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.start_messages
                )
                .where(ProcessDefinition.approval.in_(RUNNABLE))
                .order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
            ).all()
        newest: dict[str, tuple[int, str]] = {}
        for definition_id, key, names in rows:
            newest.setdefault(key, (definition_id, names))
        return [
            self.definition(definition_id)
            for _key, (definition_id, names) in sorted(newest.items())
            if message_name in json.loads(names)
        ]


def _resolve_form(name: str, files: dict[str, bytes]) -> str | None:
    """A task's form reference as the bundle names it: as written, or relative to the folder
    of one of the definition's BPMN files (`forms/x.json` beside `prize/prize.bpmn` is
    `prize/forms/x.json` when a whole folder of folders was deployed). Deploy has checked
    that the reference resolves; ambiguity is resolved the way deploy did, as written first."""
    if name in files:
        return name
    folders = sorted({posixpath.dirname(f) for f in files if f.endswith(".bpmn")})
    for folder in folders:
        candidate = posixpath.normpath(posixpath.join(folder, name))
        if candidate in files:
            return candidate
    return None


def _start_messages(spec: Any) -> list[str]:
    names = []
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if (
            isinstance(definition, MessageEventDefinition)
            and type(task_spec).__name__ == "StartEvent"
        ):
            names.append(definition.name)
    return sorted(set(names))
