"""The worlds: Register QA (``qa``) and the tampering gridworlds (``gridworlds``).

``register_envs()`` registers every Gymnasium id: the gridworlds' ``goaldrift/<World>-v0``
and Register QA's ``goaldrift/RegisterQA-v0`` (``QA_GYM_ID``). Importing this package is cheap.
"""

from __future__ import annotations

QA_GYM_ID = "goaldrift/RegisterQA-v0"
QA_EPISODE_STEPS = 100  # RegisterQA-v0's default episode_steps (qa.gym.EPISODE_STEPS; a test)


def register_envs() -> None:
    """Register every goaldrift world with Gymnasium (again: no-op), so that
    ``gymnasium.make("goaldrift/RegisterQA-v0", access=0.5)`` and ``gymnasium.make_vec(...,
    num_envs=64)`` work. Episodes end inside the environments; each spec's
    ``max_episode_steps`` is the default episode length, so the ``TimeLimit`` that ``make``
    adds truncates on the step the environment does. Cheap: nothing is imported until
    ``make``."""
    from gymnasium.envs.registration import register, registry

    from goaldrift.worlds.gridworlds import register_envs as register_gridworlds

    register_gridworlds()
    if QA_GYM_ID not in registry:
        register(
            id=QA_GYM_ID,
            entry_point="goaldrift.worlds.qa.gym:RegisterQAEnv",
            vector_entry_point="goaldrift.worlds.qa.gym:RegisterQAVectorEnv",
            max_episode_steps=QA_EPISODE_STEPS,
        )


__all__ = ["QA_GYM_ID", "register_envs"]
