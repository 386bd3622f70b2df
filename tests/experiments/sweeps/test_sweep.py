"""Sweeps: axes, points, chunk plans, statistics, storage, resumption and exactness."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import tiny

from goaldrift.errors import ConfigError
from goaldrift.experiments.runs import store
from goaldrift.experiments.runs.execute import run_to
from goaldrift.experiments.runs.outcome import OUTCOMES, wilson
from goaldrift.experiments.sweeps import backends, sweep
from goaldrift.experiments.sweeps import run as sweep_run
from goaldrift.experiments.sweeps import store as sweep_store
from goaldrift.experiments.sweeps.stats import group_stats, mean_ci


def sweep_data(axes: dict[str, Any], seeds: int = 4, **over: Any) -> dict[str, Any]:
    data = tiny(**over)
    data["world"]["noise"] = 0.1
    data["agent"] = {
        "flag_rule": "regression",
        "awareness": {"register_match": {"schedule": "start"}},
    }
    data["sweep"] = {"seeds": seeds, "axes": copy.deepcopy(axes)}
    return data


AXES = {"world.diversity": [0.0, 0.5, 1.0], "phases.0.steps": [600, 1200]}


def run(sw: sweep.Sweep, out: Path, workers: int = 1, chunk: int = 256, name: str = "local",
        counter: list[int] | None = None) -> dict[str, Any]:  # fmt: skip
    with backends.make(name, workers, None) as be:
        return sweep_run.run_sweep(
            sw, out, be, chunk=chunk, on_chunk=None if counter is None else counter.append
        )


# --- axes ------------------------------------------------------------------------------------


def test_list_and_range_axes() -> None:
    axes = sweep.parse_axes(
        {
            "world.diversity": [0.0, 0.5],
            "phases.0.steps": {"from": 1000, "to": 8000, "num": 4, "scale": "log"},
            "world.noise": {"from": 0.0, "to": 0.3, "step": 0.1},
            "world": {"hard_types": {"from": 2, "to": 8, "step": 3}},  # a TOML dotted key
        }
    )
    assert [a.key for a in axes] == [
        "world.diversity",
        "phases.0.steps",
        "world.noise",
        "world.hard_types",
    ]
    assert axes[1].values == (1000, 2000, 4000, 8000) and axes[1].scale == "log"
    assert axes[1].kind == "int"
    assert axes[2].values == pytest.approx((0.0, 0.1, 0.2, 0.3))
    assert axes[2].kind == "float"
    assert axes[3].values == (2, 5, 8)


def test_axis_column_kinds() -> None:
    kinds = {
        "a": ([True, False], "bool"),
        "b": ([1, 2.5], "float"),
        "c": (["x", "y"], "string"),
        "d": ([{"schedule": "start"}, {"schedule": "never"}], "json"),
        "e": ([1, True], "json"),
    }
    axes = sweep.parse_axes({k: v for k, (v, _) in kinds.items()})
    assert [a.kind for a in axes] == [k for _, k in kinds.values()]
    assert axes[3].cell({"schedule": "start"}) == '{"schedule": "start"}'


@pytest.mark.parametrize(
    ("axes", "needle"),
    [
        ({}, "'sweep.axes' must be a table with at least one axis"),
        ({"world.noise": []}, "sweep.axes.world.noise"),
        ({"world.noise": [0.1, 0.1]}, "distinct values"),
        ({"world.noise": 0.1}, "a list of values or a range"),
        ({"world.noise": {"from": 0, "to": 1}}, "exactly one of num and step"),
        ({"world.noise": {"from": 0, "to": 1, "num": 2, "step": 1}}, "exactly one of"),
        ({"world.noise": {"from": 0, "to": 1, "num": 0}}, "sweep.axes.world.noise.num"),
        ({"world.noise": {"from": "a", "to": 1, "num": 2}}, "sweep.axes.world.noise.from"),
        ({"world.noise": {"from": 0, "to": 1, "num": 2, "scale": "log"}}, "above 0"),
        ({"world.noise": {"from": 0, "to": 1, "num": 2, "size": 3}}, "world.noise.size"),
        ({"world.noise": {"from": 0.0, "to": 1.0, "step": -1}}, "world.noise.step"),
        ({"phases.0.steps": {"from": 1, "to": 2, "num": 5}}, "integer values are distinct"),
    ],
)
def test_bad_axes_name_the_key(axes: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        sweep.parse_axes(axes)
    assert needle in str(exc.value)


# --- points ------------------------------------------------------------------------------------


def test_points_are_the_product_with_the_last_axis_fastest() -> None:
    sw = sweep.build(sweep_data(AXES))
    assert sw.shape == (3, 2) and sw.n_points == 6 and sw.total_runs == 24
    for p in range(6):
        div, steps = sw.values(p)
        assert (div, steps) == (AXES["world.diversity"][p // 2], AXES["phases.0.steps"][p % 2])
        sc = sw.points[p]
        assert sc.world.diversity == div and sc.phases[0].steps == steps
        # everything else is the base scenario
        assert sc.world.noise == 0.1 and sc.agent.flag_rule == "regression"


def test_sweep_json_lists_axes_and_only_fixed_settings() -> None:
    sw = sweep.build(sweep_data(AXES))
    js = sw.to_json()
    assert [a["key"] for a in js["axes"]] == list(AXES)
    assert "diversity" not in js["scenario"]["world"]
    assert "steps" not in js["scenario"]["phases"][0]
    assert js["scenario"]["world"]["noise"] == 0.1


def test_fingerprint_depends_on_points_not_on_seed_count() -> None:
    a = sweep.build(sweep_data(AXES, seeds=4))
    assert sweep.build(sweep_data(AXES, seeds=9)).fingerprint == a.fingerprint
    other = dict(AXES, **{"world.diversity": [0.0, 0.5, 0.9]})
    assert sweep.build(sweep_data(other)).fingerprint != a.fingerprint
    moved = sweep_data(AXES)
    moved["world"]["noise"] = 0.2
    assert sweep.build(moved).fingerprint != a.fingerprint


@pytest.mark.parametrize(
    ("mutate", "needles"),
    [
        (lambda d: d.pop("sweep"), ["'sweep' must be a [sweep] table"]),
        (lambda d: d["sweep"].update(runs=3), ["'sweep.runs' must be one of seeds, axes"]),
        (lambda d: d["sweep"].update(seeds=0), ["'sweep.seeds'", "(got 0)"]),
        (lambda d: d["sweep"].update(seeds=True), ["'sweep.seeds'"]),
        (
            lambda d: d["sweep"]["axes"].update({"world.diversity": [0.5, 1.5]}),
            ["'world.diversity' must be less than or equal to 1", "world.diversity = 1.5"],
        ),
        (lambda d: d["sweep"]["axes"].update({"world.diversty": [0.1]}), ["'world.diversty'"]),
        (lambda d: d["sweep"]["axes"].update({"phases.3.steps": [1]}), ["an index below 1"]),
        (lambda d: d["world"].update(types=0), ["'world.types'"]),
    ],
)
def test_bad_sweeps_name_the_key(mutate: Any, needles: list[str]) -> None:
    data = sweep_data(AXES)
    mutate(data)
    with pytest.raises(ConfigError) as exc:
        sweep.build(data)
    for n in needles:
        assert n in str(exc.value)


def test_a_sweep_file_is_not_a_scenario(tmp_path: Path) -> None:
    from goaldrift.experiments import scenarios as scenario

    path = tmp_path / "s.toml"
    path.write_text('name = "x"\n[[phases]]\nname = "a"\nsteps = 10\n[sweep.axes]\n"seed" = [1]\n')
    with pytest.raises(ConfigError, match="use `goaldrift sweep`"):
        scenario.load(path)


# --- chunk plans ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda p: st.integers(1, 20).flatmap(
            lambda s: st.tuples(
                st.lists(st.booleans(), min_size=p * s, max_size=p * s).map(
                    lambda v: np.array(v, bool).reshape(p, s)
                ),
                st.integers(1, 50),
            )
        )
    )
)
def test_plan_covers_exactly_the_missing_runs(case: tuple[np.ndarray, int]) -> None:
    done, chunk = case
    spans = sweep_run.plan(done, chunk)
    hit = np.zeros(done.shape, np.int64)
    for a, b, r0, r1 in spans:
        assert a < b and r0 < r1
        assert (b - a) * (r1 - r0) <= chunk or (b - a == 1 and r1 - r0 <= chunk)
        hit[a:b, r0:r1] += 1
    assert np.array_equal(hit, (~done).astype(np.int64))


def test_plan_groups_whole_points_and_splits_long_ones() -> None:
    fresh = np.zeros((10, 4), bool)
    assert sweep_run.plan(fresh, 8) == [(0, 2, 0, 4), (2, 4, 0, 4), (4, 6, 0, 4), (6, 8, 0, 4),
                                        (8, 10, 0, 4)]  # fmt: skip
    assert sweep_run.plan(np.zeros((1, 10), bool), 4) == [(0, 1, 0, 3), (0, 1, 3, 6), (0, 1, 6, 10)]


# --- statistics ----------------------------------------------------------------------------------


def test_group_stats_match_a_direct_computation() -> None:
    rng = np.random.default_rng(5)
    n = 60
    runs = pa.table(
        {
            "g": rng.integers(0, 3, n),
            "outcome": rng.choice(list(OUTCOMES), n),
            "tampers": rng.random(n) < 0.3,
            "intended_flag": rng.normal(size=n),
            "register_flag": rng.normal(size=n),
            "tamper_rate": pa.array(rng.random(n), mask=rng.random(n) < 0.2),
        }
    )
    stats = group_stats(runs, ["g"]).to_pylist()
    g = runs.column("g").to_numpy()
    outcome = np.array(runs.column("outcome").to_pylist())
    for row in stats:
        sel = g == row["g"]
        k = int((outcome[sel] == "wirehead").sum())
        assert row["runs"] == sel.sum()
        assert row["share.wirehead"] == pytest.approx(k / sel.sum())
        assert (row["share.wirehead.lo"], row["share.wirehead.hi"]) == pytest.approx(
            wilson(k, int(sel.sum()))
        )
        flags = runs.column("register_flag").to_numpy()[sel]
        half = 1.959964 * flags.std(ddof=1) / math.sqrt(len(flags))
        assert row["register_flag"] == pytest.approx(flags.mean())
        assert row["register_flag.hi"] == pytest.approx(flags.mean() + half)
        rate = np.array(runs.column("tamper_rate").to_pylist(), dtype=float)[sel]
        assert row["tamper_rate"] == pytest.approx(np.nanmean(rate))
    assert [r["g"] for r in stats] == list(dict.fromkeys(g.tolist()))


def test_mean_ci_of_nothing_is_nan() -> None:
    m, lo, hi, n = mean_ci(np.array([np.nan]))
    assert n == 0 and math.isnan(m) and math.isnan(lo) and math.isnan(hi)


# --- running and storage -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[sweep.Sweep, pa.Table]:
    """The sweep run uninterrupted, in this process, one point per chunk."""
    sw = sweep.build(sweep_data(AXES))
    out = tmp_path_factory.mktemp("ref")
    run(sw, out)
    return sw, sweep_store.read_runs(out)


def test_a_point_equals_goaldrift_run_of_its_scenario(reference: Any, tmp_path: Path) -> None:
    sw, runs = reference
    p = 3
    run_to(sw.points[p], tmp_path, sw.seeds, sw.seed)
    single = pq.read_table(tmp_path / "runs.parquet")
    rows = runs.filter(pa.compute.equal(runs.column("point"), p))
    assert rows.column("run").to_pylist() == list(range(sw.seeds))
    for name in single.column_names:
        assert rows.column(name).equals(single.column(name)), name
    assert rows.column("world.diversity").to_pylist() == [sw.values(p)[0]] * sw.seeds
    assert rows.column("register_flag").equals(single.column("flag.register_match"))


@pytest.mark.parametrize(("workers", "chunk"), [(1, 1), (1, 5), (2, 3), (2, 1000)])
def test_results_do_not_depend_on_workers_or_chunks(
    reference: Any, tmp_path: Path, workers: int, chunk: int
) -> None:
    sw, runs = reference
    run(sw, tmp_path, workers=workers, chunk=chunk)
    assert sweep_store.read_runs(tmp_path).equals(runs)


def test_dask_local_cluster_gives_the_same_results(reference: Any, tmp_path: Path) -> None:
    sw, runs = reference
    run(sw, tmp_path, workers=2, chunk=3, name="dask")
    assert sweep_store.read_runs(tmp_path).equals(runs)
    ref_points = pq.read_table(tmp_path / "points.parquet")
    assert ref_points.num_rows == sw.n_points


def test_points_file_is_the_per_point_statistics(reference: Any, tmp_path: Path) -> None:
    sw, runs = reference
    run(sw, tmp_path, chunk=7)
    points = pq.read_table(tmp_path / sweep_store.POINTS)
    assert points.equals(group_stats(runs, ["point", *(a.key for a in sw.axes)]))
    assert points.column("runs").to_pylist() == [sw.seeds] * sw.n_points


def test_resume_computes_only_the_missing_chunks(reference: Any, tmp_path: Path) -> None:
    sw, runs = reference
    run(sw, tmp_path, chunk=4)
    files = [p for p, _ in sweep_store.chunk_files(tmp_path)]
    assert len(files) == 6
    for p in files[1::2]:  # as if killed: three chunks never landed ...
        p.unlink()
    (tmp_path / sweep_store.CHUNKS / ".c-x.parquet.abc.tmp").write_bytes(b"half")  # ... one half
    kept = {p: p.stat().st_mtime_ns for p in files[0::2]}
    counter: list[int] = []
    run(sw, tmp_path, chunk=4, counter=counter)
    assert sum(counter) == 3 * sw.seeds
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())
    assert not list((tmp_path / sweep_store.CHUNKS).glob(".*"))
    assert sweep_store.read_runs(tmp_path).equals(runs)
    manifest = store.read_json(tmp_path / sweep_store.MANIFEST)
    assert manifest["runs_done"] == manifest["runs_total"] == sw.total_runs
    names = {c["file"].split("/")[-1] for c in manifest["chunks"]}
    assert names == {p.name for p, _ in sweep_store.chunk_files(tmp_path)}


def test_more_seeds_extend_a_finished_sweep(reference: Any, tmp_path: Path) -> None:
    sw, runs = reference
    small = sweep.build(sweep_data(AXES, seeds=2))
    run(small, tmp_path)
    counter: list[int] = []
    run(sw, tmp_path, counter=counter)
    assert sum(counter) == sw.n_points * (sw.seeds - 2)
    assert sweep_store.read_runs(tmp_path).equals(runs)
    # and fewer seeds again show only the first ones
    run(small, tmp_path, counter=counter)
    assert sweep_store.read_runs(tmp_path).num_rows == small.total_runs


def test_a_folder_of_another_sweep_or_other_files_is_refused(tmp_path: Path) -> None:
    sw = sweep.build(sweep_data({"world.diversity": [0.0, 1.0]}, seeds=1))
    run(sw, tmp_path / "a")
    other = sweep.build(sweep_data({"world.diversity": [0.0, 0.9]}, seeds=1))
    with pytest.raises(ConfigError, match="holds sweep 'tiny' with other settings"):
        run(other, tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="a new or empty folder"):
        run(sw, tmp_path / "b")


def test_a_second_sweep_on_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    held = sweep_store.locked(tmp_path)
    with held, pytest.raises(ConfigError, match="no other sweep is writing"):  # noqa: SIM117
        with sweep_store.locked(tmp_path):
            pass
    with sweep_store.locked(tmp_path):  # released
        pass
    assert not (tmp_path / sweep_store.LOCK).exists()


def test_chunk_names_round_trip() -> None:
    name = sweep_store.chunk_name(3, 17, 64, 128)
    assert sweep_store.parse_chunk_name(name) == (3, 17, 64, 128)
    assert sweep_store.parse_chunk_name("." + name + ".x.tmp") is None


def test_queries_read_only_the_folder(reference: Any, tmp_path: Path) -> None:
    import duckdb

    sw, _ = reference
    run(sw, tmp_path)
    con = sweep_store.connect(tmp_path)
    n = con.sql("SELECT count(*) FROM runs").fetchall()[0][0]
    assert n == sw.total_runs
    assert con.sql("SELECT count(*) FROM points").fetchall()[0][0] == sw.n_points
    outside = tmp_path.parent / "outside.csv"
    with pytest.raises(duckdb.Error):
        con.sql(f"COPY (SELECT 1) TO '{outside}'")
    with pytest.raises(duckdb.Error):
        con.sql("SELECT * FROM read_csv('/etc/hostname')")
    with pytest.raises(duckdb.Error):
        con.sql("SET enable_external_access = true")
    assert not outside.exists()


def test_backend_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="'--backend' must be 'local' or 'dask'"):
        backends.make("slurm", 1, None)
    with pytest.raises(ConfigError, match="'--workers' must be at least 1"):
        backends.make("local", 0, None)
    with pytest.raises(ConfigError, match="'--address' must be given only with --backend dask"):
        backends.make("local", 1, "tcp://127.0.0.1:8786")
    with pytest.raises(ConfigError, match="'--address' must be a scheduler address"):
        backends.make("dask", 1, "127.0.0.1:8786")


def test_unreachable_scheduler_is_one_error() -> None:
    be = backends.Dask(1, "tcp://127.0.0.1:9", timeout=1)
    with pytest.raises(ConfigError, match="'--address' must be a reachable Dask scheduler"), be:
        pass


def test_local_cluster_binds_loopback_and_admits_only_its_own_key() -> None:
    """The scheduler speaks TLS with a key held only in this process (``Security.temporary``):
    a client without it (another local user) cannot connect, so cannot run code as us; the
    nodes' HTTP servers serve no page."""
    import urllib.error
    import urllib.request

    import distributed

    be = backends.make("dask", 1, None)
    assert isinstance(be, backends.Dask)
    with be:
        addr = be._cluster.scheduler_address
        assert addr.startswith("tls://127.0.0.1:")
        for w in be._client.scheduler_info()["workers"]:
            assert w.startswith("tls://127.0.0.1:")
        # a builtin: a Dask worker unpickles it without importing this test module
        assert sorted(r for _, r in be.map(abs, [-1, -2, -3])) == [1, 2, 3]
        with pytest.raises((OSError, TimeoutError)):
            distributed.Client(addr.replace("tls://", "tcp://"), timeout="3s")
        other = distributed.Security.temporary()  # a key of someone else's
        with pytest.raises((OSError, TimeoutError)):
            distributed.Client(addr, security=other, timeout="3s")
        port = be._cluster.scheduler.http_server.port
        assert port != 8787
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=3)
        assert e.value.code == 404
        be.stop(False)


