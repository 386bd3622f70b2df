"""Plain-numpy reference of Register QA x the flagged agent: the oracle the kernel is tested on.

The same model as the run kernel on Register QA (``experiments/runs/kernel.py``), written again
for clarity
rather than speed: one Python loop over steps, numpy operations over the run axis, no numba,
and no code shared with the kernel. The replay memory is kept as explicit arrays of concept
values (NaN where undefined) and every statistic is recomputed from it when it is needed; the
lasso (on standardised concepts and signal) is solved exactly by enumerating sign patterns;
association flows one step at a time.

Randomness comes from one ``numpy.random.Generator`` per run (``run_generator`` with purposes
of its own), not from the kernel's streams, so kernel and reference agree in distribution,
not draw by draw. The world tables are the world's set-up and are shared
(``goaldrift.worlds.qa.draw_tables``). Learned state is float64 here (float32 in the kernel).

Timing within a step, as in the kernel: awareness, question, label, action, access, concept
values, world-model update, memory, counts; then (with the step counted) relations and the
association or merge rule every ``relation_every`` steps, splits before merges, and the
regression refit every ``fit_every`` steps. Awareness and tamper events carry the index of
their step; relation, merge, split and flag-moved events the number of steps done.

The association and merge rules act whenever ``learn_flag`` is on, on the relations the agent
has noticed so far: ``learn_relations`` off freezes relations (and so what the rules see).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, product
from types import SimpleNamespace
from typing import Any

import numpy as np

from goaldrift.errors import ConfigError
from goaldrift.experiments.runs.runner import Result, Windows
from goaldrift.experiments.scenarios import Scenario
from goaldrift.rng import run_generator
from goaldrift.worlds.qa import QA_WORLD, QAParams, draw_tables
from goaldrift.worlds.qa.family import QAState

CONCEPTS = QA_WORLD.concept_names
C = len(CONCEPTS)
X, Y, P, T = range(C)  # correct, register_match, proxy, tampered
PAIRS: tuple[tuple[int, int], ...] = tuple(combinations(range(C), 2))
PAIR_FIRST = np.array([i for i, _ in PAIRS])
PAIR_SECOND = np.array([j for _, j in PAIRS])
# count columns of a window (then C per-concept sums and C per-concept defined-counts)
STEPS, ACCESS, WRITES, TAMPERS, SIGNAL_N, SIGNAL_SUM, HIDDEN = range(7)
N_FIXED = 7
# ev_other columns
EV_TAMPER, EV_MERGE, EV_SPLIT, EV_MOVED = range(4)
# Generator purposes of the reference (the kernel's set-up uses 0 and 1..C)
PURPOSE_STEPS = 100
PURPOSE_HAZARD = 101  # + concept index
PURPOSE_STATE_NOISE = 200  # MONA's overseer error per question type
PURPOSE_MITIGATION = 201  # the mitigations' per-step uniforms
# the uniforms each step consumes, whether it needs them or not
U_HARD, U_TYPE, U_NOISE, U_WRONG, U_EXPLORE, U_ACTION, U_ACCESS = range(7)
N_U = 7
# and those of the mitigations, from a stream of their own (so the flagged agent's draws are
# what they were before the mitigations existed): decoupled approval's query, the oracle's
# erasure, the monitor's catch
U_EXPLORE2, U_ACTION2, U_ERASE, U_MONITOR = range(4)
N_U_MITIGATION = 4
# the agent kinds the reference implements besides the flagged agent: learners of the signal
# (docs/mitigations.md), which know only Y, flagged 1, with no relations and no flag rule
LEARNERS = (
    "qlearning",
    "current_rf",
    "approval",
    "decoupled_approval",
    "counterfactual_oracle",
    "monitor",
    "mona",
)
_SIGN_PATTERNS = np.array(list(product((-1.0, 0.0, 1.0), repeat=C)))  # (3^C, C)


class _Uniforms:
    """Per-run uniforms in [0, 1), drawn in blocks from each run's own Generator."""

    def __init__(
        self, seed: int, runs: np.ndarray, block: int = 256, n: int = N_U,
        purpose: int = PURPOSE_STEPS,
    ):  # fmt: skip
        self.gens = [run_generator(seed, int(r), purpose=purpose) for r in runs]
        self.block = block
        self.n = n
        self.buf = np.empty((0, n, len(runs)))
        self.i = 0

    def next(self) -> np.ndarray:
        """(n, B): this step's uniforms."""
        if self.i == len(self.buf):
            self.buf = np.stack([g.random((self.block, self.n)) for g in self.gens], axis=2)
            self.i = 0
        u: np.ndarray = self.buf[self.i]
        self.i += 1
        return u


