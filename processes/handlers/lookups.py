"""Reads a handler makes inside the step's transaction (so it sees the step's own writes)."""

from __future__ import annotations

from typing import Any

from engine.services import ServiceCall


def users_with_role(call: ServiceCall, role: str, organisation: str | None) -> list[str]:
    """Active users holding `role` for `organisation` (city-wide grants included); with no
    organisation, every holder of the role."""
    sql = (
        "SELECT DISTINCT g.user_id FROM role_grant g JOIN app_user u ON u.id = g.user_id "
        "WHERE g.role = :role AND u.active = :active"
    )
    params: dict[str, Any] = {"role": role, "active": True}
    if organisation is not None:
        sql += " AND (g.organisation_id IS NULL OR g.organisation_id = :org)"
        params["org"] = organisation
    return sorted(row[0] for row in call.sql.all(sql, params))


def completed_task(
    call: ServiceCall, element_id: str, organisation: str | None = None
) -> tuple[int, str | None, Any] | None:
    """The latest completed human task of this instance with `element_id` (for
    `organisation`, when the same task runs for several organisations at once): (row id, who
    completed it, when)."""
    sql = (
        "SELECT id, completed_by, completed_at FROM human_task WHERE instance_id = :iid "
        "AND element_id = :el AND state = 'completed'"
    )
    params: dict[str, Any] = {"iid": call.instance_id, "el": element_id}
    if organisation is not None:
        sql += " AND organisation = :org"
        params["org"] = organisation
    row = call.sql.one(sql + " ORDER BY completed_at DESC, id DESC LIMIT 1", params)
    if row is None:
        return None
    return row[0], row[1], call.sql.datetime(row[2])


def open_task(call: ServiceCall, element_id: str, organisation: str | None) -> int | None:
    """The open human task of this instance with `element_id` (for `organisation`), if any:
    what a reminder links to."""
    sql = (
        "SELECT id FROM human_task WHERE instance_id = :iid AND element_id = :el AND state = 'open'"
    )
    params: dict[str, Any] = {"iid": call.instance_id, "el": element_id}
    if organisation is not None:
        sql += " AND organisation = :org"
        params["org"] = organisation
    row = call.sql.one(sql + " ORDER BY id DESC LIMIT 1", params)
    return row[0] if row else None
