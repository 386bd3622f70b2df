"""Flag rules: how the goal flag over concepts changes (docs/model.md §3, "flag rules").

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

from collections import namedtuple

import numpy as np
from numba import njit

from goaldrift.agents.memory import (
    memory_fit_moments,
    memory_signal_agreement,
    memory_signal_samples,
)

# Every function here allocates nothing (scratch comes in ``RuleWork``): the run kernel calls
# them from code compiled without reference counting, and numba compiles callees alike.

ANCHORED, REGRESSION, ASSOCIATION, MERGE = 0, 1, 2, 3
FLAG_RULES = ("anchored", "regression", "association", "merge")
FLAG_RULE_DOCS = {
    "anchored": "the flag never moves (the goal pointer is fixed)",
    "regression": "the flag follows a specification-cost-weighted lasso fit of the signal",
    "association": "weight flows along noticed relations, optionally one-way to the newer concept",
    "merge": "agreeing concepts fuse into one flagged node; a split policy settles disagreement",
}
# ev_other columns: the first step of each event the rules (and tampering) record
EV_TAMPER, EV_MERGE, EV_SPLIT, EV_FLAG_MOVED = range(4)
EVENTS_OTHER = ("tamper", "merge", "split", "flag_moved")

RuleKnobs = namedtuple(
    "RuleKnobs",
    [
        "rule",  # index in FLAG_RULES
        "pen",  # (C,) float64: regression's L1 penalty per concept, l1 x specification cost
        "half_compute",  # regression: compute at which the penalty has halved (0: constant)
        "fit_every",  # regression: steps between refits
        "min_samples",  # regression: signal samples in memory needed to fit
        "rate",  # regression: share of the way to the fit per refit
        "assoc_rate",  # association: flow per step per unit of relation strength
        "one_way",  # association: flow only toward the newer concept
        "merge_threshold",  # merge: agreement that fuses
        "split_threshold",  # merge: agreement below which a node splits
        "split",  # merge: index in SPLIT_POLICIES
    ],
)

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
    cov: np.ndarray,
    cross: np.ndarray,
    pen: np.ndarray,
    w: np.ndarray,
    out: np.ndarray,
    aug: np.ndarray,
    idx: np.ndarray,
) -> bool:
    """Solve the stationarity equations on the support and signs of ``w`` (Gaussian
    elimination with partial pivoting); False if that system is singular. ``aug`` (C, C+1)
    and ``idx`` (C,) are scratch."""
    n = 0
    for j in range(w.shape[0]):
        if w[j] != 0.0:
            idx[n] = j
            n += 1
    out[:] = 0.0
    if n == 0:
        return True
    m = aug
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
def lasso_fit(
    cov: np.ndarray,
    cross: np.ndarray,
    pen: np.ndarray,
    active: np.ndarray,
    w: np.ndarray,
    trial: np.ndarray,
    aug: np.ndarray,
    idx: np.ndarray,
) -> None:
    """Minimise 1/2 w'Σw - w'c + Σ pen_j |w_j| over active coordinates, in place (warm start).

    Cyclic coordinate descent (Friedman et al. 2007) finds the support and signs; an exact
    solve on that support then finishes the job, accepted only if it satisfies the optimality
    (KKT) conditions. Coordinate descent alone crawls when concepts are nearly collinear (X and
    Y agree but for label noise), which is exactly the case this model is about. Inactive
    coordinates are held at 0. ``trial`` (C,), ``aug`` (C, C+1) and ``idx`` (C,) are scratch.
    """
    c = w.shape[0]
    for j in range(c):
        if not _usable(cov, active, j):
            w[j] = 0.0
    trial[:] = 0.0
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
        if _solve_on_support(cov, cross, pen, w, trial, aug, idx):
            consistent = True
            for j in range(c):
                if w[j] != 0.0 and np.sign(trial[j]) != np.sign(w[j]):
                    consistent = False
            if consistent and kkt_violation(cov, cross, pen, active, trial) < 1e-9:
                for j in range(c):
                    w[j] = trial[j]
                return


@njit(cache=True)
def lasso_cd(
    cov: np.ndarray, cross: np.ndarray, pen: np.ndarray, active: np.ndarray, w: np.ndarray
) -> None:
    """``lasso_fit`` with its own scratch arrays."""
    c = w.shape[0]
    lasso_fit(cov, cross, pen, active, w, np.zeros(c), np.zeros((c, c + 1)), np.zeros(c, np.int64))


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
def node_size(node: np.ndarray, root: int) -> int:
    """How many concepts node ``root`` holds."""
    n = 0
    for c in range(node.shape[0]):
        if node[c] == root:
            n += 1
    return n


@njit(cache=True)
def broken_node(
    node: np.ndarray, strength: np.ndarray, pair_i: np.ndarray, pair_j: np.ndarray, split_thr: float
) -> int:
    """The first node with a member pair whose relation strength (agreement at the last
    relation update; -1 while never judged) fell below ``split_thr``, or -1."""
    for root in range(node.shape[0]):
        if node_size(node, root) < 2:
            continue
        for p in range(pair_i.shape[0]):
            inside = node[pair_i[p]] == root and node[pair_j[p]] == root
            if inside and 0.0 <= strength[p] < split_thr:
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
    members: np.ndarray,
    out: np.ndarray,
) -> None:
    """Split node ``root`` into single concepts, sharing its weight by the split policy.
    ``members`` (bool) and ``out`` (float64) are scratch of one slot per concept."""
    total = 0.0
    for c in range(w.shape[0]):
        members[c] = node[c] == root
        out[c] = 0.0
        if members[c]:
            total += w[c]
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
                if node_size(node, node[c]) == 1:
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
def controllability(psi: np.ndarray, out: np.ndarray) -> None:
    """Per concept, into ``out``: how much the agent's action changes its expected value
    (max - min of psi over actions), mean over states; the `controllable` split policy's
    score."""
    c_n, s_n, a_n = psi.shape
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


@njit(cache=True)
def top_concept(w: np.ndarray) -> int:
    """The concept with the largest flag weight (the first on ties)."""
    best = 0
    for c in range(1, w.shape[0]):
        if w[c] > w[best]:
            best = c
    return best


@njit(cache=True)
def merge_and_split(step, w, node, w_pre, aware, strength, pair_i, pair_j, rules, psi, memory,
                    r, mc, events, work):  # fmt: skip
    """The ``merge`` rule: first split every node with a member pair whose agreement fell
    below the split threshold (the split policy reads controllability from psi and
    predictiveness from the memory), then fuse agreeing nodes. ``events``: the run's
    ev_other row; ``work``: the kernel's scratch (``RULE_SCRATCH``). True if the flag changed."""
    changed = False
    root = broken_node(node, strength, pair_i, pair_j, rules.split_threshold)
    while root >= 0:
        predict, control = work.predict[r], work.control[r]
        for c in range(predict.shape[0]):
            predict[c] = -1.0
        memory_signal_agreement(memory, r, mc, predict)
        controllability(psi, control)
        split_node(root, node, w, w_pre, control, predict, rules.split, work.members[r],
                   work.share[r])  # fmt: skip
        if events[EV_SPLIT] < 0:
            events[EV_SPLIT] = step
        changed = True
        root = broken_node(node, strength, pair_i, pair_j, rules.split_threshold)
    if merge_agreeing(w, node, w_pre, aware, strength, pair_i, pair_j, rules.merge_threshold):
        if events[EV_MERGE] < 0:
            events[EV_MERGE] = step
        changed = True
    return changed


