"""Bit identity: every shipped scenario (and configurations they do not reach) and one small
sweep give the results recorded in tests/fixtures/digests.json.

A change that keeps behaviour must pass this unchanged. A change that moves results
regenerates the fixture (``python -m tests.digests``) in the same commit, saying why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.digests import EXTRA, FIXTURE, scenario_digests, sweep_digests

EXPECTED = json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED["scenarios"]))
def test_shipped_scenario_is_bit_identical(name: str, tmp_path: Path) -> None:
    assert scenario_digests(name, tmp_path / "out") == EXPECTED["scenarios"][name]


@pytest.mark.parametrize("case", [c for c, _, _ in EXTRA])
def test_extra_configuration_is_bit_identical(case: str, tmp_path: Path) -> None:
    _, name, edits = next(e for e in EXTRA if e[0] == case)
    assert scenario_digests(name, tmp_path / "out", edits) == EXPECTED["extra"][case]


def test_sweep_is_bit_identical(tmp_path: Path) -> None:
    want = {k: v for k, v in EXPECTED["sweep"].items() if k in ("runs", "points")}
    assert sweep_digests(tmp_path / "sw") == want


def test_every_shipped_scenario_has_a_digest() -> None:
    from goaldrift.registry import scenarios

    assert sorted(scenarios()) == sorted(EXPECTED["scenarios"])


def test_digest_sees_one_changed_value_and_a_null() -> None:
    import pyarrow as pa
    from tests.digests import table_digest

    base = pa.table({"x": [1.0, 2.0], "s": ["a", "b"]})
    assert table_digest(base) == table_digest(pa.table({"x": [1.0, 2.0], "s": ["a", "b"]}))
    assert table_digest(base) != table_digest(pa.table({"x": [1.0, 2.0000001], "s": ["a", "b"]}))
    assert table_digest(base) != table_digest(pa.table({"x": [1.0, None], "s": ["a", "b"]}))
    assert table_digest(base) != table_digest(pa.table({"x": [1.0, 2.0], "s": ["a", "c"]}))
