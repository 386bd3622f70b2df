"""Awareness: concepts entering the agent's ontology by their schedules (MODEL.md 3)."""

from __future__ import annotations

import numpy as np
from numba import njit


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
