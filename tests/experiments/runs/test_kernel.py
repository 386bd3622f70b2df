"""The run kernel keeps every write: each run's state, after a batch, is what the same run
leaves alone in a batch of one.

numba can silently drop a write ``bundle.arr[r] = v`` made directly in a ``prange`` body; the
kernel keeps that body one per-run call (``_run_one``). This test would catch a dropped write
anywhere: it captures every per-run array the kernel is handed (world, stream, agent state,
memory, records, working arrays, the agent kind's own state) after every call, and compares
the batch with single runs field by field.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

from goaldrift.experiments.runs import kernel, runner
from goaldrift.experiments.scenarios import load
from goaldrift.registry import scenarios

PER_RUN = ("world", "stream", "agent", "memory", "rec", "work", "variant")
NAMES = ("tomato-watering", "signal-forever", "drift-merge")


def _captured(sc: Any, runs: list[int], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every per-run array after the last kernel call, by ``bundle.field``."""
    seen: dict[str, Any] = {}
    real = kernel.run_windows

    def spy(*args: Any) -> None:
        real(*args)
        names = inspect.signature(real.py_func).parameters
        for name, bundle in zip(names, args, strict=True):
            if name not in PER_RUN:
                continue
            for field, arr in zip(bundle._fields, bundle, strict=True):
                if isinstance(arr, np.ndarray) and arr.ndim and arr.shape[0] == len(runs):
                    seen[f"{name}.{field}"] = arr.copy()

    monkeypatch.setattr(runner, "run_windows", spy)
    runner.run_batch(sc, sc.seed, runs)
    monkeypatch.undo()
    return seen


@pytest.mark.parametrize("name", NAMES)
def test_every_per_run_write_is_kept(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sc = load(scenarios()[name], ["phases.0.steps=1500", "sample_every=100"])
    sc = sc.model_copy(update={"phases": sc.phases[:1]})
    batch = _captured(sc, [0, 1, 2], monkeypatch)
    alone = [_captured(sc, [r], monkeypatch) for r in range(3)]
    assert batch.keys() == alone[0].keys()
    assert any(k.startswith("agent.") for k in batch) and any(k.startswith("rec.") for k in batch)
    for key, arr in batch.items():
        if key.startswith("rec.window_len"):
            continue  # per window, not per run
        np.testing.assert_array_equal(arr, np.concatenate([a[key] for a in alone]), err_msg=key)
    # and the kernel did write: counters advanced, records filled
    assert (batch["stream.ctr"] > 0).all()
    assert (batch["rec.counts"] != 0).any(axis=(1, 2)).all()


def test_prange_body_is_one_per_run_call() -> None:
    body = inspect.getsource(kernel.run_windows.py_func).split("prange(", 1)[1]
    calls = [line for line in body.splitlines()[1:] if line.strip()]
    assert calls[0].strip().startswith("_run_one(") and len(calls) == 2  # one call, wrapped


@pytest.mark.parametrize("name", ["signal-forever", "tomato-watering"])
def test_one_scenario_compiles_the_kernel_once(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kernel call of a scenario (phases, chunks, a first and a later window) has one
    argument type signature, so numba compiles the kernel once per scenario, not per call
    (a non-contiguous slice among the arguments would give a second signature)."""
    from numba import typeof

    sc = load(scenarios()[name], ["sample_every=100"])
    signatures = set()
    real = kernel.run_windows

    def spy(*args: Any) -> None:
        signatures.add(tuple(typeof(a) for a in args))
        real(*args)

    monkeypatch.setattr(runner, "run_windows", spy)
    runner.run_batch(sc, sc.seed, [0, 1], chunk_steps=700)  # many calls per phase
    assert len(signatures) == 1


def test_no_kernel_takes_more_than_16_parameters() -> None:
    """Kernels take named bundles, not long lists of arrays (a reader can follow a step)."""
    import ast
    from pathlib import Path

    import goaldrift

    too_long = []
    for path in Path(goaldrift.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.FunctionDef)
                and any(
                    any(k in ast.unparse(d) for k in ("njit", "register", "overload"))
                    for d in node.decorator_list
                )
                and len(node.args.args) > 16
            ):
                too_long.append(f"{path.name}:{node.name}")
    assert too_long == []
