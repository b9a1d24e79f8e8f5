"""Logs and metrics (webui/observability.py): JSON log lines with the request's id (and the
instance's, on an instance's page), the id echoed to the caller, Prometheus figures read from
the database, /metrics open only to the configured bearer token (never to an address), and
health checks that say ok / not ok and nothing more (issue 14 item 9)."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from tests.test_webui_auth import make_app
from tests.test_webui_decisions import client_for
from tests.test_webui_instances import plan_cycle_at_lagesbild
from webui import observability

METRICS_TOKEN = "metrics-" + "s3cret" * 6
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
def app(city: Any) -> Flask:
    app = make_app(city, KEDJA_METRICS_TOKEN=METRICS_TOKEN)
    observability.init_app(app)
    return app


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


@pytest.fixture
def log_lines() -> Any:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(observability.JsonFormatter())
    logger = logging.getLogger("kedja.request")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(level)


def _figures(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_each_request_gets_an_id_in_the_response_and_the_log(
    app: Flask, city: Any, log_lines: Any
) -> None:
    plan = plan_cycle_at_lagesbild(city)
    client = client_for(app, "admin")
    response = client.get(f"/arenden/{plan}", headers={"X-Request-Id": "abc-123"})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "abc-123"
    odd = client.get("/health/live", headers={"X-Request-Id": "no spaces <allowed>"})
    generated = odd.headers["X-Request-Id"]
    assert generated != "no spaces <allowed>" and len(generated) == 32
    lines = log_lines()
    page = next(line for line in lines if line["path"] == f"/arenden/{plan}")
    assert page["request_id"] == "abc-123" and page["instance_id"] == plan
    assert page["status"] == 200 and page["method"] == "GET" and page["duration_ms"] >= 0
    assert page["level"] == "INFO" and page["logger"] == "kedja.request"
    assert any(line["request_id"] == generated for line in lines)


def test_the_formatter_keeps_extra_fields_and_exceptions() -> None:
    record = logging.makeLogRecord(
        {"name": "engine", "levelname": "ERROR", "msg": "step failed", "instance_id": 7}
    )
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    entry = json.loads(observability.JsonFormatter().format(record))
    assert entry["message"] == "step failed" and entry["instance_id"] == 7
    assert "ValueError: boom" in entry["exception"] and "request_id" not in entry


def test_metrics_report_the_database_and_request_latency(app: Flask, city: Any) -> None:
    plan_cycle_at_lagesbild(city)
    client = app.test_client()
    client.get("/health/live")
    response = client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    values = _figures(text)
    assert values["kedja_tasks_open"] == city.engine.tasks.list(limit=1).total > 0
    assert values["kedja_timers_waiting"] == len(city.engine.timers.waiting(limit=10_000)) > 0
    assert values["kedja_incidents_open"] == 0
    assert values['kedja_instances{state="running"}'] >= 1
    assert values["kedja_timer_lateness_seconds"] == 0  # the simulated clock fired every due one
    assert "kedja_http_request_duration_seconds_bucket" in text
    assert 'endpoint="/health/live"' in text


def test_timer_lateness_is_how_overdue_the_oldest_waiting_timer_is(city: Any) -> None:
    plan_cycle_at_lagesbild(city)
    earliest = min(t["due_at"] for t in city.engine.timers.waiting(limit=10_000))
    city.engine.clock.set(earliest + timedelta(seconds=90))  # nothing fires it: no worker
    figures = observability.database_figures(city.engine)
    assert figures["timer_lateness_seconds"] == pytest.approx(90, abs=1)


def test_metrics_answer_the_token_and_no_address(app: Flask) -> None:
    """The finding: a same-host proxy that set only `X-Real-IP` reached /metrics, because
    loopback without `X-Forwarded-For` was trusted. Now no address or header opens it."""
    client = app.test_client()
    loopback = {"REMOTE_ADDR": "127.0.0.1"}
    for headers in (
        {},
        {"X-Real-IP": "203.0.113.9"},  # the finding: a same-host proxy setting only this
        {"X-Forwarded-For": "203.0.113.9"},
        {"Forwarded": "for=203.0.113.9"},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"Authorization": "Bearer "},
    ):
        for environ in (loopback, {"REMOTE_ADDR": "::1"}, {"REMOTE_ADDR": "203.0.113.9"}):
            response = client.get("/metrics", headers=headers, environ_base=environ)
            assert response.status_code == 401, (headers, environ)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert "kedja_" not in response.get_data(as_text=True)
    for environ in (loopback, {"REMOTE_ADDR": "203.0.113.9"}):
        response = client.get("/metrics", headers=SCRAPE, environ_base=environ)
        assert response.status_code == 200 and "kedja_tasks_open" in response.get_data(as_text=True)
    lower = {"Authorization": f"bearer {METRICS_TOKEN}", "X-Forwarded-For": "203.0.113.9"}
    assert client.get("/metrics", headers=lower).status_code == 200


def test_without_a_token_there_are_no_metrics(city: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEDJA_METRICS_TOKEN", raising=False)
    client = make_app(city).test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 404
    monkeypatch.setenv("KEDJA_METRICS_TOKEN", METRICS_TOKEN)  # the environment's token works
    assert make_app(city).test_client().get("/metrics", headers=SCRAPE).status_code == 200


@pytest.mark.parametrize("token", ["s3cret-token", "x" * 31, "a" * 20 + "\n" + "b" * 20])
def test_a_weak_metrics_token_stops_the_app_with_what_to_do(city: Any, token: str) -> None:
    from engine.errors import ValidationError

    with pytest.raises(ValidationError, match=r"at least 32 characters.*openssl rand"):
        make_app(city, KEDJA_METRICS_TOKEN=token)


def test_health_says_ok_and_nothing_more(any_city: Any) -> None:
    """The finding: /health/ready told anyone the database URL and file path."""
    client = make_app(any_city).test_client()
    for path in ("/health/live", "/health/ready"):
        response = client.get(path)
        assert response.status_code == 200 and response.json == {"status": "ok"}, path
        assert response.headers["Cache-Control"] == "no-store"
    url = any_city.engine.db.url
    body = client.get("/health/ready").get_data(as_text=True)
    for secret in (url, any_city.engine.db.safe_url(), "sqlite", "postgresql", "kedja"):
        assert secret not in body


def test_health_says_not_ok_without_the_error_and_logs_why(
    any_city: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The database cannot be read (its instance table gone): 503 `not ok`, the cause in
    the log only; the process itself is still live."""
    client = make_app(any_city).test_client()
    with any_city.engine.db.write() as session:
        session.execute(text("ALTER TABLE process_instance RENAME TO process_instance_away"))
    try:
        with caplog.at_level(logging.ERROR, logger="kedja.health"):
            response = client.get("/health/ready")
        assert response.status_code == 503 and response.json == {"status": "not ok"}
        body = response.get_data(as_text=True)
        for leak in ("process_instance", "sqlite", "psycopg", "Error", any_city.engine.db.url):
            assert leak not in body
        assert client.get("/health/live").json == {"status": "ok"}
        (record,) = [r for r in caplog.records if r.name == "kedja.health"]
        assert "process_instance" in str(record.exc_info[1])  # the why, for the operator
    finally:
        with any_city.engine.db.write() as session:
            session.execute(text("ALTER TABLE process_instance_away RENAME TO process_instance"))
    assert client.get("/health/ready").status_code == 200


def test_production_refuses_several_processes_without_a_shared_session_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from webui import production

    monkeypatch.delenv("KEDJA_SECRET_KEY", raising=False)
    assert production.check_settings("postgresql+psycopg://x/y")
    assert production.check_settings("sqlite:///var/kedja.sqlite") == []
    monkeypatch.setenv("KEDJA_SECRET_KEY", "k" * 40)
    assert production.check_settings("postgresql+psycopg://x/y") == []