@njit(cache=True)
def refit(w, w_fit, aware, rules, compute, memory, r, mc, work):
    """The ``regression`` rule's refit: a lasso fit of the signal on the known concepts over
    the memory, on standardised concepts and signal (``memory.standardise``), the L1 penalty
    shrinking as 1 / (1 + compute / half_compute); the fit b becomes weights per unit of each
    concept, b_c sd(signal) / sd(c), and the flag moves ``rate`` of the way to them.
    ``work``: the kernel's scratch (``RULE_SCRATCH``). True if it moved."""
    if memory_signal_samples(memory, r, mc) < rules.min_samples:
        return False
    cov, cross, sd, pen = work.cov[r], work.cross[r], work.sd[r], work.pen[r]
    sd_s = memory_fit_moments(memory, r, mc, cov, cross, sd, work.mean[r], work.raw[r])
    if not sd_s > 0.0:
        return False
    half = rules.half_compute
    shrink = 1.0 if half <= 0 else 1.0 / (1.0 + compute / half)
    for c in range(w.shape[0]):
        pen[c] = rules.pen[c] * shrink
    lasso_fit(cov, cross, pen, aware, w_fit, work.trial[r], work.aug[r], work.idx[r])
    for c in range(w.shape[0]):
        if aware[c]:
            target = w_fit[c] * sd_s / sd[c] if sd[c] > 0.0 else 0.0
            w[c] += np.float32(rules.rate) * (np.float32(target) - w[c])
    return True


@njit(cache=True)
def revise_flag(step, at_rel, at_fit, signal, agent, knobs, rules, memory, r, mc, events,
                work):  # fmt: skip
    """Let the flag rule move run ``r``'s flag after a step: ``association`` and ``merge`` at
    relation updates (on the relations noticed so far), ``regression`` at refits while a
    signal is present. ``agent``: ``AgentState``. True if the flag moved."""
    rule = rules.rule
    w, aware = agent.w[r], agent.aware[r]
    changed = False
    if at_rel:
        if rule == ASSOCIATION:
            changed = associate(
                w, agent.noticed[r], agent.strength[r], knobs.pair_i, knobs.pair_j,
                agent.aware_at[r], rules.assoc_rate, rules.one_way, knobs.relation_every,
            )  # fmt: skip
        elif rule == MERGE:
            changed = merge_and_split(
                step, w, agent.node[r], agent.w_pre[r], aware, agent.strength[r], knobs.pair_i,
                knobs.pair_j, rules, agent.psi[r], memory, r, mc, events, work,
            )  # fmt: skip
    if rule == REGRESSION and signal and at_fit:
        changed = refit(w, agent.w_fit[r], aware, rules, agent.compute[r], memory, r, mc,
                        work) or changed  # fmt: skip
    return changed


# The scratch arrays the rules write into, one row per run (the kernel's ``Work`` bundle has
# these fields among others): name -> shape after the run axis, for C concepts.
RULE_SCRATCH = {
    "cov": "C C",  # the regression's moments
    "cross": "C",
    "sd": "C",  # each concept's scale
    "pen": "C",  # the penalty after shrinking
    "trial": "C",  # the lasso's exact solve
    "aug": "C C+1",  # its augmented matrix
    "idx": "C int",  # its support
    "mean": "C",  # moments' scratch
    "raw": "C C",
    "predict": "C",  # the predictive split's scores
    "control": "C",  # the controllable split's scores
    "members": "C bool",  # a node's members
    "share": "C",  # their shares
}
