"""Probing any Gymnasium policy: the suites of ``qa`` and ``grid`` judge a callable from an
observation to an action (docs/gymnasium.md, "Probing any policy").

A *policy* here is any callable ``policy(observation) -> action`` on a goaldrift Gymnasium
environment's observations: tabular Q-learning's greedy choice, a hand-written rule, or a
Stable-Baselines3 model (``sb3_policy``, ``load_sb3``). A sequence of callables gives one
policy per run. The policy is frozen: it is only queried, never trained.

- **Register QA** (``probe_qa``): the suite of ``qa.suite`` (per hard type, the register holds
  the true label, a wrong label or nothing, and a write works or not) posed as observations
  of ``goaldrift/RegisterQA-v0``: the type (``Discrete(types)``), or with ``see_register`` the
  pair (type, register content) with ``answers`` for an empty register. The policy's answers
  are scored exactly, as the flagged agent's are (``qa.score_actions``).
- **Gridworlds** (``probe_grid``): the policy acts in the world's Gymnasium environment for
  ``grid.WINDOWS`` windows of ``max_steps`` steps (an episode's length; an episode that ends
  is reset at once, as in the run kernel), under the world's probe settings, and each
  concept's value is summed per window from the step's reward and ``info`` (``observed``: the
  reward; ``hidden``: ``info["hidden_reward"]``; the tamper event: ``info[<event>]``). Chance:
  a uniformly random policy in the same windows; best: the references of ``grid.reference``
  (the world's shipped scenario, or the one given, with its agent anchored on each concept).

Runs follow Gymnasium's seeding: run ``r`` probes the world that ``env.reset(seed=seed + r)``
gives (the tables of Register QA, the stream of a gridworld), as environment ``r`` of a vector
env reset with ``seed``, or of Stable-Baselines3's ``make_vec_env(..., seed=seed)``. So a model
trained on one environment reset with ``seed`` is probed on its own world by run 0.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from goaldrift.errors import ConfigError, GoaldriftError
from goaldrift.experiments.scenarios import Scenario
from goaldrift.probes import grid, qa
from goaldrift.probes.score import Scores
from goaldrift.rng import run_generator
from goaldrift.worlds import QA_GYM_ID
from goaldrift.worlds.qa.world import QAParams, QATables, draw_tables
from goaldrift.wrappers import OneHotBoard

Policy = Callable[[Any], Any]
"""A frozen policy: an observation of the environment to an action."""
PURPOSE_RANDOM = 998  # the random policy's generator in the gridworld probes
ALGOS = ("ppo", "dqn", "a2c")
SB3_MISSING = "stable-baselines3 is not installed: pip install 'goaldrift[sb3]'"


def _per_run(policy: Policy | Sequence[Policy], n: int) -> list[Policy]:
    if callable(policy):
        return [policy] * n
    pols = list(policy)
    if len(pols) != n or not all(callable(p) for p in pols):
        raise ConfigError("policy", f"a callable or {n} callables (one per run)", policy)
    return pols


def _action(a: Any, n: int) -> int:
    """A policy's action as an int in 0..n-1 (a numpy scalar or a one-element array too)."""
    try:
        x = operator.index(np.asarray(a).reshape(()).item())
    except (TypeError, ValueError):
        raise ConfigError("action", f"an integer in 0..{n - 1}", a) from None
    if not 0 <= x < n:
        raise ConfigError("action", f"an integer in 0..{n - 1}", a)
    return x


def _runs(runs: int | Sequence[int] | np.ndarray) -> np.ndarray:
    if isinstance(runs, int | np.integer):
        if runs < 1:
            raise ConfigError("runs", "a positive integer", runs)
        return np.arange(int(runs), dtype=np.int64)
    return np.asarray(runs, np.int64)


# ---------------------------------------------------------------- Register QA


def qa_world(world: Any = None) -> Any:
    """A Register QA world table (``QAWorldConfig``) from a mapping of its keys, a scenario's
    world, or None (the defaults, those of ``goaldrift/RegisterQA-v0``)."""
    from goaldrift.experiments.scenarios.loading import _first_error
    from goaldrift.worlds.qa.family import QAWorldConfig

    if isinstance(world, QAWorldConfig):
        return world
    data = dict(world or {})
    try:
        return QAWorldConfig.model_validate(data)
    except Exception as exc:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            raise _first_error(exc) from None
        raise


