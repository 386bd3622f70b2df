"""Throughput measurements for `goaldrift bench` (never run as timed tests)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numba
import numpy as np

from goaldrift.experiments.runs.runner import run_batch
from goaldrift.experiments.scenarios import Scenario, validate
from goaldrift.threads import max_threads
from goaldrift.worlds.gridworlds import NAMES
from goaldrift.worlds.gridworlds.bench import Measurement, best_of, gridworld_measurements

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


def measurements(
    steps: int = 50_000, repeat: int = 3, most: int | None = None
) -> list[Measurement]:
    """Every row `goaldrift bench` measures, in order: the run kernel (``qa``, ``qa-tamper``,
    ``<world>-agent``) and the gridworlds (``<world>``, ``<world>-step``, ``<world>-gym``), at
    one thread and at ``most`` (default: all numba may use). Nothing runs until measured."""
    threads = sorted({1, max_threads() if most is None else most})
    kernels = [("qa", qa_bench_scenario(steps), BATCH)]
    kernels.append(("qa-tamper", qa_bench_scenario(steps, True), BATCH))
    kernels += [(f"{w}-agent", grid_agent_scenario(w, steps), GRID_BATCH) for w in NAMES]
    rows: list[Measurement] = []
    for name, sc, batch in kernels:

        @functools.cache
        def compiled(sc: Scenario = sc) -> None:
            run_batch(sc, 0, np.arange(2))  # compile outside the clock

        def rate(sc: Scenario = sc, batch: int = batch, compiled: Any = compiled) -> float:
            compiled()
            run = functools.partial(run_batch, sc, 0, np.arange(batch))
            return best_of(repeat, run, batch * sc.total_steps)

        rows += [Measurement(name, t, batch, "agent-steps", rate) for t in threads]
    return rows + gridworld_measurements(threads, repeat)


def bench_all(
    steps: int = 50_000,
    repeat: int = 3,
    only: Sequence[str] = (),
    note: Callable[[str], None] = lambda text: None,
) -> Iterator[dict[str, Any]]:
    """Yield one row per (benchmark, thread count): agent- or env-steps per second, best of
    ``repeat``. ``only``: names or name prefixes of the rows to run (none: all); ``note``
    hears which row of how many is being measured, before it is."""
    rows = [
        m
        for m in measurements(steps, repeat)
        if not only or any(m.name.startswith(p) for p in only)
    ]
    before = numba.get_num_threads()
    try:
        for i, m in enumerate(rows, 1):
            note(f"[{i}/{len(rows)}] {m.name}, {m.threads} thread{'s' if m.threads > 1 else ''}")
            numba.set_num_threads(m.threads)
            per_s = m.rate()
            yield {
                "name": m.name,
                "threads": m.threads,
                "batch": m.batch,
                "per_s": round(per_s),
                "unit": m.unit,
            }
    finally:
        numba.set_num_threads(before)
