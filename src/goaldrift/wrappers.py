"""Gymnasium wrappers for the goaldrift environments.

``OneHotBoard``: a gridworld's (H, W) board of observation codes as a flat one-hot float32
vector of H·W·K entries, what ``examples/sb3_gridworld.py`` trains on and what the policy
probes (``goaldrift.probes.policy``) feed a model trained that way.
"""

from __future__ import annotations

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


__all__ = ["OneHotBoard"]
