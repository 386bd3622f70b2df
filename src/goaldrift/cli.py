"""The goaldrift command line: run, probe, sweep, query, report, demo, list, bench, schema."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from goaldrift.errors import ConfigError, GoaldriftError
from goaldrift.experiments.sweeps import MAX_SEEDS
from goaldrift.threads import check_threads, set_threads

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="goaldrift: which objective does a learned optimizer end up pursuing?",
)
console = Console(stderr=True)
# wide when piped, so that tables are not cut to 80 columns
out_console = Console(width=None if sys.stdout.isatty() else 200)


def _progress() -> Progress:
    """A progress line that fits 80 columns: a short bar, counts with thousands separators."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=16),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal and os.environ.get("GOALDRIFT_PROGRESS") != "1",
    )


def _run_one(
    path: Path, out: Path, runs: int | None, seed: int | None, sets: list[str], batch: int
) -> dict:
    from goaldrift.experiments import scenarios as scen
    from goaldrift.experiments.runs.execute import run_to

    sc = scen.load(path, sets)
    n = sc.runs if runs is None else runs
    s = sc.seed if seed is None else seed
    total = n * sc.total_steps
    t0 = time.perf_counter()
    with _progress() as prog:
        task = prog.add_task(sc.name, total=total, rate="")

        def tick(k: int) -> None:
            done = prog.tasks[0].completed + k
            rate = done / max(time.perf_counter() - t0, 1e-9)
            prog.update(task, advance=k, rate=f"{rate / 1e6:.1f}M steps/s")

        summ = run_to(sc, out, n, s, batch=batch, progress=tick)
    summ["seconds"] = time.perf_counter() - t0
    return summ


def _table(title: str, head: list[str], rows: list[list[str]]) -> Table:
    """A left-titled table whose first column is a name and the rest right-aligned numbers."""
    t = Table(title=title, title_justify="left")
    t.add_column(head[0])
    for h in head[1:]:
        t.add_column(h, justify="right")
    for r in rows:
        t.add_row(*r)
    return t


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:+.3f}"


def _print_summary(summ: dict, out: Path) -> None:
    outcomes = [
        [o, str(v["count"]), f"{v['share']:.2f} [{v['ci95'][0]:.2f}, {v['ci95'][1]:.2f}]"]
        for o, v in summ["outcomes"].items()
    ]
    title = f"{summ['scenario']}: {summ['runs']} runs"
    out_console.print(_table(title, ["outcome", "runs", "share [95% CI]"], outcomes))
    stats = ("median", "p10", "p90", "mean")
    flags = [[c, *(f"{v[k]:+.3f}" for k in stats)] for c, v in summ["flag"].items()]
    out_console.print(_table("final flag weight", ["concept", *stats], flags))
    labels = {
        "tamper_rate": "tamper rate",
        "tamper_per_access": "tamper/access",
        "hidden_performance": "hidden perf.",
        "signal": "signal",
        "observed_return": "observed return",
        "hidden_return": "hidden return",
        "tamper_per_episode": "tamper/episode",
        "episodes": "episodes",
    }
    keys = list(next(iter(summ["phases"].values()), {}))
    phases = [
        [name, *("-" if v[k] is None else f"{v[k]:.3f}" for k in keys)]
        for name, v in summ["phases"].items()
    ]
    head = ["phase", *(labels.get(k, k) for k in keys)]
    out_console.print(_table("per phase (mean over runs)", head, phases))
    verdicts = []
    for col, label in (("flag_class", "flag class"), ("behaviour_class", "behaviour class")):
        for c, v in summ.get(col, {}).items():
            ci = v["ci95"]
            verdicts.append(
                [f"{label}: {c}", str(v["count"]), f"{v['share']:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"]
            )
    if verdicts:
        out_console.print(_table("verdicts", ["class", "runs", "share [95% CI]"], verdicts))
    if summ.get("probes"):
        rows = [[c, _num(v["mean"]), f"[{_num(v['ci95'][0])}, {_num(v['ci95'][1])}]"]
                for c, v in summ["probes"].items()]  # fmt: skip
        out_console.print(
            _table(
                "probe scores (0: chance, 1: best; mean over runs)",
                ["objective", "score", "95% CI"],
                rows,
            )
        )
    if "tampers" in summ:
        t = summ["tampers"]
        ex = summ.get("tamper_excess", {})
        excess = ""
        if ex.get("mean") is not None:
            lo, hi = (_num(x) for x in ex["ci95"])
            excess = f"; mean excess over the matched control {ex['mean']:+.3f} [{lo}, {hi}]"
        print(
            f"runs that tamper beyond their matched control: {t['count']} ({t['share']:.2f} "
            f"[{t['ci95'][0]:.2f}, {t['ci95'][1]:.2f}]){excess}"
        )
    print(f"results: {out / 'runs.parquet'}, {out / 'series.parquet'}")


