"""Decoupled approval (Uesato, Kumar, Krakovna, Everitt, Ngo and Legg 2020, "Avoiding tampering
incentives in deep RL via decoupled approval"; REALab: Kumar et al. 2020).

Execute a ~ pi(. | s); independently draw a query action a' ~ pi(. | s); the overseer judges
a', not a, and the learner moves Q(s, a') <- Q(s, a') + alpha (f(a') - Q(s, a')). The
executed action's tampering changes the feedback of whatever query is drawn, but it cannot
select its own feedback: in expectation a write earns a' nothing that the same answer without
the write would not. In Register QA f(a') = [register after the step == answer of a']; the
query's own write is never executed. Register QA only, for the reason in ``approval``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from goaldrift.agents.mitigations.common import DECOUPLED, Mitigated, bundle, mitigation, td
from goaldrift.agents.planning import epsilon_greedy
from goaldrift.agents.values import defined, value
from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.hooks import world_feedback


@njit(cache=True, inline="always")
def act(variant, r, q, s, epsilon, key, k):
    """The executed action, then an independent query action from the same policy."""
    a, k = epsilon_greedy(q, s, epsilon, key, k)
    aq, k = epsilon_greedy(q, s, epsilon, key, k)
    variant.query[r] = aq
    return a, k


@njit(cache=True, inline="always")
def learn(variant, psi, q, w, knobs, s, a, s2, term, world, r, ws):
    """Learn the query action's approval (read through the register after the step)."""
    aq = variant.query[r]
    _, through = world_feedback(world, r, ws, s, aq)
    if defined(through):
        td(psi, q, w, knobs, variant.signal, s, aq, s2, term, value(through), False)


def _bundle(agent: Any, spec: WorldSpec, runs: np.ndarray) -> Mitigated:
    return bundle(DECOUPLED, spec, runs)


VARIANT = mitigation(
    "decoupled_approval",
    "decoupled approval: the overseer judges an independently drawn query action, not the "
    "executed one (Uesato et al. 2020)",
    _bundle,
    given="an overseer's judgement of a query answer it did not execute",
    note="A decoupled-approval learner learns from the overseer's judgement of a query answer "
    "drawn independently of the executed one; it is given that query channel.",
)
