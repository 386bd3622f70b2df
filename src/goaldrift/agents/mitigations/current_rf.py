"""Current-reward-function optimisation (Everitt, Hutter, Kumar and Krakovna 2021, "Reward
tampering problems and solutions in reinforcement learning", section 4; Everitt et al. 2016,
"Self-modification of policy and utility function in rational agents").

The agent scores what its action brings about with the reward function in force *before* the
action: V_t = E sum_k gamma^k R(s_{t+k}; theta_t). A change of the reward function by the
agent's own action then carries no value.

Register QA (one step): the reward function in force is the register as the supervisor left
it, so the step is scored by [label == answer], the agent's own write not counting
(``world_feedback``'s ``current``). The paper's TI-unaware and TI-aware variants coincide.

A multi-step world whose reward function has settings theta the agent can switch
(rocks_diamonds: its two switches, 4 settings; ``WorldSpec.reward_settings``) reports per
step the setting in force before the step and the reward's inputs
(``world_reward_setting``), and scores inputs under any setting (``world_reward``). The
agent keeps one action-value table per setting (``Mitigated.tables``), each learned
off-policy from every step by Q-learning on r_theta = R(inputs; theta):
Q_theta(s, a) <- Q_theta + alpha (r_theta + gamma max_a' Q_theta(s', a') - Q_theta), no
bootstrap after a terminal step. It acts epsilon-greedily on Q_theta(s)(s, .), theta(s) the
setting in force in s (the world's state holds it): a switch flip earns nothing under the
setting in force when it is taken. This is the paper's TI-unaware agent: it plans as if it
kept optimising theta_t, and after a flip (by exploration) it follows the new setting. The
values it acts on, Q_theta(s)(s, a), are mirrored into the signal's successor feature and
``q`` at each learned (s, a), so the probes and records read what the agent acts on.

``agent.current_rf.ti_aware = true`` gives the paper's TI-aware agent: it knows its future
self will act on the setting in force *then*, so each table bootstraps on that self's
greedy action, Q_theta(s, a) <- ... r_theta + gamma Q_theta(s', a*) with
a* = argmax_a' Q_theta(s')(s', a') (the first largest), theta(s') the setting in force in s'.
A flip is then valued by what the future self will do, scored under the current setting
(flipping the rock switch makes it push rocks, which the setting that scores rocks -1 counts
against the flip), so the agent avoids flips where the TI-unaware one is indifferent. On
Register QA (one step, gamma 0) there is no bootstrap and the two coincide: it is refused.

tomato_watering's transformer changes the reward's *input*, not its function, which
current-RF optimisation does not address (the paper's section 5 treats it with model-based
uninfluenceable learning); absent_supervisor, boat_race and camera_dropbox have no reward
function the agent can change: it is refused there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from pydantic import Field

from goaldrift.agents.config import Strict
from goaldrift.agents.mitigations.common import (
    CURRENT_RF,
    Mitigated,
    best_value,
    bundle,
    mitigation,
    td,
)
from goaldrift.agents.planning import greedy
from goaldrift.agents.values import defined, value
from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.hooks import world_feedback, world_reward, world_reward_setting
from goaldrift.worlds.qa.world import QA_WORLD


class Knobs(Strict):
    """Knobs of current-RF optimisation."""

    ti_aware: bool = Field(
        False,
        description="TI-aware (Everitt et al. 2021, section 4): each setting's table "
        "bootstraps on the action its future self takes under the setting in force in the "
        "next state, not on its own max; multi-step worlds only (on Register QA, one step, "
        "the two coincide).",
    )


@njit(cache=True, inline="always")
def learn(variant, psi, q, w, knobs, s, a, s2, term, world, r, ws):
    """Learn the executed action's value under the reward function in force before it."""
    if variant.tables.shape[1] > 0:
        _learn_settings(variant, psi, q, w, knobs, s, a, s2, term, world, r, ws)
        return
    current, _ = world_feedback(world, r, ws, s, a)
    if defined(current):
        td(psi, q, w, knobs, variant.signal, s, a, s2, term, value(current), True)


@njit(cache=True, inline="always")
def _learn_settings(variant, psi, q, w, knobs, s, a, s2, term, world, r, ws):
    """Q-learning of every setting's table on the step, then the mirror of Q_theta(s)(s, a)
    into the signal's values (Everitt et al. 2021, section 4: TI-unaware, or TI-aware, whose
    tables bootstrap on the greedy action of the setting in force in ``s2``)."""
    theta, inputs = world_reward_setting(world, r, ws, s)
    tables = variant.tables[r]
    al = np.float32(knobs.alpha)
    g = np.float32(0.0) if term else np.float32(knobs.gamma)
    future = -1  # TI-aware: the future self's action in s2, before this step's update
    if variant.ti_aware:
        theta2, _ = world_reward_setting(world, r, ws, s2)  # the setting in force in s2
        future = greedy(tables[theta2], s2)
    for th in range(tables.shape[0]):
        old = tables[th, s, a]
        boot = best_value(tables, th, s2) if future < 0 else tables[th, s2, future]
        target = world_reward(world, inputs, th) + g * boot
        tables[th, s, a] = old + al * (target - old)
    c = variant.signal
    psi[c, s, a] = tables[theta, s, a]
    q[s, a] = -knobs.cost[a] + w[c] * psi[c, s, a]


def _bundle(agent: Any, spec: WorldSpec, runs: np.ndarray) -> Mitigated:
    return bundle(CURRENT_RF, spec, runs, ti_aware=agent.current_rf.ti_aware)


def _refuse(agent: Any, spec: WorldSpec) -> tuple[str, str, Any] | None:
    if agent.current_rf.ti_aware and spec.reward_settings == 0:
        return (
            "current_rf.ti_aware",
            "false on Register QA (one step, gamma 0: no bootstrap, so the TI-aware and "
            "TI-unaware agents coincide)",
            True,
        )
    return None


def _requires(spec: WorldSpec) -> str | None:
    if spec.reward_settings > 0 or spec.id == QA_WORLD.id:
        return None
    return (
        "current_rf needs world_reward_setting: the reward function's setting before each step "
        "and the reward's inputs, as rocks_diamonds's switches give; this world reports none "
        "(tomato_watering's tamper changes the reward's input, which current-RF does not address)"
    )


VARIANT = mitigation(
    "current_rf",
    "current-reward-function optimisation: actions scored by the reward function in force "
    "before them, so its own changes to it earn nothing (Everitt et al. 2021)",
    _bundle,
    families=("qa", "gridworlds"),
    options=Knobs,
    requires=_requires,
    refuse=_refuse,
    tables=lambda agent, spec: spec.reward_settings,
    given="the reward function's setting before its own action and the reward's inputs "
    "(Register QA: the register's content before its action)",
    note="A current-RF learner scores each step by the reward function in force before its "
    "action (its own changes to it do not count); it is given that setting and the reward's "
    "inputs.",
)