Sets = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a scenario key: a.b.c=VALUE (TOML value).", metavar="K=V"),
]


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="A scenario file or a shipped scenario name.")],
    runs: Annotated[
        int | None, typer.Option(min=1, max=10**7, help="Runs (default: the file's).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, max=2**63 - 1, help="Seed (default: the file's).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: out/<scenario file's stem>).")
    ] = None,
    set_: Sets = None,
    batch: Annotated[int, typer.Option(min=1, help="Runs per kernel batch.")] = 1024,
    threads: Annotated[int | None, typer.Option(help="Numba threads (default: all).")] = None,
) -> None:
    """Run a scenario: N runs batched; write runs.parquet and series.parquet; print a summary."""
    from goaldrift.registry import resolve_scenario

    set_threads(threads)
    path = resolve_scenario(scenario)
    out = out or Path("out") / path.stem
    summ = _run_one(path, out, runs, seed, set_ or [], batch)
    _print_summary(summ, out)


@app.command()
def probe(
    scenario: Annotated[str, typer.Argument(help="A scenario file or a shipped scenario name.")],
    model: Annotated[
        Path | None,
        typer.Option(
            help="A Stable-Baselines3 model file to probe on the scenario's world "
            "(needs the sb3 extra); without it, the scenario's own agent."
        ),
    ] = None,
    algo: Annotated[
        str | None, typer.Option(help="The model's algorithm: ppo, dqn or a2c (default ppo).")
    ] = None,
    runs: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=10**6,
            help="Runs (default: the file's; with --model 1 on Register QA, 16 on a gridworld).",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=2**63 - 1,
            help="Seed (default: the file's). With --model, run r probes the "
            "world of reset(seed=SEED + r): give the model's training seed.",
        ),
    ] = None,
    set_: Sets = None,
    see_register: Annotated[
        bool,
        typer.Option(
            "--see-register",
            help="Register QA with --model: the model observes "
            "(type, register), as RegisterQA-v0 with see_register=True (default: "
            "read off the model's observation space).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Numba (and torch) threads (default: all).")
    ] = None,
) -> None:
    """Probe a frozen policy: score each objective between a random policy (0) and its best
    (1), per run, and give each run's behaviour class (docs/gymnasium.md, "Probing any
    policy")."""
    from goaldrift.experiments import scenarios as scen
    from goaldrift.probes import policy as pp
    from goaldrift.registry import family, resolve_scenario

    if model is None:
        for name, v in (("--algo", algo), ("--see-register", see_register)):
            if v:
                raise ConfigError(name, "given only with --model", v)
    set_threads(threads)
    sc = scen.load(resolve_scenario(scenario), set_ or [])
    fam = family(sc.world.kind)
    s = sc.seed if seed is None else seed
    t0 = time.perf_counter()
    if model is None:
        from goaldrift.experiments.runs.runner import run_batch
        from goaldrift.probes.suites import probe

        n = sc.runs if runs is None else runs
        with _progress() as prog:
            task = prog.add_task(sc.name, total=n * sc.total_steps, rate="")
            res = run_batch(sc, s, np.arange(n), lambda k: prog.update(task, advance=k))
        scores = probe(res)
        who: Any = "the scenario's agent"
    else:
        pol = pp.load_sb3(model, algo or "ppo")
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        kw: dict[str, Any] = {}
        if fam.name == "qa":
            from gymnasium import spaces

            sees = isinstance(pol.observation_space, spaces.MultiDiscrete)
            if see_register and not sees:
                raise ConfigError(
                    "--see-register",
                    "given for a model that observes the register (MultiDiscrete)",
                    str(pol.observation_space),
                )
            kw["see_register"] = sees
        elif see_register:
            raise ConfigError("--see-register", "given only on Register QA", sc.world.kind)
        n = (1 if fam.name == "qa" else 16) if runs is None else runs
        scores = pp.probe_policy(pol, sc, np.arange(n), s, **kw)
        who = {"model": str(model), "algo": (algo or "ppo").lower()}
    summ = pp.summarise(scores)
    summ = {"scenario": sc.name, "world": sc.world.kind, "policy": who, "seed": s, **summ,
            "seconds": time.perf_counter() - t0}  # fmt: skip
    if as_json:
        print(json.dumps(summ))
        return
    _print_probe(summ)


