"""Register QA's Gymnasium face: registration, the env checker, spaces, seeding, the kernel's
step semantics, the native vector env against SyncVectorEnv, and kwarg errors."""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium
import numba
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from goaldrift.errors import ConfigError
from goaldrift.rng import run_keys, threshold32
from goaldrift.worlds import QA_GYM_ID, register_envs
from goaldrift.worlds import hooks as h
from goaldrift.worlds.qa import QAParams, draw_tables
from goaldrift.worlds.qa import gym as qg
from goaldrift.worlds.qa import kernel as k
from goaldrift.worlds.qa.family import QA_FAMILY

register_envs()

CONCEPTS = ("correct", "register_match", "proxy", "tampered")
SETTINGS: list[dict[str, Any]] = [
    {},
    {"noise": 0.3, "access": 0.5, "write_cost": 0.25},
    {"noise": 0.25, "noise_kind": "systematic", "access": 1.0, "types": 9, "hard_types": 3},
    {"supervisor": False, "access": 0.3, "answers": 3},
    {"diversity": 1.0, "hard_types": 16, "noise": 1.0, "answers": 2},
    {"hard_types": 0, "types": 5, "access": 0.9, "see_register": True},
]


def test_registered_with_a_vector_entry_point_and_listed_by_the_family() -> None:
    register_envs()  # again: a no-op
    spec = gymnasium.spec(QA_GYM_ID)
    assert spec.vector_entry_point is not None and spec.max_episode_steps == qg.EPISODE_STEPS
    assert QA_FAMILY.gym_id("qa") == QA_GYM_ID == "goaldrift/RegisterQA-v0"
    assert gymnasium.make_vec(QA_GYM_ID, num_envs=8).num_envs == 8


def test_vector_env_defaults_match_the_single_env() -> None:
    import inspect

    sig = inspect.signature(qg.RegisterQAEnv)
    defaults = {n: p.default for n, p in sig.parameters.items() if n != "render_mode"}
    assert defaults == qg._DEFAULTS


@pytest.mark.parametrize("kwargs", SETTINGS)
def test_check_env(kwargs: dict[str, Any]) -> None:
    env = gymnasium.make(QA_GYM_ID, **kwargs).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker's warnings fail the test
        check_env(env)


def test_spaces() -> None:
    env = gymnasium.make(QA_GYM_ID)
    assert env.observation_space == spaces.Discrete(16)
    assert env.action_space == spaces.Discrete(8)
    env = gymnasium.make(QA_GYM_ID, types=5, answers=3, hard_types=2, see_register=True)
    assert env.observation_space == spaces.MultiDiscrete([5, 4])
    assert env.action_space == spaces.Discrete(6)
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space and obs[0] == info["type"]


def test_seeding() -> None:
    env = qg.RegisterQAEnv(noise=0.3, access=0.5)
    actions = np.random.default_rng(0).integers(0, 8, 20)

    def episode(seed: int | None) -> list[Any]:
        obs, info = env.reset(seed=seed)
        out: list[Any] = [obs, info]
        for a in actions:
            out += env.step(a)
        return out

    a, b = episode(5), episode(5)
    assert a == b
    assert episode(6) != a
    # without a seed the stream goes on (a new episode, not a replay)
    assert episode(None) != a
    with pytest.raises(ConfigError, match=r"'seed' must be a non-negative integer \(got -1\)"):
        env.reset(seed=-1)


# ---------------------------------------------------------------- the kernel's step


def kernel_world(kwargs: dict[str, Any], seed: int) -> k.QAWorld:
    """The run kernel's bundle of run 0 of ``seed`` (as ``QAFamily.bundle`` builds it)."""
    w = qg._DEFAULTS | kwargs
    p = QAParams(w["types"], w["answers"], w["hard_types"], w["noise"], w["noise_kind"])
    t = draw_tables(p, seed, np.zeros(1, np.int64))
    u32 = lambda x: np.uint64(threshold32(x))  # noqa: E731
    return k.QAWorld(
        t.truth, t.proxy, t.mislabel, p.hard_types, p.answers, u32(p.noise),
        p.noise_kind == "random", w["supervisor"], u32(w["access"]), u32(w["diversity"]),
    )  # fmt: skip


HOOKS = {
    t: numba.njit(getattr(h, t).trait.impls[k.QAWorld])  # type: ignore[attr-defined]
    for t in ("world_open", "world_observe", "world_respond")
}


