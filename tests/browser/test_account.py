"""The settings page in a real browser: choose the Monday digest, make a calendar address
and open it; no WCAG 2.1 AA violations, in Swedish and in English."""

from __future__ import annotations

from typing import Any
from urllib.request import urlopen

import pytest
from icalendar import Calendar

from processes import notification_preferences
from tests.browser.conftest import axe, sign_in

pytestmark = pytest.mark.browser


def test_settings_and_a_calendar_address(page: Any, live: Any) -> None:
    sign_in(page, "ansvarig.bromma")
    page.goto("/konto/")
    assert axe(page) == []

    page.get_by_label("En sammanfattning av veckan varje måndag kl. 08.00").check()
    page.click("button.primary[type=submit]")
    page.wait_for_load_state()
    assert "Dina inställningar är sparade." in page.locator(".flashes").inner_text()
    assert notification_preferences.preference(live.city.engine, "ansvarig.bromma") == "digest"

    page.get_by_role("button", name="Skapa kalenderadress").click()
    page.wait_for_load_state()
    address = page.get_by_label("Din nya kalenderadress").input_value()
    assert address.startswith(live.url + "/kalender/") and address.endswith(".ics")
    assert axe(page) == []
    with urlopen(address) as response:
        calendar = Calendar.from_ical(response.read())
    assert calendar.walk("VEVENT")

    page.get_by_role("button", name="Återkalla kalenderadressen").click()
    page.wait_for_load_state()
    assert "Du har ingen kalenderadress." in page.locator("main").inner_text()


def test_the_settings_page_in_english_has_no_violations(page: Any, live: Any) -> None:
    live.city.register.set_language("ansvarig.farsta", "en")
    sign_in(page, "ansvarig.farsta")
    page.goto("/konto/")
    assert page.locator("h1").inner_text() == "Settings"
    assert axe(page) == []
    page.get_by_role("button", name="Create a calendar address").click()
    page.wait_for_load_state()
    assert page.get_by_label("Your new calendar address").input_value().endswith(".ics")
    assert axe(page) == []
    # An error summary, too: a tampered choice comes back with links to the fields.
    page.evaluate("document.getElementById('mode-each').value = 'hourly'")
    page.check("#mode-each")
    page.click("button.primary[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".error-summary a").count() == 1
    assert axe(page) == []


def test_an_expired_api_token_is_renewed_on_the_settings_page(page: Any, live: Any) -> None:
    from datetime import timedelta

    from processes import api_tokens

    info, _token = api_tokens.create(live.city.engine, "ansvarig.bromma", "Ärendesystemet", 5)
    live.city.clock.set(info.expires_at + timedelta(days=1))
    sign_in(page, "ansvarig.bromma")
    page.goto("/konto/#api-nycklar")
    row = page.locator(f"#api-nyckel-{info.id}")
    assert "Har gått ut" in row.inner_text()
    assert axe(page) == []
    page.get_by_role("button", name="Förnya API-nyckeln Ärendesystemet").click()
    page.wait_for_load_state()
    assert "är förnyad och gäller till" in page.locator(".flashes").inner_text()
    assert "Fungerar" in page.locator(f"#api-nyckel-{info.id}").inner_text()
    assert axe(page) == []
    renewed = api_tokens.tokens(live.city.engine, "ansvarig.bromma")[0]
    assert renewed.expires_at == live.city.clock.now() + timedelta(days=90)
