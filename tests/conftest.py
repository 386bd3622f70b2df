"""Shared fixtures: small scenarios that compile and run in seconds."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest

from goaldrift.experiments.scenarios import Scenario, validate

os.environ.setdefault("MPLBACKEND", "Agg")


def tiny(**over: Any) -> dict[str, Any]:
    """Raw data of a small valid scenario; keyword arguments replace top-level keys."""
    data: dict[str, Any] = {
        "name": "tiny",
        "runs": 4,
        "sample_every": 100,
        "world": {"types": 8, "answers": 4, "hard_types": 4, "diversity": 0.5},
        "agent": {"flag_rule": "anchored"},
        "phases": [{"name": "train", "steps": 1000}],
    }
    data.update(over)
    return data


@pytest.fixture
def tiny_data() -> dict[str, Any]:
    return tiny()


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in: nested tables merge, awareness schedules replace."""
    out = copy.deepcopy(base)
    for key, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(key), dict) and "schedule" not in v:
            out[key] = merged(out[key], v)
        else:
            out[key] = copy.deepcopy(v)
    return out


def at_one_and_all_threads(sc: Scenario, runs: int) -> tuple[Any, Any]:
    """``run_batch`` of runs 0..runs-1 on one numba thread, then on all of them."""
    import numba

    from goaldrift.experiments.runs.runner import run_batch

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run_batch(sc, 0, range(runs))
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        most = run_batch(sc, 0, range(runs))
    finally:
        numba.set_num_threads(before)
    assert numba.get_num_threads() == before
    return one, most


def scenario(**over: Any) -> Scenario:
    """``tiny()`` with nested tables merged (not replaced) by the keyword arguments."""
    return validate(merged(tiny(), over))
