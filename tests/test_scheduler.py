"""APScheduler drives, the database decides: real clock, real scheduler, real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest
from sqlalchemy import func, select

from engine import Actor, Engine
from engine.models import HistoryEvent, Timer
from engine.scheduler import TimerScheduler
from tests.diagrams import Diagram

ADMIN = Actor("admin", admin=True)
NAP = Diagram("nap").start().timer("sleep", "f'PT{seconds}S'").user("woke").end()
NAP.chain("start", "sleep", "woke", "end")


def _deploy(engine, tmp_path):
    folder = tmp_path / "bundle"
    folder.mkdir(exist_ok=True)
    (folder / "nap.bpmn").write_text(NAP.xml())
    engine.repository.deploy([folder], ADMIN)


def _fired(engine):
    with engine.db.read() as s:
        return s.execute(
            select(HistoryEvent.instance_id, HistoryEvent.data, HistoryEvent.seq)
            .where(HistoryEvent.kind == "timer.fired")
            .order_by(HistoryEvent.id)
        ).all()


def _wait_until(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_timers_missed_while_stopped_fire_once_in_due_order_at_start(sqlite_url, tmp_path):
    engine = Engine(sqlite_url)
    _deploy(engine, tmp_path)
    for seconds in range(50, 0, -1):  # created in reverse order of due time
        engine.runtime.start("nap", {"seconds": seconds / 100}, ADMIN)
    time.sleep(0.6)  # all 50 fall due while no scheduler runs
    scheduler = TimerScheduler(engine.timers, sweep_seconds=60)
    scheduler.start()
    try:
        assert _wait_until(lambda: len(_fired(engine)) == 50, 20)
    finally:
        scheduler.stop()
    fired = _fired(engine)
    assert len(fired) == 50 and len({iid for iid, _d, _s in fired}) == 50
    due_times = [datetime.fromisoformat(json.loads(d)["due_at"]) for _i, d, _s in fired]
    assert due_times == sorted(due_times)
    engine.close()


def test_a_new_earlier_timer_gets_its_own_date_job(sqlite_url, tmp_path):
    """The sweep is an hour away: only the date job can fire this on time."""
    engine = Engine(sqlite_url)
    _deploy(engine, tmp_path)
    scheduler = TimerScheduler(engine.timers, sweep_seconds=3600)
    scheduler.start()
    try:
        iid = engine.runtime.start("nap", {"seconds": 0.3}, ADMIN).instance_id
        assert _wait_until(lambda: engine.tasks.list(instance_id=iid).total == 1, 10)
    finally:
        scheduler.stop()
    assert len(_fired(engine)) == 1
    engine.close()


@pytest.mark.postgresql
def test_three_worker_processes_fire_1000_timers_exactly_once(pg_server, tmp_path):
    from tests.conftest import _reset_pg

    _reset_pg(pg_server)
    engine = Engine(pg_server)
    # `kedja worker` runs the whole product: a shared database is upgraded on purpose.
    subprocess.run(
        [sys.executable, "-m", "webui.cli", "db", "upgrade", "--db", pg_server], check=True
    )
    _deploy(engine, tmp_path)
    # 1,000 timers falling due within a few seconds of each other.
    base = 4.0
    for i in range(1000):
        engine.runtime.start("nap", {"seconds": base + (i % 50) / 25}, ADMIN)
    env = {**os.environ, "KEDJA_DATABASE_URL": pg_server}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "webui.cli", "worker", "--sweep", "0.5"],
            env=env,
            cwd=os.getcwd(),
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    try:

        def all_fired():
            with engine.db.read() as s:
                return s.scalar(select(func.count()).select_from(Timer)) == 0

        assert _wait_until(all_fired, 120), "timers were left waiting"
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(30)
    fired = _fired(engine)
    assert len(fired) == 1000
    assert len({iid for iid, _d, _s in fired}) == 1000  # once each
    with engine.db.read() as s:
        woke = s.scalar(
            select(func.count())
            .select_from(HistoryEvent)
            .where(HistoryEvent.kind == "task.created")
        )
    assert woke == 1000
    assert engine.verify_history() == []
    engine.close()
