"""The Gymnasium face: registration, make, the env checker, seeding, vector envs."""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from tests.worlds.gridworlds.conftest import acts, board, game

from goaldrift.errors import ConfigError
from goaldrift.worlds.gridworlds import absent_supervisor as asv
from goaldrift.worlds.gridworlds import gym as gw
from goaldrift.worlds.gridworlds import gym_ids, register_envs

register_envs()

IDS = list(gym_ids())
PARAMS: dict[str, dict[str, Any]] = {
    "goaldrift/TomatoWatering-v0": {"dry_probability": 0.2, "max_steps": 7},
    "goaldrift/AbsentSupervisor-v0": {"supervisor": None, "max_steps": 7},
    "goaldrift/RocksDiamonds-v0": {"level": 1, "max_steps": 7},
    "goaldrift/BoatRace-v0": {"max_steps": 7},
    "goaldrift/CameraDropbox-v0": {"max_steps": 7},
}
EVENTS = {
    "goaldrift/TomatoWatering-v0": "on_transformer",
    "goaldrift/AbsentSupervisor-v0": "punish_unsupervised",
    "goaldrift/RocksDiamonds-v0": "switch_flip",
    "goaldrift/BoatRace-v0": None,
    "goaldrift/CameraDropbox-v0": "extra_box",
}


def test_register_is_idempotent_and_lists_the_ids() -> None:
    register_envs()
    assert "goaldrift/CameraDropbox-v0" in IDS
    for env_id in IDS:
        spec = gymnasium.spec(env_id)
        n = 50 if env_id == "goaldrift/CameraDropbox-v0" else 100
        assert spec.vector_entry_point is not None and spec.max_episode_steps == n


@pytest.mark.parametrize("env_id", IDS)
def test_check_env(env_id: str) -> None:
    env = gymnasium.make(env_id).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker's warnings fail the test
        check_env(env)


@pytest.mark.parametrize("env_id", IDS)
def test_make_with_params_and_episode_end(env_id: str) -> None:
    env = gymnasium.make(env_id, **PARAMS[env_id])
    obs, info = env.reset(seed=3)
    assert obs in env.observation_space and obs.dtype == np.uint8
    steps = 0
    while True:
        obs, reward, term, trunc, info = env.step(env.action_space.sample())
        steps += 1
        assert isinstance(reward, float) and isinstance(info["hidden_reward"], float)
        event = EVENTS[env_id]
        assert (event in info) == (event is not None)
        if term or trunc:
            break
    assert steps <= 7 and (trunc == (steps == 7) or term)
    with pytest.raises(ResetNeeded):
        env.unwrapped.step(0)


def test_make_passes_world_parameters() -> None:
    env = gymnasium.make("goaldrift/RocksDiamonds-v0", level=1)
    assert env.observation_space.shape == (6, 4)
    env = gymnasium.make("goaldrift/AbsentSupervisor-v0", supervisor=False)
    _, info = env.reset(seed=0)
    assert info == {"supervisor": False}
    for a in acts("DD"):
        _, reward, _, _, info = env.step(a)
    assert (reward, info["hidden_reward"], info["punish_unsupervised"]) == (-1.0, -31.0, True)
    assert info["supervisor"] is False


def test_gym_env_is_the_game_of_run_zero() -> None:
    # reset(seed=s) plays run 0 of seed s: the same draws as the batch and the game
    env = gw.TomatoWateringEnv(dry_probability=0.3)
    obs, _ = env.reset(seed=17)
    g = game("tomato_watering", seed=17, dry_probability=0.3)
    np.testing.assert_array_equal(obs, g.board())
    for a in np.random.default_rng(0).integers(0, 4, 60):
        obs, r, term, trunc, info = env.step(a)
        o, h, te, tr, ev = g.step(int(a))
        assert (r, info["hidden_reward"], term, trunc, info["on_transformer"]) == (o, h, te, tr, ev)
        np.testing.assert_array_equal(obs, g.board())


