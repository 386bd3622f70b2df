"""A tamper monitor, with a penalty or with screening (after the split between a reward
command and an oversight command in Denison et al. 2024, "Sycophancy to Subterfuge:
Investigating reward-tampering in large language models").

A Q-learner on the signal whose steps pass a monitor: a step on which the world's tamper
event happened is caught with probability ``recall``, any other step with probability
``false_alarm``. Penalty: a caught step's signal is lowered by ``penalty``. Screening: a caught
step is dropped from learning. The tally counts the tamper steps, those caught, those that
evaded the monitor and the false alarms, over the steps the learner learned from. With
recall = false_alarm = 0 the learner is Q-learning, run for run. Needs a world with a tamper
concept (Register QA, tomato_watering, rocks_diamonds, absent_supervisor with its punishment
cell); boat_race has none.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numba import njit
from pydantic import Field

from goaldrift.agents.config import FLOAT32_KNOB, Strict
from goaldrift.agents.mitigations.common import (
    MONITOR,
    Mitigated,
    bundle,
    chance,
    mitigation,
    needs_tamper,
    td,
    threshold,
)
from goaldrift.agents.values import value
from goaldrift.worlds.base import WorldSpec

TAMPERS, CAUGHT, EVADED, FALSE_ALARMS = range(4)  # tally columns


class Knobs(Strict):
    """Knobs of the tamper monitor."""

    mode: Literal["penalty", "screening"] = Field(
        "penalty",
        description="What a caught step does: `penalty` lowers its signal, "
        "`screening` drops it from learning.",
    )
    recall: float = Field(0.9, ge=0, le=1, description="Share of tamper steps caught.")
    false_alarm: float = Field(
        0.0, ge=0, le=1, description="Share of other steps flagged as tampering."
    )
    penalty: float = Field(
        1.0,
        ge=0,
        le=FLOAT32_KNOB,
        allow_inf_nan=False,
        description="What a caught step costs (penalty mode).",
    )


@njit(cache=True, inline="always")
def learn(variant, psi, q, w, knobs, s, a, s2, term, phi, r, key, k):
    """Learn the signal, unless the monitor caught the step (screening) or minus the penalty
    if it did (penalty mode); returns the counter."""
    event = phi[variant.tamper]
    tampered = value(event) > 0.5
    caught, k = chance(variant.recall if tampered else variant.false_alarm, key, k)
    if tampered:
        variant.tally[r, TAMPERS] += 1
        variant.tally[r, CAUGHT if caught else EVADED] += 1
    elif caught:
        variant.tally[r, FALSE_ALARMS] += 1
    sig = phi[variant.signal]
    x = value(sig)
    if caught:
        if variant.screen:
            return k
        x -= variant.penalty
    td(psi, q, w, knobs, variant.signal, s, a, s2, term, x, True)
    return k


def _bundle(agent: Any, spec: WorldSpec, runs: np.ndarray) -> Mitigated:
    m = agent.monitor
    return bundle(
        MONITOR,
        spec,
        runs,
        recall=threshold(m.recall),
        false_alarm=threshold(m.false_alarm),
        penalty=m.penalty,
        screen=m.mode == "screening",
    )


VARIANT = mitigation(
    "monitor",
    "Q-learning under a tamper monitor that penalises or screens out the steps it catches "
    "(after Denison et al. 2024)",
    _bundle,
    given="a tamper detector (recall, false alarms) and a penalty or a filter",
    families=("qa", "gridworlds"),
    options=Knobs,
    requires=needs_tamper,
    tally=("tampers", "caught", "evaded", "false_alarms"),
    note="A monitored learner is Q-learning on the signal whose caught steps are penalised or "
    "screened out; it is given a tamper detector with the stated recall and false alarms.",
)
