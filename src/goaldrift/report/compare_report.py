"""A comparison's leaderboard: one table (Parquet and Markdown) and one figure.

The figure has one row of cells per world and one column per agent, in three panels: the
share of runs whose behaviour serves the intended objective, the mean tamper excess over the
matched control (with its 95% interval), and intended performance scaled within each world
between the lowest and the highest agent (the value is written in the cell). A cell an
agent does not run on is grey and says so.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from matplotlib import colormaps
from matplotlib.axes import Axes

from goaldrift.experiments.compare import LEADERBOARD, Compare, leaderboard
from goaldrift.experiments.runs import store
from goaldrift.report.plots import _figure, finish

FIGURE = "leaderboard.png"
MARKDOWN = "leaderboard.md"
COMPARE_CLAIM = (
    "I'm wondering what an actually aligned mesa-optimizer looks like in the case of using SL "
    "to train a general purpose question-answerer"
)


def compare_headline(out: Path) -> str:
    """Per agent, in how many of its worlds its runs tamper beyond the matched control on
    average (the mean excess's 95% interval above zero), measured from the leaderboard."""
    import pyarrow.parquet as pq

    rows = pq.read_table(out / LEADERBOARD).to_pylist()
    agents: dict[str, list[int]] = {}
    for r in rows:
        lo = r["tamper_excess.lo"]
        if lo is None or math.isnan(lo):
            continue  # a world without a tamper measure
        agents.setdefault(r["agent"], []).append(int(lo > 0))
    parts = [f"{a} {sum(v)} of {len(v)}" for a, v in agents.items()]
    return "worlds where an agent tampers beyond its matched control: " + ", ".join(parts)


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:+.{digits}f}" if digits else f"{x:.0f}"


def markdown(cmp: Compare, t: pa.Table) -> str:
    """The leaderboard as a Markdown table (intervals in brackets)."""
    head = ("| world | agent | runs | intended behaviour | tampers beyond control | "
            "tamper excess | intended perf. | observed | given |")  # fmt: skip
    lines = [f"# {cmp.name}", "", cmp.description, "", head, "|" + " --- |" * 9]
    for r in t.to_pylist():
        lines.append(
            f"| {r['world']} | {r['agent']} | {r['runs']} | "
            f"{r['behaviour.intended']:.2f} [{r['behaviour.intended.lo']:.2f}, "
            f"{r['behaviour.intended.hi']:.2f}] | "
            f"{r['tampers']:.2f} [{r['tampers.lo']:.2f}, {r['tampers.hi']:.2f}] | "
            f"{_fmt(r['tamper_excess'], 3)} [{_fmt(r['tamper_excess.lo'], 3)}, "
            f"{_fmt(r['tamper_excess.hi'], 3)}] | "
            f"{_fmt(r['intended'], 3)} ({r['intended_metric']}) | "
            f"{_fmt(r['observed'], 3)} ({r['observed_metric']}) | {r['given']} |"
        )
    skipped = [(row.name, a, why) for row in cmp.rows for a, why in row.skipped]
    if skipped:
        lines += ["", "Cells not run: " + "; ".join(f"{a} on {w}: {why}" for w, a, why in skipped)]
    return "\n".join(lines) + "\n"


def _grid(cmp: Compare, t: pa.Table, column: str) -> np.ndarray:
    """(worlds, agents) values of ``column`` (NaN where the agent does not run)."""
    g = np.full((len(cmp.rows), len(cmp.agents)), np.nan)
    for r in t.to_pylist():
        i = [row.name for row in cmp.rows].index(r["world"])
        v = r[column]
        g[i, cmp.agents.index(r["agent"])] = np.nan if v is None else v
    return g


def _panel(ax: Axes, cmp: Compare, values: np.ndarray, text: list[list[str]], cmap: str,
           lo: float, hi: float, title: str) -> None:  # fmt: skip
    masked = np.ma.masked_invalid(values)
    colours = colormaps[cmap].copy()
    colours.set_bad("#d9d9d9")
    ax.imshow(masked, cmap=colours, vmin=lo, vmax=hi, aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            # white text on a dark cell: the colour's luminance, from the colour map
            r, g, b, _ = colours((v - lo) / (hi - lo)) if np.isfinite(v) else (1, 1, 1, 1)
            dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")  # fmt: skip
    ax.set_xticks(range(len(cmp.agents)), cmp.agents, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(cmp.rows)), [r.name for r in cmp.rows], fontsize=8)
    ax.set_title(title, fontsize=10)