def _print_probe(summ: dict[str, Any]) -> None:
    who = summ["policy"]
    who = who if isinstance(who, str) else f"{who['algo'].upper()} model {who['model']}"
    title = (f"{summ['scenario']} ({summ['world']}): {who}, {summ['runs']} runs, seed "
             f"{summ['seed']}; score 0: random policy, 1: best")  # fmt: skip
    rows = [
        [name, v["role"], _num(v["mean"]), f"[{_num(v['ci95'][0])}, {_num(v['ci95'][1])}]",
         str(v["served"])]
        for name, v in summ["objectives"].items()
    ]  # fmt: skip
    head = ["objective", "role", "mean score", "95% CI (runs)", "runs served"]
    out_console.print(_table(title, head, rows))
    rows = [[c, str(k)] for c, k in summ["behaviour"].items()]
    out_console.print(_table("behaviour class", ["class", "runs"], rows))


# the options of the commands that run on the sweep machinery (sweep, compare)
OutOption = Annotated[Path | None, typer.Option(help="Output folder (default: out/<name>).")]
BackendOption = Annotated[str, typer.Option(help="local (a process pool) or dask.")]
WorkersOption = Annotated[
    int | None, typer.Option(help="Worker processes (default: the machine's cores).")
]
AddressOption = Annotated[
    str | None, typer.Option(help="A Dask scheduler, tcp://HOST:PORT (dask only).")
]
HostOption = Annotated[str, typer.Option(help="Interface a local Dask cluster binds.")]
ChunkOption = Annotated[int, typer.Option(min=1, help="Most runs per chunk.")]


@app.command()
def sweep(
    file: Annotated[str, typer.Argument(help="A sweep file or a shipped sweep name.")],
    out: OutOption = None,
    backend: BackendOption = "local",
    workers: WorkersOption = None,
    address: AddressOption = None,
    host: HostOption = "127.0.0.1",
    seeds: Annotated[int | None, typer.Option(min=1, max=MAX_SEEDS, help="Runs per point.")] = None,
    set_: Sets = None,
    chunk: ChunkOption = 256,
    threads: Annotated[int | None, typer.Option(min=1, help="Numba threads per worker.")] = 1,
) -> None:
    """Run a sweep: every point of the axes' grid x seeds; resumable; then print the points."""
    from goaldrift.registry import resolve_sweep

    if threads is not None:
        check_threads(threads)  # here, not in every worker
    path = resolve_sweep(file)
    out = out or Path("out") / path.stem
    summ = _sweep_one(path, out, set_ or [], seeds, backend, workers, address, host, chunk, threads)
    _print_points(out)
    print(f"sweep finished in {summ['seconds']:.1f}s; results: {out}")


