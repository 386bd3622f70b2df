"""Throughput of the gridworlds for `goaldrift bench` (never run as timed tests).

Rows: ``<world>``: the batched core, 1024 environments, uniformly random actions drawn inside
the kernel, every step rendering the observation (``GridBatch.rollout``); ``<world>-step``: the
same batch stepped from Python one ``GridBatch.step`` call at a time (pre-drawn actions), the
native vector env's path (one thread is its default); ``<world>-gym``: one Gymnasium
environment stepped from Python (pre-drawn actions, reset at episode ends). Best of
``repeat``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from importlib import import_module
from typing import Any, NamedTuple

import numpy as np

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


class Measurement(NamedTuple):
    """One row of `goaldrift bench`: ``rate()`` measures it (units per second, best of the
    repeats) on ``threads`` numba threads; compiling happens before the clock starts."""

    name: str
    threads: int
    batch: int
    unit: str
    rate: Callable[[], float]


def best_of(repeat: int, run: Callable[[], Any], work: int) -> float:
    """``work / seconds`` of the fastest of ``repeat`` calls of ``run``."""
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = max(best, work / (time.perf_counter() - t0))
    return best


def gridworld_measurements(
    threads: list[int],
    repeat: int = 3,
    steps: int = 2000,
    step_calls: int = 200,
    gym_steps: int = 50_000,
) -> list[Measurement]:
    """The gridworld rows, per world: ``<world>`` and ``<world>-step`` at each thread count of
    ``threads``, then ``<world>-gym``. Nothing is built or compiled until a row is measured."""
    actions = np.random.default_rng(0).integers(0, 4, (step_calls, BATCH))
    rows: list[Measurement] = []
    for name, batch_cls, env_cls in WORLDS:

        @functools.cache
        def ready(cls: type[GridBatch] = batch_cls) -> GridBatch:
            batch = cls(BATCH)
            batch.reset()
            batch.rollout(2)  # compile outside the clock
            batch.step(actions[0])
            return batch

        def rollout(ready: Any = ready) -> float:
            b = ready()
            return best_of(repeat, lambda: b.rollout(steps), BATCH * steps)

        def stepped(ready: Any = ready) -> float:
            b = ready()

            def run() -> None:
                for a in actions:
                    b.step(a)

            return best_of(repeat, run, BATCH * step_calls)

        for t in threads:
            rows.append(Measurement(name, t, BATCH, "env-steps", rollout))
            rows.append(Measurement(f"{name}-step", t, BATCH, "env-steps", stepped))
        gym = functools.partial(_gym_rate, env_cls, repeat, gym_steps)
        rows.append(Measurement(f"{name}-gym", 1, 1, "env-steps", gym))
    return rows


def _gym_rate(env_cls: Callable[[], GridEnv], repeat: int, n: int) -> float:
    env = env_cls()
    acts = np.random.default_rng(0).integers(0, 4, n).tolist()
    env.reset(seed=0)

    def run() -> None:
        for a in acts:
            _obs, _r, term, trunc, _info = env.step(a)
            if term or trunc:
                env.reset()

    return best_of(repeat, run, n)
