"""How late do timers fire? 1,000 waiting timers due over a minute, real clock.

1,000 instances each wait on a timer; their due times are spread evenly over the next
minute. A `TimerScheduler` (APScheduler date job at the earliest due time + a 1 s sweep) fires
them. Lateness = when the firing step ran (its history event) - the timer's due time.

    .venv/bin/python bench/timer_precision.py [--timers 1000] [--spread 60] [--db URL]

Targets (issue 3): median <= 0.5 s, p99 <= 2 s. Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from engine import Actor, Engine
from engine.bundle import Bundle
from engine.models import HistoryEvent, Timer
from engine.scheduler import TimerScheduler
from tests.diagrams import Diagram


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timers", type=int, default=1000)
    ap.add_argument("--spread", type=float, default=60.0, help="seconds over which they fall due")
    ap.add_argument("--lead", type=float, default=20.0, help="seconds before the first is due")
    ap.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'precision.sqlite'}"
        engine = Engine(url)
        actor = Actor("bench", admin=True)
        d = Diagram("alarm").start().timer("ring", "at", kind="timeDate").user("woke").end()
        engine.repository.deploy(
            Bundle.from_files(
                {"alarm.bpmn": d.chain("start", "ring", "woke", "end").xml().encode()}
            ),
            actor,
        )
        first = datetime.now(UTC) + timedelta(seconds=args.lead)
        t0 = time.perf_counter()
        for i in range(args.timers):
            due = first + timedelta(seconds=args.spread * i / args.timers)
            engine.runtime.start("alarm", {"at": due.isoformat()}, actor)
        setup = time.perf_counter() - t0
        if datetime.now(UTC) > first:
            print(f"setup took {setup:.1f} s, longer than --lead; raise --lead")
        scheduler = TimerScheduler(engine.timers, sweep_seconds=1.0)
        scheduler.start()
        try:
            deadline = time.monotonic() + args.lead + args.spread + 60
            while time.monotonic() < deadline:
                with engine.db.read() as s:
                    if s.scalar(select(func.count()).select_from(Timer)) == 0:
                        break
                time.sleep(0.5)
        finally:
            scheduler.stop()
        with engine.db.read() as s:
            rows = s.execute(
                select(HistoryEvent.at, HistoryEvent.data).where(HistoryEvent.kind == "timer.fired")
            ).all()
        engine.close()
    late = sorted(
        (
            at.replace(tzinfo=UTC) - datetime.fromisoformat(json.loads(data)["due_at"])
        ).total_seconds()
        for at, data in rows
    )
    p99 = late[max(0, int(len(late) * 0.99) - 1)]
    print(
        f"{len(late)} of {args.timers} timers fired ({args.spread:.0f} s spread, "
        f"setup {setup:.1f} s)"
    )
    print(
        f"lateness: median {statistics.median(late):.3f} s, p99 {p99:.3f} s, "
        f"max {late[-1]:.3f} s; targets: median <= 0.5 s, p99 <= 2 s"
    )


if __name__ == "__main__":
    main()
