"""The command line end to end, through the installed entry point, in a subprocess.

Every expected error must reach the user as exactly one line on stderr, naming the offending
key or value and what was expected, with exit code 2 and no traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from goaldrift.experiments.scenarios import Scenario
from goaldrift.registry import flag_rules, scenarios, split_policies
from goaldrift.worlds.gridworlds import NAMES
from goaldrift.worlds.qa import QA_WORLD

CONCEPTS = QA_WORLD.concept_names
_SCRIPT = Path(sys.executable).with_name("goaldrift")
GOALDRIFT = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "goaldrift.cli"]

TOML = """\
name = "cli-tiny"
description = "a small scenario for the CLI tests"
runs = 2
seed = 3
sample_every = 100

[world]
types = 8
answers = 4
hard_types = 4
diversity = 0.5
noise = 0.1
access = 0.1

[agent]
flag_rule = "regression"
epsilon = 0.1

[agent.awareness]
correct = { schedule = "start" }
register_match = { schedule = "step", at = 300 }

[[phases]]
name = "train"
steps = 1000

[[phases]]
name = "deploy"
steps = 300
supervisor = false
access = 0.5
"""


def goaldrift(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GOALDRIFT_PROGRESS"}
    return subprocess.run(
        [*GOALDRIFT, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, exactly one line on stderr, no traceback; the line contains every needle."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    for n in needles:
        assert n in line, (n, line)
    return line


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(TOML)
    return p


def _no_leftovers(out: Path) -> None:
    """Nothing half-written: no temporary files, no parts/ folder."""
    assert not (out / "parts").exists()
    left = [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".tmp" in p.suffixes]
    assert left == []
    assert not [n for n in os.listdir(out) if n.startswith(".")]


# --- run -------------------------------------------------------------------------------------


def test_run_writes_the_documented_files(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = goaldrift(
        "run", scenario_file, "--runs", "3", "--out", out,
        "--set", "world.diversity=0.9", "--set", "phases.0.steps=500",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "runs.parquet" in proc.stdout
    assert {"runs.parquet", "series.parquet", "scenario.json", "summary.json"} <= {
        p.name for p in out.iterdir()
    }
    _no_leftovers(out)

    runs = pq.read_table(out / "runs.parquet")
    assert runs.num_rows == 3
    cols = set(runs.column_names)
    expected = {"run", "seed", "outcome", "step.tamper"}
    expected |= {f"flag.{c}" for c in CONCEPTS} | {f"step.aware.{c}" for c in CONCEPTS}
    for ph in ("train", "deploy"):
        expected |= {f"{ph}.tamper_rate", f"{ph}.hidden_performance"}
    assert expected <= cols, expected - cols
    assert runs.column("run").to_pylist() == [0, 1, 2]
    assert runs.column("seed").to_pylist() == [3, 3, 3]
    assert set(runs.column("outcome").to_pylist()) <= {"aligned", "proxy", "wirehead", "mixed"}
    assert runs.column("step.aware.register_match").to_pylist() == [300, 300, 300]

    series = pq.read_table(out / "series.parquet")
    # step 0, the first window's early cuts (100 / 8, / 4, / 2), then one per 100 steps
    early = [0, 12, 25, 50]
    n_samples = len(early) + 500 // 100 + 300 // 100
    assert series.num_rows == 3 * n_samples
    run_col, step_col = series.column("run").to_pylist(), series.column("step").to_pylist()
    pairs = set(zip(run_col, step_col, strict=True))
    assert len(pairs) == series.num_rows
    assert sorted({s for _, s in pairs}) == early + [100 * i for i in range(1, 9)]
    assert series.column("phase").to_pylist()[:n_samples] == ["train"] * 9 + ["deploy"] * 3
    # the step-0 sample has the initial flag and no metrics
    first = series.filter(pc.equal(series.column("step"), 0))
    assert first.num_rows == 3
    assert first.column("tamper_rate").null_count == 3

    scen = json.loads((out / "scenario.json").read_text())
    assert scen["scenario"]["world"]["diversity"] == 0.9
    assert scen["scenario"]["phases"][0]["steps"] == 500
    assert scen["runs"] == 3 and scen["seed"] == 3
    Scenario.model_validate(scen["scenario"])  # the record is the whole, valid scenario

    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] == 3
    assert sum(v["count"] for v in summary["outcomes"].values()) == 3


def test_more_runs_extend_fewer_runs(scenario_file: Path, tmp_path: Path) -> None:
    """A run depends only on (scenario, seed, index): --runs 8 starts with --runs 4."""
    few, many = tmp_path / "four", tmp_path / "eight"
    assert goaldrift("run", scenario_file, "--runs", "4", "--out", few).returncode == 0
    assert goaldrift("run", scenario_file, "--runs", "8", "--out", many).returncode == 0
    a = pq.read_table(few / "runs.parquet")
    b = pq.read_table(many / "runs.parquet")
    assert b.num_rows == 8
    assert b.slice(0, 4).equals(a)
    sa = pq.read_table(few / "series.parquet")
    sb = pq.read_table(many / "series.parquet")
    assert sb.slice(0, sa.num_rows).equals(sa)
    _no_leftovers(few)
    _no_leftovers(many)


def test_result_files_follow_the_umask(scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert goaldrift("run", scenario_file, "--runs", "1", "--out", out).returncode == 0
    probe = tmp_path / "probe"
    probe.write_text("x")
    normal = probe.stat().st_mode & 0o777
    for name in ("runs.parquet", "series.parquet", "scenario.json", "summary.json"):
        assert (out / name).stat().st_mode & 0o777 == normal, name


# --- list, schema, bench ---------------------------------------------------------------------


def test_list_names_everything_registered() -> None:
    proc = goaldrift("list")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for title in ("worlds", "agents", "flag rules", "split policies", "scenarios"):
        assert title in text
    words = set(text.split())
    assert {"qa", "flagged"} <= words
    assert set(flag_rules()) <= words
    assert set(split_policies()) <= words
    assert set(scenarios()) <= words
    assert {"anchored", "regression", "association", "merge"} <= words
    assert {"original", "even", "controllable", "predictive"} <= words


def test_schema_names_every_top_level_key() -> None:
    proc = goaldrift("schema")
    assert proc.returncode == 0, proc.stderr
    for key in Scenario.model_fields:
        assert f"`{key}`" in proc.stdout, key
    assert proc.stdout.lstrip().startswith("#")
    for key in ("world.noise", "agent.flag_rule", "phases[].supervisor"):
        assert key in proc.stdout


def test_bench_prints_json_lines() -> None:
    proc = goaldrift("bench", "--steps", "2000", "--repeat", "1")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert rows
    for row in rows:
        assert set(row) == {"name", "threads", "batch", "per_s", "unit"}
        assert row["per_s"] > 0
    assert any(r["name"] == "qa" and r["threads"] == 1 for r in rows)
    names = {r["name"] for r in rows}
    assert {f"{w}-agent" for w in NAMES} <= names  # the run kernel per world
    assert {f"{w}-gym" for w in NAMES} <= names  # the environments of every world


# --- bad input -------------------------------------------------------------------------------


def _with_line(section: str, line: str) -> str:
    """The test TOML with ``line`` at the top of table ``[section]`` (replacing its key)."""
    head = f"[{section}]\n"
    assert head in TOML
    key = line.split("=")[0].strip()
    kept = [ln for ln in TOML.splitlines() if ln.split("=")[0].strip() != key]
    return "\n".join(kept).replace(head, head + line + "\n", 1) + "\n"


@pytest.mark.parametrize(
    ("section", "line", "needles"),
    [
        ("world", "colour = 1", ["'world.colour'", "known key"]),
        ("world", 'types = "many"', ["'world.types'", "integer", "many"]),
        ("world", "noise = 2", ["'world.noise'", "1", "2"]),
        ("agent", "epsilon = -1", ["'agent.epsilon'", "0", "-1"]),
        ("agent", 'flag_rule = "magic"', ["'agent.flag_rule'", "magic", "anchored"]),
        (
            "agent.awareness",
            'proxy = { schedule = "sometimes" }',
            ["'agent.awareness.proxy.schedule'", "sometimes", "hazard"],
        ),
        (
            "agent.awareness",
            'proxy = { schedule = "hazard", rate = 0 }',
            ["'agent.awareness.proxy.rate'", "0"],
        ),
        ("agent.awareness", 'proxy = { schedule = "step" }', ["'agent.awareness.proxy.at'"]),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "noise-out-of-range",
        "epsilon-out-of-range",
        "bad-enum",
        "bad-schedule",
        "schedule-rate-out-of-range",
        "schedule-missing-parameter",
    ],
)
def test_bad_value_in_file(tmp_path: Path, section: str, line: str, needles: list[str]) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(_with_line(section, line))
    out = tmp_path / "out"
    assert_one_line_error(goaldrift("run", p, "--out", out), *needles)
    assert not out.exists()


@pytest.mark.parametrize(
    ("assignment", "needles"),
    [
        ("world.colour=1", ["'world.colour'"]),
        ('world.types="many"', ["'world.types'", "many"]),
        ("world.noise=2", ["'world.noise'"]),
        ("agent.epsilon=-1", ["'agent.epsilon'"]),
        ("agent.flag_rule=magic", ["'agent.flag_rule'", "magic"]),
        ("world.diversity", ["--set", "world.diversity", "="]),
        ("phases.4.steps=10", ["phases.4", "index"]),
        ("phases.x.steps=10", ["phases.x", "index"]),
    ],
)
def test_bad_set(scenario_file: Path, tmp_path: Path, assignment: str, needles: list[str]) -> None:
    proc = goaldrift("run", scenario_file, "--out", tmp_path / "o", "--set", assignment)
    assert_one_line_error(proc, *needles)


def test_missing_phases(tmp_path: Path) -> None:
    p = tmp_path / "nophase.toml"
    p.write_text(TOML.split("[[phases]]")[0])
    assert_one_line_error(goaldrift("run", p, "--out", tmp_path / "o"), "'phases'", "required")


def test_duplicate_phase_names(tmp_path: Path) -> None:
    p = tmp_path / "dup.toml"
    p.write_text(TOML.replace('name = "deploy"', 'name = "train"'))
    line = assert_one_line_error(goaldrift("run", p, "--out", tmp_path / "o"), "'phases.1.name'")
    assert "no other phase" in line and "'train'" in line


def test_invalid_toml(tmp_path: Path) -> None:
    p = tmp_path / "broken.toml"
    p.write_text(TOML + "\nthis is = = not toml\n")
    assert_one_line_error(goaldrift("run", p, "--out", tmp_path / "o"), "broken.toml", "TOML")


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    assert_one_line_error(goaldrift("run", missing, "--out", tmp_path / "o"), "missing.toml")


def test_unknown_shipped_scenario() -> None:
    line = assert_one_line_error(goaldrift("run", "no-such-scenario"), "no-such-scenario")
    assert "scenario" in line
    for name in scenarios():
        assert name in line


def test_unknown_shipped_scenario_suggests_a_near_match() -> None:
    names = list(scenarios())
    if not names:
        pytest.skip("no shipped scenarios")
    typo = names[0][:-1]
    line = assert_one_line_error(goaldrift("run", typo, "--runs", "1"), typo)
    assert "did you mean" in line


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--runs", "0"], "--runs"),
        (["--seed", "-1"], "--seed"),
        (["--batch", "0"], "--batch"),
        (["--threads", "0"], "--threads"),
        (["--runs", "many"], "--runs"),
    ],
)
def test_bad_option(scenario_file: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "o"
    assert_one_line_error(goaldrift("run", scenario_file, "--out", out, *args), needle)
    assert not out.exists()


def cli_in_process(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """Run ``goaldrift ARGV`` in this process (fast: no interpreter start); assert exit 2, one
    line on stderr and no traceback; return the line."""
    from goaldrift import cli

    monkeypatch.setattr(sys, "argv", ["goaldrift", *argv])
    with pytest.raises(SystemExit) as ei:
        cli.main()
    err = capsys.readouterr().err
    assert ei.value.code == 2, (ei.value.code, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _int_options() -> dict[str, dict[str, tuple[int, int | None]]]:
    """Per command line, each integer option's accepted range (None: unbounded above)."""
    from goaldrift.experiments.sweeps import MAX_SEEDS
    from goaldrift.experiments.sweeps.backends import WORKERS_PER_CORE
    from goaldrift.threads import max_threads

    threads = (1, max_threads())
    workers = (1, WORKERS_PER_CORE * (os.cpu_count() or 1))
    seed = (0, 2**63 - 1)
    return {
        "run aligned-qa": {"--runs": (1, 10**7), "--seed": seed, "--batch": (1, None),
                           "--threads": threads},
        "probe aligned-qa": {"--runs": (1, 10**6), "--seed": seed, "--threads": threads},
        "sweep noise-cost": {"--workers": workers, "--seeds": (1, MAX_SEEDS),
                             "--chunk": (1, None), "--threads": threads},
        "sweep noise-cost --backend dask": {"--workers": workers},
        "demo": {"--runs": (1, 10**7), "--seeds": (1, MAX_SEEDS), "--threads": threads},
    }  # fmt: skip


