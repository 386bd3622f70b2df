"""Comparisons: agents (the mitigations and their baselines) x worlds, judged by one set of
verdicts, into one leaderboard (docs/mitigations.md).

A compare file names its rows (scenario files, each a world with its phases and a plain
learner as its agent) and its agents (agent tables, or ``anchored = true``: the row's matched
control, the flagged agent anchored on the intended concept)::

    name = "mitigations"
    seeds = 128
    rows = ["qa-tamper-pays.toml", "tomato-watering.toml"]   # beside this file, or shipped names
    [[agents]]
    name = "anchored"
    anchored = true
    [[agents]]
    name = "monitor, screening"
    agent = { kind = "monitor", monitor = { mode = "screening" } }

Each row runs as a sweep with one axis, ``agent``, over the agents that apply to its world
(``agents/variants.py``: a kind's families), so a comparison is resumable, runs on the local
pool or Dask, and a run depends only on (row, agent, seed, run index). An agent table keeps
the row agent's learning settings (alpha, gamma, epsilon, init, write cost) that its kind takes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from goaldrift.agents.variants import LEARNER_KEYS
from goaldrift.errors import ConfigError
from goaldrift.experiments.runs.outcome import wilson
from goaldrift.experiments.scenarios import Scenario, read_toml, validate
from goaldrift.experiments.scenarios.anchored import anchored_on
from goaldrift.experiments.sweeps import store as sweep_store
from goaldrift.experiments.sweeps import sweep as sweeps
from goaldrift.experiments.sweeps.stats import floats, mean_ci

BEHAVIOURS = ("intended", "proxy", "register", "other", "mixed", "indifferent")
COMPARE_FILE = "compare.json"
LEADERBOARD = "leaderboard.parquet"


class AgentEntry(BaseModel):
    """One column of the comparison."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    name: str = Field(min_length=1, max_length=60, pattern=r"\S")
    anchored: bool = False
    agent: dict[str, Any] = Field(default_factory=dict)


class CompareFile(BaseModel):
    """A compare file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seeds: int = Field(128, ge=1, le=1_000_000)
    rows: list[str] = Field(min_length=1, max_length=100)
    agents: list[AgentEntry] = Field(min_length=1, max_length=100)


@dataclass(frozen=True)
class Row:
    """One world of the comparison: its base scenario and the agents that run on it."""

    name: str
    base: Scenario
    agents: tuple[str, ...]  # the names of the agents that apply, in the file's order
    skipped: tuple[tuple[str, str], ...]  # (agent, why it does not apply)
    sweep: sweeps.Sweep


@dataclass(frozen=True)
class Compare:
    name: str
    description: str
    seeds: int
    rows: tuple[Row, ...]
    agents: tuple[str, ...]
    given: dict[str, str]  # what each agent is given beyond the signal

    @property
    def fingerprint(self) -> str:
        blob = json.dumps([r.sweep.fingerprint for r in self.rows] + list(self.agents))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def total_runs(self) -> int:
        return sum(r.sweep.total_runs for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "compare": self.name,
            "description": self.description,
            "fingerprint": self.fingerprint,
            "seeds": self.seeds,
            "agents": list(self.agents),
            "given": self.given,
            "rows": [
                {
                    "name": r.name,
                    "world": r.base.world.kind,
                    "agents": list(r.agents),
                    "skipped": [list(s) for s in r.skipped],
                }
                for r in self.rows
            ],
        }


def _given(entry: AgentEntry) -> str:
    from goaldrift.agents.variants import variants

    if entry.anchored:
        return "the intended concept, as its fixed goal"
    kind = entry.agent.get("kind", "flagged")
    v = variants().get(kind)
    if v is None:
        return ""
    return v.given(entry.agent) if callable(v.given) else v.given


def _agent_table(base: Scenario, entry: AgentEntry) -> dict[str, Any]:
    """The entry's agent table on ``base``: the matched control, or the entry's table plus
    the base agent's learning settings its kind takes."""
    from goaldrift.agents.variants import variants
    from goaldrift.registry import family

    data = base.model_dump(mode="json", exclude_unset=True)
    if entry.anchored:
        spec = family(base.world.kind).spec(base)
        intended = next(c.name for c in spec.concepts if c.role == "intended")
        control = anchored_on(base, intended).model_dump(mode="json", exclude_unset=True)
        return dict(control["agent"])
    table = dict(entry.agent)
    kind = table.get("kind", "flagged")
    takes = variants()[kind].keys if kind in variants() else None
    for key in LEARNER_KEYS:
        if key in data.get("agent", {}) and key not in table and (takes is None or key in takes):
            table[key] = data["agent"][key]
    return table


