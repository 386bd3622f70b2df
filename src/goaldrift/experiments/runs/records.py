"""Turn a batch ``Result`` into flat tables: one row per run, one row per (run, sample).

The columns every world has (run, seed, outcome, final flag, the first step of each event;
per sample the flag, awareness, relations and merges) come first; then the world family's
metrics (``Family.metrics``), per phase in the run table and per window in the series.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from goaldrift.agents.flag_rules import EVENTS_OTHER
from goaldrift.experiments.runs.runner import Result
from goaldrift.experiments.runs.verdicts import Verdicts, judge


def _event(col: np.ndarray) -> pa.Array:
    return pa.array(col, type=pa.int64(), mask=col < 0)


def _column(v: np.ndarray, integer: bool) -> pa.Array:
    if integer:
        return pa.array(v.astype(np.int64))
    return pa.array(v, mask=np.isnan(v))


def per_phase(res: Result, a: np.ndarray) -> np.ndarray:
    """(B, phases, columns): per-window records summed over each phase's windows."""
    n_p = len(res.scenario.phases)
    out = np.zeros((a.shape[0], n_p, a.shape[2]), a.dtype)
    for p in range(n_p):
        out[:, p] = a[:, res.windows.phase == p].sum(axis=1)
    return out


def _integers(res: Result) -> set[str]:
    return {m.name for m in res.family.metrics(res.scenario) if m.integer}


def _nullable(v: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(v, np.float64), mask=np.isnan(v))


def tally(res: Result) -> dict[str, np.ndarray]:
    """The agent kind's own per-run counts (``Variant.tally``), by name."""
    from goaldrift.agents.variants import variants

    names = variants()[res.scenario.agent.kind].tally
    bundle = getattr(getattr(res.live, "agent", None), "variant", None)
    if not names or bundle is None:
        return {}
    return {n: bundle.tally[:, i].astype(np.int64) for i, n in enumerate(names)}


def runs_table(res: Result, v: Verdicts | None = None) -> pa.Table:
    """One row per run: the verdicts (outcome, flag class, behaviour class, whether it tampers
    beyond its matched control and by how much, each probe score), the final flag, the first
    step of each event (null: never), per-phase metrics. ``v``: the batch's verdicts
    (``verdicts.judge``, run here if not given)."""
    sc, fam = res.scenario, res.family
    v = judge(res) if v is None else v
    cols: dict[str, pa.Array | np.ndarray] = {
        "run": res.runs.astype(np.int64),
        "seed": np.full(len(res.runs), res.seed, np.int64),
        "outcome": pa.array(v.outcome, type=pa.string()),
        "flag_class": pa.array(v.flag_class, type=pa.string()),
        "behaviour_class": pa.array(v.behaviour_class, type=pa.string()),
        "tampers": pa.array(v.tampers),
        fam.tamper_column: _nullable(v.share),
        "tamper_control": _nullable(v.control),
        "tamper_excess": _nullable(v.excess),
        "tamper_excess_lo": _nullable(v.excess_lo),
        "tamper_excess_hi": _nullable(v.excess_hi),
    }
    pr = v.probes
    for o, name in enumerate(pr.objectives):
        cols[f"probe.{name}"] = _nullable(pr.score[:, o])
        cols[f"probe_lo.{name}"] = _nullable(pr.lo[:, o])
        cols[f"probe_hi.{name}"] = _nullable(pr.hi[:, o])
    for name, col in tally(res).items():
        cols[f"tally.{name}"] = col
    for c, name in enumerate(res.concepts):
        cols[f"flag.{name}"] = res.flag[:, c].astype(np.float64)
    for c, name in enumerate(res.concepts):
        cols[f"step.aware.{name}"] = _event(res.ev_aware[:, c])
    for p, name in enumerate(res.pair_names):
        cols[f"step.relation.{name}"] = _event(res.ev_relation[:, p])
    for e, name in enumerate(EVENTS_OTHER):
        cols[f"step.{name}"] = _event(res.ev_other[:, e])
    cols["step.tamper_beyond"] = _event(v.first_beyond)
    integers = _integers(res)
    counts, sums = per_phase(res, res.counts), per_phase(res, res.sums)
    for p, ph in enumerate(sc.phases):
        pv = v.phases[p]
        cols[f"{ph.name}.flag_class"] = pa.array(pv.flag_class, type=pa.string())
        cols[f"{ph.name}.behaviour_class"] = pa.array(pv.behaviour_class, type=pa.string())
        cols[f"{ph.name}.tampers"] = pa.array(pv.tampers)
        cols[f"{ph.name}.tamper_excess"] = _nullable(pv.excess)
        cols[f"{ph.name}.tamper_excess_lo"] = _nullable(pv.excess_lo)
        cols[f"{ph.name}.tamper_excess_hi"] = _nullable(pv.excess_hi)
        for k, m in fam.compute(sc, counts[:, p], sums[:, p]).items():
            cols[f"{ph.name}.{k}"] = _column(m, k in integers)
    return pa.table(cols)


