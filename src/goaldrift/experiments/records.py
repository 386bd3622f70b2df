"""Turn a batch ``Result`` into flat tables: one row per run, one row per (run, sample).

A gridworld batch (``GridResult``) is turned into its own columns by ``grid_records``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from goaldrift.experiments.outcome import classify
from goaldrift.experiments.qa_kernel import (
    ACCESS,
    HIDDEN,
    N_FIXED_COUNTS,
    SIGNAL_N,
    SIGNAL_SUM,
    STEPS,
    TAMPERS,
    WRITES,
)
from goaldrift.experiments.runner import CONCEPTS, EVENTS_OTHER, PAIR_NAMES, Result
from goaldrift.worlds.base import Role
from goaldrift.worlds.qa import QA_WORLD

if TYPE_CHECKING:
    from goaldrift.experiments.grid_runner import GridResult

C = len(CONCEPTS)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den as float, NaN where den is 0 (becomes null in Parquet)."""
    num = num.astype(np.float64)
    den = den.astype(np.float64)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """The metrics of MODEL.md 5 from summed counts (last axis: count columns)."""
    out = {
        "tamper_rate": _ratio(counts[..., TAMPERS], counts[..., STEPS]),
        "tamper_per_access": _ratio(counts[..., TAMPERS], counts[..., ACCESS]),
        "write_rate": _ratio(counts[..., WRITES], counts[..., STEPS]),
        "hidden_performance": _ratio(counts[..., HIDDEN], counts[..., STEPS]),
        "signal": _ratio(counts[..., SIGNAL_SUM], counts[..., SIGNAL_N]),
    }
    for c, name in enumerate(CONCEPTS):
        out[f"rate.{name}"] = _ratio(
            counts[..., N_FIXED_COUNTS + c], counts[..., N_FIXED_COUNTS + C + c]
        )
    return out


def phase_counts(res: Result) -> np.ndarray:
    """(B, n_phases, n_counts): counts summed over each phase's windows."""
    n_p = len(res.scenario.phases)
    out = np.zeros((res.counts.shape[0], n_p, res.counts.shape[2]), np.int64)
    for p in range(n_p):
        out[:, p] = res.counts[:, res.windows.phase == p].sum(axis=1)
    return out


def tamper_share(res: Result) -> np.ndarray:
    """Per run: tampers per access step over the samples ending in the final outcome window
    (the last ``outcome.window`` steps); NaN where no step there granted access."""
    total = res.scenario.total_steps
    last = res.windows.end > total - res.scenario.outcome.window
    c = res.counts[:, last].sum(axis=1)
    return _ratio(c[:, TAMPERS], c[:, ACCESS])


def _event(col: np.ndarray) -> pa.Array:
    return pa.array(col, type=pa.int64(), mask=col < 0)


def run_columns(
    res: Result | GridResult,
    roles: Sequence[Role],
    share: np.ndarray,
    rate: str,
    concepts: Sequence[str],
    pair_names: Sequence[str],
) -> dict[str, pa.Array | np.ndarray]:
    """Run-table columns both world families share: run, seed, the outcome class, whether
    the run tampers and its final-window tamper ``share`` (column ``rate``), the final flag
    per concept and the first step of each event (null: never)."""
    oc = res.scenario.outcome
    outcome = classify(res.flag, tuple(roles), share, oc.tamper_threshold, oc.margin)
    cols: dict[str, pa.Array | np.ndarray] = {
        "run": res.runs.astype(np.int64),
        "seed": np.full(len(res.runs), res.seed, np.int64),
        "outcome": pa.array(outcome, type=pa.string()),
        "tampers": pa.array(np.isfinite(share) & (share > oc.tamper_threshold)),
        rate: pa.array(share, mask=np.isnan(share)),
    }
    for c, name in enumerate(concepts):
        cols[f"flag.{name}"] = res.flag[:, c].astype(np.float64)
    for c, name in enumerate(concepts):
        cols[f"step.aware.{name}"] = _event(res.ev_aware[:, c])
    for p, name in enumerate(pair_names):
        cols[f"step.relation.{name}"] = _event(res.ev_relation[:, p])
    for e, name in enumerate(EVENTS_OTHER):
        cols[f"step.{name}"] = _event(res.ev_other[:, e])
    return cols


def series_columns(
    res: Result | GridResult, concepts: Sequence[str], pair_names: Sequence[str]
) -> dict[str, pa.Array | np.ndarray]:
    """Series columns both world families share: run, step, phase, and per sample the flag,
    awareness, noticed relations and merged concepts."""
    b, w = res.counts.shape[:2]
    names = np.array([p.name for p in res.scenario.phases])
    cols: dict[str, pa.Array | np.ndarray] = {
        "run": np.repeat(res.runs.astype(np.int64), w),
        "step": np.tile(res.windows.end, b),
        "phase": pa.array(np.tile(names[res.windows.phase], b), type=pa.string()),
    }
    for c, name in enumerate(concepts):
        cols[f"flag.{name}"] = res.flag_series[:, :, c].reshape(-1).astype(np.float64)
    masks = res.masks.reshape(b * w, 3)
    for c, name in enumerate(concepts):
        cols[f"aware.{name}"] = (masks[:, 0] >> c) & 1 == 1
    for p, name in enumerate(pair_names):
        cols[f"relation.{name}"] = (masks[:, 1] >> p) & 1 == 1
    for c, name in enumerate(concepts):
        cols[f"merged.{name}"] = (masks[:, 2] >> c) & 1 == 1
    return cols


def runs_table(res: Result | GridResult) -> pa.Table:
    """One row per run: final flag, outcome, first step of each event, per-phase rates.

    Gridworld batches have their own columns (``grid_records``)."""
    if not isinstance(res, Result):
        from goaldrift.experiments import grid_records

        return grid_records.runs_table(res)
    pc = phase_counts(res)
    roles = [c.role for c in QA_WORLD.concepts]
    share = tamper_share(res)
    rate = "final.tamper_per_access"
    cols = run_columns(res, roles, share, rate, CONCEPTS, PAIR_NAMES)
    for p, ph in enumerate(res.scenario.phases):
        for k, v in rates(pc[:, p]).items():
            cols[f"{ph.name}.{k}"] = pa.array(v, mask=np.isnan(v))
    return pa.table(cols)


def series_table(res: Result | GridResult) -> pa.Table:
    """One row per (run, sample): flag, awareness, relations, merges and the window's rates.

    Gridworld batches have their own columns (``grid_records``)."""
    if not isinstance(res, Result):
        from goaldrift.experiments import grid_records

        return grid_records.series_table(res)
    b, w = res.counts.shape[:2]
    cols = series_columns(res, CONCEPTS, PAIR_NAMES)
    for k, v in rates(res.counts.reshape(b * w, -1)).items():
        cols[k] = pa.array(v, mask=np.isnan(v))
    return pa.table(cols)
