"""The hash-chained history notices changed, inserted and deleted rows."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import delete, select, update

from engine import Actor
from engine.models import HistoryEvent
from tests.diagrams import linear
from webui.cli import main

ADMIN = Actor("admin", admin=True)


def _run_one(engine, deploy):
    deploy(linear("audited", 2, takes=("decision",)))
    iid = engine.runtime.start("audited", {"year": 2026}, ADMIN).instance_id
    (task,) = engine.tasks.list(instance_id=iid).items
    engine.tasks.claim(task.id, ADMIN)
    engine.tasks.complete(task.id, {"decision": "approve"}, ADMIN)
    return iid


def _events(engine, iid):
    with engine.db.read() as s:
        return list(
            s.scalars(
                select(HistoryEvent)
                .where(HistoryEvent.instance_id == iid)
                .order_by(HistoryEvent.seq)
            )
        )


def test_intact_history_verifies(engine, deploy):
    iid = _run_one(engine, deploy)
    assert engine.verify_history() == []
    kinds = [e.kind for e in _events(engine, iid)]
    assert kinds[:2] == ["instance.started", "element.completed"]
    assert "task.claimed" in kinds and "task.completed" in kinds


def test_changed_row_is_reported(engine, deploy):
    iid = _run_one(engine, deploy)
    completed = next(e for e in _events(engine, iid) if e.kind == "task.completed")
    with engine.db.write() as s:
        s.execute(
            update(HistoryEvent)
            .where(HistoryEvent.id == completed.id)
            .values(data=completed.data.replace("approve", "reject"))
        )
    problems = engine.verify_history()
    assert any(f"event {completed.seq} (task.completed) was changed" in p for p in problems)


def test_deleted_row_is_reported(engine, deploy):
    iid = _run_one(engine, deploy)
    victim = _events(engine, iid)[2]
    with engine.db.write() as s:
        s.execute(delete(HistoryEvent).where(HistoryEvent.id == victim.id))
    problems = engine.verify_history()
    assert any(f"event {victim.seq} is missing (deleted)" in p for p in problems)


def test_deleted_tail_is_reported(engine, deploy):
    iid = _run_one(engine, deploy)
    last = _events(engine, iid)[-1]
    with engine.db.write() as s:
        s.execute(delete(HistoryEvent).where(HistoryEvent.id == last.id))
    problems = engine.verify_history()
    assert any("missing (deleted)" in p for p in problems)


def test_inserted_row_is_reported(engine, deploy):
    iid = _run_one(engine, deploy)
    events = _events(engine, iid)
    forged = events[-1]
    with engine.db.write() as s:
        s.add(
            HistoryEvent(
                stream=forged.stream,
                seq=forged.seq + 1,
                instance_id=iid,
                at=forged.at,
                actor="mallory",
                kind="task.completed",
                element_id="task_2",
                task_id=None,
                data="{}",
                prev_hash=forged.hash,
                hash="0" * 64,
            )
        )
    problems = engine.verify_history()
    assert any("inserted" in p or "changed" in p for p in problems)


def test_cli_audit_verify_exit_codes(engine, deploy, db_url):
    iid = _run_one(engine, deploy)
    runner = CliRunner()
    # The CLI runs the whole product, so a shared database needs the governance tables too.
    assert runner.invoke(main, ["db", "upgrade", "--db", db_url]).exit_code == 0
    ok = runner.invoke(main, ["audit", "verify", "--db", db_url])
    assert ok.exit_code == 0, ok.output
    assert "History intact" in ok.output
    victim = _events(engine, iid)[1]
    with engine.db.write() as s:
        s.execute(update(HistoryEvent).where(HistoryEvent.id == victim.id).values(actor="mallory"))
    bad = runner.invoke(main, ["audit", "verify", "--db", db_url, "--json"])
    assert bad.exit_code != 0
    assert "was changed" in bad.output
