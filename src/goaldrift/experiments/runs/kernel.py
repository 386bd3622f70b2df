"""The run kernel: every world with the flagged agent, runs in the outer ``prange``, steps inside.

``run_windows`` advances every run of a batch through the sample windows of one phase. Its
arguments are a few named bundles (``goaldrift.traits`` compiles it once per world and memory
class):

- ``world``: the world family's bundle (its tables, phase settings and per-run state), whose
  part of each step are the traits of ``worlds/hooks.py``;
- ``phase``: this phase's agent settings (``Phase``); ``stream``: each run's random stream;
- ``agent``, ``knobs``: the agent's batched state and settings (``agents/flagged.py``);
- ``rules``: the flag rule and its settings (``agents/flag_rules.RuleKnobs``);
- ``memory``: the replay memory (``agents/memory.py``); ``rec``: the records (``Records``);
- ``work``: scratch arrays (``Work``); ``variant``: the agent kind's bundle, whose class
  chooses how the agent acts and learns (``agents/variants.py``).

One step, per run: awareness; the world shows a state; the agent acts; the world answers with
concept values and the signal; the agent learns and remembers; the world counts the step;
every ``relation_every`` steps relations are judged; the flag rule may move the flag.

State is float32 where it is learned, integer where it is counted. All randomness comes from
the run's counter-based stream (``goaldrift.rng``) and the world's own, so a run does not
depend on the batch it is in or the thread that steps it.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange

from goaldrift.agents.awareness import enter_due
from goaldrift.agents.flag_rules import (
    EV_FLAG_MOVED,
    EV_TAMPER,
    REGRESSION,
    RULE_SCRATCH,
    revise_flag,
    top_concept,
)
from goaldrift.agents.flagged import judge, pending, snapshot
from goaldrift.agents.memory import memory_close, memory_open, memory_remember, memory_sync
from goaldrift.agents.planning import action_values
from goaldrift.agents.variants import agent_act, agent_learn
from goaldrift.worlds import hooks

Phase = namedtuple(
    "Phase",
    [
        "epsilon",  # exploration, as a 32-bit threshold (``rng.threshold32``)
        "learn_world",  # successor features learn
        "learn_relations",  # relations are judged
        "learn_flag",  # the flag rule acts
        "signal",  # a training signal is present (a supervisor)
    ],
)

Stream = namedtuple("Stream", ["keys", "ctr"])  # (B,) uint64 keys, (B,) int64 counters

Work = namedtuple("Work", ["sums", *RULE_SCRATCH])  # type: ignore[misc]
"""Per-run working arrays (the kernel allocates nothing): ``sums`` (B, C) float64, the world's
per-concept window sums; then the flag rules' scratch (``flag_rules.RULE_SCRATCH``)."""


def work(runs: int, n_concepts: int) -> Work:
    """Zeroed working arrays for ``runs`` runs of a world with ``n_concepts`` concepts."""
    arrays = [np.zeros((runs, n_concepts))]
    for spec in RULE_SCRATCH.values():
        dims = [n_concepts + 1 if d == "C+1" else n_concepts for d in spec.split() if "C" in d]
        dtype = {"int": np.int64, "bool": np.bool_}.get(spec.split()[-1], np.float64)
        arrays.append(np.zeros((runs, *dims), dtype))
    return Work(*arrays)


Records = namedtuple(
    "Records",
    [
        "window_len",  # (W_call,) int64: the length of each window of this call
        "step0",  # the global step at which this call starts
        "w0",  # the index of this call's first window in the outputs
        "counts",  # (B, W, K) int64: the world's per-window counts
        "sums",  # (B, W, S) float64: the world's per-window sums
        "flag",  # (B, W, C) float32: the flag at each window's end
        "masks",  # (B, W, 3) int32: awareness, relation and merge bits at each window's end
        "ev_aware",  # (B, C) int64: first step of awareness per concept (-1: never)
        "ev_relation",  # (B, P) int64: first step each relation is noticed
        "ev_other",  # (B, 4) int64: first tamper, merge, split, flag move (``EVENTS_OTHER``)
    ],
)


@njit(parallel=True, cache=True)
def run_windows(world, phase, stream, agent, knobs, rules, memory, rec, work, variant):  # fmt: skip
    """Advance every run through ``len(rec.window_len)`` windows of one phase."""
    for r in prange(stream.keys.shape[0]):
        _run_one(np.int64(r), world, phase, stream, agent, knobs, rules, memory, rec, work,
                 variant)  # fmt: skip