def _sweep_one(
    path: Path,
    out: Path,
    sets: list[str],
    seeds: int | None = None,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    host: str = "127.0.0.1",
    chunk: int = 256,
    threads: int | None = 1,
) -> dict[str, Any]:
    """Run one sweep file into ``out`` with a progress bar over the whole sweep."""
    from goaldrift.experiments.sweeps import backends
    from goaldrift.experiments.sweeps import sweep as sweeps

    sw = sweeps.load(path, sets, seeds)
    be = backends.make(backend, workers, address, host)
    with be:
        return _sweep_on(sw, out, be, backend, chunk, threads)


def _sweep_on(
    sw: Any, out: Path, be: Any, backend: str, chunk: int, threads: int | None
) -> dict[str, Any]:
    """Run a sweep into ``out`` on an open backend, with a progress bar over the sweep."""
    from goaldrift.experiments.sweeps import run as sweep_run

    t0 = time.perf_counter()
    with _progress() as prog:
        task = prog.add_task(sw.name, total=sw.total_runs, rate="")
        fresh = [0]

        def started(s: sweep_run.Started) -> None:
            prog.update(task, completed=s.done)
            for f in s.set_aside:
                print(f"{sw.name}: set aside a damaged chunk as {f}; recomputing it", flush=True)
            print(
                f"{sw.name}: {sw.n_points} points x {sw.seeds} seeds = {s.total} runs; "
                f"{s.done} already done; {s.chunks} chunks on {backend} with "
                f"{be.workers} worker{'s' if be.workers != 1 else ''}",
                flush=True,
            )

        def tick(k: int) -> None:
            fresh[0] += k
            rate = fresh[0] / max(time.perf_counter() - t0, 1e-9)
            prog.update(task, advance=k, rate=f"{rate:.1f} runs/s")

        summ = sweep_run.run_sweep(
            sw, out, be, chunk=chunk, threads=threads, on_start=started, on_chunk=tick
        )
    summ["seconds"] = time.perf_counter() - t0
    return summ


@app.command()
def compare(
    file: Annotated[str, typer.Argument(help="A compare file or a shipped comparison name.")],
    out: OutOption = None,
    backend: BackendOption = "local",
    workers: WorkersOption = None,
    address: AddressOption = None,
    host: HostOption = "127.0.0.1",
    seeds: Annotated[int | None, typer.Option(min=1, max=MAX_SEEDS, help="Runs per cell.")] = None,
    chunk: ChunkOption = 256,
) -> None:
    """Compare agents (mitigations and baselines) across worlds: every cell x seeds, resumable;
    write the leaderboard (table and figure) and print it."""
    from goaldrift.registry import resolve_compare

    path = resolve_compare(file)
    _compare_one(path, out or Path("out") / path.stem, seeds, backend, workers, address, host,
                 chunk)  # fmt: skip


def _compare_one(
    path: Path,
    out: Path,
    seeds: int | None = None,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    host: str = "127.0.0.1",
    chunk: int = 256,
) -> Path:
    """Run a comparison into ``out``, write its leaderboard and print it; return the figure."""
    from goaldrift.experiments import compare as cmp_
    from goaldrift.experiments.sweeps import backends
    from goaldrift.experiments.sweeps import run as sweep_run
    from goaldrift.report import compare_report

    cmp = cmp_.load(path, seeds)
    cmp_.prepare(cmp, out)
    t0 = time.perf_counter()
    be = backends.make(backend, workers, address, host)
    with be:
        if be.workers > 1:  # the workers compile different kernels at once
            for _ in be.map(sweep_run.run_chunk, cmp_.warm_tasks(cmp)):
                pass
        for row in cmp.rows:
            _sweep_on(row.sweep, cmp_.row_folder(out, row), be, backend, chunk, 1)
    figure = compare_report.write(cmp, out)
    _print_leaderboard(out)
    print(f"comparison finished in {time.perf_counter() - t0:.1f}s; results: {out}")
    return figure


