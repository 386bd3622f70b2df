"""Shared fixtures: small scenarios that compile and run in seconds."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def tiny(**over: Any) -> dict[str, Any]:
    """Raw data of a small valid scenario; keyword arguments replace top-level keys."""
    data: dict[str, Any] = {
        "name": "tiny",
        "runs": 4,
        "sample_every": 100,
        "world": {"types": 8, "answers": 4, "hard_types": 4, "diversity": 0.5},
        "agent": {"flag_rule": "anchored"},
        "phases": [{"name": "train", "steps": 1000}],
    }
    data.update(over)
    return data


@pytest.fixture
def tiny_data() -> dict[str, Any]:
    return tiny()
