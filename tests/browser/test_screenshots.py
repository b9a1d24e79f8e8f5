"""The README's and the guides' pictures (the task list, a form, the modeller), taken from the
real application on the demo city. Runs as a test (the pages render, in Chromium, for a
responsible person); with KEDJA_WRITE_DOC_IMAGES=1 it also writes the PNGs to docs/images/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.test_webui_tasks import open_planning

pytestmark = pytest.mark.browser
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
WRITE = os.environ.get("KEDJA_WRITE_DOC_IMAGES") == "1"


def _shoot(page: Any, name: str) -> None:
    if WRITE:
        IMAGES.mkdir(exist_ok=True)
        page.screenshot(path=str(IMAGES / name), full_page=False)


def test_task_list_and_lagesbild_form_for_the_readme(page: Any, live: Any) -> None:
    city = live.city
    open_planning(city)
    city.start("safety_prize")
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, "ansvarig.farsta")
    page.goto("/uppgifter")
    expect(page.locator("table.task-list")).to_contain_text("Ta fram lägesbild")
    _shoot(page, "task-list.png")
    page.get_by_role("link", name="Ta fram lägesbild").first.click()
    expect(page.locator("h1")).to_have_text("Ta fram lägesbild")
    _shoot(page, "task-form.png")


def test_the_modeller_with_a_task_selected_for_the_readme(page: Any, live: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 1000})
    sign_in(page, "processagare")
    page.goto("/modeller/tertial_loop")
    page.wait_for_selector("#modeller[data-ready=true]")
    page.wait_for_selector("#modeller-properties[data-ready=true]")
    page.evaluate(
        """() => {
          const modeler = window.kedjaModeller;
          const task = modeler.get("elementRegistry").get("council_tertial");
          modeler.get("selection").select(task);
        }"""
    )
    expect(page.locator("#egenskaper-vald")).to_contain_text("(council_tertial)")
    expect(page.locator("#formular-val")).to_have_value("forms/council_tertial.schema.json")
    expect(page.locator("#formularpanel-visning")).to_contain_text("Riskhanteringsrådet")
    _shoot(page, "modeller.png")
    page.evaluate("() => document.getElementById('modeller-forms').scrollIntoView()")
    _shoot(page, "modeller-forms.png")
