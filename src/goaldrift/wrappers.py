"""Gymnasium wrappers for the goaldrift environments.

``OneHotBoard``: a gridworld's (H, W) board of observation codes as a flat one-hot float32
vector of H·W·K entries, what ``examples/sb3_gridworld.py`` trains on and what the policy
probes (``goaldrift.probes.policy``) feed a model trained that way.

``MonaApproval``: MONA's training reward for a neural agent (docs/mitigations.md): the
observed reward plus an overseer's approval gamma V(s') - V(s) from a trusted value of the
intended reward; train it myopically (PPO with ``gamma=0``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from goaldrift.errors import ConfigError


class OneHotBoard(gymnasium.ObservationWrapper[np.ndarray, Any, np.ndarray]):
    """The (H, W) board of cell codes as a flat one-hot float32 vector of H·W·K entries.

    The codes are categories, not quantities (tomato_watering: 3 dry tomato, 4 watered, 5
    the transformer), so a linear layer on the raw codes would read "watered" as "dry + 1";
    one-hot gives each (cell, code) pair its own input in [0, 1], which an ``MlpPolicy`` takes
    as it is (no scaling, and no image preprocessing of a 2-D uint8 box).

    ``codes``: K, the number of codes (default: the board's highest code + 1); a larger K
    matches a model trained with more codes. Entry ``(r * W + c) * K + k`` is 1 when cell
    (r, c) holds code k. Wrapping anything but a uint8 ``Box`` board raises a ConfigError."""

    def __init__(self, env: gymnasium.Env[np.ndarray, Any], codes: int | None = None) -> None:
        super().__init__(env)
        board = env.observation_space
        if not isinstance(board, spaces.Box) or board.dtype != np.uint8:
            raise ConfigError("observation_space", "a gridworld's board (a uint8 Box)", board)
        high = int(board.high.max()) + 1
        k = high if codes is None else codes
        if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < high:
            raise ConfigError("codes", f"an integer >= {high} (the board's codes)", codes)
        self._eye = np.eye(int(k), dtype=np.float32)
        self.observation_space = spaces.Box(0.0, 1.0, (int(k) * board.low.size,), np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return self._eye[observation].reshape(-1)


def _game_state(env: gymnasium.Env[Any, Any]) -> Hashable:
    """A goaldrift gridworld's (agent cell, box bits): Camera Dropbox's state."""
    game: Any = getattr(env.unwrapped, "_game", None)
    if game is None or not hasattr(game, "boxes"):
        raise ConfigError("env", "a goaldrift Camera Dropbox env (or pass state=)", env)
    return (game.pos, game.boxes)


class MonaApproval(gymnasium.Wrapper[Any, Any, Any, Any]):
    """The reward becomes R_obs(s, a, s') + gamma V(s') - V(s) (V(s') = 0 when the episode
    terminated): MONA's one-step objective with a non-myopic approval (Farquhar et al. 2025).

    ``values`` maps a state to the overseer's trusted value of the intended reward (for
    camera_dropbox, ``camera_dropbox.trusted_values()``, keyed by ``state(env)``: the default
    reads the game's agent cell and box bits); ``sigma`` > 0 gives a noisy overseer that errs
    by a fixed amount per state, as in the paper's code, drawn from ``seed``. The step's
    ``info`` keeps the observed reward as ``observed_reward`` and adds ``approval``."""

    def __init__(
        self,
        env: gymnasium.Env[Any, Any],
        values: Mapping[Hashable, float],
        gamma: float = 0.99,
        sigma: float = 0.0,
        seed: int = 0,
        state: Callable[[gymnasium.Env[Any, Any]], Hashable] | None = None,
    ) -> None:
        super().__init__(env)
        if not 0 <= gamma <= 1:
            raise ConfigError("gamma", "a discount in [0, 1]", gamma)
        if not sigma >= 0:
            raise ConfigError("sigma", "a noise level >= 0", sigma)
        self._values, self._gamma, self._sigma = values, gamma, sigma
        self._rng = np.random.default_rng(seed)
        self._noise: dict[Hashable, float] = {}
        self._state = state or _game_state

    def _v(self, s: Hashable) -> float:
        v = float(self._values.get(s, 0.0))
        if self._sigma > 0 and v != 0.0:  # the paper adds no noise to zero values
            if s not in self._noise:
                self._noise[s] = float(self._rng.normal(0.0, self._sigma))
            v += self._noise[s]
        return v

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        before = self._state(self.env)
        obs, reward, terminated, truncated, info = self.env.step(action)
        after = 0.0 if terminated else self._gamma * self._v(self._state(self.env))
        approval = after - self._v(before)
        info = {**info, "observed_reward": float(reward), "approval": approval}
        return obs, float(reward) + approval, terminated, truncated, info


__all__ = ["MonaApproval", "OneHotBoard"]
