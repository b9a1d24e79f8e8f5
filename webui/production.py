"""`kedja serve --production`: the web UI under gunicorn, for a city's installation.

Why gunicorn: several web processes (`--workers`, each with `--threads` threads) share the
load and a crashed process is replaced by the arbiter, while the engine's optimistic locking
and claimed-row timers keep any number of processes on one PostgreSQL database correct.
Web processes never fire timers; run `kedja worker` (one or more, on any host) for that.

Each gunicorn worker builds its own engine and app after the fork (no `preload`): database
connections and the SpiffWorkflow caches are per process, never inherited from the master.
Logs are JSON on stderr (`webui.observability`); the request histogram is shared between
the processes through prometheus_client's multiprocess directory, made fresh at each start.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

DEFAULT_BIND = "127.0.0.1:8000"


def check_settings(db_url: str) -> list[str]:
    """What must be configured before several processes can serve one city: the same
    session key in every process (else a user signed in by one process is a stranger to the
    next). The SQLite default keeps its key in var/, which every local process reads."""
    problems = []
    if not db_url.startswith("sqlite") and not os.environ.get("KEDJA_SECRET_KEY"):
        problems.append(
            "KEDJA_SECRET_KEY is not set: every web process would sign sessions with its own "
            "key. Set the same long random value for every web process (docs/operations.md)."
        )
    return problems


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
) -> None:
    """Serve until gunicorn is told to stop (SIGTERM/SIGINT: graceful; SIGHUP: reload)."""
    problems = check_settings(db_url)
    if problems:
        raise click.UsageError(" ".join(problems))
    metrics_dir = _multiprocess_dir()  # before prometheus_client is imported anywhere here

    from gunicorn.app.base import BaseApplication

    from webui import observability

    observability.configure_logging()

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
