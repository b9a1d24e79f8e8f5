"""Backups of a Kedja database and restoring them into an empty one.

SQLite: SQLite's online backup API copies a consistent snapshot while the service runs
(writers wait a moment, readers not at all). PostgreSQL: `pg_dump` in its custom format and
`pg_restore`, which are what a PostgreSQL operator already trusts; the command-line tools must
be installed (Debian: postgresql-client). A backup restores into the same kind of database;
moving between SQLite and PostgreSQL is not a backup's job.

Restore refuses a database that already has tables: a restore never merges into or
overwrites a live database by accident.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from .database import Database
from .errors import InvalidState, KedjaError


def _libpq_url(db: Database) -> str:
    """The URL as `pg_dump` and `pg_restore` take it (no SQLAlchemy driver suffix)."""
    url = make_url(db.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise KedjaError(
            f"{name} is not installed; install the PostgreSQL client tools "
            "(Debian: apt-get install postgresql-client) and try again."
        )
    return path


def backup(db: Database, target: Path) -> Path:
    """Write a consistent copy of the database to `target` (which must not exist)."""
    if target.exists():
        raise InvalidState(f"{target} already exists; choose a new file for the backup.")
    target.parent.mkdir(parents=True, exist_ok=True)
    if db.is_sqlite:
        source = make_url(db.url).database
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        dst.close()
        return target
    result = subprocess.run(  # noqa: S603 — fixed arguments, no shell
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), _libpq_url(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        raise KedjaError(f"pg_dump failed: {result.stderr.strip()}")
    return target


def restore(db: Database, source: Path) -> None:
    """Restore a backup made by `backup` into this database, which must be empty."""
    if not source.is_file():
        raise InvalidState(f"{source} is not a backup file.")
    tables = inspect(db.write_engine).get_table_names()
    if tables:
        raise InvalidState(
            f"{db.safe_url()} is not empty ({len(tables)} tables); restore into a new, empty "
            "database and point KEDJA_DATABASE_URL at it."
        )
    if db.is_sqlite:
        db.dispose()  # nothing may hold the target open while it is replaced
        target = make_url(db.url).database
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise InvalidState(f"{source} is damaged (SQLite integrity check failed).")
            src.backup(dst)
        return
    result = subprocess.run(  # noqa: S603 — fixed arguments, no shell
        [
            _tool("pg_restore"),
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            _libpq_url(db),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise KedjaError(f"pg_restore failed: {result.stderr.strip()}")
