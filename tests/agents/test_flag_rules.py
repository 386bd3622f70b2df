"""Flag rules (``goaldrift.agents.flag_rules``): the lasso fit, its moments, association flow and
split policies; and what the regression rule converges to inside the real QA kernel."""

from __future__ import annotations

import copy
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from goaldrift.agents.flag_rules import (
    SPLIT_CONTROLLABLE,
    SPLIT_EVEN,
    SPLIT_ORIGINAL,
    SPLIT_POLICIES,
    SPLIT_PREDICTIVE,
    associate,
    lasso_cd,
    soft_threshold,
    split_weights,
)
from goaldrift.agents.memory import StatColumns, code_of, code_table, coded_moments
from goaldrift.experiments.runs.runner import run_batch
from goaldrift.experiments.scenarios import validate
from goaldrift.worlds.qa import QA_WORLD

CONCEPTS = QA_WORLD.concept_names

X, Y, P, T = (CONCEPTS.index(n) for n in ("correct", "register_match", "proxy", "tampered"))

finite = {"allow_nan": False, "allow_infinity": False}


# --------------------------------------------------------------------------------------------
# lasso_cd


def lasso(cov: np.ndarray, cross: np.ndarray, pen: np.ndarray, active=None, w0=None) -> np.ndarray:
    c = len(cross)
    act = np.ones(c, np.uint8) if active is None else np.asarray(active, np.uint8)
    w = np.zeros(c) if w0 is None else np.array(w0, np.float64)
    lasso_cd(np.asarray(cov, np.float64), np.asarray(cross, np.float64), pen, act, w)
    return w


def kkt_violation(cov, cross, pen, w, active) -> float:
    """Largest violation of the lasso optimality conditions over active coordinates."""
    g = cov @ w - cross  # gradient of the smooth part
    worst = 0.0
    for j in np.flatnonzero(active):
        if w[j] != 0.0:
            worst = max(worst, abs(g[j] + pen[j] * np.sign(w[j])))
        else:
            worst = max(worst, abs(g[j]) - pen[j])
    return worst


@st.composite
def spd_problems(draw, min_eig: float = 0.2):
    """A random SPD covariance B B' + lambda I, a cross vector, penalties and a warm start."""
    c = draw(st.integers(1, 5))
    b = draw(hnp.arrays(np.float64, (c, c), elements=st.floats(-1, 1, **finite)))
    lam = draw(st.floats(min_eig, 1.0))
    cov = b @ b.T + lam * np.eye(c)
    cross = draw(hnp.arrays(np.float64, c, elements=st.floats(-2, 2, **finite)))
    pen = draw(hnp.arrays(np.float64, c, elements=st.floats(0, 0.5, **finite)))
    active = draw(hnp.arrays(np.bool_, c))
    w0 = draw(hnp.arrays(np.float64, c, elements=st.floats(-2, 2, **finite)))
    return cov, cross, pen, active, w0


def test_soft_threshold() -> None:
    assert soft_threshold(3.0, 1.0) == 2.0
    assert soft_threshold(-3.0, 1.0) == -2.0
    assert soft_threshold(0.5, 1.0) == 0.0
    assert soft_threshold(-1.0, 1.0) == 0.0
    assert soft_threshold(0.2, 0.0) == 0.2


@given(spd_problems())
@settings(max_examples=150, deadline=None)
def test_lasso_satisfies_kkt_and_holds_inactive_at_zero(problem) -> None:
    cov, cross, pen, active, w0 = problem
    # well-conditioned only: see the near-collinear tests below for the sweep cap
    assume(np.linalg.cond(cov) < 30)
    w = lasso(cov, cross, pen, active, w0)
    assert np.all(w[~active] == 0.0)
    scale = 1.0 + np.abs(cov).sum(axis=1).max()
    assert kkt_violation(cov, cross, pen, w, active) < 1e-4 * scale


@given(spd_problems())
@settings(max_examples=150, deadline=None)
def test_lasso_without_penalty_is_least_squares(problem) -> None:
    cov, cross, _, _, w0 = problem
    # Coordinate descent stops on a small step (or after 100 sweeps), which is far from the
    # optimum when concepts are highly correlated; see the near-collinear test below.
    assume(np.linalg.cond(cov) < 30)
    c = len(cross)
    w = lasso(cov, cross, np.zeros(c), None, w0)
    ols = np.linalg.solve(cov, cross)
    np.testing.assert_allclose(w, ols, atol=1e-3 * (1 + np.abs(ols).max()))