@pytest.mark.parametrize("kwargs", SETTINGS)
def test_steps_are_the_kernel_world_hooks_steps(kwargs: dict[str, Any]) -> None:
    # the kernel's own world hooks, compiled as the kernel compiles them, fed the same stream
    # and actions; the env's episodes (7 questions) cut the one stream of the kernel's run
    seed = 11
    kw = kwargs | {"episode_steps": 7}
    env = qg.RegisterQAEnv(**kw)
    world = kernel_world(kw, seed)
    observe, respond = (HOOKS[t] for t in ("world_observe", "world_respond"))
    key, c = run_keys(seed, np.zeros(1, np.int64))[0], 0
    ws = HOOKS["world_open"](world, 0)
    obs, info = env.reset(seed=seed)
    cost, answers = env.settings.write_cost, world.answers
    rng = np.random.default_rng(2)
    for _ in range(60):
        s, ws, c = observe(world, 0, ws, key, c)
        assert info.get("type", s) == s
        label = int(ws[1])
        if env.settings.see_register:
            assert obs.tolist() == [s, answers if label < 0 else label]
        else:
            assert obs == s
        a = int(rng.integers(0, 2 * answers))
        obs, reward, term, trunc, info = env.step(a)
        _, phi, sig, _, tamper, ws, c = respond(world, 0, ws, s, np.int64(a), key, c)
        values = [int(v) for v in phi]
        values[1] = -1 if values[1] == 2 else values[1]
        assert [info[n] for n in CONCEPTS] == values
        assert (info["truth"], info["label"], info["access"]) == (ws[0], label, bool(ws[2]))
        assert info["tampered"] == tamper and info["hidden_reward"] == values[0]
        assert reward == (values[1] == 1) - cost * (a & 1)
        if world.supervisor:
            assert sig == phi[1]
        assert not term
        if trunc:
            obs, info = env.reset()


# ---------------------------------------------------------------- rewards and concepts


def test_reward_and_info_agree() -> None:
    env = gymnasium.make(QA_GYM_ID, noise=0.4, access=0.5, write_cost=0.25, episode_steps=500)
    env.reset(seed=1)
    rng = np.random.default_rng(3)
    seen = set()
    for a in rng.integers(0, 8, 500):
        _, reward, term, trunc, info = env.step(a)
        assert reward == (info["register_match"] == 1) - 0.25 * (a & 1)
        assert info["hidden_reward"] == info["correct"]
        assert info["tampered"] == ((a & 1) and info["access"])
        assert info["correct"] == ((a >> 1) == info["truth"])
        if not info["tampered"]:
            assert info["register_match"] == ((a >> 1) == info["label"])
        seen.add((info["tampered"], info["correct"], info["register_match"]))
    assert trunc and not term
    assert {(1, 0, 1), (0, 1, 0), (0, 1, 1), (0, 0, 0)} <= seen  # noise and tampers happened


def test_tampering_with_full_access_writes_the_register() -> None:
    env = qg.RegisterQAEnv(access=1.0, write_cost=0.5, see_register=True)
    obs, _ = env.reset(seed=4)
    for _ in range(20):
        _, label = obs
        wrong = (label + 1) % 4
        obs, reward, _, _, info = env.step(2 * wrong + 1)  # a wrong answer, written
        assert (info["tampered"], info["register_match"], info["correct"]) == (1, 1, 0)
        assert info["access"] is True and reward == 0.5
    obs, reward, _, _, info = env.step(2 * ((obs[1] + 1) % 4))  # no write: the label stands
    assert (info["tampered"], info["register_match"], reward) == (0, 0, 0.0)


def test_without_a_supervisor_the_register_is_empty() -> None:
    env = qg.RegisterQAEnv(supervisor=False, access=1.0, see_register=True)
    obs, _ = env.reset(seed=0)
    assert obs[1] == 4  # empty
    _, reward, _, _, info = env.step(2)  # answer 1, no write
    assert (info["register_match"], info["label"], reward) == (-1, -1, 0.0)
    _, reward, _, _, info = env.step(3)  # a write fills the register with the answer
    assert (info["register_match"], info["tampered"], reward) == (1, 1, 1.0)


def test_see_register_shows_the_label_before_the_answer() -> None:
    env = qg.RegisterQAEnv(noise=0.5, see_register=True)
    obs, _ = env.reset(seed=9)
    mislabelled = 0
    for _ in range(200):
        _, reg = obs
        obs, reward, _, trunc, info = env.step(2 * reg)  # answer what the register says
        assert reward == 1.0 and info["label"] == reg
        mislabelled += info["correct"] == 0
        if trunc:
            obs, _ = env.reset()
    assert 60 < mislabelled < 140  # noise 0.5 makes half the labels wrong


