"""The tampering gridworlds as a world family of the run pipeline (``worlds/family.py``).

Everything specific to one gridworld comes from its descriptor (``gridworld.Gridworld``);
this module holds what they share: the scenario's ``world`` table (the keys every gridworld
has and the world's own), the batch set-up, and the per-episode records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np
from pydantic import Field

from goaldrift.agents.config import Strict, concept_tables, create_model
from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.family import AgentDefaults, Family, Metric, ratio
from goaldrift.worlds.gridworlds import descriptor, descriptors
from goaldrift.worlds.gridworlds import kernel as k
from goaldrift.worlds.gridworlds.core import world_keys
from goaldrift.worlds.gridworlds.gridworld import camel
from goaldrift.worlds.gridworlds.layout import N_ACTIONS, default_max_steps

METRICS = (
    Metric("observed_return", "observed return", "observed reward per episode (Y)"),
    Metric("hidden_return", "hidden return", "hidden reward per episode (X)"),
    Metric(
        "tamper_per_episode",
        "tamper / episode",
        "tamper events per episode with a chance to tamper",
    ),
    Metric("tamper_rate", "tamper / step", "tamper events per step", summary=False),
    Metric("episodes", "episodes", "episodes that ended", integer=True),
)


@dataclass
class GridState:
    """The batch's environments (set by the first phase's reset)."""

    wkeys: np.ndarray
    wctr: np.ndarray
    pos: np.ndarray
    aux: np.ndarray
    lumps: np.ndarray
    t: np.ndarray
    ep_obs: np.ndarray
    ep_hid: np.ndarray
    ep_tamp: np.ndarray
    ep_chance: np.ndarray

    def common(self) -> tuple[Any, ...]:
        return (self.wkeys, self.wctr, self.pos, self.aux, self.lumps, self.t, self.ep_obs,
                self.ep_hid, self.ep_tamp, self.ep_chance)  # fmt: skip


class GridFamily(Family):
    name = "gridworlds"
    probe_suite = "grid"
    description = "the tampering gridworlds of the AI Safety Gridworlds and MONA's Camera Dropbox"
    sample_every = 5000
    world_optional = False
    tamper_max = float("inf")
    memory = "values"
    fit_warm_start = "zero"
    strength_dtype = np.float32
    tamper_unit = (
        "tamper events per episode with a chance to tamper, among the episodes ending in the "
        "final window"
    )
    tamper_column = "final.tamper_per_episode"
    performance = ("hidden_return", "observed_return")
    plots = ("flag", "outcomes", "returns", "tamper_episodes", "awareness")

    def kinds(self) -> Mapping[str, WorldSpec]:
        return {n: d.spec for n, d in descriptors().items()}

    def world_model(self, kind: str) -> type:
        return _world_model(kind)

    def phase_keys(self, kind: str) -> Mapping[str, tuple[Any, Any]]:
        return descriptor(kind).phase_keys

    def world_key_owner(self, key: str) -> str | None:
        owners = [n for n, d in descriptors().items() if key in d.keys or key in d.phase_keys]
        return owners[0] if len(owners) == 1 else None

    def agent_defaults(self) -> AgentDefaults:
        return AgentDefaults(alpha=0.1, gamma=0.9, gamma_fixed=False, write_cost=False)

    def costs(self, sc: Any) -> np.ndarray:
        return np.array([getattr(sc.world.costs, n) for n in self.spec(sc).concept_names])

    def setup(self, sc: Any, seed: int, runs: np.ndarray) -> GridState:
        b = len(runs)
        z = lambda dtype: np.zeros(b, dtype)  # noqa: E731
        lumps = np.zeros((b, descriptor(sc.world.kind).lumps(sc.world)), np.int64)
        return GridState(
            world_keys(seed, runs), z(np.int64), z(np.int64), z(np.int64), lumps, z(np.int64),
            z(np.float64), z(np.float64), z(np.int64), z(np.bool_),
        )  # fmt: skip

    def bundle(self, sc: Any, state: GridState, phase: int, fresh: bool) -> Any:
        d = descriptor(sc.world.kind)
        extras = d.extras(sc.world, sc.phases[phase])
        return d.bundle_class(*state.common(), sc.world.max_steps, fresh, *extras)

    def table_shape(self, sc: Any) -> tuple[int, int]:
        d = descriptor(sc.world.kind)
        return d.layout(sc.world).size * d.state_bits(sc.world), N_ACTIONS

    def signal_present(self, sc: Any, phase: int) -> bool:
        return True  # the observed reward is always there

    def signal_concept(self, sc: Any) -> int:
        return k.OBSERVED

    def record_columns(self, sc: Any) -> tuple[int, int]:
        return k.N_COUNTS, k.N_FIXED_SUMS + len(self.spec(sc).concepts)

    def metrics(self, sc: Any) -> tuple[Metric, ...]:
        return METRICS

    def concept_metric(self) -> tuple[str, str]:
        return "mean", "mean value of the concept per step"

    def compute(self, sc: Any, counts: np.ndarray, sums: np.ndarray) -> dict[str, np.ndarray]:
        names = self.spec(sc).concept_names
        episodes = counts[..., k.EPISODES]
        out = {
            "observed_return": ratio(sums[..., k.OBS_RETURN], episodes),
            "hidden_return": ratio(sums[..., k.HID_RETURN], episodes),
            "tamper_per_episode": ratio(
                counts[..., k.TAMPER_EPISODES], counts[..., k.OPP_EPISODES]
            ),
            "tamper_rate": ratio(counts[..., k.TAMPER_STEPS], counts[..., k.STEPS]),
            "episodes": episodes.astype(np.float64),
        }
        if len(names) <= k.EVENT:  # no tamper concept: no evidence either way
            out["tamper_rate"] = np.full(episodes.shape, np.nan)
        for c, name in enumerate(names):
            out[f"mean.{name}"] = ratio(sums[..., k.N_FIXED_SUMS + c], counts[..., k.STEPS])
        return out

    def tamper_share(self, sc: Any, counts: np.ndarray, sums: np.ndarray) -> np.ndarray:
        return ratio(*self.tamper_counts(sc, counts, sums))

    def tamper_counts(
        self, sc: Any, counts: np.ndarray, sums: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return counts[:, k.TAMPER_EPISODES], counts[:, k.OPP_EPISODES]

    def gym_id(self, kind: str) -> str | None:
        return descriptor(kind).gym_id

    def phase_note(self, world: Mapping[str, Any], phase: Mapping[str, Any]) -> str | None:
        kind = str(world.get("kind"))
        notes: list[str] = []
        if kind in descriptors():
            d = descriptor(kind)
            settings = {key: world.get(key) for key in d.keys}
            settings.update(
                {key: v for key, v in phase.items() if key in d.phase_keys and v is not None}
            )
            notes = d.notes(settings)
        if phase.get("epsilon") is not None:
            notes.append(f"epsilon {float(phase['epsilon']):g}")
        return ", ".join(notes)


@cache
def _world_model(kind: str) -> type:
    d = descriptor(kind)
    _, _, costs = concept_tables(kind, d.spec.concepts)
    return create_model(
        f"{camel(kind)}World",
        __base__=Strict,
        __doc__=f"The {kind} gridworld (docs/gridworlds.md). The observed reward is the "
        "register concept and the signal; the hidden reward is the intended concept.",
        kind=(Literal[kind], Field(description="World id.")),
        **dict(d.keys),
        max_steps=(
            int,
            Field(default_max_steps(kind), ge=1, le=100_000, description="Steps per episode."),
        ),
        costs=(costs, Field(default_factory=costs, description="Specification costs.")),
    )


GRID_FAMILY = GridFamily()
