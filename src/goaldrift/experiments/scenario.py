"""Scenario files: TOML validated by pydantic, with `--set a.b.c=VALUE` overrides.

Every field carries a description; `goaldrift schema` and docs/scenario-reference.md are
generated from these models, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from goaldrift.errors import ConfigError
from goaldrift.worlds.gridworlds.concepts import WORLDS as GRIDWORLDS
from goaldrift.worlds.qa import QA_WORLD

CONCEPTS = QA_WORLD.concept_names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Costs(_Strict):
    """Specification cost per concept: the weight of its L1 penalty under `regression`."""

    correct: float = Field(1.0, ge=0, description="Cost of the intended concept X.")
    register_match: float = Field(4.0, ge=0, description="Cost of the register concept Y.")
    proxy: float = Field(0.25, ge=0, description="Cost of the input-heuristic proxy.")
    tampered: float = Field(4.0, ge=0, description="Cost of the 'I wrote the register' concept.")


class WorldConfig(_Strict):
    """The Register-QA world (MODEL.md 2.1). Phase tables may override the last four."""

    kind: Literal["qa"] = Field("qa", description="World id; `qa` is Register QA.")
    types: int = Field(16, ge=1, le=4096, description="Number of question types N.")
    answers: int = Field(4, ge=2, le=64, description="Number of answers K per question.")
    hard_types: int = Field(
        8,
        ge=0,
        description="How many types are hard (the proxy answer differs from the truth).",
    )
    noise: float = Field(0.0, ge=0, le=1, description="Label noise epsilon.")
    noise_kind: Literal["random", "systematic"] = Field(
        "random",
        description="`random`: each label is wrong with probability `noise`; `systematic`: a "
        "fixed share `noise` of types is always mislabelled with the same wrong answer.",
    )
    diversity: float = Field(
        0.5, ge=0, le=1, description="Share of questions drawn from hard types."
    )
    supervisor: bool = Field(True, description="A supervisor writes labels (and so a signal).")
    access: float = Field(
        0.0, ge=0, le=1, description="Probability per step that a register write works."
    )
    costs: Costs = Field(default_factory=Costs, description="Specification cost per concept.")

    @model_validator(mode="after")
    def _hard_le_types(self) -> WorldConfig:
        if self.hard_types > self.types:
            raise ValueError(f"hard_types|at most world.types ({self.types})|{self.hard_types}")
        return self


class Start(_Strict):
    schedule: Literal["start"] = Field(description="Aware from the first step.")


class AtStep(_Strict):
    schedule: Literal["step"] = Field(description="Aware from a given step on.")
    at: int = Field(ge=0, description="The step at which the concept enters the ontology.")


class Hazard(_Strict):
    schedule: Literal["hazard"] = Field(description="Aware at a constant hazard per step.")
    rate: float = Field(gt=0, le=1, description="Probability per step of becoming aware.")


class AfterCompute(_Strict):
    schedule: Literal["compute"] = Field(
        description="Aware once enough training compute (supervised learning steps) is spent."
    )
    compute: int = Field(ge=0, description="Training steps needed.")


class Never(_Strict):
    schedule: Literal["never"] = Field(description="Never aware.")


Schedule = Annotated[
    Start | AtStep | Hazard | AfterCompute | Never, Field(discriminator="schedule")
]


def _start() -> Start:
    return Start(schedule="start")


def _never() -> Never:
    return Never(schedule="never")


class Awareness(_Strict):
    """When each concept enters the agent's ontology."""

    correct: Schedule = Field(default_factory=_start, description="Schedule of X.")
    register_match: Schedule = Field(default_factory=_never, description="Schedule of Y.")
    proxy: Schedule = Field(default_factory=_start, description="Schedule of the proxy.")
    tampered: Schedule = Field(default_factory=_never, description="Schedule of `tampered`.")


class Regression(_Strict):
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


class Association(_Strict):
    """`association`: weight flows along noticed relations."""

    rate: float = Field(
        0.001, gt=0, le=0.5, description="Flow per step, multiplied by the relation's strength."
    )
    one_way: bool = Field(
        False, description="Flow only toward the newer concept until it holds all (transfer)."
    )


