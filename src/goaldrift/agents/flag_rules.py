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
    "original": "the weight returns to the members in proportion to their (positive) weights "
    "before merging",
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
def _usable(cov: np.ndarray, active: np.ndarray, j: int) -> bool:
    return bool(active[j]) and cov[j, j] > 1e-12


@njit(cache=True)
def kkt_violation(
    cov: np.ndarray, cross: np.ndarray, pen: np.ndarray, active: np.ndarray, w: np.ndarray
) -> float:
    """The largest violation of the lasso optimality conditions at ``w`` (0 at the minimum)."""
    worst = 0.0
    for j in range(w.shape[0]):
        if not _usable(cov, active, j):
            continue
        g = -cross[j]
        for k in range(w.shape[0]):
            g += cov[j, k] * w[k]
        if w[j] > 0.0:
            v = abs(g + pen[j])
        elif w[j] < 0.0:
            v = abs(g - pen[j])
        else:
            v = max(0.0, abs(g) - pen[j])
        worst = max(worst, v)
    return worst


@njit(cache=True)
def _solve_on_support(
    cov: np.ndarray, cross: np.ndarray, pen: np.ndarray, w: np.ndarray, out: np.ndarray
) -> bool:
    """Solve the stationarity equations on the support and signs of ``w`` (Gaussian
    elimination with partial pivoting); False if that system is singular."""
    idx = np.nonzero(w)[0]
    n = idx.shape[0]
    out[:] = 0.0
    if n == 0:
        return True
    m = np.zeros((n, n + 1))
    for a in range(n):
        for b in range(n):
            m[a, b] = cov[idx[a], idx[b]]
        m[a, n] = cross[idx[a]] - pen[idx[a]] * np.sign(w[idx[a]])
    for col in range(n):
        piv = col
        for r in range(col + 1, n):
            if abs(m[r, col]) > abs(m[piv, col]):
                piv = r
        if abs(m[piv, col]) < 1e-12:
            return False
        if piv != col:
            for k in range(n + 1):
                m[col, k], m[piv, k] = m[piv, k], m[col, k]
        for r in range(n):
            if r != col:
                f = m[r, col] / m[col, col]
                for k in range(col, n + 1):
                    m[r, k] -= f * m[col, k]
    for a in range(n):
        out[idx[a]] = m[a, n] / m[a, a]
    return True


@njit(cache=True)
def lasso_cd(
    cov: np.ndarray, cross: np.ndarray, pen: np.ndarray, active: np.ndarray, w: np.ndarray
) -> None:
    """Minimise 1/2 w'Σw - w'c + Σ pen_j |w_j| over active coordinates, in place (warm start).

    Cyclic coordinate descent (Friedman et al. 2007) finds the support and signs; an exact
    solve on that support then finishes the job, accepted only if it satisfies the optimality
    (KKT) conditions. Coordinate descent alone crawls when concepts are nearly collinear (X and
    Y agree but for label noise), which is exactly the case this model is about. Inactive
    coordinates are held at 0.
    """
    c = w.shape[0]
    for j in range(c):
        if not _usable(cov, active, j):
            w[j] = 0.0
    trial = np.zeros(c)
    for _round in range(1000):
        for _sweep in range(3):
            delta = 0.0
            for j in range(c):
                if not _usable(cov, active, j):
                    continue
                r = cross[j]
                for k in range(c):
                    if k != j:
                        r -= cov[j, k] * w[k]
                new = soft_threshold(r, pen[j]) / cov[j, j]
                delta = max(delta, abs(new - w[j]))
                w[j] = new
            if delta < 1e-12:
                break
        if kkt_violation(cov, cross, pen, active, w) < 1e-9:
            return
        if _solve_on_support(cov, cross, pen, w, trial):
            consistent = True
            for j in range(c):
                if w[j] != 0.0 and np.sign(trial[j]) != np.sign(w[j]):
                    consistent = False
            if consistent and kkt_violation(cov, cross, pen, active, trial) < 1e-9:
                w[:] = trial
                return


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
            move = 0.5 * (w[i] - w[j]) * (1.0 - (1.0 - 2.0 * k) ** dt)
            if move != 0.0:
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
            pre += max(w_pre[c], 0.0)
    best = -1
    if policy in (SPLIT_CONTROLLABLE, SPLIT_PREDICTIVE):
        score = control if policy == SPLIT_CONTROLLABLE else predict
        for c in range(members.shape[0]):
            if members[c] and (best < 0 or score[c] > score[best]):
                best = c
    for c in range(members.shape[0]):
        if not members[c]:
            continue
        if policy == SPLIT_ORIGINAL and pre > 0.0:
            out[c] = total * max(w_pre[c], 0.0) / pre
        elif best >= 0:
            out[c] = total if c == best else 0.0
        else:
            out[c] = total / n


