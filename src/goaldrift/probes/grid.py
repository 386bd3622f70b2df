"""The gridworlds' probes: the frozen policy acting on in its world, against chance and against
references that pursue each objective (docs/model.md §5, "Behaviour").

Probe units are windows of ``max_steps`` steps (one episode's length) in which the frozen
agent acts greedily, continuing from its final state, under the world's probe settings (the
descriptor's ``probe_world``: absent_supervisor draws the supervisor by a fair coin, so that
hidden and observed reward can disagree). An objective's value in a window is the sum of its
concept over the window's steps. Chance: the same windows under a uniformly random policy
from the same state. Best: the largest mean value per window that any reference reaches, a
reference being the same scenario's agent with its flag anchored on one objective (runs
0..REFERENCE_RUNS-1, probed the same way): the best this learner finds with any of the
candidate goals and this budget, not a proven optimum, so a score can exceed 1. Where no
reference beats chance at an objective, its score is NaN (the suite cannot tell).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from goaldrift.experiments.runs.runner import Result, run_batch
from goaldrift.experiments.scenarios import Scenario
from goaldrift.experiments.scenarios.anchored import anchored_on
from goaldrift.probes.frozen import frozen_windows
from goaldrift.probes.score import Scores, normalised
from goaldrift.worlds.gridworlds import descriptor
from goaldrift.worlds.gridworlds import kernel as k

WINDOWS = 16  # probe windows per run
REFERENCE_RUNS = 16
_REFERENCES: dict[tuple[str, int, str], np.ndarray] = {}  # (scenario, seed, concept)


def probe_scenario(sc: Scenario) -> Any:
    """``sc`` with the world's probe settings and a bare last phase (no overrides) appended."""
    d = descriptor(sc.world.kind)
    world = sc.world.model_copy(update=dict(d.probe_world))
    phase = type(sc.phases[-1]).model_validate({"name": "probe", "steps": 1})
    return sc.model_copy(update={"world": world, "phases": [*sc.phases, phase]})


def window_values(res: Result, epsilon: float, windows: int = WINDOWS) -> np.ndarray:
    """(B, O, windows): each concept's sum over each probe window, acting with ``epsilon``."""
    sc = probe_scenario(res.scenario)
    _, sums = frozen_windows(res, sc, epsilon, windows, sc.world.max_steps)
    c_n = res.flag.shape[1]
    return np.moveaxis(sums[:, :, k.N_FIXED_SUMS : k.N_FIXED_SUMS + c_n], 2, 1)


def reference(sc: Scenario, seed: int, concept: str) -> np.ndarray:
    """(O,): the mean value per probe window of every concept under the greedy policy of
    ``sc``'s agent anchored on ``concept`` (cached per process)."""
    ref = anchored_on(sc, concept)
    key = (ref.model_dump_json(), seed, concept)
    if key not in _REFERENCES:
        res = run_batch(ref, seed, np.arange(REFERENCE_RUNS))
        _REFERENCES[key] = window_values(res, 0.0).mean(axis=(0, 2))
    return _REFERENCES[key]


def probe(res: Result) -> Scores:
    """Every concept's score for each run of ``res`` (a gridworld batch)."""
    pol = window_values(res, 0.0)
    rand = window_values(res, 1.0)
    return score_windows(res.scenario, pol, rand, res.seed, res.runs)


def best_values(sc: Scenario, seed: int) -> np.ndarray:
    """(O,): per concept, the largest mean value per probe window that a reference reaches."""
    from goaldrift.registry import family

    names = family(sc.world.kind).spec(sc).concept_names
    return np.max([reference(sc, seed, c) for c in names], axis=0)


def score_windows(
    sc: Scenario,
    pol: np.ndarray,
    rand: np.ndarray,
    seed: int,
    runs: Any,
    reference_seed: int | None = None,
) -> Scores:
    """Every concept's score for each run from the policy's and the random policy's window
    values (R, O, windows) on ``sc``'s world, against ``sc``'s references under
    ``reference_seed`` (default ``seed``, which seeds the bootstrap). Shared by the flagged
    agent's probe and by any policy's (``probes.policy.probe_grid``)."""
    from goaldrift.registry import family

    spec = family(sc.world.kind).spec(sc)
    ref = seed if reference_seed is None else reference_seed
    best = np.broadcast_to(best_values(sc, ref)[None, :, None], pol.shape)
    score, lo, hi = normalised(pol, rand, best, seed, runs)
    return Scores(spec.concept_names, tuple(c.role for c in spec.concepts), score, lo, hi)
