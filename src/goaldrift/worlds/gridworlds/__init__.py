"""Tampering gridworlds: exact, batched ports of the tampering environments of DeepMind's AI
Safety Gridworlds (Leike et al. 2017) and of MONA's Camera Dropbox (Farquhar et al. 2025), with
the dynamics of docs/gridworlds.md.

Each world is one module (``tomato_watering``, ``absent_supervisor``, ``rocks_diamonds``,
``boat_race``, ``camera_dropbox``) holding its rules as numba functions, a batched core
(``TomatoWateringBatch``, ...), a plain-Python single environment (``TomatoWateringGame``, ...),
its run-kernel rules and its ``DESCRIPTOR`` (``gridworld.Gridworld``). ``NAMES`` lists them:
it is the one place a new gridworld is added (docs/extending.md). ``gym`` holds the Gymnasium
environments; ``register_envs()`` the ids ``goaldrift/TomatoWatering-v0`` and so on.

Importing this package is cheap: a world's module (and numba) loads when it is first needed.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from goaldrift.worlds.gridworlds.gridworld import Gridworld

NAMES = ("tomato_watering", "absent_supervisor", "rocks_diamonds", "boat_race", "camera_dropbox")


@cache
def descriptor(name: str) -> Gridworld:
    """The descriptor of gridworld ``name`` (one of ``NAMES``)."""
    if name not in NAMES:
        from goaldrift.errors import UnknownNameError

        raise UnknownNameError("gridworld", name, list(NAMES))
    d: Gridworld = import_module(f"goaldrift.worlds.gridworlds.{name}").DESCRIPTOR
    return d


def descriptors() -> dict[str, Gridworld]:
    """Every gridworld's descriptor, by name."""
    return {n: descriptor(n) for n in NAMES}


_GYM = "goaldrift.worlds.gridworlds.gym"


def gym_ids() -> dict[str, str]:
    """Gymnasium id -> the stem of its classes in ``gym`` (``<Stem>Env``, ``<Stem>VectorEnv``)."""
    from goaldrift.worlds.gridworlds.gridworld import camel

    return {f"goaldrift/{camel(n)}-v0": camel(n) for n in NAMES}


def register_envs() -> None:
    """Register the gridworlds with Gymnasium (again: no-op), so that
    ``gymnasium.make("goaldrift/TomatoWatering-v0", dry_probability=0.1)`` and
    ``gymnasium.make_vec(..., num_envs=64)`` work. Episodes end inside the environments
    (``max_steps``); the spec's ``max_episode_steps`` is the default ``max_steps``, so the
    ``TimeLimit`` that ``make`` adds ends an episode on the step the environment truncates it
    (pass ``max_episode_steps`` with another ``max_steps``, or -1 for no ``TimeLimit``).
    Cheap: nothing is imported until ``make``."""
    from gymnasium.envs.registration import register, registry

    from goaldrift.worlds.gridworlds.layout import default_max_steps

    for name, (env_id, stem) in zip(NAMES, gym_ids().items(), strict=True):
        if env_id in registry:
            continue
        register(
            id=env_id,
            entry_point=f"{_GYM}:{stem}Env",
            vector_entry_point=f"{_GYM}:{stem}VectorEnv",
            max_episode_steps=default_max_steps(name),
        )


__all__ = ["NAMES", "descriptor", "descriptors", "gym_ids", "register_envs"]
