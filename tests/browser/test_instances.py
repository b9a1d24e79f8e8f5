"""The case page in a real browser: the bpmn-js viewer draws the diagram with the active
task and the completed steps marked (classes on the SVG elements), under the real content
security policy; without JavaScript the same facts are there as text; no WCAG 2.1 AA
violations in Swedish and in English."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from processes import attachments
from tests.browser.conftest import axe, sign_in
from tests.test_webui_decisions import revision_unchanged
from tests.test_webui_instances import lagesbild, plan_cycle_at_lagesbild

pytestmark = pytest.mark.browser


def marked(page: Any, marker: str) -> set[str]:
    return set(
        page.eval_on_selector_all(
            f"g.djs-element.{marker}", "els => els.map(e => e.getAttribute('data-element-id'))"
        )
    )


@pytest.fixture
def strict_page(browser: Any, live: Any) -> Iterator[tuple[Any, list[str]]]:
    """A page that keeps the content security policy (the `page` fixture bypasses it to
    inject axe-core), with every console message and page error collected."""
    context = browser.new_context(base_url=live.url, locale="sv-SE")
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    yield page, messages
    context.close()


def test_the_diagram_marks_the_active_task_and_completed_steps(
    strict_page: tuple[Any, list[str]], live: Any
) -> None:
    page, messages = strict_page
    instance = plan_cycle_at_lagesbild(live.city)
    sign_in(page, "ansvarig.farsta")

    page.goto(f"/arenden/{instance}")
    page.wait_for_selector("#diagram.diagram-ready")
    assert "organisation_plans" in marked(page, "kedja-active")  # the called plans run
    assert "confirm_participants" in marked(page, "kedja-completed")

    page.click("nav.diagram-choice a[href*='process=organisation_plan']")
    page.wait_for_selector("#diagram.diagram-ready")
    active = page.locator("g.djs-element[data-element-id='lagesbild']")
    assert "kedja-active" in (active.get_attribute("class") or "").split()
    assert "lagesbild" not in marked(page, "kedja-completed")
    svg = page.locator("#diagram svg").first
    assert svg.get_attribute("role") == "img"
    task = lagesbild(live.city, instance, "farsta")
    assert task.name in (svg.get_attribute("aria-label") or "")
    assert page.locator(".diagram-tools").is_visible()
    page.click(".diagram-tools button[data-zoom='in']")

    problems = [m for m in messages if "Content Security Policy" in m or "pageerror" in m]
    assert problems == []


def test_without_javascript_the_case_is_text(browser: Any, live: Any) -> None:
    instance = plan_cycle_at_lagesbild(live.city)
    context = browser.new_context(base_url=live.url, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, "ansvarig.farsta")
        page.goto(f"/arenden/{instance}")
        assert page.locator(".diagram-fallback").is_visible()
        assert page.locator(".diagram-tools").is_hidden()
        task = lagesbild(live.city, instance, "farsta")
        page.get_by_role("link", name=task.name).click()
        page.wait_for_url(f"**/uppgifter/{task.id}")
    finally:
        context.close()


@pytest.mark.parametrize("language", ["sv", "en"])
def test_the_case_pages_have_no_accessibility_violations(
    page: Any, live: Any, language: str
) -> None:
    city = live.city
    instance = plan_cycle_at_lagesbild(city)
    task = lagesbild(city, instance, "farsta")
    attachments.store(
        city.engine,
        task,
        "/kallor/0/bilaga",
        "Lägesbild.pdf",
        b"%PDF",
        city.actor("ansvarig.farsta"),
    )
    decided = revision_unchanged(city)  # a case with a decision in it
    city.register.set_language("samordnare", language)
    sign_in(page, "samordnare")
    for url in (
        f"/arenden/{instance}",
        f"/arenden/{instance}?process=organisation_plan&alla=1",
        f"/arenden/{decided}",
        "/arenden/",
    ):
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == language
        if page.locator("#diagram").count():
            page.wait_for_selector("#diagram.diagram-ready")
        assert axe(page) == [], url
