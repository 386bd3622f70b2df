"""Run a scenario: set up batched state, step it phase by phase, collect records.

One runner for every world: the world's family (``worlds/family.py``) sets up its tables and
gives the kernel its world bundle per phase; the agent (``agents/``) is set up here from the
scenario's ``agent`` table and its kind (``agents/variants.py``).

A run's result depends only on (scenario, seed, run index): its random streams and its world
tables come from ``SeedSequence(seed)`` children of ``run``, so the batch it lands in, the number
of threads and the machine do not matter.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from goaldrift.agents.awareness import schedule_arrays
from goaldrift.agents.config import initial_value, rule_knobs
from goaldrift.agents.flag_rules import EVENTS_OTHER, RuleKnobs
from goaldrift.agents.flagged import AgentKnobs, AgentState
from goaldrift.agents.memory import coded_memory, pairs, value_memory
from goaldrift.agents.variants import Plan, variants
from goaldrift.errors import ConfigError
from goaldrift.experiments.runs.kernel import Phase, Records, Stream, run_windows, work
from goaldrift.experiments.scenarios import Scenario
from goaldrift.rng import run_keys, threshold32
from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.family import Family

Progress = Callable[[int], None]


EARLY = (8, 4, 2)  # the run's first window is also sampled at these fractions of it


@dataclass
class Windows:
    """The sampling windows of a scenario: each lies inside one phase."""

    phase: np.ndarray  # (W,) phase index
    end: np.ndarray  # (W,) global step at the window's end
    length: np.ndarray  # (W,) steps

    @classmethod
    def of(cls, sc: Scenario) -> Windows:
        """Windows of ``sample_every`` steps; the run's first is also cut at 1/8, 1/4 and 1/2
        of its length (``EARLY``), so that events near step 0 are seen."""
        phase, end, length = [], [], []
        t = 0
        for i, p in enumerate(sc.phases):
            left = p.steps
            while left > 0:
                n = min(sc.sample_every, left)
                cuts = [n // d for d in EARLY if n // d > 0] if t == 0 else []
                for e in sorted(set([*cuts, n])):
                    phase.append(i)
                    end.append(t + e)
                    length.append(t + e - (end[-2] if len(end) > 1 else 0))
                t += n
                left -= n
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
    counts: np.ndarray  # (B, W, K) int64: the world's per-window counts
    sums: np.ndarray  # (B, W, S) float64: the world's per-window sums
    flag_series: np.ndarray  # (B, W, C) float32
    masks: np.ndarray  # (B, W, 3) int32: aware bits, relation bits, merged bits
    flag: np.ndarray  # (B, C) final weights
    ev_aware: np.ndarray  # (B, C)
    ev_relation: np.ndarray  # (B, P)
    ev_other: np.ndarray  # (B, 4): ``EVENTS_OTHER``
    live: Live | None = None  # the batch's state after its last step (for probes)
    start: tuple[np.ndarray, np.ndarray] | None = None  # step 0: flag (B, C), aware bits (B,)
    # the batch's state at the end of each phase but the last (per-phase probes)
    phase_live: tuple[Live, ...] = ()

    def at_phase_end(self, phase: int) -> Result:
        """This batch as it stood at the end of ``phase`` (only its state for the probes)."""
        if phase == len(self.scenario.phases) - 1:
            return self
        return dataclasses.replace(self, live=self.phase_live[phase])

    @property
    def family(self) -> Family:
        from goaldrift.registry import family

        return family(self.scenario.world.kind)

    @property
    def spec(self) -> WorldSpec:
        return self.family.spec(self.scenario)

    @property
    def concepts(self) -> tuple[str, ...]:
        return self.spec.concept_names

    @property
    def pair_names(self) -> list[str]:
        names = self.concepts
        return [f"{names[i]}~{names[j]}" for i, j in pairs(len(names))]


@dataclass
class Agent:
    """The agent's kernel bundles for a batch, and its plan."""

    plan: Plan
    state: AgentState
    knobs: AgentKnobs
    rules: RuleKnobs
    memory: Any
    variant: Any