@given(spd_problems())
@settings(max_examples=60, deadline=None)
def test_lasso_on_active_subset_equals_lasso_of_the_subproblem(problem) -> None:
    cov, cross, pen, active, w0 = problem
    assume(active.any())
    w = lasso(cov, cross, pen, active, w0)
    idx = np.flatnonzero(active)
    sub = lasso(cov[np.ix_(idx, idx)], cross[idx], pen[idx], None, w0[idx])
    np.testing.assert_allclose(w[idx], sub, atol=1e-3 * (1 + np.abs(sub).max()))


def test_lasso_near_collinear_pair_converges_over_warm_started_refits() -> None:
    # x and y agree except under label noise e (K = 4 answers, uniform answers): var = 3/16,
    # cov(x, y) = (1 - e)/4 - 1/16, and the signal is y, so least squares is w = (0, 1).
    # One call may stop early (correlation ~0.99); the kernel refits from the last solution,
    # and repeated calls must approach (0, 1).
    e = 0.005
    v, cxy = 3 / 16, (1 - e) / 4 - 1 / 16
    cov = np.array([[v, cxy], [cxy, v]])
    cross = np.array([cxy, v])
    w = np.array([1.0, 0.0])
    errors = []
    for _ in range(50):
        lasso_cd(cov, cross, np.zeros(2), np.ones(2, np.uint8), w)
        errors.append(np.abs(w - [0.0, 1.0]).max())
    assert all(b <= a + 1e-12 for a, b in pairwise(errors))
    assert errors[-1] < 1e-3
    assert w.sum() == pytest.approx(1.0, abs=1e-4)  # the well-determined direction is exact


def test_one_lasso_call_minimises_even_for_highly_correlated_concepts() -> None:
    e = 0.005  # the QA pair of the test above: correlation 0.993
    v, cxy = 3 / 16, (1 - e) / 4 - 1 / 16
    cov = np.array([[v, cxy], [cxy, v]])
    w = lasso(cov, np.array([cxy, v]), np.zeros(2), None, [1.0, 0.0])
    np.testing.assert_allclose(w, [0.0, 1.0], atol=1e-3)
    # found by Hypothesis: five concepts with pairwise correlation 5 / 5.25
    cov = np.full((5, 5), 5.0) + 0.25 * np.eye(5)
    w = lasso(cov, np.zeros(5), np.zeros(5), None, np.ones(5))
    assert kkt_violation(cov, np.zeros(5), np.zeros(5), w, np.ones(5, bool)) < 1e-3


def test_lasso_zero_variance_concept_gets_zero_weight() -> None:
    cov = np.array([[0.25, 0.0], [0.0, 0.0]])
    w = lasso(cov, np.array([0.2, 0.0]), np.zeros(2), None, [0.3, 0.7])
    assert w[1] == 0.0
    assert w[0] == pytest.approx(0.8)


def test_lasso_large_penalty_zeroes_everything() -> None:
    cov = np.array([[1.0, 0.3], [0.3, 1.0]])
    cross = np.array([0.4, -0.2])
    w = lasso(cov, cross, np.array([0.5, 0.5]), None, [1.0, 1.0])
    np.testing.assert_array_equal(w, [0.0, 0.0])


