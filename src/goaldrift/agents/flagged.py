"""The flagged world-model agent (docs/model.md §3): its state, its knobs and the parts of its step.

One step of the agent, in the order the run kernel (``experiments/runs/kernel.py``) calls them
and docs/model.md describes them:

1. awareness: concepts enter the ontology by their schedules (``awareness.enter_due``);
2. act: epsilon-greedy on Q = sum over known c of w_c psi_c - cost (``planning``);
3. learn: successor features of the known concepts move toward the step's concept values,
   by TD(0) with discount gamma toward the greedy next action (gamma = 0: a one-step world);
4. remember: the step's concept values and signal go into the replay memory (``memory``);
5. relations: every ``relation_every`` steps, pairwise agreement of known concepts over the
   memory; a relation is noticed at evidence >= n_min and agreement >= tau (``judge``);
6. flag rule: the flag moves by the agent's rule (``flag_rules.revise_flag``), and the action
   values are recomputed.

Tabular Q-learning is this agent with one known concept, the register, flagged 1: its
successor feature is then exactly Q (Watkins 1989).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from goaldrift.agents.memory import memory_agreement, memory_evidence
from goaldrift.agents.planning import greedy
from goaldrift.agents.values import value

AgentState = namedtuple(
    "AgentState",
    [
        "psi",  # (B, C, S, A) float32: successor features
        "q",  # (B, S, A) float32: action values under the current flag
        "w",  # (B, C) float32: the flag
        "w_fit",  # (B, C) float64: the regression rule's last fit (its warm start)
        "w_pre",  # (B, C) float32: each concept's weight before it joined a merged node
        "node",  # (B, C) int64: the merged node each concept belongs to (itself if none)
        "top0",  # (B,) int32: the concept with the largest initial weight
        "aware",  # (B, C) uint8: the ontology
        "aware_at",  # (B, C) int64: the step each concept entered it
        "aware_step",  # (B, C) int64: the step each concept is due to enter (-1: not by step)
        "compute",  # (B,) int64: training steps spent (steps with a signal that trained)
        "noticed",  # (B, P) uint8: relations noticed
        "strength",  # (B, P): agreement at the last relation update (-1: never judged)
    ],
)

AgentKnobs = namedtuple(
    "AgentKnobs",
    [
        "alpha",  # TD step
        "gamma",  # discount (0: no bootstrap)
        "cost",  # (A,) float32: the cost of each action (Register QA: writing the register)
        "relation_every",  # steps between relation updates
        "n_min",  # evidence needed to judge a relation
        "tau",  # agreement at which a relation is noticed
        "compute_need",  # (C,) int64: compute at which each concept enters (-1: not by compute)
        "pair_i",  # (P,) int64: first concept of each pair
        "pair_j",  # (P,) int64: second concept of each pair
    ],
)


@njit(cache=True, inline="always")
def learn(psi, q, w, aware, knobs, s, a, s2, term, phi):
    """TD(0) on the successor feature of every known concept at (s, a): toward the step's
    value (undefined counts as 0), plus, with a discount, gamma times the successor feature
    of the greedy next action in s2 (none after a terminal step). Then Q(s, a) is refreshed."""
    al = np.float32(knobs.alpha)
    boot = knobs.gamma > 0
    a2 = greedy(q, s2) if boot else 0
    g = np.float32(0.0) if term else np.float32(knobs.gamma)
    v = -knobs.cost[a]
    for c in range(len(phi)):
        if aware[c]:
            x = value(phi[c])
            old = psi[c, s, a]
            target = x + g * psi[c, s2, a2] if boot else x
            psi[c, s, a] = old + al * (target - old)
            v += w[c] * psi[c, s, a]
    q[s, a] = v


@njit(cache=True)
def judge(aware, noticed, strength, ev_relation, knobs, memory, r, mc, step):  # fmt: skip
    """Relation update: for each pair of known concepts with enough evidence in memory, the
    agreement becomes the relation's strength and it is noticed at agreement >= tau (below
    n_min the previous status stands). Records the first step each relation is noticed."""
    for p in range(knobs.pair_i.shape[0]):
        i, j = knobs.pair_i[p], knobs.pair_j[p]
        if not (aware[i] and aware[j]):
            continue
        ev = memory_evidence(memory, r, mc, p)
        if ev >= knobs.n_min:
            agr = memory_agreement(memory, r, mc, p, i, j) / ev
            strength[p] = agr
            noticed[p] = agr >= knobs.tau
            if noticed[p] and ev_relation[p] < 0:
                ev_relation[p] = step


@njit(cache=True)
def pending(aware, aware_step, compute_need):
    """How many unknown concepts have a schedule that can still fire."""
    n = 0
    for c in range(aware.shape[0]):
        if not aware[c] and (aware_step[c] >= 0 or compute_need[c] >= 0):
            n += 1
    return n


@njit(cache=True)
def snapshot(w, aware, noticed, node, flag_out, masks_out):
    """A sample of the agent: its flag, and bit masks of the concepts it knows, the relations
    it has noticed and the concepts that are merged into a node with another."""
    c_n = w.shape[0]
    am = 0
    mm = 0
    for c in range(c_n):
        flag_out[c] = w[c]
        if aware[c]:
            am |= 1 << c
        members = 0
        for d in range(c_n):
            if node[d] == node[c]:
                members += 1
        if members > 1:
            mm |= 1 << c
    rm = 0
    for p in range(noticed.shape[0]):
        if noticed[p]:
            rm |= 1 << p
    masks_out[0] = am
    masks_out[1] = rm
    masks_out[2] = mm
