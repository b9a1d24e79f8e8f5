"""`kedja notifications`: the mail outbox for administrators — list it, deliver it now,
queue failed notifications again, and delete old ones (docs/notifications.md).

    kedja notifications [list] [--state queued|sent|failed|skipped] [--to USER] [--limit N]
    kedja notifications deliver      one delivery round now (needs KEDJA_SMTP_HOST)
    kedja notifications retry ID...  queue failed or skipped notifications again
    kedja notifications prune [--older-than-days N] [--dry-run]
                                     delete sent, failed and skipped ones past retention

`kedja worker` and `kedja serve` deliver by themselves every 30 seconds; `deliver` is for a
set-up check, or for an installation that runs delivery from cron instead. It exits 1 when
the SMTP server could not be reached (everything stays queued). Likewise they prune every
night; `prune` is for a first clean-up, or to see (`--dry-run`) what the retention removes.
"""

from __future__ import annotations

import sys
from zoneinfo import ZoneInfo

import click

from webui.cli import EXIT_OTHER, Output, command, main, open_engine

STOCKHOLM = ZoneInfo("Europe/Stockholm")
STATES = ("queued", "sent", "failed", "skipped")


@main.group(invoke_without_command=True)
@click.option("--db", "db_url", metavar="URL", default=None, help="Database URL (for the list).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (for the list).")
@click.pass_context
def notifications(ctx: click.Context, db_url: str | None, as_json: bool) -> None:
    """The notification outbox (without a subcommand: the newest 50, as `list`)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd, db_url=db_url, as_json=as_json)


@command(notifications, "list")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only this state.")
@click.option("--to", "recipient", default=None, help="Only to this user id or address.")
@click.option("--limit", type=int, default=50, show_default=True)
def list_cmd(
    db_url: str | None, out: Output, state: str | None, recipient: str | None, limit: int
) -> None:
    """List notifications, newest first (times in Europe/Stockholm)."""
    from processes import notification_outbox

    engine = open_engine(db_url)
    rows = notification_outbox.listing(engine, state=state, recipient=recipient, limit=limit)
    totals = notification_outbox.counts(engine)

    def human() -> None:
        if not rows:
            click.echo("No notifications.")
        for n in rows:
            when = n["created_at"].astimezone(STOCKHOLM)
            sent = (
                f"sent {n['sent_at'].astimezone(STOCKHOLM):%Y-%m-%d %H:%M}"
                if n["sent_at"]
                else n["state"]
            )
            click.echo(
                f"{n['id']:>6}  {when:%Y-%m-%d %H:%M}  {n['recipient'] or '-':<28} "
                f"{n['kind']:<20} {sent:<22} {n['subject']}"
            )
            if n["last_error"] and n["state"] != "sent":
                click.echo(f"        {n['attempts']} attempt(s); last error: {n['last_error']}")
        click.echo("In all: " + ", ".join(f"{totals.get(s, 0)} {s}" for s in STATES), err=True)

    out.emit({"notifications": rows, "counts": totals}, human)


@command(notifications, "deliver")
def deliver(db_url: str | None, out: Output) -> None:
    """Send every notification that is due now (one delivery round)."""
    from processes import mailer

    engine = open_engine(db_url)
    result = mailer.Mailer(engine).deliver()

    def human() -> None:
        click.echo(
            f"{result.mails} mail(s) sent holding {result.sent} notification(s); "
            f"{result.failed} failed and stay queued; {result.given_up} given up; "
            f"{result.skipped} without an address"
        )

    out.emit(result.as_dict(), human)
    if result.problem and result.mails == 0:
        click.echo(f"kedja: {result.problem}", err=True)
        sys.exit(EXIT_OTHER)


@command(notifications, "retry")
@click.argument("ids", nargs=-1, type=int, required=True)
def retry(db_url: str | None, out: Output, ids: tuple[int, ...]) -> None:
    """Queue failed or skipped notifications again (after fixing an address)."""
    from processes import notification_outbox

    engine = open_engine(db_url)
    count = notification_outbox.requeue(engine, list(ids))
    out.emit({"queued": count}, lambda: click.echo(f"{count} notification(s) queued again"))


@command(notifications, "prune")
@click.option(
    "--older-than-days",
    "days",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Delete sent, failed and skipped notifications older than N days (default: "
    "KEDJA_NOTIFICATION_RETENTION_DAYS for sent, KEDJA_NOTIFICATION_FAILED_RETENTION_DAYS "
    "for failed and skipped). Queued ones are never deleted.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
def prune(db_url: str | None, out: Output, days: int | None, dry_run: bool) -> None:
    """Delete notifications past their retention (personal data kept only as needed)."""
    from processes import notification_retention

    settings = (
        notification_retention.RetentionSettings.uniform(days)
        if days is not None
        else notification_retention.RetentionSettings.from_env()
    )
    engine = open_engine(db_url)
    result = notification_retention.prune(engine, settings, dry_run=dry_run)

    def human() -> None:
        verb = "would delete" if dry_run else "deleted"
        for cut in result.cuts:
            before = cut.before.astimezone(STOCKHOLM)
            click.echo(
                f"{cut.state:<8} {verb} {cut.count} older than {cut.older_than_days} days "
                f"(before {before:%Y-%m-%d %H:%M})"
            )
        if dry_run:
            click.echo("Dry run: nothing was deleted.", err=True)

    out.emit(result.as_dict(), human)
