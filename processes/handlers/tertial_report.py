"""Compile a tertial report from the organisations' answers: who reported, who was late,
who is missing, and how the measures stand (by status and traffic light)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from engine.clock import to_storage
from engine.services import ServiceCall, takes

COLOURS = ("grön", "gul", "röd")
STATUSES = ("genomförd", "påbörjad", "ej påbörjad", "försenad", "avförd")


def compile_report(tertial: str, reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The tertial's figures; a pure function so the dashboard can reuse it."""
    by_colour: Counter[str] = Counter({c: 0 for c in COLOURS})
    by_status: Counter[str] = Counter({s: 0 for s in STATUSES})
    per_organisation = []
    submitted, late, missing = 0, [], []
    measures = 0
    for report in reports:
        org = report.get("organisation")
        rows = report.get("measures") or []
        if report.get("submitted_at"):
            submitted += 1
        else:
            missing.append(org)
        if report.get("late"):
            late.append(org)
        colours: Counter[str] = Counter()
        for row in rows:
            measures += 1
            if row.get("farg"):
                by_colour[row["farg"]] += 1
                colours[row["farg"]] += 1
            if row.get("status"):
                by_status[row["status"]] += 1
        per_organisation.append(
            {
                "organisation": org,
                "submitted_at": report.get("submitted_at"),
                "late": bool(report.get("late")),
                "measures": len(rows),
                "by_colour": {c: colours[c] for c in COLOURS},
                "traffic_light": report.get("traffic_light"),
            }
        )
    return {
        "tertial": tertial,
        "organisations": len(reports),
        "submitted": submitted,
        "late": late,
        "missing": missing,
        "measures": measures,
        "by_colour": dict(by_colour),
        "by_status": dict(by_status),
        "per_organisation": per_organisation,
    }


@takes("tertial", optional=("reports", "year"))
def compile_tertial_report(call: ServiceCall) -> dict[str, Any]:
    """The tertial's figures, also kept per organisation in `tertial_report_row` (what the
    tertial dashboard reads; a recompiled tertial replaces its rows)."""
    tertial = str(call.params["tertial"])
    reports = list(call.params.get("reports") or [])
    result = compile_report(tertial, reports)
    year = call.params.get("year", call.data.get("year"))
    if year is not None:
        _keep_rows(call, int(year), tertial, reports)
    call.record(
        "tertial.compiled",
        {k: result[k] for k in ("tertial", "organisations", "submitted", "late", "missing")},
    )
    return result


def _keep_rows(call: ServiceCall, year: int, tertial: str, reports: list[dict[str, Any]]) -> None:
    call.sql.execute(
        "DELETE FROM tertial_report_row WHERE year = :y AND tertial = :t", {"y": year, "t": tertial}
    )
    call.sql.executemany(
        "INSERT INTO tertial_report_row (year, tertial, organisation_id, submitted_at, late, "
        "traffic_light, measures, instance_id, compiled_at) VALUES (:y, :t, :org, :sub, :late, "
        ":light, :measures, :iid, :at)",
        [
            {
                "y": year,
                "t": tertial,
                "org": str(r.get("organisation")),
                "sub": _instant(r.get("submitted_at")),
                "late": bool(r.get("late")),
                "light": r.get("traffic_light"),
                "measures": json.dumps(r.get("measures") or [], ensure_ascii=False, default=str),
                "iid": call.instance_id,
                "at": to_storage(call.now),
            }
            for r in reports
            if r.get("organisation")
        ],
    )


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return to_storage(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
