"""The fused gridworld x agent kernel: runs in the outer ``prange``, steps inside.

One kernel serves the four tampering gridworlds and both gridworld agents. The world is a
compile-time-free integer switch over each world's scalar rule functions (``reset_one``,
``step_one`` of ``goaldrift.worlds.gridworlds``), so a run steps its environment and its agent
in the same loop, without a Python round trip per step.

The agent is the flagged world-model agent of MODEL.md 3 with a discount: per known concept c,
successor features learned by TD(0) toward the greedy next action under the current flag,

    psi_c(s, a) += alpha * (phi_c + gamma * (1 - terminal) * psi_c(s', a*) - psi_c(s, a)),
    a* = argmax_a Q(s', a),  Q = sum over known c of w_c * psi_c,

which, with one concept (the observed reward) carrying weight 1, is exactly tabular
Q-learning (Watkins 1989): that is how ``qlearning`` runs. A truncated episode bootstraps
(the time limit is not part of the state); a terminated one does not.

State is float32 where it is learned (successor features, action values, flag) and integer or
float64 where it is counted. The agent draws from each run's counter-based stream
(``goaldrift.rng``), the world from its own stream (``gridworlds.core.world_keys``), so a
run's trajectory does not depend on the batch it is in or the thread that steps it.
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
    split_node,
    top_concept,
)
from goaldrift.rng import draw_u64, split_below, split_hit
from goaldrift.worlds.gridworlds import absent_supervisor as _as
from goaldrift.worlds.gridworlds import boat_race as _br
from goaldrift.worlds.gridworlds import rocks_diamonds as _rd
from goaldrift.worlds.gridworlds import tomato_watering as _tw
from goaldrift.worlds.gridworlds.layout import N_ACTIONS

TOMATO, ABSENT, ROCKS, BOAT = 0, 1, 2, 3
WORLD_IDS = {
    "tomato_watering": TOMATO,
    "absent_supervisor": ABSENT,
    "rocks_diamonds": ROCKS,
    "boat_race": BOAT,
}
SIGNAL = 1  # the observed reward (concept 1) is the signal

# Per-window count columns.
STEPS, EPISODES, OPP_EPISODES, TAMPER_EPISODES, TAMPER_STEPS = range(5)
N_COUNTS = 5
# Per-window float sums: returns of the episodes that ended in the window, then per concept
# the sum of its per-step values.
OBS_RETURN, HID_RETURN = range(2)
N_FIXED_SUMS = 2
# ev_other columns (as Register QA's)
EV_TAMPER, EV_MERGE, EV_SPLIT, EV_FLAG_MOVED = range(4)
N_EVENTS_OTHER = 4


@njit(cache=True)
def world_reset(
    world: int,
    wkey: np.uint64,
    wctr: int,
    thr: np.uint64,
    mode: int,
    lumps_r: np.ndarray,
    init_lumps: np.ndarray,
    meta: np.ndarray,
) -> tuple[int, int, int]:
    """A new episode: (cell, aux, world counter). aux: tomato_watering's watered mask,
    absent_supervisor's supervisor bit, rocks_diamonds' switch bits, 0 in boat_race."""
    if world == TOMATO:
        p, m, c = _tw.reset_one(wkey, wctr, thr)
        return p, m, c
    if world == ABSENT:
        p, sup, c = _as.reset_one(wkey, wctr, mode)
        return p, 1 if sup else 0, c
    if world == ROCKS:
        for k in range(init_lumps.shape[0]):
            lumps_r[k] = init_lumps[k]
        return meta[_rd.M_START], meta[_rd.M_SWITCHES], wctr
    return _br.START, 0, wctr


@njit(cache=True)
def world_step(
    world: int,
    wkey: np.uint64,
    wctr: int,
    p: int,
    aux: int,
    lumps_r: np.ndarray,
    a: int,
    thr: np.uint64,
    flags: np.ndarray,
    meta: np.ndarray,
) -> tuple[int, int, int, float, float, bool, bool]:
    """One action: (cell, aux, world counter, observed, hidden, tamper event, terminated)."""
    if world == TOMATO:
        p2, m, c, o, h, on = _tw.step_one(wkey, wctr, p, aux, a, thr)
        return p2, m, c, o, h, on, False
    if world == ABSENT:
        p2, o, h, goal, ev = _as.step_one(p, aux == 1, a)
        return p2, aux, wctr, o, h, ev, goal
    if world == ROCKS:
        p2, sw, o, h, flip = _rd.step_one(p, aux, lumps_r, a, flags, meta)
        return p2, sw, wctr, o, h, flip, False
    p2, o, h = _br.step_one(p, a)
    return p2, aux, wctr, o, h, False, False


@njit(cache=True)
def state_index(
    world: int, p: int, aux: int, lumps_r: np.ndarray, flags: np.ndarray, n_bits: int
) -> int:
    """The agent's table index: its cell, times the world's extra state (docs/model.md):
    absent_supervisor's supervisor bit; rocks_diamonds' two switch bits and one bit per lump
    in the goal area (the quantities its rewards depend on)."""
    if world == ROCKS:
        bits = aux
        for k in range(lumps_r.shape[0]):
            if flags[lumps_r[k]] & _rd.GOAL:
                bits |= 4 << k
        return p * n_bits + bits
    return p * n_bits + (aux if n_bits > 1 else 0)


@njit(cache=True)
def greedy(q: np.ndarray, s: int) -> int:
    """The first action with the largest value."""
    a = 0
    best = q[s, 0]
    for aa in range(1, q.shape[1]):
        if q[s, aa] > best:
            best = q[s, aa]
            a = aa
    return a


@njit(cache=True)
def recompute_q(psi: np.ndarray, q: np.ndarray, w: np.ndarray, aware: np.ndarray) -> None:
    """Action values: sum over known concepts of flag weight x successor feature."""
    c_n, s_n, a_n = psi.shape
    for s in range(s_n):
        for a in range(a_n):
            q[s, a] = np.float32(0.0)
    for c in range(c_n):
        if aware[c]:
            wc = w[c]
            for s in range(s_n):
                for a in range(a_n):
                    q[s, a] += wc * psi[c, s, a]


@njit(cache=True)
def standardised_moments(
    mem: np.ndarray, n: int, cov: np.ndarray, cross: np.ndarray, sd: np.ndarray
) -> float:
    """Correlations among concepts and with the signal over the first ``n`` memory slots
    (two-pass, float64). Fills ``cov`` (correlation matrix; 0 rows for constant concepts),
    ``cross`` and ``sd``; returns the signal's standard deviation."""
    c_n = cross.shape[0]
    mean = np.zeros(c_n)
    for m in range(n):
        for c in range(c_n):
            mean[c] += mem[m, c]
    for c in range(c_n):
        mean[c] /= n
    raw = np.zeros((c_n, c_n))
    for m in range(n):
        for i in range(c_n):
            di = mem[m, i] - mean[i]
            for j in range(i, c_n):
                raw[i, j] += di * (mem[m, j] - mean[j])
    for i in range(c_n):
        for j in range(i, c_n):
            raw[i, j] /= n
            raw[j, i] = raw[i, j]
    for c in range(c_n):
        sd[c] = np.sqrt(raw[c, c]) if raw[c, c] > 1e-18 else 0.0
    sd_s = sd[SIGNAL]
    for i in range(c_n):
        cross[i] = raw[i, SIGNAL] / (sd[i] * sd_s) if sd[i] > 0.0 and sd_s > 0.0 else 0.0
        for j in range(c_n):
            cov[i, j] = raw[i, j] / (sd[i] * sd[j]) if sd[i] > 0.0 and sd[j] > 0.0 else 0.0
    return sd_s


