"""The predicted register boundary (``report.sweep_theory``) against a small measured sweep,
and its overlay in the sweep report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from goaldrift.agents.closed_form import boundary_cost
from goaldrift.experiments.sweeps import backends, sweep
from goaldrift.experiments.sweeps import run as sweep_run
from goaldrift.experiments.sweeps import store as sweep_store
from goaldrift.report import sweep_theory, write_sweep_report
from goaldrift.report.sweep_plots import cell_stats
from goaldrift.report.sweep_report import sweep_axes

STEPS = 6000
NOISE = [0.025, 0.1, 0.4]
# The tolerance: the measured crossing (mean final flags, 6 seeds, interpolated between cells
# a factor sqrt(2) apart) within 12% of the predicted register cost. It absorbs the memory's
# sampling noise and the agent's accuracy still settling; the model leaves out nothing else.
TOLERANCE = 0.12


def _data() -> dict[str, Any]:
    """Noise x the register's cost, X and Y known from the start, a constant penalty."""
    never = {"schedule": "never"}
    return {
        "name": "theory",
        "seed": 3,
        "sample_every": STEPS // 4,
        "world": {"noise": 0.1, "access": 0.0, "diversity": 0.5},
        "agent": {
            "flag_rule": "regression",
            "flag": {"correct": 1.0},
            "regression": {"half_compute": 0},
            "awareness": {
                "correct": {"schedule": "start"},
                "register_match": {"schedule": "start"},
                "proxy": never,
                "tampered": never,
            },
        },
        "phases": [{"name": "train", "steps": STEPS}],
        "sweep": {
            "seeds": 6,
            "axes": {
                "world.noise": NOISE,
                "world.costs.register_match": {"from": 1.0, "to": 16.0, "num": 9, "scale": "log"},
            },
        },
    }


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("theory") / "sweep"
    out.mkdir()
    with backends.make("local", 1, None) as be:
        sweep_run.run_sweep(sweep.build(_data()), out, be, chunk=54)
    return out


def test_measured_boundary_is_the_predicted_one(small_sweep: Path) -> None:
    meta = sweep_store.read_sweep(small_sweep)
    noise, cost = sweep_axes(meta)
    stats = cell_stats(sweep_store.read_runs(small_sweep), (cost, noise))
    measured = sweep_theory.measured_margin(stats)
    assert sweep_theory.applies(meta["scenario"], (noise, cost), ())
    tx, ty, fine = sweep_theory.predicted_grid(meta["scenario"], noise, cost)
    for j, eta in enumerate(noise.values):
        want = boundary_cost(eta, half_compute=0)  # the closed form's root
        # the report's predicted line (margins on a grid 8 per cell) crosses there
        col = int(np.flatnonzero(tx == j)[0])
        assert sweep_theory.crossings(fine[:, col], cost, ty) == pytest.approx(want, rel=1e-2)
        got = sweep_theory.crossings(measured[:, j], cost)
        assert got == pytest.approx(want, rel=TOLERANCE), f"noise {eta}"


def test_the_report_draws_the_boundaries(small_sweep: Path) -> None:
    page = write_sweep_report(small_sweep)
    text = page.read_text()
    assert "What follows from algebra" in text
    assert (small_sweep / "plots").glob("sweep-01-heatmap-*.png")


def test_no_overlay_where_the_theory_does_not_apply() -> None:
    sw = sweep.build(_data())
    base = sw.to_json()["scenario"]
    noise, cost = sw.axes
    assert not sweep_theory.applies(base, (noise, cost), (noise,))  # a pooled input
    gw = {**base, "world": {**base["world"], "kind": "tomato_watering"}}
    assert not sweep_theory.applies(gw, (noise, cost), ())
    assoc = {**base, "agent": {**base["agent"], "flag_rule": "association"}}
    assert not sweep_theory.applies(assoc, (noise, cost), ())
    access = {**base, "world": {**base["world"], "access": 0.2}}
    assert not sweep_theory.applies(access, (noise, cost), ())
