"""The modeller's refusal to move a case, in a real browser.

Issue 6 asks that a case running on version n keeps running on n, and that moving it to n+1
succeeds where it is compatible and is refused, with a reason, where it is not.
tests/browser/test_modeller.py shows the move that succeeds; this shows both at once, as a
process owner meets them: two tertial loops run on version 1, one waiting for its tertial
to end, one at the council's task; the process owner removes the council's task in bpmn-js
and deploys version 2. The waiting case can move (the council's task is only ahead of it,
and is predicted again from version 2); the other stands on the removed element and stays.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import axe
from tests.browser.test_modeller import MARKED, modeller  # noqa: F401 — the fixture

# The council's task taken out as the delete key does it: bpmn-js joins the task's one
# incoming and one outgoing flow, so the compiled status goes straight on to registering the
# decision.
REMOVE_COUNCIL_TASK = """() => {
  const modeler = window.kedjaModeller;
  const registry = modeler.get("elementRegistry");
  modeler.get("modeling").removeElements([registry.get("council_tertial")]);
  const next = registry.get("update_status").outgoing.map((flow) => flow.target.id);
  return { gone: registry.get("council_tertial") === undefined, next };
}"""
REFUSAL = (
    "element 'council_tertial' (Behandla tertialrapporten) of 'tertial_loop' is active but "
    "does not exist in the new version"
)
REASON = "Rådet behandlar tertialrapporten på sitt möte i stället"


def test_a_case_on_a_removed_element_is_refused_with_why_and_stays_on_its_version(
    modeller: Any,  # noqa: F811 — the fixture imported above
    live: Any,
) -> None:
    city = live.city
    at_council = city.start("tertial_loop", 2026, plans=[])
    city.advance_to("2026-05-01T08:00:00+02:00")  # T1 has ended: the council's task is open
    council_task = city.task("radet1", "council_tertial")
    assert council_task.instance_id == at_council
    waiting = city.start("tertial_loop", 2027, plans=[])  # waits for T1 2027 to end
    assert {city.engine.runtime.get(i).version for i in (at_council, waiting)} == {1}

    page = modeller
    removed = page.evaluate(REMOVE_COUNCIL_TASK)
    assert removed == {"gone": True, "next": ["register_council_decision"]}
    page.click("button[data-action=validate]")
    page.wait_for_function(
        "() => !document.getElementById('modeller-result').textContent.includes('…')"
    )
    assert page.locator(".modeller-clean").count() == 1, page.inner_text("#modeller-result")
    assert page.evaluate(MARKED) == []
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("button[data-action=deploy]")
    assert "tertial_loop version 2 är driftsatt men väntar på godkännande" in page.inner_text(
        ".flashes"
    )
    assert city.engine.repository.get("tertial_loop").version == 2
    # Deploying moves nothing: both cases still run on version 1.
    assert [city.engine.runtime.get(i).version for i in (at_council, waiting)] == [1, 1]
    # The loop calls privileged services: an administrator approves the version first.
    newest = city.engine.repository.get("tertial_loop")
    city.engine.approvals.approve(newest.id, city.actor("admin"), "granskad")
    page.reload()

    # Before anyone presses the button, the table says which case can move, and why not.
    table = page.locator(".modeller-migration")
    movable = table.locator("tbody tr", has=page.locator(f"th >> text='{waiting}'"))
    refused = table.locator("tbody tr", has=page.locator(f"th >> text='{at_council}'"))
    expect(movable.locator("td").nth(0)).to_have_text("1")
    expect(movable.locator("td").nth(1)).to_have_text("Ja")
    expect(refused.locator("td").nth(0)).to_have_text("1")
    expect(refused.locator("td").nth(1)).to_contain_text("Nej:")
    assert refused.locator("td li").all_inner_texts() == [REFUSAL]

    page.fill("#flytta-skal", REASON)
    page.click("text=Flytta de ärenden som kan flyttas")
    flashes = page.locator(".flashes")
    expect(flashes).to_contain_text(
        "1 ärende flyttades till den senaste versionen. 1 ärende kunde inte flyttas."
    )
    # ... and what the process owner can do about the one that stayed.
    expect(flashes.locator(".flash.info")).to_have_text(
        "Ärenden som inte kunde flyttas fortsätter på sin version; tabellen säger vilket "
        "element som står i vägen. Flytta dem när de har gått vidare från det elementet, "
        "eller be en administratör avbryta dem i driftöversikten om de inte ska fortsätta."
    )
    # The page after the move lists what moved, and still shows the refusal with its reason.
    expect(page.locator("a", has_text=f"ärende {waiting}")).to_have_count(1)
    still = page.locator(".modeller-migration tbody tr")
    expect(still).to_have_count(1)
    expect(still.locator("th")).to_have_text(str(at_council))
    assert still.locator("td li").all_inner_texts() == [REFUSAL]
    assert axe(page) == []

    # The moved case runs on version 2, with who moved it and why in its history.
    assert city.engine.runtime.get(waiting).version == 2
    moves = [e for e in city.history(waiting) if e["kind"] == "instance.migrated"]
    assert [(e["actor"], e["data"]) for e in moves] == [
        ("processagare", {"from_version": 1, "to_version": 2, "reason": REASON})
    ]
    # The refused case is untouched: on version 1, running, its council task open as before.
    info = city.engine.runtime.get(at_council)
    assert (info.version, info.state) == (1, "running")
    assert not [e for e in city.history(at_council) if e["kind"] == "instance.migrated"]
    task = city.engine.tasks.get(council_task.id)
    assert (task.state, task.definition_version) == ("open", 1)