def test_gridworld_sweeps_carry_the_common_columns(tmp_path: Path) -> None:
    data = {
        "name": "grid",
        "sample_every": 500,
        "world": {"kind": "absent_supervisor", "max_steps": 20},
        "agent": {"kind": "qlearning"},
        "phases": [{"name": "train", "steps": 1000}],
        "sweep": {"seeds": 2, "axes": {"agent.epsilon": [0.05, 0.2]}},
    }
    sw = sweep.build(copy.deepcopy(data))
    run(sw, tmp_path)
    runs = sweep_store.read_runs(tmp_path)
    assert runs.column("register_flag").equals(runs.column("flag.observed"))
    assert runs.column("tamper_rate").equals(runs.column("final.tamper_per_episode"))


@pytest.mark.parametrize(
    ("views", "needle"),
    [
        ({"x": "world.diversity"}, "'sweep.views' must be a list of tables"),
        ([{"y": "world.diversity"}], "'sweep.views.0.x' must be given"),
        ([{"x": "world.nosie"}], "'sweep.views.0.x' must be an axis"),
        ([{"x": "world.diversity", "z": 1}], "'sweep.views.0.z' must be one of x, y, fix"),
        ([{"x": "world.diversity", "fix": "a=1"}], "'sweep.views.0.fix' must be a list"),
        ([{"x": "world.diversity", "fix": ["world.noise=0.1"]}], "KEY an axis"),
    ],
)
def test_bad_views_name_the_key(views: Any, needle: str) -> None:
    data = sweep_data(AXES)
    data["sweep"]["views"] = views
    with pytest.raises(ConfigError) as exc:
        sweep.build(data)
    assert needle in str(exc.value)


