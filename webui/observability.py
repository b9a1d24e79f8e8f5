"""Logs and metrics for operating Kedja: what a city's operations team reads and graphs.

Logs are JSON, one object a line on stderr (what journald, Docker and every log shipper take
without parsing rules). Each line has `ts`, `level`, `logger`, `message`, and inside a web
request `request_id` (the caller's `X-Request-Id` when it is a sane token, else a fresh one,
and always sent back in the response so a user's complaint can be matched to the log) and,
for pages about one instance or task, `instance_id` / `task_id`. Anything a module passes in
`extra=` (for example `instance_id` from the engine) is kept as a field.

Metrics are Prometheus text at `GET /metrics`:

- `kedja_tasks_open`, `kedja_timers_waiting`, `kedja_incidents_open`,
  `kedja_instances{state}` — read from the database at each scrape, so every web process
  reports the same figures whichever one the scraper reaches;
- `kedja_timer_lateness_seconds` — how long the most overdue waiting timer is past its due
  time (0 when none is overdue): the number that says the workers are not keeping up or are
  down;
- `kedja_http_request_duration_seconds{method,endpoint,status}` — a histogram per web
  process; under gunicorn the processes share it through prometheus_client's multiprocess
  mode (`PROMETHEUS_MULTIPROC_DIR`, set by `webui.production`).

Who may read `/metrics`: whoever sends `Authorization: Bearer <KEDJA_METRICS_TOKEN>` (the
app config key or the environment variable; at least 32 characters). That is the one rule:
no address is trusted, because a proxy on the same host connects from loopback and may add
any header or none (`X-Real-IP`, `X-Forwarded-For` or nothing), so "from loopback" proves
nothing about who is asking. Without a configured token `/metrics` does not exist (404);
with one, a missing or wrong token gets 401. The figures are counts, not personal data, but
they describe the city's case load and are not public.

Health checks for load balancers and orchestrators, open to anyone: `GET /health/live`
(the process answers) and `GET /health/ready` (it can read its database). Each answers
`{"status": "ok"}` (200) or `{"status": "not ok"}` (503) and nothing more: no database
address, file path, version or error text, which would tell an outsider how the
installation is built. Why readiness failed goes to the log (`kedja.health`).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, abort, g, has_request_context, jsonify, request
from sqlalchemy import func, select

from engine import Engine
from engine.clock import from_storage
from engine.errors import ValidationError
from engine.models import WAITING, HumanTask, Incident, ProcessInstance, Timer

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Fields every LogRecord has; anything else on a record came from `extra=` and is logged.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

METRICS_TOKEN_MIN_LENGTH = 32

request_log = logging.getLogger("kedja.request")
health_log = logging.getLogger("kedja.health")


# -- logs ---------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the request's ids when there is a request."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("kedja_request_id")
            view_args = request.view_args or {}
            for key in ("instance_id", "task_id"):
                if key in view_args:
                    entry[key] = view_args[key]
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str | int | None = None) -> None:
    """Send every log record to stderr as JSON (replacing earlier handlers on the root
    logger, so nothing is logged twice in two formats). Level: `level`, else
    `KEDJA_LOG_LEVEL`, else INFO."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("KEDJA_LOG_LEVEL", "INFO").upper())


# -- metrics ------------------------------------------------------------------------------


class DatabaseCollector:
    """Gauges read from the database at scrape time (a custom prometheus_client collector)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        figures = database_figures(self.engine)
        yield GaugeMetricFamily("kedja_tasks_open", "Open human tasks.", figures["tasks_open"])
        yield GaugeMetricFamily(
            "kedja_timers_waiting", "Timers waiting to fire.", figures["timers_waiting"]
        )
        yield GaugeMetricFamily(
            "kedja_timer_lateness_seconds",
            "Seconds the most overdue waiting timer is past its due time (0: none overdue).",
            figures["timer_lateness_seconds"],
        )
        yield GaugeMetricFamily(
            "kedja_incidents_open", "Unresolved incidents.", figures["incidents_open"]
        )
        instances = GaugeMetricFamily(
            "kedja_instances", "Process instances by state.", labels=["state"]
        )
        for state, count in sorted(figures["instances"].items()):
            instances.add_metric([state], count)
        yield instances


def database_figures(engine: Engine) -> dict[str, Any]:
    """The gauges' values, in one read transaction."""
    now = engine.clock.now()
    with engine.db.read() as session:
        tasks_open = session.scalar(
            select(func.count()).select_from(HumanTask).where(HumanTask.state == "open")
        )
        timers_waiting = session.scalar(select(func.count()).select_from(Timer).where(WAITING))
        earliest = session.scalar(select(func.min(Timer.due_at)).where(WAITING))
        incidents_open = session.scalar(
            select(func.count()).select_from(Incident).where(Incident.resolved_at.is_(None))
        )
        instances = dict(
            session.execute(
                select(ProcessInstance.state, func.count()).group_by(ProcessInstance.state)
            ).all()
        )
    lateness = 0.0
    if earliest is not None:
        lateness = max(0.0, (now - from_storage(earliest)).total_seconds())
    return {
        "tasks_open": tasks_open or 0,
        "timers_waiting": timers_waiting or 0,
        "timer_lateness_seconds": lateness,
        "incidents_open": incidents_open or 0,
        "instances": instances,
    }