# Compiled without reference counting (``_nrt=False``): the step's parts (world hooks, memory,
# learning, the choice) are inlined into this function's numba IR, and each part that takes a
# bundle of arrays would otherwise take and release a reference on every array in it, twice
# per step: ten times slower. So nothing it calls allocates (numba compiles callees with the
# caller's settings); scratch arrays come in ``work``.
@njit(cache=True, _nrt=False)  # type: ignore[call-overload]
def _run_one(r, world, phase, stream, agent, knobs, rules, memory, rec, work, variant):  # fmt: skip
    """One run of ``run_windows`` (its own function: the parallel loop's body is this one
    call, so no write in it can be lost, and it compiles once)."""
    key = stream.keys[r]
    k = stream.ctr[r]
    psi, q, w, aware = agent.psi[r], agent.q[r], agent.w[r], agent.aware[r]
    noticed, strength = agent.noticed[r], agent.strength[r]
    comp = agent.compute[r]
    sums = work.sums[r]
    ws = hooks.world_open(world, r)
    mc = memory_open(memory, r)
    n_unaware = pending(aware, agent.aware_step[r], knobs.compute_need)
    # countdowns instead of a modulo per step
    to_rel = knobs.relation_every - rec.step0 % knobs.relation_every
    to_fit = rules.fit_every - rec.step0 % rules.fit_every
    trains = phase.learn_world or (phase.learn_flag and rules.rule == REGRESSION)
    step = rec.step0
    for win in range(rec.window_len.shape[0]):
        acc = hooks.world_window_open(world, sums)
        for _t in range(rec.window_len[win]):
            # 1. awareness
            if n_unaware > 0:
                entered = enter_due(
                    step, comp, aware, agent.aware_at[r], rec.ev_aware[r], agent.aware_step[r],
                    knobs.compute_need,
                )  # fmt: skip
                if entered:
                    n_unaware -= entered
                    action_values(psi, q, w, aware, knobs.cost)
            # 2. the world shows a state, the agent acts, the world answers
            s, ws, k = hooks.world_observe(world, r, ws, key, k)
            a, k = agent_act(variant, r, q, s, phase.epsilon, key, k)
            s2, phi, sig, term, tamper, ws, k = hooks.world_respond(world, r, ws, s, a, key, k)
            # 3. the agent learns and remembers
            if phase.learn_world:
                k = agent_learn(variant, r, psi, q, w, aware, knobs, s, a, s2, term, phi,
                                world, ws, key, k)  # fmt: skip
            if phase.signal and trains:
                comp += 1
            mc = memory_remember(memory, r, mc, phi, sig)
            if tamper and rec.ev_other[r, EV_TAMPER] < 0:
                rec.ev_other[r, EV_TAMPER] = step
            step += 1
            ws, acc = hooks.world_tally(world, r, ws, acc, sums, phi)
            # 4. relations and the flag rule
            to_rel -= 1
            to_fit -= 1
            at_rel = to_rel == 0
            at_fit = to_fit == 0
            if not (at_rel or at_fit):
                continue
            if at_rel:
                to_rel = knobs.relation_every
            if at_fit:
                to_fit = rules.fit_every
            mc = memory_sync(memory, r, mc)
            if phase.learn_relations and at_rel:
                judge(aware, noticed, strength, rec.ev_relation[r], knobs, memory, r, mc, step)
            if phase.learn_flag:
                agent.compute[r] = comp  # the regression's penalty shrinks with it
                if revise_flag(step, at_rel, at_fit, phase.signal, agent, knobs, rules, memory,
                               r, mc, rec.ev_other[r], work):  # fmt: skip
                    action_values(psi, q, w, aware, knobs.cost)
                    if rec.ev_other[r, EV_FLAG_MOVED] < 0 and top_concept(w) != agent.top0[r]:
                        rec.ev_other[r, EV_FLAG_MOVED] = step
        # end of window: the world's counts, the flag and the masks
        wi = rec.w0 + win
        hooks.world_window_close(world, r, acc, sums, rec.counts[r, wi], rec.sums[r, wi],
                           rec.window_len[win])  # fmt: skip
        snapshot(w, aware, noticed, agent.node[r], rec.flag[r, wi], rec.masks[r, wi])
    hooks.world_close(world, r, ws)
    memory_close(memory, r, mc)
    stream.ctr[r] = k
    agent.compute[r] = comp
