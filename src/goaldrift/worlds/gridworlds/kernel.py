"""The tampering gridworlds' part of each step of the run kernel (``worlds/hooks.py``).

Each gridworld module makes its bundle class with ``grid_world_bundle`` (the fields every
gridworld has, then its own) and supplies four rules as traits on it (``grid_reset``,
``grid_step``, ``grid_state``, ``grid_chance``). The world hooks below are shared by every
gridworld: episodes that end (terminated, or truncated at ``max_steps``) are counted in the
window where they end and the environment resets at once, so every step is an agent action;
a phase starts with a fresh episode, the one it interrupts dropped from the records.
Concepts: ``hidden`` (X, intended), ``observed`` (Y, register: the signal), then the world's
tamper event if it has one. The world draws from its own stream (``core.world_keys``), never
from the agent's.

The agent's state is a table index: its cell times the world's extra state bits
(docs/model.md, "Gridworld agents").
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
from numba import njit

from goaldrift.traits import TraitFunction, trait
from goaldrift.worlds import hooks

# The fields every gridworld bundle starts with; a world adds its own (``grid_world_bundle``).
# (One flat namedtuple per world: numba's parallel loop cannot take a tuple nested in a tuple.)
GRID_FIELDS = (
    "wkeys",  # (B,) uint64: the world's stream per run
    "wctr",  # (B,) int64: its counters
    "pos",  # (B,) int64: the agent's cell
    "aux",  # (B,) int64: the world's extra state (``grid_reset``)
    "lumps",  # (B, L) int64: movable objects' cells (rocks_diamonds; else L = 1, unused)
    "t",  # (B,) int64: steps into the episode
    "ep_obs",  # (B,) float64: the episode's observed return so far
    "ep_hid",  # (B,) float64: its hidden return so far
    "ep_tamp",  # (B,) int64: its tamper events so far
    "ep_chance",  # (B,) bool: tampering is possible in this episode
    "max_steps",  # steps per episode
    "fresh",  # a phase starts with this call: every environment starts a new episode
)

# per-window count columns
STEPS, EPISODES, OPP_EPISODES, TAMPER_EPISODES, TAMPER_STEPS = range(5)
N_COUNTS = 5
# per-window float sums: returns of the episodes that ended in the window, then per concept
# the sum of its per-step values
OBS_RETURN, HID_RETURN = range(2)
N_FIXED_SUMS = 2
HIDDEN, OBSERVED, EVENT = 0, 1, 2  # concept indices


def grid_world_bundle(name: str, fields: list[str], module: str, event: bool) -> type:
    """The bundle class of one gridworld: ``GRID_FIELDS`` and then its own ``fields`` (its
    rules' tables and settings), with the world hooks below registered for it; ``event``: the
    world has a tamper concept after hidden and observed. ``module`` must hold the class
    under ``name`` (numba's disk cache finds it there)."""
    cls = namedtuple(name, [*GRID_FIELDS, *fields], module=module)  # type: ignore[misc]
    for hook, impl in _HOOKS:
        hook.register(cls)(impl)
    hooks.world_respond.register(cls)(_respond_event if event else _respond)
    return cls


@trait
def grid_reset(world, r, wctr):
    """A new episode of run ``r``: (cell, aux, world counter); may set ``world.lumps[r]``."""


@trait
def grid_step(world, r, wctr, p, aux, a):
    """(cell, aux, world counter, observed, hidden, tamper event, terminated) of action ``a``."""


@trait
def grid_state(world, r, p, aux):
    """The agent's table index of a world state.

    (Per-run arrays are read in place, ``world.lumps[r]``, never bound to a variable: that
    costs two reference counts per step.)"""


@trait
def grid_chance(world, aux):
    """Whether the episode that starts in ``aux`` gives a chance to tamper."""


@njit(inline="always")
def _new_episode(world, r, wk):
    """(cell, aux, world counter, episode step, returns, tampers, chance) of a new episode."""
    p, ax, wk = grid_reset(world, r, wk)
    return p, ax, wk, np.int64(0), 0.0, 0.0, np.int64(0), grid_chance(world, ax)


def _open(world, r):
    p, ax, wk = world.pos[r], world.aux[r], world.wctr[r]
    tt, e_obs, e_hid = world.t[r], world.ep_obs[r], world.ep_hid[r]
    e_tamp, e_chance = world.ep_tamp[r], world.ep_chance[r]
    if world.fresh:
        p, ax, wk, tt, e_obs, e_hid, e_tamp, e_chance = _new_episode(world, r, wk)
    # (cell, aux, world counter, episode step, episode returns and tampers, its chance,
    #  then the last step's observed, hidden, tamper event, terminated, truncated)
    return (p, ax, wk, tt, e_obs, e_hid, e_tamp, e_chance, 0.0, 0.0, False, False, False)


def _observe(world, r, ws, key, k):
    return grid_state(world, r, ws[0], ws[1]), ws, k


@njit(inline="always")
def _move(world, r, ws, a):
    p, ax, wk, tt, e_obs, e_hid, e_tamp, e_chance = ws[:8]
    p, ax, wk, obs, hid, ev, term = grid_step(world, r, wk, p, ax, a)
    tt += 1
    trunc = (not term) and tt >= world.max_steps
    s2 = grid_state(world, r, p, ax)
    ws = (p, ax, wk, tt, e_obs, e_hid, e_tamp, e_chance, obs, hid, ev, term, trunc)
    return s2, np.float32(hid), np.float32(obs), ev, term, ws


def _respond(world, r, ws, s, a, key, k):  # hidden, observed
    s2, hid, obs, ev, term, ws = _move(world, r, ws, a)
    return s2, (hid, obs), obs, term, ev, ws, k


def _respond_event(world, r, ws, s, a, key, k):  # hidden, observed, the tamper event
    s2, hid, obs, ev, term, ws = _move(world, r, ws, a)
    e = np.float32(1.0) if ev else np.float32(0.0)
    return s2, (hid, obs, e), obs, term, ev, ws, k


def _window_open(world, sums):
    for c in range(sums.shape[0]):
        sums[c] = 0.0
    z = np.int64(0)
    # episodes, with a chance to tamper, their tamper events, tamper steps, returns
    return z, z, z, z, 0.0, 0.0


def _tally(world, r, ws, acc, sums, phi):
    p, ax, wk, tt, e_obs, e_hid, e_tamp, e_chance, obs, hid, ev, term, trunc = ws
    n_ep, n_opp, n_tamp_ep, n_tamp, s_oret, s_hret = acc
    e_obs += obs
    e_hid += hid
    for c in range(len(phi)):
        sums[c] += phi[c]
    if ev:
        e_tamp += 1
        n_tamp += 1
    if term or trunc:
        n_ep += 1
        s_oret += e_obs
        s_hret += e_hid
        if e_chance:
            n_opp += 1
            n_tamp_ep += e_tamp
        p, ax, wk, tt, e_obs, e_hid, e_tamp, e_chance = _new_episode(world, r, wk)
    ws = (p, ax, wk, tt, e_obs, e_hid, e_tamp, e_chance, obs, hid, ev, term, trunc)
    return ws, (n_ep, n_opp, n_tamp_ep, n_tamp, s_oret, s_hret)


def _window_close(world, r, acc, sums, counts, window_sums, steps):
    n_ep, n_opp, n_tamp_ep, n_tamp, s_oret, s_hret = acc
    counts[STEPS] += steps
    counts[EPISODES] += n_ep
    counts[OPP_EPISODES] += n_opp
    counts[TAMPER_EPISODES] += n_tamp_ep
    counts[TAMPER_STEPS] += n_tamp
    window_sums[OBS_RETURN] += s_oret
    window_sums[HID_RETURN] += s_hret
    for c in range(sums.shape[0]):
        window_sums[N_FIXED_SUMS + c] += sums[c]


def _close(world, r, ws):
    p, ax, wk, tt, e_obs, e_hid, e_tamp, e_chance = ws[:8]
    world.pos[r] = p
    world.aux[r] = ax
    world.wctr[r] = wk
    world.t[r] = tt
    world.ep_obs[r] = e_obs
    world.ep_hid[r] = e_hid
    world.ep_tamp[r] = e_tamp
    world.ep_chance[r] = e_chance


def _feedback(world, r, ws, s, a):  # the gridworlds give no feedback of this kind
    nan = np.float32(np.nan)
    return nan, nan


_HOOKS: tuple[tuple[TraitFunction, Any], ...] = (
    (hooks.world_feedback, _feedback),
    (hooks.world_reward_setting, hooks.no_reward_setting),  # rocks_diamonds has its own
    (hooks.world_reward, hooks.no_reward),
    (hooks.world_open, _open),
    (hooks.world_observe, _observe),
    (hooks.world_window_open, _window_open),
    (hooks.world_tally, _tally),
    (hooks.world_window_close, _window_close),
    (hooks.world_close, _close),
)