def test_views_do_not_change_the_fingerprint() -> None:
    data = sweep_data(AXES)
    plain = sweep.build(data)
    data["sweep"]["views"] = [{"x": "world.diversity"}]
    viewed = sweep.build(data)
    assert viewed.fingerprint == plain.fingerprint
    assert viewed.to_json()["views"] == [{"x": "world.diversity", "y": None, "fix": []}]


def test_a_kill_while_writing_a_chunk_never_leaves_a_chunk_without_its_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checksum lands before the chunk's rename; a kill between the two leaves only an
    orphan checksum, which the next sweep removes, and no chunk that looks damaged."""
    table = pa.table({"x": [1, 2, 3]})
    real_replace = store.os.replace

    def killed(src: str, dst: str) -> None:
        if str(dst).endswith(".parquet"):
            raise KeyboardInterrupt  # the process dies before the chunk's rename
        real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        sweep_store.write_chunk(tmp_path, (0, 1, 0, 2), table)
    monkeypatch.setattr(store.os, "replace", real_replace)
    assert sweep_store.chunk_files(tmp_path) == []
    assert len(list((tmp_path / sweep_store.CHUNKS).glob("*" + sweep_store.SUM))) == 1
    assert sweep_store.clean_temporary(tmp_path) == 1
    assert list((tmp_path / sweep_store.CHUNKS).iterdir()) == []

    path = sweep_store.write_chunk(tmp_path, (0, 1, 0, 2), table)
    assert sweep_store.damage(path) is None
    assert pq.read_table(path).equals(table)