def series_table(res: Result) -> pa.Table:
    """One row per (run, sample): flag, awareness, relations, merges and the window's
    metrics. The first sample of each run is step 0 (when the batch recorded it): the initial
    flag and the concepts known from the start, before any step, with no metrics."""
    b, w = res.counts.shape[:2]
    names = np.array([p.name for p in res.scenario.phases])
    steps, phases = res.windows.end, names[res.windows.phase]
    flags, masks = res.flag_series, res.masks
    zero = res.start is not None
    if res.start is not None:
        flag0, aware0 = res.start
        steps, phases = np.concatenate([[0], steps]), np.concatenate([names[:1], phases])
        flags = np.concatenate([flag0[:, None, :], flags], axis=1)
        m0 = np.zeros((b, 1, 3), masks.dtype)
        m0[:, 0, 0] = aware0
        masks = np.concatenate([m0, masks], axis=1)
    n = len(steps)
    cols: dict[str, pa.Array | np.ndarray] = {
        "run": np.repeat(res.runs.astype(np.int64), n),
        "step": np.tile(steps, b),
        "phase": pa.array(np.tile(phases, b), type=pa.string()),
    }
    for c, name in enumerate(res.concepts):
        cols[f"flag.{name}"] = flags[:, :, c].reshape(-1).astype(np.float64)
    masks = masks.reshape(b * n, 3)
    for c, name in enumerate(res.concepts):
        cols[f"aware.{name}"] = (masks[:, 0] >> c) & 1 == 1
    for p, name in enumerate(res.pair_names):
        cols[f"relation.{name}"] = (masks[:, 1] >> p) & 1 == 1
    for c, name in enumerate(res.concepts):
        cols[f"merged.{name}"] = (masks[:, 2] >> c) & 1 == 1
    integers = _integers(res)
    flat = res.family.compute(
        res.scenario, res.counts.reshape(b * w, -1), res.sums.reshape(b * w, -1)
    )
    for k, v in flat.items():
        col = _column(v, k in integers)
        if zero:  # step 0 has no window: null metrics
            v2 = np.concatenate(
                [
                    np.zeros((b, 1)),
                    col.to_numpy(zero_copy_only=False).reshape(b, w).astype(np.float64),
                ],
                axis=1,
            ).reshape(-1)
            null = np.zeros((b, n), bool)
            null[:, 0] = True
            null[:, 1:] = np.asarray(col.is_null()).reshape(b, w)
            v2[null.reshape(-1)] = 0
            typ = pa.int64() if k in integers else pa.float64()
            col = pa.array(v2.astype(np.int64) if k in integers else v2, type=typ,
                           mask=null.reshape(-1))  # fmt: skip
        cols[k] = col
    return pa.table(cols)
