"""The `kedja` command: an administrator's tool over the engine's services.

Every command takes `--db URL` (default: `KEDJA_DATABASE_URL`, else `./var/kedja.sqlite`) and
`--json` (machine-readable output on stdout). Errors print one human line on stderr (plus the
list of problems for a rejected bundle or form) and exit with a code a script can act on:

    0 success   2 usage   3 validation (bad BPMN, invalid form data)
    4 conflict (a concurrent change; a task someone else completed)   5 not permitted
    1 anything else

`--as USER` names the actor recorded in the history and must be a user of the organisation
register, who must be allowed to do what is asked. On a database with no users yet (before
`kedja demo` or the first `kedja user add`), every named user acts as an administrator.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from engine import DamagedState, Engine, KedjaError, ValidationError
from engine.database import Database, database_url
from webui import json_limits

EXIT_OTHER = 1


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return str(value)


class Output:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, data: Any, human: Callable[[], None]) -> None:
        if self.as_json:
            click.echo(json.dumps(data, default=_json_default, ensure_ascii=False, indent=2))
        else:
            human()


def command(group: click.Group, name: str | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
    """Register a command with `--db` and `--json`, and Kedja's error handling."""

    def decorate(func: Callable[..., Any]) -> click.Command:
        @group.command(name, **kwargs)
        @click.option(
            "--db",
            "db_url",
            metavar="URL",
            default=None,
            help="Database URL (default: KEDJA_DATABASE_URL or ./var/kedja.sqlite).",
        )
        @click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
        @functools.wraps(func)
        def wrapper(db_url: str | None, as_json: bool, **params: Any) -> None:
            out = Output(as_json)
            try:
                func(db_url=db_url, out=out, **params)
            except KedjaError as exc:
                _fail(exc, out)

        return wrapper

    return decorate


def _fail(exc: KedjaError, out: Output) -> None:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    click.echo(f"kedja: {first}", err=True)
    if isinstance(exc, ValidationError):
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        if out.as_json:
            click.echo(
                json.dumps(
                    {"error": exc.summary, "problems": [p.as_dict() for p in exc.problems]},
                    ensure_ascii=False,
                    indent=2,
                )
            )
    elif out.as_json:
        click.echo(json.dumps({"error": first, "kind": type(exc).__name__}, ensure_ascii=False))
    sys.exit(exc.exit_code)


def open_engine(db_url: str | None) -> Engine:
    from processes.governance import open_engine as open_governance_engine
    from processes.governance import register_of
    from processes.register import BootstrapDirectory

    url = database_url(db_url)
    # The embedded SQLite default migrates itself; a shared database is upgraded on purpose.
    engine = open_governance_engine(url, auto_upgrade=url.startswith("sqlite"))
    engine.directory = BootstrapDirectory(register_of(engine))
    return engine


