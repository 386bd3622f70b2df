"""The ``agent`` table of a scenario file: awareness schedules, flag-rule knobs, and the agent
models, built per world from its concepts (so that a world with other concepts needs no edit).

Every field carries a description: ``goaldrift schema`` and docs/scenario-reference.md are
generated from these models.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import create_model as _create_model

from goaldrift.agents.flag_rules import FLAG_RULES, SPLIT_POLICIES, RuleKnobs
from goaldrift.agents.variants import Variant
from goaldrift.worlds.base import Concept
from goaldrift.worlds.family import AgentDefaults


def create_model(name: str, **kwargs: Any) -> Any:
    """``pydantic.create_model``, untyped: the models goaldrift builds from a world's concepts
    and a family's keys are known only at run time."""
    return _create_model(name, **kwargs)


class Strict(BaseModel):
    """A table that refuses unknown keys and is immutable once validated. Strict: a boolean is
    not a number, nor a number or string a boolean; NaN and infinities are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Start(Strict):
    schedule: Literal["start"] = Field(description="Aware from the first step.")


class AtStep(Strict):
    schedule: Literal["step"] = Field(description="Aware from a given step on.")
    at: int = Field(
        ge=0, lt=2**62, description="The step at which the concept enters the ontology."
    )


class Hazard(Strict):
    schedule: Literal["hazard"] = Field(description="Aware at a constant hazard per step.")
    rate: float = Field(gt=0, le=1, description="Probability per step of becoming aware.")


class AfterCompute(Strict):
    schedule: Literal["compute"] = Field(
        description="Aware once enough training compute (supervised learning steps) is spent."
    )
    compute: int = Field(ge=0, lt=2**62, description="Training steps needed.")


class Never(Strict):
    schedule: Literal["never"] = Field(description="Never aware.")


Schedule = Annotated[
    Start | AtStep | Hazard | AfterCompute | Never, Field(discriminator="schedule")
]
SCHEDULE_TAGS = ("start", "step", "hazard", "compute", "never")


class Regression(Strict):
    """`regression`: the flag follows a cost-weighted lasso fit of the signal on known concepts."""

    l1: float = Field(0.06, ge=0, description="L1 strength; concept c pays l1 * cost_c.")
    half_compute: int = Field(
        20000,
        ge=0,
        description="Training compute at which the L1 penalty has halved: it scales as "
        "1 / (1 + compute / half_compute), a fixed prior outweighed by growing evidence "
        "(MacKay 1992). 0 keeps it constant.",
    )
    fit_every: int = Field(200, ge=1, description="Steps between refits.")
    min_samples: int = Field(100, ge=2, description="Signal samples in memory needed to fit.")
    rate: float = Field(
        1.0, gt=0, le=1, description="Share of the way the flag moves to the fit per refit."
    )


class Association(Strict):
    """`association`: weight flows along noticed relations."""

    rate: float = Field(
        0.001, gt=0, le=0.5, description="Flow per step, multiplied by the relation's strength."
    )
    one_way: bool = Field(
        False, description="Flow only toward the newer concept until it holds all (transfer)."
    )


class Merge(Strict):
    """`merge`: agreeing concepts fuse into one flagged node and split when they disagree."""

    merge_threshold: float = Field(0.99, gt=0, le=1, description="Agreement that fuses.")
    split_threshold: float = Field(0.9, ge=0, le=1, description="Agreement below which it splits.")
    split: Literal["original", "even", "controllable", "predictive"] = Field(
        "original", description="Where the node's weight goes at a split."
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> Merge:
        if self.split_threshold >= self.merge_threshold:
            raise ValueError(
                f"split_threshold|below merge_threshold ({self.merge_threshold})"
                f"|{self.split_threshold}"
            )
        return self


assert tuple(Merge.model_fields["split"].annotation.__args__) == SPLIT_POLICIES  # type: ignore[union-attr]


def _default_schedule(c: Concept) -> Start | Never:
    """Aware from the start of the concepts read off the input (intended and proxy); never
    of the register and the rest, unless the scenario says so."""
    return Start(schedule="start") if c.role in ("intended", "proxy") else Never(schedule="never")


def _role_text(c: Concept) -> str:
    return {"intended": "X, intended", "register": "Y, register"}.get(c.role, c.role)


FLOAT32_KNOB = 1e6
"""The largest magnitude of a knob the kernel holds as float32 (flag weights, action costs,
penalties): far beyond any meaningful setting, and far from float32's overflow (3.4e38),
which would turn a bigger value into an infinity without a word."""


@cache
def concept_tables(world: str, concepts: tuple[Concept, ...]) -> tuple[type, type, type]:
    """The (flag, awareness, costs) tables of a world's concepts: one key per concept."""
    flag: dict[str, Any] = {}
    aware: dict[str, Any] = {}
    costs: dict[str, Any] = {}
    for c in concepts:
        what = f"{c.name} ({_role_text(c)})"
        flag[c.name] = (
            float,
            Field(
                1.0 if c.role == "intended" else 0.0,
                ge=-FLOAT32_KNOB,
                le=FLOAT32_KNOB,
                allow_inf_nan=False,
                description=f"Initial weight on {what}.",
            ),
        )
        aware[c.name] = (
            Schedule,
            Field(
                default_factory=lambda c=c: _default_schedule(c), description=f"Schedule of {what}."
            ),
        )
        costs[c.name] = (
            float,
            Field(c.cost, ge=0, allow_inf_nan=False, description=f"Cost of {what}."),
        )
    stem = "".join(p.title() for p in world.split("_"))
    return (
        create_model(
            f"{stem}Flag", __base__=Strict, __doc__="Initial goal-flag weight per concept.", **flag
        ),
        create_model(
            f"{stem}Awareness",
            __base__=Strict,
            __doc__="When each concept enters the agent's ontology.",
            **aware,
        ),
        create_model(
            f"{stem}Costs",
            __base__=Strict,
            __doc__="Specification cost per concept: the weight of its L1 penalty under "
            "`regression`.",
            **costs,
        ),
    )