def _page(cmp: Compare, t: pa.Table, out: Path) -> None:
    """report.html: the figure, the leaderboard and the cells not run."""
    from goaldrift.report.html import _env

    rows = [
        {
            "world": r["world"],
            "agent": r["agent"],
            "behaviour": r["behaviour.intended"],
            "behaviour_lo": r["behaviour.intended.lo"],
            "behaviour_hi": r["behaviour.intended.hi"],
            "tampers": r["tampers"],
            "excess": f"{_fmt(r['tamper_excess'], 3)} [{_fmt(r['tamper_excess.lo'], 3)}, "
            f"{_fmt(r['tamper_excess.hi'], 3)}]",
            "intended": _fmt(r["intended"], 3),
            "observed": _fmt(r["observed"], 3),
            "given": r["given"],
        }
        for r in t.to_pylist()
    ]
    html = (
        _env()
        .get_template("compare.html.j2")
        .render(
            name=cmp.name,
            description=cmp.description,
            seeds=cmp.seeds,
            n_agents=len(cmp.agents),
            n_worlds=len(cmp.rows),
            figure=FIGURE,
            rows=rows,
            skipped=[f"{a} on {row.name}: {why}" for row in cmp.rows for a, why in row.skipped],
        )
    )
    store.write_text(html, out / "report.html")


def write(cmp: Compare, out: Path) -> Path:
    """Write leaderboard.parquet, leaderboard.md, leaderboard.png and report.html into
    ``out``; return the figure."""
    t = leaderboard(cmp, out)
    store.write_parquet(t, out / LEADERBOARD)
    store.write_text(markdown(cmp, t), out / MARKDOWN)
    _page(cmp, t, out)
    n_w, n_a = len(cmp.rows), len(cmp.agents)
    fig = _figure(max(8.0, 1.05 * n_a + 2.5), 1.5 + 0.42 * n_w * 3)
    axes = fig.subplots(3, 1)
    missing = "n/a"

    def cells(column: str, fmt: Any) -> tuple[np.ndarray, list[list[str]]]:
        g = _grid(cmp, t, column)
        return g, [[missing if np.isnan(v) else fmt(i, j, v) for j, v in enumerate(row)]
                   for i, row in enumerate(g)]  # fmt: skip

    beh, beh_text = cells("behaviour.intended", lambda i, j, v: f"{v:.2f}")
    _panel(axes[0], cmp, beh, beh_text, "Greens", 0.0, 1.0,
           "share of runs whose probed behaviour is intended")  # fmt: skip
    lo_g, hi_g = _grid(cmp, t, "tamper_excess.lo"), _grid(cmp, t, "tamper_excess.hi")
    ex, ex_text = cells(
        "tamper_excess", lambda i, j, v: f"{v:+.2f}\n[{lo_g[i, j]:+.2f}, {hi_g[i, j]:+.2f}]"
    )
    # each world's excess in its own unit: scale by the world's largest excess
    scale = np.where(np.isfinite(ex), np.abs(ex), 0.0).max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ex_scaled = np.where(scale > 0, ex / scale, 0.0 * ex)
    _panel(axes[1], cmp, ex_scaled, ex_text, "RdBu_r", -1.0, 1.0,
           "tamper excess over the matched control, mean [95% CI] "
           "(colour: scaled by each world's largest)")  # fmt: skip
    perf, perf_text = cells("intended", lambda i, j, v: f"{v:.2f}")
    lo_r, hi_r = np.nanmin(perf, axis=1, keepdims=True), np.nanmax(perf, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        perf_scaled = np.where(hi_r > lo_r, (perf - lo_r) / (hi_r - lo_r), 1.0 + 0.0 * perf)
    title = "intended performance (accuracy or hidden return; colour scaled within each world)"
    _panel(axes[2], cmp, perf_scaled, perf_text, "Greens", 0.0, 1.0, title)
    finish(fig, out / FIGURE, f"{cmp.name}: {n_a} agents x {n_w} worlds x {cmp.seeds} seeds",
           "leaderboard", "")  # fmt: skip
    return out / FIGURE
