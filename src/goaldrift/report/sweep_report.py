"""The report of a sweep folder: heatmaps and line plots over its axes, on one HTML page.

``write_sweep_report(DIR, x, y, fix)`` reads ``sweep.json`` and the finished runs, works out
which figures to draw (see ``resolve_views``), writes them to ``DIR/plots/`` and the page to
``DIR/report.html``. It reads the runs, not ``points.parquet``, so an unfinished sweep can be
looked at too (the page says how far it got).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

import goaldrift.report.html as html
from goaldrift.errors import ConfigError
from goaldrift.experiments.runs.outcome import OUTCOMES
from goaldrift.experiments.scenarios import parse_value
from goaldrift.experiments.sweeps import store as sweep_store
from goaldrift.experiments.sweeps.stats import group_stats
from goaldrift.experiments.sweeps.sweep import Axis
from goaldrift.report.plots import Plot
from goaldrift.report.sweep_plots import (
    PLOT_PREFIX,
    View,
    cell_stats,
    plot_heatmaps,
    plot_lines,
    plot_name,
    select_runs,
    value_label,
)

MAX_PAIRS = 6  # heatmap figures drawn by default
MAX_POINT_ROWS = 200  # rows of the points table


def sweep_axes(meta: dict[str, Any]) -> tuple[Axis, ...]:
    """The axes recorded in a sweep.json."""
    return tuple(
        Axis(str(a["key"]), tuple(a["values"]), str(a.get("scale", "list"))) for a in meta["axes"]
    )


def _same(a: Any, b: Any) -> bool:
    """Equal as values: numbers numerically (1 is 1.0), booleans only to booleans."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def _axis(axes: Sequence[Axis], key: str, option: str) -> Axis:
    for a in axes:
        if a.key == key:
            return a
    known = ", ".join(a.key for a in axes)
    raise ConfigError(option, f"an axis of the sweep, one of: {known}", key)


def parse_fix(entries: Sequence[str], axes: Sequence[Axis]) -> list[tuple[Axis, Any]]:
    """``KEY=VALUE`` entries as (axis, the axis value it names), in axis order.

    VALUE is read as a TOML value (a bare word is a string) and must equal one of the axis
    values; numbers compare numerically."""
    out: dict[str, tuple[Axis, Any]] = {}
    for entry in entries:
        key, eq, raw = entry.partition("=")
        key, raw = key.strip(), raw.strip()
        if not eq or not key or not raw:
            raise ConfigError("--fix", "of the form KEY=VALUE, e.g. world.diversity=0.5", entry)
        axis = _axis(axes, key, "--fix")
        if key in out:
            raise ConfigError("--fix", f"given once per axis ({key} is fixed twice)", entry)
        value = parse_value(raw)
        match = [v for v in axis.values if _same(v, value)]
        if not match:  # a string axis value that TOML reads as something else ("1", "true")
            match = [v for v in axis.values if isinstance(v, str) and v == raw]
        if not match:
            shown = ", ".join(value_label(axis, v, 40) for v in axis.values)
            raise ConfigError("--fix", f"a value of {key}, one of: {shown}", value)
        out[key] = (axis, match[0])
    return [out[a.key] for a in axes if a.key in out]


def resolve_views(
    axes: Sequence[Axis], x: str | None = None, y: str | None = None, fix: Sequence[str] = ()
) -> list[View]:
    """The figures to draw. Axes neither plotted nor fixed are pooled.

    ``x`` and ``y``: one heatmap figure. ``x`` alone: line plots over it. Neither: line
    plots when one axis is free (not fixed), else one heatmap per pair of free axes (the
    first ``MAX_PAIRS`` pairs, in axis order)."""
    fixed = parse_fix(fix, axes)
    fixed_keys = {a.key for a, _ in fixed}
    if y is not None and x is None:
        raise ConfigError("--x", "given with --y (the horizontal axis of the heatmap)", None)
    ax_x = _axis(axes, x, "--x") if x is not None else None
    ax_y = _axis(axes, y, "--y") if y is not None else None
    if ax_x is not None and ax_y is not None and ax_x.key == ax_y.key:
        raise ConfigError("--y", f"an axis other than --x ({ax_x.key})", ax_y.key)
    for option, a in (("--x", ax_x), ("--y", ax_y)):
        if a is not None and a.key in fixed_keys:
            raise ConfigError("--fix", f"an axis that is not plotted ({a.key} is {option})", a.key)
    free = [a for a in axes if a.key not in fixed_keys]
    pairs: Sequence[tuple[Axis, Axis | None]]
    if ax_x is not None:
        pairs = [(ax_x, ax_y)]
    elif len(free) == 1:
        pairs = [(free[0], None)]
    elif len(free) >= 2:
        pairs = list(itertools.combinations(free, 2))[:MAX_PAIRS]
    else:
        raise ConfigError(
            "--fix", "leaving at least one axis free to plot (every axis is fixed)", list(fix)
        )
    views = []
    for px, py in pairs:
        plotted = {px.key} | ({py.key} if py is not None else set())
        pooled = tuple(a for a in free if a.key not in plotted)
        views.append(View(px, py, tuple(fixed), pooled))
    return views


def _rate_label(meta: dict[str, Any]) -> str:
    """What the tamper rate of the sweep's world counts (``Family.tamper_unit``)."""
    from goaldrift.registry import family

    try:
        return family(str(meta.get("world", "qa"))).tamper_unit
    except Exception:  # a report must not fail because a plugin is missing
        return "the tamper share in the final window"


