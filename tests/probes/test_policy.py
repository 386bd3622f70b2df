"""Probing any Gymnasium policy (``goaldrift.probes.policy``): chance scores 0, an objective's
best policy 1, the flagged agent's greedy policy probed through the environment agrees with
its own probes, and ``goaldrift probe`` end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.test_cli import TOML, assert_one_line_error, goaldrift

from goaldrift.errors import ConfigError, GoaldriftError
from goaldrift.experiments.runs.runner import run_batch
from goaldrift.experiments.scenarios import load
from goaldrift.probes import policy as pp
from goaldrift.probes.score import Scores
from goaldrift.probes.suites import probe as suite_probe
from goaldrift.registry import resolve_scenario
from goaldrift.worlds import QA_GYM_ID
from goaldrift.worlds.gridworlds import tomato_watering as tw

RUNS = 32


def random_policy(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return lambda obs: int(rng.integers(n))


def col(s: Scores, name: str) -> int:
    return s.objectives.index(name)


def test_random_policy_scores_about_0_and_is_indifferent_on_register_qa() -> None:
    s = pp.probe_policy(random_policy(8), QA_GYM_ID, RUNS, 0)
    assert s.score.shape == (RUNS, 4)
    assert np.all(np.abs(np.nanmean(s.score, axis=0)) < 0.1)
    assert (s.behaviour() == "indifferent").mean() >= 0.75


def test_random_policy_is_indifferent_on_a_gridworld() -> None:
    s = pp.probe_policy(random_policy(4), "goaldrift/BoatRace-v0", 4, 0)
    assert s.objectives == ("hidden", "observed")
    assert np.all(np.abs(s.score) < 0.1)
    assert list(s.behaviour()) == ["indifferent"] * 4


def test_oracle_answering_the_truth_serves_the_intended_objective() -> None:
    wc = pp.qa_world(None)
    t = pp.env_tables(wc, 5, np.arange(RUNS))
    oracles = [lambda obs, r=r: 2 * int(t.truth[r, obs]) for r in range(RUNS)]  # no write
    s = pp.probe_qa(oracles, None, 5, RUNS)
    np.testing.assert_allclose(s.score[:, col(s, "correct")], 1.0)
    assert list(s.behaviour()) == ["intended"] * RUNS


def test_register_seekers_serve_the_register() -> None:
    # copies the register when it sees a label, writes when it is empty
    answers = 4
    copier = lambda obs: 2 * int(obs[1]) if obs[1] < answers else 1  # noqa: E731
    s = pp.probe_policy(copier, QA_GYM_ID, RUNS, 0, env_kwargs={"see_register": True})
    np.testing.assert_allclose(s.score[:, col(s, "register_match")], 1.0)
    assert list(s.behaviour()) == ["register"] * RUNS
    # blind: always answers 0 and writes; the register holds its answer whenever writes work
    s = pp.probe_qa(lambda obs: 1, None, 0, RUNS)
    reg = col(s, "register_match")
    assert (s.lo[:, reg] > 0).all() and s.score[:, reg].mean() > 0.6
    assert np.abs(s.score[:, col(s, "correct")].mean()) < 0.2


def test_observations_follow_the_env_encoding() -> None:
    seen: list[object] = []
    pp.probe_qa(lambda o: seen.append(o) or 0, {"types": 4, "hard_types": 2}, 0, 1)
    assert len(seen) == 2 * 6 and {type(o) for o in seen} == {int}
    assert sorted(set(seen)) == [0, 1]  # type: ignore[type-var]
    seen.clear()
    pp.probe_qa(lambda o: seen.append(o) or 0, {"types": 4, "hard_types": 2}, 0, 1,
                see_register=True)  # fmt: skip
    regs = sorted({int(o[1]) for o in seen})  # type: ignore[index]
    assert all(isinstance(o, np.ndarray) and o.shape == (2,) for o in seen)
    assert regs[-1] == 4 and len(regs) >= 2  # 4: the register is empty


def test_the_flagged_agents_greedy_policy_agrees_with_its_own_probes_on_register_qa() -> None:
    sc = load(resolve_scenario("aligned-qa"), ["phases.0.steps=3000", "phases.1.steps=500"])
    runs = np.arange(8)
    res = run_batch(sc, sc.seed, runs)
    q = res.live.agent.state.q  # type: ignore[union-attr]
    greedy = [lambda obs, r=r: int(np.argmax(q[r, obs])) for r in range(len(runs))]
    mine = pp.probe_policy(greedy, sc, runs, sc.seed, tables=res.live.world.tables)  # type: ignore[union-attr]
    theirs = suite_probe(res)
    for a, b in ((mine.score, theirs.score), (mine.lo, theirs.lo), (mine.hi, theirs.hi)):
        np.testing.assert_array_equal(a, b)


def test_the_flagged_agents_greedy_policy_agrees_with_its_own_probes_on_a_gridworld() -> None:
    sc = load(resolve_scenario("tomato-watering"), ["phases.0.steps=30000"])
    runs = np.arange(8)
    res = run_batch(sc, sc.seed, runs)
    q = res.live.agent.state.q  # type: ignore[union-attr]

    def greedy(r: int):
        def act(board: np.ndarray) -> int:
            at = np.flatnonzero(board.ravel() == tw.V_AGENT)  # none: on the transformer
            return int(np.argmax(q[r, int(at[0]) if len(at) else int(tw.TRANSFORMER)]))

        return act

    mine = pp.probe_policy([greedy(r) for r in runs], sc, runs, sc.seed)
    theirs = suite_probe(res)
    assert mine.objectives == theirs.objectives
    np.testing.assert_array_equal(np.isnan(mine.score), np.isnan(theirs.score))
    known = ~np.isnan(theirs.score).all(axis=0)  # (tomato_watering: no reference beats
    # chance at the hidden reward, so its score is NaN for every policy)
    np.testing.assert_allclose(
        mine.score[:, known].mean(0), theirs.score[:, known].mean(0), atol=0.1
    )


def test_bad_policies_and_worlds_raise_one_line_errors() -> None:
    with pytest.raises(ConfigError, match=r"'action' must be an integer in 0\.\.7"):
        pp.probe_qa(lambda o: 8, None, 0, 1)
    with pytest.raises(ConfigError, match="'policy' must be a callable or 2 callables"):
        pp.probe_qa([lambda o: 0], None, 0, 2)
    with pytest.raises(ConfigError, match="'answers'"):
        pp.probe_qa(lambda o: 0, {"answers": 1}, 0, 1)
    with pytest.raises(GoaldriftError, match="unknown gridworld 'goaldrift/Nope-v0'"):
        pp.probe_policy(lambda o: 0, "goaldrift/Nope-v0", 1, 0)
    with pytest.raises(ConfigError, match="'algo' must be one of ppo, dqn, a2c"):
        pp.load_sb3("x.zip", "sac")


def test_load_sb3_without_the_extra_says_so_in_one_line(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)
    with pytest.raises(GoaldriftError, match=r"stable-baselines3 is not installed: pip install"):
        pp.load_sb3(tmp_path / "m.zip", "ppo")


def test_unsupported_render_mode_is_a_config_error_and_a_type_error() -> None:
    from goaldrift.worlds.qa.gym import RegisterQAEnv

    for exc in (ConfigError, TypeError):
        with pytest.raises(exc, match="'render_mode' must be None, 'ansi' or 'rgb_array'"):
            RegisterQAEnv(render_mode="human")


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(TOML)
    return p


def test_cli_probes_the_scenarios_agent(scenario_file: Path) -> None:
    proc = goaldrift("probe", scenario_file, "--runs", "3", "--json", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["runs"] == 3 and out["seed"] == 3 and out["policy"] == "the scenario's agent"
    assert set(out["objectives"]) == {"correct", "register_match", "proxy", "tampered"}
    assert sum(out["behaviour"].values()) == 3 and len(out["behaviour_per_run"]) == 3
    for v in out["objectives"].values():
        assert len(v["score"]) == 3 and len(v["ci95"]) == 2
    sc = load(scenario_file)
    res = run_batch(sc, 3, np.arange(3))
    theirs = suite_probe(res)
    got = [np.nan if x is None else x for x in out["objectives"]["correct"]["score"]]
    np.testing.assert_array_equal(got, theirs.score[:, 0])
    proc = goaldrift("probe", scenario_file, "--runs", "2", "--set", "world.noise=0")
    assert proc.returncode == 0, proc.stderr
    assert "mean score" in proc.stdout and "behaviour class" in proc.stdout


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--algo", "ppo"], ["'--algo' must be given only with --model"]),
        (["--see-register"], ["'--see-register' must be given only with --model"]),
        (["--model", "nope.zip"], ["'model' must be an existing"]),
        (["--model", "nope.zip", "--algo", "sac"], ["'algo' must be one of ppo, dqn, a2c"]),
        (["--runs", "0"], ["--runs"]),
        (["--set", "world.answers=1"], ["answers"]),
    ],
)
def test_cli_bad_input_is_one_line(
    scenario_file: Path, args: list[str], needles: list[str]
) -> None:
    assert_one_line_error(goaldrift("probe", scenario_file, *args), *needles)


def test_cli_unknown_scenario_is_one_line() -> None:
    assert_one_line_error(goaldrift("probe", "no-such-scenario"), "unknown scenario")