INITS = ("zero", "optimistic")
"""``agent.init``: how the value tables start (``initial_value``)."""


def initial_value(agent: Any, defaults: AgentDefaults) -> float:
    """The value every entry of the agent's value tables starts at: 0, or (``optimistic``)
    the largest discounted sum of a concept's per-step values, value_max / (1 - gamma)."""
    if agent.init == "zero":
        return 0.0
    assert defaults.value_max is not None  # the agent model refuses it otherwise
    return float(defaults.value_max / (1.0 - agent.gamma))


RULE_TABLES = ("regression", "association", "merge")
"""The ``agent`` tables that hold flag-rule knobs (the report shows only the active rule's)."""


def rule_knobs(agent: Any, rule: str, costs: np.ndarray) -> RuleKnobs:
    """The kernel's flag-rule knobs from the ``agent`` table (``costs``: the specification
    cost per concept, which weights regression's L1 penalty)."""
    reg, assoc, merge = agent.regression, agent.association, agent.merge
    return RuleKnobs(
        FLAG_RULES.index(rule), reg.l1 * costs, reg.half_compute, reg.fit_every,
        reg.min_samples, reg.rate, assoc.rate, assoc.one_way, merge.merge_threshold,
        merge.split_threshold, SPLIT_POLICIES.index(merge.split),
    )  # fmt: skip