def _data(text: str | None) -> dict[str, Any]:
    """A JSON object given on the command line (`--data`, `--payload`, `--correlation`).

    Only this text is reported as "not valid JSON": a JSON error from anywhere else (a
    damaged stored state) is the engine's to explain."""
    if not text:
        return {}
    try:
        value = json_limits.loads(text)
    except json_limits.TooDeep as exc:
        raise click.UsageError(f"--data/--payload: {exc}") from None
    except ValueError as exc:
        raise click.UsageError(f"--data/--payload is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise click.UsageError("--data must be a JSON object, for example '{\"year\": 2026}'")
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kedja")
def main() -> None:
    """Kedja: the city's governance processes on BPMN."""


# -- repository ---------------------------------------------------------------------------


@command(main)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--as", "user", default="admin", show_default=True, help="Who deploys.")
def deploy(db_url: str | None, out: Output, paths: tuple[str, ...], user: str) -> None:
    """Deploy BPMN/DMN/form files or folders as versioned process definitions."""
    engine = open_engine(db_url)
    results = engine.repository.deploy(list(paths), engine.directory.actor(user))

    approvals = {r.definition.id: engine.approvals.of(r.definition.id) for r in results}

    def human() -> None:
        for r in results:
            d = r.definition
            note = "deployed" if r.created else "unchanged, already"
            click.echo(f"{d.key} version {d.version}: {note} ({', '.join(d.files)})")
            if approvals[d.id].state == "awaiting":
                calls = ", ".join(sorted({c.operator for c in approvals[d.id].calls}))
                click.echo(
                    f"  awaits an administrator's approval (it calls {calls}): another "
                    f"administrator runs `kedja approve {d.key} {d.version} --as ID`"
                )

    out.emit(
        [
            {
                "created": r.created,
                **r.definition.as_dict(),
                "approval": approvals[r.definition.id].state,
            }
            for r in results
        ],
        human,
    )


@command(main)
@click.option("--key", default=None, help="Only this process key.")
@click.option("--all-versions", is_flag=True, help="Every version, not just the latest.")
def definitions(db_url: str | None, out: Output, key: str | None, all_versions: bool) -> None:
    """List deployed process definitions."""
    engine = open_engine(db_url)
    rows = engine.repository.definitions(key=key, latest_only=not all_versions)

    def human() -> None:
        if not rows:
            click.echo("No process definitions deployed. Deploy with `kedja deploy PATH`.")
        for d in rows:
            click.echo(
                f"{d.key:<32} v{d.version:<4} {d.deployed_at:%Y-%m-%d %H:%M} "
                f"{d.deployed_by:<12} {d.name or ''}"
            )

    out.emit([d.as_dict() for d in rows], human)


# -- runtime ------------------------------------------------------------------------------


@command(main)
@click.argument("key")
@click.option("--data", default=None, help="Answers to the process's start form, as a JSON object.")
@click.option("--version", "version", type=int, default=None, help="A given version.")
@click.option("--business-key", default=None, help="A key of your own for the instance.")
@click.option("--as", "user", default="admin", show_default=True)
def start(
    db_url: str | None,
    out: Output,
    key: str,
    data: str | None,
    version: int | None,
    business_key: str | None,
    user: str,
) -> None:
    """Start an instance of the process KEY."""
    engine = open_engine(db_url)
    started = engine.runtime.start_with_form(
        key, _data(data), engine.directory.actor(user), version=version, business_key=business_key
    )
    info = engine.runtime.get(started.instance_id, with_data=False)

    def human() -> None:
        click.echo(f"Started instance {info.id} of {info.key} version {info.version}: {info.state}")
        if started.incident:
            click.echo(f"  incident: {started.incident}")

    out.emit({"instance": info.as_dict(), "incident": started.incident}, human)


@command(main, "instance")
@click.argument("instance_id", type=int)
@click.option("--history", "show_history", is_flag=True, help="Include the event log.")
def instance_cmd(db_url: str | None, out: Output, instance_id: int, show_history: bool) -> None:
    """Show an instance: state, data, open tasks, incidents."""
    engine = open_engine(db_url)
    damage = None
    try:
        info = engine.runtime.get(instance_id)
    except DamagedState as exc:  # what its rows say (engine/damaged.py)
        damage = exc
        info = engine.runtime.get(instance_id, with_data=False)
    tasks = engine.tasks.list(instance_id=instance_id, limit=1000).items
    with engine.db.read() as session:
        events = engine.history.events(session, instance_id) if show_history else []
    timers = engine.timers.waiting(instance_id)

    def human() -> None:
        click.echo(f"Instance {info.id}: {info.key} version {info.version}, {info.state}")
        click.echo(f"  started {info.started_at:%Y-%m-%d %H:%M} by {info.started_by}")
        if damage is not None:
            click.echo(f"  DAMAGED: its stored state cannot be loaded ({damage.problem})")
        for inc in info.open_incidents:
            click.echo(f"  INCIDENT at {inc['element_id']}: {inc['message']}")
        for t in tasks:
            click.echo(f"  task {t.id}: {t.name} ({t.role or '-'}, {t.assignee or 'unclaimed'})")
        for t in timers:
            click.echo(f"  timer {t['element_id']}: due {t['due_at']:%Y-%m-%d %H:%M} UTC")
        if damage is None:
            data = json.dumps(info.data, default=_json_default, ensure_ascii=False)
            click.echo("  data: " + data)
        for e in events:
            click.echo(
                f"  {e['seq']:>4} {e['at']:%Y-%m-%d %H:%M:%S} {e['actor']:<10} {e['kind']}"
                + (f" {e['element_id']}" if e["element_id"] else "")
            )

    out.emit(
        {
            "instance": info.as_dict() | ({"damaged": damage.problem} if damage else {}),
            "tasks": [t.as_dict() for t in tasks],
            "timers": timers,
            "history": events,
        },
        human,
    )


@command(main)
@click.option("--key", default=None)
@click.option("--state", type=click.Choice(["running", "suspended", "completed", "terminated"]))
@click.option("--limit", type=int, default=50, show_default=True)
def instances(
    db_url: str | None, out: Output, key: str | None, state: str | None, limit: int
) -> None:
    """List instances, newest first."""
    engine = open_engine(db_url)
    rows = engine.runtime.list(key=key, state=state, limit=limit)

    def human() -> None:
        for i in rows:
            flag = " INCIDENT" if i.open_incidents else ""
            click.echo(
                f"{i.id:>6} {i.key:<32} v{i.version:<3} {i.state:<10} {i.started_at:%Y-%m-%d}{flag}"
            )

    out.emit([i.as_dict() for i in rows], human)


def _lifecycle(name: str, doc: str) -> None:
    @command(main, name, help=doc)
    @click.argument("instance_id", type=int)
    @click.option("--as", "user", default="admin", show_default=True)
    @click.option("--reason", default="", help="Recorded in the history.")
    def _cmd(db_url: str | None, out: Output, instance_id: int, user: str, reason: str) -> None:
        engine = open_engine(db_url)
        actor = engine.directory.actor(user)
        if name == "retry":
            outcome = engine.runtime.retry(instance_id, actor)
            if outcome.incident:
                raise KedjaError(f"Instance {instance_id} failed again: {outcome.incident}")
        else:
            getattr(engine.runtime, name)(instance_id, actor, reason)
        info = engine.runtime.get(instance_id, with_data=False)
        note = _damage_note(engine, instance_id) if name == "terminate" else ""
        out.emit(info.as_dict(), lambda: click.echo(f"Instance {instance_id}: {info.state}{note}"))


def _damage_note(engine: Engine, instance_id: int) -> str:
    """For a damaged instance that terminate ended from its rows: say so."""
    with engine.db.read() as session:
        events = engine.history.events(session, instance_id)
    ended = next((e for e in reversed(events) if e["kind"] == "instance.terminated"), None)
    problem = (ended or {}).get("data", {}).get("damaged")
    return f" (its stored state was damaged: {problem}; ended from its rows)" if problem else ""


_lifecycle("suspend", "Suspend an instance: nothing moves until it is resumed.")
_lifecycle("resume", "Resume a suspended instance.")
_lifecycle("terminate", "End an instance now; open tasks are cancelled.")
_lifecycle("retry", "Resolve an instance's incidents and continue it.")


@command(main)
@click.argument("name")
@click.option("--payload", default=None, help="Message payload, a JSON object.")
@click.option("--correlation", default=None, help="Correlation values, a JSON object.")
@click.option("--as", "user", default="admin", show_default=True)
def message(
    db_url: str | None,
    out: Output,
    name: str,
    payload: str | None,
    correlation: str | None,
    user: str,
) -> None:
    """Send message NAME to the instance waiting for it (or start the process it starts)."""
    engine = open_engine(db_url)
    instance_id = engine.runtime.correlate(
        name, _data(payload), _data(correlation), engine.directory.actor(user)
    )
    out.emit(
        {"instance_id": instance_id},
        lambda: click.echo(f"Message '{name}' delivered to instance {instance_id}"),
    )


# -- tasks --------------------------------------------------------------------------------


@command(main)
@click.option("--user", default=None, help="Only tasks this user may work on or has claimed.")
@click.option("--instance", "instance_id", type=int, default=None)
@click.option("--completed", is_flag=True, help="Completed tasks instead of open ones.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--offset", type=int, default=0)
def tasks(
    db_url: str | None,
    out: Output,
    user: str | None,
    instance_id: int | None,
    completed: bool,
    limit: int,
    offset: int,
) -> None:
    """List tasks (no filter: every open task)."""
    engine = open_engine(db_url)
    actor = engine.directory.actor(user) if user else None
    page = engine.tasks.list(
        actor=actor,
        instance_id=instance_id,
        state="completed" if completed else "open",
        limit=limit,
        offset=offset,
    )

    def human() -> None:
        if not page.items:
            click.echo("No tasks.")
        for t in page.items:
            due = f"due {t.due_at:%Y-%m-%d}" if t.due_at else ""
            who = t.completed_by if completed else (t.assignee or "unclaimed")
            click.echo(
                f"{t.id:>6}  {t.name or t.element_id:<36} instance {t.instance_id:<5} "
                f"{t.role or '-':<14} {t.organisation or '-':<16} {who:<12} {due}"
            )
        if page.total > len(page.items):
            click.echo(f"({len(page.items)} of {page.total}; use --offset to see more)")

    out.emit({"total": page.total, "items": [t.as_dict() for t in page.items]}, human)


@command(main)
@click.argument("task_id", type=int)
@click.option("--as", "user", required=True, help="Who claims the task.")
def claim(db_url: str | None, out: Output, task_id: int, user: str) -> None:
    """Claim a task: it becomes yours."""
    engine = open_engine(db_url)
    task = engine.tasks.claim(task_id, engine.directory.actor(user))
    out.emit(task.as_dict(), lambda: click.echo(f"Task {task_id} claimed by {task.assignee}"))


@command(main)
@click.argument("task_id", type=int)
@click.option("--as", "user", required=True)
def unclaim(db_url: str | None, out: Output, task_id: int, user: str) -> None:
    """Give a claimed task back to its group."""
    engine = open_engine(db_url)
    task = engine.tasks.unclaim(task_id, engine.directory.actor(user))
    out.emit(task.as_dict(), lambda: click.echo(f"Task {task_id} is unclaimed"))


@command(main)
@click.argument("task_id", type=int)
@click.option("--as", "user", required=True, help="Who completes the task.")
@click.option("--data", default=None, help="Form data as a JSON object.")
def complete(db_url: str | None, out: Output, task_id: int, user: str, data: str | None) -> None:
    """Complete a task with form data (validated against its form schema)."""
    engine = open_engine(db_url)
    outcome = engine.tasks.complete(task_id, _data(data), engine.directory.actor(user))
    info = engine.runtime.get(outcome.instance_id, with_data=False)

    def human() -> None:
        click.echo(f"Task {task_id} completed; instance {info.id} is {info.state}")
        if outcome.incident:
            click.echo(f"  The process could not continue: {outcome.incident}")

    out.emit({"task_id": task_id, "instance": info.as_dict(), "incident": outcome.incident}, human)


@command(main)
@click.argument("task_id", type=int)
@click.option("--as", "user", required=True)
@click.option("--data", default=None, help="Partial form data as a JSON object.")
def draft(db_url: str | None, out: Output, task_id: int, user: str, data: str | None) -> None:
    """Save a draft of a task's form without completing it."""
    engine = open_engine(db_url)
    task = engine.tasks.save_draft(task_id, _data(data), engine.directory.actor(user))
    out.emit(task.as_dict(), lambda: click.echo(f"Draft of task {task_id} saved"))


# -- database (`kedja audit`: webui/audit_cli.py) -----------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@command(db, "upgrade")
def db_upgrade(db_url: str | None, out: Output) -> None:
    """Create or migrate the database schema to this release."""
    from engine.migrations import current_revision
    from processes import migrations as governance_migrations

    database = Database(database_url(db_url))
    database.upgrade()
    governance_migrations.upgrade(database.write_engine)
    revision = current_revision(database.write_engine)
    out.emit(
        {"revision": revision, "database": database.safe_url()},
        lambda: click.echo(f"{database.safe_url()} is at revision {revision}"),
    )


@command(main, "timers")
@click.option("--instance", "instance_id", type=int, default=None)
@click.option("--limit", type=int, default=50, show_default=True)
def timers_cmd(db_url: str | None, out: Output, instance_id: int | None, limit: int) -> None:
    """List waiting timers, earliest first (times in Europe/Stockholm)."""
    from zoneinfo import ZoneInfo

    engine = open_engine(db_url)
    rows = engine.timers.waiting(instance_id, limit)
    stockholm = ZoneInfo("Europe/Stockholm")

    def human() -> None:
        if not rows:
            click.echo("No timers are waiting.")
        for t in rows:
            owner = (
                f"starts {t['starts']}"
                if t["instance_id"] is None
                else f"instance {t['instance_id']}"
            )
            failing = f"  {t['attempts']} failed: {t['last_error']}" if t["attempts"] else ""
            click.echo(
                f"{t['due_at'].astimezone(stockholm):%Y-%m-%d %H:%M:%S}  "
                f"{owner:<24} {t['element_id']} ({t['kind']}){failing}"
            )

    out.emit(rows, human)


# -- simulation ---------------------------------------------------------------------------


@command(main)
@click.option(
    "--from",
    "start",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="First simulated day (Europe/Stockholm).",
)
@click.option(
    "--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last simulated day."
)
@click.option(
    "--deploy",
    "deploy_paths",
    multiple=True,
    type=click.Path(exists=True),
    help="Deploy these diagrams into the copy first (try a change before deploying).",
)
@click.option(
    "--start",
    "start_keys",
    multiple=True,
    metavar="KEY[=JSON]",
    help="Start an instance of KEY at the first day, with the calendar's variables "
    "and optional data.",
)
@click.option(
    "--auto-complete",
    is_flag=True,
    help="Complete every task as it appears, with its form's defaults.",
)
@click.option(
    "--year-processes",
    is_flag=True,
    help="Start every yearly process of the city for the year of --from (as on 1 January).",
)
def simulate(
    db_url: str | None,
    out: Output,
    start: datetime,
    end: datetime,
    deploy_paths: tuple[str, ...],
    start_keys: tuple[str, ...],
    auto_complete: bool,
    year_processes: bool,
) -> None:
    """Run the processes over a simulated period on a throwaway copy; print the timeline."""
    from processes.simulation import render
    from processes.simulation import simulate as run_simulation

    starts = []
    for item in start_keys:
        key, _, data = item.partition("=")
        starts.append((key, _data(data)))
    entries = run_simulation(
        database_url(db_url),
        start.date(),
        end.date(),
        deploy=deploy_paths,
        start_keys=starts,
        auto_complete=auto_complete,
        year_processes=year_processes,
    )
    out.emit(
        [{"at": e.at.isoformat(), "instance": e.instance, "event": e.text} for e in entries],
        lambda: click.echo(render(entries)),
    )


from webui import (  # noqa: E402, F401 — their commands
    api_cli,
    approvals_cli,
    attachments_cli,
    audit_cli,
    governance_cli,
    notifications_cli,
    ops_cli,
    serve_cli,
)

if __name__ == "__main__":
    # `python -m webui.cli`: this file runs as `__main__`, while the command modules above
    # registered their commands on `webui.cli.main`; run that one, which has them all.
    from webui.cli import main as registered

    registered()