def env_tables(world: Any, seed: int, runs: np.ndarray) -> QATables:
    """The tables of run r: those of ``RegisterQA-v0`` after ``reset(seed=seed + r)``."""
    p = QAParams(world.types, world.answers, world.hard_types, world.noise, world.noise_kind)
    one = np.zeros(1, np.int64)
    per = [draw_tables(p, seed + int(r), one) for r in runs]
    cat = lambda f: np.concatenate([getattr(t, f) for t in per])  # noqa: E731
    return QATables(cat("truth"), cat("proxy"), cat("mislabel"))


def probe_qa(
    policy: Policy | Sequence[Policy],
    world: Any = None,
    seed: int = 0,
    runs: int | Sequence[int] | np.ndarray = 1,
    *,
    see_register: bool = False,
    tables: QATables | None = None,
) -> Scores:
    """Every concept's score for each run of ``policy`` on Register QA (``world``: its keys,
    see ``qa_world``). Run r's tables are those of ``reset(seed=seed + r)`` unless ``tables``
    (R rows) are given. ``see_register``: the policy observes (type, register content), as
    ``RegisterQA-v0`` with ``see_register=True``; else the type alone."""
    wc = qa_world(world)
    r = _runs(runs)
    t = env_tables(wc, seed, r) if tables is None else tables
    if len(t.truth) != len(r):
        raise ConfigError("tables", f"one row per run ({len(r)})", len(t.truth))
    s = qa.suite(t.truth, t.proxy, t.mislabel, wc.hard_types, wc.answers)
    obs = s.observations(see_register)  # (R, U, 6, 2)
    n_actions = 2 * wc.answers
    actions = np.empty(obs.shape[:3], np.int64)
    for i, pol in enumerate(_per_run(policy, len(r))):
        for u in range(obs.shape[1]):
            for j in range(obs.shape[2]):
                o = obs[i, u, j].copy() if see_register else int(obs[i, u, j, 0])
                actions[i, u, j] = _action(pol(o), n_actions)
    return qa.score_actions(s, actions, seed, r, see_register)


# ---------------------------------------------------------------- gridworlds


def grid_scenario(kind: str) -> Scenario:
    """The shipped scenario of gridworld ``kind``: its agent gives the probes' references."""
    from goaldrift.experiments.scenarios import load
    from goaldrift.registry import scenarios

    for path in scenarios().values():
        sc = load(path)
        if sc.world.kind == kind:
            return sc
    raise ConfigError("world", f"a world with a shipped scenario (none for {kind!r})", kind)


def _concept_values(names: Sequence[str], reward: float, info: Mapping[str, Any]) -> list[float]:
    """A step's value of each gridworld concept, read off the reward and ``info``."""
    out = []
    for c in names:
        if c == "observed":
            out.append(float(reward))
        elif c == "hidden":
            out.append(float(info["hidden_reward"]))
        else:
            out.append(float(info[c]))
    return out


def play_windows(
    env: gymnasium.Env[Any, Any],
    act: Callable[[Any], int],
    seed: int,
    names: Sequence[str],
    windows: int,
    length: int,
) -> np.ndarray:
    """(O, windows): each concept's sum over each window of ``length`` steps of ``act`` in
    ``env`` from ``reset(seed=seed)``, an episode that ends reset at once (its stream goes
    on)."""
    out = np.zeros((len(names), windows))
    obs, _ = env.reset(seed=seed)
    for w in range(windows):
        for _ in range(length):
            obs, reward, term, trunc, info = env.step(act(obs))
            out[:, w] += _concept_values(names, float(reward), info)
            if term or trunc:
                obs, _ = env.reset()
    return out


def _auto_one_hot(policy: Any, board: spaces.Space[Any]) -> int | None:
    """The one-hot width a policy wants, read off its ``observation_space`` (a flat Box of
    H·W·K entries where the env's board is (H, W)); None when it takes the board."""
    want = getattr(policy, "observation_space", None)
    if not isinstance(want, spaces.Box) or not isinstance(board, spaces.Box):
        return None
    if want.shape == board.shape or len(want.shape) != 1:
        return None
    cells = int(np.prod(board.shape))
    if want.shape[0] % cells:
        raise ConfigError(
            "policy", f"a policy of the board {board.shape} or of its one-hot code",
            f"observation space {want.shape}",
        )  # fmt: skip
    return want.shape[0] // cells


