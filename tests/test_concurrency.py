"""Two people completing the same task at once: one success, one clear Conflict.

On SQLite the two run as threads of one process (the write lock queues them); on PostgreSQL
as two engines with their own connection pools, made to overlap inside the step so both read
the same instance version before either writes.
"""

from __future__ import annotations

import contextlib
import threading

import pytest

from engine import Actor, Conflict, Engine
from tests.diagrams import Diagram, linear

ADMIN = Actor("admin", admin=True)


def _race(engines, task_id, barrier_in_step: bool):
    barrier = threading.Barrier(len(engines), timeout=10)
    if barrier_in_step:
        for eng in engines:
            # Meet once, right after each step has read the instance and before it writes
            # anything, so both hold the same version; later attempts run free.
            def make_open(eng=eng, original=eng.steps._open):
                def opened(*args, **kwargs):
                    ctx = original(*args, **kwargs)
                    eng.steps._open = original
                    with contextlib.suppress(threading.BrokenBarrierError):
                        barrier.wait()
                    return ctx

                return opened

            eng.steps._open = make_open()
    results: list = [None] * len(engines)

    def complete(i):
        try:
            if not barrier_in_step:
                barrier.wait()
            engines[i].tasks.complete(
                task_id, {"by": f"person{i}"}, Actor(f"person{i}", admin=True)
            )
            results[i] = "ok"
        except Conflict as exc:
            results[i] = exc

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _check(engine, iid, task_id, results):
    assert sorted(r if r == "ok" else "conflict" for r in results) == ["conflict", "ok"]
    conflict = next(r for r in results if r != "ok")
    assert "already completed by person" in str(conflict)
    winner = results.index("ok")
    task = engine.tasks.get(task_id)
    assert task.state == "completed" and task.completed_by == f"person{winner}"
    info = engine.runtime.get(iid)
    assert info.data["by"] == f"person{winner}"
    (nxt,) = engine.tasks.list(instance_id=iid).items
    assert nxt.element_id == "task_2"
    assert engine.verify_history() == []
    with engine.db.read() as session:
        events = engine.history.events(session, iid)
    assert [e["kind"] for e in events].count("task.completed") == 1


def test_concurrent_completion_sqlite_threads(sqlite_url, tmp_path):
    engine = Engine(sqlite_url)
    linear("race", 2, takes=("by",)).write(tmp_path / "b")
    engine.repository.deploy([tmp_path / "b"], ADMIN)
    for _ in range(5):  # several rounds: the race must hold every time
        iid = engine.runtime.start("race", {}, ADMIN).instance_id
        (task,) = engine.tasks.list(instance_id=iid).items
        results = _race([engine, engine], task.id, barrier_in_step=False)
        _check(engine, iid, task.id, results)


@pytest.mark.postgresql
def test_concurrent_completion_postgresql_connections(pg_server, tmp_path):
    from tests.conftest import _reset_pg

    _reset_pg(pg_server)
    first, second = Engine(pg_server), Engine(pg_server)
    linear("race", 2, takes=("by",)).write(tmp_path / "b")
    first.repository.deploy([tmp_path / "b"], ADMIN)
    try:
        for _ in range(3):
            iid = first.runtime.start("race", {}, ADMIN).instance_id
            (task,) = first.tasks.list(instance_id=iid).items
            results = _race([first, second], task.id, barrier_in_step=True)
            _check(first, iid, task.id, results)
    finally:
        first.close()
        second.close()


def test_different_tasks_of_one_instance_complete_concurrently(db_url, tmp_path):
    """Parallel branches: both completions succeed (the version race is retried)."""
    engine = Engine(db_url)
    other = Engine(db_url)
    d = (
        Diagram("branches")
        .start()
        .parallel("split")
        .user("a", "A", takes=("a",))
        .user("b", "B", takes=("b",))
        .parallel("join")
        .user("after", "After")
        .end()
    )
    d.chain("start", "split").flow("split", "a").flow("split", "b").flow("a", "join")
    d.flow("b", "join").chain("join", "after", "end")
    d.write(tmp_path / "b")
    engine.repository.deploy([tmp_path / "b"], ADMIN)
    iid = engine.runtime.start("branches", {}, ADMIN).instance_id
    tasks = engine.tasks.list(instance_id=iid).items
    assert sorted(t.element_id for t in tasks) == ["a", "b"]
    errors = []

    def complete(eng, task):
        try:
            eng.tasks.complete(task.id, {task.element_id: True}, ADMIN)
        except Exception as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=complete, args=(eng, t))
        for eng, t in zip([engine, other], tasks, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    (after,) = engine.tasks.list(instance_id=iid).items
    assert after.element_id == "after"
    data = engine.runtime.get(iid).data
    assert data["a"] is True and data["b"] is True
    engine.close()
    other.close()


def test_a_step_in_another_process_is_seen_by_this_ones_cache(db_url, tmp_path):
    """Web process A holds the instance in its step cache; worker B moves it on; A must
    step from B's state, not its own old copy."""
    web, worker = Engine(db_url), Engine(db_url)
    linear("relay", 3, takes=("one", "two")).write(tmp_path / "b")
    web.repository.deploy([tmp_path / "b"], ADMIN)
    started = web.runtime.start("relay", {}, ADMIN)  # cached in `web`
    (first,) = started.created_tasks
    (second,) = worker.tasks.complete(first, {"one": 1}, ADMIN).created_tasks
    (third,) = web.tasks.complete(second, {"two": 2}, ADMIN).created_tasks
    assert web.tasks.get(third).element_id == "task_3"
    assert web.runtime.get(started.instance_id).data == {"one": 1, "two": 2}
    assert web.verify_history() == []
    web.close()
    worker.close()
