"""The goaldrift command line: run, report, demo, list, bench, schema."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from goaldrift.errors import ConfigError, GoaldriftError
from goaldrift.threads import set_threads

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="goaldrift: which objective does a learned optimizer end up pursuing?",
)
console = Console(stderr=True)
out_console = Console()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal and os.environ.get("GOALDRIFT_PROGRESS") != "1",
    )


def _run_one(
    path: Path, out: Path, runs: int | None, seed: int | None, sets: list[str], batch: int
) -> dict:
    from goaldrift.experiments import scenario as scen
    from goaldrift.experiments.execute import run_to

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
    if "tampers" in summ:
        t = summ["tampers"]
        print(
            f"runs that tamper: {t['count']} ({t['share']:.2f} "
            f"[{t['ci95'][0]:.2f}, {t['ci95'][1]:.2f}])"
        )
    print(f"results: {out / 'runs.parquet'}, {out / 'series.parquet'}")


Sets = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a scenario key: a.b.c=VALUE (TOML value).", metavar="K=V"),
]


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="A scenario file or a shipped scenario name.")],
    runs: Annotated[int | None, typer.Option(min=1, help="Runs (default: the file's).")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed (default: the file's).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
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
def report(
    directory: Annotated[Path, typer.Argument(help="A run folder written by `goaldrift run`.")],
) -> None:
    """Write DIR/report.html with PNG plots of a run folder."""
    from goaldrift.report import write_report

    page = write_report(directory)
    print(f"report: {page}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/demo"),
    runs: Annotated[int | None, typer.Option(min=1, help="Runs per scenario.")] = None,
    threads: Annotated[int | None, typer.Option(help="Numba threads (default: all).")] = None,
) -> None:
    """Run every shipped scenario and write one report that links them."""
    from goaldrift.experiments.scenario import load
    from goaldrift.registry import scenarios
    from goaldrift.report import write_index, write_report

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
    page = write_index(out, entries)
    print(f"demo finished in {time.perf_counter() - t0:.0f}s; report: {page}")


@app.command(name="list")
def list_() -> None:
    """List worlds, agents, flag rules, split policies and shipped scenarios."""
    from goaldrift.experiments.scenario import load
    from goaldrift.registry import AGENTS, flag_rules, scenarios, split_policies, worlds

    def section(title: str, rows: dict[str, str]) -> None:
        print(title)
        for k, v in rows.items():
            print(f"  {k:<22} {v}")

    section("worlds", {k: f"{w.id}: {w.description}" for k, w in worlds().items()})
    section("agents", AGENTS)
    section("flag rules", flag_rules())
    section("split policies", split_policies())
    rows = {}
    for name, path in scenarios().items():
        rows[name] = load(path).description
    section("scenarios", rows)


@app.command()
def bench(
    steps: Annotated[int, typer.Option(min=1000, help="Steps per run per measurement.")] = 50_000,
    repeat: Annotated[int, typer.Option(min=1, help="Measurements; the best is kept.")] = 3,
) -> None:
    """Print throughput as JSON lines: {"name", "threads", "batch", "per_s", "unit"}."""
    from goaldrift.experiments.bench import bench_all

    for row in bench_all(steps=steps, repeat=repeat):
        print(json.dumps(row), flush=True)


@app.command()
def schema(
    fmt: Annotated[str, typer.Option("--format", help="markdown or json.")] = "markdown",
) -> None:
    """Print the scenario file reference (generated from the validating schema)."""
    from goaldrift.experiments.schema_doc import json_schema, markdown

    if fmt == "markdown":
        print(markdown())
    elif fmt == "json":
        print(json.dumps(json_schema(), indent=2))
    else:
        raise ConfigError("--format", "'markdown' or 'json'", fmt)


def main() -> None:
    """Entry point: every expected error is one line on stderr and exit code 2."""
    if len(sys.argv) == 1:
        sys.argv.append("--help")
    try:
        rv = app(standalone_mode=False)
    except GoaldriftError as exc:
        _fail(str(exc))
    except typer.Exit as exc:
        rv = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        rv = 130
    except Exception as exc:
        # usage errors of the command-line parser (click's, vendored or not)
        fmt = getattr(exc, "format_message", None)
        if fmt is not None and getattr(exc, "exit_code", None) == 2:
            _fail(" ".join(str(fmt()).split()))
        raise
    if rv == 130:  # typer turns Ctrl-C into exit code 130
        print("goaldrift: interrupted; finished batches are kept", file=sys.stderr)
    if isinstance(rv, int) and rv:
        sys.exit(rv)


def _fail(message: str) -> None:
    print(f"goaldrift: error: {message}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
