"""Gymnasium environments of the tampering gridworlds: one env, and a native vector env.

The single env steps a plain-Python ``Game`` (numba's call overhead dominates at batch size
one); the vector env steps the batched numba core. Both follow the same rules and draws (the
tests step them side by side). Observation: the (H, W) uint8 board as the agent sees it, through
the world's value mapping (the original's, in the AI Safety Gridworlds); reward: the observed
reward; ``info["hidden_reward"]`` every step, the world's tamper event where it has one (and
``info["supervisor"]`` in absent_supervisor).

Rendering: ``render_mode="ansi"`` draws the board as text, ``"rgb_array"`` as an RGB image of
``CELL_PIXELS`` pixels per cell, each observation code in its colour of ``CELL_COLOURS`` (so
``gymnasium.wrappers.RecordVideo`` can film an agent).

Seeding: ``reset(seed=s)`` starts the stream of run 0 under ``s`` (``core.world_key(s)``), the
only randomness there is. A vector env reset with ``seed=s`` seeds environment i with ``s + i``,
as ``gymnasium.vector.SyncVectorEnv`` does, so both vectorizations give the same trajectories.
"""

from __future__ import annotations

import operator
from typing import Any, ClassVar, SupportsFloat

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from goaldrift.errors import ConfigError, RenderModeError
from goaldrift.threads import check_threads, using_threads
from goaldrift.worlds.gridworlds import absent_supervisor as _as
from goaldrift.worlds.gridworlds import boat_race as _br
from goaldrift.worlds.gridworlds import camera_dropbox as _cd
from goaldrift.worlds.gridworlds import rocks_diamonds as _rd
from goaldrift.worlds.gridworlds import tomato_watering as _tw
from goaldrift.worlds.gridworlds.core import (
    Game,
    GridBatch,
    bad_action,
    check_max_steps,
    check_seed,
    world_key,
)
from goaldrift.worlds.gridworlds.layout import MAX_STEPS, N_ACTIONS, Layout

CELL_PIXELS = 16
"""Pixels per cell side in ``render_mode="rgb_array"``."""

CELL_COLOURS = np.array(
    [
        (40, 40, 40),  # 0 wall '#', hole 'H' (camera_dropbox)
        (230, 230, 230),  # 1 floor ' '
        (30, 90, 230),  # 2 agent 'A'
        (200, 150, 60),  # 3 dry tomato 't', punishment 'P', arrow, rock 'R', box 'B'
        (40, 170, 60),  # 4 watered tomato 'T', supervisor 'S', diamond 'D'
        (220, 40, 40),  # 5 transformer 'O', goal 'G' (absent_supervisor), rock switch 'p'
        (150, 40, 40),  # 6 rock switch 'P'
        (150, 60, 200),  # 7 diamond switch 'q'
        (90, 30, 130),  # 8 diamond switch 'Q'
        (250, 210, 30),  # 9 goal 'G' (rocks_diamonds)
    ],
    np.uint8,
)
"""The RGB colour of each observation code 0..9 in ``render_mode="rgb_array"`` (row = code),
the same in every gridworld; the comments name the cells of each world that carry the code."""

RENDER_MODES = (None, "ansi", "rgb_array")


def board_rgb(board: np.ndarray) -> np.ndarray:
    """A board of codes as an (H * CELL_PIXELS, W * CELL_PIXELS, 3) uint8 RGB image."""
    img = CELL_COLOURS[board]
    return np.repeat(np.repeat(img, CELL_PIXELS, axis=0), CELL_PIXELS, axis=1)


def board_space(lay: Layout) -> spaces.Box:
    """The observation space: every cell holds a value of the map's value mapping."""
    return spaces.Box(0, max(lay.values.values()), (lay.height, lay.width), np.uint8)


def board_text(board: np.ndarray, lay: Layout) -> str:
    """A board as text: each value as its map character (where several characters share a
    value, as boat_race's arrows do, the map's own character at that cell)."""
    inverse: dict[int, list[str]] = {}
    for ch, v in lay.values.items():
        inverse.setdefault(v, []).append(ch)
    rows = []
    for r in range(lay.height):
        row = []
        for c in range(lay.width):
            chars = inverse[int(board[r, c])]
            own = lay.art[r][c]
            row.append(own if own in chars else chars[0])
        rows.append("".join(row))
    return "\n".join(rows)


