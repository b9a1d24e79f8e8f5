"""`kedja serve` and `kedja worker`: the web application and the timer worker, each with
the scheduler that fires timers, mails the outbox and starts the year's processes."""

from __future__ import annotations

import click

from engine import system_actor
from engine.database import database_url
from webui.cli import Output, command, main, open_engine


@command(main)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--deploy",
    "deploy_paths",
    multiple=True,
    type=click.Path(exists=True),
    help="Deploy these files or folders first (unchanged ones stay as they are).",
)
@click.option(
    "--timers/--no-timers",
    default=True,
    show_default=True,
    help="Fire timers in this process (the embedded default has no separate worker).",
)
@click.option(
    "--demo",
    "with_demo",
    is_flag=True,
    help="On an empty database, create the demo city first (what `make run` does); otherwise "
    "deploy the city's diagrams if they changed.",
)
@click.option(
    "--production",
    is_flag=True,
    help="Serve under gunicorn with JSON logs and /metrics; timers are left to `kedja worker`.",
)
@click.option("--workers", default=2, show_default=True, type=int, help="With --production.")
@click.option("--bind", default=None, metavar="HOST:PORT", help="With --production.")
@click.option(
    "--insecure-http",
    is_flag=True,
    help="With --production: send cookies over plain HTTP too (testing without TLS only; "
    "logged as a warning).",
)
def serve(
    db_url: str | None,
    out: Output,
    host: str,
    port: int,
    deploy_paths: tuple[str, ...],
    timers: bool,
    with_demo: bool,
    production: bool,
    workers: int,
    bind: str | None,
    insecure_http: bool,
) -> None:
    """Serve the web UI (development server, or gunicorn with --production; see
    docs/operations.md)."""
    if insecure_http and not production:
        raise click.UsageError(
            "--insecure-http is for --production; the development server already sends "
            "cookies over plain HTTP (unless KEDJA_SECURE_COOKIES=1)."
        )
    from engine.scheduler import TimerScheduler
    from processes import catalogue, demo
    from processes.attachment_cleanup import schedule_sweep
    from processes.mailer import schedule_delivery
    from processes.notification_retention import RetentionSettings, schedule_retention
    from webui.app import create_app

    # A bad retention setting stops here, before anything is done.
    retention = RetentionSettings.from_env() if timers and not production else None
    engine = open_engine(db_url)
    if with_demo:
        if demo.is_empty(engine):
            started = demo.build(engine)
            click.echo(
                f"Demo city created (password {demo.DEMO_PASSWORD}); started "
                + ", ".join(f"{k} #{i}" for k, i in started.items())
            )
        else:
            catalogue.deploy(engine)
    if deploy_paths:
        # The operator at the command line deploys as the system (approved at once, see
        # engine/approvals.py); "system" is no user of the register.
        engine.repository.deploy(list(deploy_paths), system_actor())
    if production:
        from webui import production as gunicorn_serving

        engine.close()
        config = {"KEDJA_DEMO_HINT": True} if with_demo else {}
        gunicorn_serving.run(
            database_url(db_url),
            bind or f"{host}:{port}",
            workers=workers,
            config=config,
            insecure_http=insecure_http,
        )
        return
    # On the demo city the sign-in page says the demo password.
    app = create_app(engine, {"KEDJA_DEMO_HINT": with_demo})
    scheduler = TimerScheduler(engine.timers) if timers else None
    if scheduler is not None:
        scheduler.start()
        catalogue.schedule_yearly_starts(engine, scheduler)
        schedule_delivery(engine, scheduler)  # mail the notification outbox
        schedule_retention(engine, scheduler, retention)  # delete old notifications
        schedule_sweep(engine, scheduler)  # delete attachments nothing refers to
    click.echo(f"Kedja on http://{host}:{port}/ (database {engine.db.safe_url()})")
    try:
        app.run(host=host, port=port, debug=False, use_reloader=False)
    finally:
        if scheduler is not None:
            scheduler.stop()


@command(main)
@click.option(
    "--sweep",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds between sweeps for timers created by other processes.",
)
def worker(db_url: str | None, out: Output, sweep: float) -> None:
    """Fire timers until stopped (SIGINT/SIGTERM). Run as many as you like against one
    database: each timer fires once."""
    import signal
    import threading

    from engine.scheduler import TimerScheduler
    from processes import catalogue
    from processes.attachment_cleanup import schedule_sweep
    from processes.mailer import schedule_delivery
    from processes.notification_retention import RetentionSettings, schedule_retention

    retention = RetentionSettings.from_env()  # a bad value stops the worker before it starts
    engine = open_engine(db_url)
    scheduler = TimerScheduler(engine.timers, sweep_seconds=sweep)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.start()
    catalogue.schedule_yearly_starts(engine, scheduler)
    schedule_delivery(engine, scheduler)  # mail the notification outbox
    schedule_retention(engine, scheduler, retention)  # delete old notifications
    schedule_sweep(engine, scheduler)  # delete attachments nothing refers to
    click.echo(f"kedja worker firing timers on {engine.db.safe_url()}", err=True)
    stop.wait()
    scheduler.stop()
    engine.close()
