"""Names people read instead of the ids the engine stores: users, organisations, roles,
processes, case states. Looked up once per request (`g`), since one page names many.

Process names of the city's four processes come from the catalogue in both languages; a
called process's name comes from its diagram and is translated when the catalogue of the
web UI knows it (the diagram's Swedish name is the message id), else shown as written.
"""

from __future__ import annotations

from flask import g
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from processes import catalogue
from processes.roles import ROLES
from webui.auth.access import register

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
    if diagram_name:
        return _(diagram_name)
    return key


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
