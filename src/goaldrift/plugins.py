"""Pieces of one kind (world families, agent kinds): built in, from installed packages (an
entry-point group) and added at run time (tests, notebooks)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from typing import Any, Generic, TypeVar

T = TypeVar("T")


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


_generation = 0


def generation() -> int:
    """How many times pieces were added or removed at run time: what is built from the
    pieces (the scenario models) is cached per generation."""
    return _generation


class Pieces(Generic[T]):
    """The pieces of one kind by name: ``builtin()``, then the entry-point ``group``'s, then
    those added at run time (which starts a new ``generation``)."""

    def __init__(self, group: str, cls: Any, builtin: Callable[[], dict[str, T]]) -> None:
        self.group, self.cls, self.builtin = group, cls, builtin
        self.added: dict[str, T] = {}
        self._installed: dict[str, T] | None = None  # entry points: read once per process

    def all(self) -> dict[str, T]:
        found = self.builtin()
        if self._installed is None:
            self._installed = load(self.group, self.cls, set(found))
        found.update(self._installed)
        found.update(self.added)
        return found

    def add(self, name: str, piece: T) -> T:
        self.added[name] = piece
        self._changed()
        return piece

    def remove(self, name: str) -> None:
        del self.added[name]
        self._changed()

    @staticmethod
    def _changed() -> None:
        global _generation
        _generation += 1
