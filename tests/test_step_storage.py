"""What a step writes, written faster: the same text, the same rows, the same guarantees.

The step's hot path writes the instance state with its own JSON writer, decides completion
without walking the tree, keeps SQLite driver connections between steps, saves without
touching the state column when it did not change, and pads the stored state on SQLite. Each of
these must be invisible: these tests compare them with the slow, obvious way on real
workflows and real databases.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine import Actor, Engine
from engine.clock import to_storage
from engine.history import _digest_text
from engine.models import ProcessInstance
from engine.step_sql import _without_returning
from engine.steps import STATE_PAD, _is_completed
from tests.diagrams import Diagram, linear, loop

ADMIN = Actor("admin", admin=True)


def _checking_writer(engine: Engine) -> tuple[list[int], list[str]]:
    """Make every state the engine saves also go through SpiffWorkflow's converters.
    Returns the sizes checked and the states that differed (an exception inside the step
    would only become an incident)."""
    codec, checked, differing = engine.codec, [], []
    fast = codec.dump_state

    def dump_state(workflow: BpmnWorkflow) -> str:
        text = fast(workflow)
        if text != codec.dump_state_reference(workflow):
            differing.append(text)
        checked.append(len(text))
        return text

    codec.dump_state = dump_state  # the step runner calls it through the same codec
    return checked, differing


def _stored(engine: Engine, iid: int) -> str:
    with engine.db.read() as s:
        return s.scalar(select(ProcessInstance.workflow_state).where(ProcessInstance.id == iid))


def _open_task(engine: Engine, iid: int):  # type: ignore[no-untyped-def]
    (task,) = engine.tasks.list(instance_id=iid).items
    return task


# -- the state writer ---------------------------------------------------------------------


def test_every_saved_state_is_what_the_converters_write(engine, deploy):
    """Typed data, a call activity, a message wait, a parallel split, a timer, a loop."""
    child = Diagram("inner").start().user("inner_task", takes=("inner_done", "n")).end()
    child.chain("start", "inner_task", "end")
    parent = (
        Diagram("outer")
        .start()
        .script(
            "fill",
            "when = datetime(2026, 5, 15, 9, 30, tzinfo=timezone.utc)\nday = date(2026, 9, 15)\n"
            "span = timedelta(days=3)\nsum_kr = Decimal('50000.50')\n"
            "rows = [{'åtgärd': 'Belysning', 'status': 'påbörjad'}]\nflag = True\nratio = 0.5",
        )
        .parallel("split")
        .call("run_inner", "inner")
        .catch_message("wait", "go ahead")
        .timer("pause", '"PT1H"')
        .parallel("join")
        .user("last", takes=("last",))
        .end()
    )
    parent.chain("start", "fill", "split")
    parent.flow("split", "run_inner").flow("split", "wait").flow("split", "pause")
    parent.flow("run_inner", "join").flow("wait", "join").flow("pause", "join")
    parent.chain("join", "last", "end")
    deploy(parent, child, loop("cycle"))
    checked, differing = _checking_writer(engine)

    iid = engine.runtime.start("outer", {"year": 2026, "note": 'citat "och" \\ snedstreck'}, ADMIN)
    iid = iid.instance_id
    engine.tasks.complete(_open_task(engine, iid).id, {"inner_done": True, "n": 1}, ADMIN)
    engine.runtime.correlate("go ahead", {"note": "ok"}, None, ADMIN)
    engine.steps.cache.drop(iid)  # the next step starts from the stored text
    engine.clock.advance(timedelta(hours=2))
    engine.timers.fire_due()
    engine.tasks.complete(_open_task(engine, iid).id, {"last": ["a", 1, None]}, ADMIN)
    assert engine.runtime.get(iid).state == "completed"

    cycle = engine.runtime.start("cycle", {"rounds": 3}, ADMIN).instance_id
    for round_ in range(3):
        engine.tasks.complete(_open_task(engine, cycle).id, {"status": f"grön {round_}"}, ADMIN)
    assert engine.runtime.get(cycle).state == "completed"
    assert len(checked) >= 9  # every step of both instances
    assert differing == []


def test_changes_made_in_place_are_written(engine, deploy):
    """The writer keeps the fixed part of each task's text between saves; every way a task
    can change under it must show up in the next save."""
    deploy(linear("steps", 4, takes=("a0", "a1", "a2", "a3")))
    iid = engine.runtime.start("steps", {"base": 1}, ADMIN).instance_id
    for i in range(2):
        engine.tasks.complete(_open_task(engine, iid).id, {f"a{i}": [i]}, ADMIN)
    workflow = engine.steps.cache.take(iid).workflow
    codec = engine.codec

    def same() -> None:
        assert codec.dump_state(workflow) == codec.dump_state_reference(workflow)

    same()
    tasks = list(workflow.tasks.values())
    finished = [t for t in tasks if t._state == TaskState.COMPLETED and t.data]
    done, ready = finished[-1], next(t for t in tasks if t._state == TaskState.READY)
    done.data["a1"].append("in place")  # nested value changed in place
    same()
    done.data["a0"] = 1  # an equal value of another type: [0] -> 1, then True
    same()
    done.data["a0"] = True
    same()
    done.data["x"] = -0.0
    same()
    done.internal_data["note"] = "added"
    same()
    done.triggered = True
    same()
    ready._set_state(TaskState.WAITING)
    same()
    ready._state = TaskState.STARTED  # without a new time
    same()
    ready.last_state_change += 1.5
    same()
    ready.last_state_change = float(repr(ready.last_state_change))  # equal time, new object
    same()
    ready._children.append(ready._children[0])
    same()
    ready._children.pop()
    done._parent = workflow.task_tree.id  # re-parented, as pruning does
    same()
    ready.task_spec = workflow.spec.task_specs["task_4"]  # as a migration may
    same()
    del workflow.tasks[done._parent]  # the parent is gone: the task is written as a root
    same()


def test_unusual_values_are_written_as_the_encoder_writes_them(engine, deploy):
    deploy(linear("odd", 2))
    iid = engine.runtime.start("odd", {}, ADMIN).instance_id
    workflow = engine.steps.cache.take(iid).workflow
    ready = next(t for t in workflow.tasks.values() if t._state == TaskState.READY)
    ready.data.update(
        {
            "nan": math.nan,
            "inf": -math.inf,
            "big": 10**30,
            "text": 'tab\t newline\n quote" \u2028 emoji \U0001f600 å',
            "set": {1},
            "tuple": (1, "two"),
            "odd_keys": {1: "one", None: "none", 2.5: "float"},
            "decimal": Decimal("1.10"),
            "day": date(2026, 1, 2),
            "moment": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2))),
            "span": timedelta(seconds=90),
            "function": len,
        }
    )
    workflow.data["shared"] = {"nested": [1.5, "två"]}
    workflow.correlations["year"] = 2026
    assert engine.codec.dump_state(workflow) == engine.codec.dump_state_reference(workflow)
    circular: list = []
    circular.append(circular)
    ready.data["loop"] = circular
    with pytest.raises(ValueError, match="Circular"):
        engine.codec.dump_state(workflow)


def test_dump_data_is_the_encoders_output(engine):
    encoder = engine.codec._data_encoder
    for value in (
        {"a": 1, "å": [datetime(2026, 1, 1, tzinfo=UTC), date(2026, 1, 2)], "d": Decimal("2")},
        [],
        "text",
        None,
        {"nested": {"x": {1, 2}}},
    ):
        assert engine.codec.dump_data(value) == encoder.encode(value)
    circular: dict = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular"):
        engine.codec.dump_data(circular)


# -- completion, history, storage helpers ------------------------------------------------


def test_completion_check_agrees_with_spiffworkflow(engine, deploy):
    deploy(linear("short", 3), loop("cycle", with_parallel=True))
    for key, data in (("short", {}), ("cycle", {"rounds": 2})):
        iid = engine.runtime.start(key, data, ADMIN).instance_id
        while True:
            cached = engine.steps.cache.take(iid)
            if cached is None:  # finished instances are not cached
                break
            workflow = cached.workflow
            assert _is_completed(workflow) is workflow.is_completed() is False
            engine.steps.cache.put(iid, cached)
            for task in engine.tasks.list(instance_id=iid).items:
                engine.tasks.complete(task.id, {}, ADMIN)
        assert engine.runtime.get(iid).state == "completed"
    # An unfinished task that hangs from nothing is left to SpiffWorkflow to judge.
    iid = engine.runtime.start("short", {}, ADMIN).instance_id
    workflow = engine.steps.cache.take(iid).workflow
    for task in workflow.tasks.values():
        if task._state & TaskState.NOT_FINISHED_MASK and task is not workflow.task_tree:
            task._parent = None
    assert _is_completed(workflow) == workflow.is_completed()


def test_history_hash_is_sha256_of_the_canonical_json():
    fields = ["instance:1", 7, "2026-01-05 08:00:00.000000", "anna", "task.completed"]
    fields += ["task_1", 3, '{"svar":"ja","å":1}', "ab" * 32]
    canonical = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    assert _digest_text(*fields) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_storage_time_is_naive_utc_from_any_zone():
    moment = datetime(2026, 3, 29, 3, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert to_storage(moment) == datetime(2026, 3, 29, 1, 30, 0, 123456)
    assert to_storage(moment.astimezone(UTC)) == datetime(2026, 3, 29, 1, 30, 0, 123456)
    assert to_storage(datetime(2026, 1, 1)) == datetime(2026, 1, 1)


def test_insert_id_needs_a_returning_clause():
    assert _without_returning("INSERT INTO t (a) VALUES (:a) RETURNING id") == (
        "INSERT INTO t (a) VALUES (:a)"
    )
    with pytest.raises(ValueError, match="RETURNING id"):
        _without_returning("INSERT INTO t (a) VALUES (:a)")


# -- what is saved ------------------------------------------------------------------------


def test_state_and_end_are_saved_when_they_change(engine, deploy, clock):
    deploy(linear("life", 2))
    iid = engine.runtime.start("life", {}, ADMIN).instance_id
    engine.tasks.complete(_open_task(engine, iid).id, {}, ADMIN)
    engine.runtime.suspend(iid, ADMIN)
    assert engine.runtime.get(iid).state == "suspended"
    engine.runtime.resume(iid, ADMIN)
    engine.steps.cache.drop(iid)
    assert engine.runtime.get(iid).state == "running"
    clock.advance(timedelta(days=1))
    engine.tasks.complete(_open_task(engine, iid).id, {}, ADMIN)
    info = engine.runtime.get(iid)
    assert info.state == "completed"
    assert info.ended_at == clock.now()
    assert engine.verify_history() == []


def test_stored_state_is_padded_on_sqlite_only_and_loads(engine, deploy, db_url):
    deploy(linear("pad", 2))
    iid = engine.runtime.start("pad", {"x": "å"}, ADMIN).instance_id
    text = _stored(engine, iid)
    body = text.rstrip(" ")
    if db_url.startswith("sqlite"):
        assert len(text) % STATE_PAD == 0 and len(text) - len(body) < STATE_PAD
    else:
        assert text == body
    assert json.loads(text) == json.loads(body)
    engine.steps.cache.drop(iid)
    engine.tasks.complete(_open_task(engine, iid).id, {}, ADMIN)  # continues from the text
    assert _open_task(engine, iid).element_id == "task_2"


def test_an_unpadded_state_still_loads(engine, deploy):
    """States saved before padding existed (and every PostgreSQL state) have none."""
    deploy(linear("old", 2, takes=("ok",)))
    iid = engine.runtime.start("old", {}, ADMIN).instance_id
    with engine.db.write() as s:
        row = s.get(ProcessInstance, iid)
        row.workflow_state = row.workflow_state.rstrip(" ")
        row.version += 1  # as any writer does
    engine.tasks.complete(_open_task(engine, iid).id, {"ok": 1}, ADMIN)
    assert _open_task(engine, iid).element_id == "task_2"


# -- driver connections kept between steps (SQLite) --------------------------------------


def test_a_kept_connection_holds_no_snapshot_between_steps(sqlite_url, tmp_path):
    """A statement left unfinished inside a step (a service reading one row of many) must
    not keep a read snapshot open on the connection kept for the next step: that would stop
    checkpoints from ever emptying the log."""
    engine = Engine(sqlite_url)
    try:
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "keep.bpmn").write_text(linear("keep", 3).xml())
        engine.repository.deploy([tmp_path / "b"], ADMIN)
        engine.steps.after_advance.append(
            lambda ctx: ctx.sql.one("SELECT seq FROM history_event ORDER BY seq")
        )
        iid = engine.runtime.start("keep", {}, ADMIN).instance_id
        engine.tasks.complete(_open_task(engine, iid).id, {}, ADMIN)
        path = sqlite_url.removeprefix("sqlite:///")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("PRAGMA busy_timeout=5000")
        busy, log, _done = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        other.close()
        assert (busy, log) == (0, 0)
        # And the kept connection is in no transaction: another writer gets the lock at once.
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("PRAGMA busy_timeout=0")
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("ROLLBACK")
        writer.close()
    finally:
        engine.close()


def test_a_failed_step_leaves_nothing_locked_and_the_next_step_works(sqlite_url, tmp_path):
    engine = Engine(sqlite_url)
    try:
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "fail.bpmn").write_text(linear("fail", 2).xml())
        engine.repository.deploy([tmp_path / "b"], ADMIN)
        iid = engine.runtime.start("fail", {}, ADMIN).instance_id

        def crash(ctx):  # type: ignore[no-untyped-def]
            ctx.sql.execute("UPDATE process_instance SET key = key WHERE id = :iid", {"iid": iid})
            raise RuntimeError("injected")

        engine.steps.after_advance.append(crash)
        outcome = engine.tasks.complete(_open_task(engine, iid).id, {}, ADMIN)
        engine.steps.after_advance.clear()
        assert "injected" in outcome.incident
        path = sqlite_url.removeprefix("sqlite:///")
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("PRAGMA busy_timeout=0")
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("ROLLBACK")
        writer.close()
        engine.runtime.retry(iid, ADMIN)
        assert _open_task(engine, iid).element_id == "task_2"
    finally:
        engine.close()


def test_closing_the_engine_releases_every_connection(sqlite_url, tmp_path):
    """SQLite removes the log when the last connection closes: nothing kept may outlive
    `close()`, and an engine on the same file works afterwards."""
    engine = Engine(sqlite_url)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "rel.bpmn").write_text(linear("rel", 2).xml())
    engine.repository.deploy([tmp_path / "b"], ADMIN)
    iid = engine.runtime.start("rel", {}, ADMIN).instance_id
    engine.tasks.complete(_open_task(engine, iid).id, {}, ADMIN)
    engine.close()
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    assert not Path(f"{path}-wal").exists()
    again = Engine(sqlite_url)
    try:
        again.tasks.complete(_open_task(again, iid).id, {}, ADMIN)
        assert again.runtime.get(iid).state == "completed"
    finally:
        again.close()


def test_the_log_shrinks_back_after_a_burst(sqlite_url, tmp_path, monkeypatch):
    """A burst grows SQLite's log past the limit; once a checkpoint has copied it back (a
    quiet moment), the next step truncates the file to the limit instead of keeping it."""
    from engine import database

    monkeypatch.setattr(database, "WAL_SIZE_LIMIT", 256 * 1024)
    engine = Engine(sqlite_url)
    try:
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "burst.bpmn").write_text(linear("burst", 3).xml())
        engine.repository.deploy([tmp_path / "b"], ADMIN)
        log = Path(sqlite_url.removeprefix("sqlite:///") + "-wal")
        iid = None
        while log.stat().st_size <= 1024 * 1024:  # a burst: no checkpoint catches up
            iid = engine.runtime.start("burst", {}, ADMIN).instance_id
        other = sqlite3.connect(log.with_name(log.name.removesuffix("-wal")), isolation_level=None)
        busy, _frames, _copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        other.close()
        assert busy == 0
        engine.tasks.complete(_open_task(engine, iid).id, {}, ADMIN)
        assert log.stat().st_size <= 256 * 1024
        assert _open_task(engine, iid).element_id == "task_2"  # and nothing was lost
    finally:
        engine.close()
