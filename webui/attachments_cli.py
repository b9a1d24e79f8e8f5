"""`kedja attachments sweep`: delete attached files nothing refers to any more.

    kedja attachments sweep [--dry-run] [--grace-hours N]

`kedja worker` and `kedja serve` sweep by themselves at start and every night (see
`processes.attachment_cleanup` for what "referenced" means); this command is for a first
clean-up after an upgrade, for an installation that runs maintenance from cron, or to see
(`--dry-run`) what a sweep would remove.
"""

from __future__ import annotations

from datetime import timedelta

import click

from webui.cli import Output, command, main, open_engine


@main.group()
def attachments() -> None:
    """Files attached to task forms."""


@command(attachments, "sweep")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.option(
    "--grace-hours",
    type=click.IntRange(min=1),
    default=24,
    show_default=True,
    metavar="N",
    help="Keep uploads of open tasks younger than this that no saved form refers to yet.",
)
def sweep(db_url: str | None, out: Output, dry_run: bool, grace_hours: int) -> None:
    """Delete attachments no draft and no history refers to (their tasks are closed, or
    their upload was never saved)."""
    from processes import attachment_cleanup

    engine = open_engine(db_url)
    result = attachment_cleanup.sweep(engine, timedelta(hours=grace_hours), dry_run=dry_run)

    def human() -> None:
        verb = "would delete" if dry_run else "deleted"
        click.echo(
            f"{verb} {len(result.ids)} unreferenced attachment(s), "
            f"{result.bytes / (1024 * 1024):.1f} MB, in {result.instances} case(s)"
        )
        if dry_run:
            click.echo("Dry run: nothing was deleted.", err=True)

    out.emit(result.as_dict(), human)