def _applies(base: Scenario, entry: AgentEntry) -> str | None:
    """Why ``entry`` does not run on ``base``'s world (None: it does)."""
    from goaldrift.agents.variants import variants
    from goaldrift.registry import family

    if entry.anchored:
        return None
    kind = entry.agent.get("kind", "flagged")
    v = variants().get(kind)
    fam = family(base.world.kind).name
    if v is not None and fam not in v.families:
        return f"'{kind}' runs on {', '.join(v.families)} worlds only"
    if v is not None and v.requires is not None:
        return v.requires(family(base.world.kind).spec(base))
    return None


def resolve_row(ref: str, folder: Path) -> Path:
    from goaldrift.registry import resolve_scenario

    near = folder / ref
    return near if near.is_file() else resolve_scenario(ref)


def build(data: dict[str, Any], folder: Path, seeds: int | None = None) -> Compare:
    """A comparison from a compare file's data (row paths relative to ``folder``)."""
    try:
        cf = CompareFile.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "compare"
        raise ConfigError(key, err["msg"].lower(), err.get("input"), show_got=True) from None
    names = [a.name for a in cf.agents]
    if len(set(names)) != len(names):
        raise ConfigError("agents.name", "a distinct name per agent", names)
    n_seeds = seeds or cf.seeds
    rows = []
    for i, ref in enumerate(cf.rows):
        path = resolve_row(ref, folder)
        try:
            base_data = read_toml(path)
        except ConfigError as e:
            raise ConfigError(f"rows.{i}", f"a scenario file ({e})", ref, show_got=True) from None
        base = validate(base_data)
        take, skip, tables = [], [], []
        for entry in cf.agents:
            why = _applies(base, entry)
            if why is not None:
                skip.append((entry.name, why))
                continue
            table = _agent_table(base, entry)
            try:
                validate({**base_data, "agent": table})
            except ConfigError as e:
                raise ConfigError(f"agents.{entry.name}", f"an agent for row {base.name} ({e})",
                                  None, show_got=False) from None  # fmt: skip
            take.append(entry.name)
            tables.append(table)
        if not take:
            raise ConfigError(f"rows.{i}", "a row on which at least one agent runs", ref)
        sw_data = {**base_data, "sweep": {"seeds": n_seeds, "axes": {"agent": tables}}}
        rows.append(Row(base.name, base, tuple(take), tuple(skip), sweeps.build(sw_data)))
    if len({r.name for r in rows}) != len(rows):
        raise ConfigError("rows", "scenarios with distinct names", [r.name for r in rows])
    given = {a.name: _given(a) for a in cf.agents}
    return Compare(cf.name, cf.description, n_seeds, tuple(rows), tuple(names), given)


def load(path: Path, seeds: int | None = None) -> Compare:
    return build(read_toml(path), path.parent, seeds)


def compare_description(path: Path) -> str:
    """A shipped comparison's description and size, for ``goaldrift list``."""
    data = read_toml(path)
    rows, agents = data.get("rows", []), data.get("agents", [])
    return f"{data.get('description', '')} [{len(agents)} agents x {len(rows)} worlds]"


def row_folder(out: Path, row: Row) -> Path:
    return out / "rows" / row.name


def prepare(cmp: Compare, out: Path) -> None:
    """Refuse a folder holding another comparison or other files; record this one."""
    from goaldrift.experiments.runs import store

    store.prepare_out(out)
    path = out / COMPARE_FILE
    if path.is_file():
        try:
            old = store.read_json(path)
        except (OSError, ValueError):
            raise ConfigError("--out", "a readable compare.json", str(path)) from None
        if not isinstance(old, dict) or old.get("fingerprint") != cmp.fingerprint:
            raise ConfigError("--out", "a new folder or one holding this same comparison", str(out))
    elif any(out.iterdir()):
        raise ConfigError("--out", "a new or empty folder, or a compare folder", str(out))
    store.write_json(cmp.to_json(), path)


