"""The guideline's versions and yearly reviews."""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.clock import to_storage
from engine.errors import ValidationError
from engine.services import ServiceCall, privileged, takes

from ..calendar import STOCKHOLM, GovernanceCalendar
from .lookups import users_with_role
from .notifications import queue


@privileged("publishes a new version of the guideline and tells every responsible person")
@takes("effective_date", optional=("title", "summary", "decision_number"))
def publish_guideline(call: ServiceCall) -> dict[str, Any]:
    """A new guideline version, in force from its effective date; every responsible person
    is told."""
    p = call.params
    try:
        effective = date.fromisoformat(str(p["effective_date"])[:10])
    except ValueError as exc:
        raise ValidationError(
            f"publish_guideline: effective_date {p.get('effective_date')!r} is not a date "
            "(YYYY-MM-DD)"
        ) from exc
    row = call.sql.one("SELECT MAX(version) FROM guideline_version")
    version = (row[0] or 0) + 1 if row else 1
    call.sql.execute(
        "INSERT INTO guideline_version (version, title, summary, effective_date, published_at, "
        "decision_number, instance_id) VALUES (:v, :t, :s, :e, :at, :d, :iid)",
        {
            "v": version,
            "t": str(p.get("title") or "Riktlinje för brottsförebyggande arbete"),
            "s": str(p.get("summary") or ""),
            "e": effective,
            "at": to_storage(call.now),
            "d": p.get("decision_number"),
            "iid": call.instance_id,
        },
    )
    recipients = users_with_role(call, "responsible", None)
    queue(
        call,
        kind="guideline_published",
        subject=f"Ny version av riktlinjen för brottsförebyggande arbete (version {version})",
        message=f"Version {version} gäller från {effective.isoformat()}. {p.get('summary') or ''}",
        recipients=recipients,
    )
    call.record(
        "guideline.published",
        {"version": version, "effective_date": effective.isoformat(), "notified": len(recipients)},
    )
    return {"version": version, "notified": len(recipients)}


@takes(optional=("changed", "motivation"))
def record_guideline_review(call: ServiceCall) -> dict[str, Any]:
    p = call.params
    reviewed_on = call.now.astimezone(STOCKHOLM).date()
    next_review = GovernanceCalendar().revision_date(reviewed_on.year + 1)
    changed = bool(p.get("changed"))
    call.sql.execute(
        "INSERT INTO guideline_review (reviewed_on, changed, motivation, next_review, "
        "instance_id) VALUES (:r, :c, :m, :n, :iid)",
        {
            "r": reviewed_on,
            "c": changed,
            "m": str(p.get("motivation") or ""),
            "n": next_review,
            "iid": call.instance_id,
        },
    )
    call.record("guideline.reviewed", {"changed": changed, "next_review": next_review.isoformat()})
    return {"reviewed_on": reviewed_on.isoformat(), "next_review": next_review.isoformat()}
