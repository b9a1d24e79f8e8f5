"""The step's SQL, run straight on the database driver.

A step is the engine's hot path: every task completion is one. Through SQLAlchemy Core each
statement cost ~90 µs of Python around ~20 µs of database work, which made persistence cost
several times what SpiffWorkflow itself costs (docs/performance.md). So the statements a step
issues are written out here as SQL text, run on the DBAPI connection taken from SQLAlchemy's
pool, and nothing else in Kedja does this: the schema, migrations, lists and administration
stay on SQLAlchemy. `tests/` run every statement on SQLite and PostgreSQL.

Statements use `:name` placeholders; for psycopg they are rewritten once to `%(name)s`.
Datetimes are naive UTC; for SQLite they are written in the text form SQLAlchemy uses, so rows
written here and through the ORM compare and sort alike.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from .database import Database


def _integrity_errors() -> tuple[type[BaseException], ...]:
    """The drivers' unique/foreign-key violation classes (a concurrent writer got there
    first), plus SQLAlchemy's wrapper for the statements that go through it."""
    import sqlite3

    from sqlalchemy.exc import IntegrityError

    errors: list[type[BaseException]] = [sqlite3.IntegrityError, IntegrityError]
    try:
        import psycopg

        errors.append(psycopg.IntegrityError)
    except ImportError:  # PostgreSQL support is an optional extra
        pass
    return tuple(errors)


INTEGRITY_ERRORS = _integrity_errors()
_RETURNING_ID = re.compile(r"\s+RETURNING\s+id\s*$", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _without_returning(sql: str) -> str:
    stripped = _RETURNING_ID.sub("", sql)
    if stripped == sql:
        raise ValueError(f"insert_id needs an INSERT ending in RETURNING id, not: {sql[:60]}")
    return stripped


_PLACEHOLDER = re.compile(r"(?<![:\w]):(\w+)")


class Tx:
    """One open transaction on a driver connection."""

    def __init__(self, cursor: Any, sqlite: bool, translate) -> None:  # type: ignore[no-untyped-def]
        self._cur = cursor
        self._sqlite = sqlite
        self._translate = translate

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        if self._sqlite:
            return {
                k: v.isoformat(" ", "microseconds") if isinstance(v, datetime) else v
                for k, v in params.items()
            }
        return params

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        """Run a statement; returns the number of rows it changed."""
        self._cur.execute(self._translate(sql), self._params(params or {}))
        return self._cur.rowcount

    def executemany(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self._cur.executemany(self._translate(sql), [self._params(r) for r in rows])

    def one(self, sql: str, params: dict[str, Any] | None = None) -> tuple | None:
        self._cur.execute(self._translate(sql), self._params(params or {}))
        return self._cur.fetchone()

    def all(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        self._cur.execute(self._translate(sql), self._params(params or {}))
        return self._cur.fetchall()

    def insert_id(self, sql: str, params: dict[str, Any]) -> int:
        """An INSERT ... RETURNING id (SQLite 3.35+ and PostgreSQL both have RETURNING).

        On SQLite the id is the row's rowid (every table here has an INTEGER PRIMARY KEY),
        which the driver hands back without RETURNING's result row to build and fetch."""
        if self._sqlite:
            self._cur.execute(_without_returning(sql), self._params(params))
            return self._cur.lastrowid
        self._cur.execute(self._translate(sql), self._params(params))
        return self._cur.fetchone()[0]

    def in_list(self, name: str, values: Sequence[Any], params: dict[str, Any]) -> str:
        """Placeholders for `IN (...)`, adding the values to `params`."""
        keys = [f"{name}_{i}" for i in range(len(values))]
        params.update(zip(keys, values, strict=True))
        return ", ".join(f":{k}" for k in keys)

    def datetime(self, value: Any) -> datetime | None:
        """A datetime column as read back (SQLite returns the stored text)."""
        if value is None or isinstance(value, datetime):
            return value
        return datetime.fromisoformat(value)


class StepSQL:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._sqlite = db.is_sqlite
        self._cache: dict[str, str] = {}

    def _translate(self, sql: str) -> str:
        if self._sqlite:
            return sql
        text = self._cache.get(sql)
        if text is None:
            text = _PLACEHOLDER.sub(r"%(\1)s", sql.replace("%", "%%"))
            self._cache[sql] = text
        return text

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """BEGIN IMMEDIATE on SQLite (writers queue instead of failing at commit); a plain
        transaction on PostgreSQL. Commits on success, rolls back on any exception."""
        raw, token = self._db.take_driver()
        reusable = False
        try:
            # A cursor per transaction: closing it resets any statement left unfinished, which
            # would otherwise hold a read snapshot open on a connection kept for the next step.
            cursor = raw.cursor()
            try:
                if self._sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield Tx(cursor, self._sqlite, self._translate)
                    raw.commit()
                except BaseException:
                    raw.rollback()
                    raise
                reusable = True
            finally:
                cursor.close()
        finally:
            self._db.give_driver(raw, token, reusable)
