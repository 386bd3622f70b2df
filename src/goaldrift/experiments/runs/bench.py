"""Throughput measurements for `goaldrift bench` (never run as timed tests)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numba
import numpy as np

from goaldrift.experiments.runs.runner import run_batch
from goaldrift.experiments.scenarios import Scenario, validate
from goaldrift.threads import max_threads
from goaldrift.worlds.gridworlds import NAMES

BATCH = 1024


def qa_bench_scenario(steps: int, tamper: bool = False) -> Scenario:
    """Register QA with the flagged agent under the regression rule in a supervised phase:
    X, Y and the proxy known, noisy labels (the set-up of the diverse-data-compute story).
    ``tamper`` adds the `tampered` concept and register access (a fourth successor feature
    and an extra random draw per step): the heaviest configuration."""
    start = {"schedule": "start"}
    known = ["correct", "register_match", "proxy"] + (["tampered"] if tamper else [])
    return validate(
        {
            "name": "bench-qa",
            "world": {"noise": 0.1, "diversity": 0.5, "access": 0.1 if tamper else 0.0},
            "agent": {"flag_rule": "regression", "awareness": dict.fromkeys(known, start)},
            "phases": [{"name": "train", "steps": steps}],
            "sample_every": 1000,
        }
    )


GRID_BATCH = 256


def grid_agent_scenario(world: str, steps: int) -> Scenario:
    """A gridworld with the flagged agent under the regression rule, both reward concepts
    known from the start: the run kernel's gridworld path (world hooks, discounted successor
    features, value memory)."""
    start = {"schedule": "start"}
    return validate(
        {
            "name": f"bench-{world}",
            "world": {"kind": world},
            "agent": {
                "flag_rule": "regression",
                "awareness": {"hidden": start, "observed": start},
            },
            "phases": [{"name": "train", "steps": steps}],
            "sample_every": 1000,
        }
    )


def _measure(sc: Scenario, batch: int, repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        run_batch(sc, 0, np.arange(batch))
        dt = time.perf_counter() - t0
        best = max(best, batch * sc.total_steps / dt)
    return best


def bench_all(
    steps: int = 50_000,
    repeat: int = 3,
    only: Sequence[str] = (),
    note: Callable[[str], None] = lambda text: None,
) -> Iterator[dict[str, Any]]:
    """Yield one row per (benchmark, thread count): agent-steps per second, best of
    ``repeat``. ``only``: names or name prefixes of the rows to run (none: all); ``note``
    hears what is being measured."""

    def wanted(name: str) -> bool:
        return not only or any(name.startswith(p) for p in only)

    most = max_threads()
    before = numba.get_num_threads()
    try:
        rows = [("qa", qa_bench_scenario(steps), BATCH)]
        rows.append(("qa-tamper", qa_bench_scenario(steps, True), BATCH))
        for world in NAMES:
            rows.append((f"{world}-agent", grid_agent_scenario(world, steps), GRID_BATCH))
        for name, sc, batch in rows:
            if not wanted(name):
                continue
            note(f"{name}: compiling and measuring")
            run_batch(sc, 0, np.arange(2))  # compile outside the clock
            for threads in sorted({1, most}):
                numba.set_num_threads(threads)
                per_s = _measure(sc, batch, repeat)
                yield {
                    "name": name,
                    "threads": threads,
                    "batch": batch,
                    "per_s": round(per_s),
                    "unit": "agent-steps",
                }
    finally:
        numba.set_num_threads(before)
    from goaldrift.worlds.gridworlds.bench import bench_gridworlds

    worlds = [w for w in NAMES if not only or any(w.startswith(p) or p.startswith(w) for p in only)]
    for world in worlds:
        note(f"{world}: environment steps (batched core, from Python, one Gymnasium env)")
        yield from (row for row in bench_gridworlds(repeat, worlds=[world]) if wanted(row["name"]))
