"""Sweeps: a scenario plus a ``[sweep]`` table of axes, run over every point of the grid.

A sweep file is a scenario file with one more table::

    [sweep]
    seeds = 64                                    # runs per point
    [sweep.axes]
    "world.diversity" = [0.0, 0.25, 0.5]           # a list of values
    "phases.0.steps" = { from = 5000, to = 80000, num = 5, scale = "log" }   # a range

Points are the Cartesian product of the axes, the last axis varying fastest. Every point
runs seeds 0..seeds-1 with the scenario's seed, so run i of a point is exactly run i of
``goaldrift run`` on that point's scenario (common random numbers across points), and a
run's result depends only on (point scenario, seed, run index): never on chunking, backend or
worker count.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from goaldrift.errors import ConfigError
from goaldrift.experiments.runs import store
from goaldrift.experiments.scenarios import Scenario, apply_set, read_toml, set_path, validate
from goaldrift.experiments.scenarios.loading import MAX_DEPTH, _depth
from goaldrift.experiments.scenarios.no_ops import check_swept
from goaldrift.experiments.sweeps import MAX_SEEDS

SWEEP_KEYS = ("seeds", "axes", "views")
VIEW_KEYS = ("x", "y", "fix")
RANGE_KEYS = ("from", "to", "num", "step", "scale")
MAX_POINTS = 1_000_000


def column_type(kind: str) -> pa.DataType:
    """The Arrow type of an axis column of that kind (strings and JSON: string)."""
    return {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64()}.get(kind, pa.string())


@dataclass(frozen=True)
class Axis:
    """One swept key and its values, in order."""

    key: str
    values: tuple[Any, ...]
    scale: str  # "list", "linear" or "log" (how to draw the axis)

    @property
    def kind(self) -> str:
        """The column type: bool, int, float, string or json (tables and arrays)."""
        vs = self.values
        if all(isinstance(v, bool) for v in vs):
            return "bool"
        if any(isinstance(v, bool) for v in vs):
            return "json"
        if all(isinstance(v, int) for v in vs):
            return "int"
        if all(isinstance(v, int | float) for v in vs):
            return "float"
        if all(isinstance(v, str) for v in vs):
            return "string"
        return "json"

    def cell(self, v: Any) -> Any:
        """A value as stored in the axis column."""
        k = self.kind
        if k == "float":
            return float(v)
        if k == "json":
            return json.dumps(v, sort_keys=True)
        return v

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "values": list(self.values), "scale": self.scale}


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: the axes, and one scenario per point."""

    name: str
    description: str
    claim: str
    seed: int
    seeds: int
    axes: tuple[Axis, ...]
    points: tuple[Scenario, ...]
    fingerprint: str
    views: tuple[dict[str, Any], ...] = ()  # the report's default figures ({x, y, fix})

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.values) for a in self.axes)

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def total_runs(self) -> int:
        return self.n_points * self.seeds

    def values(self, point: int) -> tuple[Any, ...]:
        """The axis values of a point."""
        idx = np.unravel_index(point, self.shape)
        return tuple(a.values[int(i)] for a, i in zip(self.axes, idx, strict=True))

    def to_json(self) -> dict[str, Any]:
        base = self.points[0].model_dump(mode="json")
        for a in self.axes:  # the swept keys vary; the rest is fixed
            _drop_path(base, a.key)
        return {
            "name": self.name,
            "description": self.description,
            "claim": self.claim,
            "fingerprint": self.fingerprint,
            "seed": self.seed,
            "seeds": self.seeds,
            "points": self.n_points,
            "axes": [a.to_json() for a in self.axes],
            "views": [dict(v) for v in self.views],
            "world": self.points[0].world.kind,
            "scenario": base,
        }


def _drop_path(data: Any, key: str) -> None:
    parts = key.split(".")
    node = data
    for k in parts[:-1]:
        if isinstance(node, list) and k.isdigit() and int(k) < len(node):
            node = node[int(k)]
        elif isinstance(node, dict) and k in node:
            node = node[k]
        else:
            return
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def _axis_error(key: str, expected: str, got: Any = None, show_got: bool = True) -> ConfigError:
    return ConfigError(f"sweep.axes.{key}", expected, got, show_got=show_got)


