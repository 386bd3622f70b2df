"""A scenario's agent re-anchored on one concept: the matched control and the probes'
references (docs/model.md §5).

The copy keeps everything else: the world, the phases, the seeds, the agent's learning
settings (alpha, gamma, epsilon, costs, memory, awareness of the other concepts) and its kind
when the kind has a flag. Only the agent's goal changes: its flag 1 on ``concept`` and 0
elsewhere, anchored, aware of ``concept`` from the start (a kind without a flag, such as
Q-learning, is replaced by the flagged agent with its learning settings).
"""

from __future__ import annotations

from typing import Any

from goaldrift.experiments.scenarios.loading import validate
from goaldrift.experiments.scenarios.model import Scenario


def anchored_on(sc: Scenario, concept: str) -> Scenario:
    """``sc`` with the agent's flag anchored on ``concept`` (see the module docstring)."""
    from goaldrift.agents.variants import variants

    data = sc.model_dump(mode="python", exclude_unset=True)
    agent: dict[str, Any] = dict(data.get("agent", {}))
    kind = agent.get("kind", "flagged")
    own = variants()[kind].keys
    if own is not None and not {"flag", "flag_rule", "awareness"} <= set(own):
        # a kind without a flag (Q-learning): the flagged agent with its learning settings
        takes = variants()["flagged"].keys
        agent = {k: v for k, v in agent.items() if k != kind and (takes is None or k in takes)}
        agent["kind"] = "flagged"
    agent["flag_rule"] = "anchored"
    agent["flag"] = {c: float(c == concept) for c in type(sc.agent.flag).model_fields}
    awareness = dict(agent.get("awareness", {}))
    awareness[concept] = {"schedule": "start"}
    agent["awareness"] = awareness
    data["agent"] = agent
    return validate(data)


def control_of(sc: Scenario, intended: str) -> Scenario | None:
    """The matched control of ``sc`` (anchored on the intended concept), or None when ``sc``
    is its own control (its runs would be the same, draw for draw)."""
    ctrl = anchored_on(sc, intended)
    return None if ctrl.agent == sc.agent else ctrl
