"""The register as the cycle sees it: who takes part, and appointing a responsible person."""

from __future__ import annotations

from typing import Any

from engine import email_addresses
from engine.clock import to_storage
from engine.errors import ValidationError
from engine.services import ServiceCall, privileged, takes

from .lookups import users_with_role


@takes()
def participating_organisations(call: ServiceCall) -> dict[str, Any]:
    rows = call.sql.all(
        "SELECT id, name, kind, local_council FROM organisation WHERE active = :a ORDER BY name",
        {"a": True},
    )
    organisations = []
    for org_id, name, kind, local_council in rows:
        responsible = _scoped_holders(call, "responsible", org_id)
        head = _scoped_holders(call, "head", org_id)
        organisations.append(
            {
                "id": org_id,
                "name": name,
                "type": kind,
                "district": name if kind == "district" else None,
                "local_council": local_council,
                "responsible": responsible[0] if responsible else None,
                "head": head[0] if head else None,
            }
        )
    return {"organisations": organisations}


def _scoped_holders(call: ServiceCall, role: str, organisation: str) -> list[str]:
    """Holders of the role for exactly this organisation (a city-wide grant does not make a
    coordinator the responsible person of Farsta)."""
    return [
        user
        for user in users_with_role(call, role, organisation)
        if call.sql.one(
            "SELECT 1 FROM role_grant WHERE user_id = :u AND role = :r AND organisation_id = :o",
            {"u": user, "r": role, "o": organisation},
        )
    ]


@privileged("grants a role: makes a person responsible for an organisation")
@takes("organisation", optional=("email", "name"))
def appoint_responsible(call: ServiceCall) -> dict[str, Any]:
    """Make the named person the organisation's responsible person, creating their account
    (without a password: they sign in through the identity provider, or an administrator
    sets one) if their e-mail address is not known yet."""
    p = call.params
    organisation = str(p["organisation"])
    email = str(p.get("email") or "").strip().lower()
    name = str(p.get("name") or "").strip()
    if not email_addresses.is_valid(email) or not name:
        raise ValidationError(
            f"appoint_responsible needs a name and a valid e-mail address (got {name!r}, "
            f"{email!r}); correct the appointment form"
        )
    row = call.sql.one("SELECT id FROM app_user WHERE lower(email) = :e", {"e": email})
    if row is not None:
        user_id = row[0]
    else:
        user_id = email
        call.sql.execute(
            "INSERT INTO app_user (id, name, email, organisation_id, password_hash, language, "
            "active, created_at) VALUES (:id, :name, :email, :org, NULL, 'sv', :a, :at)",
            {
                "id": user_id,
                "name": name,
                "email": email,
                "org": organisation,
                "a": True,
                "at": to_storage(call.now),
            },
        )
    exists = call.sql.one(
        "SELECT 1 FROM role_grant WHERE user_id = :u AND role = 'responsible' "
        "AND organisation_id = :o",
        {"u": user_id, "o": organisation},
    )
    if exists is None:
        call.sql.execute(
            "INSERT INTO role_grant (user_id, role, organisation_id) "
            "VALUES (:u, 'responsible', :o)",
            {"u": user_id, "o": organisation},
        )
    call.record("register.responsible_appointed", {"organisation": organisation, "user": user_id})
    return {"user": user_id}
