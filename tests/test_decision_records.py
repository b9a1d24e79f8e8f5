"""Decision records are official records: registered in the step that decided, with who and
when from the task's completion, chained into the history, immutable, listed and exported."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from processes.decisions import export_json, get_decision, list_decisions, printable


def _council_decision(city):
    """The tertial loop's council treatment of T1: the quickest way to a council decision."""
    plans = [
        {
            "organisation": "farsta",
            "organisation_name": "Farsta stadsdelsförvaltning",
            "atgarder": [
                {
                    "nr": 1,
                    "orsak": "Otrygg park",
                    "atgard": "Bättre belysning",
                    "operativt_mal": "Fler trygga",
                    "nar": "2026",
                    "vem": "Parkenheten",
                    "uppfoljning": "Trygghetsvandring",
                }
            ],
        }
    ]
    iid = city.start("tertial_loop", plans=plans)
    city.advance_to("2026-05-01T08:00:00")
    report = city.task("ansvarig.farsta", "tertial_report")
    data = city.engine.tasks.data(report.id)
    rows = [{**row, "status": "påbörjad", "farg": "grön"} for row in data["atgarder"]]
    city.complete("ansvarig.farsta", report, {"atgarder": rows, "sammanfattning": "Enligt plan."})
    city.complete(
        "samordnare",
        city.task("samordnare", "review_tertial_report"),
        {"beslut": "godkand", "motivering": "Komplett."},
    )
    council = city.task("radet1", "council_tertial")
    return iid, council


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request):
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


def test_a_decision_is_recorded_with_who_and_when_and_cannot_be_changed(any_city):
    city = any_city
    iid, council = _council_decision(city)
    form = json.loads(
        city.engine.repository.form(
            city.engine.repository.get(council.definition_key).id, council.form_schema
        )
    )
    choice = form["properties"]["beslut"]
    first = (choice.get("enum") or [o["const"] for o in choice["oneOf"]])[0]
    city.complete("radet1", council, {"beslut": first, "motivering": "Rapporten är tydlig."})
    [record] = list_decisions(city.engine, instance_id=iid)
    assert record.kind == "council" and record.decided_by == "radet1"
    assert record.motivation == "Rapporten är tydlig." and record.number.startswith("RHR 2026:")
    assert record.definition_key == "tertial_loop"
    events = [e for e in city.history(iid) if e["kind"] == "decision.registered"]
    assert events and events[0]["data"]["number"] == record.number
    for statement in (
        "UPDATE decision_record SET motivation = 'ändrad'",
        "DELETE FROM decision_record",
    ):
        with pytest.raises(Exception, match="immutable"), city.engine.db.write() as session:
            session.execute(text(statement))
    assert get_decision(city.engine, record.number).motivation == "Rapporten är tydlig."
    assert city.engine.verify_history() == []


def test_decisions_are_searchable_and_exportable(city):
    _iid, council = _council_decision(city)
    form = json.loads(
        city.engine.repository.form(
            city.engine.repository.get(council.definition_key).id, council.form_schema
        )
    )
    choice = form["properties"]["beslut"]
    first = (choice.get("enum") or [o["const"] for o in choice["oneOf"]])[0]
    city.complete("radet1", council, {"beslut": first, "motivering": "Belysningen prioriteras."})
    assert list_decisions(city.engine, search="belysningen")
    assert list_decisions(city.engine, search="finns inte") == []
    exported = json.loads(export_json(list_decisions(city.engine)))
    assert exported["decisions"][0]["motivation"] == "Belysningen prioriteras."
    document = printable(list_decisions(city.engine)[0])
    assert "Riskhanteringsrådet" in document and "Belysningen prioriteras." in document
