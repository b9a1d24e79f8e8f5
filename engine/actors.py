"""Who is acting: the engine's view of a user, and where it gets it from.

The engine does not own users; the organisation register (in `processes`) does. The engine
asks a `Directory` for an `Actor` — an id plus grants (role, organisation) — and decides from
that whether the actor may see, claim or complete a task. `OpenDirectory` is the stand-in
before a register exists: every named user acts as an administrator, which is what the
command line of an embedded installation needs and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """A user as the engine sees them.

    `grants` are (role, organisation) pairs; an organisation of None means the role holds for
    every organisation (a city-wide coordinator). `admin` may act on any task.
    """

    id: str
    grants: frozenset[tuple[str, str | None]] = field(default_factory=frozenset)
    admin: bool = False

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(role for role, _org in self.grants)

    def holds(self, role: str | None, organisation: str | None) -> bool:
        if role is None:
            return False
        return (role, None) in self.grants or (
            organisation is not None and (role, organisation) in self.grants
        )


class Directory(Protocol):
    def actor(self, user_id: str) -> Actor:
        """The actor for a user id; raise `NotFound` for an unknown user."""
        ...


class OpenDirectory:
    """No register yet: every named user is an administrator (documented in operations)."""

    def actor(self, user_id: str) -> Actor:
        return Actor(id=user_id, admin=True)


def system_actor() -> Actor:
    """The engine itself (timers, message deliveries, migrations)."""
    return Actor(id=SYSTEM, admin=True)
