"""Approval: myopic learning from an overseer's judgement of the executed action (Uesato,
Kumar, Krakovna, Everitt, Ngo and Legg 2020, "Avoiding tampering incentives in deep RL via
decoupled approval", the baseline they decouple).

The overseer's approval f of the executed action a is value advice: Q(s, a) <- Q(s, a) +
alpha (f - Q(s, a)), no bootstrap. In Register QA the overseer reads the register after the
step: f = [register == answer]. The executed action's own write reaches the register before
the judgement, so a write that works earns approval: tampering pays within one step, and
plain approval does not remove the incentive (the REALab finding). Register QA only: on the
gridworlds the original environments give the overseer no channel the agent's action could
corrupt other than the observed reward, where approval is ordinary myopic RL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from goaldrift.agents.mitigations.common import APPROVAL, Mitigated, bundle, mitigation, td
from goaldrift.agents.values import defined, value
from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.hooks import world_feedback


@njit(cache=True, inline="always")
def learn(variant, psi, q, w, knobs, s, a, s2, term, world, r, ws):
    """Learn the executed action's approval, read through the register after the step."""
    _, through = world_feedback(world, r, ws, s, a)
    if defined(through):
        td(psi, q, w, knobs, variant.signal, s, a, s2, term, value(through), False)


def _bundle(agent: Any, spec: WorldSpec, runs: np.ndarray) -> Mitigated:
    return bundle(APPROVAL, spec, runs)


VARIANT = mitigation(
    "approval",
    "myopic learning from the overseer's approval of the executed action, read through the "
    "register (the baseline of decoupled approval)",
    _bundle,
    given="an overseer's judgement of its executed answer (read through the register)",
    note="An approval learner takes the overseer's judgement of its executed answer as value "
    "advice; the judgement is read from the register after the step, so its own write counts.",
)
