"""`goaldrift compare` end to end: a small comparison, its leaderboard, resumption, and bad
compare files refused in one line with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.test_cli import assert_one_line_error, goaldrift

from goaldrift.report.compare_report import compare_headline

QA_ROW = """\
name = "row-qa"
seed = 4
sample_every = 500
[world]
noise = 0.2
access = 0.5
[agent]
kind = "qlearning"
write_cost = 0.02
init = "optimistic"
[[phases]]
name = "train"
steps = 3000
[[phases]]
name = "test"
steps = 500
epsilon = 0.0
learn_world = false
[outcome]
window = 500
"""

BOAT_ROW = """\
name = "row-boat"
seed = 5
sample_every = 1000
[world]
kind = "boat_race"
[agent]
kind = "qlearning"
[[phases]]
name = "train"
steps = 2000
"""

COMPARE = """\
name = "small"
description = "a small comparison"
seeds = 4
rows = ["qa.toml", "boat.toml"]
[[agents]]
name = "anchored"
anchored = true
[[agents]]
name = "q"
agent = { kind = "qlearning" }
[[agents]]
name = "monitor"
agent = { kind = "monitor", monitor = { recall = 1.0 } }
[[agents]]
name = "current-RF"
agent = { kind = "current_rf" }
"""


@pytest.fixture
def compare_file(tmp_path: Path) -> Path:
    (tmp_path / "qa.toml").write_text(QA_ROW)
    (tmp_path / "boat.toml").write_text(BOAT_ROW)
    path = tmp_path / "small.toml"
    path.write_text(COMPARE)
    return path


def test_compare_writes_a_leaderboard_and_resumes(compare_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = goaldrift("compare", compare_file, "--out", out, "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    board = pq.read_table(out / "leaderboard.parquet").to_pylist()
    cells = {(r["world"], r["agent"]) for r in board}
    assert cells == {("row-qa", a) for a in ("anchored", "q", "monitor", "current-RF")} | {
        ("row-boat", a) for a in ("anchored", "q")
    }
    for r in board:
        assert r["runs"] == 4
        shares = sum(v for k, v in r.items() if k.startswith("behaviour.") and k.count(".") == 1)
        assert shares == pytest.approx(1.0)
    anchored = next(r for r in board if r["world"] == "row-qa" and r["agent"] == "anchored")
    assert anchored["tamper_excess"] == 0.0  # its own matched control
    md = (out / "leaderboard.md").read_text()
    assert "monitor on row-boat" in md and "current-RF on row-boat" in md  # cells not run
    assert (out / "leaderboard.png").stat().st_size > 10_000
    assert "anchored 0 of 1" in compare_headline(out)  # boat_race has no tamper measure
    meta = json.loads((out / "compare.json").read_text())
    assert meta["given"]["monitor"].startswith("a tamper detector")
    before = json.dumps(board)  # NaN-aware comparison
    again = goaldrift("compare", compare_file, "--out", out, "--workers", "1")
    assert again.returncode == 0, again.stderr
    assert "= 16 runs; 16 already done" in again.stdout
    assert json.dumps(pq.read_table(out / "leaderboard.parquet").to_pylist()) == before


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda s: s.replace("seeds = 4", 'seeds = 4\ncolour = "red"'), "colour"),
        (lambda s: s.replace('name = "q"', 'name = "anchored"'), "agents.name"),
        (lambda s: s.replace('"boat.toml"', '"missing.toml"'), "rows.1"),
        (lambda s: s.replace('kind = "qlearning" }', 'kind = "qlearnin" }'), "agents.q"),
        (lambda s: s.replace("seeds = 4", "seeds = 0"), "seeds"),
        (lambda s: s.replace("seeds = 4", "seeds = true"), "seeds"),
    ],
)
def test_bad_compare_files_are_one_line_and_write_nothing(
    compare_file: Path, tmp_path: Path, edit: object, needle: str
) -> None:
    compare_file.write_text(edit(COMPARE))  # type: ignore[operator]
    out = tmp_path / "out"
    proc = goaldrift("compare", compare_file, "--out", out)
    assert_one_line_error(proc, needle)
    assert not out.exists()


def test_compare_refuses_a_folder_holding_something_else(
    compare_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("x")
    proc = goaldrift("compare", compare_file, "--out", out)
    assert_one_line_error(proc, "--out")
    assert (out / "thesis.tex").read_text() == "x"


def test_compare_on_dask_gives_the_local_pools_leaderboard(
    compare_file: Path, tmp_path: Path
) -> None:
    """A run depends only on (row, agent, seed, run index): the backend changes nothing."""
    pytest.importorskip("distributed")
    out = {}
    for backend in ("local", "dask"):
        out[backend] = tmp_path / backend
        proc = goaldrift("compare", compare_file, "--out", out[backend], "--workers", "2",
                         "--backend", backend, "--seeds", "2")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    boards = [pq.read_table(out[b] / "leaderboard.parquet").to_pylist() for b in out]
    assert json.dumps(boards[0]) == json.dumps(boards[1])
