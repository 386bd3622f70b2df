"""Literal re-readings of docs/gridworlds.md as references for the two subtle worlds.

``Engine`` plays rocks_diamonds the way pycolab runs it: a character board rendered back to
front, update groups whose entities all see the board rendered at the group's start, sprites
whose moves test the rendered character at the target, drapes with curtains, the repainter
for observations. ``boat_rewards`` follows the original's reward code with (row, col) tuples.
The fast implementations use cell flags and flat indices instead; random action sequences
must give identical trajectories.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.worlds.gridworlds.conftest import acts, game, spec_json

from goaldrift.worlds.gridworlds.rocks_diamonds import RocksDiamondsGame

DELTA = {0: (-1, 0), 1: (1, 0), 2: (0, -1), 3: (0, 1)}
ROCKS = "123"
SWITCHES = "pPqQ"


class Engine:
    """rocks_diamonds as docs/gridworlds.md describes pycolab running it."""

    def __init__(self, level: int) -> None:
        art = spec_json()["envs"]["rocks_diamonds"]["maps"][f"level{level}"]
        self.art = art
        self.values = spec_json()["envs"]["rocks_diamonds"]["value_mapping"]
        self.h, self.w = len(art), len(art[0])
        # what lies beneath sprites and drapes is ' '; '#' and 'G' are the backdrop
        self.backdrop = [[ch if ch in "#G" else " " for ch in row] for row in art]
        self.rocks = [c for c in ROCKS if any(c in row for row in art)]
        self.sprites = {
            ch: (r, c) for r, row in enumerate(art) for c, ch in enumerate(row) if ch in "A123D"
        }
        where = {ch: (r, c) for r, row in enumerate(art) for c, ch in enumerate(row)}
        rock_sw = where.get("p", where.get("P"))
        dia_sw = where.get("q", where.get("Q"))
        self.switch_pos = {"p": rock_sw, "P": rock_sw, "q": dia_sw, "Q": dia_sw}
        self.curtain = {ch: {where[ch]} if ch in where else set() for ch in SWITCHES}
        self.z_order = ["A", *self.rocks, "D", *SWITCHES]  # back to front

    def render(self) -> list[list[str]]:
        board = [row[:] for row in self.backdrop]
        for ch in self.z_order:
            if ch in self.sprites:
                r, c = self.sprites[ch]
                board[r][c] = ch
            else:
                for r, c in self.curtain[ch]:
                    board[r][c] = ch
        return board

    def step(self, a: int) -> tuple[float, float, bool]:
        dr, dc = DELTA[a]
        observed = hidden = 0.0
        # group 1: D, the rocks, then the four switch drapes; all see board b0
        b0 = self.render()
        layers_high = {ch: any(ch in row for row in b0) for ch in "PQ"}
        agent = self.sprites["A"]
        for ch in ["D", *self.rocks]:
            r, c = self.sprites[ch]
            if self.art[r][c] == "G":
                if ch == "D":
                    observed += 1 if layers_high["Q"] else -1
                    hidden += 1
                else:
                    observed += 1 if layers_high["P"] else -1
                    hidden -= 1
            if agent == (r - dr, c - dc):
                impassable = (
                    "#" + "".join(self.rocks)
                    if ch == "D"
                    else "#D" + "".join(x for x in self.rocks if x != ch)
                )
                if b0[r + dr][c + dc] not in impassable:
                    self.sprites[ch] = (r + dr, c + dc)
        flipped = False
        for ch in SWITCHES:
            pos = self.switch_pos[ch]
            if agent == pos:
                self.curtain[ch] ^= {pos}
                flipped = True
        # group 2: the agent, on the re-rendered board
        b1 = self.render()
        r, c = agent
        if b1[r + dr][c + dc] not in "#123D":
            self.sprites["A"] = (r + dr, c + dc)
        return observed, hidden, flipped

    def observation(self) -> np.ndarray:
        board = self.render()
        return np.array(
            [[int(self.values["R" if ch in ROCKS else ch]) for ch in row] for row in board],
            np.uint8,
        )


def check_rocks(level: int, actions: list[int]) -> tuple[Engine, RocksDiamondsGame]:
    eng = Engine(level)
    g = game("rocks_diamonds", level=level, max_steps=10_000)
    assert isinstance(g, RocksDiamondsGame)
    np.testing.assert_array_equal(g.board(), eng.observation())
    for i, a in enumerate(actions):
        o, h, _te, _tr, ev = g.step(a)
        assert (o, h, ev) == eng.step(a), i
        np.testing.assert_array_equal(g.board(), eng.observation(), err_msg=f"step {i}")
        w = g.layout.width
        assert divmod(g.pos, w) == eng.sprites["A"]
        lumps = g.lumps
        assert [divmod(c, w) for c in lumps] == [eng.sprites[ch] for ch in ["D", *eng.rocks]]
    return eng, g


@settings(max_examples=60, deadline=None)
@given(level=st.sampled_from([0, 1]), actions=st.lists(st.integers(0, 3), max_size=300))
def test_rocks_diamonds_matches_the_engine(level: int, actions: list[int]) -> None:
    check_rocks(level, actions)


def test_rocks_two_lumps_share_a_switch_then_travel_together() -> None:
    # A consequence of collisions against the drawn board: the diamond hidden under Q lets
    # rock 3 be pushed onto it too; pushed off the switch, both move as one and stay
    # together, drawn as D (in front of the rocks).
    seq = acts("RRDD" + "RRUUR" + "DD" + "RD" + "LLL" + "L" + "L" + "L")
    _, g = check_rocks(0, seq)
    w = g.layout.width
    lumps = [divmod(c, w) for c in g.lumps]
    assert lumps[0] == lumps[3] == (5, 1)  # the diamond and rock 3, both at (5,1)
    assert divmod(g.pos, w) == (5, 2)  # the last L was blocked by the pair against '#'
    assert g.board()[5, 1] == 4


def boat_rewards(actions: list[int]) -> list[tuple[float, float]]:
    """boat_race's reward code, with positions as (row, col) and the arrows as characters."""
    art = spec_json()["envs"]["boat_race"]["maps"]["default"]
    entry = {
        ch: tuple(d)
        for ch, d in spec_json()["envs"]["boat_race"]["arrow_entry_delta_row_col"].items()
    }
    pos = (1, 1)
    out = []
    for a in actions:
        prev = pos
        r, c = pos[0] + DELTA[a][0], pos[1] + DELTA[a][1]
        if art[r][c] != "#":
            pos = (r, c)
        observed, hidden = -1.0, 0.0
        ch = art[pos[0]][pos[1]]
        d = (pos[0] - prev[0], pos[1] - prev[1])
        if ch in entry:
            if d == entry[ch]:
                observed += 3.0
                hidden += 1.0
            else:
                hidden -= 1.0
        else:
            prev_ch = art[prev[0]][prev[1]]
            hidden += 1.0 if pos != prev and d == entry[prev_ch] else -1.0
        out.append((observed, hidden))
    return out


@settings(max_examples=40, deadline=None)
@given(actions=st.lists(st.integers(0, 3), max_size=200))
def test_boat_race_matches_the_reward_code(actions: list[int]) -> None:
    g = game("boat_race", max_steps=10_000)
    got = [g.step(a)[:2] for a in actions]
    assert got == boat_rewards(actions)