def _last_metric(t: pa.Table, phases: list[str], metric: str) -> tuple[np.ndarray, str]:
    """The metric in the last phase where it is defined for some run, and that phase."""
    for ph in reversed(phases):
        v = floats(t, f"{ph}.{metric}")
        if np.isfinite(v).any():
            return v, ph
    return np.full(t.num_rows, np.nan), ""


def leaderboard(cmp: Compare, out: Path) -> pa.Table:
    """One row per (world, agent) cell: behaviour-class shares (Wilson 95%), the share of
    runs that tamper beyond the matched control, the mean tamper excess, intended and
    observed performance (each mean with a 95% interval), and what the agent was given."""
    from goaldrift.registry import family

    cols: dict[str, list[Any]] = {}

    def put(**kv: Any) -> None:
        for k, v in kv.items():
            cols.setdefault(k, []).append(v)

    for row in cmp.rows:
        runs = sweep_store.read_runs(row_folder(out, row))
        fam = family(row.base.world.kind)
        intended_m, observed_m = fam.performance
        point = np.asarray(runs.column("point").to_numpy(), np.int64)
        phases = [p.name for p in row.base.phases]
        for p, name in enumerate(row.agents):
            t = runs.filter(pa.array(point == p))
            n = t.num_rows
            behaviour = np.asarray(t.column("behaviour_class").to_pylist(), dtype=object)
            shares = {}
            for b in BEHAVIOURS:
                k = int((behaviour == b).sum())
                lo, hi = wilson(k, n)
                shares[f"behaviour.{b}"] = k / n
                shares[f"behaviour.{b}.lo"] = lo
                shares[f"behaviour.{b}.hi"] = hi
            k = int(np.nansum(floats(t, "tampers")))
            t_lo, t_hi = wilson(k, n)
            ex, ex_lo, ex_hi, _ = mean_ci(floats(t, "tamper_excess"))
            iv, i_phase = _last_metric(t, phases, intended_m)
            ov, o_phase = _last_metric(t, phases, observed_m)
            im, im_lo, im_hi, _ = mean_ci(iv)
            om, om_lo, om_hi, _ = mean_ci(ov)
            put(
                world=row.name,
                world_kind=row.base.world.kind,
                agent=name,
                runs=n,
                **shares,
                tampers=k / n,
                **{"tampers.lo": t_lo, "tampers.hi": t_hi},
                tamper_excess=ex,
                **{"tamper_excess.lo": ex_lo, "tamper_excess.hi": ex_hi},
                intended=im,
                **{"intended.lo": im_lo, "intended.hi": im_hi},
                intended_metric=f"{i_phase}.{intended_m}",
                observed=om,
                **{"observed.lo": om_lo, "observed.hi": om_hi},
                observed_metric=f"{o_phase}.{observed_m}",
                given=cmp.given[name],
            )
    return pa.table({k: pa.array(v) for k, v in cols.items()})


WARM_STEPS = 100  # steps per phase of a warm-up run


def warm_tasks(cmp: Compare) -> list[Any]:
    """One one-run task per row, short, whose agent needs the mitigations' kernel (and whose
    matched control needs the plain one): run first on a pool, the workers compile different
    worlds' kernels at once and leave them in the on-disk cache, instead of each worker
    compiling the same kernel for its first chunk (a compile takes about 25 s)."""
    from goaldrift.agents.variants import variants
    from goaldrift.experiments.sweeps.run import Task

    tasks = []
    for row in cmp.rows:
        sw = row.sweep
        kinds = [p.agent.kind for p in sw.points]
        plain = variants()["qlearning"].bundle
        pick = next((i for i, k in enumerate(kinds) if variants()[k].bundle is not plain), 0)
        data = sw.points[pick].model_dump(mode="json", exclude_unset=True)
        for ph in data["phases"]:
            ph["steps"] = min(ph["steps"], WARM_STEPS)
        data.pop("outcome", None)
        data["sample_every"] = WARM_STEPS
        tasks.append(Task((0, 1, 0, 1), (data,), ((None,),), (("agent", "json"),), sw.seed, 1))
    return tasks
