"""HTML reports: one self-contained page per run folder, and an index linking several.

A page shows the scenario (its claim, settings and phases), the outcome counts with 95%
Wilson intervals, per-phase rates, the final flag, the events, and the PNG plots written
beside it in ``plots/``. Everything is read from the run folder; nothing outside it is
written.
"""

from __future__ import annotations

import contextlib
import math
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from jinja2 import Environment, PackageLoader, StrictUndefined

import goaldrift.report.plots as plots
from goaldrift.agents.config import RULE_TABLES
from goaldrift.agents.variants import variants
from goaldrift.errors import ConfigError
from goaldrift.experiments.runs.execute import headline
from goaldrift.experiments.runs.outcome import OUTCOMES, wilson
from goaldrift.experiments.runs.store import atomic_path, read_json, verify_run
from goaldrift.experiments.sweeps import store as sweep_store
from goaldrift.report.figures import FIGURES, OUTCOMES_FIGURE
from goaldrift.report.plots import RunFolder, _family, events, floats, phase_spans
from goaldrift.report.sweep_plots import PLOT_PREFIX
from goaldrift.worlds.base import Concept

RUN_FILES = ("runs.parquet", "series.parquet", "scenario.json")


def _dir_error(directory: Path, why: str) -> ConfigError:
    return ConfigError("DIR", f"a run folder written by `goaldrift run` ({why})", str(directory))


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def world_concepts(kind: object) -> dict[str, Concept]:
    """The registered world's concepts by name; empty when the world is unknown."""
    try:
        from goaldrift.registry import worlds

        spec = worlds().get(str(kind))
    except Exception:  # the report must not fail because a plugin does
        spec = None
    return {c.name: c for c in spec.concepts} if spec is not None else {}


def load_run(directory: Path) -> RunFolder:
    """Read a run folder, with one-line errors naming what is missing or unreadable."""
    directory = Path(directory)
    if not directory.is_dir():
        raise _dir_error(directory, "no such folder")
    for name in RUN_FILES:
        if not (directory / name).is_file():
            raise _dir_error(directory, f"no {name}")
    verify_run(directory)  # whole, and as written: no damaged or half-replaced file
    try:
        runs = pq.read_table(directory / "runs.parquet")
        series = pq.read_table(directory / "series.parquet")
    except (pa.ArrowException, OSError) as exc:
        raise _dir_error(directory, f"unreadable Parquet: {_one_line(exc)}") from None
    try:
        meta = read_json(directory / "scenario.json")
    except (ValueError, OSError) as exc:
        raise _dir_error(directory, f"unreadable scenario.json: {_one_line(exc)}") from None
    scenario = meta.get("scenario") if isinstance(meta, dict) else None
    if not isinstance(scenario, dict):
        raise _dir_error(directory, "scenario.json has no 'scenario' table")
    for table, name, need in (
        (runs, "runs.parquet", ("outcome",)),
        (series, "series.parquet", ("run", "step")),
    ):
        missing = [c for c in need if c not in table.column_names]
        if missing:
            raise _dir_error(directory, f"{name} has no column {missing[0]!r}")
    seed = meta.get("seed")
    return RunFolder(
        directory=directory,
        runs=runs,
        series=series,
        scenario=scenario,
        seed=seed if isinstance(seed, int) else None,
        world=world_concepts((scenario.get("world") or {}).get("kind", "qa")),
    )


# --- tables -------------------------------------------------------------------------------


def outcome_rows(runs: pa.Table) -> list[dict[str, Any]]:
    """Count per outcome class (the known classes first, in order) with its Wilson interval."""
    n = runs.num_rows
    vc = pc.value_counts(runs.column("outcome")).to_pylist()
    counts = {d["values"]: int(d["counts"]) for d in vc if d["values"] is not None}
    names = [*OUTCOMES, *sorted(k for k in counts if k not in OUTCOMES)]
    rows = []
    for name in names:
        k = counts.get(name, 0)
        lo, hi = wilson(k, n)
        rows.append({"name": name, "count": k, "share": k / n if n else 0.0, "lo": lo, "hi": hi})
    return rows


