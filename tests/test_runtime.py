"""Instances: steps, data, lifecycle, messages with correlation, incidents."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import Actor, Conflict, InvalidState, NotFound
from engine.models import HistoryEvent, HumanTask, Incident, ProcessInstance
from tests.diagrams import Diagram, linear

ADMIN = Actor("admin", admin=True)


def _only_task(engine, instance_id):
    (task,) = engine.tasks.list(instance_id=instance_id).items
    return task


def test_instance_runs_to_completion_with_data(engine, deploy):
    deploy(linear("flow", 3, takes=("answer_0", "answer_1", "answer_2")))
    started = engine.runtime.start("flow", {"year": 2026}, ADMIN, business_key="2026")
    for i in range(3):
        task = _only_task(engine, started.instance_id)
        assert task.element_id == f"task_{i + 1}"
        engine.tasks.complete(task.id, {f"answer_{i}": i}, ADMIN)
    info = engine.runtime.get(started.instance_id)
    assert info.state == "completed"
    assert info.business_key == "2026"
    assert info.data == {"year": 2026, "answer_0": 0, "answer_1": 1, "answer_2": 2}
    with engine.db.read() as session:
        kinds = [e["kind"] for e in engine.history.events(session, started.instance_id)]
    assert kinds[0] == "instance.started" and kinds[-1] == "instance.completed"
    assert kinds.count("task.completed") == 3


def test_suspend_resume_terminate(engine, deploy):
    deploy(linear("life", 2))
    iid = engine.runtime.start("life", {}, ADMIN).instance_id
    task = _only_task(engine, iid)
    engine.runtime.suspend(iid, ADMIN, "waiting for the council")
    with pytest.raises(InvalidState, match="suspended"):
        engine.tasks.complete(task.id, {}, ADMIN)
    engine.runtime.resume(iid, ADMIN)
    engine.tasks.complete(task.id, {}, ADMIN)
    engine.runtime.terminate(iid, ADMIN, "replaced by a new cycle")
    info = engine.runtime.get(iid)
    assert info.state == "terminated"
    assert engine.tasks.list(instance_id=iid).items == []
    cancelled = engine.tasks.list(instance_id=iid, state="cancelled").items
    assert [t.element_id for t in cancelled] == ["task_2"]
    with pytest.raises(InvalidState, match="terminated"):
        engine.runtime.resume(iid, ADMIN)


def _prize_diagrams():
    prize = (
        Diagram("prize")
        .start()
        .script("setup", "nominations = []")
        .catch_message("wait_nomination", "nomination", variable="nomination")
        .script("collect", "nominations = nominations + [nomination]")
        .user("screen", "Screen nominations")
        .end()
    )
    prize.correlate("nomination", "year", "year")
    prize.chain("start", "setup", "wait_nomination", "collect", "screen", "end")
    nominator = (
        Diagram("nominate")
        .start()
        .user("write", "Write nomination", takes=("nominee",))
        .throw_message("send", "nomination", payload="{'year': year, 'nominee': nominee}")
        .end()
    )
    nominator.correlate("nomination", "year", "year")
    nominator.chain("start", "write", "send", "end")
    return prize, nominator


def test_message_reaches_the_instance_with_matching_correlation(engine, deploy):
    deploy(*_prize_diagrams())
    p2025 = engine.runtime.start("prize", {"year": 2025}, ADMIN).instance_id
    p2026 = engine.runtime.start("prize", {"year": 2026}, ADMIN).instance_id

    target = engine.runtime.correlate(
        "nomination", {"year": 2026, "nominee": "Fritidsgården"}, {"year": 2026}, ADMIN
    )
    assert target == p2026
    assert _only_task(engine, p2026).element_id == "screen"
    assert engine.tasks.list(instance_id=p2025).items == []
    assert engine.runtime.get(p2026).data["nominations"] == [
        {"year": 2026, "nominee": "Fritidsgården"}
    ]


def test_message_between_instances_goes_through_the_outbox(engine, deploy):
    deploy(*_prize_diagrams())
    prize = engine.runtime.start("prize", {"year": 2026}, ADMIN).instance_id
    sender = engine.runtime.start("nominate", {"year": 2026}, ADMIN).instance_id
    engine.tasks.complete(_only_task(engine, sender).id, {"nominee": "Nattvandrarna"}, ADMIN)
    assert engine.runtime.get(sender).state == "completed"
    assert engine.runtime.get(prize).data["nominations"] == [
        {"year": 2026, "nominee": "Nattvandrarna"}
    ]


def test_ambiguous_or_unmatched_messages_are_refused(engine, deploy):
    deploy(*_prize_diagrams())
    engine.runtime.start("prize", {"year": 2026}, ADMIN)
    engine.runtime.start("prize", {"year": 2026}, ADMIN)
    with pytest.raises(Conflict, match="2 instances"):
        engine.runtime.correlate("nomination", {"year": 2026}, None, ADMIN)
    with pytest.raises(NotFound, match=r"none matches its correlation.*2026"):
        engine.runtime.correlate("nomination", {"year": 1999}, {"year": 1999}, ADMIN)
    with pytest.raises(NotFound, match="No instance is waiting for message 'nothing'"):
        engine.runtime.correlate("nothing", {}, None, ADMIN)


def test_message_start_event_starts_an_instance(engine, deploy):
    intake = Diagram("intake").start(message="incident report").user("assess", "Assess").end()
    intake.chain("start", "assess", "end")
    deploy(intake)
    iid = engine.runtime.correlate("incident report", {"where": "Farsta"}, None, ADMIN)
    assert _only_task(engine, iid).element_id == "assess"


def _failing():
    d = (
        Diagram("fragile")
        .start()
        .user("fill", "Fill in", takes=("total", "parts"))
        .script("compute", "share = total / parts")
        .user("review", "Review")
        .end()
    )
    return d.chain("start", "fill", "compute", "review", "end")


def test_failing_script_keeps_the_completion_and_records_an_incident(engine, deploy):
    deploy(_failing())
    iid = engine.runtime.start("fragile", {}, ADMIN).instance_id
    fill = _only_task(engine, iid)
    outcome = engine.tasks.complete(fill.id, {"total": 10, "parts": 0}, ADMIN)
    assert "ZeroDivisionError" in outcome.incident and "compute" in outcome.incident
    info = engine.runtime.get(iid)
    assert info.state == "running"
    assert [i["element_id"] for i in info.open_incidents] == ["compute"]
    # The person's answers were kept; no later task exists.
    assert info.data["total"] == 10 and info.data["parts"] == 0
    assert engine.tasks.get(fill.id).state == "completed"
    assert engine.tasks.list(instance_id=iid).items == []

    # Retrying without a fix fails again, visibly.
    again = engine.runtime.retry(iid, ADMIN)
    assert again.incident and "ZeroDivisionError" in again.incident
    assert len(engine.runtime.get(iid).open_incidents) == 1


def test_retry_after_the_cause_is_fixed_continues(engine, deploy, monkeypatch):
    deploy(_failing())
    iid = engine.runtime.start("fragile", {}, ADMIN).instance_id
    engine.tasks.complete(_only_task(engine, iid).id, {"total": 10, "parts": 0}, ADMIN)

    # An administrator corrects the data (here through a hook that stands in for the cockpit).
    def fix(ctx):
        for task in ctx.workflow.get_tasks():
            if "parts" in task.data:
                task.data["parts"] = 2

    engine.steps.after_advance.clear()
    original_advance = engine.steps.advance

    def advance_with_fix(ctx):
        fix(ctx)
        original_advance(ctx)

    monkeypatch.setattr(engine.steps, "advance", advance_with_fix)
    outcome = engine.runtime.retry(iid, ADMIN)
    assert outcome.incident is None
    info = engine.runtime.get(iid)
    assert info.open_incidents == [] and info.data["share"] == 5
    assert _only_task(engine, iid).element_id == "review"


def test_start_whose_first_step_fails_keeps_the_instance_with_an_incident(engine, deploy):
    d = Diagram("bad_start").start().script("boom", "x = undefined_name + 1").user("t").end()
    deploy(d.chain("start", "boom", "t", "end"))
    started = engine.runtime.start("bad_start", {"a": 1}, ADMIN)
    assert started.incident and "undefined_name" in started.incident
    info = engine.runtime.get(started.instance_id)
    assert info.state == "running" and info.open_incidents[0]["element_id"] == "boom"


def _snapshot(engine, iid):
    with engine.db.read() as s:
        inst = s.get(ProcessInstance, iid)
        return {
            "version": inst.version,
            "state": inst.workflow_state,
            "seq": inst.history_seq,
            "tasks": sorted(
                (t.id, t.state)
                for t in s.scalars(select(HumanTask).where(HumanTask.instance_id == iid))
            ),
            "events": s.scalar(
                select(func.count())
                .select_from(HistoryEvent)
                .where(HistoryEvent.instance_id == iid)
            ),
        }


def test_exception_injected_mid_step_leaves_the_previous_wait_state(engine, deploy):
    """A crash after the engine ran but before commit: nothing half-written, an incident."""
    deploy(linear("crashy", 2, takes=("x",)))
    iid = engine.runtime.start("crashy", {}, ADMIN).instance_id
    task = _only_task(engine, iid)
    before = _snapshot(engine, iid)

    def crash(ctx):
        raise RuntimeError("disk full (injected)")

    engine.steps.after_advance.append(crash)
    # The continuation crashes, and so does saving the completion alone (the hook runs on
    # every advance; the fallback does not advance, so here we make saving fail too).
    original_finish = engine.steps.finish

    def failing_finish(ctx, **kwargs):
        if ctx.events and any(e.kind == "task.completed" for e in ctx.events):
            raise RuntimeError("disk full (injected)")
        original_finish(ctx, **kwargs)

    engine.steps.finish = failing_finish
    try:
        outcome = engine.tasks.complete(task.id, {"x": 1}, ADMIN)
    finally:
        engine.steps.after_advance.clear()
        engine.steps.finish = original_finish
    assert "disk full" in outcome.incident
    after = _snapshot(engine, iid)
    # Same tasks, same workflow state; only the incident and its history event were added.
    assert after["tasks"] == before["tasks"]
    assert after["state"] == before["state"]
    assert after["events"] == before["events"] + 1
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
    assert engine.tasks.get(task.id).state == "open"
    assert engine.verify_history() == []
    # And the instance is usable again: retry, then complete.
    engine.runtime.retry(iid, ADMIN)
    engine.tasks.complete(task.id, {"x": 1}, ADMIN)
    assert _only_task(engine, iid).element_id == "task_2"


def test_crash_after_advance_keeps_the_persons_completion(engine, deploy):
    deploy(linear("crashy2", 2, takes=("x",)))
    iid = engine.runtime.start("crashy2", {}, ADMIN).instance_id
    task = _only_task(engine, iid)

    def crash(ctx):
        raise RuntimeError("handler crashed (injected)")

    engine.steps.after_advance.append(crash)
    try:
        outcome = engine.tasks.complete(task.id, {"x": 1}, ADMIN)
    finally:
        engine.steps.after_advance.clear()
    assert "handler crashed" in outcome.incident
    assert engine.tasks.get(task.id).state == "completed"
    assert engine.runtime.get(iid).data["x"] == 1
    # Work continues after retry.
    engine.runtime.retry(iid, ADMIN)
    assert _only_task(engine, iid).element_id == "task_2"
