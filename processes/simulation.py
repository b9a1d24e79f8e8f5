"""`kedja simulate`: a year of the processes, in seconds, on a throwaway copy.

A process owner wants to see what a diagram will do before it runs for real: which tasks
appear for whom and when, when reminders and escalations fire, when instances end. The
simulation copies the database (so nothing real changes; an empty one gets the demo city),
optionally deploys the new diagrams into the copy, starts instances with the governance
calendar's variables (with `year_processes`, every yearly process of the city), and then
moves a simulated clock from timer to timer, firing each. With `auto_complete`, every task is
completed the moment it appears, with its form's defaults or first valid values; without it,
nobody acts, which shows the reminders and escalations.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine import Actor, Engine, KedjaError, SimulatedClock, ValidationError, system_actor
from engine.forms import example_data
from engine.models import HistoryEvent, MessageSubscription, ProcessInstance

from . import catalogue, demo, nominations
from .calendar import STOCKHOLM, GovernanceCalendar
from .governance import open_engine, register_of

SIMULATOR = Actor("simulator", admin=True)
MAX_ROUNDS = 100_000
MAX_LOOPS = 5
DEMO_NOMINATIONS = (("Nattvandrarna i Farsta", "Farsta nattvandrare"),)
"""One nomination: with example answers every jury member gives every nomination the same
score, and a tie needs the chair, a person."""


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime  # Europe/Stockholm
    instance: str  # "key#id"
    text: str


def copy_database(source_url: str, folder: Path) -> str:
    """A throwaway SQLite copy of the embedded database (online backup: consistent)."""
    if not source_url.startswith("sqlite:///"):
        raise KedjaError(
            "kedja simulate copies the embedded SQLite database; for PostgreSQL, "
            "simulate against a SQLite database that holds the same deployments "
            "(kedja deploy --db sqlite:///sim.sqlite PATH) with --db."
        )
    source = source_url.removeprefix("sqlite:///")
    target = folder / "simulation.sqlite"
    if Path(source).exists():
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
    return f"sqlite:///{target}"


def simulate(
    source_url: str,
    start: date,
    end: date,
    *,
    deploy: Iterable[str] = (),
    start_keys: Iterable[tuple[str, dict[str, Any]]] = (),
    auto_complete: bool = False,
    year_processes: bool = False,
) -> list[TimelineEntry]:
    folder = Path(tempfile.mkdtemp(prefix="kedja-simulate-"))
    try:
        url = copy_database(source_url, folder)
        clock = SimulatedClock(datetime.combine(start, datetime.min.time(), tzinfo=STOCKHOLM))
        engine = open_engine(url, clock)
        try:
            if demo.is_empty(engine):
                demo.build(engine, start=False)
            return _run(
                engine,
                clock,
                start,
                end,
                list(deploy),
                list(start_keys),
                auto_complete,
                year_processes,
            )
        finally:
            engine.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(
    engine: Engine,
    clock: SimulatedClock,
    start: date,
    end: date,
    deploy: list[str],
    start_keys: list[tuple[str, dict[str, Any]]],
    auto_complete: bool,
    year_processes: bool = False,
) -> list[TimelineEntry]:
    with engine.db.read() as session:
        first_event = (
            session.scalar(select(HistoryEvent.id).order_by(HistoryEvent.id.desc()).limit(1)) or 0
        )
    if deploy:
        # On the throwaway copy the changed diagram runs as if approved: a simulation shows
        # what a version would do before anyone is asked to approve it.
        engine.repository.deploy(deploy, system_actor())
    variables = GovernanceCalendar().variables(start.year)
    for key, data in start_keys:
        engine.runtime.start(key, {**variables, **data}, SIMULATOR)
    if year_processes:
        catalogue.start_year(engine, start.year, SIMULATOR)
    stop = datetime.combine(end, datetime.max.time(), tzinfo=STOCKHOLM)
    skipped: dict[int, str] = {}
    rounds: dict[tuple[int, str, str | None], int] = {}
    nominated = not year_processes
    for _ in range(MAX_ROUNDS):
        if not nominated and _window_open(engine):
            _nominate(engine, clock.now().astimezone(STOCKHOLM).year)
            nominated = True
        if auto_complete:
            _complete_open_tasks(engine, skipped, rounds)
        due = engine.timers.next_due()
        if year_processes:
            new_year = _next_new_year(clock.now())
            if new_year <= stop and (due is None or due >= new_year):
                clock.set(new_year)  # 00:05 on 1 January, as the workers start the year
                catalogue.start_year(engine, new_year.year, SIMULATOR)
                continue
        if due is None or due > stop:
            break
        clock.set(max(due, clock.now()))  # timers already overdue at the start fire at once
        engine.timers.fire_due()
    entries = _timeline(engine, first_event)
    for task_id, reason in skipped.items():
        task = engine.tasks.get(task_id)
        entries.append(
            TimelineEntry(
                task.created_at.astimezone(STOCKHOLM),
                f"{task.definition_key}#{task.instance_id}",
                f"task '{task.name}' left open: {reason}",
            )
        )
    return entries


def _complete_open_tasks(
    engine: Engine, skipped: dict[int, str], rounds: dict[tuple[int, str, str | None], int]
) -> None:
    """Complete every open task: fields the task's data already holds keep their values
    (a pre-filled table stays as it was), the rest get the form's example data. A task whose
    form that does not satisfy (a conditional requirement), or that the process sends back
    round a loop again and again, is left open and reported, so the simulation goes on."""
    for _ in range(MAX_ROUNDS):
        page = engine.tasks.list(limit=100)
        todo = [t for t in page.items if t.id not in skipped]
        if not todo:
            return
        for task in todo:
            key = (task.instance_id, task.element_id, task.organisation)
            rounds[key] = rounds.get(key, 0) + 1
            if rounds[key] > MAX_LOOPS:
                skipped[task.id] = f"auto-completed {MAX_LOOPS} times and sent back each time"
                continue
            data: dict[str, Any] = {}
            if task.form_schema:
                definition = engine.repository.get(task.definition_key, task.definition_version)
                schema = json.loads(engine.repository.form(definition.id, task.form_schema))
                data = _fill(schema, engine.tasks.data(task.id))
            try:
                engine.tasks.complete(task.id, data, _completer(engine, task))
            except ValidationError as exc:
                reason = "; ".join(p.message for p in exc.problems[:3])
                skipped[task.id] = f"its form's example data is not valid ({reason})"


def _completer(engine: Engine, task: Any) -> Actor:
    """Someone who may do the task: a holder of its role (for its organisation), as in the
    city, so that what checks who acted (a decision must come from the deciding body) sees
    what it would see; the simulator itself for a task nobody holds the role for."""
    register = register_of(engine)
    holders = register.users_with_role(task.role, task.organisation) if task.role else []
    return register.actor(holders[0]) if holders else SIMULATOR


def _next_new_year(now: datetime) -> datetime:
    local = now.astimezone(STOCKHOLM)
    return datetime(local.year + 1, 1, 1, 0, 5, tzinfo=STOCKHOLM)


def _fill(schema: dict[str, Any], known: Any) -> Any:
    """What the task already holds where the form has it, example data for the rest
    (row by row in a table: a pre-filled action plan keeps its rows and gets its answers)."""
    kind = schema.get("type")
    if kind == "object" and isinstance(known, dict):
        props = schema.get("properties", {})
        result = {}
        for name, sub in props.items():
            if isinstance(sub, dict) and sub.get("readOnly"):
                # The process sets it; a person may only send it back unchanged
                # (engine/form_contract.py), as a table row's read-only cells are.
                if name in known:
                    result[name] = known[name]
                continue
            if name in known:
                result[name] = _fill(sub, known[name])
            elif name in schema.get("required", []):
                result[name] = example_data(sub)
        return result
    if kind == "array" and isinstance(known, list) and isinstance(schema.get("items"), dict):
        return [_fill(schema["items"], row) for row in known] or example_data(schema)
    if known is None or known == "":
        return example_data(schema)
    return known


def _window_open(engine: Engine) -> bool:
    with engine.db.read() as session:
        return (
            session.scalar(
                select(MessageSubscription.id)
                .where(MessageSubscription.message_name == "nomination")
                .limit(1)
            )
            is not None
        )


def _nominate(engine: Engine, year: int) -> None:
    """A public nomination, as the prize gets them, so the whole prize runs."""
    for nominee, organisation in DEMO_NOMINATIONS:
        nominations.submit(
            engine,
            year,
            {
                "nominee": nominee,
                "nominee_organisation": organisation,
                "description": f"{nominee} gör staden tryggare (simulerad nominering).",
                "nominator_name": "Simulerad nominerare",
                "nominator_email": "nominerare@exempel.se",
                "consent": "ja",
            },
        )


def _timeline(engine: Engine, after_event: int) -> list[TimelineEntry]:
    with engine.db.read() as session:
        keys = dict(session.execute(select(ProcessInstance.id, ProcessInstance.key)).all())
        rows = (
            session.execute(
                select(HistoryEvent).where(HistoryEvent.id > after_event).order_by(HistoryEvent.id)
            )
            .scalars()
            .all()
        )
        entries = []
        for row in rows:
            text = _describe(row.kind, row.element_id, json.loads(row.data))
            if text is None:
                continue
            at = row.at.replace(tzinfo=UTC).astimezone(STOCKHOLM)
            entries.append(
                TimelineEntry(at, f"{keys.get(row.instance_id, '?')}#{row.instance_id}", text)
            )
    return entries


def _describe(kind: str, element: str | None, data: dict[str, Any]) -> str | None:
    if kind == "instance.started":
        return "instance started"
    if kind == "instance.completed":
        return "instance completed"
    if kind == "task.created":
        who = data.get("role") or "anyone"
        if data.get("organisation"):
            who += f" in {data['organisation']}"
        due = f", due {data['due_at'][:10]}" if data.get("due_at") else ""
        return f"task '{data.get('name') or element}' for {who}{due}"
    if kind == "task.completed":
        return f"task '{data.get('name') or element}' completed"
    if kind == "task.cancelled":
        return f"task '{data.get('name') or element}' cancelled"
    if kind == "timer.fired":
        return f"timer '{element}' fired"
    if kind == "incident.created":
        return f"INCIDENT at '{element}': {data.get('message')}"
    return None


def render(entries: list[TimelineEntry]) -> str:
    lines = [f"{e.at:%Y-%m-%d %H:%M}  {e.instance:<24} {e.text}" for e in entries]
    return "\n".join(lines) if lines else "(nothing happened)"
