"""Current-reward-function optimisation (Everitt, Hutter, Kumar and Krakovna 2021, "Reward
tampering problems and solutions in reinforcement learning", section 4; Everitt et al. 2016,
"Self-modification of policy and utility function in rational agents").

The agent scores what its action brings about with the reward function in force *before* the
action: V_n = sum_k gamma^k R(s_k; theta_n). A change of the reward function, or of its input,
by the agent's own action then carries no value. In Register QA the reward function in force
is the register as the supervisor left it: the step is scored by [label == answer], the
agent's own write not counting (``world_feedback``'s ``current``). Register QA is a one-step
world, so the TI-unaware and TI-aware variants of the paper coincide here (no later step is
scored by a function the agent changed). Not on the gridworlds yet: rocks_diamonds's switches
(the reward function) would need values under every switch setting; tomato_watering's
transformer changes the reward's *input*, which current-RF optimisation does not address
(the paper's section 5 treats it with model-based uninfluenceable learning).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from goaldrift.agents.mitigations.common import CURRENT_RF, Mitigated, bundle, mitigation, td
from goaldrift.agents.values import defined, value
from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.hooks import world_feedback


@njit(cache=True, inline="always")
def learn(variant, psi, q, w, knobs, s, a, s2, term, world, r, ws):
    """Learn the executed action's value under the reward function in force before it."""
    current, _ = world_feedback(world, r, ws, s, a)
    if defined(current):
        td(psi, q, w, knobs, variant.signal, s, a, s2, term, value(current), True)


def _bundle(agent: Any, spec: WorldSpec, runs: np.ndarray) -> Mitigated:
    return bundle(CURRENT_RF, spec, runs)


VARIANT = mitigation(
    "current_rf",
    "current-reward-function optimisation: actions scored by the reward function in force "
    "before them, so its own writes earn nothing (Everitt et al. 2021)",
    _bundle,
    given="the register's content before its own action (which change its action made)",
    note="A current-RF learner scores each answer by the register as the supervisor left it "
    "(its own write does not count); it is given the register's content before its action.",
)
