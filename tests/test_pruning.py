"""The live state stays the size of what is running, and pruning keeps semantics."""

from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine import Actor
from engine.models import ProcessInstance
from engine.pruning import prune
from engine.scripting import make_script_engine
from tests.diagrams import Diagram, loop

ADMIN = Actor("admin", admin=True)


def _state_size(engine, iid):
    with engine.db.read() as s:
        return len(
            s.scalar(select(ProcessInstance.workflow_state).where(ProcessInstance.id == iid))
        )


def test_loop_state_does_not_grow(engine, deploy):
    deploy(loop("tertials"))
    iid = engine.runtime.start("tertials", {"rounds": 40}, ADMIN).instance_id
    sizes = []
    for _ in range(30):
        (task,) = engine.tasks.list(instance_id=iid).items
        engine.tasks.complete(task.id, {"status": "green"}, ADMIN)
        sizes.append(_state_size(engine, iid))
    assert engine.runtime.get(iid).data["count"] == 30
    # The state after 30 rounds is no larger than after 2 (allowing for a growing counter).
    assert sizes[-1] <= sizes[1] * 1.05, sizes


def _run_in_memory(diagram: Diagram, rounds: int, pruned: bool, order):
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(diagram.xml().encode(), "d.bpmn")
    spec = parser.get_spec(diagram.process_id)
    wf = BpmnWorkflow(
        spec, parser.get_subprocess_specs(diagram.process_id), script_engine=make_script_engine()
    )
    wf.task_tree.data["rounds"] = rounds
    wf.do_engine_steps()
    trail = []
    while not wf.is_completed():
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        ready.sort(key=lambda t: order.index(t.task_spec.bpmn_id))
        task = ready[0]
        trail.append((task.task_spec.bpmn_id, sorted(t.task_spec.bpmn_id for t in ready)))
        task.run()
        wf.do_engine_steps()
        if pruned:
            prune(wf)
        assert len(trail) < 200, "runaway loop"
    return trail, len(wf.tasks), wf.last_task.data


def test_parallel_join_inside_a_loop_waits_for_both_branches():
    """Joins look at the tasks around them; cutting finished rounds must not make a join
    fire early or late. Branch B finishes first in every round, A must still be waited for."""
    diagram = loop("rounds_with_branches", with_parallel=True)
    order = ["report", "branch_b", "branch_a"]
    pruned_trail, pruned_size, data = _run_in_memory(diagram, 4, True, order)
    rounds = [i for i, (tid, _) in enumerate(pruned_trail) if tid == "report"]
    assert len(rounds) == 4
    for r in rounds:
        assert pruned_trail[r + 1] == ("branch_b", ["branch_a", "branch_b"])
        assert pruned_trail[r + 2] == ("branch_a", ["branch_a"])
    assert data["count"] == 4
    unpruned_trail, unpruned_size, unpruned_data = _run_in_memory(diagram, 4, False, order)
    assert pruned_trail == unpruned_trail and data == unpruned_data
    assert pruned_size < unpruned_size


def test_pruned_and_unpruned_runs_agree_on_a_plain_loop():
    diagram = loop("plain")
    order = ["report"]
    a = _run_in_memory(diagram, 5, True, order)
    b = _run_in_memory(diagram, 5, False, order)
    assert a[0] == b[0] and a[2] == b[2]
    assert a[1] < b[1]


def test_finished_call_activities_are_dropped(engine, deploy):
    child = Diagram("sub").start().user("inner", "Inner").end().chain("start", "inner", "end")
    parent = (
        Diagram("outer")
        .start()
        .script("init", "count = 0")
        .call("run", "sub")
        .script("tally", "count = count + 1")
        .xor("again", default="flow_again_end")
        .end()
    )
    parent.chain("start", "init", "run", "tally", "again")
    parent.flow("again", "run", condition="count < 10", id="flow_again_run")
    parent.flow("again", "end", id="flow_again_end")
    deploy(parent, child)
    iid = engine.runtime.start("outer", {}, ADMIN).instance_id
    for _ in range(10):
        (task,) = engine.tasks.list(instance_id=iid).items
        engine.tasks.complete(task.id, {}, ADMIN)
        if engine.runtime.get(iid).state == "running":
            wf = engine.runtime.workflow(iid)
            assert len(wf.subprocesses) == 1
    assert engine.runtime.get(iid).state == "completed"
