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

from bench.machine import describe
from engine import Actor, Engine
from engine.bundle import Bundle
from tests.diagrams import linear

TASKS = 10


def in_memory_runner(xml: str):  # type: ignore[no-untyped-def]
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(xml.encode(), "bench.bpmn")
    spec, subs = parser.get_spec("bench"), parser.get_subprocess_specs("bench")

    def run(instances: int) -> float:
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

    return run


def persisted_runner(files: dict[str, bytes], folder: Path):  # type: ignore[no-untyped-def]
    engine = Engine(f"sqlite:///{folder / 'bench.sqlite'}")
    actor = Actor("bench", admin=True)
    engine.repository.deploy(Bundle.from_files(files), actor)

    def run(instances: int) -> float:
        t0 = time.perf_counter()
        for _ in range(instances):
            # Each call hands back the task(s) it created, as a UI shows "your next task".
            next_tasks = engine.runtime.start("bench", {}, actor).created_tasks
            for i in range(TASKS):
                (task_id,) = next_tasks
                outcome = engine.tasks.complete(task_id, {f"answer_{i}": i}, actor)
                next_tasks = outcome.created_tasks
        return time.perf_counter() - t0

    return run, engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--chunks",
        type=int,
        default=10,
        help="alternate the two sides this many times per round (shared machines "
        "drift; alternating keeps the comparison fair)",
    )
    args = ap.parse_args()
    # Every task has a form declaring the answers, as in the city: a completion passes the
    # form's contract and schema (engine/form_contract.py), which the in-memory side skips.
    diagram = linear("bench", TASKS, takes=tuple(f"answer_{i}" for i in range(TASKS)))
    xml = diagram.xml()
    per_chunk = max(1, args.instances // args.chunks)
    ratios, mem_rates, db_rates = [], [], []
    mem = in_memory_runner(xml)
    mem(20)  # warm up imports and caches
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            db, engine = persisted_runner(diagram.files(), Path(tmp))
            db(5)
            mem_time = db_time = 0.0
            for _chunk in range(args.chunks):
                mem_time += mem(per_chunk)
                db_time += db(per_chunk)
            assert engine.runtime.count("completed") == 5 + per_chunk * args.chunks
            engine.close()
        completions = per_chunk * args.chunks * TASKS
        mem_rates.append(completions / mem_time)
        db_rates.append(completions / db_time)
        ratios.append(mem_time / db_time)
    print(describe())
    print(
        f"process: {TASKS} user tasks; {per_chunk * args.chunks} instances x {args.rounds} "
        f"rounds, the two sides alternating in {args.chunks} chunks"
    )
    print(f"in-memory SpiffWorkflow : {statistics.median(mem_rates):8.0f} completions/s")
    print(
        f"Kedja on SQLite file    : {statistics.median(db_rates):8.0f} completions/s "
        "(start + complete through the API; each completion one transaction)"
    )
    print(
        f"ratio persisted/in-memory: median {statistics.median(ratios):.2f} "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}); target >= 0.25"
    )


if __name__ == "__main__":
    main()