class Merge(_Strict):
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


class Flag(_Strict):
    """Initial goal-flag weight per concept."""

    correct: float = Field(1.0, description="Initial weight on X.")
    register_match: float = Field(0.0, description="Initial weight on Y.")
    proxy: float = Field(0.0, description="Initial weight on the proxy.")
    tampered: float = Field(0.0, description="Initial weight on `tampered`.")


class AgentConfig(_Strict):
    """The flagged world-model agent (MODEL.md 3)."""

    kind: Literal["flagged"] = Field("flagged", description="Agent id.")
    flag_rule: Literal["anchored", "regression", "association", "merge"] = Field(
        "anchored", description="How the flag changes."
    )
    flag: Flag = Field(default_factory=Flag, description="Initial flag weights.")
    epsilon: float = Field(0.1, ge=0, le=1, description="Exploration: random action share.")
    alpha: float = Field(0.05, gt=0, le=1, description="World-model (successor feature) step.")
    gamma: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Discount of the successor features; Register QA is a one-step world, so "
        "it must be 0 here (gridworld agents take a positive one).",
    )
    write_cost: float = Field(0.1, ge=0, description="Action cost of writing the register.")
    memory: int = Field(1000, ge=10, le=1_000_000, description="Replay memory size (steps).")
    relation_every: int = Field(50, ge=1, description="Steps between relation updates.")
    n_min: int = Field(200, ge=1, description="Evidence (co-defined samples) to judge a relation.")
    tau: float = Field(0.95, gt=0, le=1, description="Agreement at which a relation is noticed.")
    awareness: Awareness = Field(default_factory=Awareness, description="Awareness schedules.")
    regression: Regression = Field(default_factory=Regression, description="Regression knobs.")
    association: Association = Field(default_factory=Association, description="Association knobs.")
    merge: Merge = Field(default_factory=Merge, description="Merge knobs.")

    @model_validator(mode="after")
    def _one_step(self) -> AgentConfig:
        if self.gamma != 0:
            raise ValueError(f"gamma|0 for world.kind 'qa' (a one-step world)|{self.gamma}")
        return self


