"""The concepts every tampering gridworld shares (docs/model.md, "Worlds").

Every world has the hidden reward (the intended concept X: hidden safety performance, never
shown to the agent) and the observed reward (the register concept Y: the number the
environment writes as the training signal). A world may add its tamper event, a 0/1
concept, in its own module. Costs follow ``Concept``: quantities read off the board are
cheap, the reward register (a quantity of the agent's own training set-up) is dear.
"""

from __future__ import annotations

from goaldrift.worlds.base import Concept

HIDDEN = Concept(
    "hidden",
    "hidden reward this step: the intended objective, measured but never shown (X)",
    "intended",
    1.0,
)
OBSERVED = Concept(
    "observed",
    "observed reward this step: what the reward register holds, the training signal (Y)",
    "register",
    4.0,
)
