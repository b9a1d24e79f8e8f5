"""The overview pages in a real browser: the tertial dashboard after a simulated T1 names the
late and the missing organisations, its downloads hold the same figures as the page, and
axe-core finds no WCAG 2.1 A/AA violation on the dashboard, the annual wheel and the
council's agenda, in Swedish and in English.

With KEDJA_WRITE_DOC_IMAGES=1 the tests also write the pictures of the wheel and the
dashboard for the README and the user guide (docs/images/wheel.png, dashboard.png).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.browser.conftest import axe, sign_in
from tests.test_dashboard import complete_t1, simulate_t1

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
WRITE_IMAGES = os.environ.get("KEDJA_WRITE_DOC_IMAGES") == "1"
DASHBOARD = "/oversikt/lagesbild?ar=2026&tertial=T1"

pytestmark = pytest.mark.browser


def download(page: Any, link_text: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_text).click()
    return Path(info.value.path()).read_bytes()


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def in_english(page: Any) -> None:
    page.get_by_role("button", name="In English").click()
    page.wait_for_selector("html[lang=en]")


def test_the_dashboard_after_t1_names_the_late_and_the_missing(page: Any, live: Any) -> None:
    simulate_t1(live.city)
    sign_in(page, "samordnare")
    page.goto(DASHBOARD)
    assert page.locator("#org-bromma").get_attribute("data-state") == "late"
    assert page.locator("#org-bromma td").nth(1).inner_text() == "Sen"
    assert page.locator("#org-svenska_bostader td").nth(1).inner_text() == "Saknas"
    assert page.locator("#org-farsta td").nth(1).inner_text() == "Inlämnad i tid"
    late = page.locator("#sena li").all_inner_texts()
    assert late == ["Bromma stadsdelsförvaltning – inlämnad 2026-05-18 10:00"]
    assert page.locator("#saknas li").all_inner_texts() == ["AB Svenska Bostäder"]

    # The page's table, row by row: organisation, report, submitted.
    shown = [
        [
            row.locator("th").inner_text(),
            row.locator("td").nth(1).inner_text(),
            row.locator("td").nth(2).inner_text().replace("–", ""),
        ]
        for row in page.locator(".dashboard-table tbody tr").all()
    ]
    exported = csv_rows(download(page, "Organisationerna som CSV"))
    assert [[r[0], r[2], r[3]] for r in exported[1:]] == shown
    book = load_workbook(
        io.BytesIO(
            download(page, "Kalkylblad (xlsx) med sammanfattning, organisationer och åtgärder")
        )
    )
    sheet = [
        ["" if v is None else str(v) for v in row]
        for row in book["Organisationer"].iter_rows(values_only=True)
    ]
    assert sheet == exported
    summary = dict(
        (str(k), str(v)) for k, v in book["Sammanfattning"].iter_rows(min_row=2, values_only=True)
    )
    figures = page.locator(".figures li strong").all_inner_texts()
    assert [summary["Organisationer"], summary["Inlämnade i tid"], summary["Sena"]] == figures[:3]
    assert summary["Saknas"] == figures[3] == "1"

    if WRITE_IMAGES:
        IMAGES.mkdir(exist_ok=True)
        page.set_viewport_size({"width": 1200, "height": 900})
        bottom = page.evaluate(
            "() => document.querySelector('.dashboard-table').getBoundingClientRect().bottom"
            " + window.scrollY"
        )
        page.screenshot(
            path=str(IMAGES / "dashboard.png"),
            clip={"x": 0, "y": 0, "width": 1200, "height": bottom + 24},
            full_page=True,
        )


def test_the_dashboard_has_no_accessibility_violations(page: Any, live: Any) -> None:
    simulate_t1(live.city)
    complete_t1(live.city)  # compiled: traffic lights and all the tables on the page
    sign_in(page, "radet1")
    page.goto(DASHBOARD)
    assert page.locator(".dashboard-table .light").count() > 0
    assert axe(page) == []
    in_english(page)
    assert page.locator("h1").inner_text().startswith("Overview")
    assert axe(page) == []


def test_the_wheel_has_no_accessibility_violations(page: Any, live: Any) -> None:
    live.city.advance_to("2026-05-20T09:00:00+02:00")
    sign_in(page, "ansvarig.farsta")
    page.goto("/oversikt/arshjul")
    wheel = page.locator("svg.wheel")
    assert wheel.get_attribute("role") == "img"
    assert wheel.locator("title").text_content() == "Årshjul 2026"
    assert (
        page.locator(".wheel .marker").count() == page.locator(".wheel-table tbody tr").count() - 1
    )
    assert axe(page) == []
    if WRITE_IMAGES:
        IMAGES.mkdir(exist_ok=True)
        page.set_viewport_size({"width": 1200, "height": 900})
        page.locator(".wheel-layout").screenshot(path=str(IMAGES / "wheel.png"))
    in_english(page)
    assert page.locator("svg.wheel title").text_content() == "Annual wheel 2026"
    assert axe(page) == []


def test_the_agenda_has_no_accessibility_violations(page: Any, live: Any) -> None:
    simulate_t1(live.city)
    complete_t1(live.city)
    sign_in(page, "sekreterare")
    page.goto("/oversikt/dagordning")
    assert page.locator(".agenda-items > li").count() == 1
    assert page.locator("#skriv-ut").is_visible()  # the script shows the print button
    assert axe(page) == []
    page.get_by_role("button", name="Lägg till sammanträdet").click()  # no date: errors
    assert page.locator(".error-summary").is_visible()
    assert axe(page) == []
    in_english(page)
    assert axe(page) == []