@given(
    v=st.floats(0.05, 1.0),
    corr=st.floats(-1.0, 1.0),
    pens=st.tuples(st.floats(0.0, 0.2), st.floats(0.02, 0.3)),
    cheap_first=st.booleans(),
    w0=st.tuples(st.floats(-2, 2), st.floats(-2, 2)),
)
@settings(max_examples=150, deadline=None)
def test_collinear_concepts_weight_goes_to_the_cheaper(v, corr, pens, cheap_first, w0) -> None:
    # Two identical concepts (Σ has two equal rows): the quadratic and linear parts depend
    # only on w_a + w_b, so for a fixed sum the penalty pen_a|w_a| + pen_b|w_b| is smallest
    # with all weight on the cheaper one. That weight is the one-concept lasso solution
    # soft(c, pen_cheap) / var, and the dearer concept holds exactly zero.
    cheap, extra = pens
    dear = cheap + extra
    cross_val = corr * v  # a covariance of the signal with the concept, |c| <= v
    pen = np.array([cheap, dear]) if cheap_first else np.array([dear, cheap])
    cov = np.full((2, 2), v)
    # Weight crosses from the dearer to the cheaper concept by (dear - cheap) / v per sweep;
    # at most 100 sweeps per call, so refit from the last solution as the kernel does.
    w = np.array(w0, np.float64)
    for _ in range(5):
        lasso_cd(cov, np.full(2, cross_val), pen, np.ones(2, np.uint8), w)
    i_cheap, i_dear = (0, 1) if cheap_first else (1, 0)
    single = soft_threshold(cross_val, cheap) / v
    assert w[i_dear] == pytest.approx(0.0, abs=1e-6)
    assert w[i_cheap] == pytest.approx(single, abs=1e-4)
    assert w.sum() == pytest.approx(single, abs=1e-4)


def test_collinear_pair_next_to_an_other_concept_matches_the_reduced_problem() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    a = (rng.random(n) < 0.3).astype(float)
    b = (rng.random(n) < 0.6).astype(float)
    s = ((a + b + (rng.random(n) < 0.2)) >= 1).astype(float)
    data = np.stack([a, b, a])  # concept 2 is a copy of concept 0
    full = np.cov(np.vstack([data, s]), bias=True)
    cov, cross = full[:3, :3], full[:3, 3]
    pen = np.array([0.004, 0.002, 0.001])  # the copy is cheaper
    w = lasso(cov, cross, pen, None, [1.0, 0.0, 0.0])
    reduced = lasso(cov[np.ix_([2, 1], [2, 1])], cross[[2, 1]], pen[[2, 1]])
    assert w[0] == pytest.approx(0.0, abs=1e-6)
    assert w[2] == pytest.approx(reduced[0], abs=1e-4)
    assert w[1] == pytest.approx(reduced[1], abs=1e-4)
    assert w[0] + w[2] == pytest.approx(reduced[0], abs=1e-4)


# --------------------------------------------------------------------------------------------
# moments: covariance from the memory's code-table statistics


def _moments_of(stats: np.ndarray, lay: StatColumns) -> tuple[float, np.ndarray, np.ndarray]:
    cov = np.full((lay.c, lay.c), np.nan)
    cross = np.full(lay.c, np.nan)
    n = coded_moments(stats, lay.N_S, lay.SUM_S, lay.SUM_PHI, lay.SUM_PP, lay.SUM_PS, cov, cross)
    return n, cov, cross


