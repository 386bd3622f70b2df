"""Plots of a run folder, one PNG each, plus the pure table helpers they are drawn from.

This module holds the helpers and the figures every world has (flag, outcomes, awareness);
``qa_plots`` and ``grid_plots`` those of one world family, and ``figures`` names them all.

Figures are built with ``matplotlib.figure.Figure`` and rendered by the Agg canvas directly:
no pyplot, so importing this module neither switches the user's backend nor keeps figures
alive in a global registry. Concepts are discovered from the ``flag.*`` columns, so a world
with other concepts is drawn the same way.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from goaldrift.experiments.runs.store import atomic_path
from goaldrift.worlds.base import Concept

ROLE_COLOURS = {
    "intended": "#1a9850",
    "register": "#d73027",
    "proxy": "#f08c00",
    "other": "#7b3294",
}
FALLBACK_COLOURS = (
    "#1f77b4",
    "#d62728",
    "#ff7f0e",
    "#9467bd",
    "#2ca02c",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
OUTCOME_COLOURS = {
    "aligned": ROLE_COLOURS["intended"],
    "proxy": ROLE_COLOURS["proxy"],
    "wirehead": ROLE_COLOURS["register"],
    "mixed": "#8c8c8c",
}
RELATION_COLOURS = ("#3b3b3b", "#1f78b4", "#b15928", "#6a3d9a", "#33a02c", "#e31a1c")
TAMPER_COLOUR = "#b2182b"
NEUTRAL = "#4d4d4d"
DPI = 110
SHORT = (
    " Windows shorter than a quarter of sample_every (cut short by a phase boundary) are left out."
)


# --- data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFolder:
    """What a report reads from a run folder written by `goaldrift run`."""

    directory: Path
    runs: pa.Table
    series: pa.Table
    scenario: dict[str, Any]
    seed: int | None
    world: dict[str, Concept]

    @property
    def concepts(self) -> list[str]:
        """Concept names, from the ``flag.*`` columns of runs.parquet (else series.parquet)."""
        return prefixed(self.runs) or prefixed(self.series)

    @property
    def min_window(self) -> int:
        """Shortest sample window drawn in rate plots: a quarter of ``sample_every``."""
        every = self.scenario.get("sample_every")
        return int(every) // 4 if isinstance(every, int) else 0

    @property
    def n_runs(self) -> int:
        return self.runs.num_rows


@dataclass(frozen=True)
class PhaseSpan:
    """A phase on the global time axis, with the settings that matter for reading a plot.

    ``note``: the settings line drawn above the phase, when it is not the Register-QA one
    (supervisor and access)."""

    name: str
    start: int
    end: int
    supervisor: bool
    access: float
    note: str | None = None


@dataclass(frozen=True)
class Event:
    """The first step of one event across runs: how many runs had it and where it fell."""

    column: str
    label: str
    colour: str
    n: int
    p10: float
    median: float
    p90: float


@dataclass(frozen=True)
class Plot:
    """A written PNG: its path relative to the report, a title and a caption."""

    file: str
    title: str
    caption: str


def prefixed(table: pa.Table, prefix: str = "flag.") -> list[str]:
    """Names after ``prefix`` of the columns that carry it, in column order."""
    return [c.removeprefix(prefix) for c in table.column_names if c.startswith(prefix)]


def floats(table: pa.Table, column: str) -> np.ndarray:
    """A column as float64 with nulls as NaN (booleans become 0.0/1.0)."""
    col = table.column(column)
    if not pa.types.is_float64(col.type):
        col = pc.cast(col, pa.float64())
    return np.asarray(col.to_numpy(), dtype=np.float64)


def by_step(series: pa.Table, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct steps and a (steps, runs) matrix of the column, NaN-padded.

    Rows with the same step are collected whatever their order, so a series that is not
    rectangular (runs of different lengths) is handled too.
    """
    step = series.column("step").to_numpy()
    vals = floats(series, column)
    steps, inv = np.unique(step, return_inverse=True)
    if len(steps) == 0:
        return steps, np.empty((0, 0))
    counts = np.bincount(inv, minlength=len(steps))
    order = np.argsort(inv, kind="stable")
    grp = inv[order]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = np.arange(len(order)) - starts[grp]
    m = np.full((len(steps), int(counts.max())), np.nan)
    m[grp, pos] = vals[order]
    return steps, m


