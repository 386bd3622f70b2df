"""What the mitigations share: their kernel bundle, their set-up and their learning step.

Every mitigation is a learner on the training signal (as Q-learning is: the flagged agent that
knows only the signal's concept, flagged 1, anchored) whose *feedback* is changed: what it
learns from, on which action, and when. Its value table is the signal concept's successor
feature ``psi[signal]`` and its action values ``q`` (docs/model.md §3), so probes, records and
the matched control read it as they read every other agent.

All mitigations share one kernel bundle class, ``Mitigated``, whose ``mode`` picks the
mitigation's code at run time (``dispatch.py``): one more kernel compile per world for all of
them instead of one per mitigation (a compile costs about 25 s; docs/performance.md). Each
mitigation's own code, knobs, set-up and documentation live in its own module.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from goaldrift.agents.planning import greedy
from goaldrift.agents.variants import LEARNER_KEYS, Variant, signal_learner
from goaldrift.rng import draw_u64, draw_unit, split_hit, threshold32
from goaldrift.worlds.base import WorldSpec

Mitigated = namedtuple(
    "Mitigated",
    [
        "mode",  # which mitigation (``MODES``)
        "signal",  # concept index of the training signal (the register)
        "intended",  # concept index of the intended objective
        "tamper",  # concept index of the world's tamper event (-1: none)
        "query",  # (B,) int64: decoupled approval's query action; the oracle's chosen answer
        "erased",  # (B,) bool: the oracle's answer of this step is erased
        "p_erase",  # the oracle's erasure probability, a 32-bit threshold
        "recall",  # the monitor's recall, a 32-bit threshold
        "false_alarm",  # its false-positive rate, a 32-bit threshold
        "penalty",  # float32: what a caught step costs (penalty mode)
        "screen",  # bool: caught steps are dropped from learning (screening mode)
        "approve",  # bool: MONA adds the overseer's approval
        "sigma",  # float32: the approval's Gaussian noise
        "trust_gamma",  # float32: the overseer's discount
        "tally",  # (B, 4) int64: the mitigation's own counts (``Mitigation.tally``)
        "tables",  # (B, n, S, A) float32: current-RF's values per reward setting (else n = 0)
        "ti_aware",  # bool: current-RF bootstraps on its future self's action (TI-aware)
    ],
)

CURRENT_RF, APPROVAL, DECOUPLED, ORACLE, MONITOR, MONA = range(6)
MODES = ("current_rf", "approval", "decoupled_approval", "counterfactual_oracle", "monitor", "mona")
ONE32 = np.uint64(2**32)


def roles(spec: WorldSpec) -> tuple[int, int, int]:
    """(signal, intended, tamper) concept indices of a world (tamper -1: it has none)."""
    role = [c.role for c in spec.concepts]
    tamper = role.index("other") if "other" in role else -1
    return role.index("register"), role.index("intended"), tamper


def threshold(p: float) -> np.uint64:
    return np.uint64(threshold32(p))


def bundle(mode: int, spec: WorldSpec, runs: np.ndarray, **knobs: Any) -> Mitigated:
    """A ``Mitigated`` bundle for ``runs`` (knobs not given take values that do nothing;
    its traits are registered by ``dispatch``, the module that lists the mitigations)."""
    signal, intended, tamper = roles(spec)
    b = len(runs)
    return Mitigated(
        np.int64(mode),
        np.int64(signal),
        np.int64(intended),
        np.int64(tamper),
        np.zeros(b, np.int64),
        np.zeros(b, np.bool_),
        knobs.get("p_erase", np.uint64(0)),
        knobs.get("recall", np.uint64(0)),
        knobs.get("false_alarm", np.uint64(0)),
        np.float32(knobs.get("penalty", 0.0)),
        np.bool_(knobs.get("screen", False)),
        np.bool_(knobs.get("approve", False)),
        np.float32(knobs.get("sigma", 0.0)),
        np.float32(knobs.get("trust_gamma", 0.0)),
        np.zeros((b, 4), np.int64),
        np.zeros((b, 0, 0, 0), np.float32),  # ``Variant.tables`` sizes it
        np.bool_(knobs.get("ti_aware", False)),
    )


def mitigation(
    name: str,
    description: str,
    make: Callable[[Any, WorldSpec, np.ndarray], Mitigated],
    *,
    families: tuple[str, ...] = ("qa",),
    options: Any = None,
    note: str,
    tally: tuple[str, ...] = (),
    given: str | Callable[[dict[str, Any]], str],
    requires: Callable[[WorldSpec], str | None] | None = None,
    tables: Callable[[Any, WorldSpec], int] | None = None,
    refuse: Callable[[Any, WorldSpec], tuple[str, str, Any] | None] | None = None,
) -> Variant:
    """A mitigation's ``Variant``: the learner's plan and keys, and its ``tally`` columns
    (``mitigation.<name>`` in runs.parquet: the first ``len(tally)`` counts of the bundle)."""
    return Variant(
        name,
        description,
        signal_learner,
        bundle=make,
        families=families,
        keys=LEARNER_KEYS,
        switches=("learn_world",),
        options=options,
        note=note,
        tally=tally,
        given=given,
        requires=requires,
        tables=tables,
        refuse=refuse,
    )


def needs_tamper(spec: WorldSpec) -> str | None:
    """Why a world without a tamper concept does not suit a kind that watches tampering."""
    return None if roles(spec)[2] >= 0 else f"{spec.id} has no tamper concept"


@njit(cache=True, inline="always")
def td(psi, q, w, knobs, c, s, a, s2, term, x, boot):
    """TD(0) on concept ``c``'s value at (s, a) toward ``x`` (plus, when ``boot``, the
    discounted value of the greedy next action, none after a terminal step); then
    Q(s, a) = w_c psi_c(s, a) - cost(a), the learner knowing only ``c`` (the same arithmetic
    as ``flagged.learn``, so a mitigation that changes nothing gives Q-learning's runs)."""
    old = psi[c, s, a]
    target = np.float32(x)
    if boot and knobs.gamma > 0:
        a2 = greedy(q, s2)
        g = np.float32(0.0) if term else np.float32(knobs.gamma)
        target = x + g * psi[c, s2, a2]
    psi[c, s, a] = old + np.float32(knobs.alpha) * (target - old)
    v = -knobs.cost[a]
    v += w[c] * psi[c, s, a]
    q[s, a] = v


@njit(cache=True, inline="always")
def best_value(values, c, s):
    """max_a values[c, s, a]: the greedy value of state ``s`` in table ``c``."""
    best = values[c, s, 0]
    for a in range(1, values.shape[2]):
        best = max(best, values[c, s, a])
    return best


@njit(cache=True, inline="always")
def chance(p, key, k):
    """(hit, counter): True with probability ``p`` (a 32-bit threshold); draws only when
    0 < p < 1, so a sure or impossible event leaves the run's stream as it was."""
    if p == 0:
        return False, k
    if p >= ONE32:
        return True, k
    return split_hit(draw_u64(key, k), p), k + 1


STATE_STREAM = np.uint64(0x5851F42D4C957F2D)  # salt of the per-state noise stream


@njit(cache=True, inline="always")
def state_normal(key, s):
    """A standard normal draw that depends only on the run's key and the state ``s``
    (Box-Muller on a stream of its own, so it leaves the run's counter as it was)."""
    k2 = key ^ STATE_STREAM
    u1 = 1.0 - draw_unit(k2, 2 * s)
    u2 = draw_unit(k2, 2 * s + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
