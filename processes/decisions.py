"""The decisions register: every registered decision, listed, searched and exported.

Decisions are official records (allmänna handlingar): they are read here, never changed
(the database refuses UPDATE and DELETE on `decision_record`). Export is JSON for
registration and archiving systems, and a printable plain-text document per record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from engine import Engine
from engine.clock import from_storage
from engine.errors import NotFound

from .calendar import STOCKHOLM
from .models import DecisionRecord

MAX_ID = 2**31 - 1  # ids are 32-bit in every supported database

KIND_NAMES_SV = {
    "council": "Riskhanteringsrådet",
    "city_director": "Stadsdirektören",
    "jury": "Juryn för trygghetspriset",
    "security_chief": "Säkerhetschefen",
    "local_council": "Lokalt brottsförebyggande råd",
    "head": "Förvaltnings- eller bolagschef",
}


@dataclass(frozen=True)
class Decision:
    id: int
    number: str
    kind: str
    subject: str
    decision: str
    motivation: str
    decided_by: str | None
    decided_at: datetime
    registered_at: datetime
    organisation: str | None
    instance_id: int
    definition_key: str
    definition_version: int
    element_id: str | None
    task_id: int | None
    document: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["decided_at"] = self.decided_at.isoformat()
        d["registered_at"] = self.registered_at.isoformat()
        return d


def _of(row: DecisionRecord) -> Decision:
    return Decision(
        row.id,
        row.number,
        row.kind,
        row.subject,
        row.decision,
        row.motivation,
        row.decided_by,
        from_storage(row.decided_at),  # type: ignore[arg-type]
        from_storage(row.registered_at),  # type: ignore[arg-type]
        row.organisation_id,
        row.instance_id,
        row.definition_key,
        row.definition_version,
        row.element_id,
        row.task_id,
        json.loads(row.document) if row.document else None,
    )


def list_decisions(
    engine: Engine,
    *,
    kind: str | None = None,
    organisation: str | None = None,
    instance_id: int | None = None,
    search: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Decision]:
    """Newest first."""
    query = select(DecisionRecord)
    if kind:
        query = query.where(DecisionRecord.kind == kind)
    if organisation:
        query = query.where(DecisionRecord.organisation_id == organisation)
    if instance_id is not None:
        query = query.where(DecisionRecord.instance_id == instance_id)
    if search:
        pattern = f"%{search}%"
        query = query.where(
            or_(
                DecisionRecord.number.ilike(pattern),
                DecisionRecord.subject.ilike(pattern),
                DecisionRecord.decision.ilike(pattern),
                DecisionRecord.motivation.ilike(pattern),
            )
        )
    query = query.order_by(DecisionRecord.decided_at.desc(), DecisionRecord.id.desc())
    with engine.db.read() as session:
        return [_of(r) for r in session.scalars(query.limit(limit).offset(offset))]


def get_decision(engine: Engine, number_or_id: str | int) -> Decision:
    """A record by its id (digits) or its number ("RHR 2026:1"); NotFound for neither. An
    id beyond what the table can hold names nothing and is not sent to the database."""
    text = str(number_or_id)
    by_id = isinstance(number_or_id, int) or text.isdigit()
    # isdigit() is also true of '²' and '٣', which int() refuses or reads as a number.
    if by_id and not (text.isascii() and 0 < int(text) <= MAX_ID):
        raise NotFound(f"There is no decision {number_or_id}.")
    with engine.db.read() as session:
        query = select(DecisionRecord)
        if by_id:
            query = query.where(DecisionRecord.id == int(number_or_id))
        else:
            query = query.where(DecisionRecord.number == str(number_or_id))
        row = session.scalar(query)
        if row is None:
            raise NotFound(f"There is no decision {number_or_id}.")
        return _of(row)


def export_json(decisions: list[Decision]) -> str:
    return json.dumps({"decisions": [d.as_dict() for d in decisions]}, ensure_ascii=False, indent=2)


def printable(decision: Decision) -> str:
    """The record as a plain-text document to print or file."""
    at = decision.decided_at.astimezone(STOCKHOLM)
    lines = [
        f"BESLUT {decision.number}",
        "",
        f"Beslutande:   {KIND_NAMES_SV.get(decision.kind, decision.kind)}",
        f"Ärende:       {decision.subject}",
        f"Beslut:       {decision.decision}",
        f"Beslutat av:  {decision.decided_by or '-'}",
        f"Datum:        {at:%Y-%m-%d %H:%M} (Europe/Stockholm)",
    ]
    if decision.organisation:
        lines.append(f"Organisation: {decision.organisation}")
    lines += [
        f"Process:      {decision.definition_key} version {decision.definition_version}, "
        f"instans {decision.instance_id}",
    ]
    if decision.document:
        doc = ", ".join(f"{k}: {v}" for k, v in decision.document.items())
        lines.append(f"Dokument:     {doc}")
    lines += ["", "Motivering:", decision.motivation, ""]
    return "\n".join(lines)