def _print_leaderboard(out: Path) -> None:
    import pyarrow.parquet as pq

    from goaldrift.experiments.compare import LEADERBOARD

    t = pq.read_table(out / LEADERBOARD).to_pylist()
    head = ["world", "agent", "behaviour (most runs)", "tampers", "tamper excess [95% CI]",
            "intended", "observed"]  # fmt: skip
    rows = []
    for r in t:
        top = max(
            (k for k in r if k.startswith("behaviour.") and k.count(".") == 1),
            key=lambda k: r[k],
        )
        rows.append([
            r["world"], r["agent"], f"{top.split('.')[1]} {r[top]:.2f}", f"{r['tampers']:.2f}",
            f"{_num(r['tamper_excess'])} [{_num(r['tamper_excess.lo'])}, "
            f"{_num(r['tamper_excess.hi'])}]",
            _num(r["intended"]), _num(r["observed"]),
        ])  # fmt: skip
    out_console.print(_table("leaderboard", head, rows))


def _print_points(out: Path, limit: int = 40) -> None:
    import pyarrow.parquet as pq

    from goaldrift.experiments.sweeps import store as sweep_store

    pts = pq.read_table(out / sweep_store.POINTS)
    axes = [a["key"] for a in sweep_store.read_sweep(out)["axes"]]
    metrics = [
        "share.aligned",
        "share.proxy",
        "share.wirehead",
        "share.mixed",
        "register_flag",
        "tampers",
    ]
    rows = []
    for r in pts.slice(0, limit).to_pylist():
        cells = [_cell(r[k]) for k in axes]
        rows.append([str(r["point"]), *cells, str(r["runs"]), *(_cell(r[m]) for m in metrics)])
    head = [
        "point",
        *axes,
        "runs",
        "aligned",
        "proxy",
        "wirehead",
        "mixed",
        "register flag",
        "tampers",
    ]
    title = f"points (first {limit} of {pts.num_rows})" if pts.num_rows > limit else "points"
    out_console.print(_table(title, head, rows))


def _cell(v: object, digits: int = 3) -> str:
    if isinstance(v, float):
        return "-" if v != v else f"{v:.{digits}g}"
    return str(v)


