"""Run a gridworld scenario: set up batched state, step it phase by phase, collect records.

As for Register QA (``runner``), a run's result depends only on (scenario, seed, run index):
the agent draws from ``run_keys(seed, runs)``, the world from ``world_keys(seed, runs)`` (a
different child of the same ``SeedSequence``), and set-up draws (hazard awareness) from
``run_generator``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from goaldrift.agents.awareness import schedule_arrays
from goaldrift.agents.flag_rules import ANCHORED, FLAG_RULES, SPLIT_POLICIES
from goaldrift.agents.memory import pairs
from goaldrift.experiments import grid_kernel as gk
from goaldrift.experiments.runner import Windows
from goaldrift.experiments.scenario import GridScenario
from goaldrift.rng import run_keys, threshold32
from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.gridworlds import absent_supervisor as _as
from goaldrift.worlds.gridworlds import boat_race as _br
from goaldrift.worlds.gridworlds import rocks_diamonds as _rd
from goaldrift.worlds.gridworlds import tomato_watering as _tw
from goaldrift.worlds.gridworlds.concepts import WORLDS
from goaldrift.worlds.gridworlds.core import check_supervisor, world_keys
from goaldrift.worlds.gridworlds.layout import N_ACTIONS

EVENTS_OTHER = ("tamper", "merge", "split", "flag_moved")  # as Register QA's
# extra states per cell, per world (docs/model.md, "Gridworld agents"); rocks_diamonds:
# 4 switch states times 2 per lump (in the goal area or not)
STATE_BITS = {"tomato_watering": 1, "absent_supervisor": 2, "rocks_diamonds": 4, "boat_race": 1}


def world_spec(sc: GridScenario) -> WorldSpec:
    return WORLDS[sc.world.kind]


def pair_names(names: Sequence[str]) -> list[str]:
    return [f"{names[i]}~{names[j]}" for i, j in pairs(len(names))]


def n_states(sc: GridScenario) -> int:
    """Size of the agent's tables: board cells times the world's extra state bits."""
    return board_size(sc) * state_bits(sc)


def board_size(sc: GridScenario) -> int:
    kind = sc.world.kind
    if kind == "rocks_diamonds":
        return _rd.get_level(sc.world.level).layout.size
    lay = {"tomato_watering": _tw.LAYOUT, "absent_supervisor": _as.LAYOUT}.get(kind, _br.LAYOUT)
    return lay.size


def state_bits(sc: GridScenario) -> int:
    """Table states per board cell."""
    if sc.world.kind == "rocks_diamonds":
        return STATE_BITS["rocks_diamonds"] << len(_rd.get_level(sc.world.level).lumps)
    return STATE_BITS[sc.world.kind]


@dataclass
class GridResult:
    """Everything recorded for a batch of gridworld runs (leading axis: runs)."""

    scenario: GridScenario
    seed: int
    runs: np.ndarray
    windows: Windows
    counts: np.ndarray  # (B, W, N_COUNTS) int64: steps, episodes, ... (grid_kernel)
    sums: np.ndarray  # (B, W, 2 + C) float64: returns of ended episodes, concept sums
    flag_series: np.ndarray  # (B, W, C) float32
    masks: np.ndarray  # (B, W, 3) int32: aware bits, relation bits, merged bits
    flag: np.ndarray  # (B, C) final weights
    ev_aware: np.ndarray  # (B, C)
    ev_relation: np.ndarray  # (B, P)
    ev_other: np.ndarray  # (B, 4): first tamper event, merge, split, flag moved off its top

    @property
    def concepts(self) -> tuple[str, ...]:
        return world_spec(self.scenario).concept_names

    @property
    def pair_names(self) -> list[str]:
        return pair_names(self.concepts)


class GridState:
    """Batched environment-and-agent state for ``runs`` (float32 where learned)."""

    def __init__(self, sc: GridScenario, seed: int, runs: np.ndarray):
        wc, ag = sc.world, sc.agent
        names = world_spec(sc).concept_names
        b, c = len(runs), len(names)
        self.world = gk.WORLD_IDS[wc.kind]
        self.n_bits = state_bits(sc)
        self.has_tamper = c > 2
        self.thr = np.uint64(threshold32(wc.dry_probability))
        n_lumps = 1
        if wc.kind == "rocks_diamonds":
            lv = _rd.get_level(wc.level)
            self.flags, self.meta, self.init_lumps = lv.flags, lv.meta, lv.lumps
            n_lumps = len(lv.lumps)
        else:
            self.flags = np.zeros(1, np.int64)
            self.meta = np.zeros(5, np.int64)
            self.init_lumps = np.zeros(1, np.int64)
        # streams
        self.keys = run_keys(seed, runs)
        self.ctr = np.zeros(b, np.int64)
        self.wkeys = world_keys(seed, runs)
        self.wctr = np.zeros(b, np.int64)
        # environments (set by the first phase's reset)
        self.pos = np.zeros(b, np.int64)
        self.aux = np.zeros(b, np.int64)
        self.lumps = np.zeros((b, n_lumps), np.int64)
        self.t = np.zeros(b, np.int64)
        self.ep_obs = np.zeros(b, np.float64)
        self.ep_hid = np.zeros(b, np.float64)
        self.ep_tamp = np.zeros(b, np.int64)
        self.ep_opp = np.zeros(b, np.bool_)
        # agent
        s_n = n_states(sc)
        self.psi = np.zeros((b, c, s_n, N_ACTIONS), np.float32)
        self.q = np.zeros((b, s_n, N_ACTIONS), np.float32)
        self.aware_step = np.full((b, c), -1, np.int64)
        self.compute_need = np.full(c, -1, np.int64)
        obs = names.index("observed")
        if ag.kind == "qlearning":
            # Q-learning is this agent with one known concept, the observed reward, flagged 1
            init = np.zeros(c, np.float32)
            init[obs] = 1.0
            self.aware_step[:, obs] = 0
            self.rule = ANCHORED
            memory = 1
        else:
            init = np.array([getattr(ag.flag, n) for n in names], np.float32)
            self.aware_step, self.compute_need = schedule_arrays(ag.awareness, names, seed, runs)
            self.rule = FLAG_RULES.index(ag.flag_rule)
            memory = ag.memory
        self.w = np.tile(init, (b, 1))
        self.top0 = np.full(b, int(np.argmax(init)), np.int32)
        self.aware = np.zeros((b, c), np.uint8)
        self.aware_at = np.full((b, c), np.iinfo(np.int64).max, np.int64)
        self.compute = np.zeros(b, np.int64)
        self.mem = np.zeros((b, memory, c), np.float32)
        self.mem_pos = np.zeros(b, np.int64)
        self.mem_n = np.zeros(b, np.int64)
        n_pairs = len(pairs(c))
        self.pair_i = np.array([i for i, _ in pairs(c)], np.int64)
        self.pair_j = np.array([j for _, j in pairs(c)], np.int64)
        self.noticed = np.zeros((b, n_pairs), np.uint8)
        self.strength = np.full((b, n_pairs), -1.0, np.float32)  # -1: never judged
        self.w_fit = np.zeros((b, c), np.float64)
        self.node = np.tile(np.arange(c, dtype=np.int64), (b, 1))
        self.w_pre = self.w.copy()
        self.ev_aware = np.full((b, c), -1, np.int64)
        self.ev_relation = np.full((b, n_pairs), -1, np.int64)
        self.ev_other = np.full((b, len(EVENTS_OTHER)), -1, np.int64)
        costs = np.array([wc.cost(n) for n in names])
        self.pen = ag.regression.l1 * costs


def _advance(
    sc: GridScenario,
    st: GridState,
    phase_i: int,
    fresh: bool,
    step0: int,
    w0: int,
    lengths: np.ndarray,
    counts: np.ndarray,
    sums: np.ndarray,
    w_series: np.ndarray,
    masks: np.ndarray,
) -> None:
    wc, ag, ph = sc.world, sc.agent, sc.phases[phase_i]
    qlearn = ag.kind == "qlearning"
    eps = ag.epsilon if ph.epsilon is None else ph.epsilon
    mode = check_supervisor(wc.supervisor if ph.supervisor is None else ph.supervisor)
    gk.run_windows(
        st.world, st.wkeys, st.wctr, st.thr, mode, wc.max_steps, st.flags, st.meta,
        st.init_lumps, st.n_bits, st.has_tamper,
        st.keys, st.ctr, np.uint64(threshold32(eps)), ph.learn_world,
        ph.learn_relations and not qlearn, ph.learn_flag and not qlearn, fresh,
        ag.alpha, ag.gamma, ag.relation_every, ag.n_min, ag.tau, st.rule, st.pen,
        ag.regression.half_compute, ag.regression.fit_every, ag.regression.min_samples,
        ag.regression.rate, ag.association.rate, ag.association.one_way,
        ag.merge.merge_threshold, ag.merge.split_threshold, SPLIT_POLICIES.index(ag.merge.split),
        st.aware_step, st.compute_need, st.pair_i, st.pair_j,
        st.pos, st.aux, st.lumps, st.t, st.ep_obs, st.ep_hid, st.ep_tamp, st.ep_opp,
        st.psi, st.q, st.w, st.aware, st.aware_at, st.compute, st.mem, st.mem_pos, st.mem_n,
        st.noticed, st.strength, st.w_fit, st.top0, st.node, st.w_pre,
        st.ev_aware, st.ev_relation, st.ev_other,
        step0, w0, lengths, counts, sums, w_series, masks,
    )  # fmt: skip


def run_grid_batch(
    sc: GridScenario,
    seed: int,
    runs: Sequence[int] | np.ndarray,
    progress: Callable[[int], None] | None = None,
    chunk_steps: int = 20_000,
) -> GridResult:
    """Simulate ``runs`` (run indices) of ``sc`` in one batch; ``progress(n)`` gets agent-steps."""
    runs = np.asarray(runs, np.int64)
    win = Windows.of(sc)
    st = GridState(sc, seed, runs)
    b, c, n_w = len(runs), len(world_spec(sc).concepts), len(win.end)
    counts = np.zeros((b, n_w, gk.N_COUNTS), np.int64)
    sums = np.zeros((b, n_w, gk.N_FIXED_SUMS + c), np.float64)
    w_series = np.zeros((b, n_w, c), np.float32)
    masks = np.zeros((b, n_w, 3), np.int32)
    for ph, start, stop, step0 in win.calls(max(1, chunk_steps // sc.sample_every)):
        fresh = start == 0 or win.phase[start - 1] != ph
        lengths = win.length[start:stop]
        # whole output arrays and an offset: one array layout, so one compiled kernel
        _advance(sc, st, ph, fresh, step0, start, lengths, counts, sums, w_series, masks)
        if progress is not None:
            progress(int(lengths.sum()) * b)
    return GridResult(
        sc, seed, runs, win, counts, sums, w_series, masks, st.w.copy(),
        st.ev_aware, st.ev_relation, st.ev_other,
    )  # fmt: skip
