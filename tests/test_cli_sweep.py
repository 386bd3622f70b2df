"""`goaldrift sweep` and `goaldrift query` end to end: results, resumption after SIGKILL and
Ctrl-C, identical results across backends, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.test_cli import GOALDRIFT, assert_one_line_error, goaldrift

from goaldrift.experiments.sweeps import store as sweep_store
from goaldrift.registry import sweeps

SWEEP = """\
# "a quoted claim"
name = "cli-sweep"
sample_every = 500

[world]
types = 8
hard_types = 4
noise = 0.1

[agent]
flag_rule = "regression"
awareness = { register_match = { schedule = "start" } }

[[phases]]
name = "train"
steps = 2000

[sweep]
seeds = 6

[sweep.axes]
"world.diversity" = [0.0, 0.5, 1.0]
"phases.0.steps" = { from = 1000, to = 4000, num = 3, scale = "log" }
"""


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    p = tmp_path / "sweep.toml"
    p.write_text(SWEEP)
    return p


def test_sweep_writes_points_and_queries_read_them(sweep_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = goaldrift("sweep", sweep_file, "--out", out, "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "9 points x 6 seeds = 54 runs; 0 already done" in proc.stdout
    assert "world.diversity" in proc.stdout and "phases.0.steps" in proc.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == ["chunks", "manifest.json", "points.parquet", "summary.json", "sweep.json"]
    assert pq.read_table(out / "points.parquet").num_rows == 9

    q = 'SELECT "phases.0.steps" AS steps, count(*) AS n FROM runs GROUP BY 1 ORDER BY 1'
    as_csv = goaldrift("query", out, q, "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["steps", "n"],
        ["1000", "18"],
        ["2000", "18"],
        ["4000", "18"],
    ]
    as_json = goaldrift("query", out, "SELECT point, runs FROM points ORDER BY point", "--format",
                        "json")  # fmt: skip
    assert json.loads(as_json.stdout) == [{"point": p, "runs": 6} for p in range(9)]
    table = goaldrift("query", out, "SELECT count(*) AS n FROM runs")
    assert table.returncode == 0 and "54" in table.stdout

    again = goaldrift("sweep", sweep_file, "--out", out, "--workers", "1")
    assert again.returncode == 0, again.stderr
    assert "54 already done; 0 chunks" in again.stdout


def test_query_a_run_folder(tmp_path: Path) -> None:
    from tests.test_cli import TOML

    (tmp_path / "s.toml").write_text(TOML)
    assert (
        goaldrift("run", tmp_path / "s.toml", "--out", tmp_path / "r", "--runs", "3").returncode
        == 0
    )
    proc = goaldrift("query", tmp_path / "r", "SELECT count(DISTINCT run) AS n FROM series",
                     "--format", "json")  # fmt: skip
    assert json.loads(proc.stdout) == [{"n": 3}]


def test_more_seeds_from_the_command_line(sweep_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert goaldrift("sweep", sweep_file, "--out", out, "--seeds", "2").returncode == 0
    proc = goaldrift("sweep", sweep_file, "--out", out, "--seeds", "3", "--set",
                     "sweep.seeds=99")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "= 27 runs; 18 already done" in proc.stdout


def _popen(args: list[str]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "GOALDRIFT_PROGRESS"}
    return subprocess.Popen(
        [*GOALDRIFT, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal job would be
        preexec_fn=_interruptible,
    )


def _interruptible() -> None:
    """Ctrl-C's default disposition in the child, as in a terminal: a harness that starts the
    tests in the background (bash ignores SIGINT in background jobs, and the child inherits
    that) would otherwise make every SIGINT test meaningless."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_chunks(out: Path, n: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 240
    while len(sweep_store.chunk_files(out)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)


LONG = ["--set", "sweep.axes.phases.0.steps=[400000, 800000]", "--set", "sample_every=20000",
        "--seeds", "8", "--chunk", "2"]  # fmt: skip


