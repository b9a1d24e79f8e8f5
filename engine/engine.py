"""The `Engine` facade: one object, built from a database URL and a clock.

Callers (the governance layer, the web UI, the CLI, tests) use the services hanging off it —
`repository`, `runtime`, `tasks`, `history`, `timers`, `approvals` — the way users of Camunda
use its service facades. Everything the services share (database, clock, serializer, script
sandbox, the step runner and its cache) is wired here, once.
"""

from __future__ import annotations

from typing import Any

from . import damaged
from .actors import Directory, OpenDirectory
from .approvals import Approvals
from .clock import Clock, SystemClock
from .damaged import DamagedInstance
from .database import Database, database_url
from .history import History
from .repository import Repository
from .runtime import Runtime
from .scripting import make_script_engine
from .serialization import StateCodec
from .services import Service, Services
from .steps import StepRunner
from .task_mirror import DefaultTaskPolicy, TaskPolicy
from .tasks import Tasks
from .timers import Timers


class Engine:
    """A Kedja engine on one database.

    `auto_upgrade` brings the schema up to date on start (the embedded default does this);
    production processes leave it off and rely on `kedja db upgrade`, so that several
    processes never race to migrate. `services` are the operators service tasks may call
    (see `engine.services`); a diagram naming another operator is refused at deploy.
    `cache_size` is how many recently stepped instances keep
    their deserialized workflow in memory (0 turns the cache off); a miss only costs a load.
    """

    def __init__(
        self,
        url: str | None = None,
        clock: Clock | None = None,
        *,
        policy: TaskPolicy | None = None,
        directory: Directory | None = None,
        script_globals: dict[str, Any] | None = None,
        services: dict[str, Service] | None = None,
        auto_upgrade: bool = True,
        cache_size: int = 1024,
    ) -> None:
        self.db = Database(database_url(url))
        if auto_upgrade:
            self.db.upgrade()
        else:
            self.db.check_schema()
        self.clock: Clock = clock or SystemClock()
        self.directory: Directory = directory or OpenDirectory()
        self.codec = StateCodec()
        self.services = Services(services)
        self.script_engine = make_script_engine(script_globals, self.services)
        self.history = History(self.codec.dump_data)
        self.repository = Repository(
            self.db, self.codec, self.clock, self.history, self.script_engine
        )
        self.steps = StepRunner(
            self.db,
            self.codec,
            self.clock,
            self.history,
            policy or DefaultTaskPolicy(),
            self.repository,
            self.script_engine,
            cache_size=cache_size,
        )
        self.runtime = Runtime(
            self.db, self.codec, self.clock, self.history, self.repository, self.steps
        )
        self.tasks = Tasks(
            self.db,
            self.codec,
            self.clock,
            self.history,
            self.repository,
            self.steps,
            self.runtime.deliver_pending,
        )
        self.timers = Timers(self.db, self.clock, self.steps, self.runtime.deliver_pending)
        self.approvals = Approvals(self.db, self.clock, self.history, self.repository)

    def verify_history(self) -> list[str]:
        """Every discrepancy in the hash-chained history (empty when intact)."""
        with self.db.read() as session:
            return self.history.verify(session)

    def check_states(self) -> tuple[int, list[DamagedInstance]]:
        """Load every instance's stored state: how many were checked, and the damaged ones
        (engine/damaged.py)."""
        return damaged.find(self.db, self.steps.load)

    def close(self) -> None:
        self.db.dispose()
