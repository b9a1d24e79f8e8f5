"""The decisions area: what waits for the council and the other deciding roles, and the
decisions register (list, search, detail, printable record, JSON export).

Cases are real runs of the annual guideline revision on the small demo city: the security
chief's review is itself a decision; a revision goes on to the council's deliberation. The
helpers here are used by the other web UI tests too.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.tasks import TaskInfo
from tests.test_webui_auth import make_app, sign_in

REVISION_DATE = "2026-10-01T08:00:00+02:00"
UNCHANGED = {
    "lagstiftning": {"forandrat": False},
    "stadens_organisation": {"forandrat": False},
    "stadens_program": {"forandrat": False},
    "polisavtal": {"forandrat": False},
    "allvarliga_handelser": {"forandrat": False},
    "beslut": "oforandrad",
    "motivering": "Inga nya lagar, program eller avtal; riktlinjen stämmer med arbetet.",
}
REVISE = {
    **UNCHANGED,
    "lagstiftning": {"forandrat": True, "kommentar": "Lag (2023:196) kräver åtgärdsplan."},
    "beslut": "revidera",
    "motivering": "Den nya lagen kräver ändringar i riktlinjen.",
}


def open_task(city: Any, instance: int, element_id: str) -> TaskInfo:
    """The one open task with this element id in the instance."""
    found = [
        t
        for t in city.engine.tasks.list(instance_id=instance, limit=1000).items
        if t.element_id == element_id
    ]
    assert len(found) == 1, [t.element_id for t in found]
    return found[0]


def start_revision(city: Any) -> int:
    """A guideline revision waiting for the security chief's review (on its date)."""
    instance = city.start("guideline_revision")
    city.advance_to(REVISION_DATE)
    return instance


def revision_unchanged(city: Any) -> int:
    """A revision the security chief closes as still relevant: one decision (SÄK)."""
    instance = start_revision(city)
    city.complete("sakerhetschef", open_task(city, instance, "review_changes"), UNCHANGED)
    return instance


def revision_at_council(city: Any) -> int:
    """A revision that has been drafted, sent on consultation (to the two central
    administrations only), answered and consolidated: the council's deliberation is open."""
    instance = start_revision(city)
    city.complete("sakerhetschef", open_task(city, instance, "review_changes"), REVISE)
    data = city.instance(instance).data
    city.complete(
        "sakerhetschef",
        open_task(city, instance, "draft_revision"),
        {
            "titel": "Riktlinje för brottsförebyggande arbete",
            "andringar": "Lägesbild och åtgärdsplan enligt lag (2023:196).",
            "skal": "Ny lag.",
            "utkast": "1. Inledning ...",
            "remiss_stadsdelar": [],
            "svarsdatum": data["svarsdatum"],
        },
    )
    answers = [
        t
        for t in city.engine.tasks.list(instance_id=instance, limit=100).items
        if t.element_id == "consultation_answer"
    ]
    assert answers, "the draft goes on consultation"
    for task in answers:
        city.complete(f"ansvarig.{task.organisation}", task, {"yttrande": "instämmer"})
    city.complete(
        "sakerhetschef",
        open_task(city, instance, "consolidate"),
        {"sammanstallning": "Alla instämmer.", "reviderat_utkast": "1. Inledning (rev.) ..."},
    )
    open_task(city, instance, "council_deliberation")
    return instance


def council_approves(city: Any, instance: int, motivation: str, user: str = "radet1") -> None:
    city.complete(
        user,
        open_task(city, instance, "council_deliberation"),
        {"beslut": "tillstyrk", "motivering": motivation},
    )


@pytest.fixture
def app(city: Any) -> Flask:
    return make_app(city)


def client_for(app: Flask, user: str) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    return client


