"""`kedja serve --production`: the web UI under gunicorn, for a city's installation.

Why gunicorn: several web processes (`--workers`, each with `--threads` threads) share the
load and a crashed process is replaced by the arbiter, while the engine's optimistic locking
and claimed-row timers keep any number of processes on one PostgreSQL database correct.
Web processes never fire timers; run `kedja worker` (one or more, on any host) for that.

Each gunicorn worker builds its own engine and app after the fork (no `preload`): database
connections and the SpiffWorkflow caches are per process, never inherited from the master.
Logs are JSON on stderr (`webui.observability`); the request histogram is shared between
the processes through prometheus_client's multiprocess directory, made fresh at each start.

Production is secure by default (`webui.security`): cookies are `Secure`, HSTS is sent over
TLS. `--insecure-http` (or KEDJA_SECURE_COOKIES=0) is the one way to test over plain HTTP,
and it is logged as a warning by every process. Settings that would only fail later — in a
worker after the fork, or at the first scrape — are checked before gunicorn starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

DEFAULT_BIND = "127.0.0.1:8000"


def check_settings(db_url: str, insecure_http: bool = False) -> list[str]:
    """What must be configured before several processes can serve one city: the same
    session key in every process (else a user signed in by one process is a stranger to the
    next; the SQLite default keeps its key in var/, which every local process reads), a
    cookie setting that makes sense, a metrics token strong enough (when one is set) and a
    token lifetime that is a number of days."""
    from engine.errors import ValidationError
    from processes import api_tokens
    from webui import observability, security

    problems = []
    if not db_url.startswith("sqlite") and not os.environ.get("KEDJA_SECRET_KEY"):
        problems.append(
            "KEDJA_SECRET_KEY is not set: every web process would sign sessions with its own "
            "key. Set the same long random value for every web process (docs/operations.md)."
        )
    for check in (
        lambda: security.secure_cookies(True, insecure_http),
        lambda: observability.metrics_token(),
        lambda: api_tokens.lifetime_days(),
    ):
        try:
            check()
        except ValidationError as exc:
            problems.append(str(exc))
    return problems


def app_config(insecure_http: bool, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The configuration every gunicorn worker's app is built with: production settings
    (webui.security's secure defaults) plus the caller's."""
    return {"KEDJA_PRODUCTION": True, "KEDJA_INSECURE_HTTP": insecure_http, **(config or {})}


def _multiprocess_dir() -> Path:
    """A fresh directory for the processes' shared metric files (stale files of a previous
    run would add old counts to the new ones)."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    default = Path(tempfile.gettempdir()) / f"kedja-metrics-{os.getpid()}"
    path = Path(configured) if configured else default
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def _quiet_gunicorn_handlers() -> None:
    """Let gunicorn's own loggers go through the JSON handler on the root logger."""
    import logging

    for name in ("gunicorn.error", "gunicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True


def build_app(db_url: str, config: dict[str, Any] | None = None) -> Any:
    """The WSGI app one gunicorn worker serves (called after the fork)."""
    from webui import observability
    from webui.app import create_app
    from webui.cli import open_engine

    engine = open_engine(db_url)
    app = create_app(engine, config or {})
    observability.init_app(app)
    return app


def run(
    db_url: str,
    bind: str = DEFAULT_BIND,
    workers: int = 2,
    threads: int = 4,
    config: dict[str, Any] | None = None,
    insecure_http: bool = False,
) -> None:
    """Serve until gunicorn is told to stop (SIGTERM/SIGINT: graceful; SIGHUP: reload)."""
    problems = check_settings(db_url, insecure_http)
    if problems:
        raise click.UsageError(" ".join(problems))
    config = app_config(insecure_http, config)
    metrics_dir = _multiprocess_dir()  # before prometheus_client is imported anywhere here

    from gunicorn.app.base import BaseApplication

    from webui import observability, security

    observability.configure_logging()
    if not security.secure_cookies(True, insecure_http):
        security.log.warning(security.INSECURE_WARNING)  # and again by every web process

    def child_exit(_server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    def post_fork(_server: Any, _worker: Any) -> None:
        observability.configure_logging()
        _quiet_gunicorn_handlers()

    options = {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": None,  # webui.observability logs each request as JSON
        "errorlog": "-",
        "timeout": 60,
        "graceful_timeout": 30,
        "child_exit": child_exit,
        "post_fork": post_fork,
        "proc_name": "kedja-web",
    }

    class KedjaApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return build_app(db_url, config)

    try:
        application = KedjaApplication()
        _quiet_gunicorn_handlers()
        application.run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
