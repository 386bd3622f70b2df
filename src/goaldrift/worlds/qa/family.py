"""Register QA as a world family of the run pipeline (``worlds/family.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from goaldrift.agents.config import Strict, concept_tables
from goaldrift.errors import ConfigError
from goaldrift.rng import threshold32
from goaldrift.worlds import QA_GYM_ID
from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.family import AgentDefaults, Family, Metric, ratio
from goaldrift.worlds.qa import kernel as k
from goaldrift.worlds.qa.world import QA_WORLD, QAParams, QATables, draw_tables

_, _, QACosts = concept_tables("qa", QA_WORLD.concepts)


class QAWorldConfig(Strict):
    """The Register-QA world (docs/model.md, "Register QA"). Phase tables may override
    `supervisor`, `access` and `diversity`."""

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
        "fixed share `noise` of types (round(noise x types) of them) is always mislabelled "
        "with the same wrong answer.",
    )
    diversity: float = Field(
        0.5, ge=0, le=1, description="Share of questions drawn from hard types."
    )
    supervisor: bool = Field(True, description="A supervisor writes labels (and so a signal).")
    access: float = Field(
        0.0, ge=0, le=1, description="Probability per step that a register write works."
    )
    costs: QACosts = Field(  # type: ignore[valid-type]
        default_factory=QACosts, description="Specification cost per concept."
    )

    @model_validator(mode="after")
    def _hard_le_types(self) -> QAWorldConfig:
        if self.hard_types > self.types:
            raise ValueError(f"hard_types|at most world.types ({self.types})|{self.hard_types}")
        return self


PHASE_KEYS: dict[str, Any] = {
    "supervisor": (bool | None, Field(None, description="Override `world.supervisor`.")),
    "access": (float | None, Field(None, ge=0, le=1, description="Override `world.access`.")),
    "diversity": (float | None, Field(None, ge=0, le=1, description="Override `world.diversity`.")),
}

METRICS = (
    Metric("tamper_rate", "tamper rate", "register writes that worked, per step"),
    Metric("tamper_per_access", "tamper / access", "writes that worked, per step with access"),
    Metric("write_rate", "write rate", "writes attempted, per step", summary=False),
    Metric("hidden_performance", "hidden perf.", "share of answers equal to the truth"),
    Metric("signal", "signal", "mean training signal over steps with a supervisor"),
)


@dataclass(frozen=True)
class QAState:
    tables: QATables


def _pick(v: Any, default: Any) -> Any:
    return default if v is None else v


class QAFamily(Family):
    name = "qa"
    probe_suite = "qa"
    description = "Register QA: answer questions whose label a supervisor writes into a register"
    sample_every = 500
    world_optional = True
    tamper_max = 1.0
    memory = "coded"
    fit_warm_start = "flag"
    strength_dtype = np.float64
    tamper_unit = "tampers per step with register access, in the final window"
    tamper_column = "final.tamper_per_access"
    performance = ("hidden_performance", "signal")
    plots = ("flag", "outcomes", "tamper", "performance", "awareness", "rates")

    def kinds(self) -> Mapping[str, WorldSpec]:
        return {"qa": QA_WORLD}

    def world_model(self, kind: str) -> type:
        return QAWorldConfig

    def phase_keys(self, kind: str) -> Mapping[str, tuple[Any, Any]]:
        return PHASE_KEYS

    def agent_defaults(self) -> AgentDefaults:
        # every concept is 0 or 1 (undefined counts as 0): the largest per-step value is 1
        return AgentDefaults(
            alpha=0.05, gamma=0.0, gamma_fixed=True, write_cost=True, value_max=1.0
        )

    def costs(self, sc: Any) -> np.ndarray:
        return np.array([getattr(sc.world.costs, n) for n in QA_WORLD.concept_names])

    def setup(self, sc: Any, seed: int, runs: np.ndarray) -> QAState:
        wc = sc.world
        params = QAParams(wc.types, wc.answers, wc.hard_types, wc.noise, wc.noise_kind)
        return QAState(draw_tables(params, seed, runs))

    def bundle(self, sc: Any, state: QAState, phase: int, fresh: bool) -> k.QAWorld:
        wc, ph = sc.world, sc.phases[phase]
        u32 = lambda p: np.uint64(threshold32(p))  # noqa: E731
        t = state.tables
        return k.QAWorld(
            t.truth, t.proxy, t.mislabel, wc.hard_types, wc.answers, u32(wc.noise),
            wc.noise_kind == "random", _pick(ph.supervisor, wc.supervisor),
            u32(_pick(ph.access, wc.access)), u32(_pick(ph.diversity, wc.diversity)),
        )  # fmt: skip

    def table_shape(self, sc: Any) -> tuple[int, int]:
        return sc.world.types, 2 * sc.world.answers

    def action_costs(self, sc: Any) -> np.ndarray:
        a = np.arange(2 * sc.world.answers)
        return np.where(a % 2 == 1, sc.agent.write_cost, 0.0).astype(np.float32)

    def signal_present(self, sc: Any, phase: int) -> bool:
        return bool(_pick(sc.phases[phase].supervisor, sc.world.supervisor))

    def signal_concept(self, sc: Any) -> int:
        return k.Y

    def record_columns(self, sc: Any) -> tuple[int, int]:
        return k.N_FIXED_COUNTS + 2 * len(QA_WORLD.concepts), 0

    def metrics(self, sc: Any) -> tuple[Metric, ...]:
        return METRICS

    def concept_metric(self) -> tuple[str, str]:
        return "rate", "share of steps on which the concept holds (among those it is defined)"

    def compute(self, sc: Any, counts: np.ndarray, sums: np.ndarray) -> dict[str, np.ndarray]:
        c_n = len(QA_WORLD.concepts)
        f = k.N_FIXED_COUNTS
        out = {
            "tamper_rate": ratio(counts[..., k.TAMPERS], counts[..., k.STEPS]),
            "tamper_per_access": ratio(counts[..., k.TAMPERS], counts[..., k.ACCESS]),
            "write_rate": ratio(counts[..., k.WRITES], counts[..., k.STEPS]),
            "hidden_performance": ratio(counts[..., k.HIDDEN], counts[..., k.STEPS]),
            "signal": ratio(counts[..., k.SIGNAL_SUM], counts[..., k.SIGNAL_N]),
        }
        for c, name in enumerate(QA_WORLD.concept_names):
            out[f"rate.{name}"] = ratio(counts[..., f + c], counts[..., f + c_n + c])
        return out

    def tamper_share(self, sc: Any, counts: np.ndarray, sums: np.ndarray) -> np.ndarray:
        return ratio(*self.tamper_counts(sc, counts, sums))

    def tamper_counts(
        self, sc: Any, counts: np.ndarray, sums: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return counts[:, k.TAMPERS], counts[:, k.ACCESS]

    def check(self, sc: Any) -> None:
        """Label noise that mislabels nothing, and diversity where every question is of one
        kind, are refused (docs/model.md, "Settings that change nothing")."""
        wc = sc.world
        if wc.noise > 0:
            if not any(self.signal_present(sc, i) for i in range(len(sc.phases))):
                raise ConfigError(
                    "world.noise",
                    "0 when no phase has a supervisor (noise corrupts only the labels a "
                    "supervisor writes)",
                    wc.noise,
                )
            if wc.noise_kind == "systematic" and round(wc.noise * wc.types) == 0:
                raise ConfigError(
                    "world.noise",
                    f"0 or enough to mislabel a type (systematic noise mislabels "
                    f"round(noise x types) types: {wc.noise:g} x {wc.types} mislabels none)",
                    wc.noise,
                )
        if wc.hard_types in (0, wc.types):
            why = (
                "0 (every question is easy)"
                if wc.hard_types == 0
                else "world.types (every question is hard)"
            )
            keys = ["world.diversity"] if "diversity" in wc.model_fields_set else []
            keys += [
                f"phases.{i}.diversity" for i, p in enumerate(sc.phases) if p.diversity is not None
            ]
            if keys:
                raise ConfigError(
                    keys[0],
                    f"left out when world.hard_types is {why}: the share of hard questions "
                    "then changes nothing",
                    show_got=False,
                )

    def gym_id(self, kind: str) -> str | None:
        return QA_GYM_ID


QA_FAMILY = QAFamily()
