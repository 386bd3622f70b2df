"""Heatmaps and line plots of a sweep: the statistics of runs laid on the axes' value grid.

A view plots one axis (line plots) or two (heatmaps); the sweep's other axes are either fixed
at one value (runs filtered) or pooled (the runs of all their values taken together). The
data functions here are pure, so a test can check a drawn cell against the runs it comes
from; the drawing reuses the run report's Agg figure helpers (no pyplot).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure

import goaldrift.report.sweep_theory as sweep_theory
from goaldrift.experiments.runs.outcome import OUTCOMES
from goaldrift.experiments.sweeps.stats import METRICS, group_stats
from goaldrift.experiments.sweeps.sweep import Axis
from goaldrift.report.plots import (
    OUTCOME_COLOURS,
    ROLE_COLOURS,
    TAMPER_COLOUR,
    Plot,
    _figure,
    finish,
)

PLOT_PREFIX = "sweep-"  # every PNG a sweep report writes in plots/ starts with this
STATS = ("runs", *(f"{m}{s}" for m in METRICS for s in ("", ".lo", ".hi")))
RATE_COLOUR = "#7b3294"
ANNOTATE_MAX = 12  # cells are annotated with their value up to this many per side
TICKS_MAX = 12  # more values than this: label every k-th


# --- views and data -----------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """What one figure shows: ``x`` (and ``y`` for a heatmap) plotted, the other axes
    fixed at a value or pooled."""

    x: Axis
    y: Axis | None
    fixed: tuple[tuple[Axis, Any], ...] = ()
    pooled: tuple[Axis, ...] = ()

    @property
    def plotted(self) -> tuple[Axis, ...]:
        return (self.x,) if self.y is None else (self.x, self.y)

    def describe(self) -> str:
        """One line naming the fixed and pooled axes (for titles and captions)."""
        bits = [f"{a.key} = {value_label(a, v, 40)}" for a, v in self.fixed]
        out = [f"fixed: {', '.join(bits)}"] if bits else []
        if self.pooled:
            pooled = ", ".join(f"{a.key} ({len(a.values)} values)" for a in self.pooled)
            out.append(f"pooled over {pooled}")
        return "; ".join(out) if out else "no other axes"


def value_label(axis: Axis, v: Any, width: int = 14) -> str:
    """An axis value, short: numbers compactly (0.25, 4000, 1e+04), true/false as in TOML,
    tables as JSON; cut to ``width`` characters."""
    if isinstance(v, bool):
        text = "true" if v else "false"
    elif isinstance(v, int):
        text = str(v) if abs(v) < 1_000_000 else f"{v:.3g}"
    elif isinstance(v, float):
        text = f"{v:.4g}"
    elif isinstance(v, str):
        text = v
    else:
        text = json.dumps(v, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def select_runs(runs: pa.Table, fixed: Sequence[tuple[Axis, Any]]) -> pa.Table:
    """The runs at the fixed axis values (each value as the axis column stores it)."""
    for axis, v in fixed:
        col = runs.column(axis.key)
        runs = runs.filter(pc.equal(col, pa.scalar(axis.cell(v), type=col.type)))
    return runs


def cell_stats(runs: pa.Table, axes: Sequence[Axis]) -> dict[str, np.ndarray]:
    """``group_stats`` over ``axes`` laid on their value grid: one array per statistic of
    shape ``(len(axes[0].values), len(axes[1].values), ...)``, in axis-value order; NaN
    (``runs``: 0) where no run has that combination. Axes not listed are pooled."""
    shape = tuple(len(a.values) for a in axes)
    out = {name: np.full(shape, np.nan) for name in STATS}
    out["runs"] = np.zeros(shape)
    if runs.num_rows == 0:
        return out
    g = group_stats(runs, [a.key for a in axes])
    pos = []
    for a in axes:
        where = {a.cell(v): i for i, v in enumerate(a.values)}
        pos.append(np.array([where.get(k, -1) for k in g.column(a.key).to_pylist()], np.int64))
    ok = np.logical_and.reduce([p >= 0 for p in pos])  # a value not on its axis: not drawn
    idx = tuple(p[ok] for p in pos)
    for name in STATS:
        out[name][idx] = np.asarray(g.column(name).to_numpy(zero_copy_only=False), np.float64)[ok]
    return out


def phase_grid(runs: pa.Table, x: Axis, y: Axis, metric: str) -> np.ndarray:
    """The heatmap of one statistic: shape ``(len(y.values), len(x.values))``, row 0 the
    first y value (drawn at the bottom), NaN where there is no run. Other axes pooled."""
    return cell_stats(runs, (y, x))[metric]


def plot_name(i: int, view: View) -> str:
    """The PNG file name of the ``i``-th figure: numbered, so sorting gives page order."""
    keys = "--".join(a.key for a in view.plotted)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", keys)
    return f"{PLOT_PREFIX}{i:02d}-{'heatmap' if view.y is not None else 'lines'}-{slug}.png"


# --- heatmaps -----------------------------------------------------------------------------


def _ramp(colour: str) -> Colormap:
    return LinearSegmentedColormap.from_list(colour, ["#ffffff", colour])


@dataclass(frozen=True)
class _Panel:
    metric: str
    title: str
    cmap: Colormap
    kind: str  # "share", "flag" or "rate"


def _panels() -> list[_Panel]:
    # the grey of "mixed" is too light for a ramp from white: a darker grey
    colours = {**OUTCOME_COLOURS, "mixed": "#4d4d4d"}
    shares = [
        _Panel(f"share.{o}", f"{o} (share of runs)", _ramp(colours.get(o, "#4d4d4d")), "share")
        for o in OUTCOMES
    ]
    return [
        *shares,
        _Panel("intended_flag", "flag on intended concept (mean)", colormaps["PRGn"], "flag"),
        _Panel("register_flag", "flag on register concept (mean)", colormaps["RdBu_r"], "flag"),
        _Panel("tampers", "runs that tamper (share)", _ramp(TAMPER_COLOUR), "share"),
        _Panel("tamper_rate", "tamper rate (mean)", _ramp(RATE_COLOUR), "rate"),
    ]


def _finite_max(*arrays: np.ndarray) -> float:
    vals = np.concatenate([np.abs(a[np.isfinite(a)]) for a in arrays])
    return float(vals.max()) if vals.size else 0.0


def _tick_labels(axis: Axis) -> tuple[list[int], list[str]]:
    """Indices of the values to label (every k-th beyond ``TICKS_MAX``) and their labels."""
    pos = list(range(0, len(axis.values), max(1, math.ceil(len(axis.values) / TICKS_MAX))))
    return pos, [value_label(axis, axis.values[i]) for i in pos]


def _ticks(ax: Axes, axis: Axis, which: str) -> None:
    pos, labels = _tick_labels(axis)
    if which == "x":
        _xticks(ax, pos, labels, 26)
    else:
        ax.set_yticks(pos, labels)
    ax.tick_params(labelsize=8)


def _xticks(ax: Axes, pos: Sequence[float], labels: list[str], room: int) -> None:
    """Tick labels along x, slanted when they would not fit side by side in ``room``
    characters."""
    slant = len(labels) * max(map(len, labels), default=0) > room
    ax.set_xticks(pos, labels, rotation=35 if slant else 0, ha="right" if slant else "center")


def _cell_text(v: float, kind: str, tight: bool) -> str:
    text = f"{v:.2f}" if kind != "rate" or v < 10 else f"{v:.3g}"
    if tight:  # ".25" instead of "0.25" where cells are narrow
        text = text.replace("0.", ".", 1) if text.startswith(("0.", "-0.")) else text
    return text


def _annotate(ax: Axes, grid: np.ndarray, cmap: Colormap, norm: Normalize, kind: str) -> None:
    ny, nx = grid.shape
    size = 9.0 if max(nx, ny) <= 4 else 8.0 if max(nx, ny) <= 6 else 6.5 if nx <= 9 else 5.5
    for i in range(ny):
        for j in range(nx):
            v = grid[i, j]
            if not np.isfinite(v):
                continue
            r, g, b, _ = cmap(norm(v))
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            ax.text(
                j,
                i,
                _cell_text(float(v), kind, nx > 8),
                ha="center",
                va="center",
                fontsize=size,
                color="white" if dark else "0.1",
            )


def plot_heatmaps(
    stats: dict[str, np.ndarray],
    view: View,
    name: str,
    rate_label: str,
    path: Path,
    scenario: dict[str, Any] | None = None,
) -> Plot:
    """One PNG, a 2×4 grid of heatmaps over (x, y): the share of each outcome class, the
    mean final flag on the intended and register concepts, the share of runs that tamper and
    the mean tamper rate. ``stats``: ``cell_stats(runs, (y, x))``. With the sweep's base
    ``scenario``, where the closed form applies (``sweep_theory.applies``), the two flag
    panels also show the predicted and the measured register boundary."""
    assert view.y is not None
    x, y = view.x, view.y
    ny, nx = stats["runs"].shape
    panels = _panels()
    pw = min(4.2, max(2.7, 0.3 * nx + 1.3))
    ph = min(4.0, max(2.4, 0.27 * ny + 1.3))
    fig = _figure(4 * pw + 0.6, 2 * ph + 1.1)
    axs = fig.subplots(2, 4, sharex=True, sharey=True)
    flag_max = _finite_max(stats["intended_flag"], stats["register_flag"]) or 1.0
    rate_max = max(1.0, _finite_max(stats["tamper_rate"]))
    theory = scenario is not None and sweep_theory.applies(
        scenario, (x, y, *(a for a, _ in view.fixed), *view.pooled), view.pooled
    )
    for ax, p in zip(axs.flat, panels, strict=True):
        grid = stats[p.metric]
        if p.kind == "flag":
            norm = Normalize(-flag_max, flag_max)
        else:
            norm = Normalize(0.0, rate_max if p.kind == "rate" else 1.0)
        cmap = p.cmap
        # cells without runs are transparent over a hatched background
        ax.set_facecolor("0.96")
        ax.patch.set_hatch("///")
        ax.patch.set_edgecolor("0.8")
        im = ax.imshow(
            np.ma.masked_invalid(grid),
            origin="lower",
            aspect="auto",
            interpolation="nearest",
            cmap=cmap,
            norm=norm,
        )
        if nx <= ANNOTATE_MAX and ny <= ANNOTATE_MAX:
            _annotate(ax, grid, cmap, norm, p.kind)
        cb = fig.colorbar(im, ax=ax, fraction=0.07, pad=0.03, aspect=18)
        cb.ax.tick_params(labelsize=7)
        ax.set_title(p.title, fontsize=9, loc="left")
        if theory and p.metric in ("intended_flag", "register_flag"):
            assert scenario is not None
            sweep_theory.draw_boundaries(ax, scenario, stats, x, y, view.fixed)
        _ticks(ax, x, "x")
        _ticks(ax, y, "y")
    for ax in axs[-1]:
        ax.set_xlabel(x.key, fontsize=9)
    for ax in axs[:, 0]:
        ax.set_ylabel(y.key, fontsize=9)
    return _finish(
        fig,
        view,
        path,
        f"{name}: {y.key} against {x.key}",
        f"Sweep heatmap: {y.key} against {x.key}",
        "Each cell pools the runs at one pair of values. Top row: the share of runs in each "
        "outcome class (colour scale 0–1). Bottom row: the mean final flag weight on the "
        "intended and on the register concept (diverging scale, symmetric around 0, shared "
        f"by both), the share of runs that tamper (0–1), and the mean tamper rate ({rate_label}; "
        "0–1, or up to its largest value above 1). Hatched: no finished run in the cell (for "
        "the tamper rate: none in which it is defined, e.g. without register access)."
        + (sweep_theory.CAPTION if theory else ""),
    )


def _finish(fig: Figure, view: View, path: Path, heading: str, title: str, caption: str) -> Plot:
    """Name the fixed and pooled axes under the figure, then ``plots.finish``."""
    fig.supxlabel(view.describe(), fontsize=8.5, color="0.25")
    return finish(fig, path, heading, title, caption)


# --- line plots ---------------------------------------------------------------------------


def _positions(ax: Axes, axis: Axis) -> np.ndarray:
    """x positions: the values for numbers (log-scaled on a log axis), else 0, 1, 2, ..."""
    n = len(axis.values)
    if axis.kind in ("int", "float"):
        xs = np.asarray(axis.values, np.float64)
        if axis.scale == "log":
            ax.set_xscale("log")
            ax.minorticks_off()
        if n <= TICKS_MAX:
            ax.set_xticks(xs, [value_label(axis, v) for v in axis.values])
        return xs
    xs = np.arange(n, dtype=np.float64)
    pos, labels = _tick_labels(axis)
    _xticks(ax, pos, labels, 40)
    ax.set_xlim(-0.4, n - 0.6)
    return xs


def _line(
    ax: Axes, xs: np.ndarray, stats: dict[str, np.ndarray], metric: str, colour: str, label: str,
    ls: str = "-",
) -> None:  # fmt: skip
    ax.fill_between(
        xs, stats[f"{metric}.lo"], stats[f"{metric}.hi"], color=colour, alpha=0.15, lw=0
    )
    ax.plot(xs, stats[metric], color=colour, lw=1.8, ls=ls, marker="o", ms=4, label=label)


def plot_lines(
    stats: dict[str, np.ndarray], view: View, name: str, rate_label: str, path: Path
) -> Plot:
    """One PNG of three panels over x: outcome shares (Wilson bands), mean final flag on the
    intended and register concepts (95% intervals), tampering share (Wilson band) and mean
    tamper rate. ``stats``: ``cell_stats(runs, (x,))``."""
    x = view.x
    fig = _figure(13.0, 4.4)
    axs = fig.subplots(1, 3)
    for ax in axs:
        xs = _positions(ax, x)
        ax.set_xlabel(x.key, fontsize=9)
        ax.grid(True, axis="y", color="0.88", lw=0.7)
        ax.tick_params(labelsize=8)
    ax_o, ax_f, ax_t = axs
    for o in OUTCOMES:
        _line(ax_o, xs, stats, f"share.{o}", OUTCOME_COLOURS.get(o, "0.4"), o)
    ax_o.set_ylim(-0.02, 1.02)
    ax_o.set_ylabel("share of runs")
    ax_o.set_title("outcome classes", fontsize=9.5, loc="left")
    _line(ax_f, xs, stats, "intended_flag", ROLE_COLOURS["intended"], "intended concept")
    _line(ax_f, xs, stats, "register_flag", ROLE_COLOURS["register"], "register concept")
    ax_f.axhline(0, color="0.6", lw=0.6, zorder=1)
    ax_f.set_ylabel("final flag weight (mean)")
    ax_f.set_title("flag weight", fontsize=9.5, loc="left")
    _line(ax_t, xs, stats, "tampers", TAMPER_COLOUR, "runs that tamper (share)")
    _line(ax_t, xs, stats, "tamper_rate", RATE_COLOUR, "tamper rate (mean)", ls="--")
    ax_t.set_ylim(-0.02, max(1.02, 1.05 * _finite_max(stats["tamper_rate.hi"])))
    ax_t.set_ylabel("share / rate")
    ax_t.set_title("tampering", fontsize=9.5, loc="left")
    for ax in axs:
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=8, frameon=False
        )
    return _finish(
        fig,
        view,
        path,
        f"{name}: against {x.key}",
        f"Against {x.key}",
        "Left: the share of runs in each outcome class. Middle: the mean final flag weight "
        "on the intended and on the register concept. Right: the share of runs that tamper "
        f"(solid) and the mean tamper rate ({rate_label}; dashed). Bands: 95% Wilson intervals for "
        "shares, 95% normal intervals for means.",
    )
