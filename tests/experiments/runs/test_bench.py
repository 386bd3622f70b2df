"""`goaldrift bench`: the rows docs/performance.md describes are the rows it measures, and
`--only` measures (and builds) only the rows asked for."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from goaldrift.experiments.runs.bench import bench_all, measurements
from goaldrift.worlds.gridworlds import NAMES
from goaldrift.worlds.gridworlds import bench as grid_bench

PERFORMANCE = Path(__file__).resolve().parents[3] / "docs" / "performance.md"


def _documented_rows() -> set[tuple[str, int]]:
    """(row, threads) of every bench row in performance.md's tables: the run kernel's table
    lists a row per line (`name` ... | threads |); the gridworld table a world per line, with
    a column per row kind and thread count."""
    text = PERFORMANCE.read_text()
    rows = {(m[1], int(m[2])) for m in re.finditer(r"^\| `([\w-]+)`[^|]*\| (\d+) \|", text, re.M)}
    head = next(line for line in text.splitlines() if line.startswith("| world |"))
    columns: list[tuple[str, int]] = []
    suffix = ""
    for cell in (c.strip() for c in head.strip("|").split("|")[1:]):
        m = re.match(r"(?:`(<world>|-\w+)`)?,? ?(?:(\d+) threads?)?$", cell)
        assert m, cell
        if m[1]:
            suffix = "" if m[1] == "<world>" else m[1]
        columns.append((suffix, int(m[2] or 1)))
    for world in NAMES:
        line = next(x for x in text.splitlines() if x.startswith(f"| {world} |"))
        cells = [c.strip() for c in line.strip("|").split("|")[1:]]
        assert len(cells) == len(columns), line
        rows |= {(world + s, t) for (s, t), c in zip(columns, cells, strict=True) if c}
    return rows


def test_performance_doc_has_every_bench_row_and_no_other() -> None:
    """docs/performance.md is measured on two cores: each row at one thread and at two."""
    measured = {(m.name, m.threads) for m in measurements(most=2)}
    documented = _documented_rows()
    assert documented - measured == set(), "described, but bench has no such row"
    assert measured - documented == set(), "measured by bench, but not in the tables"


class _Unbuildable:
    """A batch class that fails when built: the rows that need it must not run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a row that was not asked for was built")


def test_only_one_row_measures_and_builds_only_it(monkeypatch: pytest.MonkeyPatch) -> None:
    worlds = [(n, _Unbuildable, env) for n, _, env in grid_bench.WORLDS]
    monkeypatch.setattr(grid_bench, "WORLDS", tuple(worlds))
    notes: list[str] = []
    rows = list(bench_all(repeat=1, only=["boat_race-gym"], note=notes.append))
    assert [(r["name"], r["threads"], r["unit"]) for r in rows] == [
        ("boat_race-gym", 1, "env-steps")
    ]
    assert rows[0]["per_s"] > 0
    assert notes == ["[1/1] boat_race-gym, 1 thread"]