def _stat(v: np.ndarray, fn: str) -> float | None:
    v = v[np.isfinite(v)]
    if not len(v):
        return None
    if fn == "mean":
        return float(v.mean())
    return float(np.quantile(v, {"median": 0.5, "p10": 0.1, "p90": 0.9}[fn]))


def flag_rows(rf: RunFolder) -> list[dict[str, Any]]:
    """Final flag per concept: mean, median, 10th/90th percentile, and share of runs it tops."""
    concepts = [c for c in rf.concepts if f"flag.{c}" in rf.runs.column_names]
    if not concepts:
        return []
    m = np.column_stack([floats(rf.runs, f"flag.{c}") for c in concepts])
    top = np.argmax(np.where(np.isfinite(m), m, -np.inf), axis=1) if len(m) else np.empty(0)
    rows = []
    for i, c in enumerate(concepts):
        v = m[:, i]
        w = rf.world.get(c)
        rows.append(
            {
                "name": c,
                "role": w.role if w else "",
                "mean": _stat(v, "mean"),
                "median": _stat(v, "median"),
                "p10": _stat(v, "p10"),
                "p90": _stat(v, "p90"),
                "top": float(np.mean(top == i)) if len(m) else None,
            }
        )
    return rows


def phase_rows(rf: RunFolder) -> tuple[list[str], list[dict[str, Any]]]:
    """Per phase, the mean over runs of each rate in runs.parquet (None where undefined)."""
    names = [sp.name for sp in phase_spans(rf.scenario)]
    fam = _family(rf.scenario)
    if fam is None:
        return [], []
    prefix = fam.concept_metric()[0]
    concept_rates = [f"{prefix}.{c}" for c in rf.concepts]
    metrics = fam.metrics(rf.scenario)
    keys = [m.name for m in metrics] + concept_rates
    heads = [m.label for m in metrics] + concept_rates
    rows = []
    for sp in phase_spans(rf.scenario):
        vals = []
        for k in keys:
            col = f"{sp.name}.{k}"
            vals.append(
                _stat(floats(rf.runs, col), "mean") if col in rf.runs.column_names else None
            )
        rows.append({"name": sp.name, "steps": f"{sp.start:,}–{sp.end:,}", "values": vals})
    return (heads if names else []), rows


def _fmt_schedule(v: dict[str, Any]) -> str:
    rest = ", ".join(f"{k}={x}" for k, x in v.items() if k != "schedule")
    return f"{v['schedule']} ({rest})" if rest else str(v["schedule"])


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and "schedule" in v:
            out.append((key, _fmt_schedule(v)))
        elif isinstance(v, dict):
            out.extend(_flatten(v, f"{key}."))
        else:
            out.append((key, v))
    return out


def _agent_note(scenario: dict[str, Any]) -> str:
    """The agent kind's note for the outcome definition (e.g. Q-learning's fixed flag)."""
    kind = variants().get((scenario.get("agent") or {}).get("kind", "flagged"))
    return kind.note if kind is not None else ""


def settings(scenario: dict[str, Any]) -> dict[str, list[tuple[str, Any]]]:
    """World and agent settings as (dotted key, value) rows; only the active rule's knobs."""
    world = dict(scenario.get("world") or {})
    agent = dict(scenario.get("agent") or {})
    rule = agent.get("flag_rule")
    for knob in RULE_TABLES:
        if knob != rule:
            agent.pop(knob, None)
    kind = variants().get(agent.get("kind", "flagged"))
    if kind is not None and kind.keys is not None:  # the flagged agent's other keys do not apply
        agent = {k: v for k, v in agent.items() if k in ("kind", kind.name, *kind.keys)}
    top: dict[str, Any] = {
        k: scenario[k] for k in ("seed", "runs", "sample_every") if k in scenario
    }
    return {
        "run": _flatten(top),
        "outcome": _flatten(dict(scenario.get("outcome") or {})),
        "world": _flatten(world),
        "agent": _flatten(agent),
    }


