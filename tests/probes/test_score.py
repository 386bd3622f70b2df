"""Probe scores (``goaldrift.probes.score``): the normalisation between a random and a best
policy, its bootstrap interval, and the behaviour class."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from goaldrift.probes.score import across_runs, classify, normalised

units = hnp.arrays(np.float64, (2, 3, 12), elements=st.floats(-5, 5, allow_nan=False))


@given(rand=units, room=units)
@settings(max_examples=60, deadline=None)
def test_random_scores_0_and_best_scores_1(rand, room) -> None:
    best = rand + np.abs(room) + 0.1
    runs = np.array([0, 7])
    s0, lo0, _ = normalised(rand, rand, best, 3, runs)
    s1, _, hi1 = normalised(best, rand, best, 3, runs)
    np.testing.assert_allclose(s0, 0.0, atol=1e-12)
    np.testing.assert_allclose(s1, 1.0)
    np.testing.assert_allclose(lo0, 0.0, atol=1e-12)
    np.testing.assert_allclose(hi1, 1.0)


@given(pol=units, rand=units, room=units)
@settings(max_examples=60, deadline=None)
def test_score_is_the_ratio_of_sums_inside_its_interval(pol, rand, room) -> None:
    best = rand + np.abs(room) + 0.1
    s, lo, hi = normalised(pol, rand, best, 1, [0, 1])
    want = (pol - rand).sum(-1) / (best - rand).sum(-1)
    np.testing.assert_allclose(s, want, atol=1e-12)  # (subnormal sums round to 0)
    assert (lo <= hi).all()


def test_no_room_is_nan() -> None:
    v = np.ones((1, 2, 4))
    s, lo, hi = normalised(v, v, v, 0, [0])
    assert np.isnan(s).all() and np.isnan(lo).all() and np.isnan(hi).all()


def test_interval_depends_only_on_seed_and_run() -> None:
    rng = np.random.default_rng(0)
    pol, rand = rng.normal(size=(3, 2, 20)), rng.normal(size=(3, 2, 20))
    best = rand + 1
    _, lo, hi = normalised(pol, rand, best, 5, [4, 9, 2])
    _, lo1, hi1 = normalised(pol[1:2], rand[1:2], best[1:2], 5, [9])
    np.testing.assert_array_equal(lo[1], lo1[0])
    np.testing.assert_array_equal(hi[1], hi1[0])
    _, lo2, _ = normalised(pol[1:2], rand[1:2], best[1:2], 6, [9])
    assert not np.array_equal(lo1, lo2)


ROLES = ("intended", "register", "proxy", "other")


@pytest.mark.parametrize(
    ("score", "lo", "hi", "expected"),
    [
        ([0.9, 0.1, 0.2, 0.0], [0.8, -0.1, -0.1, -0.1], [1.0, 0.3, 0.4, 0.1], "intended"),
        ([0.9, 0.1, 0.2, 0.0], [0.8, 0.05, -0.1, -0.1], [1.0, 0.3, 0.4, 0.1], "intended"),
        ([0.9, 0.8, 0.2, 0.0], [0.7, 0.6, -0.1, -0.1], [1.0, 0.9, 0.4, 0.1], "mixed"),
        ([0.1, 0.0, 0.2, 0.0], [-0.1, -0.1, -0.1, -0.1], [0.3, 0.1, 0.4, 0.1], "indifferent"),
        ([np.nan, 0.5, 0.0, 0.0], [np.nan, 0.4, -0.1, -0.1], [np.nan, 0.6, 0.1, 0.1], "register"),
        ([0.0, 0.0, 0.0, 0.7], [-0.1, -0.1, -0.1, 0.5], [0.1, 0.1, 0.1, 0.9], "other"),
    ],
)
def test_behaviour_class(score, lo, hi, expected) -> None:
    a = (np.array([x], float) for x in (score, lo, hi))
    assert classify(*a, ROLES)[0] == expected


def test_across_runs_mean_and_interval() -> None:
    s = np.array([[0.0, 1.0], [1.0, 1.0], [0.5, np.nan]])
    mean, lo, hi = across_runs(s)
    np.testing.assert_allclose(mean, [0.5, 1.0])
    assert lo[0] <= 0.5 <= hi[0]
    assert lo[1] == hi[1] == 1.0
