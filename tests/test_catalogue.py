"""The catalogue starts each yearly process once per year, however many workers try."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine.models import ProcessInstance
from processes import catalogue


def _count(city, key: str) -> int:
    with city.engine.db.read() as session:
        return session.scalar(
            select(func.count())
            .select_from(ProcessInstance)
            .where(ProcessInstance.business_key == f"{key}:2026")
        )


def test_start_year_starts_each_yearly_process_once(city):
    first = catalogue.start_year(city.engine, 2026)
    assert set(first) == {"plan_cycle", "guideline_revision", "safety_prize"}
    assert catalogue.start_year(city.engine, 2026) == {}
    data = city.instance(first["plan_cycle"]).data
    assert data["year"] == 2026 and data["t1_report_deadline"].startswith("2026-05-15")


@pytest.mark.postgresql
def test_workers_racing_to_start_the_year_start_it_once(city_pg):
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            catalogue.start_year(city_pg.engine, 2026)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for key in ("plan_cycle", "guideline_revision", "safety_prize"):
        assert _count(city_pg, key) == 1


def test_the_scheduler_starts_the_year_at_once_and_every_night(city):
    from engine.scheduler import TimerScheduler

    scheduler = TimerScheduler(city.engine.timers)
    scheduler.start()
    try:
        catalogue.schedule_yearly_starts(city.engine, scheduler)
        assert _count(city, "plan_cycle") == 1
        jobs = [j for j in scheduler._scheduler.get_jobs() if "cron" in str(j.trigger)]
        assert len(jobs) == 1 and "hour='0'" in str(jobs[0].trigger)
    finally:
        scheduler.stop()
