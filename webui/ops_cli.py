"""`kedja backup` and `kedja restore` (see engine/backup.py and docs/operations.md)."""

from __future__ import annotations

from pathlib import Path

import click

from engine.database import Database, database_url
from webui.cli import Output, command, main


@command(main)
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def backup(db_url: str | None, out: Output, target: Path) -> None:
    """Write a consistent backup of the database to TARGET (a new file)."""
    from engine.backup import backup as run_backup

    db = Database(database_url(db_url))
    try:
        run_backup(db, target)
    finally:
        db.dispose()
    size = target.stat().st_size
    out.emit(
        {"backup": str(target), "bytes": size},
        lambda: click.echo(f"Backup of {db.safe_url()} written to {target} ({size} bytes)"),
    )


@command(main)
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore(db_url: str | None, out: Output, source: Path) -> None:
    """Restore SOURCE (made by kedja backup) into an empty database."""
    from engine.backup import restore as run_restore

    db = Database(database_url(db_url))
    try:
        run_restore(db, source)
    finally:
        db.dispose()
    out.emit(
        {"restored": str(source), "database": db.safe_url()},
        lambda: click.echo(f"{source} restored into {db.safe_url()}; run kedja audit verify"),
    )
