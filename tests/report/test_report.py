"""The report: HTML pages and PNG plots from a real run folder, and the band helper."""

from __future__ import annotations

import itertools
import json
import re
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from goaldrift.errors import ConfigError
from goaldrift.experiments.runs import store
from goaldrift.experiments.runs.execute import run_to
from goaldrift.experiments.scenarios import validate
from goaldrift.report import write_index, write_report
from goaldrift.report.plots import RunFolder, dodge, plot_flag, quantile_bands

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A fixed mix, written over the simulated outcomes, so the counts on the page must come
# from runs.parquet and cannot match by accident.
OUTCOMES = ["wirehead", "aligned", "wirehead", "mixed", "proxy", "wirehead"]
CLAIM = 'Agents value "the register" <script>alert(1)</script> & more'


def _scenario() -> dict[str, Any]:
    """conftest's tiny scenario, with the register noticed midway and an unsupervised phase."""
    return {
        "name": "tiny",
        "claim": CLAIM,
        "sample_every": 100,
        "world": {"types": 8, "answers": 4, "hard_types": 4, "diversity": 0.5},
        "agent": {
            "flag_rule": "association",
            "awareness": {"register_match": {"schedule": "step", "at": 300}},
        },
        "phases": [
            {"name": "train", "steps": 600},
            {"name": "deploy", "steps": 400, "supervisor": False, "access": 0.5},
        ],
    }


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[str]]:
    out = tmp_path_factory.mktemp("report") / "tiny"
    summary = run_to(validate(_scenario()), out, runs=len(OUTCOMES), seed=3)
    runs = pq.read_table(out / "runs.parquet")
    i = runs.column_names.index("outcome")
    runs = runs.set_column(i, "outcome", pa.array(OUTCOMES, pa.string()))
    pq.write_table(runs, out / "runs.parquet")
    fp = json.loads((out / store.MANIFEST).read_text())["fingerprint"]
    store.write_manifest(out, fp, len(OUTCOMES), 3)  # re-commit the edited table
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    write_report(out)
    after = sorted(p.relative_to(out.parent).as_posix() for p in out.parent.rglob("*"))
    new = sorted(set(after) - {f"{out.name}/{p}" for p in before} - {out.name})
    return out, summary, new


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    w, h = struct.unpack(">II", head[16:24])
    return int(w), int(h)


def test_page_links_every_plot_and_each_is_a_real_png(run_dir: tuple[Path, Any, list[str]]) -> None:
    out, _, _ = run_dir
    page = out / "report.html"
    html = page.read_text(encoding="utf-8")
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) >= 5
    assert all(not s.startswith(("/", "http")) for s in srcs), "links must be relative"
    on_disk = {p.relative_to(out).as_posix() for p in (out / "plots").glob("*.png")}
    assert set(srcs) == on_disk
    for s in srcs:
        png = out / s
        assert png.stat().st_size > 5_000
        w, h = _png_size(png)
        assert w >= 400 and h >= 250
    assert "plots/flag.png" in srcs


def test_outcome_counts_on_the_page_equal_runs_parquet(
    run_dir: tuple[Path, Any, list[str]],
) -> None:
    out, _, _ = run_dir
    html = (out / "report.html").read_text(encoding="utf-8")
    shown = {
        name: int(n)
        for name, n in re.findall(
            r'<tr data-outcome="([^"]+)">.*?<td class="num count">(\d+)</td>', html
        )
    }
    truth = Counter(pq.read_table(out / "runs.parquet").column("outcome").to_pylist())
    assert shown == {k: truth.get(k, 0) for k in shown}
    assert set(truth) <= set(shown)
    assert sum(shown.values()) == len(OUTCOMES)


def test_page_shows_scenario_and_escapes_the_claim(run_dir: tuple[Path, Any, list[str]]) -> None:
    out, _, _ = run_dir
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert re.search(r"<blockquote>[^<]*&lt;script&gt;", html)
    for phase in ("train", "deploy"):
        assert f"<td>{phase}</td>" in html
    outcome = json.loads((out / "scenario.json").read_text())["scenario"]["outcome"]
    assert f"over the final\n  {outcome['window']:,} steps" in html
    assert 'id="verdicts"' in html and 'id="probes"' in html


def test_report_writes_only_its_page_and_plots(run_dir: tuple[Path, Any, list[str]]) -> None:
    out, _, new = run_dir
    assert new, "write_report wrote nothing"
    assert all(p.startswith(f"{out.name}/") for p in new), new
    assert all(p == f"{out.name}/report.html" or p.startswith(f"{out.name}/plots") for p in new)
    assert not [p for p in new if p.endswith(".tmp")]