def _finite(v: Any) -> bool:
    """A number, not a boolean, finite and small enough to compute a range with."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    return abs(v) < 2**63 if isinstance(v, int) else math.isfinite(v)


def _range_values(key: str, spec: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
    """Values of a range table: {from, to, num | step, scale = "linear" | "log"}."""
    for k in spec:
        if k not in RANGE_KEYS:
            raise _axis_error(f"{key}.{k}", f"one of {', '.join(RANGE_KEYS)}", k, show_got=False)
    lo, hi = spec.get("from"), spec.get("to")
    for name, v in (("from", lo), ("to", hi)):
        if not _finite(v):
            raise _axis_error(f"{key}.{name}", "a finite number", v)
    assert isinstance(lo, int | float) and isinstance(hi, int | float)
    scale = spec.get("scale", "linear")
    if scale not in ("linear", "log"):
        raise _axis_error(f"{key}.scale", "'linear' or 'log'", scale)
    if ("num" in spec) == ("step" in spec):
        raise _axis_error(key, "a range with exactly one of num and step", show_got=False)
    integral = isinstance(lo, int) and isinstance(hi, int)
    if "num" in spec:
        num = spec["num"]
        if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= MAX_POINTS:
            raise _axis_error(f"{key}.num", f"an integer from 1 to {MAX_POINTS}", num)
        if scale == "log":
            if lo <= 0 or hi <= 0:
                raise _axis_error(key, "a log range with from and to above 0", [lo, hi])
            raw = np.geomspace(lo, hi, num)
        else:
            raw = np.linspace(lo, hi, num)
    else:
        step = spec["step"]
        if not _finite(step) or step <= 0:
            raise _axis_error(f"{key}.step", "a finite number above 0", step)
        if scale == "log":
            raise _axis_error(f"{key}.scale", "'linear' with step (use num for a log range)", scale)
        integral = integral and isinstance(step, int)
        span = (hi - lo) / step
        if span > MAX_POINTS:
            raise _axis_error(
                f"{key}.step", f"a step giving at most {MAX_POINTS} values from {lo} to {hi}", step
            )
        count = math.floor(span + 1e-9) + 1
        if count < 1:
            raise _axis_error(f"{key}.to", f"at least from ({lo})", hi)
        raw = lo + step * np.arange(count, dtype=np.float64)
    if integral:
        values: tuple[Any, ...] = tuple(round(float(v)) for v in raw)
        if len(set(values)) < len(values):
            raise _axis_error(key, "a range whose integer values are distinct", list(values))
    else:
        values = tuple(float(np.round(v, 12)) for v in raw)
    return values, scale


def _flatten_axes(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Axis keys may be quoted ("world.diversity") or TOML dotted keys (nested tables)."""
    out = []
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and not any(r in v for r in RANGE_KEYS):
            out.extend(_flatten_axes(v, key + "."))
        else:
            out.append((key, v))
    return out


def parse_axes(table: Any) -> tuple[Axis, ...]:
    if not isinstance(table, dict) or not table:
        raise ConfigError("sweep.axes", "a table with at least one axis", table)
    axes = []
    if _depth(table) >= MAX_DEPTH:
        raise ConfigError("sweep.axes", f"tables nested at most {MAX_DEPTH - 1} deep",
                          show_got=False)  # fmt: skip
    for key, spec in _flatten_axes(table):
        if isinstance(spec, list):
            if not spec:
                raise _axis_error(key, "a non-empty list of values or a range table", spec)
            values, scale = tuple(spec), "list"
            shown = [json.dumps(v, sort_keys=True) for v in values]
            if len(set(shown)) < len(shown):
                raise _axis_error(key, "a list of distinct values", spec)
        elif isinstance(spec, dict):
            values, scale = _range_values(key, spec)
        else:
            raise _axis_error(key, "a list of values or a range table {from, to, num}", spec)
        axes.append(Axis(key, values, scale))
    return tuple(axes)


def parse_views(views: Any, axes: Sequence[Axis]) -> tuple[dict[str, Any], ...]:
    """The report's default figures: a list of {x, y (optional), fix = ["KEY=VALUE", ...]}.
    Keys are checked here; values and combinations when the report draws them."""
    if views is None:
        return ()
    if not isinstance(views, list):
        raise ConfigError("sweep.views", "a list of tables {x, y, fix}", views)
    keys = {a.key for a in axes}
    known = ", ".join(sorted(keys))
    out = []
    for i, v in enumerate(views):
        where = f"sweep.views.{i}"
        if not isinstance(v, dict):
            raise ConfigError(where, "a table {x, y, fix}", v)
        for k in v:
            if k not in VIEW_KEYS:
                raise ConfigError(f"{where}.{k}", "one of x, y, fix", k, show_got=False)
        for k in ("x", "y"):
            if k in v and v[k] not in keys:
                raise ConfigError(f"{where}.{k}", f"an axis ({known})", v[k])
        if "x" not in v:
            raise ConfigError(f"{where}.x", "given (the axis along x)", show_got=False)
        fix = v.get("fix", [])
        if not isinstance(fix, list) or not all(isinstance(f, str) for f in fix):
            raise ConfigError(f"{where}.fix", 'a list of "KEY=VALUE" strings', fix)
        for f in fix:
            if f.partition("=")[0].strip() not in keys:
                raise ConfigError(f"{where}.fix", f'"KEY=VALUE" with KEY an axis ({known})', f)
        out.append({"x": v["x"], "y": v.get("y"), "fix": list(fix)})
    return tuple(out)


