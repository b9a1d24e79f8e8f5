"""Logs and metrics (webui/observability.py): JSON log lines with the request's id (and the
instance's, on an instance's page), the id echoed to the caller, Prometheus figures read from
the database, and /metrics open only to loopback without a proxy or to the bearer token."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from tests.test_webui_auth import make_app
from tests.test_webui_decisions import client_for, html
from tests.test_webui_instances import plan_cycle_at_lagesbild
from webui import observability


@pytest.fixture
def app(city: Any) -> Flask:
    app = make_app(city, KEDJA_METRICS_TOKEN="s3cret-token")
    observability.init_app(app)
    return app


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
    response = client.get("/metrics")
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


def test_metrics_are_for_loopback_without_a_proxy_or_the_token(app: Flask) -> None:
    client = app.test_client()
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=outside).status_code == 403
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403  # a proxy on this host connects from loopback too
    forwarded = client.get("/metrics", headers={"Forwarded": "for=203.0.113.9"})
    assert forwarded.status_code == 403
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/metrics", headers=wrong, environ_base=outside).status_code == 403
    right = {"Authorization": "Bearer s3cret-token", "X-Forwarded-For": "203.0.113.9"}
    assert client.get("/metrics", headers=right, environ_base=outside).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_metrics_page_needs_no_sign_in_but_pages_still_do(app: Flask) -> None:
    assert app.test_client().get("/admin/status").status_code == 302
    assert html(app.test_client(), "/metrics").startswith("#")


def test_production_refuses_several_processes_without_a_shared_session_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from webui import production

    monkeypatch.delenv("KEDJA_SECRET_KEY", raising=False)
    assert production.check_settings("postgresql+psycopg://x/y")
    assert production.check_settings("sqlite:///var/kedja.sqlite") == []
    monkeypatch.setenv("KEDJA_SECRET_KEY", "k" * 40)
    assert production.check_settings("postgresql+psycopg://x/y") == []
