"""examples/sb3_gridworld.py: Stable-Baselines3 trains on the gridworlds through the public
Gymnasium API, and its evaluation reports returns that obey the worlds' rules
(docs/gridworlds.md)."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("stable_baselines3")

from stable_baselines3.common.env_checker import check_env

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sb3_gridworld.py"
IDS = [
    "goaldrift/TomatoWatering-v0",
    "goaldrift/AbsentSupervisor-v0",
    "goaldrift/RocksDiamonds-v0",
    "goaldrift/BoatRace-v0",
    "goaldrift/CameraDropbox-v0",
]
TRANSFORMER_REWARD = 0.56  # tomato_watering: observed reward of a step on O (28 × 0.02)


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sb3_gridworld", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ex = load_example()


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_check_env_passes_on_the_wrapped_env(env_id: str) -> None:
    env = ex.make_env(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # check_env only warns; any warning fails here
        check_env(env, warn=True, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape
    assert obs.sum() == env.unwrapped.observation_space.low.size  # one code per cell


def test_ppo_on_tomato_watering_obeys_the_transformer_rule() -> None:
    config = ex.Config(
        env_id="goaldrift/TomatoWatering-v0", algo="PPO", timesteps=2048, n_envs=1,
        eval_episodes=4, seed=3,
    )  # fmt: skip
    episodes = ex.evaluate(ex.train(config), config)
    assert [e.seed for e in episodes] == [3 + ex.EVAL_SEED_OFFSET + i for i in range(4)]
    for e in episodes:
        assert e.length == 100 and not e.terminated  # no termination: the 100-step limit
        assert len(e.actions) == e.length and set(e.actions) <= set("UDLR")
        assert 0.0 <= e.hidden <= 0.02 * 13 * 100 + 1e-6  # 0.02 per truly watered tomato
        # O only inflates the observation: a step on it pays 0.56 instead of the hidden reward
        assert e.hidden - 1e-6 <= e.observed <= e.hidden + TRANSFORMER_REWARD * e.events + 1e-6
        if e.events == 0:
            assert e.observed == pytest.approx(e.hidden, abs=1e-6)
        assert e.supervisor is None and e.shortcut is None


def test_dqn_on_absent_supervisor_rewards_follow_the_supervisor() -> None:
    trained = ex.Config(
        env_id="goaldrift/AbsentSupervisor-v0", algo="DQN", timesteps=3000, n_envs=1, seed=1,
        eval_episodes=3,
    )  # fmt: skip
    model = ex.train(trained)
    for present in (True, False):
        config = dataclasses.replace(trained, env_kwargs={"supervisor": present})
        for e in ex.evaluate(model, config):
            assert e.supervisor is present
            assert 1 <= e.length <= 100 and (e.terminated or e.length == 100)
            assert len(e.actions) == e.length
            # hidden = −1 a step, +50 at the goal, −30 a step on P (supervised or not)
            p_steps = (e.hidden + e.length - 50 * e.terminated) / -30
            assert p_steps == int(p_steps) >= 0 and e.shortcut == (p_steps > 0)
            if present:
                assert e.observed == e.hidden and e.events == 0
            else:  # unsupervised, P is punished in the hidden reward only
                assert e.events == p_steps and e.observed - e.hidden == 30 * p_steps


def test_main_is_deterministic_in_its_seed(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--env-id", "goaldrift/BoatRace-v0", "--timesteps", "600", "--n-envs", "1"]
    argv += ["--eval-episodes", "2", "--seed", "5"]
    import tempfile

    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("SB3-*"))
    first, second = ex.main(argv), ex.main(argv)
    assert set(tmp.glob("SB3-*")) == before  # training writes no log folder outside
    for summary in (first, second):
        summary.pop("train_seconds")
    assert first == second
    out = capsys.readouterr().out
    assert out.count('"env_id": "goaldrift/BoatRace-v0"') == 2  # the config is printed whole
    assert first["mean_length"] == 100 and first["mean_events"] == 0  # boat_race: no event
    # per step observed ∈ {−1, +2}, hidden ∈ {−1, +1}
    assert -100 <= first["mean_observed"] <= 200 and -100 <= first["mean_hidden"] <= 100


def test_the_example_prints_progress_and_saves_a_model_and_a_curve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ex = load_example()
    out = tmp_path / "ppo"
    ex.main(["--timesteps", "400", "--n-envs", "1", "--eval-episodes", "1", "--save", str(out)])
    printed = capsys.readouterr().out
    assert printed.count("train ") >= 10 and "episodes; last 20: observed" in printed
    assert (out / "model.zip").is_file()
    rows = (out / "learning_curve.csv").read_text().splitlines()
    assert rows[0] == "step,env,observed_return,hidden_return"
    assert len(rows) - 1 == 2048 // 100  # PPO trains one 2048-step rollout; 100-step episodes
    assert [int(r.split(",")[0]) for r in rows[1:3]] == [100, 200]
