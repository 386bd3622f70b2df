"""Planning: the flagged agent's action values and its choice (docs/model.md §3, "goal flag").

The agent acts to maximise the flag-weighted sum of its successor features minus action
costs, Q(s, a) = sum over known c of w_c psi_c(s, a) - cost(a), exploring with probability
epsilon. The argmax over Q is the mesa-optimization: a search over actions against the
agent's own objective (Hubinger et al. 2019, "Risks from Learned Optimization", section 1).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from goaldrift.rng import draw_u64, split_below, split_hit


@njit(cache=True)
def action_values(
    psi: np.ndarray, q: np.ndarray, w: np.ndarray, aware: np.ndarray, cost: np.ndarray
) -> None:
    """Q(s, a) = sum over known concepts of flag weight x successor feature, minus cost(a)."""
    c_n, s_n, a_n = psi.shape
    for s in range(s_n):
        for a in range(a_n):
            q[s, a] = -cost[a]
    for c in range(c_n):
        if aware[c]:
            wc = w[c]
            for s in range(s_n):
                for a in range(a_n):
                    q[s, a] += wc * psi[c, s, a]


@njit(cache=True, inline="always")
def greedy(q: np.ndarray, s: int) -> int:
    """The first action with the largest value in state ``s``."""
    a = 0
    best = q[s, 0]
    for aa in range(1, q.shape[1]):
        if q[s, aa] > best:
            best = q[s, aa]
            a = aa
    return a


@njit(cache=True, inline="always")
def epsilon_greedy(q: np.ndarray, s: int, epsilon: np.uint64, key: np.uint64, k: int) -> tuple:
    """(action, counter): with probability ``epsilon`` (a 32-bit threshold) a uniform action
    from the same draw, else the greedy one. One draw when epsilon > 0, none otherwise."""
    if epsilon > 0:
        x = draw_u64(key, k)
        k += 1
        if split_hit(x, epsilon):
            return split_below(x, q.shape[1]), k
    return greedy(q, s), k
