"""Does a step get slower as an instance ages? Loop 30 (ten years of tertials) vs loop 1.

A looping process (report -> tally -> loop back, like the tertial loop) runs in N "old"
instances until they have looped 29 times. Then N "young" instances are started, and the
old instances' 30th loop and the young instances' 1st loop are completed alternately, one
step each, on the same database at the same moment: the only difference between the two is
the instance's age. Every completion is its own transaction on a SQLite file.

Measured twice: warm (the instance's workflow is in the step cache) and cold (every step loads
the state from the database, as after a restart or in another worker); and once more, cold,
with pruning switched off, to show what SpiffWorkflow's own state would do. The stored state
size of old and young instances is printed too: it must not grow with age.

    .venv/bin/python bench/history_growth.py [--instances 30] [--loops 30] [--rounds 3]

Target (issue 2): loop 30 / loop 1 <= 1.3. Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bench.machine import describe
from engine import Actor, Engine, pruning
from engine.bundle import Bundle
from engine.models import ProcessInstance
from tests.diagrams import loop

original_prune = pruning.prune


def state_size(engine: Engine, instance_id: int) -> int:
    """The state's JSON size, without the spaces SQLite's copy is padded with (steps.py)."""
    with engine.db.read() as session:
        text = session.scalar(
            select(ProcessInstance.workflow_state).where(ProcessInstance.id == instance_id)
        )
    return len(text.rstrip())


def run(cache_size: int, instances: int, loops: int, folder: Path) -> dict[str, float]:
    engine = Engine(f"sqlite:///{folder / f'growth{cache_size}.sqlite'}", cache_size=cache_size)
    actor = Actor("bench", admin=True)
    engine.repository.deploy(Bundle.from_files(loop("tertial").files()), actor)

    def start() -> tuple[int, int]:
        started = engine.runtime.start("tertial", {"rounds": loops + 5}, actor)
        return started.instance_id, started.created_tasks[0]

    old = [start() for _ in range(instances)]
    for _ in range(loops - 1):
        old = [
            (iid, engine.tasks.complete(task, {"status": "grön"}, actor).created_tasks[0])
            for iid, task in old
        ]
    young = [start() for _ in range(instances)]
    old_times, young_times = [], []
    for (_old_iid, old_task), (_young_iid, young_task) in zip(old, young, strict=True):
        t0 = time.perf_counter()
        engine.tasks.complete(old_task, {"status": "grön"}, actor)
        t1 = time.perf_counter()
        engine.tasks.complete(young_task, {"status": "grön"}, actor)
        t2 = time.perf_counter()
        old_times.append(t1 - t0)
        young_times.append(t2 - t1)
    result = {
        "old": statistics.median(old_times),
        "young": statistics.median(young_times),
        "old_size": state_size(engine, old[0][0]),
        "young_size": state_size(engine, young[0][0]),
    }
    engine.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=30)
    ap.add_argument("--loops", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(describe())
    print(
        f"looping process; {args.instances} instances at loop {args.loops} vs "
        f"{args.instances} at loop 1, same database, alternating; {args.rounds} rounds"
    )
    variants = (
        ("warm (step cache)", 1024, True),
        ("cold (state loaded every step)", 0, True),
        ("cold, pruning switched off (SpiffWorkflow keeps every task)", 0, False),
    )
    for label, cache, prune in variants:
        results = []
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                if not prune:
                    pruning.prune = lambda workflow: 0
                try:
                    results.append(run(cache, args.instances, args.loops, Path(tmp)))
                finally:
                    pruning.prune = original_prune
        ratios = [r["old"] / r["young"] for r in results]
        print(f"{label}:")
        print(
            f"  step in loop 1            : "
            f"{statistics.median(r['young'] for r in results) * 1000:6.2f} ms (median)"
        )
        print(
            f"  step in loop {args.loops:<2}           : "
            f"{statistics.median(r['old'] for r in results) * 1000:6.2f} ms (median)"
        )
        print(
            f"  loop {args.loops} / loop 1: median {statistics.median(ratios):.2f} "
            f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)}); target <= 1.3"
        )
        print(
            f"  stored state: {results[0]['young_size']} bytes at loop 1, "
            f"{results[0]['old_size']} bytes at loop {args.loops}"
        )


if __name__ == "__main__":
    main()
