"""APScheduler drives, the database decides.

`TimerScheduler` runs APScheduler 3's `BackgroundScheduler` with two jobs: a date job at the
earliest due time (so a timer fires on time, not at the next poll) and a periodic sweep (the
safety net: timers another process created, a date job lost to a crash, a clock change). Both
call `Timers.fire_due()`, which decides from the `timer` table what is due and claims each row
in the step that fires it; APScheduler's own job store holds nothing that matters and is not
shared. Any number of schedulers, in any number of processes, may run against one database.

Steps in this process that create or move a timer tell the scheduler (`timers_changed`), so
an earlier timer gets its date job at once; timers created by other processes are found by
the sweep.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from .timers import Timers

log = logging.getLogger(__name__)

NEXT_JOB = "kedja-next-timer"
SWEEP_JOB = "kedja-timer-sweep"


class TimerScheduler:
    def __init__(self, timers: Timers, sweep_seconds: float = 1.0, batch: int = 100) -> None:
        self.timers = timers
        self.sweep_seconds = sweep_seconds
        self.batch = batch
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._lock = threading.Lock()  # one firing round at a time in this process
        self._planned: datetime | None = None

    def start(self) -> None:
        self._scheduler.add_job(
            self.fire,
            "interval",
            seconds=self.sweep_seconds,
            id=SWEEP_JOB,
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.start()
        self.timers.steps.on_timers_changed.append(self.timers_changed)
        self.fire()  # whatever fell due while nothing ran, in due order

    def add_daily(
        self, func: Any, hour: int, minute: int, timezone: Any, *, also_now: bool = False
    ) -> None:
        """Run `func` every day at hour:minute in `timezone` (the governance layer starts
        each year's processes this way). A failure is logged and tried again next day.
        `also_now` runs it once as soon as the scheduler runs too — on its thread, so a
        long first run does not hold up the start of the process that schedules it."""

        def guarded() -> None:
            try:
                func()
            except Exception:
                log.exception("daily job %s failed", getattr(func, "__name__", func))

        first = {"next_run_time": datetime.now(UTC)} if also_now else {}
        self._scheduler.add_job(
            guarded, "cron", hour=hour, minute=minute, timezone=timezone, coalesce=True, **first
        )

    def add_interval(self, func: Any, seconds: float) -> None:
        """Run `func` every `seconds` (the governance layer delivers queued mail this way).
        One run at a time; a failure is logged and tried again at the next interval."""

        def guarded() -> None:
            try:
                func()
            except Exception:
                log.exception("interval job %s failed", getattr(func, "__name__", func))

        self._scheduler.add_job(
            guarded, "interval", seconds=seconds, max_instances=1, coalesce=True
        )

    def stop(self) -> None:
        if self.timers_changed in self.timers.steps.on_timers_changed:
            self.timers.steps.on_timers_changed.remove(self.timers_changed)
        self._scheduler.shutdown(wait=True)

    def fire(self) -> int:
        """Fire everything due now, then plan the date job for the next due time."""
        if not self._lock.acquire(blocking=False):
            return 0  # a round is already running; it plans the next one
        fired = 0
        try:
            while True:
                batch = self.timers.fire_due(limit=self.batch)
                fired += len(batch)
                if len(batch) < self.batch:
                    break
        except Exception:  # keep the scheduler alive; the next round retries
            log.exception("firing timers failed")
        finally:
            self._lock.release()
        self._plan(self.timers.next_due())
        return fired

    def timers_changed(self, earliest: datetime | None) -> None:
        """A step in this process created or moved a timer due at `earliest`."""
        if earliest is not None and (self._planned is None or earliest < self._planned):
            self._plan(earliest)

    def _plan(self, due: datetime | None) -> None:
        self._planned = due
        if due is None or not self._scheduler.running:
            return
        self._scheduler.add_job(
            self.fire,
            "date",
            run_date=due,
            id=NEXT_JOB,
            replace_existing=True,
            misfire_grace_time=None,
        )
