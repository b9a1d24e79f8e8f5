"""The city's roles, and which lane of a diagram is which role.

A lane's name in a diagram is the Swedish name of a role (docs/processes.md): the person
responsible in Farsta gets a task in the lane "Ansvarig" for Farsta because they hold the role
`responsible` in the organisation `farsta`. Several lane names may mean one role ("Remissinstans"
is the responsible person of a consulted organisation).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    id: str
    name_sv: str
    name_en: str
    scoped: bool
    """True if the role is held for one organisation (a responsible person), False if it
    holds city-wide (the council)."""


ROLES: dict[str, Role] = {
    r.id: r
    for r in (
        Role("staff", "Medarbetare", "Staff member", True),
        Role("responsible", "Ansvarig", "Person responsible for crime prevention", True),
        Role("head", "Förvaltningschef", "Head of administration or company", True),
        Role(
            "local_council", "Lokalt brottsförebyggande råd", "Local crime-prevention council", True
        ),
        Role("coordinator", "Samordnare", "Coordinator, City Executive Office", False),
        Role("council", "Riskhanteringsrådet", "Risk management council", False),
        Role("council_secretary", "Rådets sekreterare", "Council secretary", False),
        Role("city_director", "Stadsdirektör", "City director", False),
        Role("security_chief", "Säkerhetschef", "Security chief", False),
        Role("prize_admin", "Prisadministratör", "Prize administrator", False),
        Role("jury_member", "Jury", "Jury member", False),
        Role("jury_chair", "Juryordförande", "Jury chair", False),
        Role("process_owner", "Processägare", "Process owner", False),
        Role("administrator", "Administratör", "Administrator", False),
        Role("auditor", "Granskare", "Auditor (read-only)", False),
    )
}

LANES: dict[str, str] = {role.name_sv: role.id for role in ROLES.values()} | {
    "Remissinstans": "responsible",
}
"""Lane name -> role id."""


def lane_role(lane: str | None) -> str | None:
    """The role a lane stands for; None for a diagram without lanes.

    An unknown lane name is kept as the role id, so a diagram made elsewhere still runs (its
    tasks are then open to whoever holds that role); the catalogue test refuses unknown lanes
    in the city's own diagrams."""
    if not lane:
        return None
    return LANES.get(lane.strip(), lane.strip())