@cache
def agent_model(
    world: str, concepts: tuple[Concept, ...], defaults: AgentDefaults, kinds: tuple[Variant, ...]
) -> type[BaseModel]:
    """The ``agent`` table for a world with these concepts: the flagged world-model agent
    (docs/model.md §3) or another agent kind (``agents/variants.py``), with each kind's own
    table of options."""
    flag_t, aware_t, _ = concept_tables(world, concepts)
    names = tuple(v.name for v in kinds)
    fields: dict[str, Any] = {
        "kind": (
            Literal[names],
            Field(
                "flagged",
                description="The agent: "
                + "; ".join(f"`{k}`" for k in names)
                + " (``goaldrift list`` says what each is).",
            ),
        ),
        "flag_rule": (
            Literal[FLAG_RULES],
            Field("anchored", description="How the flag changes."),
        ),
        "flag": (flag_t, Field(default_factory=flag_t, description="Initial flag weights.")),
        "epsilon": (float, Field(0.1, ge=0, le=1, description="Exploration: random action share.")),
        "alpha": (
            float,
            Field(defaults.alpha, gt=0, le=1, description="TD step (successor features or Q)."),
        ),
        "gamma": (
            float,
            Field(
                defaults.gamma,
                ge=0,
                lt=1,
                description="Discount of the successor features"
                + (
                    "; this is a one-step world, so it must be 0."
                    if defaults.gamma_fixed
                    else " per step."
                ),
            ),
        ),
        "init": (
            Literal[INITS],
            Field(
                "zero",
                description="Initial value of the value tables (successor features, or "
                "Q-learning's table): `zero`, or `optimistic`: value_max / (1 - gamma) for every "
                "concept, so that every action looks best until it is tried"
                + (
                    f" (value_max = {defaults.value_max:g}, the largest per-step value of a "
                    "concept here)."
                    if defaults.value_max is not None
                    else "; this world defines no largest per-step value, so it takes only `zero`."
                ),
            ),
        ),
    }
    if defaults.write_cost:
        fields["write_cost"] = (
            float,
            Field(
                0.1,
                ge=0,
                le=FLOAT32_KNOB,
                allow_inf_nan=False,
                description="Action cost of writing the register.",
            ),
        )
    fields.update(
        memory=(int, Field(1000, ge=10, le=1_000_000, description="Replay memory size (steps).")),
        relation_every=(int, Field(50, ge=1, description="Steps between relation updates.")),
        n_min=(
            int,
            Field(
                200, ge=1, description="Evidence (co-defined remembered steps) to judge a relation."
            ),
        ),
        tau=(
            float,
            Field(
                0.95,
                gt=0,
                le=1,
                description="Agreement (share of remembered steps on which "
                "two concepts have equal values) at which a relation is noticed.",
            ),
        ),
        awareness=(aware_t, Field(default_factory=aware_t, description="Awareness schedules.")),
        regression=(
            Regression,
            Field(
                default_factory=Regression,
                description="Regression knobs (concepts standardised on real-valued "
                "worlds; see docs/model.md).",
            ),
        ),
        association=(
            Association,
            Field(default_factory=Association, description="Association knobs."),
        ),
        merge=(Merge, Field(default_factory=Merge, description="Merge knobs.")),
    )
    own: set[str] = set()
    for v in kinds:
        options = v.options
        if options is not None:
            own.add(v.name)
            fields[v.name] = (
                options,
                Field(default_factory=options, description=f'Knobs of `kind = "{v.name}"`.'),
            )
    by_name = {v.name: v for v in kinds}

    def check(self: Any) -> Any:
        if defaults.gamma_fixed and self.gamma != 0:
            raise ValueError(f"gamma|0 for world.kind '{world}' (a one-step world)|{self.gamma}")
        if self.init == "optimistic" and defaults.value_max is None:
            raise ValueError(
                f"init|'zero' for world.kind '{world}' (optimistic needs the largest per-step "
                "value of a concept, which this world does not define)|optimistic"
            )
        takes = by_name[self.kind].keys
        for key in type(self).model_fields:  # in declaration order: the first wrong key
            if key == "kind" or key not in self.model_fields_set:
                continue
            if key in own and key != self.kind:
                raise ValueError(
                    f"{key}|left out when agent.kind is '{self.kind}' (it applies to '{key}')|-"
                )
            if takes is not None and key not in own and key not in takes:
                raise ValueError(
                    f"{key}|left out when agent.kind is '{self.kind}' (it takes "
                    f"{', '.join(takes)})|-"
                )
        return self

    stem = "".join(p.title() for p in world.split("_"))
    return create_model(
        f"{stem}Agent",
        __base__=Strict,
        __doc__="The agent: the flagged world-model agent (docs/model.md §3) or another kind; "
        + "; ".join(
            f'`kind = "{v.name}"` takes only {", ".join(v.keys)}'
            for v in kinds
            if v.keys is not None
        )
        + ".",
        __validators__={"_check": model_validator(mode="after")(check)},
        **fields,
    )


def concept_names(concepts: Sequence[Concept]) -> tuple[str, ...]:
    return tuple(c.name for c in concepts)