@njit(cache=True)
def broken_node(
    node: np.ndarray, strength: np.ndarray, pair_i: np.ndarray, pair_j: np.ndarray, split_thr: float
) -> int:
    """The first node with a member pair whose relation strength (agreement at the last
    relation update; -1 while never judged) fell below ``split_thr``, or -1."""
    for root in range(node.shape[0]):
        members = node == root
        if members.sum() < 2:
            continue
        for p in range(pair_i.shape[0]):
            if members[pair_i[p]] and members[pair_j[p]] and 0.0 <= strength[p] < split_thr:
                return root
    return -1


@njit(cache=True)
def split_node(
    root: int,
    node: np.ndarray,
    w: np.ndarray,
    w_pre: np.ndarray,
    control: np.ndarray,
    predict: np.ndarray,
    policy: int,
) -> None:
    """Split node ``root`` into single concepts, sharing its weight by the split policy."""
    members = node == root
    total = 0.0
    for c in range(w.shape[0]):
        if members[c]:
            total += w[c]
    out = np.zeros(w.shape[0])
    split_weights(members, total, w_pre, control, predict, policy, out)
    for c in range(w.shape[0]):
        if members[c]:
            w[c] = out[c]
            node[c] = c


@njit(cache=True)
def merge_agreeing(
    w: np.ndarray,
    node: np.ndarray,
    w_pre: np.ndarray,
    aware: np.ndarray,
    strength: np.ndarray,
    pair_i: np.ndarray,
    pair_j: np.ndarray,
    merge_thr: float,
) -> bool:
    """Fuse, in pair order, the nodes of known concepts whose relation strength reaches
    ``merge_thr``; the node shares its total weight evenly. ``w_pre`` keeps the weight each
    concept had when it first joined a node. True if anything fused."""
    c_n = w.shape[0]
    merged = False
    for p in range(pair_i.shape[0]):
        i, j = pair_i[p], pair_j[p]
        if not (aware[i] and aware[j]) or node[i] == node[j] or strength[p] < merge_thr:
            continue
        a, b = node[i], node[j]
        root = min(a, b)
        total = 0.0
        n = 0
        for c in range(c_n):
            if node[c] == a or node[c] == b:
                if (node == node[c]).sum() == 1:
                    w_pre[c] = w[c]
                total += w[c]
                n += 1
        for c in range(c_n):
            if node[c] == a or node[c] == b:
                node[c] = root
        for c in range(c_n):
            if node[c] == root:
                w[c] = total / n
        merged = True
    return merged


@njit(cache=True)
def controllability(psi: np.ndarray) -> np.ndarray:
    """Per concept: how much the agent's action changes its expected value (max - min of
    psi over actions), mean over states; the `controllable` split policy's score."""
    c_n, s_n, a_n = psi.shape
    out = np.zeros(c_n)
    for c in range(c_n):
        tot = 0.0
        for s in range(s_n):
            lo = psi[c, s, 0]
            hi = psi[c, s, 0]
            for a in range(1, a_n):
                lo = min(lo, psi[c, s, a])
                hi = max(hi, psi[c, s, a])
            tot += hi - lo
        out[c] = tot / s_n
    return out


@njit(cache=True)
def top_concept(w: np.ndarray) -> int:
    """The concept with the largest flag weight (the first on ties)."""
    best = 0
    for c in range(1, w.shape[0]):
        if w[c] > w[best]:
            best = c
    return best