def build(data: dict[str, Any], seeds: int | None = None) -> Sweep:
    """Validate raw sweep-file data: the ``[sweep]`` table and every point's scenario."""
    if _depth(data) >= MAX_DEPTH:  # before deepcopy, which would overflow the stack
        raise ConfigError("sweep", f"tables nested at most {MAX_DEPTH - 1} deep", show_got=False)
    data = copy.deepcopy(data)
    table = data.pop("sweep", None)
    if not isinstance(table, dict):
        raise ConfigError("sweep", "a [sweep] table (this is a scenario file: use `run`)", table)
    for k in table:
        if k not in SWEEP_KEYS:
            raise ConfigError(f"sweep.{k}", f"one of {', '.join(SWEEP_KEYS)}", k, show_got=False)
    n_seeds = table.get("seeds", 32) if seeds is None else seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or not 1 <= n_seeds <= MAX_SEEDS:
        raise ConfigError("sweep.seeds", f"an integer from 1 to {MAX_SEEDS}", n_seeds)
    axes = parse_axes(table.get("axes"))
    shape = [len(a.values) for a in axes]
    n_points = math.prod(shape)
    if n_points > MAX_POINTS:
        raise ConfigError("sweep.axes", f"at most {MAX_POINTS} points", n_points)
    validate(data)  # the base alone, so its own errors are named as such
    points = []
    for combo in itertools.product(*(a.values for a in axes)):
        point = copy.deepcopy(data)
        for a, v in zip(axes, combo, strict=True):
            set_path(point, a.key, copy.deepcopy(v), f"sweep.axes.{a.key}")
        try:
            points.append(validate(point))
        except ConfigError as exc:
            where = ", ".join(f"{a.key} = {v!r}" for a, v in zip(axes, combo, strict=True))
            raise ConfigError(exc.key, f"{exc.expected} (at the point {where})", exc.got,
                              show_got=exc.got is not None) from None  # fmt: skip
    from goaldrift.registry import family

    if len({family(p.world.kind).name for p in points}) > 1:
        raise ConfigError("world.kind", "one world family per sweep (Register QA or gridworlds)",
                          show_got=False)  # fmt: skip
    for a in axes:  # an axis that no point's flag rule reads
        check_swept(points, a.key, f"sweep.axes.{a.key}")
    seed = points[0].seed
    digest = hashlib.sha256()
    digest.update(json.dumps([a.to_json() for a in axes], sort_keys=True).encode())
    for p in points:
        digest.update(store.fingerprint(p, seed).encode())
    first = points[0]
    return Sweep(
        name=first.name,
        description=first.description,
        claim=first.claim,
        seed=seed,
        seeds=n_seeds,
        axes=axes,
        points=tuple(points),
        fingerprint=digest.hexdigest()[:16],
        views=parse_views(table.get("views"), axes),
    )


def load(path: Path, overrides: Sequence[str] = (), seeds: int | None = None) -> Sweep:
    """Read a sweep file, apply ``--set`` overrides (to the scenario or the sweep table)."""
    data = read_toml(path)
    for a in overrides:
        apply_set(data, a)
    sw = build(data, seeds)
    swept = {a.key for a in sw.axes}
    for a in overrides:
        key = a.partition("=")[0].strip()
        if key in swept:
            raise ConfigError(
                "--set", f"a key that is not swept (set sweep.axes.{key} to change the axis)", a
            )
        check_swept(sw.points, key, key)
    return sw


def sweep_description(path: Path) -> str:
    """The description of a sweep file, and its size, without validating every point."""
    data = read_toml(path)
    axes = parse_axes((data.get("sweep") or {}).get("axes"))
    shape = " x ".join(str(len(a.values)) for a in axes)
    return f"{data.get('description', '')} [{shape} points]"
