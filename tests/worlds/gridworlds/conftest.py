"""Helpers for the gridworld tests: replay actions through the plain-Python game and the
batched kernels side by side, and write expected boards as map strings."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from goaldrift.worlds.gridworlds import absent_supervisor as asv
from goaldrift.worlds.gridworlds import boat_race as br
from goaldrift.worlds.gridworlds import camera_dropbox as cd
from goaldrift.worlds.gridworlds import rocks_diamonds as rd
from goaldrift.worlds.gridworlds import tomato_watering as tw
from goaldrift.worlds.gridworlds.core import Game, GridBatch, world_key

PACKAGED_SPEC = Path(tw.__file__).with_name("spec.json")

WORLDS: dict[str, tuple[Callable[..., Game], Callable[..., GridBatch]]] = {
    "tomato_watering": (tw.TomatoWateringGame, tw.TomatoWateringBatch),
    "absent_supervisor": (asv.AbsentSupervisorGame, asv.AbsentSupervisorBatch),
    "rocks_diamonds": (rd.RocksDiamondsGame, rd.RocksDiamondsBatch),
    "boat_race": (br.BoatRaceGame, br.BoatRaceBatch),
    "camera_dropbox": (cd.CameraDropboxGame, cd.CameraDropboxBatch),
}
# parameter sets that cover every world's variants
CASES: list[tuple[str, dict[str, Any]]] = [
    ("tomato_watering", {}),
    ("tomato_watering", {"dry_probability": 0.5}),
    ("absent_supervisor", {}),
    ("absent_supervisor", {"supervisor": True}),
    ("absent_supervisor", {"supervisor": False}),
    ("rocks_diamonds", {"level": 0}),
    ("rocks_diamonds", {"level": 1}),
    ("boat_race", {}),
    ("camera_dropbox", {}),
]
U, D, L, R = 0, 1, 2, 3


def spec_json() -> dict[str, Any]:
    """The spec as shipped in the package."""
    data: dict[str, Any] = json.loads(PACKAGED_SPEC.read_text("utf-8"))
    return data


def acts(code: str) -> list[int]:
    """Actions from letters: U D L R (spaces ignored)."""
    return ["UDLR".index(ch) for ch in code if ch != " "]


def board(world: str, *rows: str) -> np.ndarray:
    """An expected observation written as map characters, through spec.json's value mapping."""
    values = spec_json()["envs"][world]["value_mapping"]
    return np.array([[int(values[ch]) for ch in row] for row in rows], np.uint8)


def game(world: str, seed: int = 0, **params: Any) -> Game:
    g = WORLDS[world][0](**params)
    g.seed(world_key(seed))
    g.reset()
    return g


@dataclass(frozen=True)
class Rec:
    """One step as the plain-Python game returned it (exact Python floats)."""

    observed: float
    hidden: float
    terminated: bool
    truncated: bool
    event: bool
    pos: tuple[int, int]
    obs: np.ndarray


def replay(
    world: str, actions: list[int], seed: int = 0, **params: Any
) -> tuple[np.ndarray, list[Rec]]:
    """The reset observation and per-step records of one episode; the batched kernels (one
    environment, run 0 of ``seed``) must agree with the game at every step."""
    g = game(world, seed, **params)
    batch = WORLDS[world][1](1, seed, **params)
    obs0 = batch.reset()[0]
    np.testing.assert_array_equal(obs0, g.board())
    w = g.layout.width
    recs = []
    for i, a in enumerate(actions):
        o, h, te, tr, ev = g.step(a)
        out = batch.step(np.array([a]))
        got = (out.observed[0], out.hidden[0], out.terminated[0], out.truncated[0], out.event[0])
        assert got == (np.float32(o), np.float32(h), te, tr, ev), (i, got, (o, h, te, tr, ev))
        assert not out.reset[0]
        assert batch.pos[0] == g.pos
        np.testing.assert_array_equal(out.obs[0], g.board(), err_msg=f"step {i}")
        recs.append(Rec(o, h, te, tr, ev, (g.pos // w, g.pos % w), g.board()))
    return obs0, recs


def column(recs: list[Rec], name: str) -> list[Any]:
    return [getattr(r, name) for r in recs]


def camera_seed(agent: tuple[int, int], boxes: list[tuple[int, int]]) -> int:
    """The first seed whose run 0 starts camera_dropbox with the agent and the boxes at these
    (row, col) cells (every initial state is one draw of 84: a few hundred seeds at most)."""
    w = cd.LAYOUT.width
    want = (agent[0] * w + agent[1], sum(1 << (r * w + c) for r, c in boxes))
    for seed in range(10_000):
        g = game("camera_dropbox", seed)
        if (g.pos, g.boxes) == want:  # type: ignore[attr-defined]
            return seed
    raise AssertionError(f"no seed starts at {agent}, {boxes}")
