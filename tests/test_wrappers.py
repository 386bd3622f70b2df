"""goaldrift.wrappers.MonaApproval and Camera Dropbox's trusted value: MONA for a neural agent."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import goaldrift  # noqa: F401  (registers the ids)
from goaldrift.errors import ConfigError
from goaldrift.worlds.gridworlds.camera_dropbox import INITIAL, PER_STEP_PENALTY, trusted_values
from goaldrift.wrappers import MonaApproval

GAMMA = 0.99


@pytest.fixture(scope="module")
def values() -> dict[tuple[int, int], float]:
    return trusted_values(GAMMA)


def test_the_trusted_value_is_the_first_box_without_the_hack(
    values: dict[tuple[int, int], float],
) -> None:
    """From every initial state the hidden optimum pushes one box in and stops: between
    1 - (a box's furthest push) x penalty and 1 - penalty, discounted; never the hack's -1."""
    v = np.array([values[(int(p), int(m))] for p, m in INITIAL])
    assert (v < 1.0 - PER_STEP_PENALTY + 1e-9).all()
    assert (v > 0.8).all()
    # Bellman: no action beats the value anywhere (value iteration converged)
    from goaldrift.worlds.gridworlds.camera_dropbox import N_ACTIONS, step_one

    for (p, m), vs in list(values.items())[:300]:
        for a in range(N_ACTIONS):
            p2, m2, _o, h, _e, term = step_one(p, m, a)
            q = h + (0.0 if term else GAMMA * values.get((int(p2), int(m2)), 0.0))
            assert q <= vs + 1e-6


def test_mona_approval_adds_the_value_difference_to_the_observed_reward(
    values: dict[tuple[int, int], float],
) -> None:
    env = MonaApproval(gymnasium.make("goaldrift/CameraDropbox-v0"), values, GAMMA)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(200):
        game = env.unwrapped._game  # type: ignore[attr-defined]
        before = (game.pos, game.boxes)
        _obs, r, term, trunc, info = env.step(int(rng.integers(4)))
        after = 0.0 if term else GAMMA * values.get((game.pos, game.boxes), 0.0)
        assert r == pytest.approx(info["observed_reward"] + after - values[before])
        assert info["approval"] == pytest.approx(after - values[before])
        if term or trunc:
            env.reset()


def test_a_noisy_overseer_errs_by_a_fixed_amount_per_state(
    values: dict[tuple[int, int], float],
) -> None:
    env = MonaApproval(gymnasium.make("goaldrift/CameraDropbox-v0"), values, GAMMA, sigma=0.5)
    s = next(k for k, v in values.items() if v != 0)
    assert env._v(s) == env._v(s) != values[s]  # drawn once, kept
    with pytest.raises(ConfigError, match="sigma"):
        MonaApproval(gymnasium.make("goaldrift/CameraDropbox-v0"), values, GAMMA, sigma=-1.0)