@pytest.mark.parametrize("backend", ["local", "dask"])
def test_sigkill_then_rerun_computes_only_the_rest_exactly(
    sweep_file: Path, tmp_path: Path, backend: str
) -> None:
    """Kill the sweep and its workers with SIGKILL mid-sweep; the rerun keeps every landed
    chunk untouched and ends with the same results as an uninterrupted sweep."""
    out = tmp_path / "killed"
    args = ["sweep", str(sweep_file), *LONG, "--workers", "2", "--backend", backend]
    proc = _popen([*args, "--out", str(out)])
    _wait_for_chunks(out, 3, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    landed = {p: p.stat().st_mtime_ns for p, _ in sweep_store.chunk_files(out)}
    assert len(landed) >= 3
    assert not (out / "points.parquet").exists()

    again = goaldrift(*args, "--out", out)
    assert again.returncode == 0, again.stderr
    done = int(again.stdout.split(" already done")[0].rsplit("; ", 1)[1])
    assert done >= 3 * 2
    assert all(p.stat().st_mtime_ns == t for p, t in landed.items())

    full = goaldrift("sweep", sweep_file, *LONG, "--workers", "1", "--chunk", "5", "--out",
                     tmp_path / "full")  # fmt: skip
    assert full.returncode == 0, full.stderr
    assert sweep_store.read_runs(out).equals(sweep_store.read_runs(tmp_path / "full"))
    for name in ("points.parquet",):
        assert pq.read_table(out / name).equals(pq.read_table(tmp_path / "full" / name))
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


def _workers(pid: int) -> list[int]:
    """The pool's worker processes of a sweep (not multiprocessing's resource tracker)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    found = []
    for child in map(int, out.split()):
        try:
            cmd = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmd:
            found.append(child)
    return found


def _long_sweep(
    sweep_file: Path, out: Path, chunks: int
) -> tuple[subprocess.Popen[str], list[str]]:
    """A long two-worker sweep into ``out``, once ``chunks`` chunks are stored."""
    args = ["sweep", str(sweep_file), *LONG, "--workers", "2", "--out", str(out)]
    proc = _popen(args)
    _wait_for_chunks(out, chunks, proc)
    return proc, args


def test_a_dead_worker_stops_the_sweep_with_one_line(sweep_file: Path, tmp_path: Path) -> None:
    """A worker killed under the sweep (as the OOM killer would): the sweep ends with one
    error line instead of waiting forever; the rerun finishes what is missing."""
    proc, args = _long_sweep(sweep_file, tmp_path / "lost", 1)
    victims = _workers(proc.pid)
    assert victims, "no worker found"
    os.kill(victims[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and "a worker process died" in err
    again = goaldrift(*args)
    assert again.returncode == 0, again.stderr


def test_ctrl_c_stops_cleanly_and_resumes(sweep_file: Path, tmp_path: Path) -> None:
    """SIGINT to the process group (what a terminal's Ctrl-C does): exit 130, one line on
    stderr, no traceback from the coordinator or a worker; the rerun finishes."""
    proc, args = _long_sweep(sweep_file, tmp_path / "stopped", 2)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [
        "goaldrift: interrupted; finished work is kept (rerun the same command to resume)"
    ]
    assert goaldrift(*args).returncode == 0


def test_sigterm_stops_the_workers_with_the_coordinator(sweep_file: Path, tmp_path: Path) -> None:
    """`kill PID` (SIGTERM to the coordinator alone): its pool workers stop with it at once,
    one line, exit 143; the rerun finishes."""
    proc, args = _long_sweep(sweep_file, tmp_path / "termed", 2)
    children = _workers(proc.pid)
    assert children, "no worker found"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == [
        "goaldrift: terminated; finished work is kept (rerun the same command to resume)"
    ]
    deadline = time.monotonic() + 10
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(c) for c in children)
    assert goaldrift(*args).returncode == 0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_shipped_sweeps_are_listed_and_valid() -> None:
    from goaldrift.experiments.sweeps import sweep

    shipped = sweeps()
    assert len(shipped) >= 3
    listed = goaldrift("list").stdout
    for name, path in shipped.items():
        assert name in listed
        sw = sweep.load(path)
        assert sw.n_points >= 4 and sw.claim
        assert path.read_text().startswith('# "')


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--backend", "slurm"], ["'--backend' must be 'local' or 'dask'"]),
        (["--workers", "0"], ["'--workers' must be at least 1"]),
        (["--address", "tcp://127.0.0.1:8786"], ["'--address' must be given only with"]),
        (["--backend", "dask", "--address", "nowhere"], ["'--address' must be a scheduler"]),
        (["--seeds", "0"], ["--seeds"]),
        (["--chunk", "0"], ["--chunk"]),
        (
            ["--set", "sweep.axes.world.diversity=[2.0]"],
            ["'world.diversity'", "world.diversity = 2.0"],
        ),
        (["--set", "sweep.axes.world.nosie=[0.1]"], ["'world.nosie' must be a known key"]),
        (["--set", "sweep.axes.world.noise=[]"], ["'sweep.axes.world.noise'"]),
        (["--set", "sweep.sedes=3"], ["'sweep.sedes'"]),
        (["--set", "world.diversity=0.3"], ["'--set' must be a key that is not swept"]),
    ],
)
def test_bad_sweep_options(
    sweep_file: Path, tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    proc = goaldrift("sweep", sweep_file, "--out", tmp_path / "o", *args)
    assert_one_line_error(proc, *needles)


def test_bad_sweep_files(tmp_path: Path, sweep_file: Path) -> None:
    assert_one_line_error(goaldrift("sweep", "no-such-sweep"), "unknown sweep 'no-such-sweep'")
    assert_one_line_error(goaldrift("sweep", tmp_path / "missing.toml"), "missing.toml")
    assert_one_line_error(goaldrift("run", sweep_file), "'sweep' must be absent",
                          "use `goaldrift sweep`")  # fmt: skip
    from tests.test_cli import TOML

    (tmp_path / "plain.toml").write_text(TOML)
    assert_one_line_error(goaldrift("sweep", tmp_path / "plain.toml"), "'sweep' must be a [sweep]")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("x")
    assert_one_line_error(goaldrift("sweep", sweep_file, "--out", tmp_path / "taken"),
                          "'--out' must be a new or empty folder")  # fmt: skip


def test_bad_queries(sweep_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert_one_line_error(
        goaldrift("query", out, "SELECT 1"), "'DIR' must be a sweep or run folder"
    )
    assert goaldrift("sweep", sweep_file, "--out", out, "--seeds", "1").returncode == 0
    assert_one_line_error(goaldrift("query", out, "SELEC 1"), "'SQL' must be a valid query")
    assert_one_line_error(goaldrift("query", out, "SELECT * FROM nope"), "nope")
    assert_one_line_error(goaldrift("query", out, "SELECT 1", "--format", "xml"), "'--format'")
    assert_one_line_error(goaldrift("query", out, "SELECT 1; SELECT 2"), "one statement")
    # SQL that starts with a comment follows `--` (else it reads as an option)
    comment = goaldrift("query", "--format", "csv", "--", out, "-- a comment\nSELECT 7 AS x")
    assert comment.stdout.split() == ['"x"', "7"], comment.stderr
    outside = tmp_path / "leak.csv"
    assert_one_line_error(
        goaldrift("query", out, f"COPY (SELECT * FROM runs) TO '{outside}'"), "'SQL'"
    )
    assert not outside.exists()


def test_demo_links_every_scenario_and_sweep(tmp_path: Path) -> None:
    from goaldrift.registry import scenarios

    out = tmp_path / "demo"
    proc = goaldrift("demo", "--out", out, "--runs", "2", "--seeds", "1")
    assert proc.returncode == 0, proc.stderr
    index = (out / "index.html").read_text()
    for name in scenarios():
        assert f'href="{name}/report.html"' in index
        assert (out / name / "report.html").is_file()
    for name in sweeps():
        assert f'href="sweeps/{name}/report.html"' in index
        assert list((out / "sweeps" / name / "plots").glob("sweep-*.png"))


def test_report_options_on_a_sweep_and_a_run_folder(sweep_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert goaldrift("sweep", sweep_file, "--out", out, "--seeds", "2").returncode == 0
    proc = goaldrift("report", out, "--x", "world.diversity", "--fix", "phases.0.steps=2000")
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (out / "plots").glob("sweep-*.png")] == [
        "sweep-01-lines-world.diversity.png"
    ]
    assert_one_line_error(
        goaldrift("report", out, "--x", "world.nosie"), "'--x'", "world.diversity"
    )
    assert_one_line_error(goaldrift("report", out, "--fix", "phases.0.steps=3"), "'--fix'", "2000")
    from tests.test_cli import TOML

    (tmp_path / "s.toml").write_text(TOML)
    assert (
        goaldrift("run", tmp_path / "s.toml", "--out", tmp_path / "r", "--runs", "2").returncode
        == 0
    )
    assert_one_line_error(
        goaldrift("report", tmp_path / "r", "--x", "a"), "'--x' must be given only"
    )


def test_queries_are_read_only(sweep_file: Path, tmp_path: Path) -> None:
    """No statement but a query; no COPY into the folder, no file read outside it, no temp
    folder; the folder is byte-for-byte the same after every attempt."""
    out = tmp_path / "out"
    assert goaldrift("sweep", sweep_file, "--out", out, "--seeds", "1").returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    chunk = next((out / "chunks").glob("c-*.parquet"))
    for sql in (
        f"COPY (SELECT * FROM runs LIMIT 1) TO '{chunk}' (FORMAT parquet)",
        f"COPY (SELECT 1) TO '{out / 'sweep.json'}'",
        "CREATE TABLE t AS SELECT 1",
        "SET temp_directory = '/tmp'",
        f"ATTACH '{out / 'x.db'}'",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT * FROM read_parquet('{chunk}')",
    ):
        assert_one_line_error(goaldrift("query", out, sql), "'SQL'")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not (Path.cwd() / ".tmp").exists() or not any((Path.cwd() / ".tmp").iterdir())
    hint = goaldrift("query", out, "SELECT flag.correct FROM runs")
    assert_one_line_error(hint, "double quotes")


def test_a_folder_name_with_glob_characters_works(sweep_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "odd [1]*?"
    proc = goaldrift("sweep", sweep_file, "--out", out, "--seeds", "1")
    assert proc.returncode == 0, proc.stderr
    n = goaldrift("query", out, "SELECT count(*) AS n FROM runs", "--format", "json")
    assert n.returncode == 0 and json.loads(n.stdout)[0]["n"] > 0, n.stderr
    assert goaldrift("report", out).returncode == 0


def test_a_damaged_chunk_is_named_set_aside_and_recomputed(
    sweep_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert goaldrift("sweep", sweep_file, "--out", out, "--workers", "1").returncode == 0
    chunks = sweep_store.chunk_files(out)
    assert chunks and all((p.parent / (p.name + sweep_store.SUM)).is_file() for p, _ in chunks)
    before = pq.read_table(out / "points.parquet")
    victim = chunks[0][0]
    original = victim.read_bytes()
    victim.write_bytes(original[: len(original) // 2])  # truncated (a full disk, a bad copy)
    for args in (("query", out, "SELECT count(*) FROM runs"), ("report", out)):
        proc = goaldrift(*args)
        assert_one_line_error(proc, victim.name)
        assert "checksum" in proc.stderr
    again = goaldrift("sweep", sweep_file, "--out", out, "--workers", "1")
    assert again.returncode == 0, again.stderr
    assert f"set aside a damaged chunk as damaged/{victim.name}" in again.stdout
    # the damaged file is kept, never deleted, and the recomputed runs are the original ones
    assert (out / "damaged" / victim.name).read_bytes() == original[: len(original) // 2]
    assert pq.read_table(out / "points.parquet").equals(before)
    assert goaldrift("query", out, "SELECT count(*) FROM runs").returncode == 0
    # a chunk without its checksum (deleted, or copied without it) is damaged too
    last = sweep_store.chunk_files(out)[-1][0]
    (last.parent / (last.name + sweep_store.SUM)).unlink()
    third = goaldrift("sweep", sweep_file, "--out", out, "--workers", "1")
    assert third.returncode == 0, third.stderr
    assert f"set aside a damaged chunk as damaged/{last.name}" in third.stdout
    assert pq.read_table(out / "points.parquet").equals(before)


# a chunk function swapped in before the CLI runs: a Dask worker cannot import the first (its
# module is not on the worker's path, as an older goaldrift or none on a remote worker), and
# the second raises on the worker (a builtin given a Task)
_BROKEN_CHUNKS = {
    "unimportable": """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("gd_only_here", sys.argv.pop(1))
mod = importlib.util.module_from_spec(spec)
sys.modules["gd_only_here"] = mod
spec.loader.exec_module(mod)
run.run_chunk = mod.run_chunk
""",
    "raises": "run.run_chunk = int\n",
}


@pytest.mark.parametrize("failure", sorted(_BROKEN_CHUNKS))
def test_a_dask_chunk_that_fails_on_the_worker_ends_the_sweep_with_one_line(
    sweep_file: Path, tmp_path: Path, failure: str
) -> None:
    """Dask retried a task its worker could not unpickle forever (the sweep hung); a task
    that raises gave a traceback. Both: one line, exit 2, no chunk written."""
    module = tmp_path / "elsewhere" / "gd_only_here.py"
    module.parent.mkdir()
    module.write_text("def run_chunk(task):\n    return task\n")
    code = "import sys\nfrom goaldrift.experiments.sweeps import run\n"
    code += _BROKEN_CHUNKS[failure]
    code += "from goaldrift.cli import main\nsys.argv[0] = 'goaldrift'\nmain()\n"
    out = tmp_path / "out"
    args = ["sweep", str(sweep_file), "--backend", "dask", "--workers", "1", "--seeds", "1"]
    proc = subprocess.run(
        [sys.executable, "-c", code, *([str(module)] if failure == "unimportable" else []),
         *args, "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    why = "No module named 'gd_only_here'" if failure == "unimportable" else "TypeError"
    assert_one_line_error(proc, "a chunk failed on a Dask worker", why)
    assert sweep_store.chunk_files(out) == []
