"""Connections, transactions and the schema version.

SQLite is the embedded default and PostgreSQL the production database; the differences that
matter for correctness are handled here, in one place:

* SQLite runs in WAL mode so readers never block the writer; checkpoints run in the
  background (`engine/checkpoints.py`). A write transaction starts with
  `BEGIN IMMEDIATE`: two writers queue for the lock instead of both reading, both computing,
  and one failing at commit with "database is locked". Reads use a separate pool with plain
  deferred transactions.
* The step's hand-written SQL (`engine/step_sql.py`) takes driver connections from
  `take_driver`. On SQLite a few stay checked out between steps: going through the pool
  (check out, reset on return) cost about as much as a statement, on every step. They are
  local file handles that never go stale; on PostgreSQL every step takes its connection from
  the pool, whose pre-ping notices a server that went away.
* PostgreSQL runs at READ COMMITTED; concurrent writers to one instance are caught by the
  instance row's version column (optimistic locking) and surface as `Conflict`.

Durability on SQLite: `synchronous=NORMAL` in WAL mode. A commit appends to the log without
waiting for the disk; the log is synced at checkpoints. A committed step survives the process
crashing (the log is in the operating system's hands as soon as the commit returns); only a
power loss or an operating-system crash can take back the last commits before the next
checkpoint, and the database stays consistent (it then holds the earlier wait state).
`synchronous=FULL` would add an fsync to every step; SQLite documents NORMAL as safe with WAL.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from .checkpoints import Checkpointer
from .errors import SchemaOutdated

DEFAULT_URL = "sqlite:///var/kedja.sqlite"

WAL_SIZE_LIMIT = 32 * 1024 * 1024
"""Bytes of SQLite's log kept on disk once it has been copied back. Under sustained load the
background checkpoint never catches up and the log grows (150 MB after a few thousand
back-to-back steps); SQLite reuses a log rather than shrinking it, so without a limit the
file kept its largest size until the last connection closed. With it, the first write after
a checkpoint that caught up (the next quiet second) truncates the log to this size."""


def database_url(url: str | None = None) -> str:
    """The URL to use: explicit, else `KEDJA_DATABASE_URL`, else the embedded SQLite file."""
    return url or os.environ.get("KEDJA_DATABASE_URL") or DEFAULT_URL


def _normalise(url: str) -> str:
    # "postgresql://" means psycopg 3 here; SQLAlchemy's default would be psycopg2.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """Owns the SQLAlchemy engines and hands out read and write sessions."""

    def __init__(self, url: str) -> None:
        self.url = _normalise(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.is_postgresql = parsed.get_backend_name() == "postgresql"
        self._checkpointer: Checkpointer | None = None
        if self.is_sqlite:
            db_path = parsed.database
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = self._sqlite_engine(immediate=True)
            self.read_engine = self._sqlite_engine(immediate=False)
            if db_path and db_path != ":memory:":
                self._checkpointer = Checkpointer(db_path)
        else:
            self.write_engine = create_engine(self.url, pool_pre_ping=True)
            self.read_engine = self.write_engine
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        # Driver connections kept between steps (SQLite only), and which `dispose` they
        # belong to: one taken before a dispose goes back to the pool, not to this list.
        self._idle_drivers: list[Any] = []
        self._keep_drivers = 4 if self.is_sqlite else 0
        self._drivers_lock = threading.Lock()
        self._generation = 0

    def _sqlite_engine(self, immediate: bool) -> SAEngine:
        engine = create_engine(self.url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # Take transaction control away from the sqlite3 module so BEGIN is ours.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA wal_autocheckpoint=0")  # see engine/checkpoints.py
            cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: commits on success, rolls back on any exception."""
        with self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read_sessions() as session, session.begin():
            yield session

    def take_driver(self) -> tuple[Any, int]:
        """A DBAPI connection of the write engine for one transaction that the caller begins
        and ends, with the token to hand back to `give_driver`."""
        with self._drivers_lock:
            generation = self._generation
            if self._idle_drivers:
                return self._idle_drivers.pop(), generation
        return self.write_engine.raw_connection(), generation

    def give_driver(self, raw: Any, generation: int, reusable: bool) -> None:
        """Keep the connection for the next step (SQLite, transaction ended cleanly), or
        return it to the pool, which resets it (a transaction that raised, PostgreSQL, a
        connection taken before the last `dispose`)."""
        if reusable and self._keep_drivers:
            with self._drivers_lock:
                if generation == self._generation and len(self._idle_drivers) < self._keep_drivers:
                    self._idle_drivers.append(raw)
                    return
        raw.close()

    def _release_drivers(self) -> None:
        with self._drivers_lock:
            idle, self._idle_drivers = self._idle_drivers, []
            self._generation += 1
        for raw in idle:
            raw.close()

    def dispose(self) -> None:
        self._release_drivers()
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()

    # -- schema ---------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (what `kedja db upgrade` runs)."""
        from .migrations import upgrade

        upgrade(self.write_engine)

    def check_schema(self) -> None:
        """Refuse to run against a schema older than this release, with what to do."""
        from .migrations import current_revision, head_revision

        current = current_revision(self.read_engine)
        if current != head_revision():
            state = "empty" if current is None else f"at revision {current}"
            raise SchemaOutdated(
                f"The database {self.safe_url()} is {state}; this release needs "
                f"{head_revision()}. Run `kedja db upgrade --db URL` first."
            )

    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)
