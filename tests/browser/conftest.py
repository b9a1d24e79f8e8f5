"""Browser tests: the real application on a real port, driven through Debian's Chromium.

A `live` server runs the Flask app (werkzeug, a thread) on the demo city of tests/city.py;
`page` is a Playwright page in /usr/bin/chromium. Without Chromium or Playwright the tests
are skipped locally and fail in CI (CI=true), where they are required. `axe(page)` runs
axe-core (from node_modules) at WCAG 2.1 A/AA and returns the violations.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not AXE.exists():
        return f"{AXE} is missing (npm install)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    problem = _unavailable()
    if problem:
        if IN_CI:
            pytest.fail(f"Browser tests are required in CI: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class LiveServer:
    def __init__(self, app: Any, city: Any) -> None:
        self.city = city
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def live(city) -> Iterator[LiveServer]:
    """The web UI on the small demo city, on a free loopback port."""
    from webui.app import create_app

    app = create_app(city.engine, {"SECRET_KEY": "browser-tests", "TESTING": False})
    server = LiveServer(app, city)
    yield server
    server.stop()


@pytest.fixture
def page(browser, live) -> Iterator[Any]:
    # CSP is asserted on the headers elsewhere; bypassing it lets the test inject axe-core.
    context = browser.new_context(base_url=live.url, locale="sv-SE", bypass_csp=True)
    pg = context.new_page()
    yield pg
    context.close()


def sign_in(page: Any, user: str, password: str = "kedja-demo") -> None:
    page.goto("/logga-in")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit].primary")


def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the current page."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})"
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
    ]
