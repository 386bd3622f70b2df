"""What every world declares: its concepts (docs/model.md §2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["intended", "register", "proxy", "other"]
ROLES: tuple[Role, ...] = ("intended", "register", "proxy", "other")


@dataclass(frozen=True)
class Concept:
    """A named quantity of the world that an agent may model.

    ``cost`` is the default specification cost: how complex the concept is to specify
    (quantities read off the input are cheap, quantities of a self-model are dear).
    """

    name: str
    description: str
    role: Role
    cost: float


@dataclass(frozen=True)
class WorldSpec:
    """A registered world: a versioned id, one line of description and its concepts.

    ``reward_settings``: how many settings of its reward function the agent can switch
    between, which the world reports per step (``hooks.world_reward_setting``; 0: none)."""

    id: str
    description: str
    concepts: tuple[Concept, ...]
    reward_settings: int = 0

    @property
    def concept_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.concepts)

    def index(self, name: str) -> int:
        return self.concept_names.index(name)
