"""`kedja approvals`, `kedja approve` and `kedja refuse`: the four-eyes approval of versions
that call privileged services (engine/approvals.py), from the command line."""

from __future__ import annotations

import click

from webui.cli import Output, command, main, open_engine


@command(main, "approvals")
def list_approvals(db_url: str | None, out: Output) -> None:
    """List the versions awaiting an administrator's approval."""
    engine = open_engine(db_url)
    pending = engine.approvals.awaiting()

    def human() -> None:
        if not pending:
            click.echo("No version awaits approval.")
        for a in pending:
            click.echo(f"{a.key} version {a.version}, deployed by {a.deployed_by}:")
            for c in a.calls:
                click.echo(f"  {c.element}: {c.operator} ({c.privilege})")

    out.emit([{"key": a.key, "version": a.version, **a.as_dict()} for a in pending], human)


def _decide(
    db_url: str | None, out: Output, key: str, version: int, user: str, note: str, approve: bool
) -> None:
    engine = open_engine(db_url)
    definition = engine.repository.get(key, version)
    actor = engine.directory.actor(user)
    if approve:
        approval = engine.approvals.approve(definition.id, actor, note)
    else:
        approval = engine.approvals.refuse(definition.id, actor, note)
    out.emit(
        {"key": key, "version": version, **approval.as_dict()},
        lambda: click.echo(f"{key} version {version} is {approval.state} by {user}"),
    )


@command(main)
@click.argument("key")
@click.argument("version", type=int)
@click.option("--as", "user", required=True, help="The approving administrator.")
@click.option("--note", default="", help="Kept in the history with the approval.")
def approve(db_url: str | None, out: Output, key: str, version: int, user: str, note: str) -> None:
    """Let version VERSION of KEY run (an administrator who did not deploy it)."""
    _decide(db_url, out, key, version, user, note, approve=True)


@command(main)
@click.argument("key")
@click.argument("version", type=int)
@click.option("--as", "user", required=True, help="The refusing administrator.")
@click.option("--reason", required=True, help="Why; the process owner reads it.")
def refuse(db_url: str | None, out: Output, key: str, version: int, user: str, reason: str) -> None:
    """Refuse version VERSION of KEY: it never runs."""
    _decide(db_url, out, key, version, user, reason, approve=False)
