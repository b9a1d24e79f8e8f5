"""`kedja token`: personal API tokens for the REST API (docs/api.md).

    kedja token create --as USER [--name NAME] [--days N]   prints the token once
    kedja token list [--user USER]          id, user, name, created, last used, expiry, state
    kedja token renew ID [--days N]         works N days (default 90) from now again
    kedja token revoke ID                   the token stops working at once

Every token expires, 90 days after it is made or renewed unless `--days` or
KEDJA_API_TOKEN_DAYS says otherwise (processes/api_tokens.py says why).

The command line is the administrator's tool: whoever can run it against the database can
already do anything, so it creates a token for any active user of the register. The token
acts as that user, with that user's roles and organisations.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click

from webui.cli import Output, command, main, open_engine

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _when(value) -> str:  # type: ignore[no-untyped-def]
    return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") if value else "-"


@main.group()
def token() -> None:
    """Personal API tokens for the REST API (/api/v1)."""


@command(token, "create")
@click.option("--as", "user", required=True, help="The user the token acts as.")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@click.option(
    "--days",
    type=int,
    default=None,
    help="Days until it expires (default: KEDJA_API_TOKEN_DAYS, else 90).",
)
def create_cmd(db_url: str | None, out: Output, user: str, name: str, days: int | None) -> None:
    """Create a token for USER and print it (only this once: Kedja keeps its hash)."""
    from processes import api_tokens

    engine = open_engine(db_url)
    info, secret = api_tokens.create(engine, user, api_tokens.check_name(name), days)

    def human() -> None:
        click.echo(secret)
        click.echo(
            f"API token {info.id} ({info.name}) for {info.user_id}, expires "
            f"{_when(info.expires_at)}. Keep it secret: it is shown only now. Send it as "
            "'Authorization: Bearer <token>'.",
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
    now = engine.clock.now()

    def human() -> None:
        if not rows:
            click.echo("No API tokens. Create one with `kedja token create --as USER`.")
        for t in rows:
            if t.revoked_at:
                state = f"revoked {_when(t.revoked_at)}"
            elif t.expired(now):
                state = f"expired {_when(t.expires_at)}"
            else:
                state = f"active until {_when(t.expires_at)}"
            click.echo(
                f"{t.id:>5}  {t.user_id:<24} {t.name:<20} created {_when(t.created_at)}  "
                f"used {_when(t.last_used_at)}  {state}"
            )

    out.emit([t.as_dict() for t in rows], human)


@command(token, "renew")
@click.argument("token_id", type=int)
@click.option(
    "--days",
    type=int,
    default=None,
    help="Days from now until it expires (default: KEDJA_API_TOKEN_DAYS, else 90).",
)
def renew_cmd(db_url: str | None, out: Output, token_id: int, days: int | None) -> None:
    """Let the token with id TOKEN_ID work again, or longer, from now (expired or not)."""
    from processes import api_tokens

    engine = open_engine(db_url)
    info = api_tokens.renew(engine, token_id, days=days)
    out.emit(
        info.as_dict(),
        lambda: click.echo(
            f"API token {info.id} ({info.name}) of {info.user_id} works until "
            f"{_when(info.expires_at)}."
        ),
    )


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
