"""HTML report (placeholder until the report module lands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_report(directory: Path) -> Path:
    raise NotImplementedError


def write_index(out: Path, entries: list[dict[str, Any]]) -> Path:
    raise NotImplementedError
