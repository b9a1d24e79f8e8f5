"""The task list's query, and the names a task list shows instead of ids.

The list is `engine.tasks.list(actor=…, scope=…)` with the page's filters: the engine's
indexed visibility query decides who sees what; this module only turns the page's choices
(process, organisation, overdue or due within a week, latest due first) into its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from engine import Actor, Engine
from engine.errors import NotFound
from engine.tasks import Page
from processes.governance import register_of
from webui.names import process_name

SOON = timedelta(days=7)


@dataclass(frozen=True)
class Filters:
    scope: str = "all"  # all | mine | claimable
    process: str | None = None
    organisation: str | None = None
    due: str | None = None  # overdue | week
    newest_first: bool = False

    @property
    def plain(self) -> bool:
        return not (self.process or self.organisation or self.due or self.newest_first)


def task_page(
    engine: Engine, actor: Actor, filters: Filters, now: datetime, limit: int, offset: int
) -> Page:
    due_before = None
    if filters.due == "overdue":
        due_before = now
    elif filters.due == "week":
        due_before = now + SOON
    return engine.tasks.list(
        actor=actor,
        scope=filters.scope,
        definition_key=filters.process or None,
        organisation=filters.organisation or None,
        due_before=due_before,
        newest_due_first=filters.newest_first,
        limit=limit,
        offset=offset,
    )


class Names:
    """Organisation and user names for one request (a handful of lookups, each once)."""

    def __init__(self, engine: Engine) -> None:
        self.register = register_of(engine)
        self._organisations: dict[str, str] | None = None
        self._users: dict[str, str] = {}

    def organisations(self) -> dict[str, str]:
        if self._organisations is None:
            self._organisations = {o.id: o.name for o in self.register.organisations()}
        return self._organisations

    def organisation(self, org_id: str | None) -> str:
        if not org_id:
            return ""
        return self.organisations().get(org_id, org_id)

    def user(self, user_id: str | None) -> str:
        if not user_id:
            return ""
        if user_id not in self._users:
            try:
                self._users[user_id] = self.register.user(user_id).name
            except NotFound:
                self._users[user_id] = user_id
        return self._users[user_id]


def process_choices(engine: Engine) -> list[tuple[str, str]]:
    """(key, name) of every deployed process, by name."""
    latest = engine.repository.definitions(latest_only=True)
    return sorted(
        ((d.key, process_name(d.key, d.name)) for d in latest), key=lambda kv: kv[1].lower()
    )


def organisation_choices(actor: Actor, names: Names) -> list[tuple[str, str]]:
    """The organisations worth filtering by: all for a city-wide role or an administrator,
    else the user's own."""
    everything = actor.admin or any(org is None for _role, org in actor.grants)
    orgs = names.organisations()
    ids = list(orgs) if everything else sorted({org for _role, org in actor.grants if org})
    return sorted(((i, orgs.get(i, i)) for i in ids), key=lambda kv: kv[1].lower())