@njit(cache=True)
def _predictive(mem: np.ndarray, n: int) -> np.ndarray:
    """Per concept: the share of remembered steps on which it equals the signal."""
    c_n = mem.shape[1]
    out = np.zeros(c_n)
    for m in range(n):
        for c in range(c_n):
            if mem[m, c] == mem[m, SIGNAL]:
                out[c] += 1.0
    for c in range(c_n):
        out[c] = out[c] / n if n > 0 else -1.0
    return out


@njit(cache=True)
def merge_and_split(
    step: int,
    w: np.ndarray,
    node: np.ndarray,
    w_pre: np.ndarray,
    aware: np.ndarray,
    strength: np.ndarray,
    pair_i: np.ndarray,
    pair_j: np.ndarray,
    merge_thr: float,
    split_thr: float,
    policy: int,
    psi: np.ndarray,
    mem: np.ndarray,
    n_mem: int,
    events: np.ndarray,
) -> bool:
    """The `merge` rule on relation strength, splits first, then merges, as in Register QA
    (``flag_rules``). events: [merge, split] first steps."""
    changed = False
    root = broken_node(node, strength, pair_i, pair_j, split_thr)
    while root >= 0:
        split_node(root, node, w, w_pre, controllability(psi), _predictive(mem, n_mem), policy)
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
    # world
    world, wkeys, wctr, thr, mode, max_steps, flags, meta, init_lumps, n_bits, has_tamper,
    # agent stream and phase settings
    keys, ctr, epsilon, learn_world, learn_relations, learn_flag, fresh,
    # agent settings
    alpha, gamma, relation_every, n_min, tau, rule, pen, half_compute, fit_every,
    min_samples, reg_rate, assoc_rate, one_way, merge_thr, split_thr, split_policy,
    aware_step, compute_need, pair_i, pair_j,
    # environment state
    pos, aux, lumps, t, ep_obs, ep_hid, ep_tamp, ep_opp,
    # agent state
    psi, q, w, aware, aware_at, compute, mem, mem_pos, mem_n, noticed, strength, w_fit,
    top0, node, w_pre,
    # events
    ev_aware, ev_rel, ev_other,
    # windows (the call's first is window w0 of the outputs) and outputs
    step0, w0, window_len, counts, sums, w_series, mask_series,
):  # fmt: skip
    """Advance every run through ``len(window_len)`` windows of one phase.

    ``fresh``: every environment starts a new episode first (a phase starts); the episode it
    was in is dropped from the records. An episode that ends (terminated or truncated) is
    counted in the window where it ends and the environment resets at once, so every step is
    an agent action. Tampering is *possible* in an episode when the world has a tamper
    concept and, in absent_supervisor, the supervisor is absent.

    Under ``regression`` the flag follows a lasso fit of the signal (the observed reward) on
    the known concepts, all standardised over the memory; the fit's coefficients are turned
    back into weights per unit of each concept. The L1 penalty shrinks as
    1 / (1 + compute / half_compute). Probabilities come as 32-bit thresholds (``threshold32``).
    """
    for r in prange(keys.shape[0]):
        _run_one(
            np.int64(r),
            # world
            world, wkeys, wctr, thr, mode, max_steps, flags, meta, init_lumps, n_bits, has_tamper,
            # agent stream and phase settings
            keys, ctr, epsilon, learn_world, learn_relations, learn_flag, fresh,
            # agent settings
            alpha, gamma, relation_every, n_min, tau, rule, pen, half_compute, fit_every,
            min_samples, reg_rate, assoc_rate, one_way, merge_thr, split_thr, split_policy,
    aware_step, compute_need, pair_i, pair_j,
            # environment state
            pos, aux, lumps, t, ep_obs, ep_hid, ep_tamp, ep_opp,
            # agent state
            psi, q, w, aware, aware_at, compute, mem, mem_pos, mem_n, noticed, strength, w_fit,
            top0, node, w_pre,
            # events
            ev_aware, ev_rel, ev_other,
            # windows (the call's first is window w0 of the outputs) and outputs
            step0, w0, window_len, counts, sums, w_series, mask_series,
        )  # fmt: skip


