"""The safety prize's handlers: nominations in, the winner out, nominators' data erased.

Nominators' personal data (name, e-mail, phone) never enters the process: the process sees a
nomination's id and its public fields only, and these handlers reach the personal data in the
`nomination` table when they must (telling nominators the outcome, erasing it)."""

from __future__ import annotations

from typing import Any

from engine.clock import to_storage
from engine.errors import ValidationError
from engine.services import ServiceCall, privileged, takes

from .notifications import queue


@takes("year")
def prize_nominations(call: ServiceCall) -> dict[str, Any]:
    rows = call.sql.all(
        "SELECT id, nominee, nominee_organisation, description, received_at FROM nomination "
        "WHERE year = :y ORDER BY id",
        {"y": int(call.params["year"])},
    )
    return {
        "nominations": [
            {
                "nomination_id": nid,
                "nominee": nominee,
                "nominee_organisation": org,
                "description": description,
                "received_at": str(received),
            }
            for nid, nominee, org, description, received in rows
        ]
    }


@privileged("e-mails every nominator of the year")
@takes("year", optional=("winner",))
def notify_nominators(call: ServiceCall) -> dict[str, Any]:
    year, winner = int(call.params["year"]), call.params.get("winner")
    rows = call.sql.all(
        "SELECT id, nominator_email, nominee FROM nomination WHERE year = :y "
        "AND nominator_email IS NOT NULL AND erased_at IS NULL",
        {"y": year},
    )
    queued = 0
    for nid, email, nominee in rows:
        won = winner is not None and str(nid) == str(winner)
        subject = f"Trygghetspriset {year}: " + (
            "ditt nominerade förslag vann" if won else "juryn har fattat sitt beslut"
        )
        message = f"Tack för din nominering av {nominee}. " + (
            "Juryn har utsett den till årets vinnare."
            if won
            else "Juryn har utsett en annan vinnare i år. Vinnaren publiceras på stadens webbplats."
        )
        queued += queue(
            call, kind="prize_outcome", subject=subject, message=message, emails=[email]
        )
    call.record("prize.nominators_notified", {"year": year, "queued": queued})
    return {"queued": queued}


@privileged("publishes the prize winner")
@takes("year", "nomination_id", optional=("prize_sum", "motivation"))
def publish_prize_winner(call: ServiceCall) -> dict[str, Any]:
    p = call.params
    year = int(p["year"])
    try:
        nomination_id = int(p.get("nomination_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"publish_prize_winner: nomination_id {p.get('nomination_id')!r} is not a number"
        ) from exc
    row = call.sql.one(
        "SELECT nominee, nominee_organisation FROM nomination WHERE id = :id AND year = :y",
        {"id": nomination_id, "y": year},
    )
    if row is None:
        raise ValidationError(
            f"publish_prize_winner: there is no nomination {nomination_id!r} for {year}"
        )
    prize_sum = p.get("prize_sum")
    call.sql.execute("DELETE FROM prize_winner WHERE year = :y", {"y": year})
    call.sql.execute(
        "INSERT INTO prize_winner (year, nomination_id, nominee, nominee_organisation, "
        "motivation, prize_sum, published_at, instance_id) VALUES (:y, :n, :nominee, :org, "
        ":m, :sum, :at, :iid)",
        {
            "y": year,
            "n": nomination_id,
            "nominee": row[0],
            "org": row[1],
            "m": str(p.get("motivation") or ""),
            "sum": int(prize_sum) if prize_sum not in (None, "") else None,
            "at": to_storage(call.now),
            "iid": call.instance_id,
        },
    )
    call.record("prize.published", {"year": year, "nomination_id": nomination_id})
    return {"published": True}


@privileged("erases nominators' personal data")
@takes("year", optional=("keep",))
def erase_nominator_data(call: ServiceCall) -> dict[str, Any]:
    """Erase the personal data of the year's nominators, except those in `keep`."""
    year = int(call.params["year"])
    keep = [int(k) for k in (call.params.get("keep") or [])]
    params: dict[str, Any] = {"y": year, "at": to_storage(call.now)}
    sql = (
        "UPDATE nomination SET nominator_name = NULL, nominator_email = NULL, "
        "nominator_phone = NULL, erased_at = :at WHERE year = :y AND erased_at IS NULL"
    )
    if keep:
        sql += f" AND id NOT IN ({call.sql.in_list('k', keep, params)})"
    erased = call.sql.execute(sql, params)
    call.record("personal_data.erased", {"year": year, "erased": erased, "kept": keep})
    return {"erased": erased}
