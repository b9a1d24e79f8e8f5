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

from engine import Actor, Engine, KedjaError, SimulatedClock, ValidationError
from engine.forms import example_data
from engine.models import HistoryEvent, ProcessInstance

from . import catalogue, demo
from .calendar import STOCKHOLM, GovernanceCalendar
from .governance import open_engine

SIMULATOR = Actor("simulator", admin=True)
MAX_ROUNDS = 100_000


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
        engine.repository.deploy(deploy, SIMULATOR)
    variables = GovernanceCalendar().variables(start.year)
    for key, data in start_keys:
        engine.runtime.start(key, {**variables, **data}, SIMULATOR)
    if year_processes:
        catalogue.start_year(engine, start.year, SIMULATOR)
    stop = datetime.combine(end, datetime.max.time(), tzinfo=STOCKHOLM)
    skipped: dict[int, str] = {}
    for _ in range(MAX_ROUNDS):
        if auto_complete:
            _complete_open_tasks(engine, skipped)
        due = engine.timers.next_due()
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
                f"task '{task.name}' left open: its form's example data is not valid ({reason})",
            )
        )
    return entries


def _complete_open_tasks(engine: Engine, skipped: dict[int, str]) -> None:
    """Complete every open task with its form's example data. A task whose form the example
    data does not satisfy (a conditional requirement, a pattern) is left open and reported in
    the timeline, so the simulation goes on."""
    for _ in range(MAX_ROUNDS):
        page = engine.tasks.list(limit=100)
        todo = [t for t in page.items if t.id not in skipped]
        if not todo:
            return
        for task in todo:
            data: dict[str, Any] = {}
            if task.form_schema:
                definition = engine.repository.get(task.definition_key, task.definition_version)
                schema = json.loads(engine.repository.form(definition.id, task.form_schema))
                data = example_data(schema)
            try:
                engine.tasks.complete(task.id, data, SIMULATOR)
            except ValidationError as exc:
                skipped[task.id] = "; ".join(p.message for p in exc.problems[:3])


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
