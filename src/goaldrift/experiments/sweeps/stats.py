"""Statistics over groups of runs of a sweep: outcome shares, flag weights, tampering.

Used for ``points.parquet`` (one group per point) and for the sweep heatmaps (groups over one or
two axes, the other axes fixed or pooled). Computed with numpy over runs sorted by (point,
run), so the numbers do not depend on how the runs were chunked or scheduled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from goaldrift.experiments.runs.outcome import OUTCOMES, wilson

Z95 = 1.959964
# per-run columns every sweep row carries, whatever the world (added by `common_columns`)
METRICS = (
    *(f"share.{o}" for o in OUTCOMES),
    "intended_flag",
    "register_flag",
    "tampers",
    "tamper_rate",
)
METRIC_LABELS = {
    **{f"share.{o}": f"share {o}" for o in OUTCOMES},
    "intended_flag": "final flag weight on the intended concept",
    "register_flag": "final flag weight on the register concept",
    "tampers": "share of runs that tamper",
    "tamper_rate": "tamper rate in the final window",
}


def mean_ci(v: np.ndarray) -> tuple[float, float, float, int]:
    """Mean of the finite values with a normal 95% interval; NaN when there are none."""
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    m = float(v.mean())
    half = Z95 * float(v.std(ddof=1)) / np.sqrt(n) if n > 1 else 0.0
    return m, m - half, m + half, n


def floats(t: pa.Table, name: str) -> np.ndarray:
    """A column as float64 (nulls NaN); all NaN where the table has no such column."""
    if name not in t.column_names:
        return np.full(t.num_rows, np.nan)
    return np.asarray(t.column(name).to_numpy(zero_copy_only=False), np.float64)


def _groups(runs: pa.Table, by: Sequence[str]) -> np.ndarray:
    """Per run, the index of its ``by`` value combination, numbered by first appearance."""
    n = runs.num_rows
    if not by or n == 0:
        return np.zeros(n, np.int64)
    codes, dims = [], []
    for k in by:
        enc = pc.dictionary_encode(runs.column(k)).combine_chunks()
        codes.append(np.asarray(enc.indices.to_numpy(zero_copy_only=False), np.int64))
        dims.append(max(1, len(enc.dictionary)))
    flat = np.ravel_multi_index(codes, dims)
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def group_stats(runs: pa.Table, by: Sequence[str]) -> pa.Table:
    """One row per distinct value combination of the ``by`` columns (in order of first
    appearance): runs; for each outcome class its share with a 95% Wilson interval; the mean
    final flag on the intended and register concepts, the share of runs that tamper and the
    mean final-window tamper rate, each with a 95% interval."""
    n = runs.num_rows
    group = _groups(runs, by)
    n_groups = int(group.max()) + 1 if n else 0
    first = np.full(n_groups, n, np.int64)
    np.minimum.at(first, group, np.arange(n))
    # the runs of each group, contiguous and in table order (a stable sort)
    order = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[order], np.arange(n_groups + 1))
    outcome = np.asarray(runs.column("outcome").to_pylist(), dtype=object)
    tampers = floats(runs, "tampers")
    cols: dict[str, pa.Array] = {
        k: runs.column(k).take(pa.array(first)).combine_chunks() for k in by
    }
    sizes: list[int] = []
    rows: dict[str, list[float]] = {}
    per_run = {name: floats(runs, name) for name in ("intended_flag", "register_flag")}
    per_run["tamper_rate"] = floats(runs, "tamper_rate")
    for g in range(n_groups):
        sel = order[starts[g] : starts[g + 1]]
        k_runs = len(sel)
        sizes.append(k_runs)
        for o in OUTCOMES:
            k = int((outcome[sel] == o).sum())
            lo, hi = wilson(k, k_runs)
            for suffix, v in (("", k / k_runs), (".lo", lo), (".hi", hi)):
                rows.setdefault(f"share.{o}{suffix}", []).append(v)
        k = int(np.nansum(tampers[sel]))
        lo, hi = wilson(k, k_runs)
        for suffix, v in (("", k / k_runs), (".lo", lo), (".hi", hi)):
            rows.setdefault(f"tampers{suffix}", []).append(v)
        for name, values in per_run.items():
            m, lo, hi, _ = mean_ci(values[sel])
            for suffix, v in (("", m), (".lo", lo), (".hi", hi)):
                rows.setdefault(f"{name}{suffix}", []).append(v)
    cols["runs"] = pa.array(sizes, pa.int64())
    # NaN (no finite value in the group) is stored as null
    cols.update({k: pa.array(v, pa.float64(), from_pandas=True) for k, v in rows.items()})
    return pa.table(cols)