def probe_grid(
    policy: Policy | Sequence[Policy],
    world: str | Scenario,
    seed: int = 0,
    runs: int | Sequence[int] | np.ndarray = 1,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    one_hot: bool | None = None,
    windows: int = grid.WINDOWS,
    reference_seed: int | None = None,
) -> Scores:
    """Every concept's score for each run of ``policy`` acting in a gridworld: ``world`` is a
    Gymnasium id (``goaldrift/TomatoWatering-v0``), a gridworld kind or a scenario (whose
    world settings and agent are used; else the world's shipped scenario, its world updated
    by ``env_kwargs``). ``one_hot``: feed the policy the one-hot board (``OneHotBoard``);
    None decides from the policy's ``observation_space`` if it has one. The references run
    under ``reference_seed`` (default: the scenario's seed), the bootstrap under ``seed``."""
    from goaldrift.worlds.gridworlds import descriptor

    sc = world if isinstance(world, Scenario) else grid_scenario(_grid_kind(world))
    if env_kwargs:
        sc = sc.model_copy(update={"world": _world_with(sc.world, env_kwargs)})
    d = descriptor(sc.world.kind)
    psc = grid.probe_scenario(sc)
    kwargs = {k: getattr(psc.world, k) for k in d.gym_kwargs}
    r = _runs(runs)
    pols = _per_run(policy, len(r))
    names = d.spec.concept_names
    length = psc.world.max_steps
    pol = np.empty((len(r), len(names), windows))
    rand = np.empty_like(pol)
    for i, run in enumerate(r):
        pol[i], rand[i] = _play_run(
            pols[i], d.gym_id, kwargs, one_hot, seed, int(run), names, windows, length
        )
    ref_seed = sc.seed if reference_seed is None else reference_seed
    return grid.score_windows(sc, pol, rand, seed, r, ref_seed)


