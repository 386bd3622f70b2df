"""Gymnasium ids of the gridworlds. Cheap to call: nothing is imported until ``make``."""

from __future__ import annotations

_MODULE = "goaldrift.worlds.gridworlds.gym"

GYM_IDS: dict[str, str] = {
    "goaldrift/TomatoWatering-v0": "TomatoWatering",
    "goaldrift/AbsentSupervisor-v0": "AbsentSupervisor",
    "goaldrift/RocksDiamonds-v0": "RocksDiamonds",
    "goaldrift/BoatRace-v0": "BoatRace",
}


def register_envs() -> None:
    """Register the four environments with Gymnasium (again: no-op), so that
    ``gymnasium.make("goaldrift/TomatoWatering-v0", dry_probability=0.1)`` and
    ``gymnasium.make_vec(..., num_envs=64)`` work. Episodes end inside the environments
    (``max_steps``), so no ``TimeLimit`` wrapper is registered."""
    from gymnasium.envs.registration import register, registry

    for env_id, stem in GYM_IDS.items():
        if env_id in registry:
            continue
        register(
            id=env_id,
            entry_point=f"{_MODULE}:{stem}Env",
            vector_entry_point=f"{_MODULE}:{stem}VectorEnv",
        )
