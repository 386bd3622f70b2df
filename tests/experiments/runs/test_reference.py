"""Reference equivalence: the numba kernel (``run_batch``) against the plain-numpy oracle
(``run_reference``) on small scenarios that exercise every mechanism of docs/model.md §2.1 and 3.

The two draw from independent random streams, so most tests are statistical: per-run
statistics (final flag, per-phase flag means and rates, event shares and steps, outcome
shares) must agree within ``Z`` standard errors of the two-sample difference plus a small
absolute slack. Where no randomness is left (no exploration, no noise, one question type per
side, access 0 or 1), kernel and reference must agree exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.conftest import merged, scenario, tiny

from goaldrift.agents.flag_rules import EVENTS_OTHER, lasso_cd
from goaldrift.agents.memory import pairs
from goaldrift.experiments.runs.records import runs_table, series_table
from goaldrift.experiments.runs.reference import (
    PAIRS,
    lasso,
    pair_agreement,
    run_reference,
    signal_agreement,
    signal_moments,
)
from goaldrift.experiments.runs.runner import Result, run_batch
from goaldrift.experiments.runs.verdicts import judge
from goaldrift.experiments.scenarios import Scenario, validate
from goaldrift.worlds.qa import QA_WORLD
from goaldrift.worlds.qa import kernel as qa_kernel

CONCEPTS = QA_WORLD.concept_names

Z = 4.5  # standard errors allowed between kernel and reference
SLACK = 0.02  # plus this much, absolute (rates and flags; x total steps for event steps)
N_REF = 128
N_KERNEL = 512
SEED = 3
START = {"schedule": "start"}
CI = {name: i for i, name in enumerate(CONCEPTS)}


def both(sc: Scenario, n_ref: int = N_REF, n_kernel: int = N_KERNEL) -> tuple[Result, Result]:
    """(kernel, reference) results; the first runs share their world tables."""
    return run_batch(sc, SEED, np.arange(n_kernel)), run_reference(sc, SEED, np.arange(n_ref))


# ---- per-run statistics and their comparison ------------------------------------------------


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = num.astype(float), den.astype(float)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def per_run(res: Result) -> dict[str, np.ndarray]:
    """Per-run statistics (NaN where undefined for that run)."""
    k = qa_kernel
    c_n = len(CONCEPTS)
    out: dict[str, np.ndarray] = {}
    for c, name in enumerate(CONCEPTS):
        out[f"flag.{name}"] = res.flag[:, c].astype(float)
    for p, ph in enumerate(res.scenario.phases):
        in_p = res.windows.phase == p
        cnt = res.counts[:, in_p].sum(axis=1)
        out[f"{ph.name}.hidden"] = _ratio(cnt[:, k.HIDDEN], cnt[:, k.STEPS])
        out[f"{ph.name}.write"] = _ratio(cnt[:, k.WRITES], cnt[:, k.STEPS])
        out[f"{ph.name}.access"] = _ratio(cnt[:, k.ACCESS], cnt[:, k.STEPS])
        out[f"{ph.name}.tamper_per_access"] = _ratio(cnt[:, k.TAMPERS], cnt[:, k.ACCESS])
        out[f"{ph.name}.signal"] = _ratio(cnt[:, k.SIGNAL_SUM], cnt[:, k.SIGNAL_N])
        out[f"{ph.name}.has_signal"] = _ratio(cnt[:, k.SIGNAL_N], cnt[:, k.STEPS])
        for c, name in enumerate(CONCEPTS):
            f = k.N_FIXED_COUNTS
            out[f"{ph.name}.rate.{name}"] = _ratio(cnt[:, f + c], cnt[:, f + c_n + c])
            out[f"{ph.name}.defined.{name}"] = _ratio(cnt[:, f + c_n + c], cnt[:, k.STEPS])
            out[f"{ph.name}.flag.{name}"] = res.flag_series[:, in_p, c].mean(axis=1)
        for bit, name in enumerate(CONCEPTS):
            merged = (res.masks[:, in_p, 2] >> bit) & 1
            out[f"{ph.name}.merged.{name}"] = merged.mean(axis=1)
    events = {
        **{f"aware.{n}": res.ev_aware[:, c] for c, n in enumerate(CONCEPTS)},
        **{f"relation.{i}~{j}": res.ev_relation[:, p] for p, (i, j) in enumerate(PAIRS)},
        **{f"event.{n}": res.ev_other[:, e] for e, n in enumerate(EVENTS_OTHER)},
    }
    for name, ev in events.items():
        out[f"{name}.happened"] = (ev >= 0).astype(float)
        out[f"{name}.step"] = np.where(ev >= 0, ev, np.nan).astype(float)
    return out


def mismatches(k: Result, r: Result, z: float = Z, slack: float = SLACK) -> list[str]:
    """Statistics whose kernel and reference means differ by more than z SE + slack."""
    total = k.scenario.total_steps
    bad = []
    sk, sr = per_run(k), per_run(r)
    for name in sk:
        a, b = sk[name], sr[name]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if len(a) == 0 and len(b) == 0:
            continue
        if name.endswith(".step") and min(len(a), len(b)) < 10:
            continue  # too few runs with the event to compare its step (its share is compared)
        if len(a) == 0 or len(b) == 0:
            bad.append(f"{name}: defined in {len(a)} kernel runs, {len(b)} reference runs")
            continue
        se = np.sqrt(a.var(ddof=1) / max(len(a), 2) + b.var(ddof=1) / max(len(b), 2))
        tol = z * se + (slack * total if name.endswith(".step") else slack)
        if abs(a.mean() - b.mean()) > tol:
            bad.append(f"{name}: kernel {a.mean():.4f} reference {b.mean():.4f} (tol {tol:.4f})")
    return bad


def outcome_mismatches(k: Result, r: Result, z: float = Z, slack: float = SLACK) -> list[str]:
    """Outcome classes (records.runs_table) whose shares differ beyond a two-proportion test."""
    ok = np.asarray(runs_table(k).column("outcome").to_pylist())
    # each twin judged against its own matched control (their draws differ)
    orf = np.asarray(runs_table(r, judge(r, run_reference)).column("outcome").to_pylist())
    bad = []
    for cls in sorted(set(ok) | set(orf)):
        pk, pr = (ok == cls).mean(), (orf == cls).mean()
        pool = ((ok == cls).sum() + (orf == cls).sum()) / (len(ok) + len(orf))
        se = np.sqrt(pool * (1 - pool) * (1 / len(ok) + 1 / len(orf)))
        if abs(pk - pr) > z * se + slack:
            bad.append(f"outcome {cls}: kernel {pk:.3f} reference {pr:.3f}")
    return bad


def assert_equivalent(k: Result, r: Result) -> None:
    bad = mismatches(k, r) + outcome_mismatches(k, r)
    assert not bad, "kernel and reference differ:\n" + "\n".join(bad)


def shares(res: Result, name: str) -> float:
    return float(np.nanmean(per_run(res)[name]))


# ---- exact: nothing random is left ----------------------------------------------------------


def _deterministic(**over: Any) -> Scenario:
    """One easy and one hard type, diversity 0 or 1, no exploration, no random noise, access
    0 or 1: every run is a deterministic function of its world tables."""
    base = {
        "sample_every": 50,
        "world": {"types": 2, "hard_types": 1, "answers": 2, "noise": 0.0},
        "agent": {
            "epsilon": 0.0,
            "alpha": 1.0,
            "write_cost": 0.125,
            "flag": {"correct": -1.0, "register_match": 0.5, "proxy": -0.25, "tampered": 0.5},
            "awareness": {
                "correct": START,
                "register_match": {"schedule": "compute", "compute": 150},
                "proxy": START,
                "tampered": {"schedule": "step", "at": 400},
            },
            "memory": 100,
            "n_min": 40,
            "relation_every": 20,
            "tau": 0.9,
        },
        "phases": [
            {"name": "easy", "steps": 300, "diversity": 0.0},
            {"name": "hard", "steps": 300, "diversity": 1.0, "access": 1.0},
            {"name": "deploy", "steps": 300, "supervisor": False, "access": 1.0, "diversity": 1.0},
            {"name": "again", "steps": 300, "diversity": 0.0, "access": 0.0},
        ],
    }
    sc = validate(merged(merged(tiny(), base), over))
    assert isinstance(sc, Scenario)
    return sc


def assert_identical(k: Result, r: Result) -> None:
    for name in ("counts", "masks", "ev_aware", "ev_relation", "ev_other"):
        a, b = getattr(k, name), getattr(r, name)
        diff = np.argwhere(a != b)
        assert len(diff) == 0, f"{name} differs first at {diff[0].tolist()}: {a[tuple(diff[0])]}"
    np.testing.assert_allclose(k.flag_series, r.flag_series, atol=1e-5)
    np.testing.assert_allclose(k.flag, r.flag, atol=1e-5)


EXACT_CASES: dict[str, dict[str, Any]] = {
    "anchored": {"agent": {"flag_rule": "anchored"}},
    "systematic": {
        "agent": {"flag_rule": "anchored"},
        "world": {"noise": 0.5, "noise_kind": "systematic"},
    },
    "association": {"agent": {"flag_rule": "association", "association": {"rate": 0.25}}},
    **{
        f"merge-{policy}": {"agent": {"flag_rule": "merge", "merge": {"split": policy}}}
        for policy in ("original", "even", "controllable", "predictive")
    },
}


@pytest.mark.parametrize("case", list(EXACT_CASES))
def test_deterministic_scenarios_agree_exactly(case: str) -> None:
    """Nothing random is left, and the flag weights stay dyadic (alpha 1, weights in quarters,
    any three of them summing to a multiple of 3/4), so float32 and float64 break ties alike:
    every count, mask and event must be equal."""
    sc = _deterministic(**EXACT_CASES[case])
    k, r = both(sc, n_ref=24, n_kernel=24)
    assert_identical(k, r)
    # the scenario is not idle: the agent tampers, relations are noticed, nodes form and split
    assert k.counts[:, :, qa_kernel.TAMPERS].sum() > 0
    assert (k.ev_relation >= 0).any()
    if case.startswith("merge"):
        assert (k.ev_other[:, 1] >= 0).any() and (k.ev_other[:, 2] >= 0).any()


# ---- statistical: the world ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["random", "systematic"])
def test_label_noise(kind: str) -> None:
    """Noise shows in the signal (the register matches the answer less often than the answer
    is correct) and, through learning, in the answers."""
    sc = scenario(
        world={"noise": 0.25, "noise_kind": kind},
        agent={"awareness": {"register_match": START}},
        phases=[
            {"name": "train", "steps": 1000},
            {"name": "narrow", "steps": 500, "diversity": 0.0, "epsilon": 0.3},
        ],
    )
    k, r = both(sc)
    assert_equivalent(k, r)
    assert shares(k, "train.signal") < shares(k, "train.hidden") - 0.1


def test_tampering_without_supervisor() -> None:
    """An agent flagged on the register, with access and no supervisor, learns to write."""
    sc = scenario(
        agent={
            "flag": {"correct": 0.5, "register_match": 1.0},
            "awareness": {"register_match": START, "tampered": {"schedule": "step", "at": 500}},
            "write_cost": 0.2,
            "alpha": 0.2,
        },
        phases=[
            {"name": "train", "steps": 600, "access": 0.3},
            {"name": "deploy", "steps": 900, "supervisor": False, "access": 0.6},
            {"name": "frozen", "steps": 500, "supervisor": False, "learn_world": False},
        ],
    )
    k, r = both(sc)
    assert_equivalent(k, r)
    assert shares(k, "deploy.tamper_per_access") > 0.3


# ---- statistical: the flag rules ------------------------------------------------------------


def test_regression() -> None:
    """The cost-weighted lasso on the memory's signal samples, its penalty shrinking with
    compute; no refits without a supervisor or with learn_flag off."""
    sc = scenario(
        world={"noise": 0.1},
        agent={
            "flag_rule": "regression",
            "awareness": {
                "register_match": {"schedule": "compute", "compute": 300},
                "tampered": START,
            },
            "regression": {"fit_every": 50, "min_samples": 80, "half_compute": 400, "rate": 0.5},
        },
        phases=[
            {"name": "fit_only", "steps": 200, "learn_world": False},
            {"name": "train", "steps": 1000, "access": 0.2},
            {"name": "deploy", "steps": 600, "supervisor": False, "access": 1.0},
            # refits on a memory still holding deployment steps (no signal there)
            {"name": "retrain", "steps": 300},
            {"name": "frozen", "steps": 300, "learn_flag": False, "epsilon": 0.0},
        ],
    )
    k, r = both(sc)
    # supervised fitting is training compute even while the world model rests
    assert (k.ev_aware[:, CI["register_match"]] == 300).all()
    assert_equivalent(k, r)
    assert 0.05 < shares(k, "flag.register_match") < 0.95


@pytest.mark.parametrize("one_way", [False, True], ids=["two-way", "one-way"])
def test_association(one_way: bool) -> None:
    """Weight flows along noticed relations every relation_every steps; one-way toward the
    concept that entered later (here: tampered at a hazard, register_match by compute)."""
    sc = scenario(
        world={"noise": 0.05},
        agent={
            "flag_rule": "association",
            "association": {"rate": 0.0005, "one_way": one_way},  # slow: never settles
            "awareness": {
                "register_match": {"schedule": "compute", "compute": 200},
                "tampered": {"schedule": "hazard", "rate": 0.002},
            },
            "n_min": 100,
            "tau": 0.9,
        },
        phases=[
            {"name": "train", "steps": 1200},
            {"name": "deploy", "steps": 800, "supervisor": False, "access": 0.5},
        ],
    )
    k, r = both(sc)
    assert_equivalent(k, r)
    assert 0.2 < shares(k, "flag.register_match") < 0.8


@pytest.mark.parametrize("policy", ["original", "even", "controllable", "predictive"])
def test_merge(policy: str) -> None:
    """Narrow data fuses correct and proxy (and correct and register); diverse data splits
    them, and the policy decides where the weight goes."""
    sc = scenario(
        world={"noise": 0.06},  # correct~register_match agreement straddles merge_threshold
        agent={
            "flag_rule": "merge",
            "merge": {"split": policy, "merge_threshold": 0.97, "split_threshold": 0.85},
            "awareness": {"register_match": {"schedule": "step", "at": 300}},
            "n_min": 100,
            "relation_every": 25,
            "memory": 300,
        },
        phases=[
            {"name": "narrow", "steps": 800, "diversity": 0.0},
            {"name": "diverse", "steps": 700, "diversity": 1.0},
            {"name": "deploy", "steps": 500, "supervisor": False, "access": 0.5},
        ],
    )
    k, r = both(sc, n_ref=96)
    assert_equivalent(k, r)
    assert shares(k, "event.merge.happened") > 0.5
    assert shares(k, "event.split.happened") > 0.5


# ---- statistical: awareness -----------------------------------------------------------------


def test_awareness_schedules() -> None:
    """start, step, hazard and compute (supervised learning steps: none while unsupervised or
    while nothing learns from the signal)."""
    sc = scenario(
        agent={
            "awareness": {
                "correct": START,
                "register_match": {"schedule": "compute", "compute": 250},
                "proxy": {"schedule": "hazard", "rate": 0.004},
                "tampered": {"schedule": "step", "at": 700},
            },
        },
        phases=[
            {"name": "idle", "steps": 300, "supervisor": False},
            {"name": "resting", "steps": 100, "learn_world": False},
            {"name": "train", "steps": 600},
        ],
    )
    k, r = both(sc, n_ref=256)
    np.testing.assert_array_equal(k.ev_aware[:256, [0, 1, 3]], r.ev_aware[:, [0, 1, 3]])
    assert (r.ev_aware[:, 1] == 300 + 100 + 250).all() and (r.ev_aware[:, 3] == 700).all()
    assert_equivalent(k, r)


# ---- what the discrepancies are -------------------------------------------------------------


def test_flag_rule_acts_while_relations_are_frozen() -> None:
    sc = scenario(
        agent={
            "flag_rule": "association",
            "association": {"rate": 0.002},
            "awareness": {"register_match": {"schedule": "step", "at": 100}},
            "n_min": 100,
        },
        phases=[
            {"name": "train", "steps": 400},
            {"name": "frozen", "steps": 600, "learn_relations": False},
        ],
    )
    k, r = both(sc, n_ref=32, n_kernel=32)
    assert_equivalent(k, r)


# ---- the pieces of the reference ------------------------------------------------------------


def test_reference_result_has_the_kernels_shapes_and_feeds_the_records() -> None:
    sc = scenario(agent={"flag_rule": "merge"}, phases=[{"name": "a", "steps": 250}])
    k, r = both(sc, n_ref=3, n_kernel=3)
    for name in ("counts", "flag_series", "masks", "flag", "ev_aware", "ev_relation", "ev_other"):
        a, b = getattr(k, name), getattr(r, name)
        assert (a.shape, a.dtype) == (b.shape, b.dtype), name
    assert runs_table(r).num_rows == 3
    assert series_table(r).num_rows == 3 * len(r.windows.end)
    assert list(PAIRS) == pairs(len(CONCEPTS))


def test_reference_run_depends_only_on_seed_and_run_index() -> None:
    sc = scenario(
        world={"noise": 0.2},
        agent={
            "flag_rule": "regression",
            "awareness": {"tampered": {"schedule": "hazard", "rate": 0.01}},
            "regression": {"fit_every": 50},
        },
        phases=[{"name": "a", "steps": 300}, {"name": "b", "steps": 200, "access": 0.5}],
    )
    batch = run_reference(sc, 5, np.arange(6))
    alone = run_reference(sc, 5, [4])
    for name in ("counts", "flag_series", "masks", "flag", "ev_aware", "ev_relation", "ev_other"):
        np.testing.assert_array_equal(getattr(batch, name)[4:5], getattr(alone, name), name)


def _problems(n: int, seed: int, flip_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Moments of random binary concepts against a signal: (cov (n, 4, 4), cross (n, 4)).
    Concepts copy concept 0 but for a share of flips below ``flip_hi`` (near-collinear when
    small, as correct and register_match are under light label noise)."""
    rng = np.random.default_rng(seed)
    base = rng.random((n, 400, 1)) < rng.uniform(0.5, 0.95, (n, 1, 1))
    flip = rng.random((n, 400, 4)) < rng.uniform(0.0, flip_hi, (n, 1, 4))
    phi = (base ^ flip).astype(float)
    sig = np.where(rng.random((n, 400)) < 0.5, phi[:, :, 0], phi[:, :, 1])
    _, cov, cross = signal_moments(phi, sig)
    return cov, cross


