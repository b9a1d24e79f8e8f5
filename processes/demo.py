"""The demo city: Stockholm's organisations, a user for every role, the four processes
deployed and this year's processes started — so a newcomer sees real tasks at once.

`kedja demo` runs it (and `make run` on an empty database). Every demo account has the
password `kedja-demo`; docs/user-guide.md lists the logins. The register is a demo: the real
one is edited by administrators.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine import Engine

from . import catalogue
from .governance import register_of
from .register import hash_password

DEMO_PASSWORD = "kedja-demo"  # noqa: S105 — the documented demo login

DISTRICTS = (
    ("rinkeby_kista", "Rinkeby-Kista"),
    ("spanga_tensta", "Spånga-Tensta"),
    ("hasselby_vallingby", "Hässelby-Vällingby"),
    ("bromma", "Bromma"),
    ("kungsholmen", "Kungsholmen"),
    ("norrmalm", "Norrmalm"),
    ("ostermalm", "Östermalm"),
    ("sodermalm", "Södermalm"),
    ("enskede_arsta_vantor", "Enskede-Årsta-Vantör"),
    ("skarpnack", "Skarpnäck"),
    ("farsta", "Farsta"),
    ("hagersten_alvsjo", "Hägersten-Älvsjö"),
    ("skarholmen", "Skärholmen"),
)
CENTRAL = (
    ("stadsledningskontoret", "Stadsledningskontoret"),
    ("socialforvaltningen", "Socialförvaltningen"),
)
SPECIALIST = (
    ("trafikkontoret", "Trafikkontoret"),
    ("utbildningsforvaltningen", "Utbildningsförvaltningen"),
    ("exploateringskontoret", "Exploateringskontoret"),
)
COMPANIES = (
    ("svenska_bostader", "AB Svenska Bostäder"),
    ("stockholmshem", "AB Stockholmshem"),
)
WITHOUT_RESPONSIBLE = frozenset({"exploateringskontoret"})
"""Organisations the demo leaves without a responsible person, so the cycle's first task
for their head is to appoint one."""

SMALL = frozenset(
    {
        "farsta",
        "bromma",
        "trafikkontoret",
        "svenska_bostader",
        "stadsledningskontoret",
        "socialforvaltningen",
    }
)
"""The small register the scenario tests use: two districts, one specialist
administration, one company and the two central administrations."""


@dataclass(frozen=True)
class DemoUser:
    id: str
    name: str
    organisation: str
    grants: tuple[tuple[str, str | None], ...]


def organisations(only: frozenset[str] | None = None) -> list[tuple[str, str, str, str | None]]:
    """(id, name, kind, local council) of the demo register."""
    result = []
    for org_id, name in DISTRICTS:
        result.append(
            (org_id, f"{name} stadsdelsförvaltning", "district", f"{name} brottsförebyggande råd")
        )
    result += [(org_id, name, "central", None) for org_id, name in CENTRAL]
    result += [(org_id, name, "specialist", None) for org_id, name in SPECIALIST]
    result += [(org_id, name, "company", None) for org_id, name in COMPANIES]
    return [o for o in result if only is None or o[0] in only]


CENTRAL_USERS = (
    DemoUser("samordnare", "Sara Samordnare", "stadsledningskontoret", (("coordinator", None),)),
    DemoUser("radet1", "Rune Rådsledamot", "stadsledningskontoret", (("council", None),)),
    DemoUser("radet2", "Rita Rådsledamot", "socialforvaltningen", (("council", None),)),
    DemoUser(
        "sekreterare", "Selma Sekreterare", "stadsledningskontoret", (("council_secretary", None),)
    ),
    DemoUser(
        "stadsdirektor", "Stig Stadsdirektör", "stadsledningskontoret", (("city_director", None),)
    ),
    DemoUser(
        "sakerhetschef", "Saga Säkerhetschef", "stadsledningskontoret", (("security_chief", None),)
    ),
    DemoUser(
        "prisadmin", "Petra Prisadministratör", "socialforvaltningen", (("prize_admin", None),)
    ),
    DemoUser("jury1", "Jonas Jurymedlem", "socialforvaltningen", (("jury_member", None),)),
    DemoUser("jury2", "Jenny Jurymedlem", "stadsledningskontoret", (("jury_member", None),)),
    DemoUser("jury3", "Johan Jurymedlem", "trafikkontoret", (("jury_member", None),)),
    DemoUser(
        "juryordf",
        "Julia Juryordförande",
        "socialforvaltningen",
        (("jury_chair", None), ("jury_member", None)),
    ),
    DemoUser(
        "processagare", "Pelle Processägare", "stadsledningskontoret", (("process_owner", None),)
    ),
    DemoUser("admin", "Ada Administratör", "stadsledningskontoret", (("administrator", None),)),
    DemoUser("revisor", "Rolf Revisor", "stadsledningskontoret", (("auditor", None),)),
)


def users(only: frozenset[str] | None = None) -> list[DemoUser]:
    result = list(CENTRAL_USERS)
    for org_id, name, kind, _council in organisations(only):
        if org_id not in WITHOUT_RESPONSIBLE:
            result.append(
                DemoUser(
                    f"ansvarig.{org_id}", f"Ansvarig {name}", org_id, (("responsible", org_id),)
                )
            )
        result.append(DemoUser(f"chef.{org_id}", f"Chef {name}", org_id, (("head", org_id),)))
        if kind == "district":
            result.append(
                DemoUser(
                    f"lokalrad.{org_id}",
                    f"Lokala rådet {name}",
                    org_id,
                    (("local_council", org_id),),
                )
            )
    return result


def build(
    engine: Engine,
    year: int | None = None,
    *,
    only: frozenset[str] | None = None,
    start: bool = True,
) -> dict[str, int]:
    """Create the demo register, deploy the processes and (with `start`) start `year`'s
    yearly processes. Returns what was started."""
    register = register_of(engine)
    for org_id, name, kind, council in organisations(only):
        register.add_organisation(org_id, name, kind, council)
    password_hash = hash_password(DEMO_PASSWORD)  # once: hashing is deliberately slow
    for user in users(only):
        register.add_user(
            user.id,
            user.name,
            email=f"{user.id}@demo.kedja.example",
            organisation=user.organisation,
            password_hash=password_hash,
            grants=user.grants,
        )
    catalogue.deploy(engine)
    if not start:
        return {}
    return catalogue.start_year(engine, year or engine.clock.now().year)


def is_empty(engine: Engine) -> bool:
    """True when the database has no organisations yet (`make run` then builds the demo)."""
    return not register_of(engine).organisations(include_inactive=True)
