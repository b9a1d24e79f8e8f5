"""Approving a process version in a real browser (engine/approvals.py): the process owner
deploys a changed tertial loop, an administrator reads what it calls, refuses without a
reason (the message is beside the field), then approves; no WCAG 2.1 AA violations."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from processes.catalogue import BPMN_DIR
from tests.browser.conftest import axe, sign_in

pytestmark = pytest.mark.browser


def test_an_administrator_refuses_without_a_reason_then_approves(
    page: Any, live: Any, tmp_path: Any
) -> None:
    city = live.city
    folder = tmp_path / "tertial-loop"
    shutil.copytree(BPMN_DIR / "tertial-loop", folder)
    main = folder / "tertial-loop.bpmn"
    main.write_text(
        main.read_text(encoding="utf-8").replace(
            "<bpmn:documentation>", "<bpmn:documentation>Version 2. ", 1
        ),
        encoding="utf-8",
    )
    (deployed,) = [
        r
        for r in city.engine.repository.deploy([folder], city.actor("processagare"))
        if r.definition.key == "tertial_loop"
    ]
    definition = deployed.definition

    sign_in(page, "admin")
    page.goto("/admin/godkannanden")
    section = page.locator("section.approval", has_text="Tertialuppföljning, version 2")
    assert "Registrerar ett beslut i stadens beslutsregister" in section.inner_text()
    assert axe(page) == []

    section.get_by_role("button", name="Avslå").click()
    page.wait_for_load_state()
    field = page.locator(f"#note_{definition.id}")
    assert field.get_attribute("aria-invalid") == "true"
    assert "Skriv varför versionen avslås" in page.locator(".error-summary").inner_text()
    assert axe(page) == []
    assert city.engine.approvals.of(definition.id).state == "awaiting"

    field.fill("Läst jämförelsen med version 1")
    page.locator("section.approval", has_text="Tertialuppföljning, version 2").get_by_role(
        "button", name="Godkänn"
    ).click()
    page.wait_for_load_state()
    assert "Version 2 av tertial_loop är godkänd" in page.locator(".flashes").inner_text()
    approval = city.engine.approvals.of(definition.id)
    assert (approval.state, approval.decided_by) == ("approved", "admin")
    assert approval.note == "Läst jämförelsen med version 1"

    page.goto("/modeller/tertial_loop")
    assert "Godkänd av Ada Administratör" in page.locator(".modeller-versions").inner_text()