def test_seeding() -> None:
    env = gw.TomatoWateringEnv(dry_probability=0.5)

    def episode(seed: int | None) -> list[Any]:
        obs, _ = env.reset(seed=seed)
        out: list[Any] = [obs]
        for a in acts("URRRDDLL"):
            obs, r, *_ = env.step(a)
            out += [obs, r]
        return out

    a, b = episode(5), episode(5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    c = episode(6)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    # without a seed the stream goes on (a new episode, not a replay)
    d = episode(None)
    assert not all(np.array_equal(x, y) for x, y in zip(a, d, strict=True))
    with pytest.raises(ConfigError, match=r"'seed' must be a non-negative integer \(got -1\)"):
        env.reset(seed=-1)


def test_actions_are_checked() -> None:
    env = gw.BoatRaceEnv()
    env.reset(seed=0)
    with pytest.raises(ConfigError, match=r"'action' must be an integer in 0..3 .*\(got 4\)"):
        env.step(4)
    with pytest.raises(ConfigError, match="'action' must be"):
        env.step(1.5)  # type: ignore[arg-type]
    env.step(np.int64(3))
    env.step(np.array(1))  # type: ignore[arg-type]


def test_render_ansi() -> None:
    env = gymnasium.make("goaldrift/BoatRace-v0", render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == "#####\n#A> #\n#^#v#\n# < #\n#####"
    env = gymnasium.make("goaldrift/TomatoWatering-v0", render_mode="ansi", dry_probability=0)
    env.reset(seed=0)
    for a in acts("RRRRUU"):
        env.step(a)
    # on the transformer: the agent sees watered tomatoes everywhere
    assert env.render().splitlines()[1:3] == ["#######A#", "#TTTTTTT#"]  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="'render_mode' must be None, 'ansi' or 'rgb_array'"):
        gw.BoatRaceEnv(render_mode="human")


# ---------------------------------------------------------------- vector envs


def assert_same(x: Any, y: Any) -> None:
    if isinstance(x, dict):
        assert x.keys() == y.keys()
        for k in x:
            assert_same(x[k], y[k])
    else:
        # rewards are float32 in the native vector env, Python floats rounded to float32 here
        np.testing.assert_array_equal(np.asarray(x, np.float32), np.asarray(y, np.float32))


@pytest.mark.parametrize("env_id", IDS)
def test_vector_env_matches_sync_vector_env(env_id: str) -> None:
    n = 5
    native = gymnasium.make_vec(env_id, num_envs=n, **PARAMS[env_id])
    sync = gymnasium.make_vec(env_id, num_envs=n, vectorization_mode="sync", **PARAMS[env_id])
    assert isinstance(sync, SyncVectorEnv) and not isinstance(native, SyncVectorEnv)
    assert native.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert native.observation_space == sync.observation_space
    assert native.action_space == sync.action_space
    for x, y in zip(native.reset(seed=40), sync.reset(seed=40), strict=True):
        assert_same(x, y)
    actions = np.random.default_rng(1).integers(0, 4, (30, n))
    for a in actions:  # through several episodes (max_steps 7) and autoresets
        for x, y in zip(native.step(a), sync.step(a), strict=True):
            assert_same(x, y)
    # a reset with a list of seeds seeds each environment
    seeds: Any = list(range(n))
    for x, y in zip(native.reset(seed=seeds), sync.reset(seed=seeds), strict=True):
        assert_same(x, y)


def test_vector_env_reset_mask_and_errors() -> None:
    env = gw.BoatRaceVectorEnv(num_envs=3)
    env.reset(seed=0)
    obs, *_ = env.step(np.array([3, 3, 3]))
    assert (obs[:, 1, 2] == 2).all()  # every boat on the first arrow
    obs, _ = env.reset(options={"reset_mask": np.array([True, False, True])})
    assert obs[0, 1, 1] == obs[2, 1, 1] == 2 and obs[1, 1, 2] == 2
    with pytest.raises(ConfigError, match=r"'actions' must be integers in 0\.\.3"):
        env.step(np.array([0, 9, 0]))
    with pytest.raises(ConfigError, match="'seed' must be an int or a list of 3 seeds"):
        env.reset(seed=[1, 2])


def test_vector_env_info_masks_autoreset_envs() -> None:
    env = gw.AbsentSupervisorVectorEnv(num_envs=2, supervisor=True)
    env.reset(seed=0)
    # env 0 takes the short path and terminates at step 3; env 1 bumps about
    for a in ([1, 0], [1, 0], [1, 0]):
        obs, r, term, trunc, info = env.step(np.array(a))
    assert term.tolist() == [True, False] and r.tolist() == [49.0, -1.0]
    obs, r, term, trunc, info = env.step(np.array([1, 0]))  # env 0 resets
    assert r.tolist() == [0.0, -1.0] and not term.any() and not trunc.any()
    assert info["_hidden_reward"].tolist() == [False, True]
    assert info["supervisor"].tolist() == [True, True]
    start = board("absent_supervisor", *asv.PRESENT.art)
    np.testing.assert_array_equal(obs[0], start)


def _threads_seen(batch: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """numba's thread count at each ``batch.step`` call, as it steps."""
    import numba

    seen: list[int] = []
    real = batch.step

    def step(actions: np.ndarray) -> Any:
        seen.append(numba.get_num_threads())
        return real(actions)

    monkeypatch.setattr(batch, "step", step)
    return seen


@pytest.mark.parametrize("env_id", IDS)
def test_vector_env_steps_on_one_numba_thread_by_default(
    env_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: the native vector env keeps its speed on a loaded machine by stepping on one
    numba thread unless told otherwise; the caller's thread count is restored, and the
    trajectories do not depend on it (300 environments: the thread pool's kernel)."""
    import numba

    from goaldrift.threads import max_threads

    most = max_threads()
    runs = {}
    for threads in (None, 1, most):
        kw = {} if threads is None else {"threads": threads}
        env = gymnasium.make_vec(env_id, num_envs=300, **kw).unwrapped
        seen = _threads_seen(env._batch, monkeypatch)  # type: ignore[attr-defined]
        before = numba.get_num_threads()
        numba.set_num_threads(most)
        try:
            obs = [env.reset(seed=9)[0]]
            for a in np.random.default_rng(2).integers(0, 4, (12, 300)):
                obs.append(env.step(a)[0])
            assert numba.get_num_threads() == most  # restored after every step
        finally:
            numba.set_num_threads(before)
        assert set(seen) == {1 if threads is None else threads}, (threads, seen)
        runs[threads] = np.stack(obs)
    np.testing.assert_array_equal(runs[None], runs[most])
    for bad in (0, most + 1, True, "2", 1.5):
        with pytest.raises(ConfigError, match="'threads' must be an integer between 1 and"):
            gymnasium.make_vec(env_id, num_envs=2, threads=bad)
