"""Throughput of the gridworlds for `goaldrift bench` (never run as timed tests).

Rows: ``<world>``: the batched core, 1024 environments, uniformly random actions drawn inside
the kernel, every step rendering the observation (``GridBatch.rollout``); ``<world>-step``: the
same batch stepped from Python one ``GridBatch.step`` call at a time (pre-drawn actions);
``<world>-gym``: one Gymnasium environment stepped from Python (pre-drawn actions, reset at
episode ends). Best of ``repeat``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

import numba
import numpy as np

from goaldrift.threads import max_threads
from goaldrift.worlds.gridworlds import NAMES
from goaldrift.worlds.gridworlds import gym as grid_gym
from goaldrift.worlds.gridworlds.core import GridBatch
from goaldrift.worlds.gridworlds.gridworld import camel
from goaldrift.worlds.gridworlds.gym import GridEnv

BATCH = 1024
# every gridworld: its batched core ``<Stem>Batch`` (in its module) and Gymnasium env ``<Stem>Env``
WORLDS: tuple[tuple[str, type[GridBatch], Callable[[], GridEnv]], ...] = tuple(
    (
        name,
        getattr(import_module(f"goaldrift.worlds.gridworlds.{name}"), f"{camel(name)}Batch"),
        getattr(grid_gym, f"{camel(name)}Env"),
    )
    for name in NAMES
)


def _best(repeat: int, run: Any, work: int) -> float:
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = max(best, work / (time.perf_counter() - t0))
    return best


def _row(name: str, threads: int, batch: int, per_s: float) -> dict[str, Any]:
    return {
        "name": name,
        "threads": threads,
        "batch": batch,
        "per_s": round(per_s),
        "unit": "env-steps",
    }


def bench_gridworlds(
    repeat: int = 3,
    steps: int = 2000,
    step_calls: int = 200,
    gym_steps: int = 50_000,
    worlds: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """One row per (benchmark, thread count): environment steps per second, for ``worlds``
    (default: all)."""
    rows: list[dict[str, Any]] = []
    before = numba.get_num_threads()
    actions = np.random.default_rng(0).integers(0, 4, (step_calls, BATCH))
    try:
        for name, batch_cls, env_cls in WORLDS:
            if worlds is not None and name not in worlds:
                continue
            batch = batch_cls(BATCH)
            batch.reset()
            batch.rollout(2)  # compile outside the clock
            batch.step(actions[0])

            def steps_from_python(b: GridBatch = batch) -> None:
                for a in actions:
                    b.step(a)

            for threads in sorted({1, max_threads()}):
                numba.set_num_threads(threads)
                per_s = _best(repeat, lambda b=batch: b.rollout(steps), BATCH * steps)
                rows.append(_row(name, threads, BATCH, per_s))
                per_s = _best(repeat, steps_from_python, BATCH * step_calls)
                rows.append(_row(f"{name}-step", threads, BATCH, per_s))
            rows.append(_row(f"{name}-gym", 1, 1, _gym_rate(env_cls(), repeat, gym_steps)))
    finally:
        numba.set_num_threads(before)
    return rows


def _gym_rate(env: GridEnv, repeat: int, n: int) -> float:
    acts = np.random.default_rng(0).integers(0, 4, n).tolist()
    env.reset(seed=0)

    def run() -> None:
        for a in acts:
            _obs, _r, term, trunc, _info = env.step(a)
            if term or trunc:
                env.reset()

    return _best(repeat, run, n)
