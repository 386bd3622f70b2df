"""Gymnasium ids of the gridworlds, derived from their names. Cheap to call: nothing is
imported until ``make``."""

from __future__ import annotations

_MODULE = "goaldrift.worlds.gridworlds.gym"


def gym_ids() -> dict[str, str]:
    """Gymnasium id -> the stem of its classes in ``gym`` (``<Stem>Env``, ``<Stem>VectorEnv``)."""
    from goaldrift.worlds.gridworlds import NAMES
    from goaldrift.worlds.gridworlds.gridworld import camel

    return {f"goaldrift/{camel(n)}-v0": camel(n) for n in NAMES}


def register_envs() -> None:
    """Register the gridworlds with Gymnasium (again: no-op), so that
    ``gymnasium.make("goaldrift/TomatoWatering-v0", dry_probability=0.1)`` and
    ``gymnasium.make_vec(..., num_envs=64)`` work. Episodes end inside the environments
    (``max_steps``), so no ``TimeLimit`` wrapper is registered."""
    from gymnasium.envs.registration import register, registry

    for env_id, stem in gym_ids().items():
        if env_id in registry:
            continue
        register(
            id=env_id,
            entry_point=f"{_MODULE}:{stem}Env",
            vector_entry_point=f"{_MODULE}:{stem}VectorEnv",
        )
