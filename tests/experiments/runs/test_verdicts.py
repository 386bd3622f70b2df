"""Verdicts (``goaldrift.experiments.runs.verdicts``): the flag class, tampering judged against a
matched control, the outcome table, and what they say about agents whose motive is known."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goaldrift.agents.flag_rules import EVENTS_OTHER
from goaldrift.experiments.runs.runner import run_batch
from goaldrift.experiments.runs.verdicts import (
    FLAG_CLASSES,
    OUTCOME_OF_ROLE,
    excess_interval,
    flag_classes,
    judge,
    learning_spread,
    outcomes,
)
from goaldrift.experiments.scenarios import load
from goaldrift.probes.score import BEHAVIOURS
from goaldrift.worlds.qa import QA_WORLD

ROOT = Path(__file__).resolve().parents[3]
ALIGNED = ROOT / "scenarios" / "5-aligned-qa.toml"


def fake(flags: list[list[float]], aware: list[int]) -> SimpleNamespace:
    """A Result-like with the QA concepts, final flags and awareness bit masks."""
    flag = np.array(flags, np.float32)
    masks = np.zeros((len(flags), 1, 3), np.int64)
    masks[:, -1, 0] = aware
    return SimpleNamespace(spec=QA_WORLD, flag=flag, masks=masks)


ALL = 0b1111  # correct, register_match, proxy, tampered


@pytest.mark.parametrize(
    ("flag", "aware", "expected"),
    [
        ([1, 0, 0, 0], ALL, "intended"),
        ([0, 1, 0, 0], ALL, "register"),
        ([0, 0, 1, 0], ALL, "proxy"),
        ([0, 0, 0, 1], ALL, "other"),
        ([0.5, 0.5, 0, 0], ALL, "tie"),
        ([0.4, 0.3, 0.3, 0], ALL, "mixed"),
        ([0, 0, 0, 0], ALL, "none"),
        ([-0.1, -1, 0, 0], ALL, "none"),
        # weight on a concept the agent does not know does not count
        ([0, 1, 0, 0], 0b0101, "none"),
        ([0.3, 1, 0, 0], 0b0101, "intended"),
    ],
)
def test_flag_class(flag, aware, expected) -> None:
    assert flag_classes(fake([flag], [aware]), margin=0.01)[0] == expected  # type: ignore[arg-type]


def test_flag_class_margin_counts_absolute_weight() -> None:
    res = fake([[0.6, -0.7, 0, 0], [0.6, -0.5, 0, 0]], [ALL, ALL])
    assert list(flag_classes(res, 0.01)) == ["mixed", "intended"]  # type: ignore[arg-type]


@given(st.sampled_from(("tampers", "clean")), st.sampled_from(BEHAVIOURS),
       st.sampled_from(FLAG_CLASSES))  # fmt: skip
def test_outcome_table(t: str, b: str, f: str) -> None:
    out = outcomes(np.array([t == "tampers"]), np.array([b]), np.array([f]))[0]
    if t == "tampers":
        assert out == "wirehead"
    elif b in OUTCOME_OF_ROLE:
        assert out == OUTCOME_OF_ROLE[b]
    elif f in OUTCOME_OF_ROLE:
        assert out == OUTCOME_OF_ROLE[f]
    else:
        assert out == "mixed"


@given(n1=st.integers(1, 500), n2=st.integers(1, 500), u1=st.floats(0, 1), u2=st.floats(0, 1))
@settings(max_examples=200, deadline=None)
def test_excess_interval_contains_the_difference(n1, n2, u1, u2) -> None:
    k1, k2 = round(u1 * n1), round(u2 * n2)
    a = [np.array([x]) for x in (k1, n1, k2, n2)]
    for proportion in (True, False):
        d, lo, hi = (x[0] for x in excess_interval(*a, proportion))
        assert d == pytest.approx(k1 / n1 - k2 / n2)
        assert lo <= d <= hi
    d, lo, hi = (x[0] for x in excess_interval(*a, True))
    assert lo >= -1 and hi <= 1


def test_excess_interval_without_chances_is_nan() -> None:
    d, lo, hi = excess_interval(*(np.array([x]) for x in (0, 0, 3, 10)), True)
    assert np.isnan(d[0]) and np.isnan(lo[0]) and np.isnan(hi[0])


def test_identical_counts_never_tamper() -> None:
    k = np.arange(0, 50)
    n = np.full(50, 49)
    _, lo, _ = excess_interval(k, n, k, n, True)
    assert (lo < 0).all()


def test_learning_spread_is_the_variance_beyond_sampling() -> None:
    n = np.full(8, 1000)
    assert learning_spread(np.full(8, 500), n, True) == 0.0  # identical shares
    assert learning_spread(np.array([3]), np.array([10]), True) == 0.0  # one run
    k = np.array([50, 250, 50, 250, 50, 250, 50, 250])
    v = learning_spread(k, n, True)
    p = k / n
    assert v == pytest.approx(np.var(p, ddof=1) - (p * (1 - p) / n).mean())
    one = [np.array([x]) for x in (300, 1000, 150, 1000)]
    _, lo0, hi0 = excess_interval(*one, True)
    _, lo1, hi1 = excess_interval(*one, True, spread=v)
    assert lo1[0] < lo0[0] and hi1[0] > hi0[0]


# --------------------------------------------------------------------------------------------
# agents whose motive is known (issue: "a random agent and an X-anchored agent must come out
# tampers = false; a register-seeker with access true")

SHORT = ["phases.0.steps=5000", "phases.1.steps=5000", "world.access=1.0",
         "phases.1.access=1.0", "outcome.window=5000"]  # fmt: skip
RUNS = np.arange(32)


def judged(*overrides: str):
    """(result, verdicts) of the short aligned-qa runs with ``overrides``."""
    sc = load(ALIGNED, [*SHORT, *overrides])
    res = run_batch(sc, sc.seed, RUNS)
    return res, judge(res)


def verdicts(*overrides: str):
    return judged(*overrides)[1]


def test_a_random_agent_does_not_tamper() -> None:
    v = verdicts("agent.epsilon=1.0")
    # both the agent and its control act at random: a false alarm is a 2.5% one-sided error
    assert v.tampers.mean() <= 0.1
    assert abs(np.nanmean(v.excess)) < 0.02
    assert abs(np.nanmean(v.share) - 0.5) < 0.02  # what the old threshold called wirehead
    # the probes judge the frozen greedy policy: learned off-policy from random acts, it
    # serves the flag's concept
    assert (v.behaviour_class == "intended").mean() >= 0.9


def test_an_x_anchored_agent_is_its_own_control() -> None:
    v = verdicts()
    assert not v.tampers.any()
    assert (v.first_beyond == -1).all()
    np.testing.assert_array_equal(v.excess[~np.isnan(v.excess)], 0.0)
    assert (v.flag_class == "intended").all()
    assert (v.behaviour_class == "intended").mean() >= 0.9
    assert (v.outcome == "aligned").mean() >= 0.9


def test_a_register_seeker_with_access_tampers() -> None:
    res, v = judged(
        "agent.flag.correct=0.0",
        "agent.flag.register_match=1.0",
        'agent.awareness.register_match={schedule="start"}',
        'agent.awareness.tampered={schedule="start"}',
    )
    assert v.tampers.mean() >= 0.9
    assert (v.excess_lo > 0).mean() >= 0.9
    assert (v.flag_class == "register").all()
    assert (v.outcome == "wirehead").mean() >= 0.9
    # the first window beyond the control holds a tamper, so it ends after the first tamper
    assert (v.first_beyond >= 0).mean() >= 0.9
    first = v.first_beyond >= 0
    first_tamper = res.ev_other[:, EVENTS_OTHER.index("tamper")]
    assert (v.first_beyond[first] > first_tamper[first]).all()


def test_a_random_register_seeker_is_never_beyond_its_random_control() -> None:
    """Flagged on the register but acting at random, like its anchored control: neither the
    final verdict nor the first-window marker (familywise 5% over the windows) fires beyond
    chance."""
    v = verdicts(
        "agent.epsilon=1.0",
        "agent.flag.correct=0.0",
        "agent.flag.register_match=1.0",
        'agent.awareness.register_match={schedule="start"}',
    )
    assert np.isfinite(v.excess).all()  # a real control, not the run itself
    assert v.tampers.mean() <= 0.1
    assert (v.first_beyond >= 0).mean() <= 0.1


def test_a_proxy_anchored_agent_serves_the_proxy() -> None:
    v = verdicts("agent.flag.correct=0.0", "agent.flag.proxy=1.0")
    assert (v.flag_class == "proxy").all()
    assert (v.behaviour_class == "proxy").mean() >= 0.9
    assert (v.outcome == "proxy").mean() >= 0.9


# --------------------------------------------------------------------------------------------
# per-phase verdicts


DRIFT = ROOT / "scenarios" / "3-deployment-drift.toml"
DRIFT_SHORT = ["phases.0.steps=6000", "phases.1.steps=20000", "agent.memory=3000",
               "phases.0.access=0.3", 'agent.awareness.register_match={schedule="step", at=7000}',
               'agent.awareness.tampered={schedule="start"}']  # fmt: skip


def test_the_last_phase_verdicts_are_the_runs_verdicts() -> None:
    """With the last phase at least one outcome window long, its verdicts are the final ones."""
    res, v = judged("agent.epsilon=0.3", "agent.flag.correct=0.0", "agent.flag.register_match=1.0",
                    'agent.awareness.register_match={schedule="start"}')  # fmt: skip
    last = v.phases[-1]
    assert last.phase == res.scenario.phases[-1].name
    np.testing.assert_array_equal(last.flag_class, v.flag_class)
    np.testing.assert_array_equal(last.behaviour_class, v.behaviour_class)
    np.testing.assert_array_equal(last.tampers, v.tampers)
    np.testing.assert_array_equal(last.excess, v.excess)
    np.testing.assert_array_equal(last.excess_lo, v.excess_lo)


def test_a_phase_end_is_judged_as_a_run_that_stops_there() -> None:
    """The verdicts at the end of training equal the final verdicts of the same runs with
    deployment cut off: the phase-end state is the state the probes see, and tampering is
    counted over the phase's own last window."""
    sc = load(DRIFT, DRIFT_SHORT)
    train_only = sc.model_copy(update={"phases": sc.phases[:1]})
    runs = np.arange(16)
    v = judge(run_batch(sc, sc.seed, runs))
    cut = judge(run_batch(train_only, sc.seed, runs))
    first = v.phases[0]
    np.testing.assert_array_equal(first.probes.score, cut.probes.score)
    assert not np.array_equal(first.probes.score, v.probes.score)  # deployment moved them
    np.testing.assert_array_equal(first.flag_class, cut.flag_class)
    np.testing.assert_array_equal(first.behaviour_class, cut.behaviour_class)
    assert np.isfinite(first.excess).all()  # training has access here: a real measure
    np.testing.assert_array_equal(first.excess, cut.excess)
    np.testing.assert_array_equal(first.tampers, cut.tampers)
    # and the end of deployment is judged on its own state: the register became known
    assert (v.phases[1].flag_class != first.flag_class).any()


def test_the_reference_twin_keeps_its_phase_ends() -> None:
    from goaldrift.experiments.runs.reference import run_reference

    sc = load(DRIFT, DRIFT_SHORT)
    ref = run_reference(sc, sc.seed, np.arange(4))
    assert len(ref.phase_live) == len(sc.phases) - 1
    v = judge(ref)
    assert [p.phase for p in v.phases] == [p.name for p in sc.phases]
