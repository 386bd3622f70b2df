"""Run a sweep to a folder: plan chunks of missing runs, run them on a backend, store each.

A chunk is a rectangle of runs: runs [r0, r1) of points [a, b) (several whole points when
a point has few seeds, a slice of one point when it has many). Workers only compute; the
coordinating process writes every file, so a sweep on remote Dask workers writes nothing
outside its output folder, and each chunk lands atomically.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from goaldrift.errors import ConfigError
from goaldrift.experiments.runs import store
from goaldrift.experiments.runs.records import runs_table
from goaldrift.experiments.runs.runner import run_batch
from goaldrift.experiments.scenarios import Scenario, validate
from goaldrift.experiments.sweeps import store as sweep_store
from goaldrift.experiments.sweeps.stats import group_stats
from goaldrift.experiments.sweeps.sweep import Sweep, column_type

DEFAULT_CHUNK = 256
MANIFEST_EVERY = 2.0  # seconds between manifest rewrites while running


@dataclass(frozen=True)
class Task:
    """One chunk of work, self-contained so it can travel to another process or machine."""

    span: tuple[int, int, int, int]  # points [a, b), runs [r0, r1)
    scenarios: tuple[dict[str, Any], ...]  # validated scenario data, one per point
    cells: tuple[tuple[Any, ...], ...]  # axis column values, one tuple per point
    axes: tuple[tuple[str, str], ...]  # (key, column kind) per axis
    seed: int
    threads: int | None

    @property
    def runs(self) -> int:
        a, b, r0, r1 = self.span
        return (b - a) * (r1 - r0)

    @property
    def cost(self) -> int:
        steps = sum(sum(p["steps"] for p in sc["phases"]) for sc in self.scenarios)
        return steps * (self.span[3] - self.span[2])


def _roles(sc: Scenario) -> dict[str, str]:
    """Concept name by role (intended, register) for the scenario's world."""
    from goaldrift.registry import worlds

    concepts = worlds()[sc.world.kind].concepts
    out: dict[str, str] = {}
    for c in concepts:
        out.setdefault(c.role, c.name)
    return out


def point_table(sc: Scenario, seed: int, r0: int, r1: int, point: int,
                cells: tuple[Any, ...], axes: tuple[tuple[str, str], ...]) -> pa.Table:  # fmt: skip
    """The run rows of one point: point, axis values, the run table, and columns every
    sweep row has whatever the world (intended_flag, register_flag, tamper_rate)."""
    t = runs_table(run_batch(sc, seed, np.arange(r0, r1)))
    n = t.num_rows
    roles = _roles(sc)
    from goaldrift.registry import family

    rate = family(sc.world.kind).tamper_column
    head: dict[str, pa.Array] = {"point": pa.array(np.full(n, point, np.int64))}
    for (key, kind), v in zip(axes, cells, strict=True):
        if key in t.column_names or key == "point":
            raise ConfigError(f"sweep.axes.{key}", "a key that is not a run column", key)
        head[key] = pa.array([v] * n, type=column_type(kind))
    tail = {
        "intended_flag": t.column(f"flag.{roles['intended']}"),
        "register_flag": t.column(f"flag.{roles['register']}"),
        "tamper_rate": t.column(rate),
    }
    cols = {**head, **{c: t.column(c) for c in t.column_names}, **tail}
    return pa.table(cols)


def run_chunk(task: Task) -> pa.Table:
    """Compute one chunk (in a worker); return its rows."""
    from goaldrift.threads import set_threads

    set_threads(task.threads)
    a, _, r0, r1 = task.span
    tables = [
        point_table(validate(data), task.seed, r0, r1, a + i, task.cells[i], task.axes)
        for i, data in enumerate(task.scenarios)
    ]
    return pa.concat_tables(tables, promote_options="default").combine_chunks()