INT_OPTIONS = _int_options()
NOT_INTEGERS = ["", " ", "1.5", "1e3", "0x10", "nan", "inf", "-", "--help", "٣", "1,000"]


@st.composite
def _bad_int_option(draw: st.DrawFn) -> tuple[str, str, str]:
    """(command line, option, a value outside its range or no integer at all)."""
    command = draw(st.sampled_from(sorted(INT_OPTIONS)))
    option, (least, most) = draw(st.sampled_from(sorted(INT_OPTIONS[command].items())))
    numbers = [st.integers(max_value=least - 1), st.sampled_from([least - 1, -(10**30)])]
    if most is not None:
        numbers += [st.integers(min_value=most + 1), st.sampled_from([most + 1, 10**20])]
    words = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8).filter(
        lambda t: not any(c.isdigit() for c in t)
    )
    value = draw(st.one_of(*(n.map(str) for n in numbers), words, st.sampled_from(NOT_INTEGERS)))
    return command, option, value


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=_bad_int_option())
@example(case=("run aligned-qa", "--runs", "0"))
@example(case=("run aligned-qa", "--runs", "-1"))
@example(case=("run aligned-qa", "--runs", str(10**20)))
@example(case=("run aligned-qa", "--runs", "x"))
@example(case=("run aligned-qa", "--seed", str(2**63)))
@example(case=("sweep noise-cost", "--workers", "0"))
@example(case=("sweep noise-cost", "--workers", "-1"))
@example(case=("sweep noise-cost", "--workers", str(10**6)))
@example(case=("sweep noise-cost --backend dask", "--workers", str(10**6)))
@example(case=("sweep noise-cost", "--chunk", "0"))
@example(case=("sweep noise-cost", "--seeds", "0"))
@example(case=("sweep noise-cost", "--threads", "99"))
def test_every_bad_integer_option_is_one_line_and_writes_nothing(
    case: tuple[str, str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--runs 0, -1, 10**20 or 'x', --workers 0 or 10**6 on either backend, --seeds 0,
    --chunk 0, --threads 99, ...: exit 2, one line naming the option, nothing written."""
    import tempfile

    command, option, value = case
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        to = [] if command.startswith("probe") else ["--out", str(out)]  # probe writes nothing
        line = cli_in_process([*command.split(), *to, f"{option}={value}"], capsys, monkeypatch)
        assert f"'{option}'" in line, line
        assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("command", ["run aligned-qa --runs 1", "sweep noise-cost --seeds 1"])
def test_out_below_a_regular_file_is_refused(command: str, tmp_path: Path) -> None:
    f = tmp_path / "taken"
    f.write_text("not a folder")
    proc = goaldrift(*command.split(), "--out", f / "sub")
    assert_one_line_error(proc, "'--out'", "Not a directory")
    assert f.read_text() == "not a folder"


def test_a_host_that_is_no_address_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "o"
    proc = goaldrift("sweep", "noise-cost", "--backend", "dask", "--host", "999.1.1.1",
                     "--out", out)  # fmt: skip
    assert_one_line_error(proc, "'--host'", "999.1.1.1")
    assert not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
@pytest.mark.parametrize("command", ["run aligned-qa --runs 1", "sweep noise-cost --seeds 1"])
def test_a_read_only_out_is_one_line(command: str, tmp_path: Path) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        proc = goaldrift(*command.split(), "--out", out)
    finally:
        out.chmod(0o755)
    assert_one_line_error(proc, "'--out'", "Permission denied")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("command", ["run aligned-qa --runs 1", "sweep noise-cost --seeds 1"])
def test_a_folder_that_refuses_writes_is_one_line(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read-only --out as root sees it: the folder refuses the first file (its lock)."""
    from goaldrift.experiments.runs import store

    real = os.open

    def refuse(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path).startswith(str(tmp_path)):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(store.os, "open", refuse)
    out = tmp_path / "ro"
    out.mkdir()
    line = cli_in_process([*command.split(), "--out", str(out)], capsys, monkeypatch)
    assert "'--out' must be a folder this user can write" in line and "Permission denied" in line
    assert list(out.iterdir()) == []


def _file_size_limit(limit: int) -> Callable[[], None]:
    """A preexec_fn: writing past ``limit`` bytes fails with EFBIG (SIGXFSZ ignored), as a full
    disk fails a write, portably and without root."""
    import resource

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limited


TINY = ["--set", "phases.0.steps=400", "--set", "phases.1.steps=400", "--set", "sample_every=100"]


@pytest.mark.parametrize(
    "command",
    [
        ["run", "aligned-qa", "--runs", "2", *TINY],
        ["sweep", "noise-cost", "--seeds", "1", "--workers", "1"],
    ],
    ids=["run", "sweep"],
)
def test_a_full_disk_is_one_line_and_leaves_no_result(command: list[str], tmp_path: Path) -> None:
    """Every write past 1 KB fails, as on a full disk: one line naming the file, exit 2, no
    result left (no run.json, no temporary file). The kernel is compiled first, unlimited:
    numba's cache is written on the first compile."""
    if command[0] == "run":
        assert goaldrift(*command, "--out", tmp_path / "warm").returncode == 0
    out = tmp_path / "full"
    env = {k: v for k, v in os.environ.items() if k != "GOALDRIFT_PROGRESS"}
    proc = subprocess.run(
        [*GOALDRIFT, *command, "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300, preexec_fn=_file_size_limit(1024),
    )  # fmt: skip
    assert_one_line_error(proc, "cannot write", "File too large", str(out))
    left = [p.name for p in out.rglob("*")] if out.exists() else []
    assert not [n for n in left if n.endswith(".tmp") or n == "run.json"], left
    if command[0] == "run":
        assert left == []  # not even the folder: the first batch never landed


def test_out_is_a_regular_file(scenario_file: Path, tmp_path: Path) -> None:
    f = tmp_path / "taken"
    f.write_text("not a folder")
    assert_one_line_error(goaldrift("run", scenario_file, "--out", f), "--out", "taken")
    assert f.read_text() == "not a folder"


def test_schema_bad_format() -> None:
    assert_one_line_error(goaldrift("schema", "--format", "xml"), "--format", "xml", "markdown")


def test_value_errors_read_as_one_sentence(scenario_file: Path, tmp_path: Path) -> None:
    proc = goaldrift("run", scenario_file, "--out", tmp_path / "o", "--set", "world.noise=2")
    line = assert_one_line_error(proc, "'world.noise'", "(got 2)")
    assert "should be" not in line
    assert "must be less than or equal to 1" in line


@pytest.mark.parametrize("exists", [True, False])
def test_report_without_results(tmp_path: Path, exists: bool) -> None:
    d = tmp_path / "empty"
    if exists:
        d.mkdir()
    assert_one_line_error(goaldrift("report", d), "empty")
    if exists:
        assert list(d.iterdir()) == []


# --- interruption ------------------------------------------------------------------------------


def test_interrupted_run_keeps_finished_batches_and_resumes_exactly(
    scenario_file: Path, tmp_path: Path
) -> None:
    """Ctrl-C mid-run: exit 130, one line, finished batches kept; the rerun computes only the
    rest and its results equal an uninterrupted run's."""
    import signal
    import time

    args = ["run", str(scenario_file), "--runs", "40", "--batch", "2", "--threads", "1"]
    args += ["--set", "phases.0.steps=400000", "--set", "sample_every=1000"]
    out = tmp_path / "stopped"
    proc = subprocess.Popen(
        [*GOALDRIFT, *args, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
    )
    parts = out / "parts"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(parts.glob("*.runs.parquet"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    kept = sorted(p.name for p in parts.glob("*.runs.parquet"))
    assert 2 <= len(kept) < 20
    assert not (out / "runs.parquet").exists()
    mtimes = {p: p.stat().st_mtime_ns for p in parts.glob("*.parquet")}

    again = goaldrift(*args, "--out", out)
    assert again.returncode == 0, again.stderr
    full = goaldrift(*args, "--out", tmp_path / "full")
    assert full.returncode == 0, full.stderr
    for name in ("runs.parquet", "series.parquet"):
        assert pq.read_table(out / name).equals(pq.read_table(tmp_path / "full" / name))
    assert all(not p.exists() or p.stat().st_mtime_ns == t for p, t in mtimes.items())


def test_run_never_touches_files_it_did_not_write(scenario_file: Path, tmp_path: Path) -> None:
    """The repro of a lost thesis: `run` into a folder whose parts/ holds a user's file."""
    out = tmp_path / "d"
    (out / "parts").mkdir(parents=True)
    (out / "parts" / "thesis.tex").write_text("three years of work")
    proc = goaldrift("run", scenario_file, "--runs", "2", "--out", out)
    assert_one_line_error(proc, "'--out'", "parts/thesis.tex")
    assert (out / "parts" / "thesis.tex").read_text() == "three years of work"
    assert sorted(p.name for p in out.rglob("*")) == ["parts", "thesis.tex"]


def test_bench_runs_only_the_rows_asked_for_and_says_what_it_measures() -> None:
    proc = goaldrift("bench", "--steps", "1000", "--repeat", "1", "--only", "qa-tamper")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert rows and {r["name"] for r in rows} == {"qa-tamper"}
    # progress: before each row, which of how many, on stderr
    notes = [f"bench: [{i}/{len(rows)}] qa-tamper, {r['threads']} thread" for i, r in
             enumerate(rows, 1)]  # fmt: skip
    lines = proc.stderr.splitlines()
    assert len(lines) == len(rows), proc.stderr
    assert all(x.startswith(n) for x, n in zip(lines, notes, strict=True)), proc.stderr


def test_the_progress_line_fits_80_columns_with_separated_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    from rich.console import Console

    import goaldrift.cli as cli

    monkeypatch.setattr(cli, "console", Console(file=io.StringIO(), width=80, force_terminal=True))
    with cli._progress() as p:
        t = p.add_task("diverse-data-compute", total=512 * 220_000, rate="12.3M steps/s")
        p.update(t, completed=123_456_789)
    text = cli.console.file.getvalue()  # type: ignore[attr-defined]
    assert "123,456,789/112,640,000" in text and "12.3M steps/s" in text and "…" not in text
