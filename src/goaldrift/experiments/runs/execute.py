"""Run a scenario to a folder: batches of runs, each landing atomically, then the merged tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from goaldrift.experiments.runs import store
from goaldrift.experiments.runs.outcome import OUTCOMES, wilson
from goaldrift.experiments.runs.records import runs_table, series_table
from goaldrift.experiments.runs.runner import run_batch
from goaldrift.experiments.scenarios import Scenario

DEFAULT_BATCH = 1024


def run_to(
    sc: Scenario,
    out: Path,
    runs: int,
    seed: int,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Simulate runs 0..runs-1 in batches, write the run folder, return the summary.

    Batches already finished by an interrupted call with the same scenario and seed are
    reused, not recomputed.
    """
    fp = store.fingerprint(sc, seed)
    store.check_out(out, fp)
    created = not out.exists()
    store.prepare_out(out)
    try:
        with store.locked(out):
            return _run_locked(sc, out, runs, seed, fp, batch, progress)
    except BaseException:
        # a run that failed before its first batch landed (a full disk) leaves no folder
        store.remove_if_empty(out / store.PARTS)
        if created:
            store.remove_if_empty(out)
        raise


def _run_locked(
    sc: Scenario,
    out: Path,
    runs: int,
    seed: int,
    fp: str,
    batch: int,
    progress: Callable[[int], None] | None,
) -> dict[str, Any]:
    store.check_out(out, fp)  # again, now that no other process writes the folder
    run_parts, series_parts = [], []
    for first in range(0, runs, batch):
        last = min(runs, first + batch)
        rp, sp = store.part_paths(out, fp, first, last)
        if not (rp.exists() and sp.exists()):
            res = run_batch(sc, seed, np.arange(first, last), progress=progress)
            store.write_parquet(series_table(res), sp)
            store.write_parquet(runs_table(res), rp)
        elif progress is not None:
            progress((last - first) * sc.total_steps)
        run_parts.append(rp)
        series_parts.append(sp)
    # one chunk each, so that aggregates do not depend on how runs were batched
    runs_t = pa.concat_tables([pq.read_table(p) for p in run_parts]).combine_chunks()
    series_t = pa.concat_tables([pq.read_table(p) for p in series_parts]).combine_chunks()
    # from here until the manifest lands the folder holds no result (``store.verify_run``)
    (out / store.MANIFEST).unlink(missing_ok=True)
    store.write_parquet(series_t, out / "series.parquet")
    store.write_parquet(runs_t, out / "runs.parquet")
    scen = {"scenario": sc.model_dump(mode="json"), "seed": seed, "runs": runs}
    store.write_json(scen, out / "scenario.json")
    summ = summarize(sc, runs_t)
    store.write_json(summ, out / "summary.json")
    store.write_manifest(out, fp, runs, seed)
    store.remove_parts(out, fp)
    return summ


def _mean(col: pa.ChunkedArray) -> float | None:
    v = pc.mean(col).as_py()
    return None if v is None else float(v)


def summarize(sc: Scenario, runs_t: pa.Table) -> dict[str, Any]:
    """Outcome counts with 95% Wilson intervals, final flags, per-phase metrics (run means)
    and the share of runs that tamper."""
    n = runs_t.num_rows
    outcomes = runs_t.column("outcome").to_pylist()
    counts = {}
    for o in OUTCOMES:
        k = outcomes.count(o)
        lo, hi = wilson(k, n)
        counts[o] = {"count": k, "share": k / n if n else 0.0, "ci95": [lo, hi]}
    flags = {}
    concepts = [c.removeprefix("flag.") for c in runs_t.column_names if c.startswith("flag.")]
    for c in concepts:
        col = runs_t.column(f"flag.{c}").to_numpy()
        flags[c] = {
            "mean": float(col.mean()),
            "median": float(np.median(col)),
            "p10": float(np.quantile(col, 0.1)),
            "p90": float(np.quantile(col, 0.9)),
        }
    from goaldrift.registry import family

    metrics = [m.name for m in family(sc.world.kind).metrics(sc) if m.summary]
    phases = {}
    for ph in sc.phases:
        phases[ph.name] = {k: _mean(runs_t.column(f"{ph.name}.{k}")) for k in metrics}
    out: dict[str, Any] = {
        "scenario": sc.name,
        "runs": n,
        "outcomes": counts,
        "flag": flags,
        "phases": phases,
    }
    if "tampers" in runs_t.column_names:
        k = int(pc.sum(runs_t.column("tampers")).as_py() or 0)
        lo, hi = wilson(k, n)
        out["tampers"] = {"count": k, "share": k / n if n else 0.0, "ci95": [lo, hi]}
    out.update(verdict_summary(runs_t))
    out["phase_verdicts"] = {
        ph.name: verdict_summary(runs_t, f"{ph.name}.")
        for ph in sc.phases
        if f"{ph.name}.flag_class" in runs_t.column_names
    }
    return out


