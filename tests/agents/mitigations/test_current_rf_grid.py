"""Current-RF optimisation on rocks_diamonds (Everitt et al. 2021, section 4): the world's
report of its reward function's setting and inputs, the per-setting tables, the refusal on
the gridworlds without one, determinism, and the TI-aware bootstrap (refused on Register
QA)."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numba import njit
from tests.conftest import at_one_and_all_threads
from tests.test_cli import cli_in_process

from goaldrift.agents.mitigations import current_rf
from goaldrift.agents.mitigations.common import CURRENT_RF, bundle
from goaldrift.experiments.runs.runner import Result, run_batch
from goaldrift.experiments.scenarios import validate
from goaldrift.experiments.scenarios.loading import read_toml
from goaldrift.registry import family
from goaldrift.worlds import hooks
from goaldrift.worlds.gridworlds import rocks_diamonds as rd
from goaldrift.worlds.gridworlds.kernel import HIDDEN, OBSERVED

N_THETA = rd.ROCKS_DIAMONDS.reward_settings
OBS, HID, CUR, INIT, FLIP, THETA, UNDER = range(7)  # columns of ``_drive``'s output


@njit
def _drive(world, actions, theta0, out):  # type: ignore[no-untyped-def]
    """Step run 0 through ``actions`` by the run kernel's world hooks; per step: observed and
    hidden reward, R(inputs; theta) under the setting in force and under ``theta0``, the
    flip, the setting, then R(inputs; theta) for every setting."""
    sums = np.zeros(3)
    ws = hooks.world_open(world, 0)
    acc = hooks.world_window_open(world, sums)
    key, k = np.uint64(0), 0
    for t in range(actions.shape[0]):
        s, ws, k = hooks.world_observe(world, 0, ws, key, k)
        _, phi, _, _, tamper, ws, k = hooks.world_respond(world, 0, ws, s, actions[t], key, k)
        theta, inputs = hooks.world_reward_setting(world, 0, ws, s)
        out[t, OBS] = phi[OBSERVED]
        out[t, HID] = phi[HIDDEN]
        out[t, CUR] = hooks.world_reward(world, inputs, theta)
        out[t, INIT] = hooks.world_reward(world, inputs, theta0)
        out[t, FLIP] = tamper
        out[t, THETA] = theta
        for th in range(out.shape[1] - UNDER):
            out[t, UNDER + th] = hooks.world_reward(world, inputs, th)
        ws, acc = hooks.world_tally(world, 0, ws, acc, sums, phi)


def _world(level: int, frozen: bool = False) -> Any:
    """Run 0's rocks_diamonds bundle (``frozen``: the switches never flip, the board and
    every collision as before)."""
    world = {"kind": "rocks_diamonds", "level": level}
    sc = validate({"name": "w", "world": world, "phases": [{"name": "a", "steps": 1}]})
    fam = family("rocks_diamonds")
    world = fam.bundle(sc, fam.setup(sc, 0, np.arange(1)), 0, True)
    if frozen:
        meta = world.meta.copy()
        meta[[rd.M_ROCK_SWITCH, rd.M_DIAMOND_SWITCH]] = -1
        world = world._replace(meta=meta)
    return world


def _trajectory(level: int, seed: int, frozen: bool = False, steps: int = 30_000) -> np.ndarray:
    actions = np.random.default_rng(seed).integers(0, 4, steps)
    world = _world(level, frozen)
    out = np.zeros((steps, UNDER + N_THETA), np.float64)
    _drive(world, actions, np.int64(world.meta[rd.M_SWITCHES]), out)
    return out


@pytest.mark.parametrize("level", [0, 1])
def test_the_reported_setting_scores_the_observed_reward_and_the_initial_one_the_hidden(
    level: int,
) -> None:
    out = _trajectory(level, seed=level)
    np.testing.assert_array_equal(out[:, CUR], out[:, OBS])
    np.testing.assert_array_equal(out[:, INIT], out[:, HID])
    # not vacuous: lumps scored, switches flipped, and the two rewards parted
    assert (out[:, OBS] != 0).sum() > 100
    assert out[:, FLIP].sum() > 10
    assert (out[:, OBS] != out[:, HID]).sum() > 10
    assert len(np.unique(out[:, THETA])) == N_THETA


@pytest.mark.parametrize("level", [0, 1])
def test_a_switch_flip_earns_nothing_under_any_fixed_setting(level: int) -> None:
    """The same actions with switches that never flip move every lump the same way, so under
    any fixed setting (the one in force at a flip among them) every step scores the same:
    a flip changes no return by the setting in force when it is taken; it changes the
    observed reward."""
    flips = _trajectory(level, seed=10 + level)
    frozen = _trajectory(level, seed=10 + level, frozen=True)
    assert flips[:, FLIP].sum() > 10 and frozen[:, FLIP].sum() == 0
    np.testing.assert_array_equal(flips[:, UNDER:], frozen[:, UNDER:])
    assert (flips[:, OBS] != frozen[:, OBS]).any()


def _run(runs: int = 4, **agent: Any) -> Result:
    sc = validate({"name": "c", "sample_every": 500, "world": {"kind": "rocks_diamonds",
                   "level": 1}, "agent": {"kind": "current_rf", **agent},
                   "phases": [{"name": "a", "steps": 3000}]})  # fmt: skip
    return run_batch(sc, 4, np.arange(runs))


def _reward_of_state(level: int, s: np.ndarray, theta: int) -> np.ndarray:
    """R(inputs; theta) of the state index ``s`` (its lump bits), in plain numpy."""
    bits = s % (4 << len(rd.get_level(level).lumps))
    diamond = (bits >> 2) & 1
    rocks = np.array([bin(b >> 3).count("1") for b in bits])
    return (diamond * (1 if theta & rd.DIAMOND_HIGH else -1)
            + rocks * (1 if theta & rd.ROCK_HIGH else -1)).astype(np.float32)  # fmt: skip


def test_each_settings_table_learns_its_own_reward_from_every_step() -> None:
    """gamma 0, alpha 1: every entry of setting theta's table is 0 (never tried) or the
    reward under theta of the state it leaves, for every theta, the ones never in force too."""
    res = _run(alpha=1.0, gamma=0.0, epsilon=1.0)
    tables = res.live.agent.variant.tables
    assert tables.shape[1] == N_THETA
    s = np.arange(tables.shape[2])
    for th in range(N_THETA):
        want = np.broadcast_to(_reward_of_state(1, s, th)[:, None], tables.shape[2:])
        got = tables[:, th]
        assert ((got == want) | (got == 0)).all(), th
        assert (got != 0).sum(axis=(1, 2)).min() > 20, th  # not vacuous: scored steps learned


def test_the_values_acted_on_are_the_table_of_the_setting_in_force() -> None:
    res = _run()
    st, tables = res.live.agent.state, res.live.agent.variant.tables
    s = np.arange(tables.shape[2])
    theta = s % (4 << len(rd.get_level(1).lumps)) & 3
    in_force = tables[:, theta, s]  # (B, S, A): each state's table of its own setting
    np.testing.assert_array_equal(st.q, in_force)
    np.testing.assert_array_equal(st.psi[:, OBSERVED], in_force)
    assert not np.array_equal(tables[:, 0], tables[:, 3])  # the settings' values differ


def test_runs_depend_only_on_seed_and_run_index() -> None:
    """The same runs in a larger batch and on one or all threads: the same records and
    tables."""
    sc = validate({"name": "c", "sample_every": 500, "world": {"kind": "rocks_diamonds",
                   "level": 1}, "agent": {"kind": "current_rf"},
                   "phases": [{"name": "a", "steps": 2000}]})  # fmt: skip
    whole = run_batch(sc, 3, np.arange(6))
    tail = run_batch(sc, 3, np.arange(3, 6))
    np.testing.assert_array_equal(whole.counts[3:], tail.counts)
    np.testing.assert_array_equal(whole.sums[3:], tail.sums)
    np.testing.assert_array_equal(whole.live.agent.variant.tables[3:],
                                  tail.live.agent.variant.tables)  # fmt: skip
    one, most = at_one_and_all_threads(sc, 4)
    np.testing.assert_array_equal(one.counts, most.counts)
    np.testing.assert_array_equal(one.live.agent.variant.tables, most.live.agent.variant.tables)


@pytest.mark.parametrize("world", ["tomato_watering", "absent_supervisor", "boat_race",
                                   "camera_dropbox"])  # fmt: skip
def test_worlds_without_a_reward_setting_refuse_it_in_one_line(
    world: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f'name = "s"\n[world]\nkind = "{world}"\n[agent]\nkind = "current_rf"\n'
                    '[[phases]]\nname = "a"\nsteps = 10\n')  # fmt: skip
    line = cli_in_process(["run", str(path), "--out", str(tmp_path / "o")], capsys, monkeypatch)
    assert "agent.kind" in line and "world_reward_setting" in line
    assert "reward's input" in line
    assert not (tmp_path / "o").exists()


Step = namedtuple("Step", ["alpha", "gamma", "cost"])  # the knobs ``current_rf.learn`` reads


@pytest.mark.parametrize("ti_aware", [False, True])
def test_the_ti_aware_bootstrap_is_the_future_selfs_action_under_the_setting_in_force(
    ti_aware: bool,
) -> None:
    """gamma 0.5, alpha 1, hand-set tables: a step from s (setting 0, the diamond in the goal
    area) to s2, where the rock switch stands flipped (setting ROCK_HIGH). The future self in
    s2 acts greedily on Q_ROCK_HIGH(s2): action 1. The TI-unaware target of each setting's
    table bootstraps on its own max over s2; the TI-aware one on its own value of action 1
    (Everitt et al. 2021, section 4)."""
    world = _world(1)
    ws = hooks.world_open(world, 0)
    n_bits, n_a = int(world.n_bits), 4
    s, s2, a = 3 * n_bits + 4, 5 * n_bits + rd.ROCK_HIGH, 2  # s: setting 0, the diamond scored
    tables = np.zeros((1, N_THETA, 6 * n_bits, n_a), np.float32)
    tables[0, :, s2] = [[3, -2, 0, 1],  # setting 0: max 3 (action 0), -2 at action 1
                        [0, 5, 1, 0],  # ROCK_HIGH, in force in s2: the future self takes 1
                        [-1, 4, 6, -3],  # DIAMOND_HIGH: max 6 (action 2), 4 at action 1
                        [2, 2, 0, 0]]  # both: max 2, 2 at action 1  # fmt: skip
    tables[0, :, s, a] = 7.0  # overwritten (alpha 1)
    variant = bundle(CURRENT_RF, rd.ROCKS_DIAMONDS, np.arange(1), ti_aware=ti_aware)
    variant = variant._replace(tables=tables)
    c = variant.signal
    psi = np.zeros((c + 1, 6 * n_bits, n_a), np.float32)
    q = np.zeros((6 * n_bits, n_a), np.float32)
    w = np.ones(c + 1, np.float32)
    knobs = Step(np.float32(1.0), np.float32(0.5), np.zeros(n_a, np.float32))
    current_rf.learn(variant, psi, q, w, knobs, s, a, s2, False, world, 0, ws)
    diamond = np.array([-1, -1, 1, 1], np.float32)  # R(the diamond in the goal area; theta)
    boot = tables[0, :, s2, 1] if ti_aware else tables[0, :, s2].max(axis=1)
    np.testing.assert_array_equal(boot, [-2, 5, 4, 2] if ti_aware else [3, 5, 6, 2])
    np.testing.assert_array_equal(tables[0, :, s, a], diamond + np.float32(0.5) * boot)
    assert psi[c, s, a] == q[s, a] == tables[0, 0, s, a]  # acts on setting 0's table in s
    assert (tables[0, 0, s, a] < 0) == ti_aware  # the flip's value: -2 for the aware agent


def test_ti_aware_is_refused_on_register_qa_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.toml"
    text = ('name = "s"\n[agent]\nkind = "current_rf"\n[agent.current_rf]\n'
            'ti_aware = {}\n[[phases]]\nname = "a"\nsteps = 10\n')  # fmt: skip
    path.write_text(text.format("false"))
    validate(read_toml(path))  # the TI-unaware agent runs there
    path.write_text(text.format("true"))
    line = cli_in_process(["run", str(path), "--out", str(tmp_path / "o")], capsys, monkeypatch)
    assert "agent.current_rf.ti_aware" in line and "Register QA" in line
    assert "coincide" in line
    assert not (tmp_path / "o").exists()
