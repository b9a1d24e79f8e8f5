"""Operations: `kedja backup`, `kedja restore`, `kedja migrate` and `kedja sign-in clear`
(docs/operations.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from engine.database import Database, database_url
from webui.cli import Output, command, main, open_engine


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


@command(main)
@click.argument("target")
@click.option("--version", type=int, default=None, help="Target version (default: the latest).")
@click.option("--check", "only_check", is_flag=True, help="Say what would happen; move nothing.")
@click.option("--as", "user", default="admin", show_default=True)
@click.option("--reason", default="", help="Recorded in each instance's history.")
def migrate(
    db_url: str | None,
    out: Output,
    target: str,
    version: int | None,
    only_check: bool,
    user: str,
    reason: str,
) -> None:
    """Move running instances to a newer version. TARGET is an instance id, or a process key
    for every instance of that process on an older version."""
    from webui.cli import open_engine

    engine = open_engine(db_url)
    actor = engine.directory.actor(user)
    if not actor.admin:
        raise click.ClickException(f"{user} is not an administrator; only they move instances.")
    if target.isdigit():
        if only_check:
            checks = [engine.runtime.check_migration(int(target), version)]
            moved, refused = (
                [c for c in checks if c.possible],
                [c for c in checks if not c.possible],
            )
        else:
            moved, refused = [engine.runtime.migrate(int(target), actor, version, reason)], []
    elif only_check:
        key_version = engine.repository.get(target, version).version
        checks = [
            engine.runtime.check_migration(i.id, key_version)
            for i in engine.runtime.list(key=target, limit=100_000)
            if i.state in ("running", "suspended") and i.version != key_version
        ]
        moved, refused = [c for c in checks if c.possible], [c for c in checks if not c.possible]
    else:
        moved, refused = engine.runtime.migrate_all(target, actor, version, reason)

    def human() -> None:
        verb = "can move" if only_check else "moved"
        for c in moved:
            click.echo(
                f"instance {c.instance_id}: {verb} from version {c.from_version} to {c.to_version}"
            )
        for c in refused:
            click.echo(f"instance {c.instance_id}: stays on version {c.from_version}:")
            for problem in c.problems:
                click.echo(f"  - {problem}")
        if not moved and not refused:
            click.echo("No instance runs on an older version.")

    out.emit(
        {"moved": [c.as_dict() for c in moved], "refused": [c.as_dict() for c in refused]}, human
    )


@main.group("sign-in")
def sign_in() -> None:
    """The sign-in throttle (docs/operations.md, "Sign-in throttle")."""


@command(sign_in, "clear")
@click.argument("user_name", required=False)
@click.option("--address", default=None, help="Also (or only) this client address.")
def sign_in_clear(db_url: str | None, out: Output, user_name: str | None, address: str | None):
    """Lift a lock-out: forget USER_NAME's failed sign-ins (and/or an address's) at once."""
    from processes.sign_in_attempts import SignInThrottle
    from webui.security import secret_key_for

    if not user_name and not address:
        raise click.UsageError("Name a user, or give --address, or both.")
    url = database_url(db_url)
    if not url.startswith("sqlite") and not os.environ.get("KEDJA_SECRET_KEY"):
        # Without it there is no key to find: a fresh one would match nothing, and the
        # command would report "0 forgotten" while the person stays locked out.
        raise click.ClickException(
            "KEDJA_SECRET_KEY is not set, so the web processes' key cannot be found; run "
            "this with the same environment as kedja serve."
        )
    engine = open_engine(url)
    try:
        # The same key the web processes hash with: KEDJA_SECRET_KEY, or the embedded
        # default's key beside its database file.
        cleared = SignInThrottle(engine, secret_key_for(engine.db.url)).clear(user_name, address)
    finally:
        engine.close()
    who = " and ".join(
        part
        for part in (user_name and f"user name {user_name}", address and f"address {address}")
        if part
    )
    out.emit(
        {"cleared": cleared, "user_name": user_name, "address": address},
        lambda: click.echo(
            f"Forgot {cleared} failed sign-in(s) for {who}; signing in works again at once."
        ),
    )
