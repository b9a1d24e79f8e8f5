"""Public nominations for the safety prize.

Anyone may nominate, without signing in. The nomination's public part (who is nominated and
why) goes to the year's prize instance as the message `nomination`; the nominator's personal
data (name, e-mail, phone) stays in the `nomination` table only, never in process data or
history, so it can be erased when the retention period ends. Only prize administrators and
the jury may read it, and every reading is logged.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from engine import Actor, Engine, email_addresses
from engine.clock import to_storage
from engine.errors import NotFound, NotPermitted, Problem, ValidationError

from .models import Nomination, PersonalDataAccess

FIELDS = {
    "nominee": ("Vem eller vad nominerar du?", 300, True),
    "nominee_organisation": ("Organisation eller verksamhet", 300, False),
    "description": ("Varför ska de få priset?", 4000, True),
    "nominator_name": ("Ditt namn", 200, True),
    "nominator_email": ("Din e-postadress", 254, True),
    "nominator_phone": ("Ditt telefonnummer", 40, False),
}
PER_SOURCE_PER_HOUR = 5
READERS = frozenset({"prize_admin", "jury_member", "jury_chair"})


@dataclass(frozen=True)
class Submitted:
    nomination_id: int
    instance_id: int


def validate(form: dict[str, Any]) -> tuple[dict[str, str | None], list[Problem]]:
    """Cleaned values and the problems, each naming its field (Swedish, plain)."""
    clean: dict[str, str | None] = {}
    problems = []
    for name, (label, limit, required) in FIELDS.items():
        value = str(form.get(name) or "").strip()
        if required and not value:
            problems.append(Problem(f"{label}: fyll i fältet.", element=name))
        elif len(value) > limit:
            problems.append(
                Problem(f"{label}: högst {limit} tecken (nu {len(value)}).", element=name)
            )
        elif _control_characters(value, multiline=name == "description"):
            problems.append(
                Problem(
                    f"{label}: texten innehåller osynliga styrtecken som inte kan sparas. "
                    "Skriv in den igen i stället för att klistra in den.",
                    element=name,
                )
            )
        clean[name] = value or None
    email = clean.get("nominator_email")
    if email and not any(p.element == "nominator_email" for p in problems):
        try:
            # Stored as the mailer will send it; a display name, quotes, brackets or a
            # control character is refused, not passed on for the relay to interpret.
            clean["nominator_email"] = email_addresses.normalise(email)
        except email_addresses.InvalidAddress:
            problems.append(
                Problem(
                    "Din e-postadress: skriv bara själva adressen, som namn@exempel.se "
                    "(utan namn, citattecken, vinkelparenteser eller mellanslag, och utan "
                    "å, ä eller ö före @).",
                    element="nominator_email",
                )
            )
    if str(form.get("consent") or "").lower() not in ("1", "true", "on", "yes", "ja"):
        problems.append(
            Problem(
                "Du behöver godkänna att vi behandlar dina personuppgifter för att kunna "
                "ta emot nomineringen.",
                element="consent",
            )
        )
    return clean, problems


def _control_characters(value: str, multiline: bool) -> bool:
    """Whether `value` holds a control character (NUL, a line break in a one-line field):
    nothing a person types, and PostgreSQL refuses a NUL outright."""
    allowed = "\n\r\t" if multiline else "\t"
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value)


def source_key(remote_address: str | None) -> str | None:
    """A one-way key for rate limiting, so no IP address is stored."""
    if not remote_address:
        return None
    return hashlib.sha256(f"kedja-nomination:{remote_address}".encode()).hexdigest()[:32]


def submit(
    engine: Engine, year: int, form: dict[str, Any], remote_address: str | None = None
) -> Submitted:
    """Validate and store a nomination and send it to the year's prize instance.

    Raises `ValidationError` (with field problems) for bad input, `NotPermitted` when one
    source sends too many, and `NotFound` when the year's nomination window is not open."""
    clean, problems = validate(form)
    if problems:
        raise ValidationError("Nomineringen kunde inte skickas. Rätta fälten nedan.", problems)
    key = source_key(remote_address)
    now = engine.clock.now()
    with engine.db.write() as session:
        if key is not None:
            recent = session.scalar(
                select(func.count())
                .select_from(Nomination)
                .where(Nomination.source_key == key)
                .where(Nomination.received_at >= to_storage(now - timedelta(hours=1)))
            )
            if (recent or 0) >= PER_SOURCE_PER_HOUR:
                raise NotPermitted(
                    "Du har skickat många nomineringar på kort tid. Vänta en timme och försök igen."
                )
        row = Nomination(year=year, received_at=to_storage(now), source_key=key, **clean)
        session.add(row)
        session.flush()
        nomination_id = row.id
    payload = {
        "year": year,
        "nomination_id": nomination_id,
        "nominee": clean["nominee"],
        "nominee_organisation": clean["nominee_organisation"],
        "description": clean["description"],
    }
    try:
        instance_id = engine.runtime.correlate("nomination", payload, {"year": year})
    except NotFound as exc:
        with engine.db.write() as session:
            session.delete(session.get(Nomination, nomination_id))
        raise NotFound(
            f"Nomineringen till trygghetspriset {year} är inte öppen just nu, så din "
            "nominering har inte sparats. Se stadens webbplats för när nästa period öppnar."
        ) from exc
    with engine.db.write() as session:
        session.get(Nomination, nomination_id).instance_id = instance_id  # type: ignore[union-attr]
    return Submitted(nomination_id, instance_id)


def nominator(
    engine: Engine, nomination_id: int, viewer: Actor, purpose: str
) -> dict[str, str | None]:
    """The nominator's personal data, for prize administrators and the jury; logged."""
    if not (viewer.admin or viewer.roles & READERS):
        raise NotPermitted(
            "Only the prize administrators and the jury may see who nominated; ask them."
        )
    with engine.db.write() as session:
        row = session.get(Nomination, nomination_id)
        if row is None:
            raise NotFound(f"There is no nomination {nomination_id}.")
        session.add(
            PersonalDataAccess(
                at=to_storage(engine.clock.now()),
                user_id=viewer.id,
                nomination_id=nomination_id,
                purpose=purpose,
            )
        )
        return {
            "name": row.nominator_name,
            "email": row.nominator_email,
            "phone": row.nominator_phone,
            "erased_at": row.erased_at.isoformat() if row.erased_at else None,
        }
