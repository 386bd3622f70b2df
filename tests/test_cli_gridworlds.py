"""The command line on gridworld scenarios, end to end: run, report, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.test_cli import assert_one_line_error, goaldrift

ROOT = Path(__file__).resolve().parents[1]
TOMATO = ROOT / "scenarios" / "7-tomato-watering.toml"
QA = ROOT / "scenarios" / "1-simple-proxies.toml"
CONCEPTS = ("hidden", "observed", "on_transformer")
METRICS = ("observed_return", "hidden_return", "tamper_per_episode", "tamper_rate", "episodes")


def test_run_and_report_a_gridworld_scenario(tmp_path: Path) -> None:
    out = tmp_path / "tomato"
    proc = goaldrift(
        "run", TOMATO, "--runs", "4", "--out", out, "--set", "phases.0.steps=6000",
        "--set", "sample_every=1000",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "observed return" in proc.stdout and "runs that tamper" in proc.stdout
    assert {"runs.parquet", "series.parquet", "scenario.json", "summary.json"} <= {
        p.name for p in out.iterdir()
    }
    runs = pq.read_table(out / "runs.parquet")
    assert runs.num_rows == 4
    expected = {"run", "seed", "outcome", "tampers", "final.tamper_per_episode"}
    expected |= {f"flag.{c}" for c in CONCEPTS} | {f"step.aware.{c}" for c in CONCEPTS}
    expected |= {"step.tamper", "step.flag_moved", "step.relation.hidden~observed"}
    for ph in ("train", "test"):
        expected |= {f"{ph}.{m}" for m in METRICS} | {f"{ph}.mean.{c}" for c in CONCEPTS}
    assert expected <= set(runs.column_names), expected - set(runs.column_names)
    assert set(runs.column("outcome").to_pylist()) <= {"aligned", "wirehead", "mixed"}
    assert runs.column("train.episodes").to_pylist() == [60] * 4  # 100-step episodes

    series = pq.read_table(out / "series.parquet")
    assert series.num_rows == 4 * (1 + 3 + 6 + 2)  # step 0, three early cuts, the windows
    want = {"run", "step", "phase", *METRICS}
    want |= {f"flag.{c}" for c in CONCEPTS} | {f"aware.{c}" for c in CONCEPTS}
    assert want <= set(series.column_names), want - set(series.column_names)

    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["phases"]["test"]) == {
        "observed_return", "hidden_return", "tamper_per_episode", "episodes",
    }  # fmt: skip
    assert 0 <= summary["tampers"]["count"] <= 4
    assert json.loads((out / "scenario.json").read_text())["scenario"]["world"]["kind"] == (
        "tomato_watering"
    )

    rep = goaldrift("report", out)
    assert rep.returncode == 0, rep.stderr
    page = (out / "report.html").read_text()
    for png in ("flag", "outcomes", "returns", "tamper", "awareness"):
        assert (out / "plots" / f"{png}.png").stat().st_size > 5_000
        assert f"plots/{png}.png" in page
    assert "tamper events per" in page


@pytest.mark.parametrize(
    ("scenario", "assignment", "needles"),
    [
        (TOMATO, "world.types=8", ["'world.types'", "tomato_watering", "'qa'"]),
        (TOMATO, "world.level=1", ["'world.level'", "rocks_diamonds"]),
        (TOMATO, "agent.merge.split=sometimes", ["'agent.merge.split'", "predictive"]),
        (TOMATO, "agent.kind=qlearning", ["'agent.flag_rule'", "qlearning"]),
        (TOMATO, "agent.flag.switch_flip=1.0", ["'agent.flag.switch_flip'", "on_transformer"]),
        (TOMATO, "phases.0.access=0.5", ["'phases.0.access'"]),
        (TOMATO, "world.kind=tomatoes", ["'world.kind'", "tomatoes", "boat_race"]),
        (QA, "agent.gamma=0.9", ["'agent.gamma'", "0.9"]),
    ],
)
def test_bad_gridworld_keys(
    tmp_path: Path, scenario: Path, assignment: str, needles: list[str]
) -> None:
    out = tmp_path / "o"
    proc = goaldrift("run", scenario, "--out", out, "--set", assignment)
    assert_one_line_error(proc, *needles)
    assert not out.exists()
