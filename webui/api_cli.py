"""`kedja token`: personal API tokens for the REST API (docs/api.md).

    kedja token create --as USER [--name NAME]   prints the token once
    kedja token list [--user USER]               id, user, name, created, last used, revoked
    kedja token revoke ID                        the token stops working at once

The command line is the administrator's tool: whoever can run it against the database can
already do anything, so it creates a token for any active user of the register. The token
acts as that user, with that user's roles and organisations.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click

from webui.cli import Output, command, main, open_engine

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@main.group()
def token() -> None:
    """Personal API tokens for the REST API (/api/v1)."""


@command(token, "create")
@click.option("--as", "user", required=True, help="The user the token acts as.")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
def create_cmd(db_url: str | None, out: Output, user: str, name: str) -> None:
    """Create a token for USER and print it (only this once: Kedja keeps its hash)."""
    from processes import api_tokens

    engine = open_engine(db_url)
    info, secret = api_tokens.create(engine, user, api_tokens.check_name(name))

    def human() -> None:
        click.echo(secret)
        click.echo(
            f"API token {info.id} ({info.name}) for {info.user_id}. Keep it secret: it is "
            "shown only now. Send it as 'Authorization: Bearer <token>'.",
            err=True,
        )

    out.emit({**info.as_dict(), "token": secret}, human)


@command(token, "list")
@click.option("--user", default=None, help="Only this user's tokens.")
def list_cmd(db_url: str | None, out: Output, user: str | None) -> None:
    """List API tokens, newest first (never the tokens themselves)."""
    from processes import api_tokens

    engine = open_engine(db_url)
    rows = api_tokens.tokens(engine, user)

    def when(value) -> str:  # type: ignore[no-untyped-def]
        return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if value else "-"

    def human() -> None:
        if not rows:
            click.echo("No API tokens. Create one with `kedja token create --as USER`.")
        for t in rows:
            state = f"revoked {when(t.revoked_at)}" if t.revoked_at else "active"
            click.echo(
                f"{t.id:>5}  {t.user_id:<24} {t.name:<20} created {when(t.created_at)}  "
                f"used {when(t.last_used_at)}  {state}"
            )

    out.emit([t.as_dict() for t in rows], human)


@command(token, "revoke")
@click.argument("token_id", type=int)
def revoke_cmd(db_url: str | None, out: Output, token_id: int) -> None:
    """Revoke the token with id TOKEN_ID (see `kedja token list`)."""
    from processes import api_tokens

    engine = open_engine(db_url)
    info = api_tokens.revoke(engine, token_id)
    out.emit(
        info.as_dict(),
        lambda: click.echo(f"API token {info.id} ({info.name}) of {info.user_id} is revoked."),
    )
