"""What a tampering gridworld declares, in one place: the descriptor every gridworld module
exports as ``DESCRIPTOR``. Every list of kinds, Gymnasium ids, scenario keys and concepts in
goaldrift is derived from the descriptors (``gridworlds.descriptors()``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.gridworlds.layout import Layout


def camel(name: str) -> str:
    """``tomato_watering`` -> ``TomatoWatering``."""
    return "".join(p.title() for p in name.split("_"))


@dataclass(frozen=True)
class Gridworld:
    """One tampering gridworld as the run pipeline, the scenario files and Gymnasium see it.

    ``bundle_class`` is its run-kernel bundle (``kernel.grid_world_bundle``: the fields every
    gridworld has, then its own), and ``extras(world, phase)`` gives the values of its own
    fields for a scenario's world table and a phase. ``keys`` are its own ``world`` keys and
    ``phase_keys`` those a phase may override (name -> (annotation, pydantic Field)); its
    Gymnasium environment takes ``gym_kwargs``.
    """

    name: str
    spec: WorldSpec
    bundle_class: type
    layout: Callable[[Any], Layout]  # its board, for a world table
    state_bits: Callable[[Any], int]  # the agent's table states per board cell
    extras: Callable[[Any, Any], tuple[Any, ...]]
    keys: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    phase_keys: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    lumps: Callable[[Any], int] = lambda world: 1  # movable objects (rocks_diamonds)
    notes: Callable[[Mapping[str, Any]], list[str]] = lambda settings: []  # plot notes
    gym_kwargs: tuple[str, ...] = ("max_steps",)
    # world settings under which its probes run (where hidden and observed reward can differ)
    probe_world: Mapping[str, Any] = field(default_factory=dict)

    @property
    def gym_id(self) -> str:
        return f"goaldrift/{camel(self.name)}-v0"
