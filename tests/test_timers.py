"""Timers with a simulated clock: rows follow the workflow, firing is exact and once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from engine import Actor
from engine.models import HistoryEvent, Timer
from tests.diagrams import Diagram

ADMIN = Actor("admin", admin=True)
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _waiting(engine):
    with engine.db.read() as s:
        return s.scalars(select(Timer).order_by(Timer.due_at, Timer.id)).all()


def _fired_events(engine):
    with engine.db.read() as s:
        return s.scalar(
            select(func.count()).select_from(HistoryEvent).where(HistoryEvent.kind == "timer.fired")
        )


def test_intermediate_timer_fires_at_its_time_and_not_before(engine, deploy, clock):
    d = Diagram("wait").start().timer("pause", '"PT1H"').user("after", "After").end()
    deploy(d.chain("start", "pause", "after", "end"))
    iid = engine.runtime.start("wait", {}, ADMIN).instance_id
    (row,) = _waiting(engine)
    assert row.element_id == "pause" and row.kind == "timeDuration"
    assert row.due_at == (T0 + timedelta(hours=1)).replace(tzinfo=None)

    clock.set(T0 + timedelta(minutes=59, seconds=59))
    assert engine.timers.fire_due() == []
    assert engine.tasks.list(instance_id=iid).items == []

    clock.set(T0 + timedelta(hours=1))  # exactly due
    (fired,) = engine.timers.fire_due()
    assert fired.element_id == "pause" and fired.due_at == T0 + timedelta(hours=1)
    assert [t.element_id for t in engine.tasks.list(instance_id=iid).items] == ["after"]
    assert _waiting(engine) == []
    assert engine.timers.fire_due() == []  # once
    assert _fired_events(engine) == 1
    assert engine.verify_history() == []


def test_non_interrupting_reminder_and_interrupting_escalation(engine, deploy, clock):
    d = (
        Diagram("report")
        .start()
        .user("write", "Write the report")
        .boundary_timer("remind", "write", '"P10D"', interrupting=False)
        .user("reminded", "Reminder sent")
        .boundary_timer("escalate", "write", '"P14D"')
        .user("escalated", "Escalated to the head")
        .end("done")
        .end("end_reminded")
        .end("end_escalated")
    )
    d.chain("start", "write", "done").chain("remind", "reminded", "end_reminded")
    d.chain("escalate", "escalated", "end_escalated")
    deploy(d)
    iid = engine.runtime.start("report", {}, ADMIN).instance_id
    assert sorted(t.element_id for t in _waiting(engine)) == ["escalate", "remind"]

    clock.set(T0 + timedelta(days=10) - timedelta(microseconds=1))
    assert engine.timers.fire_due() == []  # not a moment before
    clock.set(T0 + timedelta(days=10))
    (fired,) = engine.timers.fire_due()
    assert fired.element_id == "remind"
    open_now = sorted(t.element_id for t in engine.tasks.list(instance_id=iid).items)
    assert open_now == ["reminded", "write"]  # the report task is still open
    assert [t.element_id for t in _waiting(engine)] == ["escalate"]

    clock.set(T0 + timedelta(days=14))
    (fired,) = engine.timers.fire_due()
    assert fired.element_id == "escalate"
    open_now = sorted(t.element_id for t in engine.tasks.list(instance_id=iid).items)
    assert open_now == ["escalated", "reminded"]
    cancelled = engine.tasks.list(instance_id=iid, state="cancelled").items
    assert [t.element_id for t in cancelled] == ["write"]
    assert _waiting(engine) == []


def test_completing_the_guarded_task_removes_its_timers(engine, deploy, clock):
    d = (
        Diagram("guarded")
        .start()
        .user("write", "Write")
        .boundary_timer("escalate", "write", '"P14D"')
        .user("escalated")
        .end()
        .end("end_escalated")
    )
    d.chain("start", "write", "end").chain("escalate", "escalated", "end_escalated")
    deploy(d)
    iid = engine.runtime.start("guarded", {}, ADMIN).instance_id
    assert len(_waiting(engine)) == 1
    (task,) = engine.tasks.list(instance_id=iid).items
    engine.tasks.complete(task.id, {}, ADMIN)
    assert _waiting(engine) == []
    clock.set(T0 + timedelta(days=30))
    assert engine.timers.fire_due() == []


def test_timers_that_fell_due_while_nothing_ran_fire_once_each_in_due_order(engine, deploy, clock):
    d = Diagram("nap").start().timer("sleep", "f'PT{minutes}M'").user("woke").end()
    deploy(d.chain("start", "sleep", "woke", "end"))
    order = list(range(50, 0, -1))  # started in reverse order of their due times
    for minutes in order:
        engine.runtime.start("nap", {"minutes": minutes}, ADMIN)
    assert len(_waiting(engine)) == 50
    assert engine.timers.next_due() == T0 + timedelta(minutes=1)

    clock.set(T0 + timedelta(hours=2))  # nothing ran for two hours
    fired = engine.timers.fire_due()
    assert [f.due_at for f in fired] == sorted(f.due_at for f in fired)
    assert len(fired) == 50 and len({f.instance_id for f in fired}) == 50
    assert engine.timers.fire_due() == []
    assert _fired_events(engine) == 50
    assert engine.tasks.list(limit=100).total == 50


def test_timer_expressions_use_the_engine_clock(engine, deploy, clock):
    """A duration counts from the simulated now, not the machine's."""
    clock.set(datetime(2030, 6, 1, 12, 0, tzinfo=UTC))
    d = Diagram("later").start().timer("wait", '"P1D"').user("t").end()
    deploy(d.chain("start", "wait", "t", "end"))
    engine.runtime.start("later", {}, ADMIN)
    (row,) = _waiting(engine)
    assert row.due_at == datetime(2030, 6, 2, 12, 0)


