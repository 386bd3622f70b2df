"""Tampering gridworlds: exact, batched ports of four AI Safety Gridworlds environments
(Leike et al. 2017): ``tomato_watering``, ``absent_supervisor``, ``rocks_diamonds`` and
``boat_race``, with the dynamics of ``gridworlds/SPEC.md``.

- ``core``, and one module per world: batched numba kernels (``TomatoWateringBatch``, ...)
  and a plain-Python single environment (``TomatoWateringGame``, ...) with the same rules;
- ``gym``: Gymnasium environments and native vector environments;
- ``concepts``: each world's ``WorldSpec`` (hidden reward = intended, observed = register,
  and the tamper event);
- ``register_envs()``: the Gymnasium ids ``goaldrift/TomatoWatering-v0`` and so on.

Importing this package is cheap: numba and Gymnasium load with the modules that need them.
"""

from goaldrift.worlds.gridworlds.concepts import (
    ABSENT_SUPERVISOR,
    BOAT_RACE,
    ROCKS_DIAMONDS,
    TOMATO_WATERING,
    WORLDS,
)
from goaldrift.worlds.gridworlds.registration import GYM_IDS, register_envs

__all__ = [
    "ABSENT_SUPERVISOR",
    "BOAT_RACE",
    "GYM_IDS",
    "ROCKS_DIAMONDS",
    "TOMATO_WATERING",
    "WORLDS",
    "register_envs",
]
