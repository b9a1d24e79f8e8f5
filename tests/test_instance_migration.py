"""Moving running instances to a newer version: possible when every element the instance
stands on still exists, refused with the exact reason when not, recorded in the history."""

from __future__ import annotations

import pytest

from engine import Actor
from engine.errors import InvalidState
from tests.diagrams import Diagram, linear

ADMIN = Actor("admin", admin=True)


def _without_first_task() -> Diagram:
    d = Diagram("granskning").start()
    d.user("task_2", "Task 2").user("task_3", "Task 3").end()
    return d.chain("start", "task_2", "task_3", "end")


def _without_second_task() -> Diagram:
    d = Diagram("granskning").start()
    d.user("task_1", "Task 1").user("task_3", "Task 3").end()
    return d.chain("start", "task_1", "task_3", "end")


def _open_task(engine, iid):
    (task,) = engine.tasks.list(instance_id=iid).items
    return task


def test_an_instance_moves_when_its_elements_still_exist(engine, deploy):
    deploy(linear("granskning", 2))
    iid = engine.runtime.start("granskning", {"organisation": "farsta"}, ADMIN).instance_id
    first = _open_task(engine, iid)
    engine.tasks.claim(first.id, ADMIN)
    deploy(linear("granskning", 3))  # version 2 adds a third task at the end

    check = engine.runtime.check_migration(iid)
    assert check.possible and (check.from_version, check.to_version) == (1, 2)
    engine.runtime.migrate(iid, ADMIN, reason="Ny granskningsrunda enligt beslut")

    assert engine.runtime.get(iid).version == 2
    task = _open_task(engine, iid)
    assert (task.id, task.assignee, task.definition_version) == (first.id, "admin", 2)
    for _ in range(3):  # the instance runs on: task_1, task_2, and version 2's task_3
        engine.tasks.complete(_open_task(engine, iid).id, {}, ADMIN)
    assert engine.runtime.get(iid).state == "completed"
    with engine.db.read() as session:
        events = engine.history.events(session, iid)
    (moved,) = [e for e in events if e["kind"] == "instance.migrated"]
    assert moved["data"] == {
        "from_version": 1,
        "to_version": 2,
        "reason": "Ny granskningsrunda enligt beslut",
    }
    assert engine.verify_history() == []


def test_an_instance_whose_active_element_is_gone_is_refused_with_the_reason(engine, deploy):
    deploy(linear("granskning", 2))
    iid = engine.runtime.start("granskning", {}, ADMIN).instance_id
    deploy(_without_first_task())
    check = engine.runtime.check_migration(iid)
    assert not check.possible
    assert any("'task_1'" in p and "active" in p for p in check.problems), check.problems
    with pytest.raises(InvalidState, match="task_1"):
        engine.runtime.migrate(iid, ADMIN)
    assert engine.runtime.get(iid).version == 1  # nothing changed
    engine.tasks.complete(_open_task(engine, iid).id, {}, ADMIN)  # and it still runs


def test_a_finished_instance_or_one_on_the_target_version_does_not_move(engine, deploy):
    deploy(linear("granskning", 1))
    iid = engine.runtime.start("granskning", {}, ADMIN).instance_id
    assert engine.runtime.check_migration(iid).problems == [
        "the instance already runs on version 1"
    ]
    engine.tasks.complete(_open_task(engine, iid).id, {}, ADMIN)
    deploy(linear("granskning", 2))
    assert "completed" in engine.runtime.check_migration(iid).problems[0]


def test_moving_every_instance_moves_those_that_can_and_says_why_the_others_cannot(engine, deploy):
    deploy(linear("granskning", 2))
    at_first = engine.runtime.start("granskning", {}, ADMIN).instance_id
    at_second = engine.runtime.start("granskning", {}, ADMIN).instance_id
    engine.tasks.complete(_open_task(engine, at_second).id, {}, ADMIN)
    deploy(_without_second_task())  # task_2 is gone in version 2, task_3 is new
    moved, refused = engine.runtime.migrate_all("granskning", ADMIN, reason="Ny version")
    assert [m.instance_id for m in moved] == [at_first]  # task_2 lay ahead of it
    assert [r.instance_id for r in refused] == [at_second]  # it stands on task_2
    assert any("'task_2'" in p and "does not exist" in p for p in refused[0].problems)
    assert engine.runtime.get(at_first).version == 2
    assert engine.runtime.get(at_second).version == 1
    engine.tasks.complete(_open_task(engine, at_first).id, {}, ADMIN)
    assert _open_task(engine, at_first).element_id == "task_3"  # version 2's path