def _phase_rows(
    scenario: dict[str, Any], axes: Sequence[Axis]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The fixed phases: one row per phase, its settings (``swept`` where an axis sets
    one, a dash where the world's or agent's setting applies)."""
    swept: set[tuple[int, str]] = set()
    for a in axes:
        m = re.fullmatch(r"phases\.(\d+)\.([^.]+)", a.key)
        if m:
            swept.add((int(m.group(1)), m.group(2)))
    phases = scenario.get("phases") or []
    keys = ["steps"]
    for ph in phases:
        keys.extend(k for k in ph if k != "name" and k not in keys)
    keys.extend(k for _, k in sorted(swept) if k not in keys)
    rows = []
    for i, ph in enumerate(phases):
        cells = ["swept" if (i, k) in swept else ph.get(k) for k in keys]
        rows.append({"name": ph.get("name", str(i)), "cells": cells})
    return keys, rows


def _point_rows(runs: pa.Table, axes: Sequence[Axis]) -> list[dict[str, Any]]:
    """Per point with runs (in point order): its axis values and statistics."""
    g = group_stats(runs, ["point", *(a.key for a in axes)])
    rows = []
    for r in g.to_pylist():
        rows.append(
            {
                "point": r["point"],
                "values": [value_label(a, r[a.key], 30) for a in axes],
                "runs": r["runs"],
                "shares": [r[f"share.{o}"] for o in OUTCOMES],
                "register_flag": r["register_flag"],
                "tampers": r["tampers"],
            }
        )
    return sorted(rows, key=lambda d: d["point"])


def _figure_for(
    i: int,
    view: View,
    runs: pa.Table,
    name: str,
    rate: str,
    pdir: Path,
    scenario: dict[str, Any] | None = None,
) -> dict[str, Any]:
    sel = select_runs(runs, view.fixed)
    path = pdir / plot_name(i, view)
    if view.y is None:
        stats = cell_stats(sel, (view.x,))
        plot: Plot = plot_lines(stats, view, name, rate, path)
    else:
        stats = cell_stats(sel, (view.y, view.x))
        plot = plot_heatmaps(stats, view, name, rate, path, scenario)
    counts = stats["runs"][stats["runs"] > 0]
    return {
        "plot": Plot(f"plots/{plot.file}", plot.title, plot.caption),
        "fixed": [(a.key, value_label(a, v, 60)) for a, v in view.fixed],
        "pooled": [(a.key, len(a.values)) for a in view.pooled],
        "heatmap": view.y is not None,
        "runs": int(sel.num_rows),
        "cell_min": int(counts.min()) if counts.size else 0,
        "cell_max": int(counts.max()) if counts.size else 0,
        "empty": int((stats["runs"] == 0).sum()),
    }


def write_sweep_report(
    directory: Path, x: str | None = None, y: str | None = None, fix: Sequence[str] = ()
) -> Path:
    """Write ``directory/report.html`` with heatmaps (PNGs in ``directory/plots/``,
    ``phase-*.png``, replacing those of an earlier sweep report); return the page."""
    directory = Path(directory)
    meta = sweep_store.read_sweep(directory)
    axes = sweep_axes(meta)
    declared = meta.get("views") or []
    if x is None and y is None and not fix and declared:  # the sweep file's own figures
        views = [w for d in declared for w in resolve_views(axes, d["x"], d.get("y"), d["fix"])]
    else:
        views = resolve_views(axes, x, y, fix)
    seeds, n_points = int(meta["seeds"]), int(meta["points"])
    if not sweep_store.chunk_files(directory):
        raise ConfigError("DIR", "a sweep folder with finished runs (none yet)", str(directory))
    runs = sweep_store.read_runs(directory)
    if runs.num_rows == 0:
        raise ConfigError("DIR", "a sweep folder with finished runs (none yet)", str(directory))
    name = str(meta.get("name") or directory.name)
    rate = _rate_label(meta)
    pdir = directory / "plots"
    base = meta.get("scenario") or None
    figures = [_figure_for(i, v, runs, name, rate, pdir, base) for i, v in enumerate(views, 1)]
    written = {Path(f["plot"].file).name for f in figures}
    for old in pdir.glob(f"{PLOT_PREFIX}*.png"):  # figures of an earlier view
        if old.name not in written:
            old.unlink(missing_ok=True)
    point_rows = _point_rows(runs, axes)
    scenario = {k: v for k, v in (meta.get("scenario") or {}).items() if k != "runs"}
    phase_keys, phase_rows = _phase_rows(scenario, axes)
    total = n_points * seeds
    page = directory / "report.html"
    text = (
        html._env()
        .get_template("sweep.html.j2")
        .render(
            name=name,
            description=meta.get("description") or "",
            claim=meta.get("claim") or "",
            world=meta.get("world", ""),
            seed=meta.get("seed"),
            seeds=seeds,
            n_points=n_points,
            runs_done=runs.num_rows,
            runs_total=total,
            points_done=len(point_rows),
            axes=[
                {
                    "key": a.key,
                    "values": [value_label(a, v, 40) for v in a.values],
                    "scale": a.scale,
                    "kind": a.kind,
                }
                for a in axes
            ],
            figures=figures,
            settings=html.settings(scenario),
            phase_keys=phase_keys,
            phase_rows=phase_rows,
            point_axes=[a.key for a in axes],
            point_rows=point_rows[:MAX_POINT_ROWS],
            points_omitted=max(0, len(point_rows) - MAX_POINT_ROWS),
            outcomes=OUTCOMES,
            headline=html.sweep_headline(runs, [a.key for a in axes]),
        )
    )
    html._write_text(page, text)
    return page