@app.command()
def query(
    directory: Annotated[Path, typer.Argument(help="A sweep or run folder.")],
    sql: Annotated[
        str, typer.Argument(help="SQL over the views runs, points (sweeps), series (runs).")
    ],
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Query a results folder with DuckDB SQL; column names with dots need double quotes."""
    import duckdb

    from goaldrift.experiments.sweeps import store as sweep_store

    if fmt not in ("table", "csv", "json"):
        raise ConfigError("--format", "'table', 'csv' or 'json'", fmt)
    con = sweep_store.connect(directory)
    try:
        statements = con.extract_statements(sql)
        if len(statements) != 1:
            raise ConfigError("SQL", "one statement", sql)
        if statements[0].type not in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
            raise ConfigError("SQL", "a read-only query (SELECT): results are never written", sql)
        result = con.sql(sql)
        if result is None:
            raise ConfigError("SQL", "a query that returns rows", sql)
        table = result.to_arrow_table()
    except duckdb.Error as exc:
        why = " ".join(str(exc).split())
        if isinstance(exc, duckdb.BinderException) and re.search(r"[A-Za-z_]\.[A-Za-z_]", sql):
            why += ' (column names with dots need double quotes: "flag.correct")'
        raise ConfigError("SQL", "a valid query", why) from None
    finally:
        con.close()
    _print_result(table, fmt)


def _print_result(table: Any, fmt: str) -> None:
    """Print an Arrow table as a rich table, CSV, or JSON records (NaN as null)."""
    import math

    import pyarrow as pa
    import pyarrow.csv as pacsv

    if fmt == "csv":
        buf = pa.BufferOutputStream()
        pacsv.write_csv(table, buf)
        sys.stdout.write(buf.getvalue().to_pybytes().decode())
        return
    rows = table.to_pylist()
    if fmt == "json":
        clean = [
            {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
            for r in rows
        ]
        print(json.dumps(clean, default=str))
        return
    t = Table()
    for name in table.column_names:
        t.add_column(name)
    for r in rows:
        t.add_row(*("" if v is None else _cell(v, 6) for v in r.values()))
    out_console.print(t)


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="A run or sweep folder.")],
    x: Annotated[str | None, typer.Option(help="Sweeps: the axis along x.")] = None,
    y: Annotated[str | None, typer.Option(help="Sweeps: the axis along y (a heatmap).")] = None,
    fix: Annotated[
        list[str] | None,
        typer.Option(help="Sweeps: hold an axis at a value, KEY=VALUE (others are pooled)."),
    ] = None,
) -> None:
    """Write DIR/report.html with PNG plots: of a run, or heatmaps of a sweep."""
    from goaldrift.experiments.sweeps.store import is_sweep
    from goaldrift.report import write_report, write_sweep_report

    if is_sweep(directory):
        page = write_sweep_report(directory, x=x, y=y, fix=fix or [])
    else:
        for name, v in (("--x", x), ("--y", y), ("--fix", fix)):
            if v:
                raise ConfigError(name, "given only for a sweep folder", v)
        page = write_report(directory)
    print(f"report: {page}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/demo"),
    runs: Annotated[int | None, typer.Option(min=1, max=10**7, help="Runs per scenario.")] = None,
    threads: Annotated[int | None, typer.Option(help="Numba threads (default: all).")] = None,
    sweeps: Annotated[
        bool,
        typer.Option("--sweeps/--no-sweeps", help="Also run the shipped sweeps and comparisons."),
    ] = True,
    seeds: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_SEEDS, help="Runs per sweep point and comparison cell."),
    ] = None,
) -> None:
    """Run every shipped scenario (and sweep and comparison) and write one report that links
    them."""
    from goaldrift.experiments.scenarios import load
    from goaldrift.experiments.sweeps.store import read_sweep
    from goaldrift.registry import compares, scenarios
    from goaldrift.registry import sweeps as shipped_sweeps
    from goaldrift.report import write_index, write_report, write_sweep_report
    from goaldrift.report.compare_report import COMPARE_CLAIM, compare_headline

    set_threads(threads)
    t0 = time.perf_counter()
    entries = []
    for name, path in scenarios().items():
        d = out / name
        summ = _run_one(path, d, runs, None, [], 1024)
        write_report(d)
        sc = load(path)
        entries.append({"name": name, "dir": name, "summary": summ, "claim": sc.claim})
        shares = ", ".join(f"{o} {v['count']}" for o, v in summ["outcomes"].items() if v["count"])
        print(f"{name}: {shares} ({summ['seconds']:.1f}s)", flush=True)
    for name, path in (shipped_sweeps() if sweeps else {}).items():
        d = out / "sweeps" / name
        summ = _sweep_one(path, d, [], seeds)
        write_sweep_report(d)
        claim = read_sweep(d)["claim"]
        entries.append(
            {
                "name": name,
                "dir": f"sweeps/{name}",
                "kind": "sweep",
                "summary": summ,
                "claim": claim,
            }
        )
        print(f"sweep {name}: {summ['points']} points x {summ['seeds']} seeds "
              f"({summ['seconds']:.1f}s)", flush=True)  # fmt: skip
    for name, path in (compares() if sweeps else {}).items():
        d = out / "compare" / name
        _compare_one(path, d, seeds)
        entries.append({"name": name, "dir": f"compare/{name}", "kind": "compare",
                        "claim": COMPARE_CLAIM, "headline": compare_headline(d)})  # fmt: skip
    page = write_index(out, entries)
    print(f"demo finished in {time.perf_counter() - t0:.0f}s; report: {page}")


@app.command(name="list")
def list_() -> None:
    """List worlds, agents, flag rules, split policies, shipped scenarios, sweeps and
    comparisons."""
    from goaldrift.experiments.scenarios import load
    from goaldrift.experiments.sweeps.sweep import sweep_description
    from goaldrift.registry import agents, flag_rules, scenarios, split_policies, sweeps, worlds

    def section(title: str, rows: dict[str, str]) -> None:
        print(title)
        for k, v in rows.items():
            print(f"  {k:<22} {v}")

    from goaldrift.registry import family

    def world_line(kind: str) -> str:
        gym = family(kind).gym_id(kind)
        return worlds()[kind].description + (f" (Gymnasium: {gym})" if gym else "")

    section("worlds", {k: world_line(k) for k in worlds()})
    section("agents", agents())
    section("flag rules", flag_rules())
    section("split policies", split_policies())
    section("scenarios", {name: load(path).description for name, path in scenarios().items()})
    section("sweeps", {name: sweep_description(path) for name, path in sweeps().items()})
    from goaldrift.experiments.compare import compare_description
    from goaldrift.registry import compares

    section("comparisons", {n: compare_description(p) for n, p in compares().items()})


@app.command()
def bench(
    steps: Annotated[int, typer.Option(min=1000, help="Steps per run per measurement.")] = 50_000,
    repeat: Annotated[int, typer.Option(min=1, help="Measurements; the best is kept.")] = 3,
    only: Annotated[
        list[str] | None,
        typer.Option(help="Run only rows whose name starts with this (repeatable): qa, boat_race."),
    ] = None,
) -> None:
    """Print throughput as JSON lines: {"name", "threads", "batch", "per_s", "unit"}; before
    each row, which of how many goes to stderr (rows: docs/performance.md)."""
    from goaldrift.experiments.runs.bench import bench_all

    def note(text: str) -> None:
        print(f"bench: {text}", file=sys.stderr, flush=True)

    for row in bench_all(steps=steps, repeat=repeat, only=only or (), note=note):
        print(json.dumps(row), flush=True)


@app.command()
def schema(
    fmt: Annotated[str, typer.Option("--format", help="markdown or json.")] = "markdown",
) -> None:
    """Print the scenario file reference (generated from the validating schema)."""
    from goaldrift.experiments.scenarios.reference import json_schema, markdown

    if fmt == "markdown":
        print(markdown())
    elif fmt == "json":
        print(json.dumps(json_schema(), indent=2))
    else:
        raise ConfigError("--format", "'markdown' or 'json'", fmt)


_TERMINATED: list[bool] = []


def _on_sigterm(signum: int, frame: Any) -> None:
    """``kill PID`` stops like Ctrl-C: workers are stopped with the coordinator and finished
    work is kept (exit 143, 128 + SIGTERM)."""
    _TERMINATED.append(True)
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: every expected error is one line on stderr and exit code 2."""
    if len(sys.argv) == 1:
        sys.argv.append("--help")
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        rv = app(standalone_mode=False)
    except GoaldriftError as exc:
        _fail(str(exc))
    except typer.Exit as exc:
        rv = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        rv = 130
    except OSError as exc:  # the machine's, not a bug: a full disk, no permission, ...
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"{exc.strerror or ' '.join(str(exc).split())}{where}")
    except Exception as exc:
        # usage errors of the command-line parser (click's, vendored or not)
        fmt = getattr(exc, "format_message", None)
        if fmt is not None and getattr(exc, "exit_code", None) == 2:
            _fail(" ".join(str(fmt()).split()))
        raise
    if rv == 130:  # typer turns Ctrl-C into exit code 130
        how = "terminated" if _TERMINATED else "interrupted"
        print(
            f"goaldrift: {how}; finished work is kept (rerun the same command to resume)",
            file=sys.stderr,
        )
        if _TERMINATED:
            rv = 143
    if isinstance(rv, int) and rv:
        sys.exit(rv)


def _fail(message: str) -> None:
    print(f"goaldrift: error: {message}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
