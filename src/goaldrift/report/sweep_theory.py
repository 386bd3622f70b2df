"""The register boundary that algebra predicts, drawn over a sweep's measured heatmap.

On Register QA with the ``regression`` flag rule, random label noise and no register access
while the supervisor trains, the signal is the register concept itself and the fit has a
closed form (``goaldrift.agents.closed_form``). For each cell of a heatmap, the closed form
gives the flag weights w_X (intended) and w_Y (register) the final fit should reach; the
predicted boundary is where w_Y - w_X changes sign. The measured one is where the mean final
flag on the register concept minus the mean on the intended concept changes sign.

The prediction needs every setting it depends on (``THEORY_KEYS``) at one value per cell: a
view that pools an axis among them gets no overlay; an axis the theory ignores (for example
``world.diversity``: once X and Y are both known the proxy plays no part in it) may be pooled
or plotted. The proxy concept is left out of the prediction (it takes weight only while it
fits the signal better per unit of penalty than X, at low diversity before Y is known).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from goaldrift.agents.closed_form import flag_two, qa_moments, shrink
from goaldrift.experiments.sweeps.sweep import Axis

THEORY_KEYS = (
    "world.noise",
    "world.answers",
    "world.costs.correct",
    "world.costs.register_match",
    "world.access",
    "agent.epsilon",
    "agent.regression.l1",
    "agent.regression.half_compute",
    "agent.awareness.register_match",
    "agent.awareness.correct",
)
PREDICTED_STYLE: dict[str, Any] = {"colors": "black", "linestyles": "--", "linewidths": 1.6}
MEASURED_STYLE: dict[str, Any] = {"colors": "#e66101", "linestyles": "-", "linewidths": 1.2}
SUPERSAMPLE = 8  # predicted margins per cell side, for a smooth contour


def _get(data: Any, key: str) -> Any:
    node = data
    for k in key.split("."):
        if isinstance(node, list) and k.isdigit() and int(k) < len(node):
            node = node[int(k)]
        elif isinstance(node, dict) and k in node:
            node = node[k]
        else:
            raise KeyError(key)
    return node


def _depends_on(key: str) -> bool:
    return key in THEORY_KEYS or key.startswith("phases.")


def applies(scenario: Mapping[str, Any], axes: Sequence[Axis], pooled: Sequence[Axis]) -> bool:
    """Whether the closed form predicts this sweep's view: Register QA, the flagged agent with
    the regression rule, random label noise, no register access while the supervisor trains,
    X known from the start and the register from the start or by compute (each checked where
    it is not swept), and no pooled axis the prediction depends on."""
    swept = {a.key for a in axes}

    def value(key: str, default: Any = None) -> Any:
        return default if key in swept else _get(scenario, key)

    try:
        if _get(scenario, "world.kind") != "qa" or _get(scenario, "agent.kind") != "flagged":
            return False
        if value("agent.flag_rule", "regression") != "regression":
            return False
        if value("world.noise_kind", "random") != "random":
            return False
        if value("agent.awareness.correct", {"schedule": "start"})["schedule"] != "start":
            return False
        aware_y = value("agent.awareness.register_match", {"schedule": "start"})
        if aware_y["schedule"] not in ("start", "compute"):
            return False
        for i, ph in enumerate(_get(scenario, "phases")):
            sup = ph.get("supervisor")
            if (value("world.supervisor", True) if sup is None else sup) and ph.get(
                "learn_flag", True
            ):
                acc = ph.get("access")
                acc = value("world.access", 0.0) if acc is None else acc
                if f"phases.{i}.access" not in swept and acc != 0:
                    return False
    except (KeyError, TypeError):
        return False
    return not any(_depends_on(a.key) for a in pooled)


def _setting(scenario: Mapping[str, Any], point: Mapping[str, Any], key: str) -> Any:
    if key in point:
        return point[key]
    return _get(scenario, key)


def predicted_margin(scenario: Mapping[str, Any], point: Mapping[str, Any]) -> float:
    """w_Y - w_X of the final fit by the closed form, at the sweep point whose swept values
    are ``point`` (key -> value; the rest from ``scenario``, a sweep's base scenario data).
    -1 when the register is not yet known by the last fit (its weight stays at its initial
    0 while X keeps a positive one)."""

    def get(key: str) -> Any:
        return _setting(scenario, point, key)

    phases = [dict(p) for p in _get(scenario, "phases")]
    for key, v in point.items():
        if key.startswith("phases."):
            _, i, field = key.split(".", 2)
            phases[int(i)][field] = v
    compute = 0.0  # supervised steps up to the last one the flag learns on
    fitted = 0.0
    for ph in phases:
        sup = ph.get("supervisor")
        sup = get("world.supervisor") if sup is None else sup
        if sup and ph.get("learn_world", True):
            compute += ph["steps"]
        if sup and ph.get("learn_flag", True):
            fitted = compute
    aware_y = get("agent.awareness.register_match")
    known_at = 0.0 if aware_y["schedule"] == "start" else float(aware_y["compute"])
    if fitted < known_at:
        return -1.0
    epsilon = phases[0].get("epsilon")
    eps = get("agent.epsilon") if epsilon is None else epsilon
    m = qa_moments(float(get("world.noise")), int(get("world.answers")), float(eps))
    unit = float(get("agent.regression.l1")) * shrink(
        fitted, float(get("agent.regression.half_compute"))
    )
    w_x, w_y = flag_two(
        m.rho,
        m.sd_x,
        m.sd_y,
        unit * float(get("world.costs.correct")),
        unit * float(get("world.costs.register_match")),
    )
    return w_y - w_x


def _between(axis: Axis, t: float) -> Any:
    """The axis value at fractional index ``t`` (interpolated linearly, or geometrically on a
    log axis); a categorical axis gives the nearest value."""
    vals = axis.values
    i = int(np.clip(math.floor(t), 0, len(vals) - 1))
    j = min(i + 1, len(vals) - 1)
    f = float(np.clip(t - i, 0.0, 1.0))
    if axis.kind not in ("int", "float") or i == j:
        return vals[int(np.clip(round(t), 0, len(vals) - 1))]
    a, b = float(vals[i]), float(vals[j])
    log = axis.scale == "log" and a > 0 and b > 0
    v = a * (b / a) ** f if log else a + (b - a) * f
    return round(v) if axis.kind == "int" else v


def predicted_grid(
    scenario: Mapping[str, Any],
    x: Axis,
    y: Axis,
    fixed: Sequence[tuple[Axis, Any]] = (),
    supersample: int = SUPERSAMPLE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tx, ty, margin): predicted w_Y - w_X on a grid of fractional cell indices (x along
    columns, y along rows, as the heatmap's ``imshow`` places cells)."""
    tx = np.linspace(0, len(x.values) - 1, (len(x.values) - 1) * supersample + 1)
    ty = np.linspace(0, len(y.values) - 1, (len(y.values) - 1) * supersample + 1)
    base = {a.key: v for a, v in fixed}
    out = np.empty((len(ty), len(tx)))
    for i, b in enumerate(ty):
        for j, a in enumerate(tx):
            point = {**base, x.key: _between(x, a), y.key: _between(y, b)}
            out[i, j] = predicted_margin(scenario, point)
    return tx, ty, out


def crossings(margin: np.ndarray, axis: Axis, t: np.ndarray | None = None) -> float:
    """Along one line of cells (``margin`` at fractional indices ``t``, default 0, 1, ...):
    the axis value where the margin first changes sign, interpolated between the two cells
    (geometrically on a log axis); NaN if it never does."""
    t = np.arange(len(margin), dtype=np.float64) if t is None else t
    ok = np.isfinite(margin)
    m, tt = margin[ok], t[ok]
    for k in range(len(m) - 1):
        if m[k] == 0.0:
            return float(_between(axis, tt[k]))
        if np.sign(m[k]) != np.sign(m[k + 1]) and m[k + 1] != 0.0:
            f = m[k] / (m[k] - m[k + 1])
            return float(_between(axis, tt[k] + f * (tt[k + 1] - tt[k])))
    if len(m) and m[-1] == 0.0:
        return float(_between(axis, tt[-1]))
    return float("nan")


def measured_margin(stats: Mapping[str, np.ndarray]) -> np.ndarray:
    """Mean final register flag minus mean final intended flag per cell (``cell_stats``)."""
    out: np.ndarray = stats["register_flag"] - stats["intended_flag"]
    return out


def draw_boundaries(
    ax: Axes,
    scenario: Mapping[str, Any],
    stats: Mapping[str, np.ndarray],
    x: Axis,
    y: Axis,
    fixed: Sequence[tuple[Axis, Any]] = (),
) -> bool:
    """Draw on a heatmap axes the predicted boundary (dashed black) and the measured one
    (solid orange), each where w_Y - w_X = 0; True if the predicted one crosses the view."""
    tx, ty, pred = predicted_grid(scenario, x, y, fixed)
    drawn = False
    if np.nanmin(pred) < 0 < np.nanmax(pred):
        ax.contour(tx, ty, pred, levels=[0.0], **PREDICTED_STYLE)
        drawn = True
    meas = measured_margin(stats)
    if np.isfinite(meas).all() and min(meas.shape) > 1 and np.nanmin(meas) < 0 < np.nanmax(meas):
        ax.contour(np.arange(meas.shape[1]), np.arange(meas.shape[0]), meas, levels=[0.0],
                   **MEASURED_STYLE)  # fmt: skip
    return drawn


CAPTION = (
    " Lines: where the register's flag weight equals the intended concept's, predicted by the "
    'closed form of the standardised lasso (dashed black; docs/sweep-results.md, "What '
    'follows from algebra") and measured (solid orange, mean final flags).'
)
