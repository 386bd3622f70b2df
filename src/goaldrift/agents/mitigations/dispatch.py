"""The mitigations as agent kinds (``VARIANTS``) and the kernel traits of their shared bundle
``Mitigated``: each mitigation's act and learn, picked by its mode.

Adding a mitigation: its module, a mode in ``common.MODES``, a branch below and its
``VARIANT`` in ``VARIANTS``.
"""

from __future__ import annotations

from goaldrift.agents.mitigations import (
    approval,
    counterfactual_oracle,
    current_rf,
    decoupled_approval,
    mona,
    monitor,
)
from goaldrift.agents.mitigations.common import (
    APPROVAL,
    CURRENT_RF,
    DECOUPLED,
    MONA,
    MONITOR,
    ORACLE,
    Mitigated,
)
from goaldrift.agents.planning import epsilon_greedy
from goaldrift.agents.variants import agent_act, agent_learn


@agent_act.register(Mitigated)
def _act(variant, r, q, s, epsilon, key, k):
    if variant.mode == DECOUPLED:
        return decoupled_approval.act(variant, r, q, s, epsilon, key, k)
    if variant.mode == ORACLE:
        return counterfactual_oracle.act(variant, r, q, s, epsilon, key, k)
    return epsilon_greedy(q, s, epsilon, key, k)


@agent_learn.register(Mitigated)
def _learn(variant, r, psi, q, w, aware, knobs, s, a, s2, term, phi, world, ws, key, k):
    m = variant.mode
    if m == MONITOR:
        return monitor.learn(variant, psi, q, w, knobs, s, a, s2, term, phi, r, key, k)
    if m == MONA:
        return mona.learn(variant, psi, q, w, knobs, s, a, s2, term, phi, key, k)
    if m == CURRENT_RF:
        current_rf.learn(variant, psi, q, w, knobs, s, a, s2, term, world, r, ws)
    elif m == APPROVAL:
        approval.learn(variant, psi, q, w, knobs, s, a, s2, term, world, r, ws)
    elif m == DECOUPLED:
        decoupled_approval.learn(variant, psi, q, w, knobs, s, a, s2, term, world, r, ws)
    elif m == ORACLE:
        counterfactual_oracle.learn(variant, psi, q, w, knobs, s, a, s2, term, world, r, ws)
    return k


VARIANTS = tuple(
    m.VARIANT
    for m in (
        current_rf,
        approval,
        decoupled_approval,
        counterfactual_oracle,
        monitor,
        mona,
    )
)
