"""Decisions in a real browser: a council member decides an item through the task's form
and finds the decision in the register; the register, a record, its printable version and
the list of waiting items have no WCAG 2.1 AA violations, in Swedish and in English."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import axe, sign_in
from tests.test_webui_decisions import (
    council_approves,
    open_task,
    revision_at_council,
    revision_unchanged,
)

pytestmark = pytest.mark.browser
MOTIVATION = "Utkastet uppfyller kraven i lag (2023:196); rådet tillstyrker."


def switch_language(page: Any) -> None:
    """Press the language button in the header (English <-> Swedish)."""
    page.click("form.language button")
    page.wait_for_load_state()


def test_a_council_member_approves_with_a_motivation_and_finds_it_in_the_register(
    page: Any, live: Any
) -> None:
    city = live.city
    instance = revision_at_council(city)
    task = open_task(city, instance, "council_deliberation")

    sign_in(page, "radet1")
    page.goto("/beslut/")
    item = page.locator(f"article[aria-labelledby='beslut-{task.id}']")
    assert item.count() == 1
    item.get_by_role("link", name="Öppna underlaget och besluta").click()
    page.wait_for_url(f"**/uppgifter/{task.id}")

    # The decision form of the tasks area: a decision and a required motivation.
    page.check("input[name='/beslut'][value='tillstyrk']")
    page.fill("#f-motivering", MOTIVATION)
    page.click("button.primary[name=_action][value=complete]")
    page.wait_for_load_state()
    assert city.engine.tasks.get(task.id).state == "completed"

    page.goto("/beslut/")
    assert page.locator(f"article[aria-labelledby='beslut-{task.id}']").count() == 0
    page.click("text=Till beslutsregistret")
    page.fill("#q", "2023:196")
    page.click("form[role=search] button[type=submit]")
    record = next(d for d in city.decisions() if d["kind"] == "council")
    page.get_by_role("link", name=record["number"]).click()
    page.wait_for_url(f"**/beslut/{record['id']}")
    assert page.locator("h1").inner_text() == f"Beslut {record['number']}"
    assert MOTIVATION in page.locator(".record .motivation").inner_text()
    assert "Rune Rådsledamot" in page.locator(".record").inner_text()
    assert "Riskhanteringsrådet" in page.locator(".record").inner_text()


def test_the_printed_record_leaves_the_page_furniture_out(page: Any, live: Any) -> None:
    revision_unchanged(live.city)
    record = live.city.decisions()[0]
    sign_in(page, "revisor")
    page.goto(f"/beslut/{record['id']}/utskrift")
    assert page.locator("#skriv-ut").is_visible()  # shown by the script
    page.emulate_media(media="print")
    assert page.locator(".site-header").is_hidden()
    assert page.locator("#skriv-ut").is_hidden()
    assert page.locator(".record").is_visible()


@pytest.mark.parametrize("language", ["sv", "en"])
def test_decision_pages_have_no_accessibility_violations(
    page: Any, live: Any, language: str
) -> None:
    city = live.city
    revision_unchanged(city)
    council_approves(city, revision_at_council(city), MOTIVATION)
    revision_at_council(city)  # one item waiting for the council
    record = next(d for d in city.decisions() if d["kind"] == "council")

    sign_in(page, "radet1")
    page.goto("/beslut/")
    if language == "en":
        switch_language(page)
    assert page.locator("html").get_attribute("lang") == language
    pages = [
        "/beslut/",
        "/beslut/register",
        "/beslut/register?q=lag&beslutande=council",
        "/beslut/register?q=finns-inte",
        f"/beslut/{record['id']}",
        f"/beslut/{record['id']}/utskrift",
    ]
    for url in pages:
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == language
        assert axe(page) == [], url
