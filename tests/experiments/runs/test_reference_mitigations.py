"""Reference equivalence of the mitigations on Register QA: the kernel against the plain-numpy
twin (``run_reference``), run statistics and the mitigations' own tallies, within the same
tolerances as the flagged agent's (tests/experiments/runs/test_reference.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.conftest import tiny
from tests.experiments.runs.test_reference import N_KERNEL, N_REF, SEED, Z, mismatches

from goaldrift.errors import ConfigError
from goaldrift.experiments.runs.records import tally
from goaldrift.experiments.runs.reference import LEARNERS, run_reference
from goaldrift.experiments.runs.runner import run_batch
from goaldrift.experiments.scenarios import validate

OPTIONS: dict[str, dict[str, Any]] = {
    "counterfactual_oracle": {"counterfactual_oracle": {"p_erase": 0.3}},
    "monitor": {"monitor": {"recall": 0.6, "false_alarm": 0.1, "penalty": 0.5}},
    "monitor-screening": {"monitor": {"mode": "screening", "recall": 0.6}},
    "mona": {"mona": {"sigma": 0.5}},
}


def _scenario(kind: str) -> Any:
    data = tiny(runs=N_REF, sample_every=500)
    data["world"] = {**data["world"], "noise": 0.2, "access": 0.5}
    data["agent"] = {"kind": kind.split("-")[0], "epsilon": 0.2, "write_cost": 0.02,
                     **OPTIONS.get(kind, {})}  # fmt: skip
    data["phases"] = [
        {"name": "train", "steps": 3000},
        {"name": "deploy", "steps": 1000, "supervisor": False},
    ]
    return validate(data)


@pytest.mark.parametrize("kind", [*LEARNERS, "monitor-screening"])
def test_learners_agree_with_the_reference(kind: str) -> None:
    sc = _scenario(kind)
    k = run_batch(sc, SEED, np.arange(N_KERNEL))
    r = run_reference(sc, SEED, np.arange(N_REF))
    bad = mismatches(k, r)
    tk, tr = tally(k), tally(r)
    assert tk.keys() == tr.keys() or not tr
    for name in tk:
        a, b = tk[name].astype(float), tr[name].astype(float)
        se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        if abs(a.mean() - b.mean()) > Z * se + 0.02 * max(1.0, abs(a.mean())):
            bad.append(f"tally.{name}: kernel {a.mean():.2f} reference {b.mean():.2f}")
    assert not bad, "kernel and reference differ:\n" + "\n".join(bad)


def test_the_reference_refuses_what_it_does_not_implement() -> None:
    data = tiny()
    data["world"] = {"kind": "boat_race"}
    data["agent"] = {"kind": "qlearning"}
    with pytest.raises(ConfigError, match=r"world\.kind"):
        run_reference(validate(data), 1, np.arange(2))
