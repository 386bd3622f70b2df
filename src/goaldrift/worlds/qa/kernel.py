"""Register QA's part of each step of the run kernel (``worlds/hooks.py``).

Per step (docs/model.md, "One step of Register QA"): a question is drawn (a hard type with
probability ``diversity``) and, with a supervisor, a label written into the register (wrong
with probability ``noise`` under random noise, by the run's mislabel table under systematic
noise); after the agent answers, a register write works with probability ``access`` and
overwrites the label with the answer (a tamper). Concepts: ``correct`` (X), ``register_match``
(Y; undefined while the register holds nothing), ``proxy``, ``tampered``; the signal is Y
while a supervisor is present. An action is ``2 * answer + write``. All draws come from the
run's stream, in this order: question, noise (random noise only), [agent], access (only when
0 < access < 1).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from goaldrift.rng import draw_u64, split_below, split_hit
from goaldrift.worlds import hooks

QAWorld = namedtuple(
    "QAWorld",
    [
        "truth",  # (B, T) int32: the true answer per type
        "proxy",  # (B, T) int32: the cheap heuristic's answer per type
        "mislabel",  # (B, T) int32: the systematic wrong label per type (-1: labelled truly)
        "hard_types",  # the first ``hard_types`` types are hard
        "answers",  # answers per question
        "noise",  # label noise, a 32-bit threshold
        "noise_random",  # random (True) or systematic noise
        "supervisor",  # this phase: a supervisor writes labels (and so a signal)
        "access",  # this phase: register writes work with this 32-bit threshold
        "diversity",  # this phase: share of hard questions, a 32-bit threshold
    ],
)

# per-window count columns (then per concept its sum and its defined-count)
STEPS, ACCESS, WRITES, TAMPERS, SIGNAL_N, SIGNAL_SUM, HIDDEN = range(7)
N_FIXED_COUNTS = 7
X, Y, P, T = range(4)  # correct, register_match, proxy, tampered
ONE32 = np.uint64(2**32)


@hooks.world_open.register(QAWorld)
def _open(world, r):
    # (true answer, label, access granted, write, x, y, p, t, register after the step) of
    # the current step
    z = np.int64(0)
    return z, z, False, z, z, z, z, z, z


@hooks.world_observe.register(QAWorld)
def _observe(world, r, ws, key, k):
    hard_types = world.hard_types
    n_easy = world.truth.shape[1] - hard_types
    # one draw: hard or easy, then which type
    x = draw_u64(key, k)
    k += 1
    hard = (split_hit(x, world.diversity) and hard_types > 0) or n_easy == 0
    s = split_below(x, hard_types if hard else n_easy) + (0 if hard else hard_types)
    tr = np.int64(world.truth[r, s])
    label = np.int64(-1)
    if world.supervisor:
        label = tr
        if world.noise_random:
            if world.noise > 0:
                x = draw_u64(key, k)
                k += 1
                if split_hit(x, world.noise):
                    label = (tr + 1 + split_below(x, world.answers - 1)) % world.answers
        elif world.mislabel[r, s] >= 0:
            label = np.int64(world.mislabel[r, s])
    return s, (tr, label, ws[2], ws[3], ws[4], ws[5], ws[6], ws[7], ws[8]), k


@hooks.world_respond.register(QAWorld)
def _respond(world, r, ws, s, a, key, k):
    tr, label = ws[0], ws[1]
    ans = a >> 1
    write = a & 1
    access = world.access
    granted = access >= ONE32
    if access > 0 and access < ONE32:
        granted = split_hit(draw_u64(key, k), access)
        k += 1
    tamper = write == 1 and granted
    reg = ans if tamper else label
    # concept values (2 = undefined)
    x_c = 1 if ans == tr else 0
    y_c = 2 if reg < 0 else (1 if reg == ans else 0)
    p_c = 1 if ans == world.proxy[r, s] else 0
    t_c = 1 if tamper else 0
    phi = (np.int64(x_c), np.int64(y_c), np.int64(p_c), np.int64(t_c))  # in order X, Y, P, T
    sig = np.int64(y_c) if world.supervisor else np.int64(2)
    return s, phi, sig, True, tamper, (tr, label, granted, write, x_c, y_c, p_c, t_c, reg), k


@hooks.world_feedback.register(QAWorld)
def _feedback(world, r, ws, s, a):
    # statements, not conditional expressions: numba's IR checks warn on those when they
    # are inlined into the parallel loop
    label, reg = ws[1], ws[8]
    current = np.int64(2)
    through = np.int64(2)
    if world.supervisor:
        ans = a >> 1
        if label >= 0:
            current = np.int64(label == ans)
        if reg >= 0:
            through = np.int64(reg == ans)
    return current, through


# one step: ``world_feedback`` says what current-RF optimisation needs
hooks.world_reward_setting.register(QAWorld)(hooks.no_reward_setting)
hooks.world_reward.register(QAWorld)(hooks.no_reward)


@hooks.world_window_open.register(QAWorld)
def _window_open(world, sums):
    # access, writes, tampers, signal steps, signal sum, x, y, y defined, p
    return 0, 0, 0, 0, 0, 0, 0, 0, 0


@hooks.world_tally.register(QAWorld)
def _tally(world, r, ws, acc, sums, phi):
    _, _, granted, write, x_c, y_c, p_c, t_c, _ = ws
    n_acc, n_write, n_tamp, n_sig, s_sig, s_x, s_y, d_y, s_p = acc
    n_acc += granted
    n_write += write
    n_tamp += t_c
    if world.supervisor:
        n_sig += 1
        s_sig += y_c
    s_x += x_c
    s_y += y_c & 1
    d_y += y_c < 2
    s_p += p_c
    return ws, (n_acc, n_write, n_tamp, n_sig, s_sig, s_x, s_y, d_y, s_p)


@hooks.world_window_close.register(QAWorld)
def _window_close(world, r, acc, sums, counts, window_sums, steps):
    n_acc, n_write, n_tamp, n_sig, s_sig, s_x, s_y, d_y, s_p = acc
    counts[STEPS] += steps
    counts[ACCESS] += n_acc
    counts[WRITES] += n_write
    counts[TAMPERS] += n_tamp
    counts[SIGNAL_N] += n_sig
    counts[SIGNAL_SUM] += s_sig
    counts[HIDDEN] += s_x
    f = N_FIXED_COUNTS
    c_n = 4
    counts[f + X] += s_x
    counts[f + Y] += s_y
    counts[f + P] += s_p
    counts[f + T] += n_tamp
    counts[f + c_n + X] += steps
    counts[f + c_n + Y] += d_y
    counts[f + c_n + P] += steps
    counts[f + c_n + T] += steps


@hooks.world_close.register(QAWorld)
def _close(world, r, ws):
    pass