def html(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


# -- awaiting the council -----------------------------------------------------------------------


def test_the_council_sees_the_item_awaiting_it_with_the_whole_case(city: Any, app: Flask) -> None:
    first = revision_unchanged(city)  # last year's kind of review: a registered decision
    instance = revision_at_council(city)
    task = open_task(city, instance, "council_deliberation")
    page = html(client_for(app, "radet1"), "/beslut/")
    assert "Väntar på ditt beslut" in page
    assert f'href="/uppgifter/{task.id}"' in page  # the decision form, in the tasks area
    assert f'href="/arenden/{instance}"' in page  # the whole case
    assert task.name in page
    assert "Årlig översyn av riktlinjen" in page
    assert "Ingen ännu" in page  # nobody has taken it
    # The other case's decision is in the register, not among this item's earlier ones.
    assert "SÄK 2026:1" in page  # latest decisions
    assert f'href="/arenden/{first}"' not in page


def test_a_returned_item_comes_back_with_the_earlier_decision(city: Any, app: Flask) -> None:
    instance = revision_at_council(city)
    city.complete(
        "radet1",
        open_task(city, instance, "council_deliberation"),
        {"beslut": "aterremiss", "motivering": "Beskriv källorna tydligare."},
    )
    data = city.instance(instance).data
    city.complete(
        "sakerhetschef",
        open_task(city, instance, "draft_revision"),
        {
            "titel": data["titel"],
            "andringar": data["andringar"],
            "skal": data["skal"],
            "utkast": "1. Inledning (med källor) ...",
            "remiss_stadsdelar": [],
            "svarsdatum": data["svarsdatum"],
            "ny_remiss": False,
        },
    )
    page = html(client_for(app, "radet2"), "/beslut/")
    assert "Tidigare beslut i ärendet" in page
    assert "RHR 2026:1" in page


def test_only_holders_of_a_deciding_role_see_items_for_their_role(city: Any, app: Flask) -> None:
    instance = revision_at_council(city)
    task = open_task(city, instance, "council_deliberation")
    assert f"/uppgifter/{task.id}" in html(client_for(app, "radet2"), "/beslut/")
    for user in ("sakerhetschef", "stadsdirektor", "admin", "samordnare"):
        page = html(client_for(app, user), "/beslut/")
        assert f"/uppgifter/{task.id}" not in page, user
    staff = html(client_for(app, "ansvarig.farsta"), "/beslut/")
    assert "Du har ingen beslutande roll" in staff
    assert 'href="/beslut/register"' in staff

    # Once a council member has taken the item, it waits for them only.
    city.engine.tasks.claim(task.id, city.actor("radet1"))
    assert f"/uppgifter/{task.id}" in html(client_for(app, "radet1"), "/beslut/")
    assert f"/uppgifter/{task.id}" not in html(client_for(app, "radet2"), "/beslut/")


def test_a_decision_task_is_one_whose_form_asks_for_a_decision(city: Any, app: Flask) -> None:
    """The security chief's review has a `beslut` field and waits as a decision; drafting the
    revision does not, though the same role does it."""
    instance = start_revision(city)
    review = open_task(city, instance, "review_changes")
    chief = client_for(app, "sakerhetschef")
    assert f"/uppgifter/{review.id}" in html(chief, "/beslut/")
    city.complete("sakerhetschef", review, REVISE)
    draft = open_task(city, instance, "draft_revision")
    page = html(chief, "/beslut/")
    assert f"/uppgifter/{draft.id}" not in page
    assert "Inga ärenden väntar på beslut från dig just nu." in page


def test_overdue_items_are_marked_in_words(city: Any, app: Flask) -> None:
    instance = start_revision(city)
    due = open_task(city, instance, "review_changes").due_at
    assert due is not None
    city.advance_to(due + timedelta(days=1))
    assert "Försenad" in html(client_for(app, "sakerhetschef"), "/beslut/")


# -- the register --------------------------------------------------------------------------------


def test_a_council_decision_is_found_in_the_register(city: Any, app: Flask) -> None:
    instance = revision_at_council(city)
    council_approves(city, instance, "Utkastet uppfyller lagens krav.")
    record = next(d for d in city.decisions() if d["kind"] == "council")
    client = client_for(app, "radet2")

    register = html(client, "/beslut/register")
    assert f'href="/beslut/{record["id"]}">{record["number"]}</a>' in register
    assert "Riskhanteringsrådet" in register
    assert "<caption>Beslut, det senaste först</caption>" in register

    detail = html(client, f"/beslut/{record['id']}")
    assert f"<h1>Beslut {record['number']}</h1>" in detail
    assert "Utkastet uppfyller lagens krav." in detail
    assert "Rune Rådsledamot (radet1)" in detail
    assert record["decision"] in detail
    assert f'href="/arenden/{instance}"' in detail
    assert f'<time datetime="{record["decided_at"]}">2026-' in detail
    # The number works as well as the id.
    by_number = html(client, f"/beslut/{record['number']}")
    assert f"<h1>Beslut {record['number']}</h1>" in by_number


def test_searching_the_register(city: Any, app: Flask) -> None:
    revision_unchanged(city)
    council_approves(city, revision_at_council(city), "Utkastet uppfyller lagens krav.")
    client = client_for(app, "ansvarig.farsta")
    numbers = {d["kind"]: d["number"] for d in city.decisions()}

    by_text = html(client, "/beslut/register?q=lagens+krav")
    assert numbers["council"] in by_text and numbers["security_chief"] not in by_text
    by_kind = html(client, "/beslut/register?beslutande=security_chief")
    assert numbers["security_chief"] in by_kind and numbers["council"] not in by_kind
    assert '<option value="security_chief" selected>' in by_kind
    by_number = html(client, "/beslut/register?q=RHR")
    assert numbers["council"] in by_number and numbers["security_chief"] not in by_number
    nothing = html(client, "/beslut/register?organisation=farsta")
    assert "Inga beslut matchar sökningen." in nothing
    assert '<option value="farsta" selected>' in nothing
    # A kind that does not exist is ignored, not an error.
    assert numbers["council"] in html(client, "/beslut/register?beslutande=kungen")


def test_export_as_json_of_the_register_a_search_and_one_record(city: Any, app: Flask) -> None:
    revision_unchanged(city)
    council_approves(city, revision_at_council(city), "Utkastet uppfyller lagens krav.")
    client = client_for(app, "revisor")

    everything = client.get("/beslut/export.json")
    assert everything.status_code == 200
    assert everything.mimetype == "application/json"
    assert "attachment" in everything.headers["Content-Disposition"]
    records = json.loads(everything.get_data(as_text=True))["decisions"]
    assert {r["kind"] for r in records} == {"council", "security_chief"}
    council = next(r for r in records if r["kind"] == "council")
    assert council["motivation"] == "Utkastet uppfyller lagens krav."
    assert council["decided_by"] == "radet1"

    searched = json.loads(client.get("/beslut/export.json?beslutande=council").data)
    assert [r["number"] for r in searched["decisions"]] == [council["number"]]
    one = json.loads(client.get(f"/beslut/export.json?id={council['id']}").data)
    assert one["decisions"] == [council]
    register = html(client, "/beslut/register?beslutande=council")
    assert 'href="/beslut/export.json?beslutande=council"' in register


def test_printable_record(city: Any, app: Flask) -> None:
    revision_unchanged(city)
    record = city.decisions()[0]
    client = client_for(app, "ansvarig.bromma")
    page = html(client, f"/beslut/{record['id']}/utskrift")
    assert "Stockholms stad" in page and "Säkerhetschefen" in page
    assert record["motivation"] in page
    assert 'src="/static/print.js"' in page
    assert 'class="no-print' in page  # links and buttons stay off the paper
    text = client.get(f"/beslut/{record['id']}/utskrift.txt")
    assert text.mimetype == "text/plain"
    body = text.get_data(as_text=True)
    assert body.startswith(f"BESLUT {record['number']}")
    assert record["motivation"] in body
    assert client.get("/static/kedja.css").get_data(as_text=True).count("@media print") >= 1


def test_every_signed_in_user_reads_the_register_but_not_every_case(city: Any, app: Flask) -> None:
    instance = revision_unchanged(city)
    record = city.decisions()[0]
    client = client_for(app, "ansvarig.farsta")  # not part of this case
    detail = html(client, f"/beslut/{record['id']}")
    assert f"Ärende {instance}" in detail
    assert f'href="/arenden/{instance}"' not in detail
    html(client, f"/arenden/{instance}", status=404)

    anonymous = app.test_client()
    for url in ("/beslut/register", f"/beslut/{record['id']}", "/beslut/export.json"):
        assert anonymous.get(url).status_code == 302


def test_unknown_records_are_not_found(city: Any, app: Flask) -> None:
    client = client_for(app, "radet1")
    for url in ("/beslut/999", "/beslut/RHR%202026:99", "/beslut/999/utskrift"):
        html(client, url, status=404)
    assert client.get("/beslut/export.json?id=999").status_code == 404


def test_record_text_is_escaped(city: Any, app: Flask) -> None:
    instance = revision_at_council(city)
    council_approves(city, instance, "<script>alert(1)</script> Godkänt.")
    record = next(d for d in city.decisions() if d["kind"] == "council")
    page = html(client_for(app, "radet1"), f"/beslut/{record['id']}")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Godkänt." in page


def test_the_register_in_english_keeps_the_records_swedish(city: Any, app: Flask) -> None:
    revision_unchanged(city)
    record = city.decisions()[0]
    city.register.set_language("radet1", "en")
    client = client_for(app, "radet1")
    register = html(client, "/beslut/register")
    assert "<h1>Decisions register</h1>" in register
    assert "Security chief" in register
    assert f'<span lang="sv">{record["decision"]}</span>' in register
    detail = html(client, f"/beslut/{record['id']}")
    assert "<dt>Motivation</dt>" in detail and "<dt>Decision</dt>" in detail
    assert f'<span lang="sv">{record["motivation"]}</span>' in detail
    index = html(client, "/beslut/")
    assert "Waiting for your decision" in index