def setup_agent(sc: Scenario, fam: Family, seed: int, runs: np.ndarray) -> Agent:
    """The agent of ``sc`` for ``runs``, by its kind's plan (``agents/variants.py``)."""
    ag = sc.agent
    spec = fam.spec(sc)
    names = spec.concept_names
    b, c = len(runs), len(names)
    signal = fam.signal_concept(sc)
    kind = variants()[ag.kind]
    why = kind.requires(spec) if kind.requires is not None else None
    if why is not None:
        raise ConfigError("agent.kind", f"an agent kind that suits {spec.id} ({why})", ag.kind)
    plan = kind.plan(ag, spec, signal)
    s_n, a_n = fam.table_shape(sc)
    init = np.float32(initial_value(ag, fam.agent_defaults()))
    if plan.schedules is None:
        aware_step = np.full((b, c), -1, np.int64)
        compute_need = np.full(c, -1, np.int64)
        for n in plan.aware:
            aware_step[:, names.index(n)] = 0
    else:
        aware_step, compute_need = schedule_arrays(plan.schedules, names, seed, runs)
    w = np.tile(plan.flag, (b, 1))
    n_pairs = len(pairs(c))
    w_fit = w.astype(np.float64) if fam.fit_warm_start == "flag" else np.zeros((b, c))
    state = AgentState(
        psi=np.full((b, c, s_n, a_n), init, np.float32),
        q=np.zeros((b, s_n, a_n), np.float32),
        w=w,
        w_fit=w_fit,
        w_pre=w.copy(),
        node=np.tile(np.arange(c, dtype=np.int64), (b, 1)),
        top0=np.full(b, int(np.argmax(plan.flag)), np.int32),
        aware=np.zeros((b, c), np.uint8),
        aware_at=np.full((b, c), np.iinfo(np.int64).max, np.int64),
        aware_step=aware_step,
        compute=np.zeros(b, np.int64),
        noticed=np.zeros((b, n_pairs), np.uint8),
        strength=np.full((b, n_pairs), -1.0, fam.strength_dtype),  # -1: never judged
    )
    pair_i = np.array([i for i, _ in pairs(c)], np.int64)
    pair_j = np.array([j for _, j in pairs(c)], np.int64)
    knobs = AgentKnobs(
        ag.alpha, ag.gamma, fam.action_costs(sc), ag.relation_every, ag.n_min, ag.tau,
        compute_need, pair_i, pair_j,
    )  # fmt: skip
    rules = rule_knobs(ag, plan.rule, fam.costs(sc))
    if fam.memory == "coded":
        memory: Any = coded_memory(b, plan.memory, c)
    else:
        memory = value_memory(b, plan.memory, c, signal)
    variant = kind.bundle(ag, spec, runs)
    if kind.tables is not None:  # its own value tables, (B, n, S, A), as the agent's start
        shape = (b, kind.tables(ag, spec), s_n, a_n)
        variant = variant._replace(tables=np.full(shape, init, np.float32))
    return Agent(plan, state, knobs, rules, memory, variant)


@dataclass
class Live:
    """A batch's kernel state after its last step: the world's state, the agent, the random
    streams and the scratch arrays (``probes`` continue from it, frozen)."""

    world: Any
    agent: Agent
    stream: Stream
    work: Any
    records: tuple[np.ndarray, ...]


def phase_knobs(sc: Scenario, fam: Family, plan: Plan, phase: int) -> Phase:
    """The kernel's agent settings for phase ``phase``."""
    ph = sc.phases[phase]
    eps = sc.agent.epsilon if ph.epsilon is None else ph.epsilon
    return Phase(
        np.uint64(threshold32(eps)),
        ph.learn_world,
        ph.learn_relations and plan.learns_relations,
        ph.learn_flag and plan.learns_flag,
        fam.signal_present(sc, phase),
    )


def run_batch(
    sc: Scenario,
    seed: int,
    runs: Sequence[int] | np.ndarray,
    progress: Progress | None = None,
    chunk_steps: int = 20_000,
) -> Result:
    """Simulate ``runs`` (run indices) of ``sc`` in one batch; ``progress(n)`` gets agent-steps."""
    from goaldrift.registry import family

    fam = family(sc.world.kind)
    runs = np.asarray(runs, np.int64)
    win = Windows.of(sc)
    world = fam.setup(sc, seed, runs)
    agent = setup_agent(sc, fam, seed, runs)
    stream = Stream(run_keys(seed, runs), np.zeros(len(runs), np.int64))
    b, c, n_w = len(runs), agent.state.w.shape[1], len(win.end)
    n_counts, n_sums = fam.record_columns(sc)
    rec_arrays = (
        np.zeros((b, n_w, n_counts), np.int64),
        np.zeros((b, n_w, n_sums), np.float64),
        np.zeros((b, n_w, c), np.float32),
        np.zeros((b, n_w, 3), np.int32),
        np.full((b, c), -1, np.int64),
        np.full((b, agent.state.noticed.shape[1]), -1, np.int64),
        np.full((b, len(EVENTS_OTHER)), -1, np.int64),
    )
    scratch = work(b, c)
    first = start_sample(agent)
    ends: list[Live] = []
    for ph, start, stop, step0 in win.calls(max(1, chunk_steps // sc.sample_every)):
        fresh = start == 0 or win.phase[start - 1] != ph
        lengths = win.length[start:stop]
        # whole output arrays and an offset: one array layout, so one compiled kernel
        rec = Records(lengths, step0, start, *rec_arrays)
        run_windows(
            fam.bundle(sc, world, ph, fresh), phase_knobs(sc, fam, agent.plan, ph), stream,
            agent.state, agent.knobs, agent.rules, agent.memory, rec, scratch, agent.variant,
        )  # fmt: skip
        if progress is not None:
            progress(int(lengths.sum()) * b)
        if ph < len(sc.phases) - 1 and (stop == len(win.end) or win.phase[stop] != ph):
            ends.append(copy.deepcopy(Live(world, agent, stream, scratch, rec_arrays)))
    counts, sums, w_series, masks, ev_aware, ev_relation, ev_other = rec_arrays
    return Result(
        sc, seed, runs, win, counts, sums, w_series, masks, agent.state.w.copy(), ev_aware,
        ev_relation, ev_other, Live(world, agent, stream, scratch, rec_arrays), first,
        tuple(ends),
    )  # fmt: skip


def start_sample(agent: Agent) -> tuple[np.ndarray, np.ndarray]:
    """The step-0 sample, before any step: the initial flag and the concepts known from the
    start (due at step 0, or needing no compute), as bits."""
    st = agent.state
    need = agent.knobs.compute_need
    aware = (st.aware > 0) | (st.aware_step == 0) | ((need >= 0) & (st.compute[:, None] >= need))
    bits = (aware.astype(np.int64) << np.arange(aware.shape[1])).sum(axis=1)
    return st.w.copy(), bits