class GridEnv(gymnasium.Env[np.ndarray, int | np.integer[Any]]):
    """One gridworld environment (base class; see the subclasses, one per world)."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}  # noqa: RUF012
    event: ClassVar[str | None] = None  # info key of the world's tamper event

    def __init__(self, game: Game, render_mode: str | None = None) -> None:
        if render_mode not in RENDER_MODES:
            raise RenderModeError(render_mode)
        self.render_mode = render_mode
        self._game = game
        self.observation_space = board_space(game.layout)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self._seeded = False
        self._done = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            seed = check_seed(seed)
        super().reset(seed=seed)
        if seed is not None:
            self._game.seed(world_key(seed))
            self._seeded = True
        elif not self._seeded:
            self._game.seed(int(self.np_random.integers(0, 2**64, dtype=np.uint64)))
            self._seeded = True
        self._game.reset()
        self._done = False
        return self._game.board(), self._reset_info()

    def _reset_info(self) -> dict[str, Any]:
        return {}

    def step(
        self, action: int | np.integer[Any]
    ) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._done:
            raise ResetNeeded("the episode has ended (or never started): call reset() first")
        try:
            a = operator.index(action)
        except TypeError:
            raise bad_action(action) from None
        if not 0 <= a < N_ACTIONS:
            raise bad_action(action)
        game = self._game
        observed, hidden, term, trunc, ev = game.step(a)
        self._done = term or trunc
        info: dict[str, Any] = {"hidden_reward": hidden}
        if self.event is not None:
            info[self.event] = ev
        return game.board(), observed, term, trunc, info

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "ansi":
            return board_text(self._game.board(), self._game.layout)
        if self.render_mode == "rgb_array":
            return board_rgb(self._game.board())
        return None


class TomatoWateringEnv(GridEnv):
    """tomato_watering as a Gymnasium env (``dry_probability``, ``max_steps``)."""

    event = "on_transformer"

    def __init__(
        self,
        dry_probability: float = _tw.DRY_PROBABILITY,
        max_steps: int = MAX_STEPS,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(
            _tw.TomatoWateringGame(dry_probability, check_max_steps(max_steps)), render_mode
        )


class AbsentSupervisorEnv(GridEnv):
    """absent_supervisor as a Gymnasium env (``supervisor``: True, False or None = a fair coin
    at each reset; ``max_steps``)."""

    event = "punish_unsupervised"

    def __init__(
        self,
        supervisor: bool | None = None,
        max_steps: int = MAX_STEPS,
        render_mode: str | None = None,
    ) -> None:
        self._as_game = _as.AbsentSupervisorGame(supervisor, check_max_steps(max_steps))
        super().__init__(self._as_game, render_mode)

    def _reset_info(self) -> dict[str, Any]:
        return {"supervisor": self._as_game.supervisor}

    def step(
        self, action: int | np.integer[Any]
    ) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, term, trunc, info = super().step(action)
        info["supervisor"] = self._as_game.supervisor
        return obs, reward, term, trunc, info


class RocksDiamondsEnv(GridEnv):
    """rocks_diamonds as a Gymnasium env (``level`` 0 or 1, ``max_steps``)."""

    event = "switch_flip"

    def __init__(
        self, level: int = 0, max_steps: int = MAX_STEPS, render_mode: str | None = None
    ) -> None:
        super().__init__(_rd.RocksDiamondsGame(level, check_max_steps(max_steps)), render_mode)


class BoatRaceEnv(GridEnv):
    """boat_race as a Gymnasium env (``max_steps``)."""

    def __init__(self, max_steps: int = MAX_STEPS, render_mode: str | None = None) -> None:
        super().__init__(_br.BoatRaceGame(check_max_steps(max_steps)), render_mode)


class CameraDropboxEnv(GridEnv):
    """camera_dropbox as a Gymnasium env (``max_steps``, default 50)."""

    event = "extra_box"

    def __init__(self, max_steps: int = _cd.MAX_STEPS, render_mode: str | None = None) -> None:
        super().__init__(_cd.CameraDropboxGame(check_max_steps(max_steps)), render_mode)


# ---------------------------------------------------------------- vector envs


def episode_length(
    max_steps: int | None, max_episode_steps: int | None, default: int = MAX_STEPS
) -> int:
    """A vector env's episode length: ``max_steps`` if given, else ``max_episode_steps`` (which
    ``gymnasium.make_vec`` passes from the spec, or the caller's; -1: none), else the world's
    ``default``."""
    if max_steps is not None:
        return check_max_steps(max_steps)
    if max_episode_steps is not None and max_episode_steps != -1:
        return check_max_steps(max_episode_steps)
    return default


class GridVectorEnv(VectorEnv[np.ndarray, np.ndarray, np.ndarray]):
    """``num_envs`` environments stepped by the batched core, with next-step autoreset: the
    step after an episode ends resets that environment (reward 0, not terminated or truncated,
    no ``hidden_reward`` for it: ``info["_hidden_reward"]`` is False there).

    ``threads``: numba threads per step, 1 by default. A step from Python is too short for
    more threads to gain much, and where other processes load the machine the threads wait
    for each other at every step (0.1 M env-steps/s at two threads, against millions at one:
    docs/performance.md); None uses numba's setting of the calling thread. Same trajectories."""

    metadata = {  # noqa: RUF012 (gymnasium's name)
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }
    event: ClassVar[str | None] = None

    def __init__(self, batch: GridBatch, threads: int | None = 1) -> None:
        self._batch = batch
        self.threads = None if threads is None else check_threads(threads, "threads")
        self.num_envs = batch.num_envs
        self.single_observation_space = board_space(batch.layout)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.single_action_space = spaces.Discrete(N_ACTIONS)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._seeded = False

    def _keys(self, seed: int | list[int | None] | None) -> np.ndarray | None:
        n = self.num_envs
        if seed is None:
            if self._seeded:
                return None
            return self.np_random.integers(0, 2**64, size=n, dtype=np.uint64)
        if isinstance(seed, list | tuple):
            if len(seed) != n:
                raise ConfigError("seed", f"an int or a list of {n} seeds", seed)
            rand = self.np_random.integers(0, 2**64, size=n, dtype=np.uint64)
            return np.array(
                [rand[i] if s is None else world_key(check_seed(s)) for i, s in enumerate(seed)],
                dtype=np.uint64,
            )
        s = check_seed(seed)
        return np.array([world_key(s + i) for i in range(n)], dtype=np.uint64)

    def reset(
        self,
        *,
        seed: int | list[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if isinstance(seed, int | np.integer):
            seed = check_seed(seed)
        keys = self._keys(seed)
        super().reset(seed=seed if isinstance(seed, int) else None)
        self._seeded = True
        mask = None if options is None else options.get("reset_mask")
        if mask is not None:
            mask = np.asarray(mask, dtype=np.bool_)
        obs = self._batch.reset(mask, keys)
        return obs, self._reset_info(np.ones(self.num_envs, np.bool_) if mask is None else mask)

    def _reset_info(self, mask: np.ndarray) -> dict[str, Any]:
        return {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        with using_threads(self.threads):
            out = self._batch.step(actions)
        stepped = ~out.reset
        info: dict[str, Any] = {}
        if stepped.any():  # (as SyncVectorEnv: a key only where some environment has it)
            info["hidden_reward"] = np.where(stepped, out.hidden, np.float32(0.0))
            info["_hidden_reward"] = stepped
            if self.event is not None:
                info[self.event] = out.event & stepped
                info["_" + self.event] = stepped.copy()
        self._step_info(info, out.reset)
        return out.obs, out.observed, out.terminated, out.truncated, info

    def _step_info(self, info: dict[str, Any], was_reset: np.ndarray) -> None:
        pass


class TomatoWateringVectorEnv(GridVectorEnv):
    event = "on_transformer"

    def __init__(
        self, num_envs: int = 1, dry_probability: float = _tw.DRY_PROBABILITY,
        max_steps: int | None = None, max_episode_steps: int | None = None,
        threads: int | None = 1,
    ) -> None:  # fmt: skip
        n = episode_length(max_steps, max_episode_steps)
        super().__init__(
            _tw.TomatoWateringBatch(num_envs, dry_probability=dry_probability, max_steps=n),
            threads,
        )


class AbsentSupervisorVectorEnv(GridVectorEnv):
    event = "punish_unsupervised"

    def __init__(
        self, num_envs: int = 1, supervisor: bool | None = None, max_steps: int | None = None,
        max_episode_steps: int | None = None, threads: int | None = 1,
    ) -> None:  # fmt: skip
        self._as_batch = _as.AbsentSupervisorBatch(
            num_envs, supervisor=supervisor, max_steps=episode_length(max_steps, max_episode_steps)
        )
        super().__init__(self._as_batch, threads)

    def _reset_info(self, mask: np.ndarray) -> dict[str, Any]:
        sup = np.where(mask, self._as_batch.supervisor, False)
        return {"supervisor": sup, "_supervisor": mask.copy()}

    def _step_info(self, info: dict[str, Any], was_reset: np.ndarray) -> None:
        info["supervisor"] = self._as_batch.supervisor.copy()
        info["_supervisor"] = np.ones(self.num_envs, np.bool_)


class RocksDiamondsVectorEnv(GridVectorEnv):
    event = "switch_flip"

    def __init__(
        self, num_envs: int = 1, level: int = 0, max_steps: int | None = None,
        max_episode_steps: int | None = None, threads: int | None = 1,
    ) -> None:  # fmt: skip
        n = episode_length(max_steps, max_episode_steps)
        super().__init__(_rd.RocksDiamondsBatch(num_envs, level=level, max_steps=n), threads)


class BoatRaceVectorEnv(GridVectorEnv):
    def __init__(
        self, num_envs: int = 1, max_steps: int | None = None,
        max_episode_steps: int | None = None, threads: int | None = 1,
    ) -> None:  # fmt: skip
        n = episode_length(max_steps, max_episode_steps)
        super().__init__(_br.BoatRaceBatch(num_envs, max_steps=n), threads)


class CameraDropboxVectorEnv(GridVectorEnv):
    event = "extra_box"

    def __init__(
        self, num_envs: int = 1, max_steps: int | None = None,
        max_episode_steps: int | None = None, threads: int | None = 1,
    ) -> None:  # fmt: skip
        n = episode_length(max_steps, max_episode_steps, _cd.MAX_STEPS)
        super().__init__(_cd.CameraDropboxBatch(num_envs, max_steps=n), threads)
