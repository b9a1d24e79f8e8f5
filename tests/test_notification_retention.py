"""Notification retention: finished notifications are deleted when no longer needed.

Sent rows older than the retention go, recent ones and every queued row stay, failed and
skipped rows have their own (longer) period, a dry run deletes nothing, two pruners at once
delete each row once, and `kedja worker` prunes at start and every night. Real databases
(SQLite and PostgreSQL through the demo city of tests/city.py), the real `kedja` command.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine import ValidationError
from engine.clock import to_storage
from engine.scheduler import TimerScheduler
from processes.governance import open_engine
from processes.models import Notification
from processes.notification_retention import RetentionSettings, prune, schedule_retention
from tests.city import City
from webui import cli

DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> City:
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


def add(
    engine: Any,
    state: str,
    queued: datetime,
    sent: datetime | None = None,
    *,
    email: str = "anna.andersson@stad.example",
) -> int:
    """A notification row as delivery leaves it, queued and (if sent) sent at these times."""
    with engine.db.write() as session:
        row = Notification(
            created_at=to_storage(queued),
            recipient=None,
            email=email,
            kind="process",
            subject="Påminnelse: tertialrapport T1 2026",
            message="Hej Anna Andersson, rapporten ska vara inne den 15 maj.",
            state=state,
            attempts=1 if state != "queued" else 0,
            sent_at=to_storage(sent) if sent is not None else None,
        )
        session.add(row)
        session.flush()
        return row.id


def ids_left(engine: Any) -> set[int]:
    with engine.db.read() as session:
        return set(session.scalars(select(Notification.id)))


def old_and_new(city: City) -> tuple[set[int], set[int]]:
    """Rows on both sides of the default retention (90 days sent, 180 failed/skipped):
    those that must go, and those that must stay."""
    now, e = city.clock.now(), city.engine
    go = {
        add(e, "sent", now - 95 * DAY, now - 91 * DAY),
        add(e, "sent", now - 400 * DAY, now - 400 * DAY),
        add(e, "failed", now - 181 * DAY),
        add(e, "skipped", now - 200 * DAY),
    }
    stay = {
        add(e, "sent", now - 89 * DAY, now - 89 * DAY),
        # Queued long ago, sent recently: aged by when it was sent.
        add(e, "sent", now - 100 * DAY, now - 10 * DAY),
        add(e, "failed", now - 179 * DAY),
        add(e, "skipped", now - 100 * DAY),
        # Never sent, however old: deleting it would lose a mail.
        add(e, "queued", now - 1000 * DAY),
        add(e, "queued", now - DAY),
    }
    return go, stay


# -- what goes and what stays -----------------------------------------------------------------


def test_old_finished_notifications_go_recent_and_queued_ones_stay(any_city: City) -> None:
    city = any_city
    go, stay = old_and_new(city)
    result = prune(city.engine, RetentionSettings())
    assert ids_left(city.engine) == stay
    assert result.dry_run is False and result.total == len(go)
    assert {c.state: (c.older_than_days, c.count) for c in result.cuts} == {
        "sent": (90, 2),
        "failed": (180, 1),
        "skipped": (180, 1),
    }
    [sent] = [c for c in result.cuts if c.state == "sent"]
    assert sent.before == city.clock.now() - 90 * DAY
    # Again: nothing left to delete.
    assert prune(city.engine, RetentionSettings()).total == 0
    assert ids_left(city.engine) == stay


def test_a_dry_run_counts_and_deletes_nothing(any_city: City) -> None:
    city = any_city
    go, stay = old_and_new(city)
    result = prune(city.engine, RetentionSettings(), dry_run=True)
    assert result.dry_run is True and result.total == len(go)
    assert ids_left(city.engine) == go | stay


def test_the_retention_is_configurable_per_state(any_city: City) -> None:
    city = any_city
    now = city.clock.now()
    add(city.engine, "sent", now - 8 * DAY, now - 8 * DAY)
    week_old_failed = add(city.engine, "failed", now - 8 * DAY)
    prune(city.engine, RetentionSettings(sent_days=7, failed_days=30))
    assert ids_left(city.engine) == {week_old_failed}
    prune(city.engine, RetentionSettings.uniform(7))
    assert ids_left(city.engine) == set()
    with pytest.raises(ValidationError):
        RetentionSettings.uniform(0)


def test_many_rows_go_in_batches_and_two_pruners_at_once_delete_each_row_once(
    any_city: City,
) -> None:
    city = any_city
    long_ago = city.clock.now() - 365 * DAY
    with city.engine.db.write() as session:
        session.add_all(
            Notification(
                created_at=to_storage(long_ago),
                email=f"person{i}@stad.example",
                kind="process",
                subject="Gammal",
                message="",
                state="sent",
                attempts=1,
                sent_at=to_storage(long_ago),
            )
            for i in range(1200)
        )
    keep = add(city.engine, "queued", long_ago)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(prune(city.engine, RetentionSettings(), batch=50).total)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(results) == 1200  # each row deleted by exactly one of them
    assert ids_left(city.engine) == {keep}


# -- configuration ------------------------------------------------------------------------------


def test_settings_come_from_the_environment() -> None:
    assert RetentionSettings.from_env({}) == RetentionSettings(90, 180)
    assert RetentionSettings.from_env(
        {
            "KEDJA_NOTIFICATION_RETENTION_DAYS": " 30 ",
            "KEDJA_NOTIFICATION_FAILED_RETENTION_DAYS": "365",
        }
    ) == RetentionSettings(30, 365)
    assert RetentionSettings.from_env({"KEDJA_NOTIFICATION_RETENTION_DAYS": ""}).sent_days == 90


@pytest.mark.parametrize("value", ["0", "-5", "tre", "1.5", "36501"])
@pytest.mark.parametrize(
    "name", ["KEDJA_NOTIFICATION_RETENTION_DAYS", "KEDJA_NOTIFICATION_FAILED_RETENTION_DAYS"]
)
def test_a_bad_retention_is_a_clear_error(name: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RetentionSettings.from_env({name: value})
    message = str(caught.value)
    assert name in message and repr(value) in message and "whole number of days" in message


# -- running it: the scheduler, the worker and the command ---------------------------------------


def test_the_scheduler_prunes_at_start_and_every_night(city: City) -> None:
    _, stay = old_and_new(city)
    scheduler = TimerScheduler(city.engine.timers)
    settings = schedule_retention(city.engine, scheduler, RetentionSettings())
    assert settings == RetentionSettings()
    [job] = scheduler._scheduler.get_jobs()
    assert str(job.trigger) == "cron[hour='3', minute='30']"
    assert str(job.trigger.timezone) == "Europe/Stockholm"
    scheduler.start()  # the first prune runs on the scheduler's thread, not in the caller
    try:
        deadline = time.monotonic() + 30
        while ids_left(city.engine) != stay and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert ids_left(city.engine) == stay


def test_the_worker_refuses_to_start_with_a_bad_retention(city: City, monkeypatch) -> None:
    go, stay = old_and_new(city)
    monkeypatch.setenv("KEDJA_NOTIFICATION_RETENTION_DAYS", "0")
    result = CliRunner().invoke(cli.main, ["worker", "--db", city.engine.db.url])
    assert result.exit_code == 3
    assert "KEDJA_NOTIFICATION_RETENTION_DAYS must be a whole number" in result.stderr
    assert ids_left(city.engine) == go | stay  # it did not start, so it pruned nothing


def test_the_worker_prunes_when_it_starts(tmp_path) -> None:
    """A real `kedja worker` process, on the real clock."""
    url = f"sqlite:///{tmp_path / 'kedja.sqlite'}"
    engine = open_engine(url)
    now = datetime.now(UTC)
    old = add(engine, "sent", now - 100 * DAY, now - 100 * DAY)
    recent = add(engine, "sent", now - 3 * DAY, now - 3 * DAY)
    env = {**os.environ, "KEDJA_DATABASE_URL": url, "KEDJA_NOTIFICATION_RETENTION_DAYS": "30"}
    env.pop("KEDJA_SMTP_HOST", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "webui.cli", "worker", "--sweep", "5"],
        env=env,
        cwd=os.getcwd(),
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while old in ids_left(engine) and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=30)
    assert ids_left(engine) == {recent}, stderr.decode(errors="replace")
    engine.close()


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli.main, ["notifications", "prune", *args])


def test_the_prune_command(any_city: City, monkeypatch) -> None:
    city = any_city
    url = city.engine.db.url
    go, stay = old_and_new(city)
    # The command runs on the real clock; the city's is at 2026-01-01. Age the rows by the
    # difference so they stand as old, relative to now, as they do in the city.
    shift = datetime.now(UTC) - city.clock.now()
    with city.engine.db.write() as session:
        for row in session.scalars(select(Notification)):
            row.created_at += shift
            if row.sent_at is not None:
                row.sent_at += shift

    dry = run_cli("--db", url, "--json", "--dry-run")
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True and report["total"] == len(go)
    assert {s: v["count"] for s, v in report["states"].items()} == {
        "sent": 2,
        "failed": 1,
        "skipped": 1,
    }
    assert report["states"]["sent"]["older_than_days"] == 90
    datetime.fromisoformat(report["states"]["sent"]["before"])
    assert ids_left(city.engine) == go | stay

    human = run_cli("--db", url, "--dry-run")
    assert human.exit_code == 0 and "sent     would delete 2 older than 90 days" in human.stdout
    assert "nothing was deleted" in human.stderr

    monkeypatch.setenv("KEDJA_NOTIFICATION_RETENTION_DAYS", "nittio")
    bad = run_cli("--db", url)
    assert bad.exit_code == 3 and "KEDJA_NOTIFICATION_RETENTION_DAYS" in bad.stderr
    assert ids_left(city.engine) == go | stay
    monkeypatch.delenv("KEDJA_NOTIFICATION_RETENTION_DAYS")

    done = run_cli("--db", url, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["total"] == len(go)
    assert ids_left(city.engine) == stay

    # --older-than-days: one period for every finished state; queued rows still stay.
    everything = run_cli("--db", url, "--json", "--older-than-days", "1")
    assert everything.exit_code == 0, everything.output
    report = json.loads(everything.stdout)
    assert {v["older_than_days"] for v in report["states"].values()} == {1}
    with city.engine.db.read() as session:
        states = session.execute(
            select(Notification.state, func.count()).group_by(Notification.state)
        ).all()
    assert dict(states) == {"queued": 2}

    refused = run_cli("--db", url, "--older-than-days", "0")
    assert refused.exit_code == 2 and "--older-than-days" in refused.stderr