@given(st.integers(1, 4), st.integers(0, 2**32 - 1), st.integers(1, 300))
@settings(max_examples=60, deadline=None)
def test_moments_from_table_rows_equal_numpy_cov(c: int, seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    phi = rng.integers(0, 3, size=(n, c))  # 2 = undefined
    sig = rng.integers(0, 3, size=n)  # 2 = absent
    lay = StatColumns(c)
    table = code_table(c)
    codes = [code_of(list(phi[i]), int(sig[i])) for i in range(n)]
    stats = table[codes].astype(np.int64).sum(axis=0).astype(np.int32)
    got_n, cov, cross = _moments_of(stats, lay)
    keep = sig != 2  # only samples with a signal enter the fit
    assert got_n == keep.sum()
    if not keep.any():
        assert not cov.any() and not cross.any()
        return
    vals = np.where(phi[keep] == 2, 0, phi[keep]).astype(float)  # undefined counts as 0
    joint = np.cov(np.column_stack([vals, sig[keep]]).T, bias=True).reshape(c + 1, c + 1)
    np.testing.assert_allclose(cov, joint[:c, :c], atol=1e-12)
    np.testing.assert_allclose(cross, joint[:c, c], atol=1e-12)


def test_moments_of_empty_memory_are_zero() -> None:
    lay = StatColumns(3)
    n, cov, cross = _moments_of(np.zeros(lay.width, np.int32), lay)
    assert n == 0
    assert not cov.any() and not cross.any()


# --------------------------------------------------------------------------------------------
# associate

PAIR_I = np.array([0, 0, 1], np.int64)
PAIR_J = np.array([1, 2, 2], np.int64)


def _assoc(w, noticed, strength, aware_at, rate, one_way, dt, pi=PAIR_I, pj=PAIR_J):
    w = np.array(w, np.float64)
    moved = associate(
        w,
        np.asarray(noticed, np.uint8),
        np.asarray(strength, np.float32),
        pi,
        pj,
        np.asarray(aware_at, np.int64),
        rate,
        one_way,
        dt,
    )
    return w, moved


@given(
    w=hnp.arrays(np.float64, 3, elements=st.floats(-2, 2, **finite)),
    noticed=hnp.arrays(np.bool_, 3),
    strength=hnp.arrays(np.float32, 3, elements=st.floats(0, 1, width=32)),
    aware_at=hnp.arrays(np.int64, 3, elements=st.integers(0, 3)),
    rate=st.floats(1e-4, 0.5),
    one_way=st.booleans(),
    dt=st.integers(1, 500),
)
@settings(max_examples=200, deadline=None)
def test_associate_conserves_total_weight(w, noticed, strength, aware_at, rate, one_way, dt):
    out, moved = _assoc(w, noticed, strength, aware_at, rate, one_way, dt)
    assert out.sum() == pytest.approx(w.sum(), abs=1e-9)
    if not moved:
        np.testing.assert_array_equal(out, w)
    if not noticed.any():
        assert not moved


@given(
    wi=st.floats(-2, 2),
    wj=st.floats(-2, 2),
    s=st.floats(0, 1, width=32),
    rate=st.floats(1e-4, 0.5),
    dt=st.integers(1, 1000),
    same_step=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_two_way_gap_keeps_sign_and_shrinks_exactly(wi, wj, s, rate, dt, same_step) -> None:
    # Two-way flow is used when one_way is off, or when both became aware at the same step.
    one_way = same_step
    aware_at = [5, 5] if same_step else [1, 9]
    pi, pj = np.array([0], np.int64), np.array([1], np.int64)
    out, _ = _assoc([wi, wj], [1], [s], aware_at, rate, one_way, dt, pi, pj)
    k = rate * float(np.float32(s))
    gap0 = wi - wj
    gap1 = out[0] - out[1]
    assert gap1 == pytest.approx(gap0 * (1 - 2 * k) ** dt, abs=1e-12)
    assert abs(gap1) <= abs(gap0) + 1e-12
    assert gap1 * np.sign(gap0) >= -1e-12  # no overshoot (up to rounding when 2k = 1)
    assert out.sum() == pytest.approx(wi + wj, abs=1e-12)


def test_two_way_converges_to_equal_weights() -> None:
    pi, pj = np.array([0], np.int64), np.array([1], np.int64)
    out, moved = _assoc([1.0, 0.0], [1], [0.9], [0, 0], 0.01, False, 5000, pi, pj)
    assert moved
    np.testing.assert_allclose(out, [0.5, 0.5], atol=1e-12)
    # in small steps too: 500 calls of dt=10 equal one call of dt=5000
    w = np.array([1.0, 0.0])
    for _ in range(500):
        w, _ = _assoc(w, [1], [0.9], [0, 0], 0.01, False, 10, pi, pj)
    np.testing.assert_allclose(w, out, atol=1e-12)


@given(
    w_old=st.floats(-2, 2),
    w_new=st.floats(-2, 2),
    s=st.floats(0, 1, width=32),
    rate=st.floats(1e-4, 0.5),
    dt=st.integers(1, 1000),
    old_first=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_one_way_moves_weight_from_older_to_newer(w_old, w_new, s, rate, dt, old_first):
    pi, pj = np.array([0], np.int64), np.array([1], np.int64)
    if old_first:
        w, aware_at, o, n = [w_old, w_new], [2, 7], 0, 1
    else:
        w, aware_at, o, n = [w_new, w_old], [7, 2], 1, 0
    out, _ = _assoc(w, [1], [s], aware_at, rate, True, dt, pi, pj)
    k = rate * float(np.float32(s))
    keep = (1 - k) ** dt
    assert out[o] == pytest.approx(w_old * keep, abs=1e-12)
    assert out[n] == pytest.approx(w_new + w_old * (1 - keep), abs=1e-12)


def test_one_way_ends_with_all_weight_on_the_newer_concept() -> None:
    pi, pj = np.array([0], np.int64), np.array([1], np.int64)
    out, moved = _assoc([1.0, 0.0], [1], [1.0], [0, 100], 0.01, True, 10_000, pi, pj)
    assert moved
    np.testing.assert_allclose(out, [0.0, 1.0], atol=1e-12)


def test_not_noticed_relations_move_nothing() -> None:
    w0 = [0.7, 0.2, 0.1]
    out, moved = _assoc(w0, [0, 0, 0], [1.0, 1.0, 1.0], [0, 1, 2], 0.5, True, 100)
    assert not moved
    np.testing.assert_array_equal(out, w0)
    # only the noticed pair (1, 2) exchanges weight
    out, moved = _assoc(w0, [0, 0, 1], [1.0, 1.0, 1.0], [0, 0, 0], 0.1, False, 1)
    assert moved
    assert out[0] == w0[0]
    assert out[1] == pytest.approx(0.2 - 0.5 * 0.1 * 0.2)


def test_equal_weights_do_not_move() -> None:
    out, moved = _assoc([0.5, 0.5, 0.0], [1, 0, 0], [1.0, 1.0, 1.0], [0, 0, 0], 0.1, False, 50)
    assert not moved
    np.testing.assert_array_equal(out, [0.5, 0.5, 0.0])


# --------------------------------------------------------------------------------------------
# split_weights


def _split(members, total, w_pre, control, predict, policy):
    c = len(members)
    out = np.full(c, np.nan)
    split_weights(
        np.asarray(members, np.bool_),
        float(total),
        np.asarray(w_pre, np.float64),
        np.asarray(control, np.float64),
        np.asarray(predict, np.float64),
        policy,
        out,
    )
    return out


def test_split_policy_constants_follow_the_names() -> None:
    assert SPLIT_POLICIES.index("original") == SPLIT_ORIGINAL
    assert SPLIT_POLICIES.index("even") == SPLIT_EVEN
    assert SPLIT_POLICIES.index("controllable") == SPLIT_CONTROLLABLE
    assert SPLIT_POLICIES.index("predictive") == SPLIT_PREDICTIVE


@given(
    members=hnp.arrays(np.bool_, 4).filter(lambda m: m.any()),
    total=st.floats(-3, 3),
    # the kernels keep w_pre in float32 (float64 subnormals, which lose the share, never occur)
    w_pre=hnp.arrays(np.float32, 4, elements=st.floats(0, 2, width=32, **finite)),
    control=hnp.arrays(np.float64, 4, elements=st.floats(0, 1, **finite)),
    predict=hnp.arrays(np.float64, 4, elements=st.floats(-1, 1, **finite)),
    policy=st.sampled_from([SPLIT_ORIGINAL, SPLIT_EVEN, SPLIT_CONTROLLABLE, SPLIT_PREDICTIVE]),
)
@settings(max_examples=200, deadline=None)
def test_split_conserves_total_and_leaves_non_members(
    members, total, w_pre, control, predict, policy
):
    w_pre = w_pre.astype(np.float64)  # float32 values, float64 arithmetic as in the kernels
    out = _split(members, total, w_pre, control, predict, policy)
    assert np.all(np.isnan(out[~members]))  # untouched
    assert out[members].sum() == pytest.approx(total, abs=1e-9)
    m = np.flatnonzero(members)
    if policy == SPLIT_EVEN or (policy == SPLIT_ORIGINAL and w_pre[m].sum() == 0):
        np.testing.assert_allclose(out[m], total / len(m))
    elif policy == SPLIT_ORIGINAL:
        np.testing.assert_allclose(out[m], total * w_pre[m] / w_pre[m].sum())
    else:
        score = control if policy == SPLIT_CONTROLLABLE else predict
        best = m[np.argmax(score[m])]  # first member with the top score
        expect = np.zeros(len(m))
        expect[list(m).index(best)] = total
        np.testing.assert_array_equal(out[m], expect)


def test_split_original_returns_pre_merge_proportions() -> None:
    out = _split([1, 1, 0, 1], 2.0, [0.6, 0.2, 9.0, 0.2], [0] * 4, [0] * 4, SPLIT_ORIGINAL)
    np.testing.assert_allclose(out[[0, 1, 3]], [1.2, 0.4, 0.4])


def test_split_original_with_zero_pre_weights_falls_back_to_even() -> None:
    out = _split([1, 1, 1, 0], 0.9, [0.0, 0.0, 0.0, 5.0], [0] * 4, [0] * 4, SPLIT_ORIGINAL)
    np.testing.assert_allclose(out[:3], [0.3, 0.3, 0.3])


def test_split_controllable_and_predictive_pick_the_right_member() -> None:
    members = [1, 1, 0, 1]
    control = [0.1, 0.5, 0.9, 0.2]  # concept 2 is the most controllable but not a member
    predict = [0.8, 0.6, 1.0, 0.95]
    out = _split(members, 1.0, [1, 0, 0, 0], control, predict, SPLIT_CONTROLLABLE)
    np.testing.assert_array_equal(out[[0, 1, 3]], [0.0, 1.0, 0.0])
    out = _split(members, 1.0, [1, 0, 0, 0], control, predict, SPLIT_PREDICTIVE)
    np.testing.assert_array_equal(out[[0, 1, 3]], [0.0, 0.0, 1.0])


# --------------------------------------------------------------------------------------------
# The regression rule inside the real kernel: what the online fit converges to.
#
# World: every answer uniformly random (epsilon = 1, so the flag does not change the data),
# K = 4 answers, no register access (tampered is always 0: zero variance, weight 0), noise 0.
# Then label = truth, so register_match y = correct x, and the signal s = y = x exactly.
# With m the share of correct answers in memory, var(x) = cov(s, x) = m(1 - m).
#
# - l1 = 0: any w with w_x + w_y = 1 (and nothing on the proxy) fits s exactly.
# - l1 > 0, x and y collinear: for a fixed w_x + w_y the penalty l1(cost_x|w_x| + cost_y|w_y|)
#   is smallest with all weight on the cheaper concept; the fit is on standardised concepts and
#   signal (correlation 1), so its coefficient is the one-concept lasso soft(1, pen) = 1 - pen,
#   pen = l1 * its cost, and (sd(s) = sd(x)) so is its weight, whatever m.
# - the penalty shrinks with training compute (one unit per supervised step here) as
#   1 / (1 + compute / half_compute); half_compute = 0 keeps it constant.
# - label noise (random, rate e): s = y exactly while x differs, so least squares puts weight
#   1 on y and 0 on x (the seed's "Y matches the signal better than X").

MEMORY = 2000
STEPS = 3000
FIT_EVERY = 200


def _scenario(
    base: dict[str, Any],
    *,
    l1: float,
    costs: dict[str, float],
    flag: dict[str, float],
    proxy_aware: bool,
    noise: float = 0.0,
    rate: float = 1.0,
    half_compute: int = 0,
    extra_phases: list[dict[str, Any]] | None = None,
):
    data = copy.deepcopy(base)
    data["world"].update(noise=noise, noise_kind="random", access=0.0, diversity=0.5, costs=costs)
    start = {"schedule": "start"}
    data["agent"] = {
        "flag_rule": "regression",
        "epsilon": 1.0,
        "memory": MEMORY,
        "flag": flag,
        "awareness": {
            "correct": start,
            "register_match": start,
            "proxy": start if proxy_aware else {"schedule": "never"},
            "tampered": start,
        },
        "regression": {
            "l1": l1,
            "half_compute": half_compute,
            "fit_every": FIT_EVERY,
            "min_samples": 100,
            "rate": rate,
        },
    }
    data["phases"] = [{"name": "train", "steps": STEPS}, *(extra_phases or [])]
    return validate(data)


def test_regression_without_penalty_fits_the_signal(tiny_data) -> None:
    sc = _scenario(
        tiny_data, l1=0.0, costs={}, flag={"correct": 0.0, "proxy": 1.0}, proxy_aware=True
    )
    res = run_batch(sc, seed=3, runs=range(4))
    w = res.flag
    np.testing.assert_allclose(w[:, X] + w[:, Y], 1.0, atol=1e-3)
    np.testing.assert_allclose(w[:, P], 0.0, atol=1e-3)
    np.testing.assert_array_equal(w[:, T], 0.0)


@pytest.mark.parametrize(
    ("cost_x", "cost_y", "winner", "loser"),
    [(1.0, 4.0, X, Y), (4.0, 1.0, Y, X)],
    ids=["correct-cheaper", "register-cheaper"],
)
def test_regression_with_costs_puts_weight_on_the_cheaper_collinear_concept(
    tiny_data, cost_x, cost_y, winner, loser
) -> None:
    l1 = 0.02
    sc = _scenario(
        tiny_data,
        l1=l1,
        costs={"correct": cost_x, "register_match": cost_y},
        flag={"correct": 1.0},  # starts on correct either way
        proxy_aware=False,
    )
    res = run_batch(sc, seed=11, runs=range(4))
    pen = l1 * min(cost_x, cost_y)
    np.testing.assert_allclose(res.flag[:, winner], 1.0 - pen, atol=2e-6)
    np.testing.assert_allclose(res.flag[:, loser], 0.0, atol=1e-6)
    np.testing.assert_array_equal(res.flag[:, T], 0.0)
    np.testing.assert_array_equal(res.flag[:, P], 0.0)  # unaware: untouched initial weight


def test_regression_with_label_noise_moves_the_flag_to_the_register(tiny_data) -> None:
    sc = _scenario(tiny_data, l1=0.0, costs={}, flag={"correct": 1.0}, proxy_aware=True, noise=0.2)
    res = run_batch(sc, seed=5, runs=range(4))
    np.testing.assert_allclose(res.flag[:, Y], 1.0, atol=1e-3)
    np.testing.assert_allclose(res.flag[:, X], 0.0, atol=1e-3)
    np.testing.assert_allclose(res.flag[:, P], 0.0, atol=1e-3)


def test_regression_flag_follows_each_refit_at_its_rate_and_only_with_a_signal(tiny_data):
    # w_k = w_{k-1} + rate (fit_k - w_{k-1}) at every refit, fit_k = 1 - pen_k (standardised,
    # collinear) with the penalty shrunk by the compute spent so far (= the step, every step
    # supervised); in a deploy phase without a supervisor the flag does not move.
    l1, rate, half = 0.02, 0.25, 1000
    sc = _scenario(
        tiny_data,
        l1=l1,
        costs={"correct": 1.0, "register_match": 4.0},
        flag={"correct": 1.0},
        proxy_aware=False,
        rate=rate,
        half_compute=half,
        extra_phases=[{"name": "deploy", "steps": 1000, "supervisor": False}],
    )
    res = run_batch(sc, seed=2, runs=range(3))
    ends = res.windows.end
    w = np.ones(3)
    for k in range(1, STEPS // FIT_EVERY + 1):
        step = k * FIT_EVERY
        pen = l1 / (1.0 + step / half)
        fit = 1.0 - pen
        w = w + rate * (fit - w)
        win = int(np.flatnonzero(ends == step)[0])
        np.testing.assert_allclose(res.flag_series[:, win, X], w, atol=1e-4)
        np.testing.assert_allclose(res.flag_series[:, win, Y], 0.0, atol=1e-6)
    deploy = np.flatnonzero(res.windows.phase == 1)
    last_train = res.flag_series[:, deploy[0] - 1]
    for win in deploy:
        np.testing.assert_array_equal(res.flag_series[:, win], last_train)


def test_an_accurate_register_qa_agent_keeps_its_goal() -> None:
    """Issue 9's repro: noise 0, little exploration, X the only known concept. On raw 0/1
    concepts var(X) = a(1 - a) shrinks as accuracy a rises until the penalty zeroes the flag
    (about 4% of samples did); on standardised ones the fit is 1 - l1 x shrink whatever a."""
    from goaldrift.experiments import scenarios as scen
    from goaldrift.registry import resolve_scenario

    sets = [
        "world.noise=0",
        "agent.epsilon=0.05",
        'agent.awareness.register_match={schedule="never"}',
        'agent.awareness.proxy={schedule="never"}',
        "phases.0.steps=40000",
        "sample_every=200",
    ]
    sc = scen.load(resolve_scenario("signal-forever"), sets)
    res = run_batch(sc, sc.seed, range(16))
    w = res.flag_series
    assert w.shape[1] == 200 + 3  # and the first window's three early cuts
    assert not np.all(w == 0.0, axis=2).any()
    assert w[:, :, X].min() > 0.5
