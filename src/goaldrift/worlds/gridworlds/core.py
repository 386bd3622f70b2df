"""What the four batched gridworlds share: streams, step results and the batch base class.

A batch steps B environments in lockstep; state lives in arrays with a leading batch axis
and numba kernels (one module per world) step every environment in a ``prange`` loop.
Randomness comes from each environment's counter-based stream (``goaldrift.rng``), whose key
is drawn from ``SeedSequence(seed)`` child ``(run, WORLD_STREAM)``: environment ``run``'s
trajectory depends only on the seed, the run index and its actions, never on the batch.
(The child differs from the runs' own ``run_keys`` streams, so an agent drawing from those in
the same kernel never reuses the world's draws.)

Stepping an environment whose episode ended resets it instead (as the original does, and as
Gymnasium's next-step autoreset expects): that step returns the reset observation, zero
rewards, and ``reset`` True.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections import namedtuple
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from goaldrift.errors import ConfigError
from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.gridworlds.layout import MAX_STEPS, N_ACTIONS, Layout

WORLD_STREAM = 2_000_000
CHUNK = 64  # environments per parallel task
PARALLEL_MIN = 256  # smaller batches step serially: a parallel launch costs more than them
ACTION_STREAM = 2_000_001  # random actions of ``GridBatch.rollout``

# goaldrift.rng's SplitMix64 constants, for the pure-Python mirror of ``draw_u64``
_MASK = 0xFFFFFFFFFFFFFFFF
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
LOW32 = 0xFFFFFFFF


def draw(key: int, counter: int) -> int:
    """``goaldrift.rng.draw_u64`` in plain Python: the ``counter``-th 64-bit draw of ``key``."""
    z = (key + (counter + 1) * _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return z ^ (z >> 31)


def check_seed(seed: object, key: str = "seed") -> int:
    """A seed as a non-negative int (SeedSequence's domain)."""
    try:
        s = operator.index(seed)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError(key, "a non-negative integer", seed) from None
    if s < 0:
        raise ConfigError(key, "a non-negative integer", seed)
    return s


def world_key(seed: int, run: int = 0, stream: int = WORLD_STREAM) -> int:
    """The stream key of gridworld ``run`` under ``seed``."""
    ss = np.random.SeedSequence(check_seed(seed), spawn_key=(check_seed(run, "run"), stream))
    return int(ss.generate_state(1, dtype=np.uint64)[0])


def world_keys(
    seed: int, runs: np.ndarray | list[int] | range, stream: int = WORLD_STREAM
) -> np.ndarray:
    """One stream key per run index (uint64), derived only from (seed, run)."""
    return np.array([world_key(seed, int(r), stream) for r in runs], dtype=np.uint64)


def check_max_steps(max_steps: object) -> int:
    try:
        n = operator.index(max_steps)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError("max_steps", "a positive integer", max_steps) from None
    if n < 1:
        raise ConfigError("max_steps", "a positive integer", max_steps)
    return n


def check_probability(p: object, key: str) -> float:
    try:
        x = float(p)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(key, "a probability in [0, 1]", p) from None
    if not 0.0 <= x <= 1.0:
        raise ConfigError(key, "a probability in [0, 1]", p)
    return x


def check_supervisor(supervisor: object) -> int:
    """``supervisor`` as the kernels' mode: 1 present, 0 absent, -1 a fair coin per reset."""
    if supervisor is None:
        return -1
    if isinstance(supervisor, bool | np.bool_):
        return int(supervisor)
    raise ConfigError("supervisor", "True, False or None (a fair coin at each reset)", supervisor)


def bad_action(action: object) -> ConfigError:
    return ConfigError("action", "an integer in 0..3 (UP, DOWN, LEFT, RIGHT)", action)


def check_actions(actions: object, num_envs: int) -> np.ndarray:
    """A batch of actions as a contiguous int64 array of shape (num_envs,)."""
    a = np.asarray(actions)
    if a.shape != (num_envs,) or a.dtype.kind not in "iu":
        raise ConfigError(
            "actions", f"{num_envs} integers in 0..3", f"shape {a.shape}, dtype {a.dtype}"
        )
    if num_envs and (a.min() < 0 or a.max() >= N_ACTIONS):
        bad = a[(a < 0) | (a >= N_ACTIONS)]
        raise ConfigError("actions", "integers in 0..3 (UP, DOWN, LEFT, RIGHT)", bad.tolist())
    return np.ascontiguousarray(a, dtype=np.int64)


StepOut = namedtuple(
    "StepOut", ["obs", "observed", "hidden", "term", "trunc", "event", "was_reset"]
)
"""The per-environment outputs of one batched step, the arrays the step kernels fill."""


@dataclass(frozen=True)
class BatchStep:
    """One lockstep step of B environments (leading axis B everywhere)."""

    obs: np.ndarray
    """(B, H, W) uint8: the board as the agent sees it, through the world's value mapping."""
    observed: np.ndarray
    """(B,) float32: observed reward, the register concept and the training signal."""
    hidden: np.ndarray
    """(B,) float32: hidden reward, the intended concept; summed it is hidden performance."""
    terminated: np.ndarray
    """(B,) bool: the environment ended the episode (only absent_supervisor's goal)."""
    truncated: np.ndarray
    """(B,) bool: the episode reached the step limit."""
    event: np.ndarray
    """(B,) bool: the world's tamper event (all False in boat_race, which has none)."""
    reset: np.ndarray
    """(B,) bool: the episode had ended, so this step reset the environment instead."""
    world: WorldSpec

    def concepts(self) -> np.ndarray:
        """(B, C) float32 concept values in ``world.concepts`` order; NaN (undefined) where the
        step was a reset."""
        cols = [self.hidden, self.observed, self.event.astype(np.float32)]
        phi = np.stack(cols[: len(self.world.concepts)], axis=1).astype(np.float32)
        phi[self.reset] = np.nan
        return phi


class GridBatch(ABC):
    """B environments of one gridworld, stepped in lockstep by numba kernels.

    ``num_envs`` environments take runs ``runs`` (default ``0..num_envs-1``) of ``seed``;
    ``keys`` (uint64, one per environment) replaces the derived stream keys. ``parallel``:
    step in numba's thread pool (default: from ``PARALLEL_MIN`` environments on). Call
    ``reset()`` before the first ``step``.
    """

    name: ClassVar[str]
    world: ClassVar[WorldSpec]

    def __init__(
        self,
        num_envs: int,
        seed: int = 0,
        *,
        runs: np.ndarray | list[int] | range | None = None,
        keys: np.ndarray | None = None,
        max_steps: int = MAX_STEPS,
        parallel: bool | None = None,
    ) -> None:
        if operator.index(num_envs) < 1:
            raise ConfigError("num_envs", "a positive integer", num_envs)
        self.num_envs = int(num_envs)
        self.parallel = self.num_envs >= PARALLEL_MIN if parallel is None else bool(parallel)
        self.max_steps = check_max_steps(max_steps)
        if keys is None:
            runs = range(self.num_envs) if runs is None else runs
            if len(runs) != self.num_envs:
                raise ConfigError("runs", f"{self.num_envs} run indices", len(runs))
            keys = world_keys(seed, runs)
        self.keys = self._check_keys(keys)
        b = self.num_envs
        self.ctr = np.zeros(b, np.int64)
        self.pos = np.zeros(b, np.int64)
        self.t = np.zeros(b, np.int64)
        self.done = np.zeros(b, np.bool_)
        self._started = False

    @property
    @abstractmethod
    def layout(self) -> Layout: ...

    @property
    def shape(self) -> tuple[int, int]:
        return (self.layout.height, self.layout.width)

    def _check_keys(self, keys: np.ndarray) -> np.ndarray:
        k = np.asarray(keys)
        if k.shape != (self.num_envs,):
            raise ConfigError("keys", f"{self.num_envs} stream keys", k.shape)
        return np.array(k, dtype=np.uint64)

    def positions(self) -> np.ndarray:
        """(B, 2) int64: each agent's (row, col)."""
        w = self.layout.width
        return np.stack([self.pos // w, self.pos % w], axis=1)

    def reset(self, mask: np.ndarray | None = None, keys: np.ndarray | None = None) -> np.ndarray:
        """Start a new episode in the environments of ``mask`` (all if None) and return every
        environment's observation (B, H, W). With ``keys``, those environments restart their
        streams from the given keys (counters at 0)."""
        b = self.num_envs
        if mask is None:
            m = np.ones(b, np.bool_)
        else:
            m = np.asarray(mask)
            if m.shape != (b,) or m.dtype != np.bool_:
                raise ConfigError("mask", f"a bool array of shape ({b},)", m.shape)
        if keys is not None:
            k = self._check_keys(keys)
            self.keys[m] = k[m]
            self.ctr[m] = 0
        if not self._started and not m.all():
            raise ConfigError("mask", "all True on the first reset", int(m.sum()))
        obs = np.empty((b, self.layout.size), np.uint8)
        self._reset_rows(m, obs)
        self._started = True
        return obs.reshape(b, *self.shape)

    def step(self, actions: np.ndarray) -> BatchStep:
        """Advance every environment by one action (0 UP, 1 DOWN, 2 LEFT, 3 RIGHT)."""
        if not self._started:
            raise ConfigError("reset", "called before the first step", None, show_got=False)
        a = check_actions(actions, self.num_envs)
        b = self.num_envs
        obs = np.empty((b, self.layout.size), np.uint8)
        observed = np.empty(b, np.float32)
        hidden = np.empty(b, np.float32)
        term = np.empty(b, np.bool_)
        trunc = np.empty(b, np.bool_)
        event = np.empty(b, np.bool_)
        was_reset = np.empty(b, np.bool_)
        self._step_rows(a, StepOut(obs, observed, hidden, term, trunc, event, was_reset))
        return BatchStep(
            obs.reshape(b, *self.shape), observed, hidden, term, trunc, event, was_reset, self.world
        )

    def rollout(self, steps: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Step every environment ``steps`` times with uniformly random actions, all inside one
        kernel (autoresetting, rendering each step's observation into a scratch board); return
        per-environment sums of observed and hidden reward. For throughput measurements."""
        if not self._started:
            self.reset()
        akeys = world_keys(seed, range(self.num_envs), ACTION_STREAM)
        observed = np.zeros(self.num_envs, np.float64)
        hidden = np.zeros(self.num_envs, np.float64)
        self._rollout_rows(int(steps), akeys, observed, hidden)
        return observed, hidden

    @abstractmethod
    def _reset_rows(self, mask: np.ndarray, obs: np.ndarray) -> None: ...

    @abstractmethod
    def _step_rows(self, actions: np.ndarray, out: StepOut) -> None: ...

    @abstractmethod
    def _rollout_rows(
        self, steps: int, akeys: np.ndarray, observed: np.ndarray, hidden: np.ndarray
    ) -> None: ...


class Game(ABC):
    """One environment in plain Python: the single-env fast path behind the Gymnasium env.

    It implements the same rules as the world's kernels (tests step both side by side), but
    without numba's per-call overhead, which dominates at batch size one. Rewards are exact
    Python floats, as the original computes them.
    """

    layout: Layout
    key: int
    ctr: int
    pos: int
    t: int

    def seed(self, key: int) -> None:
        """Restart the stream at ``key`` (counter 0)."""
        self.key = key
        self.ctr = 0

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def step(self, a: int) -> tuple[float, float, bool, bool, bool]:
        """(observed, hidden, terminated, truncated, event) of one action."""

    @abstractmethod
    def board(self) -> np.ndarray:
        """A fresh (H, W) uint8 observation."""
