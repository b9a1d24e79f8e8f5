"""`kedja audit verify`: is what the database holds still the record Kedja wrote?

Two checks, one command, because an operator asks one question after a restore or a
suspected edit: every hash chain of the history (engine/history.py: a changed, inserted or
deleted event), and every instance's stored state (engine/damaged.py: one that no longer
loads cannot step, and only terminating it helps). Exit 1 when either finds something
that needs doing; an instance already terminated as damaged is listed, its damage on
record, and does not fail the check again.
"""

from __future__ import annotations

import sys

import click

from webui.cli import EXIT_OTHER, Output, command, main, open_engine


@main.group()
def audit() -> None:
    """The tamper-evident history and the stored states."""


@command(audit, "verify")
def audit_verify(db_url: str | None, out: Output) -> None:
    """Check every history chain and every instance's stored state; exit 1 if an event was
    changed, inserted or deleted, or an instance's state cannot be loaded."""
    engine = open_engine(db_url)
    problems = engine.verify_history()
    with engine.db.read() as session:
        count = engine.history.count(session)
    checked, damaged = engine.check_states()
    to_end = [d for d in damaged if not d.ended_as_damaged]

    def human() -> None:
        click.echo(
            f"History intact: {count} events verified."
            if not problems
            else "History NOT intact:\n" + "\n".join(f"  - {p}" for p in problems)
        )
        if not damaged:
            click.echo(f"Stored states: all {checked} instances load.")
            return
        click.echo(f"Stored states: {len(damaged)} of {checked} instances cannot be loaded:")
        for d in damaged:
            if d.ended_as_damaged:
                click.echo(
                    f"  - instance {d.instance_id} ({d.key}): {d.problem}; terminated as "
                    "damaged, as its history records"
                )
            elif d.state in ("completed", "terminated"):
                click.echo(
                    f"  - instance {d.instance_id} ({d.key}, {d.state}): {d.problem}; it had "
                    "ended, so its state was changed after that (restore it from a backup)"
                )
            else:
                click.echo(
                    f"  - instance {d.instance_id} ({d.key}, {d.state}): {d.problem}; end it "
                    f"with: kedja terminate {d.instance_id} --reason '...'"
                )

    out.emit(
        {
            "events": count,
            "problems": problems,
            "instances": checked,
            "damaged": [d.as_dict() for d in damaged],
        },
        human,
    )
    if problems or to_end:
        found = []
        if problems:
            found.append(f"the history has {len(problems)} problem(s)")
        if to_end:
            found.append(f"{len(to_end)} instance(s) are damaged")
        click.echo("kedja: " + "; ".join(found), err=True)
        sys.exit(EXIT_OTHER)
