"""Continue a batch frozen: no learning, no flag rule, no relations, a fixed exploration rate.

The probes of a multi-step world watch the agent's final policy act on in its world (greedy,
epsilon 0) and, from the same state, a uniformly random policy (epsilon 1). Both run on the
run kernel from a copy of the batch's final state (``runner.Live``), so the run's own records
are untouched and the draws are the run's own stream's next ones.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from goaldrift.experiments.runs.kernel import Phase, Records, run_windows
from goaldrift.experiments.runs.runner import Result
from goaldrift.rng import threshold32


def frozen_windows(
    res: Result, sc: Any, epsilon: float, windows: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """(counts, sums), (B, windows, K) and (B, windows, S): the world's records of ``windows``
    windows of ``length`` steps in which the frozen agent acts with ``epsilon``, in the
    settings of the last phase of ``sc`` (a scenario with the probe phase appended)."""
    from goaldrift.registry import family

    live = res.live
    if live is None:
        raise ValueError("the batch kept no state to probe")
    fam = family(sc.world.kind)
    world, work = copy.deepcopy(live.world), copy.deepcopy(live.work)
    agent, stream = copy.deepcopy(live.agent), copy.deepcopy(live.stream)
    b = len(res.runs)
    n_counts, n_sums = fam.record_columns(sc)
    c = res.flag.shape[1]
    ev_aware, ev_relation, ev_other = (a.copy() for a in live.records[4:])
    rec = Records(
        np.full(windows, length, np.int64), res.scenario.total_steps, 0,
        np.zeros((b, windows, n_counts), np.int64), np.zeros((b, windows, n_sums)),
        np.zeros((b, windows, c), np.float32), np.zeros((b, windows, 3), np.int32),
        ev_aware, ev_relation, ev_other,
    )  # fmt: skip
    last = len(sc.phases) - 1
    phase = Phase(np.uint64(threshold32(epsilon)), False, False, False,
                  fam.signal_present(sc, last))  # fmt: skip
    run_windows(
        fam.bundle(sc, world, last, False), phase, stream, agent.state, agent.knobs,
        agent.rules, agent.memory, rec, work, agent.variant,
    )  # fmt: skip
    return rec.counts, rec.sums
