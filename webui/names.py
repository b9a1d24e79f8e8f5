"""Names people read instead of the ids the engine stores: users, organisations, roles,
processes, case states — for every page of the web UI (`template_names` makes them
template globals). Looked up once per request (`g`), since one page names many.

Process names of the city's four processes come from the catalogue in both languages; any
other deployed process — the processes they call, such as one organisation's tertial
report, or one a process owner imported — is named by its diagram (the BPMN process's
name), translated when the web UI's catalogue knows it (the diagram's Swedish name is the
message id), else shown as written. A key is shown only for a process that has no name.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from processes import catalogue
from processes.roles import ROLES
from webui.auth.access import engine, register

STATES = {
    "running": _l("Pågår"),
    "suspended": _l("Pausat"),
    "completed": _l("Avslutat"),
    "terminated": _l("Avbrutet"),
}


def language() -> str:
    return str(get_locale() or "sv")


def user_name(user_id: str | None) -> str:
    if not user_id:
        return ""
    if "kedja_user_names" not in g:
        g.kedja_user_names = {u.id: u.name for u in register().users()}
    return g.kedja_user_names.get(user_id, user_id)


def organisation_name(organisation_id: str | None) -> str:
    if not organisation_id:
        return ""
    if "kedja_organisation_names" not in g:
        g.kedja_organisation_names = {
            o.id: o.name for o in register().organisations(include_inactive=True)
        }
    return g.kedja_organisation_names.get(organisation_id, organisation_id)


def organisations() -> list[tuple[str, str]]:
    """(id, name) of the active organisations, by name (for filters)."""
    return [(o.id, o.name) for o in register().organisations()]


def role_name(role_id: str | None) -> str:
    if not role_id:
        return ""
    role = ROLES.get(role_id)
    if role is None:
        return role_id
    return role.name_en if language() == "en" else role.name_sv


def process_name(key: str, diagram_name: str | None = None) -> str:
    entry = catalogue.BY_KEY.get(key)
    if entry is not None:
        return entry.name_en if language() == "en" else entry.name_sv
    name = diagram_name or _diagram_names().get(key)
    return _(name) if name else key


def _diagram_names() -> dict[str, str]:
    """The deployed processes' own names (latest versions), by key."""
    if "kedja_diagram_names" not in g:
        g.kedja_diagram_names = {
            d.key: d.name for d in engine().repository.definitions(latest_only=True) if d.name
        }
    return g.kedja_diagram_names


def state_name(state: str) -> str:
    label = STATES.get(state)
    return str(label) if label is not None else state


def year_of(business_key: str | None) -> str | None:
    """The year of a yearly process's business key (`plan_cycle:2026` -> `2026`)."""
    if business_key and ":" in business_key:
        tail = business_key.rsplit(":", 1)[1]
        if tail.isdigit():
            return tail
    return None


def template_names() -> dict[str, Any]:
    """The names as template globals, for every blueprint's templates."""
    return {
        "user_name": user_name,
        "organisation_name": organisation_name,
        "role_name": role_name,
        "process_name": process_name,
        "state_name": state_name,
        "year_of": year_of,
    }