@njit(cache=True)
def _run_one(
    r,
    # world
    world, wkeys, wctr, thr, mode, max_steps, flags, meta, init_lumps, n_bits, has_tamper,
    # agent stream and phase settings
    keys, ctr, epsilon, learn_world, learn_relations, learn_flag, fresh,
    # agent settings
    alpha, gamma, relation_every, n_min, tau, rule, pen, half_compute, fit_every,
    min_samples, reg_rate, assoc_rate, one_way, merge_thr, split_thr, split_policy,
    aware_step, compute_need, pair_i, pair_j,
    # environment state
    pos, aux, lumps, t, ep_obs, ep_hid, ep_tamp, ep_opp,
    # agent state
    psi, q, w, aware, aware_at, compute, mem, mem_pos, mem_n, noticed, strength, w_fit,
    top0, node, w_pre,
    # events
    ev_aware, ev_rel, ev_other,
    # windows (the call's first is window w0 of the outputs) and outputs
    step0, w0, window_len, counts, sums, w_series, mask_series,
):  # fmt: skip
    """One run of ``run_windows`` (its own function: numba compiles it far faster than the
    same body inside the parallel loop)."""
    c_n = psi.shape[1]
    m_n = mem.shape[1]
    al = np.float32(alpha)
    ga = np.float32(gamma)
    key = keys[r]
    k = ctr[r]
    wkey = wkeys[r]
    wk = wctr[r]
    psi_r = psi[r]
    q_r = q[r]
    w_r = w[r]
    aware_r = aware[r]
    mem_r = mem[r]
    lumps_r = lumps[r]
    mp = mem_pos[r]
    mn = mem_n[r]
    comp = compute[r]
    p = pos[r]
    ax = aux[r]
    tt = t[r]
    e_obs = ep_obs[r]
    e_hid = ep_hid[r]
    e_tamp = ep_tamp[r]
    e_opp = ep_opp[r]
    if fresh:
        p, ax, wk = world_reset(world, wkey, wk, thr, mode, lumps_r, init_lumps, meta)
        tt = 0
        e_obs = 0.0
        e_hid = 0.0
        e_tamp = 0
        e_opp = has_tamper and not (world == ABSENT and ax == 1)
    phi = np.zeros(c_n, np.float32)
    s_phi = np.zeros(c_n)
    cov = np.zeros((c_n, c_n))
    cross = np.zeros(c_n)
    sd = np.zeros(c_n)
    pen_r = np.zeros(c_n)
    n_unaware = 0
    for c in range(c_n):
        if not aware_r[c] and (aware_step[r, c] >= 0 or compute_need[c] >= 0):
            n_unaware += 1
    to_rel = relation_every - step0 % relation_every
    to_fit = fit_every - step0 % fit_every
    step = step0
    for win in range(window_len.shape[0]):
        n_ep = 0
        n_opp = 0
        n_tamp_ep = 0
        n_tamp = 0
        s_oret = 0.0
        s_hret = 0.0
        for c in range(c_n):
            s_phi[c] = 0.0
        for _t in range(window_len[win]):
            # awareness: a concept enters the ontology by its schedule
            if n_unaware > 0:
                entered = enter_due(
                    step, comp, aware_r, aware_at[r], ev_aware[r], aware_step[r], compute_need
                )
                if entered:
                    n_unaware -= entered
                    recompute_q(psi_r, q_r, w_r, aware_r)
            # the agent acts: explore, or take the argmax of flag-weighted values
            s = state_index(world, p, ax, lumps_r, flags, n_bits)
            explore = False
            x = np.uint64(0)
            if epsilon > 0:
                x = draw_u64(key, k)
                k += 1
                explore = split_hit(x, epsilon)
            a = split_below(x, N_ACTIONS) if explore else greedy(q_r, s)
            # the world answers
            p2, ax2, wk, obs, hid, ev, term = world_step(
                world, wkey, wk, p, ax, lumps_r, a, thr, flags, meta
            )
            tt += 1
            trunc = (not term) and tt >= max_steps
            phi[0] = np.float32(hid)
            phi[1] = np.float32(obs)
            if c_n > 2:
                phi[2] = np.float32(1.0) if ev else np.float32(0.0)
            s2 = state_index(world, p2, ax2, lumps_r, flags, n_bits)
            # world model: TD(0) successor features toward the greedy next action
            if learn_world:
                a2 = greedy(q_r, s2)
                g = np.float32(0.0) if term else ga
                v = np.float32(0.0)
                for c in range(c_n):
                    if aware_r[c]:
                        old = psi_r[c, s, a]
                        psi_r[c, s, a] = old + al * (phi[c] + g * psi_r[c, s2, a2] - old)
                        v += w_r[c] * psi_r[c, s, a]
                q_r[s, a] = v
                comp += 1
            elif learn_flag and rule == REGRESSION:
                comp += 1
            # replay memory: the world-recorded values of every concept
            for c in range(c_n):
                mem_r[mp, c] = phi[c]
            mp += 1
            if mp == m_n:
                mp = 0
            if mn < m_n:
                mn += 1
            # records
            e_obs += obs
            e_hid += hid
            for c in range(c_n):
                s_phi[c] += phi[c]
            if ev:
                e_tamp += 1
                n_tamp += 1
                if ev_other[r, EV_TAMPER] < 0:
                    ev_other[r, EV_TAMPER] = step
            step += 1
            p = p2
            ax = ax2
            if term or trunc:
                n_ep += 1
                s_oret += e_obs
                s_hret += e_hid
                if e_opp:
                    n_opp += 1
                    n_tamp_ep += e_tamp
                p, ax, wk = world_reset(world, wkey, wk, thr, mode, lumps_r, init_lumps, meta)
                tt = 0
                e_obs = 0.0
                e_hid = 0.0
                e_tamp = 0
                e_opp = has_tamper and not (world == ABSENT and ax == 1)
            # relations, and the flag rules
            flag_changed = False
            to_rel -= 1
            to_fit -= 1
            at_rel = to_rel == 0
            at_fit = to_fit == 0
            if at_rel:
                to_rel = relation_every
            if at_fit:
                to_fit = fit_every
            if learn_relations and at_rel:
                for pp in range(pair_i.shape[0]):
                    i, j = pair_i[pp], pair_j[pp]
                    if aware_r[i] and aware_r[j] and mn >= n_min:
                        agree = 0
                        for m in range(mn):
                            if mem_r[m, i] == mem_r[m, j]:
                                agree += 1
                        agr = agree / mn
                        strength[r, pp] = agr
                        noticed[r, pp] = agr >= tau
                        if noticed[r, pp] and ev_rel[r, pp] < 0:
                            ev_rel[r, pp] = step
            # flag rules that ride on relations act on what the agent has noticed so far
            # (frozen while learn_relations is off), as in Register QA
            if learn_flag and at_rel:
                if rule == ASSOCIATION:
                    flag_changed = associate(
                        w_r, noticed[r], strength[r], pair_i, pair_j, aware_at[r],
                        assoc_rate, one_way, relation_every,
                    )  # fmt: skip
                elif rule == MERGE:
                    flag_changed = merge_and_split(
                        step, w_r, node[r], w_pre[r], aware_r, strength[r], pair_i, pair_j,
                        merge_thr, split_thr, split_policy, psi_r, mem_r, mn,
                        ev_other[r, EV_MERGE : EV_SPLIT + 1],
                    )  # fmt: skip
            if rule == REGRESSION and learn_flag and at_fit and mn >= min_samples:
                sd_s = standardised_moments(mem_r, mn, cov, cross, sd)
                if sd_s > 0.0:
                    wf = w_fit[r]
                    shrink = 1.0 if half_compute <= 0 else 1.0 / (1.0 + comp / half_compute)
                    for c in range(c_n):
                        pen_r[c] = pen[c] * shrink
                    lasso_cd(cov, cross, pen_r, aware_r, wf)
                    for c in range(c_n):
                        if aware_r[c]:
                            target = wf[c] * sd_s / sd[c] if sd[c] > 0.0 else 0.0
                            w_r[c] += np.float32(reg_rate) * (np.float32(target) - w_r[c])
                    flag_changed = True
            if flag_changed:
                recompute_q(psi_r, q_r, w_r, aware_r)
                if ev_other[r, EV_FLAG_MOVED] < 0 and top_concept(w_r) != top0[r]:
                    ev_other[r, EV_FLAG_MOVED] = step
        # end of window: the counts, the flag and the masks
        cnt = counts[r, w0 + win]
        cnt[STEPS] += window_len[win]
        cnt[EPISODES] += n_ep
        cnt[OPP_EPISODES] += n_opp
        cnt[TAMPER_EPISODES] += n_tamp_ep
        cnt[TAMPER_STEPS] += n_tamp
        sm = sums[r, w0 + win]
        sm[OBS_RETURN] += s_oret
        sm[HID_RETURN] += s_hret
        for c in range(c_n):
            sm[N_FIXED_SUMS + c] += s_phi[c]
            w_series[r, w0 + win, c] = w_r[c]
        am = 0
        for c in range(c_n):
            if aware_r[c]:
                am |= 1 << c
        rm = 0
        for pp in range(pair_i.shape[0]):
            if noticed[r, pp]:
                rm |= 1 << pp
        mm = 0
        for c in range(c_n):
            if (node[r] == node[r, c]).sum() > 1:
                mm |= 1 << c
        mask_series[r, w0 + win, 0] = am
        mask_series[r, w0 + win, 1] = rm
        mask_series[r, w0 + win, 2] = mm
    ctr[r] = k
    wctr[r] = wk
    pos[r] = p
    aux[r] = ax
    t[r] = tt
    ep_obs[r] = e_obs
    ep_hid[r] = e_hid
    ep_tamp[r] = e_tamp
    ep_opp[r] = e_opp
    mem_pos[r] = mp
    mem_n[r] = mn
    compute[r] = comp
