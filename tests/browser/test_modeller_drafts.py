"""Drafts in a real browser: "Spara utkast" saves the edited diagram without deploying it, the
page then offers the draft, and opening it puts the edit back in the Modeler.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import axe, sign_in

RENAME = """() => {
  const modeler = window.kedjaModeller;
  const task = modeler.get("elementRegistry").filter((e) => e.type === "bpmn:UserTask")[0];
  modeler.get("modeling").updateLabel(task, "Utkastets nya namn");
  return task.id;
}"""
NAME_OF = """(id) => window.kedjaModeller.get("elementRegistry").get(id).businessObject.name"""


def test_a_draft_is_saved_offered_and_opened_again(page: Any, live: Any) -> None:
    sign_in(page, "processagare")
    page.goto("/modeller/tertial_loop")
    page.wait_for_selector("#modeller[data-ready=true]")
    task_id = page.evaluate(RENAME)
    page.click("button[data-action=draft]")
    expect(page.locator("#modeller-result .modeller-draft-saved")).to_contain_text(
        "Utkastet är sparat"
    )
    assert live.city.engine.repository.get("tertial_loop").version == 1

    page.goto("/modeller/tertial_loop")
    expect(page.locator(".modeller-draft")).to_contain_text("baserat på version 1")
    page.wait_for_selector("#modeller[data-ready=true]")
    assert axe(page) == []
    page.click("text=Öppna utkastet")
    page.wait_for_selector("#modeller[data-ready=true]")
    assert page.evaluate(NAME_OF, task_id) == "Utkastets nya namn"
    expect(page.locator(".modeller-draft")).to_contain_text("Du redigerar ditt utkast")

    live.city.register.set_language("processagare", "en")
    page.goto("/modeller/tertial_loop?utkast=1")
    page.wait_for_selector("#modeller[data-ready=true]")
    expect(page.locator("button[data-action=draft]")).to_have_text("Save draft")
    assert axe(page) == []
    page.click("text=Discard the draft")
    expect(page.locator(".modeller-draft")).to_have_count(0)