def test_index_links_reports_with_thumbnails(run_dir: tuple[Path, Any, list[str]]) -> None:
    out, summary, _ = run_dir
    entries = [{"name": "tiny run", "dir": out.name, "claim": CLAIM, "summary": summary}]
    page = write_index(out.parent, entries)
    assert page == out.parent / "index.html"
    html = page.read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)"', html)
    assert f"{out.name}/report.html" in links
    for link in links:
        assert (out.parent / link).is_file()
    thumbs = re.findall(r'<img src="([^"]+)"', html)
    assert thumbs == [f"{out.name}/plots/flag.png"]
    assert (out.parent / thumbs[0]).read_bytes()[:8] == PNG_MAGIC
    assert "&lt;script&gt;" in html and "<script>" not in html
    for cls, v in summary["outcomes"].items():
        lo, hi = v["ci95"]
        row = f'<td>{cls}</td><td class="num">{v["count"]}</td>'
        assert row in html
        assert f"{100 * lo:.1f}% – {100 * hi:.1f}%" in html


def test_missing_folder_is_a_config_error_naming_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        write_report(tmp_path / "nowhere")
    assert err.value.key == "DIR"
    assert str(err.value).startswith("'DIR' must be")
    assert "\n" not in str(err.value)


def test_folder_without_runs_names_the_missing_file(tmp_path: Path) -> None:
    (tmp_path / "scenario.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"runs\.parquet") as err:
        write_report(tmp_path)
    assert err.value.key == "DIR"
    assert list(tmp_path.iterdir()) == [tmp_path / "scenario.json"]


def test_unreadable_parquet_is_a_config_error(tmp_path: Path) -> None:
    for name in ("runs.parquet", "series.parquet"):
        (tmp_path / name).write_bytes(b"not parquet")
    (tmp_path / "scenario.json").write_text('{"scenario": {"name": "x", "phases": []}}')
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"no run\.json: the run did not finish"):
        write_report(tmp_path)  # uncommitted: refused before anything is read
    store.write_manifest(tmp_path, "f" * 16, 1, 0)  # committed, yet not Parquet
    with pytest.raises(ConfigError, match="unreadable Parquet") as err:
        write_report(tmp_path)
    assert err.value.key == "DIR"
    assert "\n" not in str(err.value)


def test_quantile_bands_on_a_hand_made_table() -> None:
    # Unsorted rows, a null, a step with fewer runs and a step where every run is null.
    table = pa.table(
        {
            "run": [0, 1, 2, 3, 4, 0, 1, 2, 0],
            "step": [10, 10, 20, 10, 10, 20, 30, 20, 10],
            "x": [5.0, 2.0, 30.0, 4.0, 1.0, 10.0, None, None, 3.0],
        }
    )
    steps, p10, p50, p90 = quantile_bands(table, "x")
    assert steps.tolist() == [10, 20, 30]
    np.testing.assert_allclose(p10[:2], [1.4, 12.0])
    np.testing.assert_allclose(p50[:2], [3.0, 20.0])
    np.testing.assert_allclose(p90[:2], [4.6, 28.0])
    assert np.isnan([p10[2], p50[2], p90[2]]).all()
    assert table.column("x").to_pylist()[6] is None  # the input is left untouched


def test_quantile_bands_other_levels_match_numpy() -> None:
    rng = np.random.default_rng(7)
    v = rng.normal(size=(4, 50))
    table = pa.table({"step": np.repeat([100, 200, 300, 400], 50), "x": v.reshape(-1)})
    steps, lo, mid, hi = quantile_bands(table, "x", lo=0.25, hi=0.75)
    assert steps.tolist() == [100, 200, 300, 400]
    np.testing.assert_allclose(lo, np.quantile(v, 0.25, axis=1))
    np.testing.assert_allclose(mid, np.median(v, axis=1))
    np.testing.assert_allclose(hi, np.quantile(v, 0.75, axis=1))


def test_dodge_keeps_labels_apart_and_inside() -> None:
    ys = [0.0, 0.0, 0.0, 1.0, 0.99, 0.5]
    pos = dodge(ys, gap=0.05)
    s = sorted(pos)
    assert all(b - a >= 0.05 - 1e-12 for a, b in itertools.pairwise(s))
    assert max(pos) <= 1.0
    assert pos[5] == 0.5  # a label with room stays where its line ends


def test_flag_plot_of_a_world_with_other_concepts(tmp_path: Path) -> None:
    steps = np.tile([50, 100, 150], 2)
    series = pa.table(
        {
            "run": np.repeat([0, 1], 3),
            "step": steps,
            "flag.apples": [1.0, 0.8, 0.6, 1.0, 0.9, 0.7],
            "flag.pears": [0.0, 0.2, 0.4, 0.0, 0.1, 0.3],
        }
    )
    runs = pa.table(
        {
            "run": [0, 1],
            "outcome": ["aligned", "mixed"],
            "flag.apples": [0.6, 0.7],
            "flag.pears": [0.4, 0.3],
            "step.aware.pears": [60, None],
        }
    )
    scenario = {"name": "fruit", "phases": [{"name": "only", "steps": 150}]}
    rf = RunFolder(tmp_path, runs, series, scenario, seed=None, world={})
    assert rf.concepts == ["apples", "pears"]
    plot = plot_flag(rf, tmp_path / "plots" / "flag.png")
    assert plot.file == "flag.png"
    png = tmp_path / "plots" / "flag.png"
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5_000