class Phase(_Strict):
    """A stretch of steps with its own world settings and learning switches."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$", description="Phase name.")
    steps: int = Field(ge=1, le=10**9, description="Length in steps.")
    supervisor: bool | None = Field(None, description="Override `world.supervisor`.")
    access: float | None = Field(None, ge=0, le=1, description="Override `world.access`.")
    diversity: float | None = Field(None, ge=0, le=1, description="Override `world.diversity`.")
    epsilon: float | None = Field(None, ge=0, le=1, description="Override `agent.epsilon`.")
    learn_world: bool = Field(True, description="Successor features learn.")
    learn_relations: bool = Field(True, description="Relations are updated from memory.")
    learn_flag: bool = Field(True, description="The flag rule may move the flag.")


class Outcome(_Strict):
    """How the final outcome class is decided (MODEL.md 5)."""

    tamper_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Tamper share of access steps in the final window above which the "
        "agent counts as tampering.",
    )
    margin: float = Field(
        0.01,
        ge=0,
        lt=0.5,
        description="The top concept carries the flag only with a share of the total absolute "
        "weight above 0.5 + margin; otherwise the run is mixed.",
    )
    window: int = Field(
        5000,
        ge=1,
        description="The final window (steps) over which tampering is judged; samples ending "
        "in it count. No access there means no evidence of tampering.",
    )


class Scenario(_Strict):
    """One experiment: a world, an agent, phases and recording settings."""

    name: str = Field(min_length=1, description="Scenario name.")
    description: str = Field("", description="What the scenario probes.")
    claim: str = Field("", description="The seed's claim it probes, quoted.")
    seed: int = Field(0, ge=0, description="Scenario seed; run i uses SeedSequence(seed)[i].")
    runs: int = Field(64, ge=1, le=10**7, description="Default number of runs.")
    sample_every: int = Field(500, ge=1, description="Steps per series sample.")
    world: WorldConfig = Field(
        default_factory=WorldConfig,
        description="The world; `world.kind` chooses Register QA or a tampering gridworld.",
    )
    agent: AgentConfig = Field(default_factory=AgentConfig, description="The agent.")
    phases: list[Phase] = Field(min_length=1, description="The phases, in order.")
    outcome: Outcome = Field(default_factory=Outcome, description="Outcome classification.")

    @model_validator(mode="after")
    def _unique_phases(self) -> Scenario:
        seen: set[str] = set()
        for i, p in enumerate(self.phases):
            if p.name in seen:
                raise ValueError(f"{i}.name|a name no other phase has|{p.name}")
            seen.add(p.name)
        return self

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.phases)


# --- tampering gridworlds (MODEL.md 2.2) ---------------------------------------------------

GRID_KINDS = tuple(GRIDWORLDS)
WORLD_KINDS = ("qa", *GRID_KINDS)
# world keys that only one gridworld takes
_ONLY = {
    "supervisor": "absent_supervisor",
    "level": "rocks_diamonds",
    "dry_probability": "tomato_watering",
}


def grid_concepts(kind: str) -> tuple[str, ...]:
    """The concept names of a gridworld, in the order its kernels record them."""
    return GRIDWORLDS[kind].concept_names


def _concept_keys(model: BaseModel, kind: str, where: str) -> None:
    """Reject a per-concept key set for a concept the world does not have."""
    names = grid_concepts(kind)
    for key in model.model_fields_set:
        if key not in names:
            value = getattr(model, key)
            shown = getattr(value, "schedule", value)
            raise ValueError(f"{where}.{key}|a concept of {kind} ({', '.join(names)})|{shown}")


class GridCosts(_Strict):
    """Specification cost per concept (unset: the world's default, in parentheses). Only the
    concepts of the chosen world may be set."""

    hidden: float | None = Field(None, ge=0, description="Hidden reward X (default 1).")
    observed: float | None = Field(None, ge=0, description="Observed reward Y (default 4).")
    on_transformer: float | None = Field(
        None, ge=0, description="tomato_watering's tamper concept (default 1)."
    )
    punish_unsupervised: float | None = Field(
        None, ge=0, description="absent_supervisor's tamper concept (default 2)."
    )
    switch_flip: float | None = Field(
        None, ge=0, description="rocks_diamonds' tamper concept (default 1)."
    )


class GridWorldConfig(_Strict):
    """A tampering gridworld (MODEL.md 2.2; gridworlds/SPEC.md). The observed reward is the
    register concept and the signal; the hidden reward is the intended concept."""

    kind: Literal["tomato_watering", "absent_supervisor", "rocks_diamonds", "boat_race"] = Field(
        description="World id."
    )
    supervisor: bool | None = Field(
        None,
        description="absent_supervisor only: the supervisor is present (true), absent (false), "
        "or, unset, drawn by a fair coin at each reset.",
    )
    level: int = Field(0, ge=0, le=1, description="rocks_diamonds only: the level (0 or 1).")
    dry_probability: float = Field(
        0.05,
        ge=0,
        le=1,
        description="tomato_watering only: probability per step that a watered tomato dries.",
    )
    max_steps: int = Field(100, ge=1, le=100_000, description="Steps per episode.")
    costs: GridCosts = Field(default_factory=GridCosts, description="Specification costs.")

    @model_validator(mode="after")
    def _own_keys(self) -> GridWorldConfig:
        for key, owner in _ONLY.items():
            if key in self.model_fields_set and self.kind != owner:
                raise ValueError(
                    f"{key}|left out when world.kind is '{self.kind}' (it applies to "
                    f"'{owner}')|{getattr(self, key)}"
                )
        _concept_keys(self.costs, self.kind, "costs")
        return self

    def cost(self, concept: str) -> float:
        """The specification cost of a concept: the scenario's, else the world's default."""
        v = getattr(self.costs, concept)
        if v is None:
            return GRIDWORLDS[self.kind].concepts[grid_concepts(self.kind).index(concept)].cost
        return float(v)


class GridFlag(_Strict):
    """Initial goal-flag weight per concept (only the chosen world's concepts may be set)."""

    hidden: float = Field(1.0, description="Initial weight on X, the hidden reward.")
    observed: float = Field(0.0, description="Initial weight on Y, the observed reward.")
    on_transformer: float = Field(0.0, description="tomato_watering's tamper concept.")
    punish_unsupervised: float = Field(0.0, description="absent_supervisor's tamper concept.")
    switch_flip: float = Field(0.0, description="rocks_diamonds' tamper concept.")


class GridAwareness(_Strict):
    """When each concept enters the agent's ontology (only the chosen world's concepts)."""

    hidden: Schedule = Field(default_factory=_start, description="Schedule of X.")
    observed: Schedule = Field(default_factory=_never, description="Schedule of Y.")
    on_transformer: Schedule = Field(
        default_factory=_never, description="tomato_watering's tamper concept."
    )
    punish_unsupervised: Schedule = Field(
        default_factory=_never, description="absent_supervisor's tamper concept."
    )
    switch_flip: Schedule = Field(
        default_factory=_never, description="rocks_diamonds' tamper concept."
    )


_FLAGGED_ONLY = (
    "flag_rule",
    "flag",
    "awareness",
    "memory",
    "relation_every",
    "n_min",
    "tau",
    "regression",
    "association",
    "merge",
)


class GridAgentConfig(_Strict):
    """An agent on a gridworld: the flagged world-model agent (MODEL.md 3) with a discount, or
    tabular Q-learning on the observed reward. The state is a table index (docs/model.md,
    "Gridworld agents")."""

    kind: Literal["flagged", "qlearning"] = Field(
        "flagged",
        description="`flagged`: successor features per known concept, acting on a goal flag; "
        "`qlearning`: tabular Q-learning on the observed reward (takes only alpha, gamma, "
        "epsilon).",
    )
    flag_rule: Literal["anchored", "regression", "association", "merge"] = Field(
        "anchored", description="How the flag changes."
    )
    flag: GridFlag = Field(default_factory=GridFlag, description="Initial flag weights.")
    epsilon: float = Field(0.1, ge=0, le=1, description="Exploration: random action share.")
    alpha: float = Field(0.1, gt=0, le=1, description="TD step (successor features or Q).")
    gamma: float = Field(0.9, ge=0, lt=1, description="Discount per step.")
    memory: int = Field(1000, ge=10, le=1_000_000, description="Replay memory size (steps).")
    relation_every: int = Field(50, ge=1, description="Steps between relation updates.")
    n_min: int = Field(200, ge=1, description="Evidence (remembered steps) to judge a relation.")
    tau: float = Field(
        0.95,
        gt=0,
        le=1,
        description="Agreement (share of remembered steps on which two concepts have equal "
        "values) at which a relation is noticed.",
    )
    awareness: GridAwareness = Field(
        default_factory=GridAwareness, description="Awareness schedules."
    )
    regression: Regression = Field(
        default_factory=Regression,
        description="Regression knobs (on gridworlds the fit is on standardised concepts).",
    )
    association: Association = Field(default_factory=Association, description="Association knobs.")
    merge: Merge = Field(default_factory=Merge, description="Merge knobs.")

    @model_validator(mode="after")
    def _qlearning_keys(self) -> GridAgentConfig:
        if self.kind == "qlearning":
            for key in _FLAGGED_ONLY:
                if key in self.model_fields_set:
                    raise ValueError(
                        f"{key}|left out when agent.kind is 'qlearning' (it applies to 'flagged')|-"
                    )
        return self


class GridPhase(_Strict):
    """A stretch of steps on a gridworld. Every environment starts a new episode when a phase
    starts."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$", description="Phase name.")
    steps: int = Field(ge=1, le=10**9, description="Length in steps.")
    supervisor: bool | None = Field(
        None, description="absent_supervisor only: override `world.supervisor`."
    )
    epsilon: float | None = Field(None, ge=0, le=1, description="Override `agent.epsilon`.")
    learn_world: bool = Field(
        True, description="Successor features (or, for `qlearning`, the Q table) learn."
    )
    learn_relations: bool = Field(True, description="Relations are updated from memory.")
    learn_flag: bool = Field(True, description="The flag rule may move the flag.")


class GridOutcome(_Strict):
    """How the final outcome class is decided on a gridworld (MODEL.md 5; docs/model.md)."""

    tamper_threshold: float = Field(
        0.5,
        ge=0,
        description="Tamper events per episode (among episodes in which tampering was "
        "possible) in the final window above which the agent counts as tampering.",
    )
    margin: float = Field(
        0.01,
        ge=0,
        lt=0.5,
        description="The top concept carries the flag only with a share of the total absolute "
        "weight above 0.5 + margin; otherwise the run is mixed.",
    )
    window: int = Field(
        5000,
        ge=1,
        description="The final window (steps) over which tampering is judged; episodes ending "
        "in samples that end in it count. No episode with a chance to tamper there means no "
        "evidence of tampering.",
    )


class GridScenario(_Strict):
    """One experiment on a tampering gridworld: the world, an agent, phases and recording."""

    name: str = Field(min_length=1, description="Scenario name.")
    description: str = Field("", description="What the scenario probes.")
    claim: str = Field("", description="The seed's claim it probes, quoted.")
    seed: int = Field(0, ge=0, description="Scenario seed; run i uses SeedSequence(seed)[i].")
    runs: int = Field(64, ge=1, le=10**7, description="Default number of runs.")
    sample_every: int = Field(5000, ge=1, description="Steps per series sample.")
    world: GridWorldConfig = Field(description="The gridworld (`world.kind` selects it).")
    agent: GridAgentConfig = Field(default_factory=GridAgentConfig, description="The agent.")
    phases: list[GridPhase] = Field(min_length=1, description="The phases, in order.")
    outcome: GridOutcome = Field(default_factory=GridOutcome, description="Outcome classes.")

    @model_validator(mode="after")
    def _consistent(self) -> GridScenario:
        seen: set[str] = set()
        kind = self.world.kind
        for i, p in enumerate(self.phases):
            if p.name in seen:
                raise ValueError(f"phases.{i}.name|a name no other phase has|{p.name}")
            seen.add(p.name)
            if p.supervisor is not None and kind != "absent_supervisor":
                raise ValueError(
                    f"phases.{i}.supervisor|left out when world.kind is '{kind}' (it applies "
                    f"to 'absent_supervisor')|{p.supervisor}"
                )
            if self.agent.kind == "qlearning":
                for key in ("learn_relations", "learn_flag"):
                    if key in p.model_fields_set:
                        raise ValueError(
                            f"phases.{i}.{key}|left out when agent.kind is 'qlearning' (its "
                            f"only learning switch is learn_world)|{getattr(p, key)}"
                        )
        _concept_keys(self.agent.flag, kind, "agent.flag")
        _concept_keys(self.agent.awareness, kind, "agent.awareness")
        return self

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.phases)


AnyScenario = Scenario | GridScenario


def _loc(loc: tuple[int | str, ...]) -> str:
    parts = [str(x) for x in loc if not (isinstance(x, str) and x in _TAGS)]
    return ".".join(parts) or "scenario"


_TAGS = {"start", "step", "hazard", "compute", "never"}


def _other_family(key: str, kind: str) -> ConfigError | None:
    """A key of the other world family (Register QA versus the gridworlds), named as such."""
    parts = key.split(".")
    models: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
        "world": (WorldConfig, GridWorldConfig),
        "agent": (AgentConfig, GridAgentConfig),
        "phases": (Phase, GridPhase),
        "outcome": (Outcome, GridOutcome),
    }
    if len(parts) < 2 or parts[0] not in models:
        return None
    name = parts[2] if parts[0] == "phases" and len(parts) > 2 else parts[1]
    qa_model, grid_model = models[parts[0]]
    if kind == "qa" and name in grid_model.model_fields:
        return ConfigError(
            key, "left out when world.kind is 'qa' (it applies to the gridworlds)", show_got=False
        )
    if kind != "qa" and name in qa_model.model_fields:
        return ConfigError(
            key, f"left out when world.kind is '{kind}' (it applies to 'qa')", show_got=False
        )
    return None


def _first_error(exc: ValidationError, kind: str = "qa") -> ConfigError:
    """Turn pydantic's first error into one line naming the key path and what was expected."""
    err = exc.errors()[0]
    key = _loc(err["loc"])
    etype = err["type"]
    if etype == "extra_forbidden":
        return _other_family(key, kind) or ConfigError(
            key, "a known key (it is not one)", show_got=False
        )
    if etype == "missing":
        return ConfigError(key, "given (it is required)", show_got=False)
    msg = str(err["msg"])
    got = err.get("input")
    if msg.startswith("Value error, "):
        # our own validators say "subkey|expected|got" ("-": nothing to show)
        sub, expected, value = msg.removeprefix("Value error, ").split("|")
        if key == "scenario" and sub.split(".")[0].isdigit():
            sub = f"phases.{sub}"
        key = sub if key == "scenario" else f"{key}.{sub}"
        if value == "-":
            return ConfigError(key, expected, show_got=False)
        return ConfigError(key, expected, _parse_literal(value))
    expected = msg.removeprefix("Input should be ").removeprefix("Value should be ")
    expected = expected[:1].lower() + expected[1:]
    if isinstance(got, dict | list):
        return ConfigError(key, expected, show_got=False)
    return ConfigError(key, expected, got)


def _parse_literal(text: str) -> Any:
    if text in ("True", "False"):
        return text == "True"
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text


def parse_value(text: str) -> Any:
    """Parse a `--set` value as a TOML value; a bare word is a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_set(data: dict[str, Any], assignment: str) -> None:
    """Apply one `a.b.c=VALUE` override to raw scenario data (lists take integer indices)."""
    if "=" not in assignment:
        raise ConfigError("--set", "of the form key.path=VALUE", assignment)
    path, _, raw = assignment.partition("=")
    set_path(data, path.strip(), parse_value(raw.strip()), "--set")


def set_path(data: dict[str, Any], path: str, value: Any, option: str = "--set") -> None:
    """Set ``value`` at the dotted ``path`` of raw scenario data, creating tables on the way;
    list elements are addressed by integer index. ``option`` names the source in errors."""
    keys = path.split(".")
    if not all(keys):
        raise ConfigError(option, "a dotted key path such as world.diversity", path)
    node: Any = data
    for i, k in enumerate(keys[:-1]):
        where = ".".join(keys[: i + 1])
        if isinstance(node, list):
            if not k.isdigit() or int(k) >= len(node):
                raise ConfigError(where, f"an index below {len(node)}", k)
            node = node[int(k)]
        elif isinstance(node, dict):
            node = node.setdefault(k, {})
        else:
            raise ConfigError(where, "a table", node)
        if not isinstance(node, dict | list):
            raise ConfigError(where, "a table", node)
    last = keys[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(path, f"an index below {len(node)}", last)
        node[int(last)] = value
    else:
        node[last] = value


def world_kind(data: dict[str, Any]) -> str:
    """The `world.kind` of raw scenario data (`qa` when unset), checked against the known ids."""
    world = data.get("world")
    kind = world.get("kind", "qa") if isinstance(world, dict) else "qa"
    if kind not in WORLD_KINDS:
        raise ConfigError("world.kind", "one of " + ", ".join(f"'{k}'" for k in WORLD_KINDS), kind)
    return str(kind)


def validate(data: dict[str, Any]) -> AnyScenario:
    """Validate raw scenario data: `world.kind` chooses Register QA (`Scenario`) or a
    tampering gridworld (`GridScenario`)."""
    kind = world_kind(data)
    model: type[Scenario] | type[GridScenario] = Scenario if kind == "qa" else GridScenario
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, kind) from None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "SCENARIO", "an existing file or shipped scenario name", str(path)
        ) from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        raise ConfigError("SCENARIO", "a readable UTF-8 TOML file", f"{path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "valid TOML", str(exc), show_got=True) from None


def load(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> AnyScenario:
    """Read, override and validate a scenario file."""
    data = read_toml(path)
    if "sweep" in data:
        raise ConfigError(
            "sweep", "absent from a scenario file (this is a sweep file: use `goaldrift sweep`)",
            show_got=False,
        )  # fmt: skip
    for a in overrides:
        apply_set(data, a)
    return validate(data)
