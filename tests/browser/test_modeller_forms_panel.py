"""The forms panel beside the diagram, in a real browser: a process owner sees the form of the
user task she selects, edits it with the preview following, makes a new form from a
template, gives it to a task in the properties panel, sees a broken form named by "Validera",
and deploys the diagram and the new form together as one version.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe, sign_in
from tests.browser.test_modeller_properties import MAIN, properties, select_on_canvas

COUNCIL_FORM = "forms/council_tertial.schema.json"
NEW_FORM = "forms/radets_beslut.schema.json"
NEW_UI = "forms/radets_beslut.uischema.json"


TEMPLATE = """() => JSON.parse(
  document.getElementById("modeller-forms").dataset.templates
).beslut.schema"""


@pytest.fixture
def modeller(page: Any, live: Any) -> Any:
    sign_in(page, "processagare")
    page.goto("/modeller/tertial_loop")
    page.wait_for_selector("#modeller[data-ready=true]")
    page.wait_for_selector("#modeller-properties[data-ready=true]")
    return page


def preview(page: Any) -> Any:
    return page.locator("#formularpanel-visning")


def test_a_new_form_is_made_beside_the_diagram_and_deployed_with_it(
    modeller: Any, live: Any
) -> None:
    page = modeller
    panel = page.locator("#modeller-forms")
    expect(panel).to_be_visible()
    # Selecting a user task opens its form, rendered as staff will see it.
    select_on_canvas(page, "council_tertial")
    expect(page.locator("#formular-val")).to_have_value(COUNCIL_FORM)
    expect(preview(page)).to_contain_text("Riskhanteringsrådet: tertialrapporten")
    schema = page.input_value("#formular-schema")
    assert json.loads(schema)["title"] == "Riskhanteringsrådet: tertialrapporten"

    # Editing the text updates the preview; the list says the form is changed.
    page.fill("#formular-schema", schema.replace("Riskhanteringsrådet: tertialrapporten", "Rådet"))
    expect(preview(page).locator(".form-preview-title")).to_have_text("Rådet")
    expect(page.locator("#formular-val option:checked")).to_contain_text("ändrat")
    page.click("button[data-action=revert-form]")
    expect(preview(page)).to_contain_text("Riskhanteringsrådet: tertialrapporten")

    # A name that breaks the rule is refused beside the field.
    page.fill("#formular-nytt-namn", "Rådets beslut")
    page.click("button[data-action=new-form]")
    expect(page.locator("#formular-nytt-namn-fel")).to_contain_text("små bokstäver")
    expect(page.locator("#formular-nytt-namn")).to_have_attribute("aria-invalid", "true")

    # A new form from the decision template.
    page.fill("#formular-nytt-namn", "radets_beslut")
    page.select_option("#formular-mall", "beslut")
    page.click("button[data-action=new-form]")
    expect(page.locator("#formular-val")).to_have_value(NEW_FORM)
    expect(page.locator("#formular-val option:checked")).to_contain_text("nytt")
    expect(preview(page)).to_contain_text("Återremittera")
    expect(page.locator("#formular-status")).to_contain_text("Formuläret är skapat")
    assert axe(page) == []

    # The council's task is still selected (clicking it again would deselect it); the
    # properties panel now offers the new form, and the task takes it.
    expect(page.locator("#egenskaper-vald")).to_contain_text("(council_tertial)")
    page.select_option("#egenskap-formular", NEW_FORM)
    page.select_option("#egenskap-uischema", NEW_UI)
    expect(page.locator("#formular-val")).to_have_value(NEW_FORM)

    # A broken form is shown beside its text, and "Validera" names its file.
    broken = '{"type": "object", "title": }'
    page.fill("#formular-schema", broken)
    expect(page.locator("#formular-schema-fel")).to_contain_text("Ogiltig JSON")
    expect(page.locator("#formular-schema")).to_have_attribute("aria-invalid", "true")
    page.click("button[data-action=validate]")
    expect(page.locator(".modeller-problems li")).to_contain_text("radets_beslut.schema.json")

    decision = json.loads(page.evaluate(TEMPLATE))
    decision["title"] = "Rådets beslut om tertialrapporten"
    page.fill("#formular-schema", json.dumps(decision, ensure_ascii=False, indent=2))
    expect(page.locator("#formular-schema-fel")).to_be_hidden()
    page.click("button[data-action=validate]")
    expect(page.locator(".modeller-clean")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("button[data-action=deploy]")
    expect(page.locator(".flashes")).to_contain_text(
        "tertial_loop version 2 är driftsatt men väntar på godkännande"
    )
    repository = live.city.engine.repository
    files = repository.files(repository.get("tertial_loop").id)
    assert json.loads(files[f"tertial-loop/{NEW_FORM}"]) == decision
    assert json.loads(files[f"tertial-loop/{NEW_UI}"])["beslut"] == {"ui:widget": "radio"}
    assert properties(files[MAIN], "council_tertial")["formJsonSchemaFilename"] == NEW_FORM
    # Reopened, the page shows the deployed form as it is, not as changed.
    page.wait_for_selector("#modeller[data-ready=true]")
    page.select_option("#formular-val", NEW_FORM)
    expect(page.locator("#formular-val option:checked")).not_to_contain_text("nytt")
    expect(preview(page)).to_contain_text("Rådets beslut om tertialrapporten")