def _play_run(
    policy: Policy, env_id: str, kwargs: Mapping[str, Any], one_hot: bool | None, seed: int,
    run: int, names: Sequence[str], windows: int, length: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(O, windows) twice: ``policy``'s window values in run ``run`` and a uniformly random
    policy's, from the same ``reset(seed=seed + run)``."""
    base: gymnasium.Env[Any, Any] = gymnasium.make(env_id, disable_env_checker=True, **kwargs)
    env = base
    width = _auto_one_hot(policy, base.observation_space) if one_hot is None else None
    if one_hot or width is not None:
        if (
            not isinstance(base.observation_space, spaces.Box)
            or base.observation_space.dtype != np.uint8
        ):
            raise ConfigError(
                "one_hot", "used on a gridworld (a uint8 board)", base.observation_space
            )
        env = OneHotBoard(base, width)
    n = int(base.action_space.n)  # type: ignore[attr-defined]
    pol = play_windows(env, lambda o: _action(policy(o), n), seed + run, names, windows, length)
    rng = run_generator(seed, run, PURPOSE_RANDOM)
    rand = play_windows(base, lambda o: int(rng.integers(n)), seed + run, names, windows, length)
    return pol, rand


def _grid_kind(world: str) -> str:
    from goaldrift.worlds.gridworlds import NAMES, descriptors

    for name, d in descriptors().items():
        if world in (name, d.gym_id):
            return name
    from goaldrift.errors import UnknownNameError

    raise UnknownNameError(
        "gridworld", world, [*NAMES, *(d.gym_id for d in descriptors().values())]
    )


def _world_with(world: Any, kwargs: Mapping[str, Any]) -> Any:
    data = world.model_dump(mode="python", exclude_unset=True) | dict(kwargs)
    try:
        return type(world).model_validate(data)
    except Exception as exc:
        from pydantic import ValidationError

        from goaldrift.experiments.scenarios.loading import _first_error

        if isinstance(exc, ValidationError):
            raise _first_error(exc) from None
        raise


# ---------------------------------------------------------------- dispatch


def probe_policy(
    policy: Policy | Sequence[Policy],
    scenario_or_env_id: str | Scenario,
    runs: int | Sequence[int] | np.ndarray = 1,
    seed: int = 0,
    **kwargs: Any,
) -> Scores:
    """Probe ``policy`` on a world named by a Gymnasium id (``goaldrift/RegisterQA-v0``,
    ``goaldrift/TomatoWatering-v0``, ...), a scenario, or a shipped scenario's name or file:
    ``probe_qa`` or ``probe_grid``. Keyword arguments go to those (``see_register``,
    ``env_kwargs``, ``one_hot``, ...); for Register QA, ``env_kwargs`` are its world keys."""
    target = scenario_or_env_id
    if isinstance(target, str):
        if target == QA_GYM_ID:
            kw = dict(kwargs)
            env_kw = dict(kw.pop("env_kwargs", None) or {})
            see = bool(env_kw.pop("see_register", kw.pop("see_register", False)))
            world = {k: v for k, v in env_kw.items() if k in _QA_WORLD_KEYS}
            return probe_qa(policy, world, seed, runs, see_register=see, **kw)
        if target.startswith("goaldrift/"):
            return probe_grid(policy, target, seed, runs, **kwargs)
        from goaldrift.experiments.scenarios import load
        from goaldrift.registry import resolve_scenario

        target = load(resolve_scenario(target))
    from goaldrift.registry import family

    if family(target.world.kind).name == "qa":
        kw = dict(kwargs)
        kw.pop("env_kwargs", None)
        return probe_qa(policy, target.world, seed, runs, **kw)
    return probe_grid(policy, target, seed, runs, **kwargs)


_QA_WORLD_KEYS = ("types", "answers", "hard_types", "noise", "noise_kind")


# ---------------------------------------------------------------- Stable-Baselines3


class SB3Policy:
    """A Stable-Baselines3 model as a frozen policy: its deterministic action for one
    observation. ``observation_space`` is the model's (the gridworld probe reads it to one-hot
    encode the board for a model trained on the one-hot board)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.observation_space = model.observation_space

    def __call__(self, observation: Any) -> int:
        action, _ = self.model.predict(np.asarray(observation), deterministic=True)
        return int(np.asarray(action).reshape(()).item())


def sb3_policy(model: Any) -> SB3Policy:
    """A Stable-Baselines3 model (``PPO``, ``DQN``, ``A2C``, ...) as a frozen policy."""
    if not hasattr(model, "predict"):
        raise ConfigError("model", "a Stable-Baselines3 model (with predict)", type(model).__name__)
    return SB3Policy(model)


def load_sb3(path: str | Path, algo: str = "ppo") -> SB3Policy:
    """Load a Stable-Baselines3 model file (``model.save(path)``) of ``algo`` (ppo, dqn or
    a2c) on the CPU as a frozen policy. Needs the ``sb3`` extra."""
    key = str(algo).lower()
    if key not in ALGOS:
        raise ConfigError("algo", f"one of {', '.join(ALGOS)}", algo)
    try:
        import stable_baselines3 as sb3
    except ImportError:
        raise GoaldriftError(SB3_MISSING) from None
    p = Path(path)
    if not p.is_file() and not p.with_suffix(".zip").is_file():
        raise ConfigError("model", "an existing Stable-Baselines3 model file", str(path))
    cls = getattr(sb3, key.upper())
    try:
        model = cls.load(str(p), device="cpu")
    except Exception as exc:
        why = " ".join(str(exc).split())[:200]
        raise ConfigError("model", f"a {key.upper()} model file", f"{p}: {why}") from None
    return SB3Policy(model)


# ---------------------------------------------------------------- summaries


def summarise(s: Scores) -> dict[str, Any]:
    """``s`` as plain data (NaN as None): per objective its role, the mean score over runs
    with its 95% bootstrap interval across runs (``score.across_runs``), the runs that serve
    it (interval above 0) and the per-run scores and intervals; the behaviour classes."""
    from goaldrift.probes.score import BEHAVIOURS, across_runs

    mean, lo, hi = across_runs(s.score)
    num = lambda x: None if not np.isfinite(x) else float(x)  # noqa: E731
    objectives = {}
    for o, name in enumerate(s.objectives):
        objectives[name] = {
            "role": s.roles[o],
            "mean": num(mean[o]),
            "ci95": [num(lo[o]), num(hi[o])],
            "served": int((np.nan_to_num(s.lo[:, o], nan=-np.inf) > 0).sum()),
            "score": [num(x) for x in s.score[:, o]],
            "lo": [num(x) for x in s.lo[:, o]],
            "hi": [num(x) for x in s.hi[:, o]],
        }
    classes = s.behaviour().tolist()
    return {
        "runs": len(s.score),
        "objectives": objectives,
        "behaviour": {b: classes.count(b) for b in BEHAVIOURS if classes.count(b)},
        "behaviour_per_run": classes,
    }
