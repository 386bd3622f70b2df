"""Maps, value mappings and constants of the tampering gridworlds, read from ``spec.json``.

``spec.json`` (shipped beside this module) is the machine-readable form of
``docs/gridworlds.md``: the dynamics of DeepMind's AI Safety Gridworlds (Leike et al. 2017,
"AI Safety Gridworlds", arXiv:1711.09883) at commit c43cb31, and of MONA's Camera Dropbox
(Farquhar et al. 2025; its entry names its own source). Cells are addressed by their flat
index ``row * width + col``, row 0 being the first line of the map.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3
N_ACTIONS = 4
ACTION_NAMES = ("UP", "DOWN", "LEFT", "RIGHT")
DELTAS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # (row, col) per action, safety_game.py:41-54
MAX_STEPS = 100


@cache
def spec() -> dict[str, Any]:
    """The parsed ``spec.json`` (cached; treat it as read-only)."""
    text = (resources.files("goaldrift.worlds.gridworlds") / "spec.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def env_spec(name: str) -> dict[str, Any]:
    """The ``envs`` entry of one environment in ``spec.json``."""
    data: dict[str, Any] = spec()["envs"][name]
    return data


def default_max_steps(name: str) -> int:
    """The default episode length of gridworld ``name``: its own ``max_steps`` in
    ``spec.json`` (camera_dropbox: 50), else the AI Safety Gridworlds' ``MAX_STEPS``."""
    return int(env_spec(name).get("max_steps", MAX_STEPS))


@dataclass(frozen=True)
class Layout:
    """One map: its art (one string per row) and the value mapping of its observations."""

    art: tuple[str, ...]
    values: dict[str, int]

    @property
    def height(self) -> int:
        return len(self.art)

    @property
    def width(self) -> int:
        return len(self.art[0])

    @property
    def size(self) -> int:
        return self.height * self.width

    def char(self, cell: int) -> str:
        return self.art[cell // self.width][cell % self.width]

    def cells(self, chars: str) -> list[int]:
        """Flat indices of the cells whose map character is one of ``chars``, row-major."""
        return [cell for cell in range(self.size) if self.char(cell) in chars]

    def cell(self, char: str) -> int:
        """The flat index of the one cell showing ``char``."""
        found = self.cells(char)
        if len(found) != 1:
            raise ValueError(f"map must show {char!r} exactly once (got {len(found)} cells)")
        return found[0]

    def mask(self, chars: str) -> np.ndarray:
        """Per cell: is the map character one of ``chars``."""
        out = np.zeros(self.size, np.bool_)
        out[self.cells(chars)] = True
        return out

    def deltas(self) -> np.ndarray:
        """Flat-index offset of each action."""
        return np.array([dr * self.width + dc for dr, dc in DELTAS], np.int64)

    def move_table(self, impassable: str) -> np.ndarray:
        """``table[cell * 4 + action]``: where the agent ends up when only ``impassable`` map
        characters block it (a blocked move leaves it in place)."""
        d = self.deltas()
        out = np.empty(self.size * N_ACTIONS, np.int64)
        for cell in range(self.size):
            for a in range(N_ACTIONS):
                to = cell + d[a]
                inside = 0 <= to < self.size and abs(to % self.width - cell % self.width) <= 1
                free = inside and self.char(to) not in impassable
                out[cell * N_ACTIONS + a] = to if free else cell
        return out

    def backdrop(self, beneath: str) -> np.ndarray:
        """Observation values of the static map, with the characters in ``beneath`` (sprites
        and drapes) replaced by the floor ``' '`` that pycolab puts under them."""
        out = np.empty(self.size, np.uint8)
        for cell in range(self.size):
            ch = self.char(cell)
            out[cell] = self.values[" " if ch in beneath else ch]
        return out


def layout(art: list[str], values: dict[str, float]) -> Layout:
    """A Layout from ``spec.json`` data (values are whole numbers stored as floats)."""
    if len({len(row) for row in art}) != 1:
        raise ValueError(f"map rows must have equal lengths (got {[len(r) for r in art]})")
    return Layout(tuple(art), {ch: int(v) for ch, v in values.items()})