def _latency_histogram() -> Any:
    """The request histogram, created once per process (prometheus_client keeps metrics in
    a global registry; a second app in the same process, as in tests, reuses it)."""
    from prometheus_client import REGISTRY, Histogram

    existing = getattr(REGISTRY, "_names_to_collectors", {}).get(
        "kedja_http_request_duration_seconds"
    )
    if existing is not None:
        return existing
    return Histogram(
        "kedja_http_request_duration_seconds",
        "Time to answer a web request.",
        ["method", "endpoint", "status"],
        buckets=LATENCY_BUCKETS,
    )


def metrics_token(config: Any = None) -> str | None:
    """The configured metrics token (the app's `KEDJA_METRICS_TOKEN`, else the environment's),
    None when metrics are off. A token too short to resist guessing, or with blanks in it
    (a pasted line break), is refused when the app starts, naming what to do."""
    token = (config or {}).get("KEDJA_METRICS_TOKEN") or os.environ.get("KEDJA_METRICS_TOKEN")
    if not token:
        return None
    if len(token) < METRICS_TOKEN_MIN_LENGTH or any(ch.isspace() for ch in token):
        raise ValidationError(
            f"KEDJA_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN_LENGTH} characters "
            "without blanks, for example the output of `openssl rand -hex 32`; it is "
            f"{len(token)} characters long."
        )
    return token


def metrics_allowed(token: str) -> bool:
    """The request carries the metrics token as a bearer token (compared in constant time).
    Nothing about the request's address counts (see the module's docstring)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def render_metrics(engine: Engine) -> tuple[bytes, str]:
    """The exposition text: this process's (or, under gunicorn, all processes') request
    metrics and the database gauges."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    registry_text = generate_latest(registry)
    own = CollectorRegistry()
    own.register(DatabaseCollector(engine))
    return registry_text + generate_latest(own), CONTENT_TYPE_LATEST


# -- wiring -------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Request ids, a JSON access log line per request, the latency histogram and
    `GET /metrics`. Idempotent per app."""
    if "kedja_observability" in app.extensions:
        return
    app.extensions["kedja_observability"] = True
    histogram = _latency_histogram()

    @app.before_request
    def _start() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.kedja_request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        g.kedja_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        started = g.get("kedja_started")
        if started is None:
            return response
        elapsed = time.perf_counter() - started
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        if request.endpoint != "kedja_metrics":
            histogram.labels(request.method, endpoint, str(response.status_code)).observe(elapsed)
        response.headers["X-Request-Id"] = g.kedja_request_id
        request_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
        return response

    token = metrics_token(app.config)  # a bad token stops the app here, not at a scrape

    @app.get("/metrics", endpoint="kedja_metrics")
    def metrics():  # type: ignore[no-untyped-def]
        if token is None:
            abort(404)
        if not metrics_allowed(token):
            return Response(
                "401 Unauthorized\n",
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="kedja-metrics"'},
            )
        body, content_type = render_metrics(app.extensions["kedja_engine"])
        return Response(body, content_type=content_type)

    @app.get("/health/live", endpoint="health_live")
    def live():  # type: ignore[no-untyped-def]
        return _health(True)

    @app.get("/health/ready", endpoint="health_ready")
    def ready():  # type: ignore[no-untyped-def]
        try:
            app.extensions["kedja_engine"].runtime.count()
        except Exception:  # any failure to read the database means "not ready"
            health_log.exception("Not ready: the database cannot be read.")
            return _health(False)
        return _health(True)


def _health(ok: bool) -> Response:
    """`{"status": "ok"}` (200) or `{"status": "not ok"}` (503), never cached."""
    response = jsonify(status="ok" if ok else "not ok")
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response