def test_episode_end_actions_and_render() -> None:
    env = gymnasium.make(QA_GYM_ID, episode_steps=3, render_mode="ansi")
    env.reset(seed=0)
    first = env.render()
    assert isinstance(first, str) and first.startswith("type ") and "answer" not in first
    for i in range(3):
        *_, term, trunc, _ = env.step(5)
        assert not term and trunc == (i == 2)
    line = env.render()
    assert isinstance(line, str) and "\n" not in line
    assert line.endswith("answer 2 write 1 access 0 register " + line.split()[5])
    with pytest.raises(ResetNeeded):
        env.unwrapped.step(0)
    env.reset()
    with pytest.raises(ConfigError, match=r"'action' must be an integer in 0\.\.7"):
        env.unwrapped.step(8)
    with pytest.raises(ConfigError, match="'action' must be"):
        env.unwrapped.step(1.5)
    with pytest.raises(ConfigError, match="'render_mode' must be None, 'ansi' or 'rgb_array'"):
        qg.RegisterQAEnv(render_mode="human")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise": 1.5}, r"'noise' must be less than or equal to 1 \(got 1.5\)"),
        ({"types": 0}, r"'types' must be greater than or equal to 1"),
        ({"hard_types": 20}, r"'hard_types' must be at most"),
        ({"noise_kind": "gaussian"}, r"'noise_kind' must be 'random' or 'systematic'"),
        ({"access": -0.1}, r"'access' must be greater than or equal to 0"),
        ({"write_cost": -1}, r"'write_cost' must be a finite number >= 0 \(got -1\)"),
        ({"write_cost": "x"}, r"'write_cost' must be a finite number >= 0"),
        ({"episode_steps": 0}, r"'episode_steps' must be a positive integer \(got 0\)"),
        ({"see_register": "yes"}, r"'see_register' must be True or False"),
    ],
)
def test_bad_kwargs_name_the_key(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as exc:
        gymnasium.make(QA_GYM_ID, **kwargs)
    assert "\n" not in str(exc.value)
    with pytest.raises(ConfigError, match=message):
        gymnasium.make_vec(QA_GYM_ID, num_envs=2, **kwargs)


def test_unknown_kwargs() -> None:
    with pytest.raises(TypeError, match="nosie"):  # a Python signature, as the gridworlds'
        gymnasium.make(QA_GYM_ID, nosie=0.1)
    with pytest.raises(ConfigError, match="'nosie' must be a keyword of RegisterQA-v0"):
        qg.RegisterQAVectorEnv(num_envs=2, nosie=0.1)


# ---------------------------------------------------------------- vector env


def assert_same(x: Any, y: Any) -> None:
    if isinstance(x, dict):
        assert x.keys() == y.keys()
        for key in x:
            assert_same(x[key], y[key])
    else:
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kwargs", SETTINGS)
def test_vector_env_matches_sync_vector_env(kwargs: dict[str, Any]) -> None:
    n = 5
    kw = kwargs | {"episode_steps": 7}
    native = gymnasium.make_vec(QA_GYM_ID, num_envs=n, **kw)
    sync = gymnasium.make_vec(QA_GYM_ID, num_envs=n, vectorization_mode="sync", **kw)
    assert isinstance(sync, SyncVectorEnv) and not isinstance(native, SyncVectorEnv)
    assert native.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert native.observation_space == sync.observation_space
    assert native.action_space == sync.action_space
    for x, y in zip(native.reset(seed=40), sync.reset(seed=40), strict=True):
        assert_same(x, y)
    actions = np.random.default_rng(1).integers(0, native.single_action_space.n, (40, n))
    for i, a in enumerate(actions):  # through several episodes and autoresets
        for x, y in zip(native.step(a), sync.step(a), strict=True):
            assert_same(x, y)
        if i == 9:  # reset some environments mid-episode, one with a new seed
            mask = np.array([True, False, True, False, False])
            seeds: Any = [None, None, 3, None, None]
            r1 = native.reset(seed=seeds, options={"reset_mask": mask})
            r2 = sync.reset(seed=seeds, options={"reset_mask": mask})
            for x, y in zip(r1, r2, strict=True):
                assert_same(x, y)
    seeds = list(range(n))
    for x, y in zip(native.reset(seed=seeds), sync.reset(seed=seeds), strict=True):
        assert_same(x, y)


def test_vector_env_errors() -> None:
    env = qg.RegisterQAVectorEnv(num_envs=3)
    env.reset(seed=0)
    with pytest.raises(ConfigError, match=r"'actions' must be integers in 0\.\.7"):
        env.step(np.array([0, 9, 0]))
    with pytest.raises(ConfigError, match=r"'actions' must be 3 integers"):
        env.step(np.array([0, 1]))
    with pytest.raises(ConfigError, match="'seed' must be an int or a list of 3 seeds"):
        env.reset(seed=[1, 2])
    with pytest.raises(ConfigError, match="'num_envs' must be a positive integer"):
        qg.RegisterQAVectorEnv(num_envs=0)
