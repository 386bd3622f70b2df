"""Content digests of result tables: the bit-identity guard for changes that keep behaviour.

``python -m tests.digests`` (from the repository root) recomputes every digest into
``tests/fixtures/digests.json``; ``tests/test_digests.py`` recomputes them and compares. A
change that is meant to keep behaviour must leave that file untouched; a change that moves
results rewrites it in the same commit and says why.

A digest hashes each column's name, Arrow type, null mask and values (numbers as their
little-endian bytes, strings UTF-8 with a separator), so it depends on the data only, not on
the Parquet writer's version or its metadata.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FIXTURE = Path(__file__).parent / "fixtures" / "digests.json"
RUNS = 4  # runs per shipped scenario
SWEEP = "noise-cost"
SWEEP_SEEDS = 2


def table_digest(table: pa.Table) -> str:
    """A digest of a table's column names, types, null masks and values."""
    h = hashlib.sha256()
    for name, col in zip(table.column_names, table.columns, strict=True):
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        h.update(name.encode() + b"\0" + str(col.type).encode() + b"\0")
        valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
        h.update(valid.tobytes())
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            h.update("\x1f".join("" if v is None else v for v in col.to_pylist()).encode())
        else:
            filled = col.fill_null(False if pa.types.is_boolean(col.type) else 0)
            vals = np.asarray(filled.to_numpy(zero_copy_only=False))
            h.update(vals.astype(vals.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()[:32]


def _flagged_to_qlearning(d: dict[str, Any]) -> None:
    d["agent"] = {"kind": "qlearning", "epsilon": 0.1}
    for ph in d["phases"]:
        ph.pop("learn_relations", None)
        ph.pop("learn_flag", None)


def _set(path: str, value: Any) -> Any:
    def edit(d: dict[str, Any]) -> None:
        node = d
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
        node[keys[-1]] = value

    return edit


# configurations the shipped scenarios do not reach: (case, shipped scenario, edits)
EXTRA: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    ("merge-original", "drift-merge", (_set("agent.merge.split", "original"),)),
    ("merge-even", "drift-merge", (_set("agent.merge.split", "even"),)),
    ("merge-controllable", "drift-merge", (_set("agent.merge.split", "controllable"),)),
    ("association-one-way", "deployment-drift", (_set("agent.association.one_way", True),)),
    (
        "systematic-tamper",
        "aligned-qa",
        (
            _set("world.noise_kind", "systematic"),
            _set("world.noise", 0.25),
            _set("world.access", 0.3),
            _set("agent.flag.tampered", 0.5),
            _set("phases.1.learn_relations", False),
        ),
    ),
    ("tomato-qlearning", "tomato-watering", (_flagged_to_qlearning,)),
    ("absent-qlearning", "absent-supervisor", (_flagged_to_qlearning,)),
    ("boat-qlearning", "boat-race", (_flagged_to_qlearning,)),
    (
        "tomato-merge",
        "tomato-watering",
        (
            _set("agent.flag_rule", "merge"),
            _set(
                "agent.merge",
                {"merge_threshold": 0.9, "split_threshold": 0.5, "split": "predictive"},
            ),
        ),
    ),
    (
        "rocks-merge-level1",
        "rocks-diamonds",
        (
            _set("world.level", 1),
            _set("agent.flag_rule", "merge"),
            _set(
                "agent.merge",
                {"merge_threshold": 0.9, "split_threshold": 0.5, "split": "controllable"},
            ),
        ),
    ),
    (
        "absent-association-one-way",
        "absent-supervisor",
        (
            _set("agent.association.one_way", True),
            _set("agent.awareness.punish_unsupervised", {"schedule": "hazard", "rate": 0.0001}),
        ),
    ),
)


def scenario_digests(name: str, out: Path, edits: tuple[Any, ...] = ()) -> dict[str, str]:
    """Run a shipped scenario (``RUNS`` runs, its own seed), edited by ``edits`` (functions
    of its raw data), and digest its two tables."""
    from goaldrift.experiments.runs.execute import run_to
    from goaldrift.experiments.scenarios import read_toml, validate
    from goaldrift.registry import scenarios

    data = read_toml(scenarios()[name])
    for edit in edits:
        edit(data)
    sc = validate(data)
    run_to(sc, out, RUNS, sc.seed, batch=3)  # batches of 3: a partial last batch too
    return {
        "runs": table_digest(pq.read_table(out / "runs.parquet")),
        "series": table_digest(pq.read_table(out / "series.parquet")),
    }


def sweep_digests(out: Path) -> dict[str, str]:
    """Run the shipped sweep ``SWEEP`` at ``SWEEP_SEEDS`` seeds in-process; digest its runs
    (ordered by point and run) and points tables."""
    from goaldrift.experiments.sweeps import backends
    from goaldrift.experiments.sweeps import run as sweep_run
    from goaldrift.experiments.sweeps import store as sweep_store
    from goaldrift.experiments.sweeps import sweep as sweeps
    from goaldrift.registry import sweeps as shipped

    sw = sweeps.load(shipped()[SWEEP], seeds=SWEEP_SEEDS)
    with backends.make("local", 1, None, "127.0.0.1") as be:
        sweep_run.run_sweep(sw, out, be, chunk=64)
    return {
        "runs": table_digest(sweep_store.read_runs(out)),
        "points": table_digest(pq.read_table(out / sweep_store.POINTS)),
    }


def compute_all() -> dict[str, Any]:
    from goaldrift.registry import scenarios

    with tempfile.TemporaryDirectory() as tmp:
        found: dict[str, Any] = {
            "runs_per_scenario": RUNS,
            "scenarios": {n: scenario_digests(n, Path(tmp) / n) for n in scenarios()},
            "extra": {
                case: scenario_digests(name, Path(tmp) / case, edits) for case, name, edits in EXTRA
            },
            "sweep": {"name": SWEEP, "seeds": SWEEP_SEEDS, **sweep_digests(Path(tmp) / "sw")},
        }
    return found


if __name__ == "__main__":
    data = compute_all()
    FIXTURE.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
