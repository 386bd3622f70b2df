"""The scenario model: one experiment (a world, an agent, phases and recording settings),
built per ``world.kind`` from its family's pieces (``worlds/family.py``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import Field, model_validator

from goaldrift import plugins
from goaldrift.agents.config import Strict, agent_model, create_model
from goaldrift.agents.variants import variants


class Outcome(Strict):
    """How the final outcome class is decided (docs/model.md, "Outcome")."""

    margin: float = Field(
        0.01,
        ge=0,
        lt=0.5,
        description="The top known concept carries the flag only with a share of the total "
        "absolute weight of known concepts above 0.5 + margin; otherwise the flag class is "
        "mixed.",
    )
    window: int = Field(
        5000,
        ge=1,
        description="The final window (steps) over which tampering is judged against the "
        "matched control; samples ending in it count. No chance to tamper there means no "
        "evidence of tampering.",
    )


class Scenario(Strict):
    """One experiment: a world, an agent, phases and recording settings."""

    name: str = Field(min_length=1, pattern=r"\S", description="Scenario name.")
    description: str = Field("", description="What the scenario probes.")
    claim: str = Field("", description="The seed's claim it probes, quoted.")
    seed: int = Field(
        0, ge=0, lt=2**63, description="Scenario seed; run i uses SeedSequence(seed)[i]."
    )
    runs: int = Field(64, ge=1, le=10**7, description="Default number of runs.")
    sample_every: int = Field(500, ge=1, le=10**9, description="Steps per series sample.")
    world: Any = Field(description="The world; `world.kind` chooses it (and its family).")
    agent: Any = Field(description="The agent.")
    phases: list[Any] = Field(min_length=1, description="The phases, in order.")
    outcome: Outcome = Field(default_factory=Outcome, description="Outcome classification.")

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.phases)


class Phase(Strict):
    """A stretch of steps with its own settings and learning switches. (On a gridworld every
    environment starts a new episode when a phase starts.)"""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$", description="Phase name.")
    steps: int = Field(ge=1, le=10**9, description="Length in steps.")


SWITCHES = ("learn_world", "learn_relations", "learn_flag")  # per-phase learning switches
PHASE_AGENT_KEYS: dict[str, Any] = {
    "epsilon": (float | None, Field(None, ge=0, le=1, description="Override `agent.epsilon`.")),
    "learn_world": (
        bool,
        Field(True, description="Successor features (or Q-learning's table) learn."),
    ),
    "learn_relations": (bool, Field(True, description="Relations are updated from memory.")),
    "learn_flag": (bool, Field(True, description="The flag rule may move the flag.")),
}


def scenario_model(kind: str) -> type[Scenario]:
    """The scenario model of ``world.kind`` ``kind`` (rebuilt when a world family or an agent
    kind is added at run time: its choices change)."""
    return _scenario_model(kind, plugins.generation())


@cache
def _scenario_model(kind: str, generation: int) -> type[Scenario]:
    from goaldrift.registry import family

    fam = family(kind)
    spec = fam.kinds()[kind]
    stem = "".join(p.title() for p in kind.split("_"))
    phase = create_model(
        f"{stem}Phase", __base__=Phase, **dict(fam.phase_keys(kind)), **PHASE_AGENT_KEYS
    )
    kinds = tuple(v for v in variants().values() if fam.name in v.families)
    agent = agent_model(kind, spec.concepts, fam.agent_defaults(), kinds)
    by_name = {v.name: v for v in kinds}
    world = fam.world_model(kind)
    outcome = create_model(
        f"{stem}Outcome",
        __base__=Outcome,
        __doc__=f"How the verdicts are decided (docs/model.md §5). Tampering counts "
        f"{fam.tamper_unit}, judged against the matched control.",
    )

    def check(self: Any) -> Any:
        requires = by_name[self.agent.kind].requires
        why = requires(spec) if requires is not None else None
        if why is not None:
            raise ValueError(
                f"agent.kind|an agent kind that suits {spec.id} ({why})|{self.agent.kind}"
            )
        refuse = by_name[self.agent.kind].refuse
        no_op = refuse(self.agent, spec) if refuse is not None else None
        if no_op is not None:
            key, expected, got = no_op
            raise ValueError(f"agent.{key}|{expected}|{got}")
        seen: set[str] = set()
        for i, p in enumerate(self.phases):
            if p.name in seen:
                raise ValueError(f"phases.{i}.name|a name no other phase has|{p.name}")
            seen.add(p.name)
            for key in p.model_fields_set:
                owner = fam.world_key_owner(key)
                if owner is not None and owner != kind:
                    raise ValueError(
                        f"phases.{i}.{key}|left out when world.kind is '{kind}' (it applies "
                        f"to '{owner}')|{getattr(p, key)}"
                    )
            switches = by_name[self.agent.kind].switches
            for key in SWITCHES:
                if key in p.model_fields_set and key not in switches:
                    raise ValueError(
                        f"phases.{i}.{key}|left out when agent.kind is '{self.agent.kind}' "
                        f"(its learning switches are {', '.join(switches)})|{getattr(p, key)}"
                    )
        return self

    return create_model(
        f"{stem}Scenario",
        __base__=Scenario,
        __doc__=f"One experiment on {kind}: the world, an agent, phases and recording.",
        __validators__={"_consistent": model_validator(mode="after")(check)},
        sample_every=(
            int,
            Field(fam.sample_every, ge=1, le=10**9, description="Steps per series sample."),
        ),
        world=(
            world,
            Field(default_factory=world, description="The world (`world.kind` selects it).")
            if fam.world_optional
            else Field(description="The world (`world.kind` selects it)."),
        ),
        agent=(agent, Field(default_factory=agent, description="The agent.")),
        phases=(list[phase], Field(min_length=1, description="The phases, in order.")),  # type: ignore[valid-type]
        outcome=(outcome, Field(default_factory=outcome, description="Outcome classification.")),
    )
