"""The closed form of the regression fit with the signal on the register
(``goaldrift.agents.closed_form``) against the lasso solver the agent runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from goaldrift.agents.closed_form import (
    boundary_cost,
    flag_two,
    lasso_two,
    qa_moments,
    register_margin,
    shrink,
)
from goaldrift.agents.flag_rules import lasso_cd
from goaldrift.agents.memory import standardise

penalty = st.floats(0.0, 1.5, allow_nan=False, allow_infinity=False)


def _agent_fit(x: np.ndarray, y: np.ndarray, lam_x: float, lam_y: float):
    """What the agent's refit does with samples of X and Y and the signal s = Y: raw
    population moments, ``standardise``, ``lasso_cd`` from the flag (1, 0); returns the
    standardised fit, the flag weights and the correlation of X and Y."""
    data = np.vstack([x, y]).astype(np.float64)
    full = np.cov(data, bias=True)
    cov = full.copy()
    cross = full[:, 1].copy()  # the signal is Y
    sd = np.zeros(2)
    sd_s = standardise(cov, cross, float(full[1, 1]), sd)
    b = np.array([1.0, 0.0])
    lasso_cd(cov, cross, np.array([lam_x, lam_y]), np.ones(2, np.uint8), b)
    w = np.where(sd > 0, b * sd_s / np.where(sd > 0, sd, 1.0), 0.0)
    return b, w, float(cov[0, 1]), sd


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(20, 400),
    p_x=st.floats(0.05, 0.95),
    p_agree=st.floats(0.0, 1.0),
    lam_x=penalty,
    lam_y=penalty,
)
@settings(max_examples=300, deadline=None)
def test_the_agents_lasso_equals_the_closed_form_on_two_concepts(
    seed: int, n: int, p_x: float, p_agree: float, lam_x: float, lam_y: float
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.random(n) < p_x
    y = np.where(rng.random(n) < p_agree, x, rng.random(n) < 0.5)  # Y copies X, or not
    assume(0 < x.sum() < n and 0 < y.sum() < n)  # both vary (else nothing to compare)
    b, w, rho, sd = _agent_fit(x, y, lam_x, lam_y)
    # Nearly collinear with nearly equal penalties, the objective is nearly flat along a line
    # and coordinate descent crawls along it (collinear, one sweep moves the penalty gap's
    # worth of weight): the agent's solver stops within its 3,000 sweeps only where the gap
    # or 1 - rho^2 is at least 1e-3; the flag is ill-determined there anyway.
    assume(1.0 - rho * rho > 1e-3 or abs(lam_x - lam_y) > 1e-3)
    want_b = lasso_two(rho, lam_x, lam_y)
    np.testing.assert_allclose(b, want_b, atol=1e-7)
    want_w = flag_two(rho, sd[0], sd[1], lam_x, lam_y)
    np.testing.assert_allclose(w, want_w, atol=1e-6)


@given(rho=st.floats(-1.0, 1.0), lam_x=penalty, lam_y=penalty)
@settings(max_examples=300, deadline=None)
def test_the_closed_form_satisfies_the_optimality_conditions(
    rho: float, lam_x: float, lam_y: float
) -> None:
    assume(abs(abs(rho) - 1.0) > 1e-9 or abs(lam_x - lam_y) > 1e-9)
    b = np.array(lasso_two(rho, lam_x, lam_y))
    cov = np.array([[1.0, rho], [rho, 1.0]])
    grad = cov @ b - np.array([rho, 1.0])
    lam = np.array([lam_x, lam_y])
    for j in range(2):
        if b[j] != 0.0:
            assert abs(grad[j] + lam[j] * np.sign(b[j])) < 1e-9
        else:
            assert abs(grad[j]) <= lam[j] + 1e-9


def test_named_cases() -> None:
    assert lasso_two(1.0, 0.1, 0.2) == pytest.approx((0.9, 0.0))  # X = Y: the cheaper wins
    assert lasso_two(1.0, 0.2, 0.1) == pytest.approx((0.0, 0.9))
    assert lasso_two(0.0, 0.0, 0.3) == pytest.approx((0.0, 0.7))  # X uninformative
    assert lasso_two(0.5, 0.0, 0.0) == pytest.approx((0.0, 1.0))  # no penalty: s = Y exactly
    assert lasso_two(0.6, 0.01, 0.1) == pytest.approx(((0.06 - 0.01) / 0.64, 1 - 0.094 / 0.64))
    assert lasso_two(0.5, 2.0, 2.0) == (0.0, 0.0)
    assert shrink(20_000, 20_000) == 0.5 and shrink(5, 0) == 1.0


def test_moments_of_the_qa_model() -> None:
    m = qa_moments(0.0, 4, 0.1)
    assert m.rho == pytest.approx(1.0) and m.sd_x == pytest.approx(m.sd_y)
    # simulate the model: correct w.p. a; Y = 1 w.p. 1 - eta if correct, eta / 3 if not
    rng = np.random.default_rng(0)
    n, eta, a = 400_000, 0.2, 1 - 0.1 * 3 / 4
    x = rng.random(n) < a
    y = np.where(x, rng.random(n) < 1 - eta, rng.random(n) < eta / 3)
    m = qa_moments(eta, 4, 0.1)
    assert np.corrcoef(x, y)[0, 1] == pytest.approx(m.rho, abs=0.005)
    assert y.std() == pytest.approx(m.sd_y, abs=0.002)


def test_the_boundary_cost_is_where_the_margin_changes_sign() -> None:
    assert boundary_cost(0.0) == pytest.approx(1.0, rel=1e-6)  # X = Y: equal costs tie
    prev = 1.0
    for noise in (0.00625, 0.025, 0.1, 0.4):
        c = boundary_cost(noise)
        assert c > prev  # noisier labels: Y pays for more complexity
        prev = c
        m = qa_moments(noise)
        unit = 0.06 * shrink(200_000, 20_000)
        assert (
            register_margin(m, unit, unit * c * 0.99)
            > 0
            > register_margin(m, unit, unit * c * 1.01)
        )
    assert math.isinf(boundary_cost(0.1, l1=0.0))
