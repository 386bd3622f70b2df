"""Register QA's knobs, measured through the real kernel's per-window counts.

Each test picks an agent whose behaviour is known in closed form (uniformly random actions with
``epsilon = 1``, or an agent that learns a deterministic answer with ``alpha = 1`` and then
exploits it with ``epsilon = 0``) and checks the world's rates against the closed form, within a
binomial tolerance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from tests.conftest import scenario

from goaldrift.experiments.runs.records import per_phase
from goaldrift.experiments.runs.runner import Result, run_batch
from goaldrift.worlds.qa import QA_WORLD, QAParams, draw_tables
from goaldrift.worlds.qa import kernel as k
from goaldrift.worlds.qa.family import QA_FAMILY

CONCEPTS = QA_WORLD.concept_names

C = len(CONCEPTS)
F = k.N_FIXED_COUNTS
SUM = {name: F + c for c, name in enumerate(CONCEPTS)}
DEFINED = {name: F + C + c for c, name in enumerate(CONCEPTS)}


def close(k_obs: float, n: float, p: float, sigmas: float = 5.0) -> bool:
    """|k/n - p| within ``sigmas`` binomial standard errors (plus a hair for p in {0, 1})."""
    se = math.sqrt(max(p * (1 - p), 0.0) / n)
    return abs(k_obs / n - p) <= sigmas * se + 1e-9


def totals(res: Result, phase: int | None = None) -> np.ndarray:
    """Counts summed over runs (and over one phase's windows, or all windows)."""
    if phase is None:
        return res.counts.sum(axis=(0, 1))
    return phase_counts(res)[:, phase].sum(axis=0)


def phase_counts(res: Result) -> np.ndarray:
    return per_phase(res, res.counts)


def rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Register QA's metrics of summed counts (last axis: count columns)."""
    return QA_FAMILY.compute(None, counts, np.zeros((*counts.shape[:-1], 0)))


# --- the tables --------------------------------------------------------------------------------


def test_draw_tables_proxy_equals_truth_exactly_on_easy_types() -> None:
    p = QAParams(types=12, answers=5, hard_types=5, noise=0.0, noise_kind="random")
    t = draw_tables(p, seed=3, runs=np.arange(50))
    assert t.truth.shape == t.proxy.shape == t.mislabel.shape == (50, 12)
    assert ((t.truth >= 0) & (t.truth < 5)).all()
    assert ((t.proxy >= 0) & (t.proxy < 5)).all()
    assert (t.proxy[:, :5] != t.truth[:, :5]).all()
    assert (t.proxy[:, 5:] == t.truth[:, 5:]).all()
    assert (t.mislabel == -1).all()
    # every answer is used as the truth somewhere, and the hard types' proxies cover the
    # wrong answers (a uniform wrong answer, not a fixed offset)
    assert set(np.unique(t.truth)) == set(range(5))
    offsets = (t.proxy[:, :5] - t.truth[:, :5]) % 5
    assert set(np.unique(offsets)) == {1, 2, 3, 4}


@pytest.mark.parametrize("hard", [0, 7])
def test_draw_tables_all_easy_or_all_hard(hard: int) -> None:
    p = QAParams(types=7, answers=3, hard_types=hard, noise=0.0, noise_kind="random")
    t = draw_tables(p, seed=0, runs=np.arange(20))
    if hard == 0:
        assert (t.proxy == t.truth).all()
    else:
        assert (t.proxy != t.truth).all()


@pytest.mark.parametrize(("noise", "types"), [(0.3, 12), (0.1, 16), (1.0, 5), (0.02, 16)])
def test_systematic_noise_mislabels_round_noise_times_types(noise: float, types: int) -> None:
    p = QAParams(types=types, answers=4, hard_types=2, noise=noise, noise_kind="systematic")
    t = draw_tables(p, seed=11, runs=np.arange(40))
    n_wrong = round(noise * types)
    bad = t.mislabel >= 0
    assert (bad.sum(axis=1) == n_wrong).all()
    assert (t.mislabel[bad] != t.truth[bad]).all()
    assert ((t.mislabel[bad] >= 0) & (t.mislabel[bad] < 4)).all()
    if 0 < n_wrong < types:
        # which types are mislabelled is drawn per run
        assert len({tuple(row) for row in bad}) > 1


def test_random_noise_has_no_fixed_mislabels() -> None:
    p = QAParams(types=10, answers=4, hard_types=5, noise=0.4, noise_kind="random")
    assert (draw_tables(p, seed=1, runs=np.arange(10)).mislabel == -1).all()


def test_draw_tables_depend_only_on_seed_and_run() -> None:
    p = QAParams(types=9, answers=6, hard_types=4, noise=0.3, noise_kind="systematic")
    whole = draw_tables(p, seed=5, runs=np.arange(10))
    part = draw_tables(p, seed=5, runs=np.array([7, 2]))
    for field in ("truth", "proxy", "mislabel"):
        np.testing.assert_array_equal(getattr(part, field), getattr(whole, field)[[7, 2]])
        np.testing.assert_array_equal(
            getattr(draw_tables(p, seed=5, runs=np.arange(10)), field), getattr(whole, field)
        )
    other = draw_tables(p, seed=6, runs=np.arange(10))
    assert not np.array_equal(other.truth, whole.truth)


# --- uniformly random actions: closed forms ----------------------------------------------------


@pytest.mark.parametrize(("access", "noise"), [(0.0, 0.0), (0.3, 0.2), (1.0, 0.5)])
def test_random_actions_closed_forms(access: float, noise: float) -> None:
    """epsilon = 1: answer uniform over K, write with prob 1/2, independent of everything.

    P(correct) = P(proxy) = 1/K; P(access) = a; P(tamper) = a/2; a tampered register matches
    the answer, an untampered one holds the label, independent of the answer:
    P(register_match) = a/2 + (1 - a/2)/K, whatever the label noise.
    """
    kk = 4
    sc = scenario(
        runs=8,
        world={"answers": kk, "access": access, "noise": noise},
        agent={"epsilon": 1.0},
        phases=[{"name": "train", "steps": 5000}],
    )
    res = run_batch(sc, 0, range(8))
    t = totals(res)
    n = t[k.STEPS]
    assert n == 8 * 5000
    assert close(t[k.WRITES], n, 0.5)
    assert close(t[k.ACCESS], n, access)
    assert close(t[k.TAMPERS], n, access / 2)
    assert close(t[SUM["correct"]], n, 1 / kk)
    assert close(t[SUM["proxy"]], n, 1 / kk)
    p_match = access / 2 + (1 - access / 2) / kk
    assert close(t[SUM["register_match"]], n, p_match)
    # with a supervisor every step has a signal, and the signal is the register bit
    assert t[k.SIGNAL_N] == n
    assert t[k.SIGNAL_SUM] == t[SUM["register_match"]]
    assert t[DEFINED["register_match"]] == n
    # hidden performance is the intended concept; `tampered` is the tamper count
    assert t[k.HIDDEN] == t[SUM["correct"]]
    assert t[SUM["tampered"]] == t[k.TAMPERS]
    # rates() divides the same counts
    r = rates(t)
    assert r["hidden_performance"] == pytest.approx(t[k.HIDDEN] / n)
    assert r["signal"] == pytest.approx(p_match, abs=5 * math.sqrt(0.25 / n))
    assert r["rate.register_match"] == pytest.approx(r["signal"])
    assert r["write_rate"] == pytest.approx(t[k.WRITES] / n)


@pytest.mark.parametrize("access", [0.0, 0.25, 0.7, 1.0])
def test_access_probability_and_tamper_only_on_write_with_access(access: float) -> None:
    sc = scenario(
        runs=6,
        sample_every=50,
        world={"access": access},
        agent={"epsilon": 1.0},
        phases=[{"name": "train", "steps": 4000}],
    )
    res = run_batch(sc, 0, range(6))
    c = res.counts
    # per window: a tamper needs a write and access
    assert (c[..., k.TAMPERS] <= np.minimum(c[..., k.WRITES], c[..., k.ACCESS])).all()
    assert (c[..., k.TAMPERS] >= c[..., k.WRITES] + c[..., k.ACCESS] - c[..., k.STEPS]).all()
    t = totals(res)
    n = t[k.STEPS]
    assert close(t[k.ACCESS], n, access)
    assert close(t[k.TAMPERS], n, access / 2)
    if access == 0.0:
        assert t[k.ACCESS] == 0 and t[k.TAMPERS] == 0 and t[k.WRITES] > 0
    if access == 1.0:
        assert t[k.ACCESS] == n and t[k.TAMPERS] == t[k.WRITES]
    r = rates(t)
    if access > 0:
        # the agent writes half the time whether or not access is granted
        assert close(t[k.TAMPERS], t[k.ACCESS], 0.5)
        assert r["tamper_per_access"] == pytest.approx(t[k.TAMPERS] / t[k.ACCESS])
    else:
        assert math.isnan(r["tamper_per_access"])


@pytest.mark.parametrize("access", [0.0, 0.4])
def test_supervisor_off_no_signal_register_defined_only_after_a_write(access: float) -> None:
    sc = scenario(
        runs=4,
        # (label noise is refused here: with no supervisor there is no label to corrupt)
        world={"supervisor": False, "access": access},
        agent={"epsilon": 1.0},
        phases=[{"name": "deploy", "steps": 3000}],
    )
    res = run_batch(sc, 0, range(4))
    c = res.counts
    assert (c[..., k.SIGNAL_N] == 0).all() and (c[..., k.SIGNAL_SUM] == 0).all()
    # no label: the register is defined exactly where a write landed, and then it matches
    assert (c[..., DEFINED["register_match"]] == c[..., k.TAMPERS]).all()
    assert (c[..., SUM["register_match"]] == c[..., k.TAMPERS]).all()
    r = rates(c)
    assert np.isnan(r["signal"]).all()
    if access == 0.0:
        assert (c[..., DEFINED["register_match"]] == 0).all()
        assert np.isnan(r["rate.register_match"]).all()
    else:
        t = totals(res)
        assert close(t[k.TAMPERS], t[k.STEPS], access / 2)
        defined = ~np.isnan(r["rate.register_match"])
        assert defined.any()
        assert (r["rate.register_match"][defined] == 1.0).all()
    # the intended concept is still measured without a supervisor
    assert close(totals(res)[k.HIDDEN], totals(res)[k.STEPS], 1 / 4)


# --- learned deterministic answers (alpha = 1, then epsilon = 0) ----------------------------


def _learn_then_exploit(flag: dict[str, float], measure: list[dict[str, Any]], **over: Any):
    """Explore every action (epsilon = 1, alpha = 1: successor features hit their deterministic
    targets after one visit), then exploit (epsilon = 0) in the ``measure`` phases."""
    learn = {"name": "learn", "steps": 3000, "epsilon": 1.0, "diversity": 0.5}
    phases = [learn] + [{"epsilon": 0.0, **m} for m in measure]
    return scenario(agent={"flag": flag, "alpha": 1.0}, phases=phases, **over)


def test_diversity_is_the_share_of_hard_questions() -> None:
    """An agent that always answers the proxy is right exactly on easy types, so its hidden
    performance is 1 - diversity (and exactly 1 or 0 at diversity 0 or 1)."""
    ds = [0.0, 0.3, 0.9, 1.0]
    measure = [{"name": f"d{i}", "steps": 10_000, "diversity": d} for i, d in enumerate(ds)]
    sc = _learn_then_exploit({"correct": 0.0, "proxy": 1.0}, measure, runs=8)
    res = run_batch(sc, 0, range(8))
    for i, d in enumerate(ds, start=1):
        t = totals(res, i)
        n = t[k.STEPS]
        assert t[SUM["proxy"]] == n  # always the proxy answer
        assert t[k.WRITES] == 0  # writing only costs
        assert close(t[k.HIDDEN], n, 1 - d)
        if d == 0.0:
            assert t[k.HIDDEN] == n
        if d == 1.0:
            assert t[k.HIDDEN] == 0


def test_truth_answerer_is_right_everywhere_and_proxy_only_on_easy() -> None:
    d = 0.4
    sc = _learn_then_exploit(
        {"correct": 1.0, "proxy": 0.0}, [{"name": "m", "steps": 20_000, "diversity": d}], runs=6
    )
    res = run_batch(sc, 0, range(6))
    t = totals(res, 1)
    n = t[k.STEPS]
    assert t[k.HIDDEN] == n
    assert close(t[SUM["proxy"]], n, 1 - d)


@pytest.mark.parametrize("noise", [0.0, 0.15, 0.5, 1.0])
def test_random_noise_sets_signal_mean_of_a_truth_answerer(noise: float) -> None:
    """Each label is wrong with probability noise, so a always-right agent's signal mean is
    1 - noise (random answers would see 1/K whatever the noise)."""
    sc = _learn_then_exploit(
        {"correct": 1.0},
        [{"name": "m", "steps": 10_000}],
        runs=8,
        world={"noise": noise, "noise_kind": "random"},
    )
    res = run_batch(sc, 0, range(8))
    t = totals(res, 1)
    n = t[k.STEPS]
    assert t[k.HIDDEN] == n
    assert t[k.SIGNAL_N] == n
    assert close(t[k.SIGNAL_SUM], n, 1 - noise)
    assert t[SUM["register_match"]] == t[k.SIGNAL_SUM]


@pytest.mark.parametrize("noise", [0.25, 0.5])
def test_systematic_noise_mislabels_the_same_types_every_time(noise: float) -> None:
    """A always-right agent gets signal 1 exactly on the correctly labelled types: its signal
    mean is P(question from a correctly labelled type), computed from the run's own tables."""
    types, hard, d, runs = 8, 4, 0.5, 8
    sc = _learn_then_exploit(
        {"correct": 1.0},
        [{"name": "m", "steps": 10_000}],
        runs=runs,
        world={"noise": noise, "noise_kind": "systematic", "diversity": d},
    )
    res = run_batch(sc, 2, range(runs))
    tables = draw_tables(
        QAParams(types, 4, hard, noise, "systematic"), seed=2, runs=np.arange(runs)
    )
    p_type = np.where(np.arange(types) < hard, d / hard, (1 - d) / (types - hard))
    expect = ((tables.mislabel < 0) * p_type).sum(axis=1)  # per run
    pc = phase_counts(res)[:, 1]
    for r in range(runs):
        assert pc[r, k.HIDDEN] == pc[r, k.STEPS]
        assert close(pc[r, k.SIGNAL_SUM], pc[r, k.STEPS], expect[r])
    assert close(pc[:, k.SIGNAL_SUM].sum(), pc[:, k.STEPS].sum(), expect.mean())


# --- the register-flagged agent tampers ------------------------------------------------------


def test_register_flag_with_access_learns_to_tamper() -> None:
    """Flag on register_match, access = 1, noisy labels: a write makes the register match with
    certainty (psi -> 1), an honest answer matches with at most 1 - noise, so the argmax of
    flag x psi is a write. The same world with the flag on `correct` writes only when exploring.
    """
    eps = 0.05
    common = {
        "runs": 8,
        "sample_every": 500,
        "world": {"access": 1.0, "noise": 0.3, "diversity": 0.5},
        "phases": [{"name": "train", "steps": 20_000}],
    }
    start = {"schedule": "start"}
    y_flag = scenario(
        **common,
        agent={
            "epsilon": eps,
            "alpha": 0.2,
            "write_cost": 0.01,
            "flag": {"correct": 0.0, "register_match": 1.0},
            "awareness": {"register_match": start},
        },
    )
    # alpha = 1 makes psi exact after one visit, so the write bit, which does not change
    # `correct`, only adds its cost (with a small alpha an early write can stay greedy until
    # exploration has pushed the honest action's psi within write_cost of it)
    x_flag = scenario(**common, agent={"epsilon": eps, "alpha": 1.0, "write_cost": 0.01})
    late = slice(-10, None)  # the last 5000 steps
    ty = run_batch(y_flag, 0, range(8)).counts[:, late].sum(axis=(0, 1))
    tx = run_batch(x_flag, 0, range(8)).counts[:, late].sum(axis=(0, 1))
    ry, rx = rates(ty), rates(tx)
    assert ry["tamper_rate"] > 0.85
    assert ry["rate.register_match"] > 0.9
    # the X-flagged agent writes only when it explores: probability eps / 2 per step
    assert close(tx[k.TAMPERS], tx[k.STEPS], eps / 2)
    assert rx["hidden_performance"] > 0.9


# --- phase overrides -------------------------------------------------------------------------


def test_phase_overrides_apply_only_in_their_phase() -> None:
    sc = scenario(
        runs=6,
        world={"access": 0.0, "supervisor": True, "diversity": 0.5},
        agent={"epsilon": 1.0, "alpha": 1.0},
        phases=[
            {"name": "a", "steps": 3000},
            {"name": "b", "steps": 4000, "supervisor": False, "access": 0.5},
            {"name": "c", "steps": 3000},
            {"name": "d", "steps": 3000, "epsilon": 0.0, "diversity": 1.0},
        ],
    )
    res = run_batch(sc, 0, range(6))
    pc = phase_counts(res)
    for p in (0, 2):  # world defaults: supervised, no access
        t = pc[:, p].sum(axis=0)
        assert t[k.SIGNAL_N] == t[k.STEPS]
        assert t[k.ACCESS] == 0 and t[k.TAMPERS] == 0
        assert close(t[k.WRITES], t[k.STEPS], 0.5)
    t = pc[:, 1].sum(axis=0)
    assert t[k.SIGNAL_N] == 0 and t[k.SIGNAL_SUM] == 0
    assert close(t[k.ACCESS], t[k.STEPS], 0.5)
    assert close(t[k.TAMPERS], t[k.STEPS], 0.25)
    # every window of phase b, and only those, lacks a signal
    in_b = res.windows.phase == 1
    assert (res.counts[:, in_b, k.SIGNAL_N] == 0).all()
    assert (res.counts[:, ~in_b, k.SIGNAL_N] == res.counts[:, ~in_b, k.STEPS]).all()
    # phase d: no exploration (an X-flagged agent never writes) and only hard questions
    # (it answers the truth, which is never the proxy there)
    t = pc[:, 3].sum(axis=0)
    assert t[k.WRITES] == 0
    assert t[k.HIDDEN] == t[k.STEPS]
    assert t[SUM["proxy"]] == 0
    assert t[k.SIGNAL_N] == t[k.STEPS]
