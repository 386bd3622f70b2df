"""Awareness: concepts entering the agent's ontology by their schedules (docs/model.md §3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit

from goaldrift.rng import run_generator


def schedule_arrays(
    awareness: Any, names: Sequence[str], seed: int, runs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The schedules of ``awareness`` (one per concept name) as the kernels read them: per
    run and concept the step at which it enters, and per concept the training compute at
    which it enters (-1: no such trigger). A hazard's step is drawn from the run's own
    generator, so it depends only on (seed, run)."""
    aware_step = np.full((len(runs), len(names)), -1, np.int64)
    compute_need = np.full(len(names), -1, np.int64)
    for ci, name in enumerate(names):
        sch = getattr(awareness, name)
        if sch.schedule == "start":
            aware_step[:, ci] = 0
        elif sch.schedule == "step":
            aware_step[:, ci] = sch.at
        elif sch.schedule == "hazard":
            for i, r in enumerate(runs):
                rng = run_generator(seed, int(r), purpose=1 + ci)
                aware_step[i, ci] = int(rng.geometric(sch.rate)) - 1
        elif sch.schedule == "compute":
            compute_need[ci] = sch.compute
    return aware_step, compute_need


@njit(cache=True, inline="always")
def enter_due(
    step: int,
    compute: int,
    aware: np.ndarray,
    aware_at: np.ndarray,
    ev_aware: np.ndarray,
    aware_step: np.ndarray,
    compute_need: np.ndarray,
) -> int:
    """Make aware every concept whose schedule has fired by ``step`` (a step at or after
    ``aware_step``, or ``compute`` at or above ``compute_need``; -1 means no such trigger).
    Records the step and the first-awareness event; returns how many concepts entered."""
    entered = 0
    for c in range(aware.shape[0]):
        if aware[c]:
            continue
        at = aware_step[c]
        need = compute_need[c]
        if (at >= 0 and step >= at) or (need >= 0 and compute >= need):
            aware[c] = 1
            aware_at[c] = step
            if ev_aware[c] < 0:
                ev_aware[c] = step
            entered += 1
    return entered