def quantile_bands(
    series: pa.Table, column: str, lo: float = 0.1, hi: float = 0.9
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(steps, p_lo, median, p_hi) of a column across runs at each step, nulls ignored.

    Quantiles interpolate linearly (numpy's default); a step where every run is null gives NaN.
    """
    steps, m = by_step(series, column)
    if m.size == 0:
        e = np.empty(0)
        return steps, e, e, e
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = np.nanquantile(m, [lo, 0.5, hi], axis=1)
    return steps, q[0], q[1], q[2]


def mean_by_step(series: pa.Table, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, mean across runs) of a column, nulls ignored; NaN where all are null."""
    steps, m = by_step(series, column)
    if m.size == 0:
        return steps, np.empty(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return steps, np.nanmean(m, axis=1)


def has_data(series: pa.Table, column: str) -> bool:
    return column in series.column_names and series.column(column).null_count < len(series)


def _family(scenario: dict[str, Any]) -> Any:
    """The family of a recorded scenario's world, or None if it is not installed."""
    from goaldrift.registry import family

    try:
        return family(str((scenario.get("world") or {}).get("kind", "qa")))
    except Exception:  # a report must not fail because a plugin is missing
        return None


def phase_spans(scenario: dict[str, Any]) -> list[PhaseSpan]:
    """The scenario's phases laid end to end, with effective supervisor and access, and the
    world family's settings line where it has one (``Family.phase_note``)."""
    world = scenario.get("world", {}) or {}
    agent = scenario.get("agent", {}) or {}
    fam = _family(scenario)
    spans, t = [], 0
    for ph in scenario.get("phases", []) or []:
        steps = int(ph.get("steps", 0))
        sup = ph.get("supervisor")
        acc = ph.get("access")
        eps = ph.get("epsilon")
        effective = {**ph, "epsilon": agent.get("epsilon") if eps is None else eps}
        note = None if fam is None else fam.phase_note(world, effective)
        if note is not None:  # the signal never leaves; only a supervisor can be absent
            sup = world.get("supervisor") if sup is None else sup
            sup = sup is not False
        spans.append(
            PhaseSpan(
                name=str(ph.get("name", "?")),
                start=t,
                end=t + steps,
                supervisor=bool(world.get("supervisor", True) if sup is None else sup),
                access=float(world.get("access", 0.0) if acc is None else acc),
                note=note,
            )
        )
        t += steps
    return spans


def concept_colours(concepts: Sequence[str], world: dict[str, Concept]) -> dict[str, str]:
    """Colour by role when every concept has a known, distinct role; else a fixed palette."""
    roles = [world[c].role if c in world else None for c in concepts]
    if all(r is not None for r in roles) and len(set(roles)) == len(roles):
        return {c: ROLE_COLOURS[str(r)] for c, r in zip(concepts, roles, strict=True)}
    return {c: FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)] for i, c in enumerate(concepts)}


def concept_label(name: str, world: dict[str, Concept]) -> str:
    return f"{name} ({world[name].role})" if name in world else name


def event_label(column: str) -> str:
    name = column.removeprefix("step.")
    if name.startswith("aware."):
        return f"aware of {name.removeprefix('aware.')}"
    if name.startswith("relation."):
        return f"relation {name.removeprefix('relation.')}"
    return {
        "tamper": "first tamper (any)",
        "tamper_beyond": "first tamper beyond the control",
        "merge": "first merge",
        "split": "first split",
        "flag_moved": "top concept first changes",
    }.get(name, name.replace("_", " "))


def events(rf: RunFolder) -> list[Event]:
    """Every ``step.*`` column of runs.parquet summarised across the runs that had it."""
    colours = concept_colours(rf.concepts, rf.world)
    out = []
    rel_i = 0
    for col in rf.runs.column_names:
        if not col.startswith("step."):
            continue
        name = col.removeprefix("step.")
        if name.startswith("aware."):
            colour = colours.get(name.removeprefix("aware."), NEUTRAL)
        elif name.startswith("relation."):
            colour = RELATION_COLOURS[rel_i % len(RELATION_COLOURS)]
            rel_i += 1
        elif name in ("tamper", "tamper_beyond"):
            colour = TAMPER_COLOUR
        else:
            colour = NEUTRAL
        v = floats(rf.runs, col)
        v = v[np.isfinite(v)]
        if len(v):
            p10, med, p90 = (float(x) for x in np.quantile(v, [0.1, 0.5, 0.9]))
        else:
            p10 = med = p90 = float("nan")
        out.append(Event(col, event_label(col), colour, len(v), p10, med, p90))
    return out


# --- drawing ------------------------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    fig.clear()


def _phases(ax: Axes, spans: list[PhaseSpan], label: bool = True) -> None:
    """Shade unsupervised phases, draw boundaries, and name each phase above the axes."""
    for sp in spans:
        if not sp.supervisor:
            ax.axvspan(sp.start, sp.end, color="0.92", zorder=0, lw=0)
    for sp in spans[1:]:
        ax.axvline(sp.start, color="0.3", lw=1.0, ls="--", zorder=1)
    if spans:
        ax.set_xlim(spans[0].start, spans[-1].end)
    if not label:
        return
    trans = ax.get_xaxis_transform()
    total = max(spans[-1].end - spans[0].start, 1)
    for sp in spans:
        bits = ["supervised" if sp.supervisor else "no supervisor"]
        if sp.access > 0:
            bits.append(f"access {sp.access:g}")
        line = ", ".join(bits) if sp.note is None else sp.note
        narrow = (sp.end - sp.start) / total < 0.15  # too narrow for the settings line
        ax.text(
            (sp.start + sp.end) / 2,
            1.015,
            sp.name if narrow or not line else f"{sp.name}\n{line}",
            transform=trans,
            ha="center",
            va="bottom",
            fontsize=7.5 if narrow else 8.5,
            linespacing=1.25,
            color="0.15",
            clip_on=False,
        )


def time_axes(
    fig: Figure,
    ax: Axes,
    spans: list[PhaseSpan],
    ylabel: str,
    *,
    share: bool = False,
    zero: bool = False,
    ends: list[tuple[float, str, str]] | None = None,
    legend: str | None = "style",
) -> None:
    """The frame every plot over steps shares: phase spans, the y label (a share: 0 to 1; a
    signed value: a zero line), the steps axis, labels at the lines' ends, and the legend:
    the line-style key (``"style"``), the plot's own labelled lines before it (``"all"``) or
    none."""
    _phases(ax, spans)
    if zero:
        ax.axhline(0, color="0.6", lw=0.6, zorder=1)
    if share:
        ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel(ylabel)
    _steps_axis(ax)
    if ends is not None:
        _end_labels(ax, ends)
    if legend == "all":
        handles, _ = ax.get_legend_handles_labels()
        _legend(fig, [*handles, *_style_keys()])
    elif legend == "style":
        _legend(fig, _style_keys())


def _steps_axis(ax: Axes) -> None:
    ax.set_xlabel("step")
    ax.xaxis.set_major_formatter("{x:,.0f}")
    ax.grid(True, axis="y", color="0.88", lw=0.7)
    ax.margins(x=0)


def _band(
    ax: Axes,
    series: pa.Table,
    column: str,
    colour: str,
    label: str,
    mean: bool = True,
    min_window: int = 0,
) -> float:
    """Median line, 10-90% band and (optionally) dotted mean; returns the last median.

    Samples whose window is shorter than ``min_window`` steps are left out.
    """
    steps, p10, p50, p90 = quantile_bands(series, column)
    keep = full_windows(steps, min_window)
    steps, p10, p50, p90 = steps[keep], p10[keep], p50[keep], p90[keep]
    ax.fill_between(steps, p10, p90, color=colour, alpha=0.18, lw=0)
    ax.plot(steps, p50, color=colour, lw=2.0, label=label)
    if mean:
        s, m = mean_by_step(series, column)
        ax.plot(s[keep], m[keep], color=colour, lw=1.1, ls=":")
    return _last(p50)


def control_line(ax: Axes, rf: RunFolder, spans: list[PhaseSpan], what: str) -> None:
    """The matched control's mean tamper share over the final outcome window (the level a run
    must exceed, beyond noise, to count as tampering; docs/model.md §5)."""
    if "tamper_control" not in rf.runs.column_names or not spans:
        return
    level = floats(rf.runs, "tamper_control")
    level = level[np.isfinite(level)]
    if len(level) == 0:
        return
    end = spans[-1].end
    window = (rf.scenario.get("outcome") or {}).get("window")
    start = max(end - int(window), spans[0].start) if window else spans[-1].start
    y = float(level.mean())
    ax.hlines(y, start, end, color="#7b3294", lw=1.2, ls=(0, (2, 2)))
    ax.text(end, y, f"matched control, {what} (final {end - start:,} steps) ", fontsize=7.5,
            color="#7b3294", va="bottom", ha="right")  # fmt: skip


def full_windows(steps: np.ndarray, min_window: int) -> np.ndarray:
    """Mask of sorted window-end steps whose window (from the previous end) is long enough.

    Windows are cut at phase boundaries, so a phase whose length is not a multiple of
    ``sample_every`` ends in a short window whose rates are too noisy to draw.
    """
    lengths = np.diff(np.asarray(steps), prepend=0)
    return np.asarray(lengths >= min_window)


def _style_keys(mean: bool = True) -> list[Any]:
    keys: list[Any] = [
        Line2D([], [], color="0.3", lw=2.0, label="median over runs"),
        Patch(color="0.3", alpha=0.18, label="10–90% of runs"),
    ]
    if mean:
        keys.append(Line2D([], [], color="0.3", lw=1.1, ls=":", label="mean over runs"))
    return keys


def _last(y: np.ndarray) -> float:
    ok = np.flatnonzero(np.isfinite(y))
    return float(y[ok[-1]]) if len(ok) else float("nan")


def dodge(ys: Sequence[float], gap: float, lo: float = 0.0, hi: float = 1.0) -> list[float]:
    """Positions near ``ys`` (axes fractions) at least ``gap`` apart, kept inside [lo, hi]."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    pos = [min(max(y, lo), hi) for y in ys]
    for a, b in itertools.pairwise(order):  # push up from the bottom
        pos[b] = max(pos[b], pos[a] + gap)
    if order:
        pos[order[-1]] = min(pos[order[-1]], hi)
    for a, b in itertools.pairwise(order[::-1]):  # then down from the top, where it overflows
        pos[b] = min(pos[b], pos[a] - gap)
    return pos


def _end_labels(ax: Axes, items: list[tuple[float, str, str]]) -> None:
    """Name each line just right of the axes at its last value, pushed apart where they meet."""
    items = [it for it in items if np.isfinite(it[0])]
    if not items:
        return
    y0, y1 = ax.get_ylim()
    ax.set_ylim(y0, y1)
    frac = [(y - y0) / (y1 - y0) for y, _, _ in items]
    for f, (_, text, colour) in zip(dodge(frac, 0.058), items, strict=True):
        ax.text(
            1.008,
            f,
            text,
            transform=ax.transAxes,
            color=colour,
            fontsize=8.5,
            va="center",
            ha="left",
            fontweight="bold",
            clip_on=False,
        )


def _legend(fig: Figure, handles: list[Any]) -> None:
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 4),
        fontsize=8.5,
        frameon=False,
    )


def finish(fig: Figure, path: Path, heading: str, title: str, caption: str) -> Plot:
    """Give the figure its heading, save it, and describe it for the page."""
    _title(fig, heading)
    _save(fig, path)
    return Plot(path.name, title, caption)


def _title(fig: Figure, text: str) -> None:
    fig.suptitle(text, fontsize=12, x=0.01, ha="left", fontweight="bold")


_TL_TEXT: dict[str, Any] = {
    "va": "center",
    "fontsize": 8,
    "bbox": {"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1.0},
}


def plot_flag(rf: RunFolder, path: Path) -> Plot:
    """The key plot: flag weight per concept over time, with an event timeline beneath."""
    spans = phase_spans(rf.scenario)
    concepts = rf.concepts
    colours = concept_colours(concepts, rf.world)
    shown = [e for e in events(rf) if e.n > 0 and e.p90 > 0]
    ev_h = 0.32 * len(shown) + 0.45
    fig = _figure(10.5, 4.6 + (ev_h if shown else 0.0))
    if shown:
        ax, tl = fig.subplots(2, 1, sharex=True, height_ratios=[4.0, ev_h])
    else:
        ax, tl = fig.subplots(1, 1), None
    ends = []
    for c in concepts:
        y = _band(ax, rf.series, f"flag.{c}", colours[c], concept_label(c, rf.world))
        ends.append((y, concept_label(c, rf.world), colours[c]))
    time_axes(fig, ax, spans, "flag weight", zero=True, ends=ends, legend="style")
    if tl is not None:
        ax.set_xlabel("")
        n = rf.n_runs
        span = (spans[-1].end - spans[0].start) if spans else 1
        right = spans[-1].end if spans else 1
        for i, e in enumerate(shown):
            tl.hlines(i, e.p10, e.p90, color=e.colour, lw=4, alpha=0.35)
            tl.plot([e.median], [i], marker="D", ms=6, color=e.colour, ls="none")
            text = f"{e.label}  ({e.n}/{n})"
            if e.p90 + 0.02 * span + 0.0075 * span * len(text) < right:
                tl.text(e.p90 + 0.012 * span, i, text, ha="left", **_TL_TEXT)
            else:
                tl.text(e.p10 - 0.012 * span, i, text, ha="right", **_TL_TEXT)
        tl.set_yticks([])
        tl.set_ylim(len(shown) - 0.4, -0.6)
        tl.tick_params(axis="y", length=0)
        _phases(tl, spans, label=False)
        _steps_axis(tl)
        tl.grid(False)
        tl.set_title(
            "first step of each event: ◆ median, bar 10–90% (runs with the event / all runs)",
            fontsize=8.5,
            loc="left",
            color="0.25",
        )
    return finish(
        fig,
        path,
        f"{rf.scenario.get('name', '')}: flag weight per concept",
        "Flag weight per concept",
        "Line: median over runs; band: 10th–90th percentile; dotted: mean. Dashed verticals "
        "mark phase boundaries; grey shading marks phases without a supervisor. Beneath: "
        "the first step of each event in the runs that had it (awareness from the first "
        "step is not drawn).",
    )


def plot_outcomes(outcomes: list[dict[str, Any]], n: int, name: str, path: Path) -> Plot:
    """Outcome counts with 95% Wilson intervals (``outcomes``: name, count, lo, hi shares)."""
    fig = _figure(6.5, 3.6)
    ax = fig.subplots()
    xs = np.arange(len(outcomes))
    counts = np.array([o["count"] for o in outcomes], dtype=float)
    lo = np.array([o["lo"] for o in outcomes]) * n
    hi = np.array([o["hi"] for o in outcomes]) * n
    colours = [OUTCOME_COLOURS.get(o["name"], "0.5") for o in outcomes]
    ax.bar(xs, counts, color=colours, width=0.6, zorder=2)
    ax.errorbar(
        xs,
        counts,
        yerr=[np.maximum(counts - lo, 0), np.maximum(hi - counts, 0)],
        fmt="none",
        ecolor="0.15",
        capsize=6,
        lw=1.2,
        zorder=3,
    )
    for x, o, h in zip(xs, outcomes, hi, strict=True):
        share = o["count"] / n if n else 0.0
        ax.text(float(x), h + n * 0.02, f"{o['count']} ({share:.0%})", ha="center", fontsize=9)
    ax.set_xticks(xs, [o["name"] for o in outcomes])
    ax.set_ylim(0, max(n, 1) * 1.12)
    ax.set_ylabel("runs")
    ax.grid(True, axis="y", color="0.88", lw=0.7, zorder=0)
    ax.set_title("whiskers: 95% Wilson interval", fontsize=8.5, loc="left", color="0.25")
    return finish(
        fig,
        path,
        f"{name}: outcomes of {n} runs",
        "Outcomes",
        "Runs per outcome class with 95% Wilson score intervals for the count.",
    )


def plot_awareness(rf: RunFolder, path: Path) -> Plot:
    """Share of runs aware of each concept, with each relation noticed, with merged concepts."""
    spans = phase_spans(rf.scenario)
    s = rf.series
    colours = concept_colours(rf.concepts, rf.world)
    fig = _figure(10.5, 4.2)
    ax = fig.subplots()
    ends: list[tuple[float, str, str]] = []
    handles: list[Any] = []

    def line(column: str, colour: str, label: str, ls: str, lw: float) -> None:
        st, m = mean_by_step(s, column)
        if np.nanmax(m, initial=0.0) > 0:
            (h,) = ax.plot(st, m, color=colour, lw=lw, ls=ls, label=label)
            handles.append(h)
            ends.append((_last(m), label, colour))

    for c in prefixed(s, "aware."):
        line(f"aware.{c}", colours.get(c, NEUTRAL), f"aware of {c}", "-", 2.0)
    for i, r in enumerate(prefixed(s, "relation.")):
        line(
            f"relation.{r}", RELATION_COLOURS[i % len(RELATION_COLOURS)], f"relation {r}", "--", 1.6
        )
    for c in prefixed(s, "merged."):
        line(f"merged.{c}", colours.get(c, NEUTRAL), f"{c} merged", ":", 1.6)
    if not handles:
        ax.text(
            0.5,
            0.5,
            "no awareness, relation or merge recorded",
            ha="center",
            transform=ax.transAxes,
            color="0.4",
        )
    time_axes(fig, ax, spans, "share of runs", share=True, ends=ends, legend=None)
    return finish(
        fig,
        path,
        f"{rf.scenario.get('name', '')}: awareness, relations and merges",
        "Awareness, relations and merges",
        "Share of runs, at the end of each sample window, in which a concept is in the "
        "agent's ontology (solid), a relation between two concepts is noticed (dashed) or a "
        "concept is merged into a node (dotted). Lines that stay at zero are left out.",
    )
