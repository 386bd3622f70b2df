"""What a world supplies to the run kernel: its part of each step, as traits on its bundle.

A world family packs its tables, settings and per-run state into one namedtuple bundle (the
``world`` argument of the kernel) and registers an implementation of each trait below for
that bundle's class (``goaldrift.traits``). The kernel (``experiments/runs/kernel.py``) calls
them in this order, per run and step:

    ws = world_open(world, r)                                     once per kernel call
    s, ws, k = world_observe(world, r, ws, key, k)                before the agent acts
    s2, phi, sig, term, tamper, ws, k = world_respond(world, r, ws, s, a, key, k)
    ws, acc = world_tally(world, r, ws, acc, sums, phi)           after the agent learned
    world_close(world, r, ws)                                     once per kernel call

and per sample window ``acc = world_window_open(world, sums)`` then
``world_window_close(world, r, acc, sums, counts, window_sums, steps)``.

``ws`` (the world's per-run scalars) and ``acc`` (its per-window counters) are tuples the
kernel passes through without looking inside; ``sums`` is a per-run float64 scratch array
of one slot per concept. ``key, k`` are the run's random stream and counter: a world that
draws from them returns the advanced counter. ``phi`` is the step's concept values, a tuple
with one entry per concept (``agents/values.py``: integers 0, 1 or 2 for undefined on a coded
world, float32 with NaN for undefined on a real-valued one); ``sig`` is the signal, of the
same kind (undefined: none); ``term`` says that the episode terminated (no bootstrap);
``tamper`` that the step tampered.

Worlds may also supply ``world_feedback``, and ``world_reward_setting`` with ``world_reward``,
which the mitigations of ``agents/mitigations`` read (a world without them runs every other
agent kind; the shared implementations report nothing).
"""

from __future__ import annotations

import numpy as np

from goaldrift.traits import trait


@trait
def world_open(world, r):
    """The run's world scalars at the start of a kernel call (a new episode if one starts)."""


@trait
def world_observe(world, r, ws, key, k):
    """(state index, ws, counter): what the agent sees before it acts."""


@trait
def world_respond(world, r, ws, s, a, key, k):
    """(next state index, concept values, signal, terminated, tampered, ws, counter) of
    action ``a``."""


@trait
def world_window_open(world, sums):
    """Zeroed per-window counters (and ``sums``)."""


@trait
def world_tally(world, r, ws, acc, sums, phi):
    """(ws, acc): count the step into the window; end and restart an episode that ended."""


@trait
def world_window_close(world, r, acc, sums, counts, window_sums, steps):
    """Add the window's counters to its rows of the records (``counts`` int64, ``window_sums``
    float64)."""


@trait
def world_close(world, r, ws):
    """Store the run's world scalars at the end of a kernel call."""


@trait
def world_feedback(world, r, ws, s, a):
    """(current, register): what the step just taken says of action ``a`` (the executed action
    or another one), as concept codes (``agents/values.py``): ``current``, the signal the
    reward function in force before the step gives ``a`` (the agent's own writes do not
    count; Everitt et al. 2021); ``register``, the signal the register gives ``a`` as it
    stands after the step (a write by the executed action counts). Undefined without a
    supervisor."""


@trait
def world_reward_setting(world, r, ws, s):
    """(theta, inputs) of the step just taken from state ``s``: the setting of the world's
    reward function in force before the step (an index below the spec's ``reward_settings``;
    -1: the world reports none) and the reward function's inputs in that step, which
    ``world_reward`` scores under any setting (current-RF optimisation, Everitt et al. 2021,
    section 4: the agent scores futures with the setting in force when it decides)."""


@trait
def world_reward(world, inputs, theta):
    """R(inputs; theta), float32: the reward of a step with ``inputs`` (from
    ``world_reward_setting``) under the reward function's setting ``theta``."""


def no_reward_setting(world, r, ws, s):
    """``world_reward_setting`` of a world that reports none."""
    return np.int64(-1), np.int64(0)


def no_reward(world, inputs, theta):
    """``world_reward`` of a world that reports no setting."""
    return np.float32(0.0)
