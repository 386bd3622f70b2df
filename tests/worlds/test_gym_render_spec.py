"""Issue 11 for Gymnasium users: rgb_array rendering, max_episode_steps in the specs, and the
public one-hot wrapper ``goaldrift.wrappers.OneHotBoard``."""

from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from goaldrift.errors import ConfigError, RenderModeError
from goaldrift.worlds import QA_EPISODE_STEPS, QA_GYM_ID, register_envs
from goaldrift.worlds.gridworlds import NAMES, gym_ids
from goaldrift.worlds.gridworlds import gym as gw
from goaldrift.worlds.gridworlds.layout import default_max_steps
from goaldrift.worlds.qa import gym as qg
from goaldrift.wrappers import OneHotBoard

register_envs()
GRID_IDS = list(gym_ids())
LENGTH = {env_id: default_max_steps(name) for name, env_id in zip(NAMES, GRID_IDS, strict=True)}
LENGTH[QA_GYM_ID] = QA_EPISODE_STEPS


@pytest.mark.parametrize("env_id", GRID_IDS)
def test_grid_rgb_array_is_the_board_in_public_colours(env_id: str) -> None:
    env = gymnasium.make(env_id, render_mode="rgb_array")
    assert "rgb_array" in env.metadata["render_modes"]
    obs, _ = env.reset(seed=0)
    frame = env.render()
    h, w = obs.shape
    px = gw.CELL_PIXELS
    assert isinstance(frame, np.ndarray)
    assert frame.shape == (h * px, w * px, 3) and frame.dtype == np.uint8
    # each cell is one block of its code's colour
    assert np.array_equal(frame[::px, ::px], gw.CELL_COLOURS[obs])
    frames = [frame]
    for a in (3, 1, 2, 0, 3, 3):
        obs, *_ = env.step(a)
        frames.append(env.render())  # type: ignore[arg-type]
        assert np.array_equal(frames[-1][::px, ::px], gw.CELL_COLOURS[obs])
    assert any(not np.array_equal(frames[0], f) for f in frames[1:])  # the agent moved


def test_grid_colours_are_distinct_and_cover_every_code() -> None:
    assert len({tuple(c) for c in gw.CELL_COLOURS}) == len(gw.CELL_COLOURS)
    for env_id in GRID_IDS:
        space = gymnasium.make(env_id).observation_space
        assert int(space.high.max()) < len(gw.CELL_COLOURS)  # type: ignore[attr-defined]


def test_ansi_stays_and_bad_modes_still_raise() -> None:
    env = gymnasium.make("goaldrift/BoatRace-v0", render_mode="ansi")
    env.reset(seed=0)
    assert isinstance(env.render(), str)
    for mode in ("human", "rgb_array_list_x"):
        with pytest.raises(RenderModeError, match="None, 'ansi' or 'rgb_array'"):
            gw.BoatRaceEnv(render_mode=mode)
        with pytest.raises(TypeError):
            qg.RegisterQAEnv(render_mode=mode)


def test_env_checker_passes_with_rgb_array() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(gw.TomatoWateringEnv(render_mode="rgb_array").unwrapped)
        check_env(qg.RegisterQAEnv(render_mode="rgb_array").unwrapped)


def test_qa_rgb_array_encodes_the_step() -> None:
    env = gymnasium.make(QA_GYM_ID, render_mode="rgb_array", access=1.0)
    assert "rgb_array" in env.metadata["render_modes"]
    env.reset(seed=0)
    first = env.render()
    px, rows = qg.CELL_PIXELS, len(qg.QA_RENDER_ROWS)
    assert isinstance(first, np.ndarray) and first.dtype == np.uint8
    assert first.shape == (rows * px, 16 * px, 3)  # 16 types, 4 answers + none
    _, _, _, _, info = env.step(2 * 1 + 1)  # answer 1, write (works: access 1)
    after = env.render()
    assert isinstance(after, np.ndarray) and not np.array_equal(first, after)
    cells = after[::px, ::px]
    red = qg.QA_COLOURS[5]
    assert np.array_equal(cells[3, 1], red) and np.array_equal(cells[4, 1], red)  # write, tamper
    assert np.array_equal(cells[1, info["truth"]], qg.QA_COLOURS[2])
    _, _, _, _, info = env.step(2 * 0)  # answer 0, read
    cells = env.render()[::px, ::px]  # type: ignore[index]
    assert np.array_equal(cells[3, 0], qg.QA_COLOURS[4])