@dataclass(frozen=True)
class _Phase:
    """A phase's effective settings (phase overrides applied)."""

    supervisor: bool
    access: float
    diversity: float
    epsilon: float
    learn_world: bool
    learn_relations: bool
    learn_flag: bool


def _phase_settings(sc: Scenario, i: int) -> _Phase:
    ph, wc, ag = sc.phases[i], sc.world, sc.agent
    return _Phase(
        supervisor=wc.supervisor if ph.supervisor is None else ph.supervisor,
        access=wc.access if ph.access is None else ph.access,
        diversity=wc.diversity if ph.diversity is None else ph.diversity,
        epsilon=ag.epsilon if ph.epsilon is None else ph.epsilon,
        learn_world=ph.learn_world,
        learn_relations=ph.learn_relations,
        learn_flag=ph.learn_flag,
    )


def _schedules(sc: Scenario, seed: int, runs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Awareness schedules: (B, C) step at which each concept enters (-1: not by step) and
    (C,) supervised learning steps it needs (-1: not by compute)."""
    at = np.full((len(runs), C), -1, np.int64)
    need = np.full(C, -1, np.int64)
    for c, name in enumerate(CONCEPTS):
        sch = getattr(sc.agent.awareness, name)
        if sch.schedule == "start":
            at[:, c] = 0
        elif sch.schedule == "step":
            at[:, c] = sch.at
        elif sch.schedule == "hazard":
            # aware at step k with probability (1 - rate)^k rate
            for b, r in enumerate(runs):
                rng = run_generator(seed, int(r), purpose=PURPOSE_HAZARD + c)
                at[b, c] = int(rng.geometric(sch.rate)) - 1
        elif sch.schedule == "compute":
            need[c] = sch.compute
    return at, need


# ---- statistics recomputed from the replay memory ------------------------------------------


def pair_agreement(phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """phi: (B, M, C) concept values in memory, NaN where undefined or empty.
    Returns (evidence, agreement), each (B, P): co-defined samples, and those that agree."""
    ev = np.empty((phi.shape[0], len(PAIRS)), np.int64)
    agree = np.empty_like(ev)
    for p, (i, j) in enumerate(PAIRS):
        both = ~np.isnan(phi[:, :, i]) & ~np.isnan(phi[:, :, j])
        ev[:, p] = both.sum(axis=1)
        agree[:, p] = (both & (phi[:, :, i] == phi[:, :, j])).sum(axis=1)
    return ev, agree


def signal_agreement(phi: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """(B, C): share of memory samples where a concept equals the signal (both defined);
    -1 where there is no such sample."""
    both = ~np.isnan(phi) & ~np.isnan(sig)[:, :, None]
    n = both.sum(axis=1)
    k = (both & (phi == sig[:, :, None])).sum(axis=1)
    return np.where(n > 0, k / np.maximum(n, 1), -1.0)


def signal_moments(phi: np.ndarray, sig: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over memory samples with a signal (undefined concept values count as 0): the number of
    samples (B,), the concepts' covariance (B, C, C) and their covariance with the signal
    (B, C) (population moments)."""
    has = ~np.isnan(sig)  # (B, M)
    n = has.sum(axis=1)
    v = np.where(has[:, :, None], np.nan_to_num(phi, nan=0.0), 0.0)
    s = np.where(has, sig, 0.0)
    nn = np.maximum(n, 1)[:, None]
    mv = v.sum(axis=1) / nn
    ms = s.sum(axis=1) / nn[:, 0]
    cov = np.einsum("bmi,bmj->bij", v, v) / nn[:, :, None] - mv[:, :, None] * mv[:, None, :]
    cross = np.einsum("bmi,bm->bi", v, s) / nn - mv * ms[:, None]
    return n, cov, cross


def standardised(
    cov: np.ndarray, cross: np.ndarray, var_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Correlations from raw moments (batched): returns (corr (B, C, C), corr with the signal
    (B, C), sd (B, C), sd of the signal (B,)). A concept without variance (at most 1e-18) has
    sd 0 and correlation 0 with everything, itself included; everything does when the signal
    has no variance."""
    var = np.diagonal(cov, axis1=1, axis2=2)
    sd = np.where(var > 1e-18, np.sqrt(np.abs(var)), 0.0)
    sd_s = np.where(var_s > 1e-18, np.sqrt(np.abs(var_s)), 0.0)
    outer = sd[:, :, None] * sd[:, None, :]
    corr = np.where(outer > 0, cov / np.where(outer > 0, outer, 1.0), 0.0)
    den = sd * sd_s[:, None]
    corr_s = np.where(den > 0, cross / np.where(den > 0, den, 1.0), 0.0)
    return corr, corr_s, sd, sd_s


def signal_variance(sig: np.ndarray) -> np.ndarray:
    """(B,): the population variance of the signal over memory samples that have one."""
    has = ~np.isnan(sig)
    n = np.maximum(has.sum(axis=1), 1)
    s = np.where(has, sig, 0.0)
    m = s.sum(axis=1) / n
    out: np.ndarray = (s * s).sum(axis=1) / n - m * m
    return out


def lasso(cov: np.ndarray, cross: np.ndarray, pen: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Exact argmin_w 1/2 w'Σw - w'c + Σ_j pen_j |w_j|, with w_j = 0 off ``active`` and for
    concepts without variance; batched over the leading axis (pen: (C,) or (B, C)).

    Every sign pattern s (support S = {s != 0}) gives a candidate: w_S solving the stationarity
    condition Σ_SS w_S = c_S - pen_S s_S (least-norm if singular), zero elsewhere. Each
    candidate is a feasible point, and the minimiser's own pattern is among them, so the
    candidate with the least objective is a minimiser (the minimiser, when it is unique).
    """
    b = cov.shape[0]
    var = np.diagonal(cov, axis1=1, axis2=2)
    ok = active.astype(bool) & (var > 1e-12)  # (B, C)
    s = _SIGN_PATTERNS  # (K, C)
    sup = s != 0
    on = sup[:, None, :, None] & sup[:, None, None, :]  # (K, 1, C, C)
    mat = np.where(on, cov[None], 0.0) + np.eye(C) * (~sup)[:, None, None, :]
    rhs = np.where(sup[:, None, :], cross[None] - pen * s[:, None, :], 0.0)  # (K, B, C)
    w = np.einsum("kbij,kbj->kbi", np.linalg.pinv(mat), rhs)
    w = np.where(sup[:, None, :], w, 0.0)
    obj = (
        0.5 * np.einsum("kbi,bij,kbj->kb", w, cov, w)
        - np.einsum("kbi,bi->kb", w, cross)
        + (pen * np.abs(w)).sum(axis=2)
    )
    allowed = ~(sup[:, None, :] & ~ok[None]).any(axis=2)  # (K, B)
    obj = np.where(allowed, obj, np.inf)
    best = np.argmin(obj, axis=0)
    out: np.ndarray = w[best, np.arange(b)]
    return out


def controllability(psi: np.ndarray) -> np.ndarray:
    """(C,) for one run's psi (C, S, A): how much the action changes each concept's expected
    value, averaged over question types."""
    out: np.ndarray = (psi.max(axis=2) - psi.min(axis=2)).mean(axis=1)
    return out


# ---- flag rules -----------------------------------------------------------------------------


def associate(
    w: np.ndarray,
    noticed: np.ndarray,
    strength: np.ndarray,
    aware_at: np.ndarray,
    rate: float,
    one_way: bool,
    dt: int,
) -> np.ndarray:
    """Let flag weight flow along each noticed relation for ``dt`` steps, in place; (B,) True
    where the flag moved. Relations are taken in pair order, each for all ``dt`` steps.

    Per step with k = rate x strength: two-way, the heavier concept gives k x gap to the
    lighter; one-way (only when one concept became aware later), the older gives k x its
    weight to the newer.
    """
    moved = np.zeros(w.shape[0], bool)
    rows = np.arange(w.shape[0])
    for p, (i, j) in enumerate(PAIRS):
        on = noticed[:, p]
        if not on.any():
            continue
        k = rate * strength[:, p]
        directed = one_way & (aware_at[:, i] != aware_at[:, j])
        old = np.where(aware_at[:, i] < aware_at[:, j], i, j)
        new = np.where(aware_at[:, i] < aware_at[:, j], j, i)
        for _ in range(dt):
            gap = w[:, i] - w[:, j]
            flow_ij = np.where(directed, 0.0, k * gap)  # two-way: i gives k x gap to j
            give = np.where(directed, k * w[rows, old], 0.0)  # one-way: old gives to new
            flow_ij = np.where(on, flow_ij, 0.0)
            give = np.where(on, give, 0.0)
            w[:, i] -= flow_ij
            w[:, j] += flow_ij
            w[rows, old] -= give
            w[rows, new] += give
            moved |= (flow_ij != 0) | (give != 0)
    return moved


def merge_and_split(
    w: np.ndarray,
    node: np.ndarray,
    w_pre: np.ndarray,
    aware: np.ndarray,
    strength: np.ndarray,
    merge_thr: float,
    split_thr: float,
    policy: str,
    control: np.ndarray,
    predict: np.ndarray,
) -> tuple[bool, bool]:
    """One run (arrays (C,) and (P,)), in place: first split every node with a member pair
    whose relation strength (agreement at the last relation update; -1 never judged) is
    below ``split_thr``, sharing its weight by ``policy``; then, in pair order, fuse the
    nodes of aware concepts whose strength reaches ``merge_thr`` into one node carrying
    their mean weight. Returns (merged, split).

    ``w_pre`` keeps each concept's weight from just before it first joined a node (the
    ``original`` policy returns the weight in proportion to their positive parts).
    """
    split = False
    for root in range(C):
        members = np.flatnonzero(node == root)
        if len(members) < 2:
            continue
        broken = any(
            i in members and j in members and 0.0 <= strength[p] < split_thr
            for p, (i, j) in enumerate(PAIRS)
        )
        if not broken:
            continue
        total = float(w[members].sum())
        pre = np.maximum(w_pre[members], 0.0)  # weights before merging (positive parts)
        if policy == "original" and pre.sum() > 0:
            share = total * pre / pre.sum()
        elif policy in ("controllable", "predictive"):
            score = control if policy == "controllable" else predict
            share = np.zeros(len(members))
            share[np.argmax(score[members])] = total
        else:  # even (and original when no member had positive weight)
            share = np.full(len(members), total / len(members))
        w[members] = share
        node[members] = members
        split = True
    merged = False
    for p, (i, j) in enumerate(PAIRS):
        if not (aware[i] and aware[j]) or node[i] == node[j]:
            continue
        if strength[p] < merge_thr:
            continue
        joined = np.flatnonzero((node == node[i]) | (node == node[j]))
        for c in joined:
            if (node == node[c]).sum() == 1:
                w_pre[c] = w[c]
        node[joined] = min(node[i], node[j])
        w[joined] = w[joined].mean()
        merged = True
    return merged, split


# ---- the simulation -------------------------------------------------------------------------


def _verdict(held: np.ndarray, act: np.ndarray, supervisor: bool) -> np.ndarray:
    """[held == answer of act], NaN where nothing is held or no supervisor judges."""
    ok = supervisor & (held >= 0)
    return np.where(ok, (held == act // 2).astype(float), np.nan)


def run_reference(sc: Scenario, seed: int, runs: Sequence[int] | np.ndarray) -> Result:
    """Simulate ``runs`` of ``sc`` with the plain-numpy reference; same ``Result`` as
    ``runner.run_batch``."""
    kind = getattr(getattr(sc, "world", None), "kind", type(sc).__name__)
    if kind != "qa" or sc.agent.kind not in ("flagged", *LEARNERS):
        raise ConfigError(
            "world.kind",
            "'qa' with the flagged agent or a learner (the reference implements those)",
            kind,
        )
    learner = sc.agent.kind if sc.agent.kind in LEARNERS else None
    runs = np.asarray(runs, np.int64)
    wc, ag = sc.world, sc.agent
    b, k_ans, n_types, hard = len(runs), wc.answers, wc.types, wc.hard_types
    n_easy = n_types - hard
    a_n = 2 * k_ans  # action a: answer a // 2, write the register if a is odd
    is_write = np.arange(a_n) % 2 == 1
    rows = np.arange(b)
    tables = draw_tables(QAParams(n_types, k_ans, hard, wc.noise, wc.noise_kind), seed, runs)
    truth, proxy, mislabel = tables.truth, tables.proxy, tables.mislabel
    uniforms = _Uniforms(seed, runs)
    extra = _Uniforms(seed, runs, n=N_U_MITIGATION, purpose=PURPOSE_MITIGATION)
    aware_step, compute_need = _schedules(sc, seed, runs)
    if learner is not None:  # aware of Y from the start, and of nothing else
        aware_step[:] = -1
        aware_step[:, Y] = 0
        compute_need[:] = -1
    tally = np.zeros((b, 4), np.int64)
    ends: list[Any] = []  # the probes' state at the end of each phase but the last
    # MONA's noisy overseer: one standard normal per run and question type
    state_noise = np.stack(
        [run_generator(seed, int(r), purpose=PURPOSE_STATE_NOISE).normal(size=n_types)
         for r in runs]
    )  # fmt: skip
    costs = np.array([getattr(wc.costs, n) for n in CONCEPTS])
    pen = ag.regression.l1 * costs
    rule = ag.flag_rule

    # agent state
    # successor features (gamma = 0): E[phi_c | s, a]; every concept is 0/1, so optimistic
    # starts them at 1, the largest value a concept takes
    psi = np.full((b, C, n_types, a_n), 1.0 if ag.init == "optimistic" else 0.0)
    init = np.array([getattr(ag.flag, n) for n in CONCEPTS], np.float64)
    if learner is not None:
        init = np.eye(C)[Y]
    w = np.tile(init, (b, 1))
    top0 = int(np.argmax(init))
    aware = np.zeros((b, C), bool)
    aware_at = np.full((b, C), -1, np.int64)
    compute = np.zeros(b, np.int64)
    mem_phi = np.full((b, ag.memory, C), np.nan)  # world-recorded concept values
    mem_sig = np.full((b, ag.memory), np.nan)  # signal (NaN: none)
    noticed = np.zeros((b, len(PAIRS)), bool)
    strength = np.full((b, len(PAIRS)), -1.0)  # -1: never judged
    node = np.tile(np.arange(C), (b, 1))
    w_pre = w.copy()

    # records
    win = Windows.of(sc)
    n_w = len(win.end)
    counts = np.zeros((b, n_w, N_FIXED + 2 * C), np.int64)
    w_series = np.zeros((b, n_w, C), np.float32)
    masks = np.zeros((b, n_w, 3), np.int32)
    ev_aware = np.full((b, C), -1, np.int64)
    ev_relation = np.full((b, len(PAIRS)), -1, np.int64)
    ev_other = np.full((b, 4), -1, np.int64)

    def first(ev: np.ndarray, hit: np.ndarray, step: int) -> None:
        ev[hit & (ev < 0)] = step

    step = 0
    for wi in range(n_w):
        ph = _phase_settings(sc, int(win.phase[wi]))
        if learner is not None:
            ph = _Phase(ph.supervisor, ph.access, ph.diversity, ph.epsilon, ph.learn_world,
                        False, False)  # fmt: skip
        cnt = counts[:, wi]
        for _ in range(int(win.length[wi])):
            # awareness
            enter = ~aware & (
                ((aware_step >= 0) & (step >= aware_step))
                | ((compute_need >= 0) & (compute[:, None] >= compute_need))
            )
            aware |= enter
            aware_at[enter] = step
            first(ev_aware, enter, step)

            # the world: a question, and the supervisor's label in the register
            u = uniforms.next()
            ux = extra.next() if learner is not None else u  # only learners read it
            from_hard = ((u[U_HARD] < ph.diversity) & (hard > 0)) | (n_easy == 0)
            s = np.where(
                from_hard,
                np.floor(u[U_TYPE] * hard).astype(np.int64),
                hard + np.floor(u[U_TYPE] * n_easy).astype(np.int64),
            )
            tr = truth[rows, s]
            if ph.supervisor:
                if wc.noise_kind == "random":
                    wrong = (tr + 1 + np.floor(u[U_WRONG] * (k_ans - 1)).astype(np.int64)) % k_ans
                    label = np.where(u[U_NOISE] < wc.noise, wrong, tr)
                else:
                    label = np.where(mislabel[rows, s] >= 0, mislabel[rows, s], tr)
            else:
                label = np.full(b, -1)

            # the agent: epsilon-greedy on flag-weighted successor features of known concepts
            q = np.einsum("bc,bca->ba", w * aware, psi[rows, :, s, :]) - ag.write_cost * is_write
            a = np.where(
                u[U_EXPLORE] < ph.epsilon,
                np.floor(u[U_ACTION] * a_n).astype(np.int64),
                np.argmax(q, axis=1),
            )
            if learner == "decoupled_approval":  # an independent query from the same policy
                query = np.where(
                    ux[U_EXPLORE2] < ph.epsilon,
                    np.floor(ux[U_ACTION2] * a_n).astype(np.int64),
                    np.argmax(q, axis=1),
                )
            chosen = a
            if learner == "counterfactual_oracle":  # an erased answer's write is cut
                erased = ux[U_ERASE] < ag.counterfactual_oracle.p_erase
                tally[:, 0] += erased
                a = np.where(erased, a - a % 2, a)
            ans, write = a // 2, is_write[a]
            granted = u[U_ACCESS] < ph.access
            tamper = write & granted
            register = np.where(tamper, ans, label)  # -1: holds nothing

            # concept values (NaN = undefined) and the signal
            phi = np.empty((b, C))
            phi[:, X] = ans == tr
            phi[:, Y] = np.where(register < 0, np.nan, register == ans)
            phi[:, P] = ans == proxy[rows, s]
            phi[:, T] = tamper
            sig = phi[:, Y] if ph.supervisor else np.full(b, np.nan)

            # what a mitigation is given of an answer: the label's verdict (the reward function
            # in force before the step) and the register's after it
            sup = ph.supervisor
            # world model: TD(0) with gamma = 0 toward the concept value (undefined = 0)
            if ph.learn_world and learner not in (None, "qlearning"):
                at, target = a, np.full(b, np.nan)
                if learner == "current_rf":
                    target = _verdict(label, a, sup)
                elif learner == "approval":
                    target = _verdict(register, a, sup)
                elif learner == "decoupled_approval":
                    at, target = query, _verdict(register, query, sup)
                elif learner == "counterfactual_oracle":
                    at, target = chosen, np.where(erased, _verdict(label, chosen, sup), np.nan)
                elif learner == "monitor":
                    m = ag.monitor
                    caught = ux[U_MONITOR] < np.where(phi[:, T] == 1, m.recall, m.false_alarm)
                    hit = phi[:, T] == 1
                    tally[:, 0] += hit
                    tally[:, 1] += hit & caught
                    tally[:, 2] += hit & ~caught
                    tally[:, 3] += ~hit & caught
                    target = np.nan_to_num(phi[:, Y]) - m.penalty * caught
                    if m.mode == "screening":
                        target = np.where(caught, np.nan, np.nan_to_num(phi[:, Y]))
                elif learner == "mona":
                    mo = ag.mona
                    # the overseer's Q-learning on X (every step ends: no bootstrap), and its
                    # approval gamma V(s') - V(s) = -V(s) (V(s') = 0 after the end)
                    v_s = psi[rows, X, s, :].max(axis=1)
                    psi[rows, X, s, a] += ag.alpha * (phi[:, X] - psi[rows, X, s, a])
                    target = np.nan_to_num(phi[:, Y])
                    if mo.approval == "trusted":
                        # the overseer's error: fixed per run and state, where V is not 0
                        v_s = np.where(v_s != 0, v_s + mo.sigma * state_noise[rows, s], v_s)
                        target = target - v_s
                ok = ~np.isnan(target)
                old = psi[rows, Y, s, at]
                psi[rows, Y, s, at] = np.where(ok, old + ag.alpha * (target - old), old)
            elif ph.learn_world:
                old = psi[rows, :, s, a]
                psi[rows, :, s, a] = np.where(
                    aware, old + ag.alpha * (np.nan_to_num(phi) - old), old
                )
            # training compute: supervised steps on which something is trained on the signal
            if ph.supervisor and (ph.learn_world or (ph.learn_flag and rule == "regression")):
                compute += 1

            # replay memory: the oldest slot is overwritten
            pos = step % ag.memory
            mem_phi[:, pos] = phi
            mem_sig[:, pos] = sig

            # counts
            cnt[:, STEPS] += 1
            cnt[:, ACCESS] += granted
            cnt[:, WRITES] += write
            cnt[:, TAMPERS] += tamper
            if ph.supervisor:
                cnt[:, SIGNAL_N] += 1
                cnt[:, SIGNAL_SUM] += sig.astype(np.int64)
            cnt[:, HIDDEN] += phi[:, X].astype(np.int64)
            cnt[:, N_FIXED : N_FIXED + C] += np.nan_to_num(phi).astype(np.int64)
            cnt[:, N_FIXED + C :] += ~np.isnan(phi)
            first(ev_other[:, EV_TAMPER], tamper, step)
            step += 1

            # relations and the flag rules (after the step: events carry the steps done)
            moved = np.zeros(b, bool)
            if step % ag.relation_every == 0 and (ph.learn_relations or ph.learn_flag):
                ev, agree = pair_agreement(mem_phi)
                if ph.learn_relations:
                    both_aware = aware[:, PAIR_FIRST] & aware[:, PAIR_SECOND]
                    judge = both_aware & (ev >= ag.n_min)  # status kept while evidence is short
                    agr = agree / np.maximum(ev, 1)
                    strength = np.where(judge, agr, strength)
                    noticed = np.where(judge, agr >= ag.tau, noticed)
                    first(ev_relation, judge & noticed, step)
                if ph.learn_flag and rule == "association":
                    moved |= associate(
                        w,
                        noticed,
                        strength,
                        aware_at,
                        ag.association.rate,
                        ag.association.one_way,
                        ag.relation_every,
                    )
                elif ph.learn_flag and rule == "merge":
                    control = [controllability(psi[r]) for r in range(b)]
                    predict = signal_agreement(mem_phi, mem_sig)
                    for r in range(b):
                        merged, split = merge_and_split(
                            w[r],
                            node[r],
                            w_pre[r],
                            aware[r],
                            strength[r],
                            ag.merge.merge_threshold,
                            ag.merge.split_threshold,
                            ag.merge.split,
                            control[r],
                            predict[r],
                        )
                        if merged and ev_other[r, EV_MERGE] < 0:
                            ev_other[r, EV_MERGE] = step
                        if split and ev_other[r, EV_SPLIT] < 0:
                            ev_other[r, EV_SPLIT] = step
                        moved[r] |= merged or split
            reg = ag.regression
            if (
                rule == "regression"
                and ph.learn_flag
                and ph.supervisor
                and step % reg.fit_every == 0
            ):
                n, cov, cross = signal_moments(mem_phi, mem_sig)
                # the fit is on standardised concepts and signal, turned back into weights
                # per unit of each concept; no refit while the signal is constant
                corr, corr_s, sd, sd_s = standardised(cov, cross, signal_variance(mem_sig))
                fit = (n >= reg.min_samples) & (sd_s > 0)
                if fit.any():
                    # the simplicity prior weighs less as training compute grows
                    half = reg.half_compute
                    shrink = 1.0 + compute / half if half > 0 else np.ones(b)
                    b_fit = lasso(corr, corr_s, pen[None] / shrink[:, None], aware)
                    scale = sd_s[:, None] / np.where(sd > 0, sd, 1.0)
                    target = np.where(sd > 0, b_fit * scale, 0.0)
                    upd = fit[:, None] & aware
                    w = np.where(upd, w + reg.rate * (target - w), w)
                    moved |= fit
            first(ev_other[:, EV_MOVED], moved & (np.argmax(w, axis=1) != top0), step)

        # end of window: sample the flag and the masks
        w_series[:, wi] = w
        bits = 1 << np.arange(C)
        masks[:, wi, 0] = (aware * bits).sum(axis=1)
        masks[:, wi, 1] = (noticed * (1 << np.arange(len(PAIRS)))).sum(axis=1)
        in_node = (node[:, :, None] == node[:, None, :]).sum(axis=2) > 1
        masks[:, wi, 2] = (in_node * bits).sum(axis=1)
        if wi + 1 < n_w and win.phase[wi + 1] != win.phase[wi]:
            ends.append(probe_state(tables, w * aware, psi, ag.write_cost * is_write, tally))

    live = probe_state(tables, w * aware, psi, ag.write_cost * is_write, tally)
    return Result(
        sc,
        seed,
        runs,
        win,
        counts,
        np.zeros((b, n_w, 0)),
        w_series,
        masks,
        w.astype(np.float32),
        ev_aware,
        ev_relation,
        ev_other,
        live,
        phase_live=tuple(ends),
    )


def probe_state(
    tables: Any, wa: np.ndarray, psi: np.ndarray, cost: np.ndarray, tally: np.ndarray
) -> Any:
    """What the probes read: the world tables and the greedy action values (flag x awareness
    ``wa`` over the successor features, minus each action's cost), copied."""
    q_all = np.einsum("bc,bcsa->bsa", wa, psi) - cost
    return SimpleNamespace(
        world=QAState(tables),
        agent=SimpleNamespace(
            state=SimpleNamespace(q=q_all), variant=SimpleNamespace(tally=tally.copy())
        ),
    )
