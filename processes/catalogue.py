"""The catalogue: which diagrams make up each of the city's processes and how each starts.

All of `bpmn/` is deployed as one bundle, so a call activity may call a process in another
folder (the cycle calls the tertial loop); each process is still versioned on its own.
Yearly processes are started once per year (`start_year`), identified by the business key
`<key>:<year>`, so starting a year twice starts nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from engine import Actor, Engine
from engine.actors import system_actor
from engine.clock import to_storage
from engine.models import ProcessInstance
from engine.repository import DeployedProcess

from .calendar import STOCKHOLM, GovernanceCalendar
from .models import YearlyStart
from .roles import LANES

BPMN_DIR = Path(__file__).resolve().parent.parent / "bpmn"
BPMN_NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


@dataclass(frozen=True)
class CatalogueEntry:
    key: str
    name_sv: str
    name_en: str
    folder: str
    start: str  # "yearly" (start_year starts it) or "called" (by another process)


PROCESSES: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        "plan_cycle", "Planering och uppföljning", "Plan-to-follow-up cycle", "plan-cycle", "yearly"
    ),
    CatalogueEntry(
        "tertial_loop", "Tertialuppföljning", "Tertial reporting loop", "tertial-loop", "called"
    ),
    CatalogueEntry(
        "guideline_revision",
        "Årlig översyn av riktlinjen",
        "Annual guideline revision",
        "guideline-revision",
        "yearly",
    ),
    CatalogueEntry("safety_prize", "Trygghetspriset", "Safety prize", "safety-prize", "yearly"),
)
BY_KEY = {entry.key: entry for entry in PROCESSES}


def deploy(engine: Engine, actor: Actor | None = None) -> list[DeployedProcess]:
    """Deploy the city's diagrams (a no-op for every process whose files did not change)."""
    return engine.repository.deploy([BPMN_DIR], actor or system_actor())


def deployed(engine: Engine) -> bool:
    """True when every process of the catalogue is deployed (a worker on a database without
    the city's processes only fires timers)."""
    keys = {d.key for d in engine.repository.definitions()}
    return all(entry.key in keys for entry in PROCESSES)


def start_data(year: int, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The calendar's variables for `year`, with `data` on top."""
    return {**GovernanceCalendar().variables(year), **(data or {})}


def start(
    engine: Engine,
    key: str,
    year: int,
    data: dict[str, Any] | None = None,
    actor: Actor | None = None,
    answers: dict[str, Any] | None = None,
) -> int:
    """Start `key` for `year` with the calendar's variables (and the host's `data`);
    returns the instance id. `answers` are what a person or an integration asked to start
    with: they pass the process's start form (`Runtime.start_with_form`)."""
    business_key = f"{key}:{year}"
    if answers is None:
        started = engine.runtime.start(
            key, start_data(year, data), actor or system_actor(), business_key=business_key
        )
    else:
        started = engine.runtime.start_with_form(
            key,
            answers,
            actor or system_actor(),
            business_key=business_key,
            variables=start_data(year, data),
        )
    return started.instance_id


def started_for(engine: Engine, key: str, year: int) -> int | None:
    with engine.db.read() as session:
        return session.scalar(
            select(ProcessInstance.id)
            .where(ProcessInstance.business_key == f"{key}:{year}")
            .where(ProcessInstance.state != "terminated")
            .limit(1)
        )


def start_year(engine: Engine, year: int, actor: Actor | None = None) -> dict[str, int]:
    """Start every yearly process for `year` that has not been started; returns what was
    started (key -> instance id). Safe to call from several workers at once (`start_once`)."""
    started = {}
    for entry in PROCESSES:
        if entry.start == "yearly":
            instance_id = start_once(engine, entry.key, year, actor=actor)
            if instance_id is not None:
                started[entry.key] = instance_id
    return started


def start_once(
    engine: Engine,
    key: str,
    year: int,
    data: dict[str, Any] | None = None,
    actor: Actor | None = None,
    answers: dict[str, Any] | None = None,
) -> int | None:
    """Start the yearly process `key` for `year` unless it is started already; returns the
    new instance's id, or None if it was. The process is claimed for the year in its own
    transaction first, and only the claimant starts it, so racing callers start it once."""
    if started_for(engine, key, year) is not None or not _claim(engine, key, year):
        return None
    try:
        instance_id = start(engine, key, year, data, actor=actor, answers=answers)
    except Exception:
        with engine.db.write() as session:  # let a later attempt try again
            session.execute(
                delete(YearlyStart).where(YearlyStart.key == key, YearlyStart.year == year)
            )
        raise
    with engine.db.write() as session:
        session.execute(
            update(YearlyStart)
            .where(YearlyStart.key == key, YearlyStart.year == year)
            .values(instance_id=instance_id)
        )
    return instance_id


def _claim(engine: Engine, key: str, year: int) -> bool:
    try:
        with engine.db.write() as session:
            session.add(YearlyStart(key=key, year=year, claimed_at=to_storage(engine.clock.now())))
        return True
    except IntegrityError:
        return False


def schedule_yearly_starts(engine: Engine, scheduler: Any) -> None:
    """Start this year's processes now if they are not running, and again every night at
    00:05 Stockholm time (so 1 January starts the new year) — in `kedja serve` and in every
    `kedja worker`; the claim makes it happen once."""

    def run() -> None:
        if deployed(engine):
            start_year(engine, engine.clock.now().astimezone(STOCKHOLM).year)

    if deployed(engine):
        run()
    scheduler.add_daily(run, hour=0, minute=5, timezone=STOCKHOLM)


def unknown_lanes(path: Path) -> list[str]:
    """Lane names in a diagram that are not roles (docs/processes.md's table)."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    return sorted(
        {
            (lane.get("name") or "").strip()
            for lane in tree.iterfind(".//bpmn:lane", BPMN_NS)
            if (lane.get("name") or "").strip() not in LANES
        }
    )
