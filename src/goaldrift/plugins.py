"""Plugins from installed packages: objects registered under a Python entry-point group."""

from __future__ import annotations

from importlib import metadata
from typing import Any


def load(group: str, cls: Any, taken: set[str]) -> dict[str, Any]:
    """The ``cls`` instances registered under ``group``, by entry-point name, skipping names
    in ``taken`` and plugins that fail to load (a broken plugin must not break goaldrift)."""
    found: dict[str, Any] = {}
    for ep in metadata.entry_points(group=group):
        if ep.name in taken:
            continue
        try:
            obj = ep.load()
        except Exception:
            continue
        if isinstance(obj, cls):
            found[ep.name] = obj
    return found
