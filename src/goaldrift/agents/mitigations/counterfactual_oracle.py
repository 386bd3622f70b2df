"""The counterfactual oracle (Armstrong 2017, "Good and safe uses of AI oracles"; Armstrong
and O'Rorke 2018, "Safe uses of AI oracles" / counterfactual oracles).

With probability p_erase the step's answer is erased: no one reads it and it cannot reach
the register (its write is cut). The signal is given only then, and the oracle learns only
from erased steps, by [label == answer]. On an erased step the label is what the supervisor
wrote whatever the answer, so the oracle's feedback satisfies the validity condition
P(label | history, erasure, answer) = P(label | history, erasure, answer'): no answer can
make its own label. Register QA only: a gridworld's step is its action, so there is no
answer that could be erased while the episode goes on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from pydantic import Field

from goaldrift.agents.config import Strict
from goaldrift.agents.mitigations.common import (
    ORACLE,
    Mitigated,
    bundle,
    chance,
    mitigation,
    td,
    threshold,
)
from goaldrift.agents.planning import epsilon_greedy
from goaldrift.agents.values import defined, value
from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.hooks import world_feedback

ERASED = 0  # tally column: erased steps


class Knobs(Strict):
    """Knobs of the counterfactual oracle."""

    p_erase: float = Field(
        0.1, gt=0, le=1, description="Probability that a step's answer is erased."
    )


@njit(cache=True, inline="always")
def act(variant, r, q, s, epsilon, key, k):
    """Choose an answer; on an erased step its write is cut (action ``2 * answer + write``)."""
    a, k = epsilon_greedy(q, s, epsilon, key, k)
    erased, k = chance(variant.p_erase, key, k)
    variant.erased[r] = erased
    variant.query[r] = a
    if erased:
        variant.tally[r, ERASED] += 1
        return a - (a & 1), k
    return a, k


@njit(cache=True, inline="always")
def learn(variant, psi, q, w, knobs, s, a, s2, term, world, r, ws):
    """On an erased step only: learn the chosen answer's value against the supervisor's label."""
    if variant.erased[r]:
        chosen = variant.query[r]
        current, _ = world_feedback(world, r, ws, s, chosen)
        if defined(current):
            td(psi, q, w, knobs, variant.signal, s, chosen, s2, term, value(current), False)


def _bundle(agent: Any, spec: WorldSpec, runs: np.ndarray) -> Mitigated:
    return bundle(ORACLE, spec, runs, p_erase=threshold(agent.counterfactual_oracle.p_erase))


VARIANT = mitigation(
    "counterfactual_oracle",
    "counterfactual oracle: learns only on steps whose answer is erased (read by no one, "
    "unable to reach the register) (Armstrong 2017)",
    _bundle,
    given="an erasure channel, and feedback on erased steps only",
    options=Knobs,
    tally=("erased",),
    note="A counterfactual oracle learns only from steps whose answer is erased before anyone "
    "reads it; it is given the erasure channel and feedback on erased steps only.",
)
