"""An agent variant added from the test suite alone, as docs/extending.md describes: its own
module (here, this file) registers a kind with its own knobs, state and ``agent_act`` /
``agent_learn``, and the kind runs through ``goaldrift run`` and ``goaldrift report``.

The toy kind is a *sticky* agent: with probability ``agent.sticky.p`` it repeats its last
action, otherwise it is the flagged agent. With p = 0 it must be the flagged agent exactly
(it draws nothing); with p = 1 it answers one label forever, so its accuracy falls to chance.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from numba.core.caching import NullCache
from pydantic import Field
from typer.testing import CliRunner

from goaldrift.agents.config import Strict
from goaldrift.agents.flagged import learn
from goaldrift.agents.planning import epsilon_greedy
from goaldrift.agents.variants import (
    FLAGGED,
    KINDS,
    Variant,
    agent_act,
    agent_learn,
    register,
    variants,
)
from goaldrift.cli import app
from goaldrift.errors import ConfigError
from goaldrift.experiments.runs import kernel
from goaldrift.rng import draw_u64, split_hit, threshold32
from goaldrift.worlds.base import WorldSpec

Sticky = namedtuple("Sticky", ["last", "p"])  # (B,) int64 last action (-1: none); 32-bit p


class StickyKnobs(Strict):
    """Knobs of the sticky agent."""

    p: float = Field(0.5, ge=0, le=1, description="Probability of repeating the last action.")


@agent_act.register(Sticky)
def _sticky_act(variant, r, q, s, epsilon, key, k):  # type: ignore[no-untyped-def]
    if variant.p > 0 and variant.last[r] >= 0:
        x = draw_u64(key, k)
        k += 1
        if split_hit(x, variant.p):
            return variant.last[r], k
    a, k = epsilon_greedy(q, s, epsilon, key, k)
    variant.last[r] = a
    return a, k


@agent_learn.register(Sticky)
def _sticky_learn(variant, r, psi, q, w, aware, knobs, s, a, s2, term, phi, world, ws, key, k):  # type: ignore[no-untyped-def]  # fmt: skip
    learn(psi, q, w, aware, knobs, s, a, s2, term, phi)
    return k


def _bundle(agent: Any, spec: WorldSpec, runs: np.ndarray) -> Sticky:
    p = agent.sticky.p
    return Sticky(np.full(len(runs), -1, np.int64), np.uint64(threshold32(p) if p > 0 else 0))


STICKY = Variant(
    "sticky",
    "toy: the flagged agent that repeats its last action with probability p",
    FLAGGED.plan,
    bundle=_bundle,
    options=StickyKnobs,
    note="A sticky agent repeats its last action with probability agent.sticky.p.",
)


@pytest.fixture(scope="module", autouse=True)
def sticky() -> Iterator[Variant]:
    yield register(STICKY)
    KINDS.remove("sticky")  # leave the registry as other tests expect it


@contextmanager
def uncached() -> Iterator[None]:
    """Compile the kernel for the toy kind without writing numba's on-disk cache: its index
    would name a class of this test module, which other processes cannot import."""
    kept = [(d, d._cache) for d in (kernel._run_one, kernel.run_windows)]
    for d, _ in kept:
        d._cache = NullCache()
    try:
        yield
    finally:
        for d, c in kept:
            d._cache = c


def _run(tmp_path: Path, name: str, *sets: str) -> Path:
    out = tmp_path / name
    args = ["run", "aligned-qa", "--runs", "3", "--out", str(out), "--threads", "1"]
    args += ["--set", "phases.0.steps=3000", "--set", "phases.1.steps=1000"]
    for s in sets:
        args += ["--set", s]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return out


def test_variant_is_listed_and_validated() -> None:
    assert "sticky" in variants()
    res = CliRunner().invoke(app, ["list"])
    assert "sticky" in res.output
    # (``goaldrift.cli.main`` turns a ConfigError into one line and exit 2)
    bad = CliRunner().invoke(
        app, ["run", "aligned-qa", "--set", "agent.kind=sticky", "--set", "agent.sticky.p=2"]
    )
    assert isinstance(bad.exception, ConfigError) and "'agent.sticky.p'" in str(bad.exception)
    # another kind's table is refused
    other = CliRunner().invoke(app, ["run", "aligned-qa", "--set", "agent.sticky.p=0.5"])
    assert isinstance(other.exception, ConfigError) and "sticky" in str(other.exception)


def test_variant_runs_and_reports(tmp_path: Path) -> None:
    flagged = pq.read_table(_run(tmp_path, "flagged") / "runs.parquet")
    with uncached():
        zero = _run(tmp_path, "zero", "agent.kind=sticky", "agent.sticky.p=0")
        one = _run(tmp_path, "one", "agent.kind=sticky", "agent.sticky.p=1")
    # p = 0 draws nothing and repeats nothing: the flagged agent, bit for bit
    assert pq.read_table(zero / "runs.parquet").equals(flagged)
    # p = 1 repeats its first answer: accuracy near chance, far below the flagged agent's
    stuck = pq.read_table(one / "runs.parquet").column("train.rate.correct").to_numpy()
    learned = flagged.column("train.rate.correct").to_numpy()
    assert stuck.max() < 0.5 < learned.min()
    res = CliRunner().invoke(app, ["report", str(one)])
    assert res.exit_code == 0, res.output
    page = (one / "report.html").read_text()
    assert "repeats its last action" in page and "agent.sticky.p" in page