def plan(done: np.ndarray, chunk: int) -> list[tuple[int, int, int, int]]:
    """Rectangles covering the missing runs of a (points, seeds) mask, at most ``chunk``
    runs each: consecutive points missing the same run interval are grouped; a long
    interval is split into near-equal slices."""
    segs: list[tuple[int, int, int]] = []  # (point, r0, r1), missing intervals
    for p in range(done.shape[0]):
        row = done[p]
        edges = np.flatnonzero(np.diff(np.concatenate(([1], row.view(np.int8), [1]))))
        segs.extend((p, int(s), int(e)) for s, e in zip(edges[::2], edges[1::2], strict=True))
    spans: list[tuple[int, int, int, int]] = []
    i = 0
    while i < len(segs):
        p, r0, r1 = segs[i]
        length = r1 - r0
        if length >= chunk:
            k = math.ceil(length / chunk)
            cuts = [r0 + (length * j) // k for j in range(k + 1)]
            spans.extend((p, p + 1, cuts[j], cuts[j + 1]) for j in range(k))
            i += 1
            continue
        per = max(1, chunk // length)
        j = i + 1
        while j < len(segs) and j - i < per and segs[j] == (p + j - i, r0, r1):
            j += 1
        spans.append((p, p + (j - i), r0, r1))
        i = j
    return spans


def tasks_for(sw: Sweep, spans: list[tuple[int, int, int, int]], threads: int | None) -> list[Task]:
    axes = tuple((a.key, a.kind) for a in sw.axes)
    # only the keys set: a full dump would name keys another world family rejects
    dumps = [sc.model_dump(mode="json", exclude_unset=True) for sc in sw.points]
    out = []
    for a, b, r0, r1 in spans:
        cells = tuple(
            tuple(ax.cell(v) for ax, v in zip(sw.axes, sw.values(p), strict=True))
            for p in range(a, b)
        )
        out.append(Task((a, b, r0, r1), tuple(dumps[a:b]), cells, axes, sw.seed, threads))
    # the longest first, so the last chunks to finish are short ones
    return sorted(out, key=lambda t: -t.cost)


@dataclass
class Started:
    """What the coordinator tells its caller before the first chunk runs."""

    total: int
    done: int
    chunks: int
    set_aside: tuple[str, ...] = ()  # damaged chunks moved to DIR/damaged/, to recompute


def prepare(sw: Sweep, out: Path) -> None:
    """Refuse a folder holding another sweep or other files; record this sweep."""
    path = out / sweep_store.SWEEP_FILE
    if path.is_file():
        old = sweep_store.read_sweep(out)
        if old.get("fingerprint") != sw.fingerprint:
            raise ConfigError(
                "--out",
                f"a new folder or one holding this same sweep (it holds sweep "
                f"'{old.get('name')}' with other settings)",
                str(out),
            )
    elif any(p.name != sweep_store.LOCK for p in out.iterdir()):
        raise ConfigError("--out", "a new or empty folder, or a sweep folder", str(out))
    store.write_json(sw.to_json(), path)


def run_sweep(
    sw: Sweep,
    out: Path,
    backend: Any,
    chunk: int = DEFAULT_CHUNK,
    threads: int | None = 1,
    on_start: Callable[[Started], None] | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run every missing run of ``sw`` into ``out`` on ``backend``; return the summary.

    ``backend.map(run_chunk, tasks)`` yields (task, table) as chunks finish, in any order.
    """
    if chunk < 1:
        raise ConfigError("--chunk", "at least 1", chunk)
    t0 = time.perf_counter()
    store.prepare_out(out)
    with sweep_store.locked(out):
        prepare(sw, out)
        sweep_store.clean_temporary(out)
        moved = tuple(str(p.relative_to(out)) for p in sweep_store.set_aside_damaged(out))
        done = sweep_store.covered(out, sw.n_points, sw.seeds)
        missing = int((~done).sum())
        # enough chunks to keep every worker busy to the end
        per = max(1, min(chunk, math.ceil(missing / (4 * max(1, backend.workers)))))
        tasks = tasks_for(sw, plan(done, per), threads)
        n_done = int(done.sum())
        if on_start is not None:
            on_start(Started(sw.total_runs, n_done, len(tasks), moved))
        last = time.monotonic()
        try:
            for task, table in backend.map(run_chunk, tasks):
                sweep_store.write_chunk(out, task.span, table)
                n_done += task.runs
                if on_chunk is not None:
                    on_chunk(task.runs)
                if time.monotonic() - last > MANIFEST_EVERY:
                    sweep_store.write_manifest(out, sw.fingerprint, n_done, sw.total_runs)
                    last = time.monotonic()
        finally:
            sweep_store.write_manifest(out, sw.fingerprint, n_done, sw.total_runs)
        return finish(sw, out, time.perf_counter() - t0)


def finish(sw: Sweep, out: Path, seconds: float) -> dict[str, Any]:
    """Per-point statistics (points.parquet) and the summary (summary.json)."""
    runs = sweep_store.read_runs(out)
    keys = ["point", *(a.key for a in sw.axes)]
    points = group_stats(runs, keys)
    store.write_parquet(points, out / sweep_store.POINTS)
    summ: dict[str, Any] = {
        "sweep": sw.name,
        "fingerprint": sw.fingerprint,
        "points": sw.n_points,
        "seeds": sw.seeds,
        "runs": runs.num_rows,
        "axes": [a.to_json() for a in sw.axes],
        "seconds": seconds,
    }
    store.write_json(summ, out / "summary.json")
    return summ
