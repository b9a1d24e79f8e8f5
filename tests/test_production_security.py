"""Production is secure by default (webui/security.py, webui/production.py; issue 14 item 11):
`kedja serve --production` marks cookies Secure without being told, plain HTTP only with an
explicit `--insecure-http` (or KEDJA_SECURE_COOKIES=0) and a warning in the log, HSTS on
every answer over TLS (also through a configured trusted proxy, never through an untrusted
`X-Forwarded-Proto`), and settings that contradict each other refused before anything
starts. Through the app gunicorn's workers build, the test client, the CLI, and once a real
gunicorn."""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from webui import production, security
from webui.app import create_app
from webui.cli import main

KEDJA = str(Path(sys.executable).parent / "kedja")
HSTS = "max-age=31536000"


@pytest.fixture(autouse=True)
def _no_cookie_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KEDJA_SECURE_COOKIES", "KEDJA_TRUSTED_PROXIES", "KEDJA_METRICS_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def production_app(city: Any) -> Iterator[Any]:
    """Build the app as a gunicorn worker does (`production.build_app`) on the city's
    database."""
    made: list[Flask] = []

    def build(insecure_http: bool = False) -> Flask:
        app = production.build_app(
            city.engine.db.url, production.app_config(insecure_http, {"SECRET_KEY": "tests"})
        )
        made.append(app)
        return app

    yield build
    for app in made:
        app.extensions["kedja_engine"].close()


def session_cookie(response: Any) -> str:
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


def test_production_cookies_are_secure_without_being_told(production_app: Any) -> None:
    """The finding: without KEDJA_SECURE_COOKIES=1 the session cookie had no `Secure`."""
    app = production_app()
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    cookie = session_cookie(app.test_client().get("/logga-in"))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_insecure_http_is_explicit_and_logged_loudly(
    production_app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kedja.security"):
        app = production_app(insecure_http=True)
    assert "Secure" not in session_cookie(app.test_client().get("/logga-in"))
    (warning,) = [r for r in caplog.records if r.name == "kedja.security"]
    assert warning.levelno == logging.WARNING and warning.getMessage().startswith("INSECURE")
    caplog.clear()
    monkeypatch.setenv("KEDJA_SECURE_COOKIES", "0")  # the environment's way of saying it
    with caplog.at_level(logging.WARNING, logger="kedja.security"):
        app = production_app()
    assert "Secure" not in session_cookie(app.test_client().get("/logga-in"))
    assert [r.getMessage()[:8] for r in caplog.records if r.name == "kedja.security"] == [
        "INSECURE"
    ]


def test_the_development_server_keeps_plain_http_cookies(
    city: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`kedja serve` without --production serves plain HTTP on loopback: no Secure unless
    asked, and nothing to warn about."""
    with caplog.at_level(logging.WARNING, logger="kedja.security"):
        app = create_app(city.engine, {"SECRET_KEY": "tests"})
    assert "Secure" not in session_cookie(app.test_client().get("/logga-in"))
    assert not [r for r in caplog.records if r.name == "kedja.security"]
    monkeypatch.setenv("KEDJA_SECURE_COOKIES", "1")
    app = create_app(city.engine, {"SECRET_KEY": "tests"})
    assert "Secure" in session_cookie(app.test_client().get("/logga-in"))


def test_hsts_over_tls_and_only_then(city: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = create_app(city.engine, {"SECRET_KEY": "tests"}).test_client()
    over_tls = client.get("/logga-in", base_url="https://kedja.example")
    assert over_tls.headers["Strict-Transport-Security"] == HSTS
    assert "Strict-Transport-Security" not in client.get("/logga-in").headers
    # A client claiming TLS through a header, with no proxy configured: not believed.
    claimed = client.get("/logga-in", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in claimed.headers
    assert (
        client.get("/health/live", base_url="https://kedja.example").headers[
            "Strict-Transport-Security"
        ]
        == HSTS
    )

    monkeypatch.setenv("KEDJA_TRUSTED_PROXIES", "1")  # one TLS proxy in front
    behind = create_app(city.engine, {"SECRET_KEY": "tests"}).test_client()
    proxied = behind.get("/logga-in", headers={"X-Forwarded-Proto": "https"})
    assert proxied.headers["Strict-Transport-Security"] == HSTS
    plain = behind.get("/logga-in", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in plain.headers


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--insecure-http"], {}, "--insecure-http is for --production"),
        (
            ["--production", "--insecure-http"],
            {"KEDJA_SECURE_COOKIES": "1"},
            "contradict each other",
        ),
        (["--production"], {"KEDJA_SECURE_COOKIES": "yes"}, "KEDJA_SECURE_COOKIES must be 1"),
        (["--production"], {"KEDJA_METRICS_TOKEN": "short"}, "at least 32 characters"),
        (["--production"], {"KEDJA_API_TOKEN_DAYS": "forever"}, "KEDJA_API_TOKEN_DAYS must be"),
    ],
    ids=[
        "insecure-without-production",
        "contradiction",
        "bad-cookie-value",
        "weak-metrics",
        "bad-token-days",
    ],
)
def test_serve_refuses_settings_that_make_no_sense(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    db = f"sqlite:///{tmp_path / 'kedja.sqlite'}"
    result = CliRunner().invoke(main, ["serve", "--db", db, "--no-timers", *args], env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


# -- a real gunicorn ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _served(tmp_path: Path, *extra: str) -> tuple[str, str]:
    """Start `kedja serve --production` on a fresh SQLite database, fetch the sign-in page,
    stop it; returns the page's Set-Cookie header and what the server logged."""
    port = _free_port()
    log = tmp_path / f"web-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEDJA_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    db = f"sqlite:///{tmp_path / 'kedja.sqlite'}"
    args = ["serve", "--production", "--workers", "1", "--bind", f"127.0.0.1:{port}"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [KEDJA, *args, "--db", db, *extra], env=env, stdout=out, stderr=out, cwd=tmp_path
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("GET", "/logga-in")
                response = connection.getresponse()
                response.read()
                cookie = response.getheader("Set-Cookie") or ""
                connection.close()
                break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return cookie, log.read_text()


@pytest.mark.slow
def test_gunicorn_sends_secure_cookies_unless_told_otherwise(tmp_path: Path) -> None:
    cookie, logged = _served(tmp_path)
    assert cookie.startswith("session=") and "Secure" in cookie
    assert "INSECURE" not in logged

    cookie, logged = _served(tmp_path, "--insecure-http")
    assert cookie.startswith("session=") and "Secure" not in cookie
    warnings = [
        json.loads(line)
        for line in logged.splitlines()
        if line.startswith("{") and "INSECURE" in line
    ]
    assert warnings and all(w["level"] == "WARNING" for w in warnings)
    assert {w["logger"] for w in warnings} == {"kedja.security"}
    assert security.INSECURE_WARNING in {w["message"] for w in warnings}