def test_two_engines_firing_at_once_fire_each_timer_once(db_url, tmp_path, clock):
    """Two processes' worth of engines race over the same due timers."""
    import threading

    from engine import Engine

    engines = [Engine(db_url, clock), Engine(db_url, clock)]
    d = Diagram("race").start().timer("sleep", "f'PT{minutes}M'").user("woke").end()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "race.bpmn").write_text(d.chain("start", "sleep", "woke", "end").xml())
    engines[0].repository.deploy([tmp_path / "b"], ADMIN)
    for minutes in range(1, 31):
        engines[0].runtime.start("race", {"minutes": minutes}, ADMIN)
    clock.set(T0 + timedelta(hours=1))
    results: list[list] = [[], []]

    def fire(i):
        results[i] = engines[i].timers.fire_due()

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    fired_ids = [f.timer_id for r in results for f in r]
    assert len(fired_ids) == 30 and len(set(fired_ids)) == 30
    assert _fired_events(engines[0]) == 30
    assert engines[0].tasks.list(limit=100).total == 30
    for eng in engines:
        eng.close()


def test_a_failing_firing_is_retried_with_back_off_then_becomes_an_incident(engine, deploy, clock):
    d = (
        Diagram("brittle")
        .start()
        .timer("wait", '"PT1H"')
        .script("compute", "share = total / parts")
        .user("t")
        .end()
    )
    deploy(d.chain("start", "wait", "compute", "t", "end"))
    iid = engine.runtime.start("brittle", {"total": 1, "parts": 0}, ADMIN).instance_id
    due = T0 + timedelta(hours=1)
    delays = [
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=8),
        timedelta(minutes=30),
    ]
    when = due
    for attempt, delay in enumerate(delays, start=1):
        clock.set(when)
        (fired,) = engine.timers.fire_due()
        assert fired.retried and "ZeroDivisionError" in fired.incident
        (row,) = _waiting(engine)
        assert row.attempts == attempt and "ZeroDivisionError" in row.last_error
        when = when + delay
        assert row.due_at == when.replace(tzinfo=None)
        assert engine.runtime.get(iid).open_incidents == []  # nothing kept yet
        clock.set(when - timedelta(seconds=1))
        assert engine.timers.fire_due() == []  # not before the back-off
    clock.set(when)
    (fired,) = engine.timers.fire_due()
    assert not fired.retried and "ZeroDivisionError" in fired.incident
    assert [i["element_id"] for i in engine.runtime.get(iid).open_incidents] == ["compute"]
    assert _waiting(engine) == []  # the timer fired; the script waits for a retry
    assert _fired_events(engine) == 1


def _instances(engine):
    from engine.models import ProcessInstance

    with engine.db.read() as s:
        return s.scalars(select(ProcessInstance).order_by(ProcessInstance.id)).all()


def test_a_timer_start_event_starts_one_instance_at_its_time(engine, deploy, clock):
    d = (
        Diagram("yearly")
        .start(timer='"2026-03-01T08:00:00+01:00"')
        .user("open_cycle", "Open the year's cycle")
        .end()
    )
    deploy(d.chain("start", "open_cycle", "end"))
    (row,) = _waiting(engine)
    assert row.instance_id is None and row.definition_key == "yearly"
    assert row.due_at == datetime(2026, 3, 1, 7, 0)
    clock.set(datetime(2026, 3, 1, 6, 59, 59, tzinfo=UTC))
    assert engine.timers.fire_due() == []
    clock.set(datetime(2026, 3, 1, 7, 0, tzinfo=UTC))
    (fired,) = engine.timers.fire_due()
    (instance,) = _instances(engine)
    assert fired.instance_id == instance.id
    assert [t.element_id for t in engine.tasks.list(instance_id=instance.id).items] == [
        "open_cycle"
    ]
    assert _waiting(engine) == []
    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    assert engine.timers.fire_due() == []


def test_a_cycle_starts_one_instance_per_occurrence(engine, deploy, clock):
    d = (
        Diagram("daily")
        .start(timer='"R3/2026-01-06T08:00:00+01:00/P1D"', kind="timeCycle")
        .user("check", "Daily check")
        .end()
    )
    deploy(d.chain("start", "check", "end"))
    clock.set(datetime(2026, 1, 10, tzinfo=UTC))  # all three occurrences have passed
    for _ in range(5):
        engine.timers.fire_due()
    instances = _instances(engine)
    assert len(instances) == 3
    for instance in instances:  # one path each: never several starts in one instance
        assert [t.element_id for t in engine.tasks.list(instance_id=instance.id).items] == ["check"]
    assert _waiting(engine) == []
    assert _fired_events(engine) == 3


def test_the_newest_version_owns_the_start_timer(engine, deploy, clock):
    first = Diagram("owned").start(timer='"2026-06-01T08:00:00+02:00"').user("a").end()
    deploy(first.chain("start", "a", "end"))
    second = Diagram("owned").start(timer='"2026-07-01T08:00:00+02:00"').user("b").end()
    deploy(second.chain("start", "b", "end"))
    (row,) = _waiting(engine)
    assert row.due_at == datetime(2026, 7, 1, 6, 0)
    clock.set(datetime(2026, 7, 1, 6, 0, tzinfo=UTC))
    (fired,) = engine.timers.fire_due()
    assert engine.runtime.get(fired.instance_id).version == 2


def test_a_start_timer_that_cannot_be_evaluated_fails_the_deploy(engine, deploy):
    import pytest

    from engine import ValidationError

    d = Diagram("bad").start(timer="year_start").user("a").end()
    with pytest.raises(ValidationError, match="start timer of 'bad'"):
        deploy(d.chain("start", "a", "end"))
    assert engine.repository.definitions() == []
