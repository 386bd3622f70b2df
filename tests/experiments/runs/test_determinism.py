"""A run depends only on (scenario, seed, run index); awareness schedules and learning switches.

Determinism is checked bit for bit on every array of a ``Result``: a run must not change with
the batch it lands in, the number of threads, how the kernel calls are chunked, or the batch
size of ``execute.run_to``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from tests.conftest import at_one_and_all_threads, merged, scenario

from goaldrift.agents.flagged import AgentState
from goaldrift.experiments.runs import runner
from goaldrift.experiments.runs.execute import run_to
from goaldrift.experiments.runs.records import series_table
from goaldrift.experiments.runs.runner import Result, run_batch
from goaldrift.experiments.scenarios import Scenario
from goaldrift.worlds.qa import QA_WORLD

ARRAYS = ("runs", "counts", "flag_series", "masks", "flag", "ev_aware", "ev_relation", "ev_other")
RULES = ("anchored", "regression", "association", "merge")
CONCEPTS = QA_WORLD.concept_names
CI = {name: i for i, name in enumerate(CONCEPTS)}


def busy(rule: str = "regression", **over: Any) -> Scenario:
    """A scenario that uses every source of randomness and every kind of event."""
    data = {
        "sample_every": 100,
        "world": {"noise": 0.1, "access": 0.2, "diversity": 0.6},
        "agent": {
            "flag_rule": rule,
            "epsilon": 0.2,
            "alpha": 0.2,
            "memory": 300,
            "relation_every": 25,
            "n_min": 50,
            "tau": 0.8,
            "awareness": {
                "register_match": {"schedule": "hazard", "rate": 0.004},
                "tampered": {"schedule": "step", "at": 700},
                "proxy": {"schedule": "compute", "compute": 300},
            },
            "regression": {"fit_every": 100, "min_samples": 50},
            "association": {"rate": 0.01},
            "merge": {"merge_threshold": 0.9, "split_threshold": 0.7},
        },
        "phases": [
            {"name": "train", "steps": 1500},
            {"name": "deploy", "steps": 700, "supervisor": False, "access": 0.5},
        ],
    }
    return scenario(**merged(data, over))


def assert_same_runs(a: Result, b: Result, rows_a: Any = slice(None), rows_b: Any = slice(None)):
    np.testing.assert_array_equal(a.windows.end, b.windows.end)
    for name in ARRAYS:
        x, y = getattr(a, name)[rows_a], getattr(b, name)[rows_b]
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.parametrize("rule", RULES)
def test_runs_do_not_depend_on_the_batch(rule: str) -> None:
    sc = busy(rule)
    eight = run_batch(sc, 7, range(8))
    four = run_batch(sc, 7, range(4))
    assert_same_runs(eight, four, slice(0, 4))
    alone = run_batch(sc, 7, [5])
    assert_same_runs(eight, alone, slice(5, 6))
    shuffled = run_batch(sc, 7, [6, 1, 5])
    assert_same_runs(eight, shuffled, [6, 1, 5])
    # the scenario did exercise its machinery: events happened, runs differ from each other
    assert (eight.ev_aware >= 0).any() and (eight.ev_other[:, 0] >= 0).any()
    assert (eight.ev_relation >= 0).any()
    assert len({eight.counts[i].tobytes() for i in range(8)}) == 8


def test_rerun_is_identical_and_seeds_differ() -> None:
    sc = busy()
    a = run_batch(sc, 3, range(4))
    assert_same_runs(a, run_batch(sc, 3, range(4)))
    b = run_batch(sc, 4, range(4))
    for i in range(4):
        assert not np.array_equal(a.counts[i], b.counts[i])


def test_thread_count_does_not_matter() -> None:
    one, most = at_one_and_all_threads(busy("merge"), 6)
    assert_same_runs(one, most)


def test_kernel_chunking_does_not_matter() -> None:
    """Where run_batch cuts the kernel calls (``chunk_steps``) must not show in the results."""
    sc = busy("association")
    whole = run_batch(sc, 0, range(4))
    assert_same_runs(whole, run_batch(sc, 0, range(4), chunk_steps=100))
    assert_same_runs(whole, run_batch(sc, 0, range(4), chunk_steps=700))


def test_run_to_batch_size_does_not_change_the_files(tmp_path: Path) -> None:
    sc = busy("regression")
    outs = []
    for batch in (7, 3, 2):
        out = tmp_path / f"b{batch}"
        run_to(sc, out, runs=7, seed=5, batch=batch)
        outs.append(out)
    ref = outs[0]
    for other in outs[1:]:
        for name in ("runs.parquet", "series.parquet"):
            a, b = pq.read_table(ref / name), pq.read_table(other / name)
            assert a.schema == b.schema, name
            assert a.equals(b), name
        assert json.loads((ref / "scenario.json").read_text()) == json.loads(
            (other / "scenario.json").read_text()
        )
    runs_t = pq.read_table(ref / "runs.parquet")
    assert runs_t.column("run").to_pylist() == list(range(7))


def test_run_to_batch_size_does_not_change_the_summary(tmp_path: Path) -> None:
    sc = busy("regression")
    a = run_to(sc, tmp_path / "a", runs=7, seed=5, batch=7)
    b = run_to(sc, tmp_path / "b", runs=7, seed=5, batch=2)
    assert a == b
    assert (tmp_path / "a" / "summary.json").read_text() == (
        tmp_path / "b" / "summary.json"
    ).read_text()


# --- awareness schedules ---------------------------------------------------------------------


def _aware_bits(res: Result, concept: str) -> np.ndarray:
    return (res.masks[:, :, 0] >> CI[concept]) & 1 == 1


def test_awareness_start_step_never() -> None:
    sc = scenario(
        sample_every=100,
        agent={
            "awareness": {
                "correct": {"schedule": "start"},
                "register_match": {"schedule": "step", "at": 337},
                "proxy": {"schedule": "never"},
                "tampered": {"schedule": "step", "at": 5000},  # after the end
            }
        },
        phases=[{"name": "a", "steps": 600}, {"name": "b", "steps": 600}],
    )
    res = run_batch(sc, 0, range(4))
    assert (res.ev_aware[:, CI["correct"]] == 0).all()
    assert (res.ev_aware[:, CI["register_match"]] == 337).all()
    assert (res.ev_aware[:, CI["proxy"]] == -1).all()
    assert (res.ev_aware[:, CI["tampered"]] == -1).all()
    # the series: aware in a window iff the awareness step lies before the window's end
    assert _aware_bits(res, "correct").all()
    due = np.broadcast_to(res.windows.end > 337, (4, len(res.windows.end)))
    np.testing.assert_array_equal(_aware_bits(res, "register_match"), due)
    assert not _aware_bits(res, "proxy").any()
    assert not _aware_bits(res, "tampered").any()
    # the step-0 sample: the initial flag, only the concepts known from the start
    t = series_table(res)
    first = t.filter(pc.equal(t.column("step"), 0)).to_pydict()
    assert first["run"] == [0, 1, 2, 3] and set(first["phase"]) == {"a"}
    assert all(first["aware.correct"]) and not any(first["aware.register_match"])
    assert res.start is not None
    for c, name in enumerate(QA_WORLD.concept_names):
        assert first[f"flag.{name}"] == [float(res.start[0][0, c])] * 4
    assert first["tamper_rate"] == [None] * 4
    # the first window (100 steps) is also sampled at 12, 25 and 50
    assert list(res.windows.end[:5]) == [12, 25, 50, 100, 200]


def test_awareness_hazard_is_geometric() -> None:
    """Aware at each step with probability r: the first aware step (0-based) has mean
    1/r - 1 and standard deviation sqrt(1 - r)/r."""
    r_y, r_t = 0.02, 0.05
    runs = 400
    sc = scenario(
        runs=runs,
        sample_every=500,
        agent={
            "awareness": {
                "register_match": {"schedule": "hazard", "rate": r_y},
                "tampered": {"schedule": "hazard", "rate": r_t},
            }
        },
        phases=[{"name": "train", "steps": 1500}],
    )
    res = run_batch(sc, 0, range(runs))
    for name, r in (("register_match", r_y), ("tampered", r_t)):
        at = res.ev_aware[:, CI[name]]
        assert (at >= 0).all()  # P(later than 1500) < 1e-13
        sd = math.sqrt(1 - r) / r
        assert abs(at.mean() - (1 / r - 1)) < 5 * sd / math.sqrt(runs)
        assert abs(at.std() - sd) < 0.25 * sd
        assert (at == 0).any()  # step 0 is possible (probability r)
    # the two concepts draw independently
    y, t = res.ev_aware[:, CI["register_match"]], res.ev_aware[:, CI["tampered"]]
    assert abs(np.corrcoef(y, t)[0, 1]) < 5 / math.sqrt(runs)


def test_awareness_compute_counts_supervised_learning_steps() -> None:
    """Only steps with a supervisor and learning count as training compute."""
    sc = scenario(
        sample_every=50,
        agent={
            "awareness": {
                "register_match": {"schedule": "compute", "compute": 250},
                "proxy": {"schedule": "compute", "compute": 0},
                "tampered": {"schedule": "compute", "compute": 5000},
            }
        },
        phases=[
            {"name": "unsupervised", "steps": 300, "supervisor": False},
            {"name": "frozen", "steps": 200, "learn_world": False, "learn_flag": False},
            {"name": "train", "steps": 1000},
        ],
    )
    res = run_batch(sc, 0, range(3))
    assert (res.ev_aware[:, CI["proxy"]] == 0).all()
    assert (res.ev_aware[:, CI["register_match"]] == 300 + 200 + 250).all()
    assert (res.ev_aware[:, CI["tampered"]] == -1).all()


def test_awareness_compute_counts_flag_only_training() -> None:
    """With the world model frozen, a supervised phase whose regression flag learns still
    spends compute (the rule's training steps)."""
    sc = scenario(
        sample_every=50,
        agent={
            "flag_rule": "regression",
            "awareness": {"register_match": {"schedule": "compute", "compute": 120}},
        },
        phases=[{"name": "fit", "steps": 400, "learn_world": False}],
    )
    res = run_batch(sc, 0, range(2))
    assert (res.ev_aware[:, CI["register_match"]] == 120).all()


# --- learning switches -----------------------------------------------------------------------


def _run_keeping_state(sc: Scenario, monkeypatch: pytest.MonkeyPatch) -> tuple[Result, AgentState]:
    made: list[runner.Agent] = []
    setup = runner.setup_agent

    def kept(*args: Any, **kwargs: Any) -> runner.Agent:
        made.append(setup(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(runner, "setup_agent", kept)
    res = run_batch(sc, 0, range(3))
    monkeypatch.undo()
    return res, made[0].state


def test_learn_world_false_freezes_successor_features(monkeypatch: pytest.MonkeyPatch) -> None:
    learn = {"name": "learn", "steps": 1000}
    _, only = _run_keeping_state(scenario(phases=[learn]), monkeypatch)
    _, frozen = _run_keeping_state(
        scenario(phases=[learn, {"name": "frozen", "steps": 1000, "learn_world": False}]),
        monkeypatch,
    )
    _, more = _run_keeping_state(
        scenario(phases=[learn, {"name": "more", "steps": 1000}]), monkeypatch
    )
    assert np.abs(only.psi).sum() > 0
    np.testing.assert_array_equal(frozen.psi, only.psi)
    np.testing.assert_array_equal(frozen.q, only.q)
    assert not np.array_equal(more.psi, only.psi)
    # frozen from the start: nothing is ever learned
    never_sc = scenario(phases=[{"name": "x", "steps": 1000, "learn_world": False}])
    _, never = _run_keeping_state(never_sc, monkeypatch)
    assert not never.psi.any()
    write = np.arange(never.q.shape[-1]) % 2 == 1  # action = 2 * answer + write
    assert (never.q[..., ~write] == 0).all()
    assert (never.q[..., write] == np.float32(-never_sc.agent.write_cost)).all()


@pytest.mark.parametrize("rule", ["regression", "association", "merge"])
def test_learn_flag_false_keeps_the_flag(rule: str) -> None:
    init = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
    moving = busy(rule)
    still = busy(rule, phases=[{"name": "train", "steps": 2200, "learn_flag": False}])
    res = run_batch(still, 0, range(4))
    assert (res.flag_series == init).all()
    assert (res.flag == init).all()
    assert (res.ev_other[:, 3] == -1).all()  # the flag never moved
    if rule == "merge":
        assert (res.ev_other[:, 1:3] == -1).all() and (res.masks[:, :, 2] == 0).all()
    # the same scenario with the flag learning does move it (the switch is what held it)
    assert not (run_batch(moving, 0, range(4)).flag_series == init).all()


@pytest.mark.parametrize("rule", ["anchored", "association", "merge"])
def test_learn_relations_false_notices_nothing(rule: str) -> None:
    start = {"schedule": "start"}
    aware = {c: start for c in CONCEPTS}
    on = busy(rule, agent={"awareness": aware})
    off = busy(
        rule,
        agent={"awareness": aware},
        phases=[
            {"name": "train", "steps": 1500, "learn_relations": False},
            {"name": "deploy", "steps": 700, "learn_relations": False},
        ],
    )
    res = run_batch(off, 0, range(4))
    assert (res.ev_relation == -1).all()
    assert (res.masks[:, :, 1] == 0).all()
    if rule != "anchored":
        assert (res.flag_series == res.flag_series[:, :1]).all()  # nothing to ride on
    assert (run_batch(on, 0, range(4)).ev_relation >= 0).any()
    assert len(res.pair_names) == res.ev_relation.shape[1] == 6
