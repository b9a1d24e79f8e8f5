"""The human-task store: who sees what, claim and hand back, validation, drafts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from engine import Actor, Conflict, NotPermitted, ValidationError
from engine.models import HumanTask
from tests.diagrams import Diagram

ADMIN = Actor("admin", admin=True)
FARSTA_RESPONSIBLE = Actor("frida", frozenset({("responsible", "farsta")}))
BROMMA_RESPONSIBLE = Actor("bertil", frozenset({("responsible", "bromma")}))
COORDINATOR = Actor("cecilia", frozenset({("coordinator", None)}))

LAGESBILD = json.dumps(
    {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["summary", "sources"],
        "properties": {
            "summary": {"type": "string", "minLength": 10},
            "sources": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name", "used"],
                    "properties": {"name": {"type": "string"}, "used": {"type": "boolean"}},
                },
            },
            "reported_on": {"type": "string", "format": "date"},
        },
    }
)


def _plan():
    d = Diagram("plan").start()
    d.user(
        "lagesbild",
        "Sammanställ lägesbild",
        lane="responsible",
        form="lagesbild.json",
        dueDate="date(2026, 3, 31)",
        priority="70",
    )
    d.user("overview", "Sammanställ översikt", lane="coordinator", candidateUsers="cecilia,olle")
    d.end()
    return d.chain("start", "lagesbild", "overview", "end")


@pytest.fixture
def plan(deploy):
    deploy(_plan(), lagesbild__json=LAGESBILD)


def _start(engine, organisation):
    return engine.runtime.start("plan", {"organisation": organisation}, ADMIN).instance_id


def test_lane_and_organisation_decide_who_sees_a_task(engine, plan):
    farsta = _start(engine, "farsta")
    bromma = _start(engine, "bromma")
    mine = engine.tasks.list(actor=FARSTA_RESPONSIBLE).items
    assert [(t.instance_id, t.role, t.organisation) for t in mine] == [
        (farsta, "responsible", "farsta")
    ]
    assert [t.instance_id for t in engine.tasks.list(actor=BROMMA_RESPONSIBLE).items] == [bromma]
    assert engine.tasks.list(actor=COORDINATOR).items == []
    task = mine[0]
    assert task.name == "Sammanställ lägesbild"
    assert task.due_at == datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)
    assert task.priority == 70
    assert task.form_schema == "lagesbild.json"
    with pytest.raises(NotPermitted):
        engine.tasks.claim(task.id, BROMMA_RESPONSIBLE)


def test_claim_unclaim_and_scopes(engine, plan):
    iid = _start(engine, "farsta")
    colleague = Actor("fredrik", frozenset({("responsible", "farsta")}))
    task = engine.tasks.list(actor=FARSTA_RESPONSIBLE).items[0]
    engine.tasks.claim(task.id, FARSTA_RESPONSIBLE)
    assert [t.id for t in engine.tasks.list(actor=FARSTA_RESPONSIBLE, scope="mine").items] == [
        task.id
    ]
    assert engine.tasks.list(actor=colleague).items == []
    with pytest.raises(Conflict, match="already claimed by frida"):
        engine.tasks.claim(task.id, colleague)
    with pytest.raises(NotPermitted):
        engine.tasks.complete(task.id, {}, colleague)
    with pytest.raises(NotPermitted):
        engine.tasks.unclaim(task.id, colleague)
    engine.tasks.unclaim(task.id, FARSTA_RESPONSIBLE)
    assert [t.id for t in engine.tasks.list(actor=colleague, scope="claimable").items] == [task.id]
    with engine.db.read() as session:
        kinds = [e["kind"] for e in engine.history.events(session, iid)]
    assert kinds.count("task.claimed") == 1 and kinds.count("task.unclaimed") == 1
    assert engine.verify_history() == []


def test_candidate_users(engine, plan):
    iid = _start(engine, "farsta")
    good = {
        "summary": "Otrygghet kring centrum kvällstid",
        "sources": [{"name": "BRÅ", "used": True}],
    }
    engine.tasks.complete(engine.tasks.list(instance_id=iid).items[0].id, good, FARSTA_RESPONSIBLE)
    olle = Actor("olle")
    (task,) = engine.tasks.list(actor=olle).items
    assert task.element_id == "overview" and task.candidate_users == ["cecilia", "olle"]
    assert engine.tasks.list(actor=Actor("someone")).items == []
    engine.tasks.complete(task.id, {}, olle)
    assert engine.runtime.get(iid).state == "completed"


def test_invalid_form_data_is_rejected_field_by_field_and_nothing_is_stored(engine, plan):
    iid = _start(engine, "farsta")
    task = engine.tasks.list(instance_id=iid).items[0]
    with pytest.raises(ValidationError) as err:
        engine.tasks.complete(
            task.id,
            {"summary": "kort", "sources": [{"name": "BRÅ"}], "reported_on": "not a date"},
            FARSTA_RESPONSIBLE,
        )
    fields = {p.element: p.message for p in err.value.problems}
    assert set(fields) == {"/summary", "/sources/0/used", "/reported_on"}
    assert "too short" in fields["/summary"]
    assert "nothing was saved" in err.value.summary
    assert engine.tasks.get(task.id).state == "open"
    assert "summary" not in engine.runtime.get(iid).data
    with pytest.raises(ValidationError) as err:
        engine.tasks.complete(task.id, {}, FARSTA_RESPONSIBLE)
    assert {p.element for p in err.value.problems} == {"/summary", "/sources"}


def test_draft_is_kept_until_completion(engine, plan):
    iid = _start(engine, "farsta")
    task = engine.tasks.list(instance_id=iid).items[0]
    engine.tasks.save_draft(task.id, {"summary": "halv"}, FARSTA_RESPONSIBLE)
    assert engine.tasks.get(task.id).draft == {"summary": "halv"}
    with pytest.raises(NotPermitted):
        engine.tasks.save_draft(task.id, {"summary": "x"}, BROMMA_RESPONSIBLE)
    good = {
        "summary": "Otrygghet kring centrum kvällstid",
        "sources": [{"name": "BRÅ", "used": True}],
    }
    engine.tasks.complete(task.id, good, FARSTA_RESPONSIBLE)
    done = engine.tasks.get(task.id)
    assert done.draft is None and done.completed_by == "frida" and done.state == "completed"
    assert engine.runtime.get(iid).data["summary"] == good["summary"]


def test_completed_task_list_and_pagination(engine, plan):
    ids = [_start(engine, "farsta") for _ in range(5)]
    page = engine.tasks.list(actor=FARSTA_RESPONSIBLE, limit=2, offset=0)
    assert page.total == 5 and len(page.items) == 2
    page2 = engine.tasks.list(actor=FARSTA_RESPONSIBLE, limit=2, offset=4)
    assert len(page2.items) == 1
    good = {
        "summary": "Otrygghet kring centrum kvällstid",
        "sources": [{"name": "BRÅ", "used": True}],
    }
    first = engine.tasks.list(instance_id=ids[0]).items[0]
    engine.tasks.complete(first.id, good, FARSTA_RESPONSIBLE)
    done = engine.tasks.list(state="completed").items
    assert [t.id for t in done] == [first.id]


def test_task_lists_use_the_indexes_on_open_tasks(engine, plan):
    from sqlalchemy import text

    indexed = {tuple(c.name for c in ix.columns) for ix in HumanTask.__table__.indexes}
    assert ("role", "organisation", "due_at") in indexed and ("assignee", "due_at") in indexed
    if engine.db.is_sqlite:
        with engine.db.read() as session:
            plan_rows = session.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM human_task WHERE state = 'open' "
                    "AND role = 'responsible' AND organisation = 'farsta'"
                )
            ).all()
        assert any("ix_human_task_open_role_org" in str(r) for r in plan_rows), plan_rows
