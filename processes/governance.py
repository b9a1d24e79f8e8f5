"""The engine as the city runs it: Kedja's engine plus the governance layer.

`open_engine` is what the web UI, the CLI, the worker and the tests use. It adds, to the
generic engine: the governance tables (their migrations run after the engine's), the
organisation register as the directory of users, the task policy that reads lanes as roles,
the handlers diagrams call by name, and the calendar functions scripts may use.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from engine import Engine
from engine.clock import Clock, SystemClock

from . import migrations, notification_rules
from .handlers import HANDLERS
from .policy import GovernanceTaskPolicy
from .register import Register
from .script_functions import SCRIPT_FUNCTIONS


def open_engine(
    url: str | None = None, clock: Clock | None = None, *, auto_upgrade: bool = True, **kw: Any
) -> Engine:
    """An engine for the city's processes on the database at `url` (default: the embedded
    SQLite database or `KEDJA_DATABASE_URL`)."""
    clock = clock or SystemClock()
    engine = Engine(
        url,
        clock,
        policy=GovernanceTaskPolicy(),
        services=HANDLERS,
        script_globals=SCRIPT_FUNCTIONS,
        auto_upgrade=auto_upgrade,
        **kw,
    )
    if auto_upgrade:
        migrations.upgrade(engine.db.write_engine)
    else:
        check_schema(engine)
    engine.directory = register_of(engine)
    notification_rules.install(engine)  # "new task" and "decision" notifications
    return engine


_REGISTERS: WeakKeyDictionary[Engine, Register] = WeakKeyDictionary()


def register_of(engine: Engine) -> Register:
    """The organisation register on the engine's database — one per engine, kept beside it
    rather than on it: the engine knows only the `Directory` protocol (which the register
    implements, or a wrapper such as `BootstrapDirectory` around it), while the governance
    layer and the web UI need the register's own methods (organisations, users, sign-in)."""
    register = _REGISTERS.get(engine)
    if register is None:
        register = _REGISTERS[engine] = Register(engine.db, engine.clock)
    return register


def check_schema(engine: Engine) -> None:
    from engine.errors import SchemaOutdated

    current = migrations.current_revision(engine.db.read_engine)
    if current != migrations.head_revision():
        raise SchemaOutdated(
            f"The governance tables of {engine.db.safe_url()} are "
            f"{'missing' if current is None else 'at ' + current}; run `kedja db upgrade`."
        )


def upgrade(engine: Engine) -> None:
    migrations.upgrade(engine.db.write_engine)
