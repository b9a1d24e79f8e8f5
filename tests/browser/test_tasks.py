"""The tasks area in a real browser (Debian's Chromium through Playwright).

A responsible person finds their lägesbild in the task list, sends it with a required field
missing, sees the message by the field with everything they typed still there, fixes it and
completes; a responsible person of another organisation neither sees nor opens that task,
not even by typing its URL; an action plan is written (rows added and removed) and completed
with JavaScript switched off; and axe-core finds no WCAG 2.1 A/AA violation on the sign-in
page, the task list and a form with errors, in Swedish and in English.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe, sign_in
from tests.test_webui_tasks import open_planning

pytestmark = pytest.mark.browser


def switch_language(page: Any) -> None:
    """The language button in the header (Swedish <-> English)."""
    page.click("form.language button")
    page.wait_for_load_state()


def no_violations(page: Any) -> None:
    violations = axe(page)
    assert violations == [], violations


def test_a_responsible_person_fixes_a_missing_field_and_completes_the_lagesbild(
    page: Any, live: Any
) -> None:
    city = live.city
    open_planning(city)
    task = city.task("ansvarig.farsta", "lagesbild")

    sign_in(page, "ansvarig.farsta")
    page.goto("/uppgifter")
    row = page.locator("table.task-list tbody tr", has_text="Ta fram lägesbild")
    expect(row).to_contain_text("Farsta stadsdelsförvaltning")
    expect(row).to_contain_text("2026-03-20 16:00")
    row.get_by_role("link", name="Ta fram lägesbild").click()
    page.wait_for_url(f"**/uppgifter/{task.id}")
    expect(page.locator("h1")).to_have_text("Ta fram lägesbild")
    expect(page.locator(".field.readonly")).to_contain_text("Ingen årlig utvärdering för 2025")

    page.get_by_label("Använd i lägesbilden").first.check()
    page.fill("#f-brottsstatistik-sammanfattning", "Skadegörelsen ökar kring centrum.")
    page.click("button.primary[name=_action][value=complete]")

    summary = page.locator("#felsammanfattning")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link", name="Fyll i ”Analys”.")).to_have_attribute(
        "href", "#f-analys"
    )
    expect(summary).to_be_focused()  # tasks.js moves focus to what needs fixing
    expect(page.locator("#f-analys-fel")).to_have_text("Fel: Fyll i ”Analys”.")
    analys = page.locator("#f-analys")
    expect(analys).to_have_attribute("aria-invalid", "true")
    expect(analys).to_have_attribute("aria-describedby", "f-analys-hjalp f-analys-fel")
    expect(page.locator("#f-brottsstatistik-sammanfattning")).to_have_value(
        "Skadegörelsen ökar kring centrum."
    )
    expect(page.locator("#f-brottsstatistik-anvand")).to_be_checked()
    assert city.engine.tasks.get(task.id).state == "open"

    summary.get_by_role("link").click()
    page.fill("#f-analys", "Skadegörelse och hot kring centrum, kvällstid.")
    page.click("button.primary[name=_action][value=complete]")
    page.wait_for_url("**/uppgifter")
    expect(page.locator(".flash")).to_have_text("Klart! Uppgiften ”Ta fram lägesbild” är slutförd.")
    done = city.engine.tasks.get(task.id)
    assert done.state == "completed" and done.completed_by == "ansvarig.farsta"
    expect(page.locator("table.task-list")).to_contain_text("Skriv åtgärdsplan")


def test_another_organisation_neither_sees_nor_opens_the_task(page: Any, live: Any) -> None:
    city = live.city
    open_planning(city)
    farsta = city.task("ansvarig.farsta", "lagesbild")
    bromma = city.task("ansvarig.bromma", "lagesbild")

    sign_in(page, "ansvarig.bromma")
    page.goto("/uppgifter")
    expect(page.locator(f"a[href='/uppgifter/{bromma.id}']")).to_have_count(1)
    expect(page.locator(f"a[href='/uppgifter/{farsta.id}']")).to_have_count(0)
    expect(page.locator("table.task-list")).not_to_contain_text("Farsta")

    response = page.goto(f"/uppgifter/{farsta.id}")
    assert response is not None and response.status == 404
    assert "Ta fram lägesbild" not in page.content()
    response = page.goto(f"/uppgifter/{farsta.id + 1000}")
    assert response is not None and response.status == 404


def test_an_action_plan_is_written_and_completed_with_javascript_disabled(
    browser: Any, live: Any
) -> None:
    city = live.city
    open_planning(city)
    lagesbild = city.task("ansvarig.farsta", "lagesbild")
    city.complete(
        "ansvarig.farsta",
        lagesbild,
        {
            "brottsstatistik": {"anvand": True, "sammanfattning": "Skadegörelse ökar."},
            "trygghetsmatning": {"anvand": False},
            "incidentrapporter": {"anvand": False},
            "risk_och_sarbarhetsanalys": {"anvand": False},
            "raddningstjanstens_statistik": {"anvand": False},
            "analys": "Skadegörelse kring centrum.",
        },
    )
    plan = city.task("ansvarig.farsta", "atgardsplan")

    context = browser.new_context(base_url=live.url, java_script_enabled=False, locale="sv-SE")
    page = context.new_page()
    try:
        sign_in(page, "ansvarig.farsta")
        page.goto(f"/uppgifter/{plan.id}")
        assert page.locator("#f-atgarder-0-orsak").count() == 0  # no rows yet

        # Rows come from plain submit buttons: the page is sent and comes back with a row.
        page.get_by_role("button", name="Lägg till rad").click()
        page.fill("#f-atgarder-0-orsak", "Raden som tas bort")
        page.get_by_role("button", name="Lägg till rad").click()
        expect(page.locator("#f-atgarder-0-orsak")).to_have_value("Raden som tas bort")
        row = {
            "orsak": "Skadegörelse kring centrum",
            "atgard": "Trygghetsvandringar med polisen",
            "operativt_mal": "Färre anmälda skadegörelser än 2025",
            "nar": "mars–december 2026",
            "vem": "Enhetschef trygghet",
            "uppfoljning": "Antal anmälningar, varje tertial",
        }
        for key, value in row.items():
            page.fill(f"#f-atgarder-1-{key}", value)
        page.get_by_role("button", name="Ta bort rad 1").click()
        expect(page.locator("#f-atgarder-0-orsak")).to_have_value(row["orsak"])
        expect(page.locator("#f-atgarder-1-orsak")).to_have_count(0)

        page.click("button.primary[name=_action][value=complete]")
        page.wait_for_url("**/uppgifter")
        expect(page.locator(".flash")).to_contain_text("Skriv åtgärdsplan")
    finally:
        context.close()
    done = city.engine.tasks.get(plan.id)
    assert done.state == "completed"
    completed = [e for e in city.history(plan.instance_id) if e["task_id"] == plan.id]
    assert completed[-1]["data"]["data"]["atgarder"] == [row]


def test_no_accessibility_violations_in_swedish_and_english(page: Any, live: Any) -> None:
    city = live.city
    open_planning(city)
    task = city.task("ansvarig.farsta", "lagesbild")

    for language in ("sv", "en"):
        page.goto("/logga-in")
        expect(page.locator("html")).to_have_attribute("lang", language)
        no_violations(page)
        if language == "sv":
            switch_language(page)

    # Signed in, each language in turn (the header's button stores the choice on the user).
    sign_in(page, "ansvarig.farsta")
    for language in ("sv", "en"):
        page.goto("/uppgifter")
        if page.locator("html").get_attribute("lang") != language:
            switch_language(page)
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("table.task-list")).to_be_visible()
        no_violations(page)

        page.goto(f"/uppgifter/{task.id}")
        page.fill("#f-brottsstatistik-sammanfattning", "Något jag skrev.")
        page.click("button.primary[name=_action][value=complete]")
        expect(page.locator("#felsammanfattning")).to_be_visible()
        no_violations(page)
