"""A small demo city on a fresh database, for the scenario tests of the four processes.

Two districts (Farsta, Bromma), one specialist administration (Trafikkontoret), one company
(AB Svenska Bostäder) and the two central administrations, with a user for every role (see
`processes.demo`), all of bpmn/ deployed, and a simulated clock at 2026-01-01 08:00
Stockholm time. Tests act as the city's people do: through the engine's task API, as a named
user whose permissions come from the register.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine import Engine, SimulatedClock
from engine.tasks import TaskInfo
from processes import catalogue, demo
from processes.calendar import STOCKHOLM
from processes.decisions import list_decisions
from processes.governance import open_engine, register_of
from processes.models import Notification

START = datetime(2026, 1, 1, 8, 0, tzinfo=STOCKHOLM)
RULE_KINDS = ("task_assigned", "decision_registered")


def _instant(when: datetime | str) -> datetime:
    value = datetime.fromisoformat(when) if isinstance(when, str) else when
    return value if value.tzinfo else value.replace(tzinfo=STOCKHOLM)


class City:
    def __init__(self, url: str, start: datetime = START, only: frozenset[str] | None = None):
        self.clock = SimulatedClock(start)
        self.engine: Engine = open_engine(url, self.clock)
        self.register = register_of(self.engine)
        demo.build(self.engine, only=demo.SMALL if only is None else only, start=False)

    def close(self) -> None:
        self.engine.close()

    # -- acting -----------------------------------------------------------------------------

    def start(self, key: str, year: int = 2026, **data: Any) -> int:
        return catalogue.start(self.engine, key, year, data)

    def actor(self, user_id: str):  # type: ignore[no-untyped-def]
        return self.register.actor(user_id)

    def tasks(self, user_id: str) -> list[TaskInfo]:
        """Open tasks the user may work on: their own and those they may claim."""
        return self.engine.tasks.list(actor=self.actor(user_id), limit=1000).items

    def task(self, user_id: str, element_id: str, organisation: str | None = None) -> TaskInfo:
        found = [
            t
            for t in self.tasks(user_id)
            if t.element_id == element_id
            and (organisation is None or t.organisation == organisation)
        ]
        assert len(found) == 1, (
            f"{user_id} should have exactly one open '{element_id}'"
            + (f" for {organisation}" if organisation else "")
            + f"; has {[(t.element_id, t.organisation) for t in self.tasks(user_id)]}"
        )
        return found[0]

    def complete(self, user_id: str, task: TaskInfo | int, data: dict[str, Any]) -> None:
        task_id = task if isinstance(task, int) else task.id
        self.engine.tasks.complete(task_id, data, self.actor(user_id))

    def advance_to(self, when: datetime | str) -> list[Any]:
        """Move the clock to `when`, firing every timer due on the way, in due order."""
        target = _instant(when)
        fired: list[Any] = []
        while True:
            due = self.engine.timers.next_due()
            if due is None or due > target:
                break
            self.clock.set(max(due, self.clock.now()))
            fired += self.engine.timers.fire_due()
        if target > self.clock.now():
            self.clock.set(target)
        self.engine.runtime.deliver_pending()
        return fired

    # -- looking ----------------------------------------------------------------------------

    def decisions(self) -> list[dict[str, Any]]:
        """Every decision record, oldest first."""
        return [d.as_dict() for d in reversed(list_decisions(self.engine, limit=10_000))]

    def notifications(self, rules: bool = False) -> list[dict[str, Any]]:
        """The notifications the diagrams queued (`notify` and friends); with `rules`, also
        those processes/notification_rules.py adds for every new task and decision."""
        with self.engine.db.read() as session:
            query = select(Notification).order_by(Notification.id)
            if not rules:
                query = query.where(Notification.kind.not_in(RULE_KINDS))
            rows = session.scalars(query).all()
            return [
                {
                    c.name: getattr(r, c.name)
                    for c in Notification.__table__.columns  # type: ignore[attr-defined]
                }
                for r in rows
            ]

    def instance(self, instance_id: int):  # type: ignore[no-untyped-def]
        return self.engine.runtime.get(instance_id)

    def history(self, instance_id: int) -> list[dict[str, Any]]:
        with self.engine.db.read() as session:
            return self.engine.history.events(session, instance_id)