def test_qa_episode_constant_matches_the_env() -> None:
    assert QA_EPISODE_STEPS == qg.EPISODE_STEPS


@pytest.mark.parametrize("env_id", [*GRID_IDS, QA_GYM_ID])
def test_specs_have_max_episode_steps_and_episodes_end_once(env_id: str) -> None:
    n = gymnasium.spec(env_id).max_episode_steps
    assert n == LENGTH[env_id]  # 100, camera_dropbox's 50
    env = gymnasium.make(env_id)
    env.reset(seed=0)
    ends = []
    for t in range(1, 2 * n + 1):  # type: ignore[operator]
        _, _, term, trunc, _ = env.step(0)
        if term or trunc:
            ends.append((t, term, trunc))
            env.reset()
    assert ends == [(n, False, True), (2 * n, False, True)]  # type: ignore[operator]


def test_longer_episodes_with_max_episode_steps() -> None:
    env = gymnasium.make("goaldrift/BoatRace-v0", max_steps=150, max_episode_steps=150)
    env.reset(seed=0)
    truncs = [env.step(0)[3] for _ in range(150)]
    assert truncs == [False] * 149 + [True]
    env = gymnasium.make(QA_GYM_ID, episode_steps=5)  # shorter: the env truncates first
    env.reset(seed=0)
    assert [env.step(0)[3] for _ in range(5)] == [False] * 4 + [True]


@pytest.mark.parametrize("env_id", [*GRID_IDS, QA_GYM_ID])
def test_make_vec_takes_the_spec_length(env_id: str) -> None:
    key = "episode_steps" if env_id == QA_GYM_ID else "max_steps"
    for kwargs, want in (({}, LENGTH[env_id]), ({key: 7}, 7), ({"max_episode_steps": 9}, 9)):
        env = gymnasium.make_vec(env_id, num_envs=2, **kwargs)  # type: ignore[arg-type]
        env.reset(seed=0)
        steps = 0
        while True:
            steps += 1
            _, _, term, trunc, _ = env.step(np.zeros(2, np.int64))
            if (term | trunc).any():
                break
        assert steps == want and trunc.all() and not term.any()
        env.close()


def test_one_hot_board() -> None:
    env = OneHotBoard(gymnasium.make("goaldrift/TomatoWatering-v0"))
    obs, _ = env.reset(seed=0)
    board = env.unwrapped._game.board()  # type: ignore[attr-defined]
    assert env.observation_space.shape == (board.size * 6,)
    assert obs.dtype == np.float32 and obs in env.observation_space
    assert np.array_equal(obs.reshape(board.size, 6).argmax(1), board.reshape(-1))
    assert obs.sum() == board.size
    wide = OneHotBoard(gymnasium.make("goaldrift/BoatRace-v0"), codes=10)
    assert wide.observation_space.shape == (25 * 10,)
    with pytest.raises(ConfigError, match="'codes' must be an integer >= 4"):
        OneHotBoard(gymnasium.make("goaldrift/BoatRace-v0"), codes=2)
    with pytest.raises(ConfigError, match="'observation_space' must be a gridworld's board"):
        OneHotBoard(gymnasium.make(QA_GYM_ID))  # type: ignore[arg-type]


def test_one_hot_board_is_one_implementation() -> None:
    from goaldrift.probes import policy

    assert policy.OneHotBoard is OneHotBoard
    example = Path(__file__).resolve().parents[2] / "examples" / "sb3_gridworld.py"
    text = example.read_text()
    assert re.search(r"^from goaldrift\.wrappers import .*\bOneHotBoard\b", text, re.M)
    assert "class OneHotBoard" not in text


@pytest.mark.skipif(importlib.util.find_spec("moviepy") is None, reason="moviepy not installed")
def test_record_video(tmp_path: Path) -> None:  # pragma: no cover (needs moviepy)
    from gymnasium.wrappers import RecordVideo

    env = RecordVideo(
        gymnasium.make("goaldrift/BoatRace-v0", render_mode="rgb_array", max_steps=10),
        str(tmp_path), episode_trigger=lambda e: True, disable_logger=True,
    )  # fmt: skip
    env.reset(seed=0)
    done = False
    while not done:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        done = term or trunc
    env.close()
    assert list(tmp_path.glob("*.mp4"))


def test_docs_legend_gives_the_colours() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "gymnasium.md").read_text()
    for code, (r, g, b) in enumerate(gw.CELL_COLOURS.tolist()):
        assert f"| {code} | " in doc and f"({r}, {g}, {b}) |" in doc
