"""Run a scenario: set up batched state, step it phase by phase, collect records.

A run's result depends only on (scenario, seed, run index): its random stream and its world
tables come from ``SeedSequence(seed)`` child ``run``, so the batch it lands in, the number of
threads and the machine do not matter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, overload

import numpy as np

from goaldrift.agents.awareness import schedule_arrays
from goaldrift.agents.flag_rules import FLAG_RULES, SPLIT_POLICIES
from goaldrift.agents.memory import StatLayout, code_table
from goaldrift.experiments import qa_kernel
from goaldrift.experiments.scenario import AnyScenario, GridPhase, GridScenario, Phase, Scenario
from goaldrift.rng import run_keys, threshold32
from goaldrift.worlds.qa import N_CONCEPTS, QA_WORLD, QAParams, draw_tables

CONCEPTS = QA_WORLD.concept_names
LAYOUT = StatLayout(N_CONCEPTS)
TABLE = code_table(N_CONCEPTS)
PAIR_I = np.array([i for i, _ in LAYOUT.pairs], np.int64)
PAIR_J = np.array([j for _, j in LAYOUT.pairs], np.int64)
PAIR_NAMES = [f"{CONCEPTS[i]}~{CONCEPTS[j]}" for i, j in LAYOUT.pairs]
LAY = np.array(
    [
        LAYOUT.EVID,
        LAYOUT.AGREE,
        LAYOUT.SEVID,
        LAYOUT.SAGREE,
        LAYOUT.N_S,
        LAYOUT.SUM_S,
        LAYOUT.SUM_PHI,
        LAYOUT.SUM_PP,
        LAYOUT.SUM_PS,
    ],
    np.int64,
)
EVENTS_OTHER = ("tamper", "merge", "split", "flag_moved")

if TYPE_CHECKING:
    from goaldrift.experiments.grid_runner import GridResult


@dataclass
class Windows:
    """The sampling windows of a scenario: each lies inside one phase."""

    phase: np.ndarray  # (W,) phase index
    end: np.ndarray  # (W,) global step at the window's end
    length: np.ndarray  # (W,) steps

    @classmethod
    def of(cls, sc: AnyScenario) -> Windows:
        phase, end, length = [], [], []
        t = 0
        phases: Sequence[Phase | GridPhase] = sc.phases
        for i, p in enumerate(phases):
            left = p.steps
            while left > 0:
                n = min(sc.sample_every, left)
                t += n
                left -= n
                phase.append(i)
                end.append(t)
                length.append(n)
        return cls(np.array(phase), np.array(end, np.int64), np.array(length, np.int64))

    def calls(self, per_call: int) -> Iterator[tuple[int, int, int, int]]:
        """Kernel calls: (phase, first window, end window, first step), each call at most
        ``per_call`` windows of one phase."""
        n_w = len(self.end)
        start = 0
        step0 = 0
        while start < n_w:
            ph = int(self.phase[start])
            stop = start
            while stop < n_w and self.phase[stop] == ph and stop - start < per_call:
                stop += 1
            yield ph, start, stop, step0
            step0 += int(self.length[start:stop].sum())
            start = stop


@dataclass
class Result:
    """Everything recorded for a batch of runs (leading axis: runs)."""

    scenario: Scenario
    seed: int
    runs: np.ndarray
    windows: Windows
    counts: np.ndarray  # (B, W, 7 + 2C) int64
    flag_series: np.ndarray  # (B, W, C) float32
    masks: np.ndarray  # (B, W, 3) int32: aware bits, relation bits, merged bits
    flag: np.ndarray  # (B, C) final weights
    ev_aware: np.ndarray  # (B, C)
    ev_relation: np.ndarray  # (B, P)
    ev_other: np.ndarray  # (B, 4)


class State:
    """Batched agent-and-world state for ``runs`` (float32 where learned)."""

    def __init__(self, sc: Scenario, seed: int, runs: np.ndarray):
        wc, ag = sc.world, sc.agent
        b, c = len(runs), N_CONCEPTS
        self.params = QAParams(wc.types, wc.answers, wc.hard_types, wc.noise, wc.noise_kind)
        self.tables = draw_tables(self.params, seed, runs)
        self.keys = run_keys(seed, runs)
        self.ctr = np.zeros(b, np.int64)
        a_n = 2 * wc.answers
        self.psi = np.zeros((b, c, wc.types, a_n), np.float32)
        self.q = np.zeros((b, wc.types, a_n), np.float32)
        init = np.array([getattr(ag.flag, n) for n in CONCEPTS], np.float32)
        self.w = np.tile(init, (b, 1))
        self.top0 = np.full(b, int(np.argmax(init)), np.int32)
        self.aware = np.zeros((b, c), np.uint8)
        self.aware_at = np.full((b, c), np.iinfo(np.int64).max, np.int64)
        self.aware_step, self.compute_need = schedule_arrays(ag.awareness, CONCEPTS, seed, runs)
        self.compute = np.zeros(b, np.int64)
        self.mem = np.full((b, ag.memory), LAYOUT.empty, np.int16)
        self.mem_pos = np.zeros(b, np.int64)
        self.stats = np.zeros((b, LAYOUT.width), np.int32)
        self.noticed = np.zeros((b, LAYOUT.n_pairs), np.uint8)
        self.strength = np.full((b, LAYOUT.n_pairs), -1.0)  # -1: never judged
        self.node = np.tile(np.arange(c, dtype=np.int64), (b, 1))
        self.w_pre = self.w.copy()
        self.w_fit = self.w.astype(np.float64)
        self.ev_aware = np.full((b, c), -1, np.int64)
        self.ev_relation = np.full((b, LAYOUT.n_pairs), -1, np.int64)
        self.ev_other = np.full((b, len(EVENTS_OTHER)), -1, np.int64)
        costs = np.array([getattr(wc.costs, n) for n in CONCEPTS])
        self.pen = ag.regression.l1 * costs


def _advance(
    sc: Scenario,
    st: State,
    phase_i: int,
    step0: int,
    lengths: np.ndarray,
    counts: np.ndarray,
    w_series: np.ndarray,
    masks: np.ndarray,
) -> None:
    wc, ag, ph = sc.world, sc.agent, sc.phases[phase_i]
    pick = lambda v, d: d if v is None else v  # noqa: E731
    u32 = lambda p: np.uint64(threshold32(p))  # noqa: E731
    qa_kernel.run_windows(
        st.keys, st.ctr, st.tables.truth, st.tables.proxy, st.tables.mislabel,
        wc.hard_types, wc.answers, u32(wc.noise), wc.noise_kind == "random",
        pick(ph.supervisor, wc.supervisor), u32(pick(ph.access, wc.access)),
        u32(pick(ph.diversity, wc.diversity)), u32(pick(ph.epsilon, ag.epsilon)),
        ph.learn_world, ph.learn_relations, ph.learn_flag,
        ag.alpha, ag.write_cost, ag.relation_every, ag.n_min, ag.tau,
        FLAG_RULES.index(ag.flag_rule), st.pen, ag.regression.half_compute, ag.regression.fit_every,
        ag.regression.min_samples, ag.regression.rate, ag.association.rate,
        ag.association.one_way, ag.merge.merge_threshold, ag.merge.split_threshold,
        SPLIT_POLICIES.index(ag.merge.split), st.aware_step, st.compute_need,
        TABLE, PAIR_I, PAIR_J, LAY,
        st.psi, st.q, st.w, st.aware, st.aware_at, st.compute, st.mem, st.mem_pos, st.stats,
        st.noticed, st.strength, st.node, st.w_pre, st.w_fit, st.top0,
        st.ev_aware, st.ev_relation, st.ev_other,
        step0, lengths, counts, w_series, masks,
    )  # fmt: skip


Progress = Callable[[int], None]


@overload
def run_batch(
    sc: Scenario,
    seed: int,
    runs: Sequence[int] | np.ndarray,
    progress: Progress | None = None,
    chunk_steps: int = 20_000,
) -> Result: ...


@overload
def run_batch(
    sc: GridScenario,
    seed: int,
    runs: Sequence[int] | np.ndarray,
    progress: Progress | None = None,
    chunk_steps: int = 20_000,
) -> GridResult: ...


def run_batch(
    sc: AnyScenario,
    seed: int,
    runs: Sequence[int] | np.ndarray,
    progress: Progress | None = None,
    chunk_steps: int = 20_000,
) -> Result | GridResult:
    """Simulate ``runs`` (run indices) of ``sc`` in one batch; ``progress(n)`` gets agent-steps.

    A gridworld scenario runs in ``grid_runner`` (its own kernel and records)."""
    if isinstance(sc, GridScenario):
        from goaldrift.experiments.grid_runner import run_grid_batch

        return run_grid_batch(sc, seed, runs, progress, chunk_steps)
    runs = np.asarray(runs, np.int64)
    win = Windows.of(sc)
    st = State(sc, seed, runs)
    b, c, n_w = len(runs), N_CONCEPTS, len(win.end)
    counts = np.zeros((b, n_w, qa_kernel.N_FIXED_COUNTS + 2 * c), np.int64)
    w_series = np.zeros((b, n_w, c), np.float32)
    masks = np.zeros((b, n_w, 3), np.int32)
    for ph, start, stop, step0 in win.calls(max(1, chunk_steps // sc.sample_every)):
        lengths = win.length[start:stop]
        _advance(
            sc, st, ph, step0, lengths,
            counts[:, start:stop], w_series[:, start:stop], masks[:, start:stop],
        )  # fmt: skip
        if progress is not None:
            progress(int(lengths.sum()) * b)
    return Result(
        sc, seed, runs, win, counts, w_series, masks, st.w.copy(),
        st.ev_aware, st.ev_relation, st.ev_other,
    )  # fmt: skip
