"""Versioned deployment: content hash, stored files, instances keep their version."""

from __future__ import annotations

import json

import pytest

from engine import Actor, NotFound, ValidationError
from engine.bundle import Bundle
from tests.diagrams import Diagram, linear

OWNER = Actor("owner", admin=True)

FORM = json.dumps(
    {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["summary"],
        "properties": {"summary": {"type": "string", "minLength": 3}},
    }
)


def test_same_content_same_version_changed_content_new_version(engine, deploy):
    first = deploy(linear("review", 2))
    assert [(r.definition.key, r.definition.version, r.created) for r in first] == [
        ("review", 1, True)
    ]

    again = deploy(linear("review", 2))
    assert [(r.definition.version, r.created) for r in again] == [(1, False)]

    changed = deploy(linear("review", 3))
    assert [(r.definition.version, r.created) for r in changed] == [(2, True)]
    assert [d.version for d in engine.repository.definitions(key="review")] == [1, 2]
    assert engine.repository.get("review").version == 2


def test_a_change_in_one_process_does_not_version_its_neighbour(engine):
    a, b = linear("alpha", 1), linear("beta", 1)
    bundle = Bundle.from_files({"alpha.bpmn": a.xml().encode(), "beta.bpmn": b.xml().encode()})
    engine.repository.deploy(bundle, OWNER)
    b2 = linear("beta", 2)
    bundle2 = Bundle.from_files({"alpha.bpmn": a.xml().encode(), "beta.bpmn": b2.xml().encode()})
    results = {r.definition.key: r for r in engine.repository.deploy(bundle2, OWNER)}
    assert (results["alpha"].definition.version, results["alpha"].created) == (1, False)
    assert (results["beta"].definition.version, results["beta"].created) == (2, True)


def test_source_files_are_stored_verbatim_with_the_definition(engine, deploy):
    diagram = linear("with_form", 1, form="summary.json")
    (result,) = deploy(diagram, summary__json=FORM)
    files = engine.repository.files(result.definition.id)
    assert set(files) == {"with_form.bpmn", "summary.json"}
    assert files["with_form.bpmn"].decode() == diagram.xml()
    assert result.definition.forms == {"task_1": "summary.json"}


def test_running_instances_keep_their_version(engine, deploy):
    deploy(linear("keep", 2))
    started = engine.runtime.start("keep", {}, OWNER)
    deploy(linear("keep", 3))
    assert engine.runtime.get(started.instance_id).version == 1
    # The old instance still completes on its own version: two tasks, not three.
    for _ in range(2):
        task = engine.tasks.list(instance_id=started.instance_id).items[0]
        assert task.definition_version == 1
        engine.tasks.complete(task.id, {}, OWNER)
    assert engine.runtime.get(started.instance_id).state == "completed"
    newer = engine.runtime.start("keep", {}, OWNER)
    assert engine.runtime.get(newer.instance_id).version == 2
    older = engine.runtime.start("keep", {}, OWNER, version=1)
    assert engine.runtime.get(older.instance_id).version == 1


def test_unknown_key_names_what_is_deployed(engine, deploy):
    deploy(linear("known", 1))
    with pytest.raises(NotFound, match=r"'unknown'.*deployed: known"):
        engine.runtime.start("unknown", {}, OWNER)


def test_a_rejected_bundle_stores_nothing(engine, deploy):
    broken = Diagram("broken").start().user("t", "T").end().chain("start", "t", "end")
    xml = broken.xml().replace(
        '<bpmn:userTask id="t"', '<bpmn:complexGateway id="cx"/><bpmn:userTask id="t"'
    )
    with pytest.raises(ValidationError) as err:
        engine.repository.deploy(
            Bundle.from_files(
                {"ok.bpmn": linear("fine", 1).xml().encode(), "broken.bpmn": xml.encode()}
            ),
            OWNER,
        )
    assert any(p.element == "cx" and p.file == "broken.bpmn" for p in err.value.problems)
    assert engine.repository.definitions() == []


def test_call_activity_across_files(engine, deploy):
    child = Diagram("child").start().script("work", "result = value * 2").user("check", "Check")
    child.end().chain("start", "work", "check", "end")
    parent = Diagram("parent").start().call("run_child", "child").user("after", "After")
    parent.end().chain("start", "run_child", "after", "end")
    results = {r.definition.key: r.definition for r in deploy(parent, child)}
    assert results["parent"].files == ["child.bpmn", "parent.bpmn"]

    started = engine.runtime.start("parent", {"value": 21}, OWNER)
    (task,) = engine.tasks.list(instance_id=started.instance_id).items
    assert task.element_id == "check"
    engine.tasks.complete(task.id, {}, OWNER)
    (after,) = engine.tasks.list(instance_id=started.instance_id).items
    assert after.element_id == "after"
    engine.tasks.complete(after.id, {}, OWNER)
    info = engine.runtime.get(started.instance_id)
    assert info.state == "completed"
    assert info.data["result"] == 42
