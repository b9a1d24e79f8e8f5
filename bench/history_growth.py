"""Does a step get slower as an instance ages? Loop 30 (ten years of tertials) vs loop 1.

A looping process (report -> tally -> loop back) runs in several instances side by side; every
loop's completions are timed, and loop 30 is compared with loop 1 in the same run. Both the
warm path (the instance's workflow is in the step cache) and the cold path (every step loads
the state from the database, as after a restart or in another worker) are measured, and the
stored state's size is printed: it must not grow with age.

    .venv/bin/python bench/history_growth.py [--instances 20] [--loops 30]

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

from sqlalchemy import func, select

from engine import Actor, Engine, pruning
from engine.bundle import Bundle
from engine.models import ProcessInstance
from tests.diagrams import loop

original_prune = pruning.prune


def run(cache_size: int, instances: int, loops: int, folder: Path) -> tuple[list[float], list[int]]:
    engine = Engine(f"sqlite:///{folder / f'growth{cache_size}.sqlite'}", cache_size=cache_size)
    actor = Actor("bench", admin=True)
    engine.repository.deploy(
        Bundle.from_files({"loop.bpmn": loop("tertial").xml().encode()}), actor
    )
    pending = [
        engine.runtime.start("tertial", {"rounds": loops + 1}, actor).created_tasks[0]
        for _ in range(instances)
    ]
    per_loop, sizes = [], []
    for _ in range(loops):
        t0 = time.perf_counter()
        pending = [
            engine.tasks.complete(task_id, {"status": "green"}, actor).created_tasks[0]
            for task_id in pending
        ]
        per_loop.append((time.perf_counter() - t0) / instances)
        with engine.db.read() as session:
            sizes.append(
                session.scalar(select(func.avg(func.length(ProcessInstance.workflow_state))))
            )
    engine.close()
    return per_loop, [int(s) for s in sizes]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=30)
    ap.add_argument("--loops", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(
        f"looping process, {args.instances} instances x {args.loops} loops, "
        f"{args.rounds} rounds; each completion its own transaction on a SQLite file"
    )
    variants = (
        ("warm (step cache)", 256, True),
        ("cold (state loaded every step)", 0, True),
        ("cold, pruning switched off (SpiffWorkflow keeps every task)", 0, False),
    )
    for label, cache, prune in variants:
        ratios, firsts, lasts = [], [], []
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                if not prune:
                    pruning.prune = lambda workflow: 0
                try:
                    per_loop, sizes = run(cache, args.instances, args.loops, Path(tmp))
                finally:
                    pruning.prune = original_prune
            # Medians of the first three and the last three loops: one slow loop (the
            # machine is shared) should not decide the ratio.
            first, last = statistics.median(per_loop[:3]), statistics.median(per_loop[-3:])
            ratios.append(last / first)
            firsts.append(first)
            lasts.append(last)
        print(f"{label}:")
        print(f"  step, loops 1-3  : {statistics.median(firsts) * 1000:6.2f} ms")
        print(f"  step, last 3 loops: {statistics.median(lasts) * 1000:6.2f} ms")
        print(
            f"  late / early: median "
            f"{statistics.median(ratios):.2f} (rounds: "
            f"{', '.join(f'{r:.2f}' for r in ratios)}); target <= 1.3"
        )
        print(
            f"  stored state: {sizes[0]} bytes after loop 1, {sizes[-1]} bytes after loop "
            f"{args.loops}"
        )


if __name__ == "__main__":
    main()
