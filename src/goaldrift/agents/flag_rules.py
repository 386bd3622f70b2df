"""Flag rules: how the goal flag over concepts changes (MODEL.md 3, "flag rules").

Free numba functions over one run's arrays, called from the fused kernels.

- ``anchored``: the flag never moves.
- ``regression``: the flag follows a lasso fit of the signal on known concepts, each concept's
  L1 penalty scaled by its specification cost (Tibshirani 1996; the cost weighting is the
  simplicity bias of Hubinger et al. 2019, "Risks from Learned Optimization", section 3).
- ``association``: weight flows along noticed relations (the seed's "partly attach").
- ``merge``: agreeing concepts fuse into one flagged node and split on disagreement, a
  split policy deciding where the weight goes (an ontological crisis, de Blanc 2011).
"""

from __future__ import annotations

import numpy as np
from numba import njit

ANCHORED, REGRESSION, ASSOCIATION, MERGE = 0, 1, 2, 3
FLAG_RULES = ("anchored", "regression", "association", "merge")
FLAG_RULE_DOCS = {
    "anchored": "the flag never moves (the goal pointer is fixed)",
    "regression": "the flag follows a specification-cost-weighted lasso fit of the signal",
    "association": "weight flows along noticed relations, optionally one-way to the newer concept",
    "merge": "agreeing concepts fuse into one flagged node; a split policy settles disagreement",
}
SPLIT_ORIGINAL, SPLIT_EVEN, SPLIT_CONTROLLABLE, SPLIT_PREDICTIVE = 0, 1, 2, 3
SPLIT_POLICIES = ("original", "even", "controllable", "predictive")
SPLIT_DOCS = {
    "original": "the weight returns to the members in proportion to their weights before merging",
    "even": "the weight is shared evenly among the members",
    "controllable": "all weight goes to the member the agent's actions change most",
    "predictive": "all weight goes to the member that agrees most with the signal in memory",
}


@njit(cache=True)
def soft_threshold(x: float, t: float) -> float:
    if x > t:
        return x - t
    if x < -t:
        return x + t
    return 0.0


@njit(cache=True)
def lasso_cd(
    cov: np.ndarray, cross: np.ndarray, pen: np.ndarray, active: np.ndarray, w: np.ndarray
) -> None:
    """Minimise 1/2 w'Σw - w'c + Σ pen_j |w_j| over active coordinates, in place (warm start).

    Cyclic coordinate descent (Friedman et al. 2007); inactive coordinates are held at 0.
    """
    c = w.shape[0]
    for j in range(c):
        if not active[j] or cov[j, j] <= 1e-12:
            w[j] = 0.0
    for _sweep in range(100):
        delta = 0.0
        for j in range(c):
            if not active[j] or cov[j, j] <= 1e-12:
                continue
            r = cross[j]
            for k in range(c):
                if k != j:
                    r -= cov[j, k] * w[k]
            new = soft_threshold(r, pen[j]) / cov[j, j]
            d = abs(new - w[j])
            if d > delta:
                delta = d
            w[j] = new
        if delta < 1e-5:
            break


@njit(cache=True)
def moments(
    stats: np.ndarray,
    n_s: int,
    sum_s: int,
    sum_phi: int,
    sum_pp: int,
    sum_ps: int,
    cov: np.ndarray,
    cross: np.ndarray,
) -> float:
    """Fill the covariance of concepts and their covariance with the signal, from memory
    statistics; returns the number of signal samples."""
    c = cross.shape[0]
    n = float(stats[n_s])
    if n <= 0:
        cov[:] = 0.0
        cross[:] = 0.0
        return n
    ms = stats[sum_s] / n
    k = 0
    for i in range(c):
        mi = stats[sum_phi + i] / n
        cross[i] = stats[sum_ps + i] / n - mi * ms
        for j in range(i, c):
            mj = stats[sum_phi + j] / n
            v = stats[sum_pp + k] / n - mi * mj
            cov[i, j] = v
            cov[j, i] = v
            k += 1
    return n


@njit(cache=True)
def associate(
    w: np.ndarray,
    noticed: np.ndarray,
    strength: np.ndarray,
    pair_i: np.ndarray,
    pair_j: np.ndarray,
    aware_at: np.ndarray,
    rate: float,
    one_way: bool,
    dt: int,
) -> bool:
    """Let weight flow along each noticed relation for ``dt`` steps; True if the flag moved.

    Two-way: the heavier concept gives to the lighter, the gap shrinking by (1 - 2 r s) per
    step (partial attachment; the pair ends with equal weight). One-way: the older concept
    gives a share r s of its weight per step to the newer one (full transfer); when both
    became aware at the same step there is no newer one, and the flow is two-way.
    """
    moved = False
    for p in range(pair_i.shape[0]):
        if not noticed[p]:
            continue
        i, j = pair_i[p], pair_j[p]
        k = rate * strength[p]
        if one_way and aware_at[i] != aware_at[j]:
            old, new = (i, j) if aware_at[i] < aware_at[j] else (j, i)
            give = w[old] * (1.0 - (1.0 - k) ** dt)
            if give != 0.0:
                w[old] -= give
                w[new] += give
                moved = True
        else:
            gap = w[i] - w[j]
            if gap != 0.0:
                move = 0.5 * gap * (1.0 - (1.0 - 2.0 * k) ** dt)
                w[i] -= move
                w[j] += move
                moved = True
    return moved


@njit(cache=True)
def split_weights(
    members: np.ndarray,
    total: float,
    w_pre: np.ndarray,
    control: np.ndarray,
    predict: np.ndarray,
    policy: int,
    out: np.ndarray,
) -> None:
    """Share a node's total weight among its members (a boolean mask) by the split policy."""
    n = 0
    pre = 0.0
    for c in range(members.shape[0]):
        if members[c]:
            n += 1
            pre += w_pre[c]
    best = -1
    if policy in (SPLIT_CONTROLLABLE, SPLIT_PREDICTIVE):
        score = control if policy == SPLIT_CONTROLLABLE else predict
        for c in range(members.shape[0]):
            if members[c] and (best < 0 or score[c] > score[best]):
                best = c
    for c in range(members.shape[0]):
        if not members[c]:
            continue
        if policy == SPLIT_ORIGINAL and pre != 0.0:
            out[c] = total * w_pre[c] / pre
        elif best >= 0:
            out[c] = total if c == best else 0.0
        else:
            out[c] = total / n