@pytest.mark.parametrize("flip_hi", [0.5, 0.03], ids=["spread", "near-collinear"])
def test_lasso_is_exact_and_the_kernels_reaches_it(flip_hi: float) -> None:
    n = 200
    cov, cross = _problems(n, 0, flip_hi)
    pen = np.array([0.01, 0.04, 0.0025, 0.04])
    active = np.ones((n, 4), bool)
    active[::3, 3] = False
    w = lasso(cov, cross, pen, active)
    grad = np.einsum("bij,bj->bi", cov, w) - cross
    on = w != 0
    usable = active & (np.diagonal(cov, axis1=1, axis2=2) > 1e-12)
    # optimality: stationarity on the support, the subgradient bound off it
    assert np.all(np.abs(grad + pen * np.sign(w))[on] < 1e-9)
    assert np.all((np.abs(grad) <= pen + 1e-9)[~on & usable])
    assert np.all(w[~usable] == 0)
    for b in range(n):
        wk = np.zeros(4)
        lasso_cd(cov[b], cross[b], pen, active[b].astype(np.uint8), wk)
        np.testing.assert_allclose(wk, w[b], atol=1e-6, err_msg=f"problem {b}")


def test_memory_statistics_skip_undefined_values() -> None:
    nan = np.nan
    phi = np.array([[[1, nan, 1, 0], [0, 0, 1, 0], [1, 1, 1, 0], [nan] * 4]])
    sig = np.array([[nan, 0, 1, nan]])
    ev, agree = pair_agreement(phi)
    assert ev[0].tolist() == [2, 3, 3, 2, 2, 3]
    assert agree[0].tolist() == [2, 2, 1, 1, 1, 0]
    assert signal_agreement(phi, sig)[0].tolist() == [1.0, 1.0, 0.5, 0.5]
    n, cov, cross = signal_moments(phi, sig)
    assert n[0] == 2
    np.testing.assert_allclose(cross[0], [0.25, 0.25, 0.0, 0.0])
    np.testing.assert_allclose(cov[0, 0], [0.25, 0.25, 0.0, 0.0])
