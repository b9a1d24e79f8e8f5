"""The annual evaluation, kept per organisation and year, so that next year's lägesbild
starts from this year's conclusions."""

from __future__ import annotations

import json
from typing import Any

from engine.clock import to_storage
from engine.services import ServiceCall, takes


@takes("year", "organisation", optional=("evaluation",))
def record_evaluation(call: ServiceCall) -> dict[str, Any]:
    p = call.params
    year, organisation = int(p["year"]), str(p["organisation"])
    evaluation = p.get("evaluation") or {}
    params = {
        "y": year,
        "o": organisation,
        "d": json.dumps(evaluation, ensure_ascii=False, default=str),
        "at": to_storage(call.now),
        "iid": call.instance_id,
    }
    # A re-recorded evaluation (the year's cycle rerun after a correction) replaces the old.
    call.sql.execute("DELETE FROM evaluation WHERE year = :y AND organisation_id = :o", params)
    call.sql.execute(
        "INSERT INTO evaluation (year, organisation_id, data, recorded_at, instance_id) "
        "VALUES (:y, :o, :d, :at, :iid)",
        params,
    )
    call.record("evaluation.recorded", {"year": year, "organisation": organisation})
    return {"recorded": True}


@takes("year")
def previous_evaluations(call: ServiceCall) -> dict[str, Any]:
    year = int(call.params["year"])
    rows = call.sql.all(
        "SELECT organisation_id, data FROM evaluation WHERE year = :y ORDER BY organisation_id",
        {"y": year - 1},
    )
    return {"evaluations": {org: json.loads(data) for org, data in rows}}