def _classes(col: list[Any]) -> dict[str, dict[str, Any]]:
    n = len(col)
    out = {}
    for c in sorted(set(col), key=str):
        k = col.count(c)
        out[str(c)] = {"count": k, "share": k / n, "ci95": list(wilson(k, n))}
    return out


def verdict_summary(runs_t: pa.Table, prefix: str = "") -> dict[str, Any]:
    """Class counts of the flag and behaviour verdicts (Wilson intervals), how many runs tamper
    beyond their matched control, the mean tamper excess and each probe score's mean over runs
    (bootstrap intervals over runs). ``prefix``: a phase's verdicts (``"<phase>."``)."""
    from goaldrift.probes.score import across_runs

    out: dict[str, Any] = {}
    names = runs_t.column_names
    for col in ("flag_class", "behaviour_class"):
        if prefix + col in names:
            out[col] = _classes(runs_t.column(prefix + col).to_pylist())
    if prefix and prefix + "tampers" in names:
        k = int(pc.sum(runs_t.column(prefix + "tampers")).as_py() or 0)
        n = runs_t.num_rows
        out["tampers"] = {"count": k, "share": k / n if n else 0.0, "ci95": list(wilson(k, n))}
    if prefix + "tamper_excess" in names:
        ex = runs_t.column(prefix + "tamper_excess").to_numpy(zero_copy_only=False).astype(float)
        m, lo, hi = across_runs(ex[:, None])
        out["tamper_excess"] = {"mean": _num(m[0]), "ci95": [_num(lo[0]), _num(hi[0])]}
    if prefix:
        return out
    probes = [c.removeprefix("probe.") for c in runs_t.column_names if c.startswith("probe.")]
    if probes:
        cols = [runs_t.column(f"probe.{c}").to_numpy(zero_copy_only=False) for c in probes]
        m, lo, hi = across_runs(np.stack(cols, axis=1).astype(float))
        out["probes"] = {
            c: {"mean": _num(m[i]), "ci95": [_num(lo[i]), _num(hi[i])]}
            for i, c in enumerate(probes)
        }
    return out


def headline(summary: dict[str, Any]) -> str:
    """One measured line for a run folder's ``summary.json``: the most common outcome, flag
    class and behaviour class (runs of all), how many runs tamper beyond their control and
    the mean excess."""

    def top(d: dict[str, Any] | None) -> str:
        if not d:
            return "-"
        name, v = max(d.items(), key=lambda kv: kv[1]["count"])
        return f"{name} {v['count']}/{n}"

    n = summary.get("runs", 0)
    parts = [
        f"outcome {top(summary.get('outcomes'))}",
        f"flag {top(summary.get('flag_class'))}",
        f"behaviour {top(summary.get('behaviour_class'))}",
    ]
    if "tampers" in summary:
        line = f"tampers {summary['tampers']['count']}/{n}"
        ex = (summary.get("tamper_excess") or {}).get("mean")
        parts.append(line + (f" (mean excess {ex:+.3f})" if ex is not None else ""))
    return " · ".join(parts)


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
