"""The sweep report: heatmaps and line plots from real small sweeps, their data and errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from matplotlib.image import imread
from tests.conftest import tiny

from goaldrift.errors import ConfigError
from goaldrift.experiments.runs.outcome import OUTCOMES
from goaldrift.experiments.sweeps import backends, sweep
from goaldrift.experiments.sweeps import run as sweep_run
from goaldrift.experiments.sweeps import store as sweep_store
from goaldrift.experiments.sweeps.stats import group_stats
from goaldrift.report import sweep_report, write_index, write_sweep_report
from goaldrift.report.sweep_plots import cell_stats, phase_grid, select_runs, value_label
from goaldrift.report.sweep_report import parse_fix, resolve_views, sweep_axes

SEEDS = 4
CLAIM = "flags drift <b>to</b> the register"


def _data(axes: dict[str, Any], **over: Any) -> dict[str, Any]:
    """A two-phase tiny scenario (the second unsupervised, with register access)."""
    return tiny(
        name="probe",
        claim=CLAIM,
        description="a small test sweep",
        agent={"flag_rule": "association", "association": {"rate": 0.01, "one_way": False}},
        phases=[
            {"name": "train", "steps": 1000},
            {"name": "deploy", "steps": 1000, "supervisor": False, "access": 0.5},
        ],
        sweep={"seeds": SEEDS, "axes": axes},
        **over,
    )


def _run(data: dict[str, Any], out: Path) -> Path:
    with backends.make("local", 1, None) as be:
        sweep_run.run_sweep(sweep.build(data), out, be, chunk=8)
    return out


AXES_3 = {
    "world.diversity": [0.0, 0.5, 1.0],
    "phases.1.access": {"from": 0.1, "to": 0.9, "num": 3, "scale": "log"},
    "agent.epsilon": [0.05, 0.2],
}
AXES_2 = {"agent.flag_rule": ["anchored", "association"], "phases.1.supervisor": [True, False]}
AXES_1 = {"phases.0.steps": {"from": 500, "to": 2000, "num": 3, "scale": "log"}}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Finished sweeps over one, two and three axes (reports are written by the tests)."""
    root = tmp_path_factory.mktemp("sweeps")
    return {
        1: _run(_data(AXES_1), root / "one"),
        2: _run(_data(AXES_2), root / "two"),
        3: _run(_data(AXES_3), root / "three"),
    }


