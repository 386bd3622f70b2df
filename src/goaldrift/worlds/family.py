"""World families: what a kind of world supplies to the one run pipeline.

A family (Register QA, the tampering gridworlds) owns everything that differs between kinds of
world, so that the runner, the records, the sweeps and the report ask it instead of checking
which world they hold:

- its scenario keys (the ``world`` table, the phase keys it adds, the outcome threshold's
  unit) and its agent defaults;
- the set-up of a batch (per-run tables and state) and the bundle of the run kernel
  (``worlds/hooks.py``) for each phase;
- its records: the per-window count and sum columns the kernel fills, and the metrics derived
  from them (name, label, unit; which appear per phase);
- the outcome input: the per-run tamper share in the final window, and its unit;
- the plots of its run report, by name (``report/`` draws them).

``goaldrift.registry.family(kind)`` finds the family of a ``world.kind``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from goaldrift.worlds.base import WorldSpec


@dataclass(frozen=True)
class Metric:
    """A per-window or per-phase quantity derived from the world's counts and sums."""

    name: str  # column name: `<phase>.<name>` in runs.parquet, `<name>` in series.parquet
    label: str  # a short label for tables and plots
    unit: str  # what it counts, per what
    integer: bool = False  # a count (an int64 column), not a rate
    summary: bool = True  # shown per phase in the run summary (`goaldrift run`)


@dataclass(frozen=True)
class AgentDefaults:
    """The agent settings a family defaults to, and what its worlds allow."""

    alpha: float  # TD step
    gamma: float  # discount
    gamma_fixed: bool  # the world is one-step: gamma must be 0
    write_cost: bool  # the world has a register write action with a cost (`agent.write_cost`)
    # the largest per-step value of any concept: `agent.init = "optimistic"` starts the value
    # tables at value_max / (1 - gamma); None: not defined here, so only `init = "zero"`
    value_max: float | None = None


class Family(ABC):
    """A kind of world behind the one run pipeline (see the module docstring)."""

    name: str  # "qa", "gridworlds"
    probe_suite: str  # the suite that probes its agents (``probes.suites.SUITES``)
    description: str
    sample_every: int  # the default of `sample_every`
    world_optional: bool  # a scenario may leave out the `world` table (its defaults apply)
    tamper_max: float  # the largest tamper threshold that makes sense (1.0 for a share)
    memory: str  # the agent's replay memory: "coded" (values 0, 1, undefined) or "values"
    fit_warm_start: str  # the lasso starts from the "flag" or from "zero" weights
    strength_dtype: type  # float dtype of relation strengths (np.float64 or np.float32)
    tamper_unit: str  # what the outcome's tamper threshold counts
    plots: tuple[str, ...]  # the run report's figures, by name (``report.plots``)
    performance: tuple[str, str]  # the metrics of intended and of observed performance

    @abstractmethod
    def kinds(self) -> Mapping[str, WorldSpec]:
        """The ``world.kind`` values this family serves, with their concepts."""

    def spec(self, sc: Any) -> WorldSpec:
        return self.kinds()[sc.world.kind]

    @abstractmethod
    def world_model(self, kind: str) -> type:
        """The pydantic model of the ``world`` table of this kind."""

    @abstractmethod
    def phase_keys(self, kind: str) -> Mapping[str, tuple[Any, Any]]:
        """The world settings a phase may override: name -> (annotation, pydantic Field)."""

    @abstractmethod
    def agent_defaults(self) -> AgentDefaults: ...

    def world_key_owner(self, key: str) -> str | None:
        """The world kind that alone takes ``world.<key>`` (None: all of them, or none)."""
        return None

    @abstractmethod
    def costs(self, sc: Any) -> np.ndarray:
        """Specification cost per concept (float64, concept order)."""

    # ---- a batch of runs

    @abstractmethod
    def setup(self, sc: Any, seed: int, runs: np.ndarray) -> Any:
        """Per-run world tables and state for ``runs`` (depending only on (seed, run))."""

    @abstractmethod
    def bundle(self, sc: Any, state: Any, phase: int, fresh: bool) -> Any:
        """The kernel's world bundle for a call within phase ``phase`` (``fresh``: the phase
        starts with this call)."""

    @abstractmethod
    def table_shape(self, sc: Any) -> tuple[int, int]:
        """(states, actions) of the agent's tables."""

    def action_costs(self, sc: Any) -> np.ndarray:
        """Cost of each action (float32)."""
        return np.zeros(self.table_shape(sc)[1], np.float32)

    @abstractmethod
    def signal_present(self, sc: Any, phase: int) -> bool:
        """Whether phase ``phase`` has a training signal."""

    @abstractmethod
    def signal_concept(self, sc: Any) -> int:
        """The concept whose value is the signal (the register)."""

    # ---- records

    @abstractmethod
    def record_columns(self, sc: Any) -> tuple[int, int]:
        """(count columns, sum columns) of the per-window records."""

    @abstractmethod
    def metrics(self, sc: Any) -> tuple[Metric, ...]:
        """The metrics of a window or phase, in column order (then ``concept_metric``)."""

    @abstractmethod
    def concept_metric(self) -> tuple[str, str]:
        """(column prefix, meaning) of the per-concept metric: `rate.<c>` or `mean.<c>`."""

    @abstractmethod
    def compute(self, sc: Any, counts: np.ndarray, sums: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric (and per-concept metric) from summed counts and sums (last axis:
        columns)."""

    @abstractmethod
    def tamper_share(self, sc: Any, counts: np.ndarray, sums: np.ndarray) -> np.ndarray:
        """Per run, the outcome's tamper share from counts and sums summed over the final
        window (NaN where there is no evidence)."""

    tamper_column: str  # its column in runs.parquet

    @abstractmethod
    def tamper_counts(
        self, sc: Any, counts: np.ndarray, sums: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per run, (events, chances) behind ``tamper_share``: tampers and steps with access,
        or tamper events and episodes with a chance to tamper."""

    def check(self, sc: Any) -> None:
        """Refuse a valid scenario's settings that would change nothing (silent no-ops):
        raise ``errors.ConfigError`` naming the key. Called on every scenario ``validate``
        builds (files, ``--set``, sweep points); the default finds none."""
        return None

    def gym_id(self, kind: str) -> str | None:
        """The Gymnasium id of a world kind, if it has one."""
        return None

    def phase_note(self, world: Mapping[str, Any], phase: Mapping[str, Any]) -> str | None:
        """A settings line to draw above a phase in plots (None: supervisor and access)."""
        return None


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den as float64, NaN where den is 0 (null in Parquet)."""
    num = np.asarray(num, np.float64)
    den = np.asarray(den, np.float64)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)
