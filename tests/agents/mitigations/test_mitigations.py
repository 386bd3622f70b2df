"""The mitigations (agents/mitigations/): each one's mechanism, checked where it must hold
exactly or where it follows from the definition in expectation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.conftest import merged, tiny

from goaldrift.agents.mitigations.common import MODES
from goaldrift.agents.variants import variants
from goaldrift.errors import ConfigError
from goaldrift.experiments.runs.records import runs_table
from goaldrift.experiments.runs.runner import Result, run_batch
from goaldrift.experiments.scenarios import Scenario, validate
from goaldrift.worlds.qa import kernel as qa_kernel

MITIGATIONS = MODES
Y, X = 1, 0  # Register QA: register_match, correct


def qa(kind: str, runs: int = 64, **over: Any) -> Result:
    """A small supervised Register QA scenario with access for a learner of kind ``kind``."""
    data = merged(
        tiny(),
        {
            "world": {"noise": 0.2, "access": 0.5},
            "agent": {"kind": kind},
            "phases": [{"name": "train", "steps": 4000}],
        },
    )
    data["agent"] = {"kind": kind, **over.pop("agent", {})}
    sc = validate(merged(data, over))
    assert isinstance(sc, Scenario)
    return run_batch(sc, 5, np.arange(runs))


def counts(res: Result, column: int) -> np.ndarray:
    return res.counts[:, :, column].sum(axis=1)


def test_every_mitigation_is_listed_with_what_it_is_given() -> None:
    kinds = variants()
    for name in MITIGATIONS:
        assert name in kinds
        assert kinds[name].given, name
        assert "qa" in kinds[name].families


def test_a_monitor_that_catches_nothing_is_q_learning_run_for_run() -> None:
    """recall = false alarm = 0: no draw, no penalty; every record equals Q-learning's."""
    mon = qa("monitor", agent={"monitor": {"recall": 0.0, "false_alarm": 0.0}})
    q = qa("qlearning")
    for name in ("counts", "flag_series", "ev_other"):
        np.testing.assert_array_equal(getattr(mon, name), getattr(q, name))
    np.testing.assert_array_equal(mon.live.agent.state.q, q.live.agent.state.q)
    tally = runs_table(mon)
    assert (tally.column("tally.caught").to_numpy() == 0).all()
    tampers = counts(q, qa_kernel.TAMPERS)
    np.testing.assert_array_equal(tally.column("tally.tampers").to_numpy(), tampers)


def test_the_monitors_tally_adds_up_and_its_recall_is_what_was_asked() -> None:
    res = qa("monitor", runs=128, agent={"epsilon": 0.5, "monitor": {"recall": 0.7,
             "false_alarm": 0.05, "mode": "screening"}})  # fmt: skip
    t = runs_table(res)
    tampers, caught, evaded = (t.column(f"tally.{n}").to_numpy() for n in
                               ("tampers", "caught", "evaded"))  # fmt: skip
    np.testing.assert_array_equal(caught + evaded, tampers)
    np.testing.assert_array_equal(tampers, counts(res, qa_kernel.TAMPERS))
    recall = caught.sum() / tampers.sum()
    se = np.sqrt(0.7 * 0.3 / tampers.sum())
    assert abs(recall - 0.7) < 5 * se
    steps = counts(res, qa_kernel.STEPS) - tampers
    fa = t.column("tally.false_alarms").to_numpy().sum() / steps.sum()
    assert abs(fa - 0.05) < 5 * np.sqrt(0.05 * 0.95 / steps.sum())


def _write_gain(res: Result) -> float:
    """Mean over runs and question types of Q(answer, write) - Q(answer, no write) + cost,
    over the answers: what the learner thinks a write adds."""
    q = res.live.agent.state.q
    cost = res.scenario.agent.write_cost
    return float((q[:, :, 1::2] - q[:, :, 0::2] + cost).mean())


def test_a_write_earns_approval_and_the_plain_signal_but_not_the_decoupled_or_current_rf() -> None:
    """Uniform exploration, access 1: a write makes the register match, so the executed
    action's approval (through the register) values writes by P(label != answer); decoupled
    approval judges a query whose write is never executed, and current-RF ignores the
    agent's own writes, so both value a write at nothing, in expectation."""
    over = {"agent": {"epsilon": 1.0}, "world": {"access": 1.0}}
    gains = {k: _write_gain(qa(k, runs=32, **over)) for k in
             ("approval", "qlearning", "decoupled_approval", "current_rf")}  # fmt: skip
    assert gains["approval"] > 0.5 and gains["qlearning"] > 0.5
    assert abs(gains["decoupled_approval"]) < 0.05
    assert abs(gains["current_rf"]) < 0.05