def phase_settings(scenario: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per phase: its span and every setting, marking values inherited from above."""
    world = scenario.get("world") or {}
    agent = scenario.get("agent") or {}
    # a phase key the world table also has inherits from it; epsilon from the agent
    inherit = {k: v for k, v in world.items() if not isinstance(v, dict) and k != "kind"}
    inherit["epsilon"] = agent.get("epsilon")
    phases = scenario.get("phases") or []
    keys: list[str] = []
    for ph in phases:
        keys.extend(k for k in ph if k not in ("name", "steps") and k not in keys)
    rows = []
    for sp, ph in zip(phase_spans(scenario), phases, strict=True):
        cells = []
        for k in keys:
            v = ph.get(k)
            if v is None and k in inherit:
                cells.append({"value": inherit[k], "inherited": True})
            else:
                cells.append({"value": v, "inherited": False})
        rows.append(
            {
                "name": sp.name,
                "steps": sp.end - sp.start,
                "span": f"{sp.start:,}–{sp.end:,}",
                "cells": cells,
            }
        )
    return keys, rows


# --- rendering ----------------------------------------------------------------------------


def fmt(v: Any, digits: int = 3) -> str:
    """A value for a table cell: numbers rounded, None and NaN as an en dash."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        return f"{v:.{digits}f}"
    return str(v)


def setting(v: Any) -> str:
    """A setting as written: numbers in their shortest form, None as an en dash."""
    if isinstance(v, float) and math.isfinite(v):
        return f"{v:g}"
    return fmt(v)


def step(v: Any) -> str:
    """A step number with thousands separators."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{float(v):,.0f}"


def pct(v: Any, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * float(v):.{digits}f}%"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("goaldrift.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = fmt
    env.filters["pct"] = pct
    env.filters["setting"] = setting
    env.filters["step"] = step
    return env


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def verdict_rows(rf: plots.RunFolder) -> dict[str, Any] | None:
    """The report's verdict tables: class counts of flag and behaviour (and whether runs tamper),
    each probe's mean score over runs with its bootstrap interval."""
    from goaldrift.experiments.runs.execute import verdict_summary

    cols = rf.runs.column_names
    if "behaviour_class" not in cols:
        return None
    summ = verdict_summary(rf.runs)
    classes = []
    for col, label in (("flag_class", "flag"), ("behaviour_class", "behaviour")):
        for name, v in summ.get(col, {}).items():
            lo, hi = v["ci95"]
            classes.append({"verdict": label, "name": name, "count": v["count"],
                            "share": v["share"], "lo": lo, "hi": hi})  # fmt: skip
    probes = []
    for name, v in (summ.get("probes") or {}).items():
        role = rf.world[name].role if name in rf.world else ""
        nan = float("nan")
        lo, hi = (nan if x is None else x for x in v["ci95"])
        mean = nan if v["mean"] is None else v["mean"]
        probes.append({"name": name, "role": role, "mean": mean, "lo": lo, "hi": hi})
    out: dict[str, Any] = {"classes": classes, "probes": probes, "tampers": None, "excess": None}
    if "tampers" in cols:
        k = int(sum(bool(x) for x in rf.runs.column("tampers").to_pylist()))
        out["tampers"] = f"{k} of {rf.n_runs}"
        ex = summ.get("tamper_excess") or {}
        if ex.get("mean") is not None:
            lo, hi = ex["ci95"]
            out["excess"] = f"{ex['mean']:+.3f} [{lo:+.3f}, {hi:+.3f}] ({rf.n_runs} runs)"
    return out


def _class_counts(classes: dict[str, Any] | None) -> str:
    """``"register 46, mixed 18"``: the classes by count, most common first."""
    items = sorted((classes or {}).items(), key=lambda kv: (-kv[1]["count"], kv[0]))
    return ", ".join(f"{name} {v['count']}" for name, v in items) or "–"


def result_rows(rf: plots.RunFolder) -> tuple[list[str], list[dict[str, Any]]]:
    """The results table at the top of a report, one row per phase: the flag and behaviour
    classes at the phase's end, the runs that tamper beyond their matched control over its
    last outcome window and the mean excess, and the family's performance metrics."""
    from goaldrift.experiments.runs.execute import verdict_summary

    fam = _family(rf.scenario)
    perf = [m for m in fam.metrics(rf.scenario) if m.name in fam.performance] if fam else []
    rows = []
    for sp in phase_spans(rf.scenario):
        summ = verdict_summary(rf.runs, f"{sp.name}.")
        if not summ:
            return [], []
        ex, t = summ.get("tamper_excess") or {}, summ.get("tampers") or {}
        excess = "–"
        if ex.get("mean") is not None:
            lo, hi = ex["ci95"]
            excess = f"{ex['mean']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
        rows.append({
            "name": sp.name,
            "steps": f"{sp.start:,}–{sp.end:,}",
            "flag": _class_counts(summ.get("flag_class")),
            "behaviour": _class_counts(summ.get("behaviour_class")),
            "tampers": f"{t.get('count', 0)} of {rf.n_runs}",
            "excess": excess,
            "values": [_stat(floats(rf.runs, f"{sp.name}.{m.name}"), "mean") for m in perf],
        })  # fmt: skip
    return [m.label for m in perf], rows


def _run_headline(directory: Path) -> str:
    """The measured headline of a run folder, from its ``summary.json`` (empty if unreadable)."""
    try:
        return headline(read_json(directory / "summary.json"))
    except (ValueError, OSError):
        return ""


def write_report(directory: Path) -> Path:
    """Write ``directory/report.html`` and its PNGs in ``directory/plots/``; return the page."""
    rf = load_run(directory)
    name = str(rf.scenario.get("name", directory.name))
    outcomes = outcome_rows(rf.runs)
    pdir = rf.directory / "plots"
    fam = _family(rf.scenario)
    made = []
    for figure in fam.plots if fam is not None else ("flag", OUTCOMES_FIGURE, "awareness"):
        if figure == OUTCOMES_FIGURE:
            made.append(plots.plot_outcomes(outcomes, rf.n_runs, name, pdir / "outcomes.png"))
        else:
            file, draw = FIGURES[figure]
            made.append(draw(rf, pdir / file))
    made = [plots.Plot(f"plots/{p.file}", p.title, p.caption) for p in made]
    spans = phase_spans(rf.scenario)
    evs = events(rf)
    phase_heads, phase_rate_rows = phase_rows(rf)
    result_heads, results = result_rows(rf)
    setting_keys, setting_rows = phase_settings(rf.scenario)
    html = (
        _env()
        .get_template("report.html.j2")
        .render(
            name=name,
            tamper_unit=fam.tamper_unit if fam is not None else "tamper events",
            tamper_share=fam is not None and fam.tamper_max <= 1,
            metric_notes=fam.metrics(rf.scenario) if fam is not None else [],
            concept_note=(
                f"{fam.concept_metric()[0]}.<concept>: {fam.concept_metric()[1]}"
                if fam is not None
                else ""
            ),
            agent_note=_agent_note(rf.scenario),
            description=rf.scenario.get("description", ""),
            claim=rf.scenario.get("claim", ""),
            n_runs=rf.n_runs,
            seed=rf.seed,
            total_steps=spans[-1].end if spans else 0,
            outcomes=outcomes,
            verdicts=verdict_rows(rf),
            result_heads=result_heads,
            results=results,
            headline=_run_headline(rf.directory),
            outcome={
                "margin": 0.0,
                "window": None,
                **(rf.scenario.get("outcome") or {}),
            },
            settings=settings(rf.scenario),
            setting_keys=setting_keys,
            setting_rows=setting_rows,
            phase_heads=phase_heads,
            phase_rows=phase_rate_rows,
            flags=flag_rows(rf),
            events=[e for e in evs if e.n > 0],
            never=[e.label for e in evs if e.n == 0],
            concepts=[rf.world[c] for c in rf.concepts if c in rf.world],
            plots=made,
        )
    )
    page = rf.directory / "report.html"
    _write_text(page, html)
    return page


def sweep_headline(runs: pa.Table, keys: list[str]) -> str:
    """One measured line for a sweep's runs: the share of runs in each outcome, how many
    tamper beyond their matched control, and the points (axis values ``keys``) with the
    smallest and largest wirehead share."""
    from goaldrift.experiments.sweeps.stats import group_stats

    n = runs.num_rows
    if n == 0:
        return ""
    outs = runs.column("outcome").to_pylist()
    shares = ", ".join(f"{o} {outs.count(o) / n:.0%}" for o in OUTCOMES if outs.count(o))
    parts = [f"{n:,} runs: {shares}"]
    if "tampers" in runs.column_names:
        k = sum(bool(t) for t in runs.column("tampers").to_pylist())
        parts.append(f"{k:,} tamper beyond their control")
    rows = group_stats(runs, ["point", *keys]).to_pylist()

    def at(r: dict[str, Any]) -> str:
        return ", ".join(f"{key}={fmt(r[key])}" for key in keys)

    lo = min(rows, key=lambda r: r["share.wirehead"])
    hi = max(rows, key=lambda r: r["share.wirehead"])
    parts.append(
        f"wirehead from {lo['share.wirehead']:.0%} ({at(lo)}) "
        f"to {hi['share.wirehead']:.0%} ({at(hi)})"
    )
    return "; ".join(parts)


def _sweep_entry(out: Path, e: dict[str, Any], d: str) -> dict[str, Any]:
    """A sweep's card: points × seeds, runs finished, its axes, its first heatmap."""
    info = dict(e.get("summary") or {})
    if not all(k in info for k in ("points", "seeds", "axes")):
        with contextlib.suppress(ValueError, OSError):  # the sweep folder's record fills in
            info = {**read_json(out / d / "sweep.json"), **info}
    points, seeds, done = info.get("points"), info.get("seeds"), info.get("runs")
    if done is None and isinstance(points, int) and isinstance(seeds, int):
        done = int(sweep_store.covered(out / d, points, seeds).sum())
    pngs = sorted((out / d / "plots").glob(f"{PLOT_PREFIX}*.png"))
    axes = [a for a in info.get("axes") or [] if isinstance(a, dict)]
    headline = ""
    with contextlib.suppress(ValueError, OSError, KeyError, pa.ArrowException):
        headline = sweep_headline(sweep_store.read_runs(out / d), [str(a.get("key")) for a in axes])
    return {
        "headline": headline,
        "points": points,
        "seeds": seeds,
        "done": done,
        "axes": [{"key": a.get("key"), "n": len(a.get("values") or [])} for a in axes],
        "thumb": f"{urllib.parse.quote(d)}/plots/{urllib.parse.quote(pngs[0].name)}"
        if pngs
        else None,
    }


def _index_entry(out: Path, e: dict[str, Any]) -> dict[str, Any]:
    d = str(e.get("dir", e.get("name", "")))
    href = urllib.parse.quote(d)
    entry = {
        "kind": "sweep" if e.get("kind") == "sweep" else "scenario",
        "name": str(e.get("name", d)),
        "claim": str(e.get("claim") or ""),
        "report": f"{href}/report.html",
        "has_report": (out / d / "report.html").is_file(),
    }
    if e.get("kind") == "compare":
        thumb = out / d / "leaderboard.png"
        return {
            **entry,
            "kind": "compare",
            "headline": str(e.get("headline") or ""),
            "thumb": f"{href}/leaderboard.png" if thumb.is_file() else None,
        }
    if entry["kind"] == "sweep":
        return {**entry, **_sweep_entry(out, e, d)}
    summary = e.get("summary") or {}
    n = summary.get("runs")
    rows = []
    for cls, v in (summary.get("outcomes") or {}).items():
        ci = v.get("ci95") or [None, None]
        rows.append(
            {
                "name": cls,
                "count": v.get("count"),
                "share": v.get("share"),
                "lo": ci[0],
                "hi": ci[1],
            }
        )
    return {
        **entry,
        "runs": n,
        "outcomes": rows,
        "headline": headline(summary) if summary else "",
        "thumb": f"{href}/plots/flag.png" if (out / d / "plots" / "flag.png").is_file() else None,
    }


def write_index(out: Path, entries: list[dict[str, Any]]) -> Path:
    """Write ``out/index.html`` linking each entry's ``out/<dir>/report.html``.

    An entry: name, dir, claim, and summary (``run``'s for a scenario; a sweep's, with
    ``"kind": "sweep"``, shows its points, seeds and axes, and its first heatmap)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError("--out", "a folder (it is a file)", str(out))
    html = (
        _env().get_template("index.html.j2").render(entries=[_index_entry(out, e) for e in entries])
    )
    page = out / "index.html"
    _write_text(page, html)
    return page
