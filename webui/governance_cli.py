"""`kedja` commands of the governance layer: the demo city, the year's processes, the
organisation register and the decisions register."""

from __future__ import annotations

from pathlib import Path

import click

from webui.cli import Output, command, main, open_engine


@command(main)
@click.option("--year", type=int, default=None, help="Start this year's processes (default: now).")
@click.option("--no-start", is_flag=True, help="Create the register and deploy; start nothing.")
def demo(db_url: str | None, out: Output, year: int | None, no_start: bool) -> None:
    """Create the demo city on an empty database: organisations, a user for every role
    (password kedja-demo), the four processes deployed and this year's processes started."""
    from processes import demo as demo_city

    engine = open_engine(db_url)
    if not demo_city.is_empty(engine):
        raise click.ClickException(
            "The database already has an organisation register; the demo city is only "
            "created on an empty database (use a new --db, or `make clean`)."
        )
    started = demo_city.build(engine, year, start=not no_start)
    out.emit(
        {"started": started},
        lambda: click.echo(
            "Demo city created: "
            f"{len(demo_city.organisations())} organisations, {len(demo_city.users())} users "
            f"(password {demo_city.DEMO_PASSWORD}). Started: "
            + (", ".join(f"{k} #{i}" for k, i in started.items()) or "nothing")
        ),
    )


@command(main, "start-year")
@click.argument("year", type=int)
@click.option("--as", "user", default="admin", show_default=True)
def start_year(db_url: str | None, out: Output, year: int, user: str) -> None:
    """Start the yearly processes of YEAR that have not been started (safe to repeat)."""
    from processes import catalogue

    engine = open_engine(db_url)
    started = catalogue.start_year(engine, year, engine.directory.actor(user))
    out.emit(
        started,
        lambda: click.echo(
            "\n".join(f"{k}: instance {i}" for k, i in started.items())
            or f"Every yearly process of {year} was already started."
        ),
    )


@command(main)
def organisations(db_url: str | None, out: Output) -> None:
    """The organisation register."""
    engine = open_engine(db_url)
    from processes.governance import register_of

    orgs = register_of(engine).organisations()
    out.emit(
        [o.__dict__ for o in orgs],
        lambda: click.echo(
            "\n".join(f"{o.id:<26} {o.kind:<11} {o.name}" for o in orgs) or "(none)"
        ),
    )


@command(main)
def users(db_url: str | None, out: Output) -> None:
    """Users and the roles they hold."""
    engine = open_engine(db_url)
    from processes.governance import register_of

    rows = register_of(engine).users()

    def grants(u) -> str:  # type: ignore[no-untyped-def]
        return ", ".join(f"{r}@{o}" if o else r for r, o in u.grants)

    out.emit(
        [u.__dict__ for u in rows],
        lambda: click.echo("\n".join(f"{u.id:<34} {grants(u)}" for u in rows) or "(none)"),
    )


@command(main)
@click.option("--kind", default=None, help="council, city_director, jury, security_chief, …")
@click.option("--search", default=None, help="Text in the number, subject, decision or motivation.")
@click.option("--instance", "instance_id", type=int, default=None)
@click.option("--limit", type=int, default=100, show_default=True)
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the listed decisions as a JSON file (for registration and archiving).",
)
def decisions(
    db_url: str | None,
    out: Output,
    kind: str | None,
    search: str | None,
    instance_id: int | None,
    limit: int,
    export_path: Path | None,
) -> None:
    """The decisions register, newest first."""
    from processes.decisions import export_json, list_decisions

    engine = open_engine(db_url)
    rows = list_decisions(engine, kind=kind, search=search, instance_id=instance_id, limit=limit)
    if export_path is not None:
        export_path.write_text(export_json(rows), encoding="utf-8")

    def human() -> None:
        for d in rows:
            click.echo(f"{d.number:<16} {d.decided_at:%Y-%m-%d}  {d.decision:<12} {d.subject[:60]}")
        if not rows:
            click.echo("(no decisions)")

    out.emit([d.as_dict() for d in rows], human)


@command(main)
@click.argument("number")
def decision(db_url: str | None, out: Output, number: str) -> None:
    """One decision record as a printable document (by number, e.g. 'RHR 2026:1', or id)."""
    from processes.decisions import get_decision, printable

    engine = open_engine(db_url)
    record = get_decision(engine, number)
    out.emit(record.as_dict(), lambda: click.echo(printable(record)))
