"""What persistence costs: Kedja on a SQLite file vs. pure in-memory SpiffWorkflow.

The same 10-user-task process is started and completed N times, once with SpiffWorkflow alone
(no database, nothing saved) and once through Kedja's engine API on a SQLite file, where each
completion is its own transaction (state saved, tasks mirrored, history hashed). Both run in
this one process, one after the other, so the ratio is measured under the same conditions.

    .venv/bin/python bench/engine_overhead.py [--instances 200] [--rounds 3]

Target (issue 2): persisted >= 0.25 x in-memory. Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine import Actor, Engine
from engine.bundle import Bundle
from tests.diagrams import linear

TASKS = 10


def in_memory(xml: str, instances: int) -> float:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(xml.encode(), "bench.bpmn")
    spec, subs = parser.get_spec("bench"), parser.get_subprocess_specs("bench")
    t0 = time.perf_counter()
    for _ in range(instances):
        wf = BpmnWorkflow(spec, subs)
        wf.do_engine_steps()
        for i in range(TASKS):
            task = wf.get_next_task(state=TaskState.READY, manual=True)
            task.data[f"answer_{i}"] = i
            task.run()
            wf.do_engine_steps()
        assert wf.is_completed()
    return time.perf_counter() - t0


def persisted(xml: str, instances: int, folder: Path) -> float:
    engine = Engine(f"sqlite:///{folder / 'bench.sqlite'}")
    actor = Actor("bench", admin=True)
    engine.repository.deploy(Bundle.from_files({"bench.bpmn": xml.encode()}), actor)
    t0 = time.perf_counter()
    for _ in range(instances):
        # Each call hands back the task(s) it created, as a UI would show "your next task".
        next_tasks = engine.runtime.start("bench", {}, actor).created_tasks
        for i in range(TASKS):
            (task_id,) = next_tasks
            next_tasks = engine.tasks.complete(task_id, {f"answer_{i}": i}, actor).created_tasks
    elapsed = time.perf_counter() - t0
    assert engine.runtime.count("completed") == instances
    engine.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    xml = linear("bench", TASKS).xml()
    ratios, mem_rates, db_rates = [], [], []
    in_memory(xml, 20)  # warm up imports and caches
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            mem = in_memory(xml, args.instances)
            db = persisted(xml, args.instances, Path(tmp))
        mem_rates.append(args.instances * TASKS / mem)
        db_rates.append(args.instances * TASKS / db)
        ratios.append(mem / db)
    print(f"process: {TASKS} user tasks; {args.instances} instances x {args.rounds} rounds")
    print(f"in-memory SpiffWorkflow : {statistics.median(mem_rates):8.0f} completions/s")
    print(
        f"Kedja on SQLite file    : {statistics.median(db_rates):8.0f} completions/s "
        "(each completion one transaction, list + complete through the API)"
    )
    print(
        f"ratio persisted/in-memory: median {statistics.median(ratios):.2f} "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}); target >= 0.25"
    )


if __name__ == "__main__":
    main()