@pytest.fixture(scope="module")
def three_page(sweeps: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the three-axis sweep with its default report written."""
    d = Path(shutil.copytree(sweeps[3], tmp_path_factory.mktemp("page") / "three"))
    write_sweep_report(d)
    return d


@pytest.fixture
def three(sweeps: dict[int, Path], tmp_path: Path) -> Path:
    """A private copy of the three-axis sweep, so each test writes its own report."""
    return Path(shutil.copytree(sweeps[3], tmp_path / "three"))


def _html(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _pngs(directory: Path) -> list[str]:
    return sorted(p.name for p in (directory / "plots").glob("*.png"))


def _colours(png: Path) -> int:
    """How many distinct colours the image has."""
    img = np.round(imread(png) * 255).astype(np.uint8)
    rgba = np.zeros((*img.shape[:2], 4), np.uint8)
    rgba[..., : img.shape[-1]] = img
    return len(np.unique(rgba.view(np.uint32)))


def _axis(directory: Path, key: str) -> sweep.Axis:
    axes = sweep_axes(sweep_store.read_sweep(directory))
    return next(a for a in axes if a.key == key)


# --- pages and files ----------------------------------------------------------------------


def test_one_axis_draws_line_plots_on_a_log_axis(sweeps: dict[int, Path], tmp_path: Path) -> None:
    d = Path(shutil.copytree(sweeps[1], tmp_path / "one"))
    page = write_sweep_report(d)
    assert page == d / "report.html"
    assert _pngs(d) == ["sweep-01-lines-phases.0.steps.png"]
    assert _colours(d / "plots" / _pngs(d)[0]) > 20
    html = _html(page)
    assert re.findall(r'<img src="([^"]+)"', html) == ["plots/sweep-01-lines-phases.0.steps.png"]
    assert "<td>phases.0.steps</td><td>500, 1000, 2000</td>" in html
    assert "<td>log</td>" in html
    n = 3 * SEEDS
    assert f"{n} of {n} runs finished" in html
    assert "incomplete" not in html


def test_three_axes_draw_one_heatmap_per_pair_pooling_the_third(three_page: Path) -> None:
    three = three_page
    html = _html(three / "report.html")
    pairs = [
        ("world.diversity", "phases.1.access", "agent.epsilon", 2),
        ("world.diversity", "agent.epsilon", "phases.1.access", 3),
        ("phases.1.access", "agent.epsilon", "world.diversity", 3),
    ]
    names = [f"sweep-0{i}-heatmap-{x}--{y}.png" for i, (x, y, _, _) in enumerate(pairs, 1)]
    assert _pngs(three) == names
    assert re.findall(r'<img src="plots/([^"]+)"', html) == names
    for name in names:
        assert _colours(three / "plots" / name) > 50
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", html, re.S)
    assert len(captions) == 3
    for cap, (x, y, pooled, n) in zip(captions, pairs, strict=True):
        assert f"{y} against {x}" in cap
        assert f"Pooled over: <code>{pooled}</code> ({n} values)" in cap
        assert "Fixed" not in cap
        assert f"{18 * SEEDS} runs; {n * SEEDS} per cell" in cap


def test_page_shows_claim_axes_fixed_settings_and_points(three_page: Path) -> None:
    html = _html(three_page / "report.html")
    assert "<h1>probe</h1>" in html and "a small test sweep" in html
    assert "flags drift &lt;b&gt;to&lt;/b&gt; the register" in html
    assert "18 points × 4 seeds · 72 of 72 runs finished" in html
    for key, shown in (
        ("world.diversity", "0, 0.5, 1"),
        ("phases.1.access", "0.1, 0.3, 0.9"),
        ("agent.epsilon", "0.05, 0.2"),
    ):
        assert f"<td>{key}</td><td>{shown}</td>" in html
    # fixed settings: the base scenario's, without the swept keys
    settings = html[html.index("Fixed settings") :]
    assert "<td>association.rate</td>" in settings and "<td>types</td>" in settings
    assert "<td>diversity</td>" not in settings and "<td>epsilon</td>" not in settings
    assert re.search(r"<td>deploy</td><td>1000</td><td>no</td><td>swept</td>", settings)
    # one points row per point, with its run count and shares
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td>(.*?)</tr>", html)
    assert [int(p) for p, _ in rows] == list(range(18))
    assert all(f'<td class="num">{SEEDS}</td>' in r for _, r in rows)


def test_fixing_an_axis_filters_runs_and_replaces_old_figures(three: Path) -> None:
    write_sweep_report(three, fix=["phases.1.access=0.9"])  # an earlier view
    assert _pngs(three) == ["sweep-01-heatmap-world.diversity--agent.epsilon.png"]
    page = write_sweep_report(
        three, x="agent.epsilon", y="phases.1.access", fix=["world.diversity=0.5"]
    )
    assert _pngs(three) == ["sweep-01-heatmap-agent.epsilon--phases.1.access.png"]
    html = _html(page)
    cap = re.findall(r"<figcaption>(.*?)</figcaption>", html, re.S)[0]
    assert "Fixed: <code>world.diversity</code> = 0.5." in cap
    assert "Pooled" not in cap
    assert f"{6 * SEEDS} runs; {SEEDS} per cell" in cap


def test_x_alone_draws_lines_over_a_categorical_axis(
    sweeps: dict[int, Path], tmp_path: Path
) -> None:
    d = Path(shutil.copytree(sweeps[2], tmp_path / "two"))
    html = _html(write_sweep_report(d, x="agent.flag_rule", fix=["phases.1.supervisor=false"]))
    assert _pngs(d) == ["sweep-01-lines-agent.flag_rule.png"]
    assert "Fixed: <code>phases.1.supervisor</code> = false." in html
    assert f"{2 * SEEDS} runs; {SEEDS} per value" in html
    # the default view of two free axes is one heatmap
    write_sweep_report(d)
    assert _pngs(d) == ["sweep-01-heatmap-agent.flag_rule--phases.1.supervisor.png"]


def test_incomplete_sweep_says_so(three: Path) -> None:
    chunks = sorted((three / "chunks").glob("*.parquet"))
    chunks[0].unlink()
    runs = sweep_store.read_runs(three).num_rows
    assert runs < 72
    html = _html(write_sweep_report(three, x="world.diversity", y="agent.epsilon"))
    assert "This sweep is incomplete" in html
    assert f"{runs} of 72 runs finished" in html


def test_points_table_is_capped(three: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_report, "MAX_POINT_ROWS", 5)
    html = _html(write_sweep_report(three, x="agent.epsilon"))
    assert len(re.findall(r"<tr><td class=\"num\">\d+</td>", html)) == 5
    assert "13 more points with runs are not listed" in html


# --- the data behind the figures ----------------------------------------------------------


def _scrambled(runs: pa.Table) -> pa.Table:
    """The runs with outcomes, flags and tampering replaced by a pattern that differs from
    cell to cell, so a grid that is misplaced, transposed or pooled wrongly cannot match."""
    point = np.asarray(runs.column("point").to_numpy(), np.int64)
    run = np.asarray(runs.column("run").to_numpy(), np.int64)
    c = point // 2  # the (diversity, access) cell: 3 * diversity index + access index
    code = np.where(run < c % 4, 0, np.where(run % 2 == 1, 2, 3))
    outcome = [OUTCOMES[int(v)] for v in code]
    flag = c * 0.1 - run * 0.03
    rate = np.where(run == 0, np.nan, c / 10 + run / 100)
    cols = {
        "outcome": pa.array(outcome),
        "register_flag": pa.array(flag),
        "tampers": pa.array((c + run) % 3 == 0),
        "tamper_rate": pa.array(rate, from_pandas=True),
    }
    for name, col in cols.items():
        runs = runs.set_column(runs.column_names.index(name), name, col)
    return runs


def _direct(runs: pa.Table, x: sweep.Axis, y: sweep.Axis, metric: str) -> np.ndarray:
    """The grid computed from the rows, without group_stats."""
    xs = np.asarray(runs.column(x.key).to_pylist(), dtype=object)
    ys = np.asarray(runs.column(y.key).to_pylist(), dtype=object)
    outcome = np.asarray(runs.column("outcome").to_pylist(), dtype=object)
    out = np.full((len(y.values), len(x.values)), np.nan)
    for i, yv in enumerate(y.values):
        for j, xv in enumerate(x.values):
            sel = (xs == x.cell(xv)) & (ys == y.cell(yv))
            if metric == "runs":
                out[i, j] = sel.sum()
            elif metric.startswith("share."):
                out[i, j] = np.mean(outcome[sel] == metric.removeprefix("share."))
            else:
                v = np.asarray(runs.column(metric).to_numpy(zero_copy_only=False), float)[sel]
                out[i, j] = np.nanmean(v) if np.isfinite(v).any() else np.nan
    return out


METRICS = ["runs", "share.aligned", "share.wirehead", "register_flag", "tampers", "tamper_rate"]


@pytest.mark.parametrize("metric", METRICS)
def test_phase_grid_equals_the_pooled_runs(sweeps: dict[int, Path], metric: str) -> None:
    runs = _scrambled(sweep_store.read_runs(sweeps[3]))
    x = _axis(sweeps[3], "world.diversity")
    y = _axis(sweeps[3], "phases.1.access")
    grid = phase_grid(runs, x, y, metric)
    assert grid.shape == (3, 3)
    want = _direct(runs, x, y, metric)
    np.testing.assert_allclose(grid, want, rtol=1e-12, equal_nan=True)
    if metric != "runs":  # the pattern differs between cells, so a transposed grid would not
        assert not np.allclose(grid, grid.T, equal_nan=True)


@pytest.mark.parametrize("metric", METRICS)
def test_phase_grid_with_a_fixed_axis_equals_group_stats(
    sweeps: dict[int, Path], metric: str
) -> None:
    runs = sweep_store.read_runs(sweeps[3])
    view = resolve_views(
        sweep_axes(sweep_store.read_sweep(sweeps[3])),
        "phases.1.access",
        "world.diversity",
        ["agent.epsilon=0.2"],
    )[0]
    sel = select_runs(runs, view.fixed)
    assert set(sel.column("agent.epsilon").to_pylist()) == {0.2}
    assert view.y is not None
    grid = phase_grid(sel, view.x, view.y, metric)
    for row in group_stats(sel, [view.x.key, view.y.key]).to_pylist():
        i = view.y.values.index(row[view.y.key])
        j = view.x.values.index(row[view.x.key])
        np.testing.assert_allclose(grid[i, j], row[metric], equal_nan=True)
    np.testing.assert_allclose(grid, _direct(sel, view.x, view.y, metric), equal_nan=True)


def test_pooling_counts_every_run_and_fixing_keeps_a_third(sweeps: dict[int, Path]) -> None:
    runs = sweep_store.read_runs(sweeps[3])
    axes = sweep_axes(sweep_store.read_sweep(sweeps[3]))
    pooled = resolve_views(axes, "phases.1.access", "agent.epsilon")[0]
    fixed = resolve_views(axes, "phases.1.access", "agent.epsilon", ["world.diversity=1"])[0]
    assert [a.key for a in pooled.pooled] == ["world.diversity"] and not pooled.fixed
    assert not fixed.pooled and [a.key for a, _ in fixed.fixed] == ["world.diversity"]
    n_pooled = cell_stats(select_runs(runs, pooled.fixed), (pooled.y, pooled.x))["runs"]
    n_fixed = cell_stats(select_runs(runs, fixed.fixed), (fixed.y, fixed.x))["runs"]
    np.testing.assert_array_equal(n_pooled, np.full((2, 3), 3 * SEEDS))
    np.testing.assert_array_equal(n_fixed, np.full((2, 3), SEEDS))
    assert n_fixed.sum() * 3 == n_pooled.sum() == runs.num_rows


def test_cells_without_runs_are_nan(sweeps: dict[int, Path]) -> None:
    runs = sweep_store.read_runs(sweeps[3])
    x = _axis(sweeps[3], "world.diversity")
    y = _axis(sweeps[3], "agent.epsilon")
    some = runs.filter(pc.not_equal(runs.column("world.diversity"), 0.5))
    stats = cell_stats(some, (y, x))
    assert np.isnan(stats["share.aligned"][:, 1]).all()
    assert (stats["runs"][:, 1] == 0).all()
    assert np.isfinite(stats["share.aligned"][:, [0, 2]]).all()


# --- views and errors ---------------------------------------------------------------------


def test_fix_values_compare_as_values(sweeps: dict[int, Path]) -> None:
    axes3 = sweep_axes(sweep_store.read_sweep(sweeps[3]))
    axes2 = sweep_axes(sweep_store.read_sweep(sweeps[2]))
    [(a, v)] = parse_fix(["world.diversity=1"], axes3)
    assert a.key == "world.diversity" and v == 1.0 and isinstance(v, float)
    [(_, v)] = parse_fix([" phases.1.access = 0.3 "], axes3)
    assert v == pytest.approx(0.3)
    [(_, v)] = parse_fix(["phases.1.supervisor=false"], axes2)
    assert v is False
    [(_, v)] = parse_fix(['agent.flag_rule="anchored"'], axes2)
    assert v == "anchored"
    with pytest.raises(ConfigError):  # a number is not a boolean
        parse_fix(["phases.1.supervisor=0"], axes2)


def test_default_views(sweeps: dict[int, Path]) -> None:
    axes = sweep_axes(sweep_store.read_sweep(sweeps[3]))
    views = resolve_views(axes, fix=["phases.1.access=0.1", "agent.epsilon=0.05"])
    assert len(views) == 1 and views[0].y is None and views[0].x.key == "world.diversity"
    views = resolve_views(axes, fix=["agent.epsilon=0.05"])
    assert [(v.x.key, v.y.key if v.y else None) for v in views] == [
        ("world.diversity", "phases.1.access")
    ]
    lines = resolve_views(axes, x="agent.epsilon")
    assert lines[0].y is None and [a.key for a in lines[0].pooled] == [
        "world.diversity",
        "phases.1.access",
    ]


@pytest.mark.parametrize(
    ("x", "y", "fix", "key", "words"),
    [
        ("world.nope", None, (), "--x", ["world.nope", "world.diversity", "agent.epsilon"]),
        ("world.diversity", "nope", (), "--y", ["nope", "phases.1.access"]),
        (None, None, ("nope=1",), "--fix", ["nope", "world.diversity"]),
        ("world.diversity", "world.diversity", (), "--y", ["other than --x"]),
        ("world.diversity", None, ("world.diversity=0.5",), "--fix", ["not plotted"]),
        ("agent.epsilon", "world.diversity", ("world.diversity=1",), "--fix", ["--y"]),
        (None, None, ("world.diversity=0.3",), "--fix", ["0.3", "0, 0.5, 1"]),
        (None, None, ("world.diversity",), "--fix", ["KEY=VALUE"]),
        (None, None, ("=0.5",), "--fix", ["KEY=VALUE"]),
        (None, None, ("world.diversity=",), "--fix", ["KEY=VALUE"]),
        (None, None, ("world.diversity=0", "world.diversity=1"), "--fix", ["twice"]),
        (None, "world.diversity", (), "--x", ["--y"]),
        (
            None,
            None,
            ("world.diversity=0", "agent.epsilon=0.2", "phases.1.access=0.9"),
            "--fix",
            ["every axis is fixed"],
        ),
    ],
)
def test_bad_views_are_config_errors_naming_the_option(
    three: Path, x: str | None, y: str | None, fix: tuple[str, ...], key: str, words: list[str]
) -> None:
    with pytest.raises(ConfigError) as err:
        write_sweep_report(three, x, y, fix)
    assert err.value.key == key
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg
    assert not (three / "report.html").exists()


def test_a_sweep_without_finished_runs_is_a_config_error(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    sweep_run.prepare(sweep.build(_data(AXES_1)), out)
    with pytest.raises(ConfigError) as err:
        write_sweep_report(out)
    assert err.value.key == "DIR" and "finished runs" in str(err.value)
    with pytest.raises(ConfigError) as err:
        write_sweep_report(tmp_path / "nowhere")
    assert err.value.key == "DIR"


def test_value_labels_are_compact() -> None:
    a = sweep.Axis("k", (0,), "list")
    assert [value_label(a, v) for v in (0.25, 10000.0, 4000, 0.0, True, "qa")] == [
        "0.25",
        "1e+04",
        "4000",
        "0",
        "true",
        "qa",
    ]
    assert value_label(a, {"b": 1, "a": 2}, 20) == '{"a": 2, "b": 1}'
    assert value_label(a, "x" * 30, 10) == "x" * 9 + "…"


# --- the index ----------------------------------------------------------------------------


def test_index_shows_a_sweep_with_its_first_heatmap(three_page: Path) -> None:
    three = three_page
    summary = sweep_store.read_sweep(three)  # what an entry without a summary falls back to
    page = write_index(three.parent, [{"kind": "sweep", "name": "probe", "dir": three.name}])
    html = _html(page)
    thumbs = re.findall(r'<img src="([^"]+)"', html)
    assert thumbs == [f"{three.name}/plots/sweep-01-heatmap-world.diversity--phases.1.access.png"]
    assert (three.parent / thumbs[0]).is_file()
    assert f"Sweep: {summary['points']} points × {SEEDS} seeds (72 runs finished)" in html
    for key, n in (("world.diversity", 3), ("phases.1.access", 3), ("agent.epsilon", 2)):
        assert f'<tr><td>{key}</td><td class="num">{n}</td></tr>' in html
    assert "outcome</th>" not in html
    assert "0 scenarios and 1 sweep." in html


def test_views_declared_in_the_sweep_file_are_the_default(tmp_path: Path) -> None:
    views = [
        {"x": "agent.epsilon", "y": "world.diversity", "fix": ["phases.1.access=0.1"]},
        {"x": "phases.1.access"},
    ]
    data = _data(AXES_3)
    data["sweep"]["views"] = views
    d = _run(data, tmp_path / "declared")
    write_sweep_report(d)
    names = _pngs(d)
    assert len(names) == 2, names
    assert "heatmap" in names[0] and "agent.epsilon" in names[0] and "lines" in names[1]
    # options given on the command line replace the declared views
    write_sweep_report(d, x="world.diversity")
    assert len(_pngs(d)) == 1 and "world.diversity" in _pngs(d)[0]
