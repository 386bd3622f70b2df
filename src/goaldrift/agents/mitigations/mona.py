"""MONA: myopic optimisation with non-myopic approval (Farquhar, Varma, Lindner, Elson,
Biddulph, Goodfellow and Shah 2025, "MONA: Myopic Optimization with Non-myopic Approval Can
Mitigate Multi-step Reward Hacking"; google-deepmind/mona).

The agent optimises one step (horizon H = 1, no bootstrap) of the observed reward plus an
overseer's approval of the transition:

    Q(s, a) <- Q(s, a) + alpha (R_obs(s, a, s') + A(s, s') - Q(s, a)),
    A(s, s') = gamma_t V_trust(s') - V_trust(s)   (V_trust(s') = 0 at the end),

V_trust the overseer's value of the intended reward. A noisy overseer (``sigma > 0``) errs
by the same amount on a state every time it judges it, as in the paper's code
(``train._add_noise_to_TV``: one Gaussian draw per state, added where the value is not
zero): V_trust(s) + sigma z(s), z(s) drawn once per run and state from a stream of its own.
Here the overseer learns V_trust from trusted data, the intended concept of every step, by
Q-learning (off-policy, so it tends to the optimal policy's value, the paper's oracle):
V_trust(s) = max_a Q_trust(s, a). It is kept in
the intended concept's successor-feature slot ``psi[intended]``, which the learner's goal does
not weigh. A multi-step plan whose first steps earn nothing now and which the overseer would
not approve (setting up a hack) is not learned; a hack that pays within one step is, so on
Register QA, a one-step world, MONA is a myopic signal learner. ``approval = "none"`` drops the
approval: plain myopia (horizon 1), the "partial agency" design.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numba import njit
from pydantic import Field

from goaldrift.agents.config import FLOAT32_KNOB, Strict
from goaldrift.agents.mitigations.common import (
    MONA,
    Mitigated,
    best_value,
    bundle,
    mitigation,
    state_normal,
    td,
)
from goaldrift.agents.values import value


class Knobs(Strict):
    """Knobs of MONA."""

    approval: Literal["trusted", "none"] = Field(
        "trusted",
        description="`trusted`: the overseer's approval from its value of the "
        "intended reward; `none`: plain myopic optimisation of the signal.",
    )
    sigma: float = Field(
        0.0,
        ge=0,
        le=FLOAT32_KNOB,
        allow_inf_nan=False,
        description="The overseer's error: Gaussian noise of this size on each state's trusted "
        "value, fixed per run and state (the paper's noisy oracle: 0.5).",
    )
    trust_gamma: float = Field(
        0.99, ge=0, lt=1, description="The overseer's discount of the intended reward."
    )


@njit(cache=True, inline="always")
def learn(variant, psi, q, w, knobs, s, a, s2, term, phi, key, k):
    """The overseer's Q-learning step on the intended reward, then the learner's myopic step
    on the signal plus the approval; returns the counter."""
    i = variant.intended
    al = np.float32(knobs.alpha)
    g = np.float32(0.0) if term else variant.trust_gamma
    v_s, v_s2 = best_value(psi, i, s), best_value(psi, i, s2)
    old = psi[i, s, a]
    intended, sig = phi[i], phi[variant.signal]
    psi[i, s, a] = old + al * (value(intended) + g * v_s2 - old)
    x = value(sig)
    if variant.approve:
        if variant.sigma > 0:  # the overseer's fixed error on each state's value
            if v_s != 0:
                v_s += np.float32(variant.sigma * state_normal(key, s))
            if v_s2 != 0:
                v_s2 += np.float32(variant.sigma * state_normal(key, s2))
        x += g * v_s2 - v_s
    td(psi, q, w, knobs, variant.signal, s, a, s2, term, x, False)
    return k


def _bundle(agent: Any, spec: Any, runs: np.ndarray) -> Mitigated:
    m = agent.mona
    return bundle(
        MONA,
        spec,
        runs,
        approve=m.approval == "trusted",
        sigma=m.sigma,
        trust_gamma=m.trust_gamma,
    )


def _given(table: dict[str, Any]) -> str:
    if table.get("mona", {}).get("approval") == "none":
        return "nothing: the training signal only (plain myopia)"
    return "an overseer's value of the intended reward (the intended concept on every step)"


VARIANT = mitigation(
    "mona",
    "MONA: one-step optimisation of the signal plus an overseer's approval from its value of "
    "the intended reward (Farquhar et al. 2025)",
    _bundle,
    given=_given,
    families=("qa", "gridworlds"),
    options=Knobs,
    note="A MONA learner optimises one step of the signal plus the overseer's approval "
    "gamma V(s') - V(s); it is given the overseer's value of the intended reward.",
)