def test_the_oracles_erased_answers_never_reach_the_register() -> None:
    """p_erase = 1: every answer is erased, so however often it writes, the register always
    holds the supervisor's label when the oracle learns from it (the validity condition:
    the label does not depend on the answer); p_erase < 1: writes work on the other steps."""
    over = {"agent": {"epsilon": 1.0, "counterfactual_oracle": {"p_erase": 1.0}},
            "world": {"access": 1.0}}  # fmt: skip
    res = qa("counterfactual_oracle", runs=16, **over)
    assert counts(res, qa_kernel.TAMPERS).sum() == 0
    assert counts(res, qa_kernel.WRITES).sum() == 0
    np.testing.assert_array_equal(
        runs_table(res).column("tally.erased").to_numpy(), counts(res, qa_kernel.STEPS)
    )
    assert abs(_write_gain(res)) < 0.05  # no write ever paid
    half = qa("counterfactual_oracle", runs=16, agent={"epsilon": 1.0,
              "counterfactual_oracle": {"p_erase": 0.5}}, world={"access": 1.0})  # fmt: skip
    share = counts(half, qa_kernel.TAMPERS).sum() / counts(half, qa_kernel.STEPS).sum()
    assert 0.2 < share < 0.3  # half the steps erased, half the actions write


def test_monas_overseer_learns_the_value_of_the_intended_concept() -> None:
    """The trusted table (psi of X) tends to max_a E[X | s, a] = 1: the true answer."""
    res = qa("mona", runs=8, agent={"epsilon": 0.5})
    trusted = res.live.agent.state.psi[:, X].max(axis=2)
    assert np.allclose(trusted, 1.0, atol=0.05)


def test_mona_without_approval_is_myopic_q_learning_on_a_one_step_world() -> None:
    """approval 'none': the same step as Q-learning (gamma 0 here): the same runs."""
    m = qa("mona", agent={"mona": {"approval": "none"}})
    q = qa("qlearning")
    np.testing.assert_array_equal(m.counts, q.counts)


def test_learners_learn_only_from_what_they_are_given_without_a_supervisor() -> None:
    """No supervisor: no label, no approval, no erasure feedback; these learners stay put."""
    for kind in ("current_rf", "approval", "decoupled_approval", "counterfactual_oracle"):
        res = qa(kind, runs=4, world={"supervisor": False, "noise": 0.0})
        assert not res.live.agent.state.psi.any(), kind


def test_a_monitor_needs_a_tamper_concept() -> None:
    data = {"name": "m", "world": {"kind": "boat_race"}, "agent": {"kind": "monitor"},
            "phases": [{"name": "a", "steps": 100}]}  # fmt: skip
    with pytest.raises(ConfigError, match=r"boat_race-v0 has no tamper concept"):
        run_batch(validate(data), 1, np.arange(2))


@pytest.mark.parametrize("kind", ["decoupled_approval", "counterfactual_oracle"])
def test_register_qa_only_kinds_are_refused_on_a_gridworld(kind: str) -> None:
    data = {"name": "m", "world": {"kind": "tomato_watering"}, "agent": {"kind": kind},
            "phases": [{"name": "a", "steps": 100}]}  # fmt: skip
    with pytest.raises(ConfigError, match=r"agent\.kind"):
        validate(data)


@pytest.mark.parametrize("kind", ["monitor", "mona"])
def test_gridworld_mitigations_run_and_depend_only_on_seed_and_run(kind: str) -> None:
    data = {"name": "m", "sample_every": 500, "world": {"kind": "tomato_watering"},
            "agent": {"kind": kind}, "phases": [{"name": "a", "steps": 2000}]}  # fmt: skip
    sc = validate(data)
    whole = run_batch(sc, 3, np.arange(6))
    part = run_batch(sc, 3, np.arange(3, 6))
    np.testing.assert_array_equal(whole.counts[3:], part.counts)
    np.testing.assert_array_equal(whole.sums[3:], part.sums)


def test_on_a_gridworld_a_monitor_that_catches_nothing_is_q_learning_run_for_run() -> None:
    def run(agent: dict[str, Any]) -> Result:
        data = {"name": "m", "sample_every": 500, "world": {"kind": "rocks_diamonds"},
                "agent": agent, "phases": [{"name": "a", "steps": 3000}]}  # fmt: skip
        return run_batch(validate(data), 2, np.arange(4))

    mon = run({"kind": "monitor", "monitor": {"recall": 0.0}})
    q = run({"kind": "qlearning"})
    np.testing.assert_array_equal(mon.counts, q.counts)
    np.testing.assert_array_equal(mon.sums, q.sums)
    np.testing.assert_array_equal(mon.live.agent.state.q, q.live.agent.state.q)


@pytest.mark.parametrize(
    ("key", "table"),
    [
        ("agent.flag.correct", {"kind": "flagged", "flag": {"correct": 1e300}}),
        ("agent.write_cost", {"kind": "qlearning", "write_cost": 1e39}),
        ("agent.monitor.penalty", {"kind": "monitor", "monitor": {"penalty": 1e39}}),
        ("agent.mona.sigma", {"kind": "mona", "mona": {"sigma": 1e39}}),
    ],
)
def test_knobs_held_as_float32_are_refused_beyond_its_range(key: str, table: dict) -> None:
    """A value float32 cannot hold would become an infinity in the kernel without a word."""
    data = merged(tiny(), {})
    data["agent"] = table
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(data)
