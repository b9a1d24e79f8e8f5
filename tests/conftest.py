"""Fixtures that build real databases: a SQLite file per test, and a PostgreSQL database per
test run (required when CI=true, skipped with a reason otherwise)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from engine import Engine, SimulatedClock

PG_ADMIN_URL = os.environ.get(
    "KEDJA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def shared_dir() -> Path:
    """`shared/` beside the repository (third-party corpora are read from there).

    `KEDJA_SHARED` wins; else `../shared`; else, for a scratch clone of a local checkout
    (`git clone . /tmp/fresh`), `shared/` beside the checkout it was cloned from.
    """
    if os.environ.get("KEDJA_SHARED"):
        return Path(os.environ["KEDJA_SHARED"])
    repo = Path(__file__).resolve().parents[1]
    beside = repo.parent / "shared"
    if beside.is_dir():
        return beside
    import subprocess

    origin = subprocess.run(
        ["git", "-C", str(repo), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        candidate = Path(origin).resolve().parent / "shared"
        if candidate.is_dir():
            return candidate
    return beside


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # the reason goes into the skip message
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test run; yields its URL."""
    problem = _pg_available()
    if problem is not None:
        if IN_CI:
            pytest.fail(
                f"PostgreSQL is required in CI but not reachable at {PG_ADMIN_URL}: {problem}"
            )
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL} ({problem})")
    with pg_database("kedja_test") as url:
        yield url


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for the duration; dropped afterwards (connections
    still open to it are ended first)."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _reset_pg(url: str) -> None:
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def db_url(request, tmp_path) -> Iterator[str]:
    """Each engine test runs on a fresh SQLite file and on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kedja.sqlite'}"
    else:
        url = request.getfixturevalue("pg_server")
        _reset_pg(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'kedja.sqlite'}"


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))


@pytest.fixture
def engine(db_url, clock) -> Iterator[Engine]:
    eng = Engine(db_url, clock)
    yield eng
    eng.close()


@pytest.fixture
def deploy(engine, tmp_path):
    """deploy(diagram_or_files...) -> list of DeployedProcess, writing files to a temp dir."""
    from engine.actors import Actor
    from tests.diagrams import Diagram

    counter = {"n": 0}

    def _deploy(*items, **files):
        counter["n"] += 1
        folder = tmp_path / f"bundle{counter['n']}"
        folder.mkdir()
        for item in items:
            assert isinstance(item, Diagram)
            item.write(folder)
        for name, content in files.items():
            (folder / name.replace("__", ".")).write_text(content, encoding="utf-8")
        return engine.repository.deploy([folder], Actor("owner", admin=True))

    return _deploy


@pytest.fixture
def city(sqlite_url) -> Iterator[Any]:
    """The small demo city of tests/city.py on a fresh SQLite database."""
    from tests.city import City

    c = City(sqlite_url)
    yield c
    c.close()


@pytest.fixture
def city_pg(pg_server) -> Iterator[Any]:
    """The same city on a fresh PostgreSQL schema (required in CI)."""
    from tests.city import City

    _reset_pg(pg_server)
    c = City(pg_server)
    yield c
    c.close()


# -- the MIWG table at the end of the run -----------------------------------------------------

MIWG_PROPERTY = "miwg_outcome"
_miwg_outcomes: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect what tests/test_bundle_loading.py noted about each MIWG model (reports reach
    this hook in the main process, whether or not the tests ran in workers)."""
    for name, value in report.user_properties:
        if name == MIWG_PROPERTY:
            model, outcome = value
            _miwg_outcomes[model] = outcome


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _miwg_outcomes:
        return
    terminalreporter.section("MIWG reference models: deploy or rejection reason", sep="-")
    for model, outcome in sorted(_miwg_outcomes.items()):
        terminalreporter.write_line(f"{model:12} {outcome}")
