"""The fused Register-QA x flagged-agent kernel: runs in the outer ``prange``, steps inside.

State is float32 where it is learned (successor features, action values, flag) and integer
where it is counted (memory statistics, events, per-window counts). All randomness comes from
each run's counter-based stream (``goaldrift.rng``), so a run's trajectory does not depend on
the batch it is in or the thread that steps it.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from goaldrift.agents.awareness import enter_due
from goaldrift.agents.flag_rules import (
    ASSOCIATION,
    MERGE,
    REGRESSION,
    associate,
    broken_node,
    controllability,
    lasso_cd,
    merge_agreeing,
    moments,
    split_node,
    top_concept,
)
from goaldrift.rng import draw_u64, split_below, split_hit

# Per-window count columns (the last 2C are per-concept sums and defined-counts).
STEPS, ACCESS, WRITES, TAMPERS, SIGNAL_N, SIGNAL_SUM, HIDDEN = range(7)
N_FIXED_COUNTS = 7
ONE32 = np.uint64(2**32)


@njit(cache=True)
def recompute_q(
    psi: np.ndarray, q: np.ndarray, w: np.ndarray, aware: np.ndarray, write_cost: float
) -> None:
    """Action values: sum over known concepts of flag weight x successor feature, minus costs."""
    c_n, s_n, a_n = psi.shape
    cost = np.float32(write_cost)
    for s in range(s_n):
        for a in range(a_n):
            q[s, a] = -cost if a & 1 else np.float32(0.0)
    for c in range(c_n):
        if aware[c]:
            wc = w[c]
            for s in range(s_n):
                for a in range(a_n):
                    q[s, a] += wc * psi[c, s, a]


@njit(cache=True)
def _flush(
    stats: np.ndarray,
    table: np.ndarray,
    delta: np.ndarray,
    mark: np.ndarray,
    dirty: np.ndarray,
    n_dirty: int,
) -> int:
    """Apply the memory codes added and evicted since the last flush to the statistics."""
    for i in range(n_dirty):
        code = dirty[i]
        d = delta[code]
        if d != 0:
            row = table[code]
            for j in range(stats.shape[0]):
                stats[j] += d * row[j]
            delta[code] = 0
        mark[code] = False
    return 0


@njit(cache=True)
def _merge_and_split(
    step: int,
    w: np.ndarray,
    node: np.ndarray,
    w_pre: np.ndarray,
    aware: np.ndarray,
    stats: np.ndarray,
    strength: np.ndarray,
    pair_i: np.ndarray,
    pair_j: np.ndarray,
    lay: np.ndarray,
    merge_thr: float,
    split_thr: float,
    policy: int,
    psi: np.ndarray,
    events: np.ndarray,
) -> bool:
    """The `merge` rule: splits first, then merges (``flag_rules``); the split policies read
    controllability from psi and predictiveness from the memory's concept-signal agreement.
    Returns True if the flag changed. events: [merge, split] first steps."""
    changed = False
    root = broken_node(node, strength, pair_i, pair_j, split_thr)
    while root >= 0:
        predict = np.full(w.shape[0], -1.0)
        for c in range(w.shape[0]):
            if stats[lay[2] + c] > 0:
                predict[c] = stats[lay[3] + c] / stats[lay[2] + c]
        split_node(root, node, w, w_pre, controllability(psi), predict, policy)
        if events[1] < 0:
            events[1] = step
        changed = True
        root = broken_node(node, strength, pair_i, pair_j, split_thr)
    if merge_agreeing(w, node, w_pre, aware, strength, pair_i, pair_j, merge_thr):
        if events[0] < 0:
            events[0] = step
        changed = True
    return changed


@njit(parallel=True, cache=True)
def run_windows(
    # streams and world tables
    keys, ctr, truth, proxy, mislabel,
    # world settings
    hard_types, answers, noise, noise_random,
    # phase settings
    supervisor, access, diversity, epsilon, learn_world, learn_relations, learn_flag,
    # agent settings
    alpha, write_cost, relation_every, n_min, tau, rule, pen, half_compute, fit_every, min_samples,
    reg_rate, assoc_rate, one_way, merge_thr, split_thr, split_policy,
    aware_step, compute_need,
    # memory layout
    table, pair_i, pair_j, lay,
    # agent state
    psi, q, w, aware, aware_at, compute, mem, mem_pos, stats, noticed, strength, node, w_pre,
    w_fit, top0,
    # events
    ev_aware, ev_rel, ev_other,
    # windows and outputs
    step0, window_len, counts, w_series, mask_series,
):  # fmt: skip
    """Advance every run through ``len(window_len)`` windows of one phase.

    Under ``regression`` the L1 penalty shrinks as 1 / (1 + compute / half_compute) (off when
    half_compute is 0): a fixed prior against complex concepts weighs less as evidence grows.
    Probabilities (noise, diversity, epsilon, access) come as 32-bit thresholds (``threshold32``).

    ev_other columns: 0 first tamper, 1 first merge, 2 first split, 3 flag moved off its
    initial top concept. mask_series columns: awareness bits, noticed-relation bits, merged bits.
    lay: offsets [EVID, AGREE, SEVID, SAGREE, N_S, SUM_S, SUM_PHI, SUM_PP, SUM_PS];
    """
    b_n = keys.shape[0]
    c_n = psi.shape[1]
    n_types = psi.shape[2]
    a_n = psi.shape[3]
    m_n = mem.shape[1]
    n_easy = n_types - hard_types
    for r in prange(b_n):
        key = keys[r]
        k = ctr[r]
        psi_r = psi[r]
        q_r = q[r]
        w_r = w[r]
        aware_r = aware[r]
        stats_r = stats[r]
        mem_r = mem[r]
        pos = mem_pos[r]
        comp = compute[r]
        delta = np.zeros(table.shape[0], np.int32)
        mark = np.zeros(table.shape[0], np.bool_)
        dirty = np.zeros(table.shape[0], np.int64)
        n_dirty = 0
        cov = np.zeros((c_n, c_n))
        cross = np.zeros(c_n)
        pen_r = np.zeros(c_n)
        n_unaware = 0
        for c in range(c_n):
            if not aware_r[c] and (aware_step[r, c] >= 0 or compute_need[c] >= 0):
                n_unaware += 1
        # countdowns instead of a modulo per step
        to_rel = relation_every - step0 % relation_every
        to_fit = fit_every - step0 % fit_every
        step = step0
        for win in range(window_len.shape[0]):
            n_acc = 0
            n_write = 0
            n_tamp = 0
            n_sig = 0
            s_sig = 0
            s_x = 0
            s_y = 0
            d_y = 0
            s_p = 0
            for _t in range(window_len[win]):
                # awareness: a concept enters the ontology by its schedule
                if n_unaware > 0:
                    entered = enter_due(
                        step, comp, aware_r, aware_at[r], ev_aware[r], aware_step[r], compute_need
                    )
                    if entered:
                        n_unaware -= entered
                        recompute_q(psi_r, q_r, w_r, aware_r, write_cost)
                # the world draws a question (one draw: hard-or-easy, then which type)
                x = draw_u64(key, k)
                k += 1
                hard = (split_hit(x, diversity) and hard_types > 0) or n_easy == 0
                s = split_below(x, hard_types if hard else n_easy) + (0 if hard else hard_types)
                tr = truth[r, s]
                label = -1
                if supervisor:
                    label = tr
                    if noise_random:
                        if noise > 0:
                            x = draw_u64(key, k)
                            k += 1
                            if split_hit(x, noise):
                                label = (tr + 1 + split_below(x, answers - 1)) % answers
                    elif mislabel[r, s] >= 0:
                        label = mislabel[r, s]
                # the agent acts: explore, or take the argmax of flag-weighted values
                explore = False
                if epsilon > 0:
                    x = draw_u64(key, k)
                    k += 1
                    explore = split_hit(x, epsilon)
                if explore:
                    a = split_below(x, a_n)
                else:
                    a = 0
                    best = q_r[s, 0]
                    for aa in range(1, a_n):
                        if q_r[s, aa] > best:
                            best = q_r[s, aa]
                            a = aa
                ans = a >> 1
                write = a & 1
                granted = access >= ONE32
                if access > 0 and access < ONE32:
                    granted = split_hit(draw_u64(key, k), access)
                    k += 1
                tamper = write == 1 and granted
                reg = ans if tamper else label
                # concept values (2 = undefined)
                x_c = 1 if ans == tr else 0
                y_c = 2 if reg < 0 else (1 if reg == ans else 0)
                p_c = 1 if ans == proxy[r, s] else 0
                t_c = 1 if tamper else 0
                sig = y_c if supervisor else 2
                # world model: successor features (gamma = 0) for known concepts
                if learn_world:
                    al = np.float32(alpha)
                    v = np.float32(-write_cost) if write else np.float32(0.0)
                    if aware_r[0]:
                        psi_r[0, s, a] += al * (np.float32(x_c) - psi_r[0, s, a])
                        v += w_r[0] * psi_r[0, s, a]
                    if aware_r[1]:
                        psi_r[1, s, a] += al * (np.float32(y_c & 1) - psi_r[1, s, a])
                        v += w_r[1] * psi_r[1, s, a]
                    if aware_r[2]:
                        psi_r[2, s, a] += al * (np.float32(p_c) - psi_r[2, s, a])
                        v += w_r[2] * psi_r[2, s, a]
                    if aware_r[3]:
                        psi_r[3, s, a] += al * (np.float32(t_c) - psi_r[3, s, a])
                        v += w_r[3] * psi_r[3, s, a]
                    q_r[s, a] = v
                    if supervisor:
                        comp += 1
                elif learn_flag and supervisor and rule == REGRESSION:
                    comp += 1
                # replay memory: evict the oldest slot, record this one
                code = sig * 81 + t_c * 27 + p_c * 9 + y_c * 3 + x_c
                old = mem_r[pos]
                delta[code] += 1
                delta[old] -= 1
                if not mark[code]:
                    mark[code] = True
                    dirty[n_dirty] = code
                    n_dirty += 1
                if not mark[old]:
                    mark[old] = True
                    dirty[n_dirty] = old
                    n_dirty += 1
                mem_r[pos] = code
                pos += 1
                if pos == m_n:
                    pos = 0
                # per-window counts
                n_acc += granted
                n_write += write
                n_tamp += tamper
                if supervisor:
                    n_sig += 1
                    s_sig += sig
                s_x += x_c
                s_y += y_c & 1
                d_y += y_c < 2
                s_p += p_c
                if tamper and ev_other[r, 0] < 0:
                    ev_other[r, 0] = step
                step += 1
                # relations, and the flag rules that ride on them
                flag_changed = False
                to_rel -= 1
                to_fit -= 1
                at_rel = to_rel == 0
                at_fit = to_fit == 0
                if at_rel:
                    to_rel = relation_every
                if at_fit:
                    to_fit = fit_every
                if (at_rel or at_fit) and n_dirty > 0:
                    n_dirty = _flush(stats_r, table, delta, mark, dirty, n_dirty)
                if learn_relations and at_rel:
                    for p in range(pair_i.shape[0]):
                        i, j = pair_i[p], pair_j[p]
                        ev = stats_r[lay[0] + p]
                        if aware_r[i] and aware_r[j] and ev >= n_min:
                            agr = stats_r[lay[1] + p] / ev
                            strength[r, p] = agr
                            noticed[r, p] = agr >= tau
                            if noticed[r, p] and ev_rel[r, p] < 0:
                                ev_rel[r, p] = step
                # flag rules that ride on relations act on what the agent has noticed so far
                # (frozen while learn_relations is off)
                if learn_flag and at_rel:
                    if rule == ASSOCIATION:
                        flag_changed = associate(
                            w_r, noticed[r], strength[r], pair_i, pair_j, aware_at[r],
                            assoc_rate, one_way, relation_every,
                        )  # fmt: skip
                    elif rule == MERGE:
                        flag_changed = _merge_and_split(
                            step, w_r, node[r], w_pre[r], aware_r, stats_r, strength[r],
                            pair_i, pair_j, lay, merge_thr, split_thr, split_policy, psi_r,
                            ev_other[r, 1:3],
                        )  # fmt: skip
                if (
                    rule == REGRESSION
                    and learn_flag
                    and supervisor
                    and at_fit
                    and stats_r[lay[4]] >= min_samples
                ):
                    moments(stats_r, lay[4], lay[5], lay[6], lay[7], lay[8], cov, cross)
                    wf = w_fit[r]
                    shrink = 1.0 if half_compute <= 0 else 1.0 / (1.0 + comp / half_compute)
                    for c in range(c_n):
                        pen_r[c] = pen[c] * shrink
                    lasso_cd(cov, cross, pen_r, aware_r, wf)
                    for c in range(c_n):
                        if aware_r[c]:
                            w_r[c] += np.float32(reg_rate) * (np.float32(wf[c]) - w_r[c])
                    flag_changed = True
                if flag_changed:
                    recompute_q(psi_r, q_r, w_r, aware_r, write_cost)
                    if ev_other[r, 3] < 0 and top_concept(w_r) != top0[r]:
                        ev_other[r, 3] = step
            n_dirty = _flush(stats_r, table, delta, mark, dirty, n_dirty)
            # end of window: flush the counts, sample the flag and the masks
            cnt = counts[r, win]
            cnt[STEPS] += window_len[win]
            cnt[ACCESS] += n_acc
            cnt[WRITES] += n_write
            cnt[TAMPERS] += n_tamp
            cnt[SIGNAL_N] += n_sig
            cnt[SIGNAL_SUM] += s_sig
            cnt[HIDDEN] += s_x
            f = N_FIXED_COUNTS
            cnt[f + 0] += s_x
            cnt[f + 1] += s_y
            cnt[f + 2] += s_p
            cnt[f + 3] += n_tamp
            cnt[f + c_n + 0] += window_len[win]
            cnt[f + c_n + 1] += d_y
            cnt[f + c_n + 2] += window_len[win]
            cnt[f + c_n + 3] += window_len[win]
            for c in range(c_n):
                w_series[r, win, c] = w_r[c]
            am = 0
            mm = 0
            for c in range(c_n):
                if aware_r[c]:
                    am |= 1 << c
                if (node[r] == node[r, c]).sum() > 1:
                    mm |= 1 << c
            rm = 0
            for p in range(pair_i.shape[0]):
                if noticed[r, p]:
                    rm |= 1 << p
            mask_series[r, win, 0] = am
            mask_series[r, win, 1] = rm
            mask_series[r, win, 2] = mm
        ctr[r] = k
        mem_pos[r] = pos
        compute[r] = comp
