"""The Wilson interval (``goaldrift.experiments.runs.outcome``)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goaldrift.experiments.runs.outcome import wilson

# --------------------------------------------------------------------------------------------
# wilson


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        # Newcombe 1998, Statistics in Medicine 17:857, Table II (score method, no correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (5, 10, 0.2366, 0.7634),
    ],
)
def test_wilson_known_values(k, n, lo, hi) -> None:
    got = wilson(k, n)
    assert got[0] == pytest.approx(lo, abs=6e-5)
    assert got[1] == pytest.approx(hi, abs=6e-5)


def test_wilson_without_data_is_the_whole_interval() -> None:
    assert wilson(0, 0) == (0.0, 1.0)


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
@settings(max_examples=200, deadline=None)
def test_wilson_bounds_contain_p_and_solve_the_score_equation(kn) -> None:
    k, n = kn
    z = 1.959964
    lo, hi = wilson(k, n)
    p = k / n
    assert 0.0 <= lo <= p + 1e-12 and p <= hi + 1e-12  # 1e-12: float rounding inside (0, 1)
    assert hi <= 1.0
    # the bounds are the p0 with (p - p0)^2 = z^2 p0 (1 - p0) / n (Wilson 1927)
    for b in (lo, hi):
        if 0.0 < b < 1.0:
            assert (p - b) ** 2 == pytest.approx(z * z * b * (1 - b) / n, rel=1e-6, abs=1e-12)
    # the extremes close at 0 and 1
    if k == 0:
        assert lo == pytest.approx(0.0, abs=1e-12)
    if k == n:
        assert hi == pytest.approx(1.0, abs=1e-12)
    # symmetric under k -> n - k
    lo2, hi2 = wilson(n - k, n)
    assert lo2 == pytest.approx(1 - hi, abs=1e-12)
    assert hi2 == pytest.approx(1 - lo, abs=1e-12)


def test_wilson_interval_reaches_0_and_1_at_the_extremes() -> None:
    for n in range(1, 300):
        assert wilson(0, n)[0] == 0.0, n
        assert wilson(n, n)[1] == 1.0, n


def test_wilson_narrows_with_more_data() -> None:
    widths = [np.subtract(*wilson(n // 4, n)[::-1]) for n in (8, 80, 800, 8000)]
    assert all(b < a for a, b in pairwise(widths))
