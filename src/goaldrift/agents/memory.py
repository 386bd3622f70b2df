"""The replay memory: the last ``memory`` steps of world-recorded concept values and signal
(docs/model.md §3, "relation learning").

The memory records every concept, known or not, so a concept the agent becomes aware of
later is read back from it. What the agent reads from it: per concept pair the evidence (steps
on which both are defined) and the agreement; for the ``regression`` rule the moments of the
concepts and the signal; for the ``merge`` rule's ``predictive`` split how often each concept
equals the signal. Two representations serve these reads, one per kind of concept value:

- ``CodedMemory`` (concepts with values 0, 1 or undefined, as in Register QA): each slot holds
  one code, a base-3 digit per concept and one for the signal (2 = undefined, or no signal).
  A table maps each code to its contribution to every statistic (``code_table``); the kernel
  counts per code how many slots were added and evicted and applies count x table row just
  before the statistics are read, so a step costs two increments.
- ``ValueMemory`` (real-valued concepts, as on the gridworlds): each slot holds the concept
  values; statistics are recomputed from the slots when read.

Both hand the regression *standardised* moments (``standardise``: correlations among the
concepts and with the signal), and the fit is turned back into weights per unit of each
concept, w_c = b_c sd(signal) / sd(c). The penalty ``l1 x cost`` then means the same in every
world, and on Register QA it does not grow relative to the data as an accurate agent's 0/1
concepts lose variance (var(correct) = a(1 - a) for accuracy a).

Each read is a trait (``goaldrift.traits``): the kernel is compiled for the memory's class.
"""

from __future__ import annotations

from collections import namedtuple
from itertools import combinations

import numpy as np
from numba import njit

from goaldrift.agents.values import digit
from goaldrift.traits import trait

UNDEFINED = 2


def pairs(n_concepts: int) -> list[tuple[int, int]]:
    """Concept pairs in a fixed order: (0,1), (0,2), ..."""
    return list(combinations(range(n_concepts), 2))


class StatColumns:
    """Where each statistic sits in a row of the code table and in a run's statistics (for
    ``c`` concepts): signal samples and sums, concept sums, products and signal products,
    then per pair evidence and agreement, then per concept signal evidence and agreement."""

    def __init__(self, c: int):
        self.c = c
        self.pairs = pairs(c)
        self.n_pairs = len(self.pairs)
        self.sq = [(i, j) for i in range(c) for j in range(i, c)]
        self.N_S = 0
        self.SUM_S = 1
        self.SUM_PHI = 2
        self.SUM_PP = self.SUM_PHI + c
        self.SUM_PS = self.SUM_PP + len(self.sq)
        self.EVID = self.SUM_PS + c
        self.AGREE = self.EVID + self.n_pairs
        self.SEVID = self.AGREE + self.n_pairs
        self.SAGREE = self.SEVID + c
        self.width = self.SAGREE + c
        self.n_codes = 3 ** (c + 1)
        self.empty = self.n_codes


def code_of(values: list[int], signal: int) -> int:
    """Encode concept digits and a signal digit (each 0, 1 or 2)."""
    code = 0
    for k, d in enumerate([*values, signal]):
        code += d * 3**k
    return code


def code_table(c: int) -> np.ndarray:
    """Contribution of each code (and of the empty slot, last row: zeros) to each statistic."""
    col = StatColumns(c)
    table = np.zeros((col.n_codes + 1, col.width), np.int32)
    for code in range(col.n_codes):
        digits = [(code // 3**k) % 3 for k in range(c + 1)]
        phi, s = digits[:c], digits[c]
        val = [d if d != UNDEFINED else 0 for d in phi]  # undefined counts as 0 in fits
        row = table[code]
        if s != UNDEFINED:
            row[col.N_S] = 1
            row[col.SUM_S] = s
            for i in range(c):
                row[col.SUM_PHI + i] = val[i]
                row[col.SUM_PS + i] = val[i] * s
            for k, (i, j) in enumerate(col.sq):
                row[col.SUM_PP + k] = val[i] * val[j]
            for i in range(c):
                if phi[i] != UNDEFINED:
                    row[col.SEVID + i] = 1
                    row[col.SAGREE + i] = int(phi[i] == s)
        for k, (i, j) in enumerate(col.pairs):
            if phi[i] != UNDEFINED and phi[j] != UNDEFINED:
                row[col.EVID + k] = 1
                row[col.AGREE + k] = int(phi[i] == phi[j])
    return table


CodedMemory = namedtuple(
    "CodedMemory",
    [
        "codes",  # (B, M) int16: one code per slot (``empty`` before it is first written)
        "pos",  # (B,) int64: the slot written next
        "stats",  # (B, width) int32: the statistics of the slots, per ``StatColumns``
        "table",  # (codes + 1, width) int32: ``code_table``
        "delta",  # (B, codes + 1) int32: slots added minus evicted per code since a sync
        "mark",  # (B, codes + 1) bool: codes with a pending delta
        "dirty",  # (B, codes + 1) int64: the codes with a pending delta, in order
        "n_s",  # the ``StatColumns`` offsets, as the kernel reads them
        "sum_s",
        "sum_phi",
        "sum_pp",
        "sum_ps",
        "evid",
        "agree",
        "sevid",
        "sagree",
    ],
)

ValueMemory = namedtuple(
    "ValueMemory",
    [
        "values",  # (B, M, C) float32: the concept values of each slot
        "pos",  # (B,) int64: the slot written next
        "n",  # (B,) int64: slots written so far (at most M)
        "signal",  # the concept whose value is the signal
    ],
)


def coded_memory(runs: int, size: int, n_concepts: int) -> CodedMemory:
    """An empty coded memory of ``size`` slots per run."""
    col = StatColumns(n_concepts)
    n = col.n_codes + 1
    return CodedMemory(
        np.full((runs, size), col.empty, np.int16),
        np.zeros(runs, np.int64),
        np.zeros((runs, col.width), np.int32),
        code_table(n_concepts),
        np.zeros((runs, n), np.int32),
        np.zeros((runs, n), np.bool_),
        np.zeros((runs, n), np.int64),
        col.N_S, col.SUM_S, col.SUM_PHI, col.SUM_PP, col.SUM_PS,
        col.EVID, col.AGREE, col.SEVID, col.SAGREE,
    )  # fmt: skip


def value_memory(runs: int, size: int, n_concepts: int, signal: int) -> ValueMemory:
    """An empty value memory of ``size`` slots per run; concept ``signal`` is the signal."""
    return ValueMemory(
        np.zeros((runs, size, n_concepts), np.float32),
        np.zeros(runs, np.int64),
        np.zeros(runs, np.int64),
        signal,
    )


@njit(cache=True)
def coded_moments(
    stats: np.ndarray,
    n_s: int,
    sum_s: int,
    sum_phi: int,
    sum_pp: int,
    sum_ps: int,
    cov: np.ndarray,
    cross: np.ndarray,
) -> float:
    """Fill the covariance of concepts and their covariance with the signal, from a run's
    coded-memory statistics (population moments); returns the number of signal samples."""
    c = cross.shape[0]
    n = float(stats[n_s])
    if n <= 0:
        cov[:] = 0.0
        cross[:] = 0.0
        return n
    ms = stats[sum_s] / n
    k = 0
    for i in range(c):
        mi = stats[sum_phi + i] / n
        cross[i] = stats[sum_ps + i] / n - mi * ms
        for j in range(i, c):
            mj = stats[sum_phi + j] / n
            v = stats[sum_pp + k] / n - mi * mj
            cov[i, j] = v
            cov[j, i] = v
            k += 1
    return n


@njit(cache=True)
def standardise(cov: np.ndarray, cross: np.ndarray, var_s: float, sd: np.ndarray) -> float:
    """Turn raw (population) moments into correlations, in place: ``cov`` (C, C) among the
    concepts, ``cross`` (C,) with the signal, whose variance is ``var_s``. Fills each concept's
    standard deviation ``sd`` and returns the signal's. A concept without variance (at most
    1e-18) gets sd 0 and correlation 0 with everything, itself included; so does everything
    when the signal has none. A fit b on the correlations means weights b_c sd_s / sd_c."""
    c_n = cross.shape[0]
    for c in range(c_n):
        sd[c] = np.sqrt(cov[c, c]) if cov[c, c] > 1e-18 else 0.0
    sd_s = np.sqrt(var_s) if var_s > 1e-18 else 0.0
    for i in range(c_n):
        cross[i] = cross[i] / (sd[i] * sd_s) if sd[i] > 0.0 and sd_s > 0.0 else 0.0
        for j in range(c_n):
            cov[i, j] = cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0.0 and sd[j] > 0.0 else 0.0
    return sd_s


# ---- the reads and writes the kernel makes (traits) -------------------------------------------


@trait
def memory_open(memory, r):
    """The cursor ``mc`` for one kernel call: a tuple of int64 scalars (the slot written next
    first) that every read takes and every write returns updated. (Scalars, so that they
    live in registers; the traits read arrays from the bundle in place, never binding one to
    a variable, which would cost two reference counts per step.)"""


@trait
def memory_remember(memory, r, mc, phi, sig):
    """Record one step: concept values ``phi`` (NaN: undefined) and the signal (NaN: none);
    return the cursor."""


@trait
def memory_sync(memory, r, mc):
    """Bring the statistics up to date before they are read; return the cursor."""


@trait
def memory_evidence(memory, r, mc, p):
    """Remembered steps on which both concepts of pair ``p`` are defined."""


@trait
def memory_agreement(memory, r, mc, p, i, j):
    """Of those, the steps on which concepts ``i`` and ``j`` (pair ``p``) are equal."""


@trait
def memory_signal_samples(memory, r, mc):
    """Remembered steps with a signal."""


@trait
def memory_fit_moments(memory, r, mc, cov, cross, sd, mean, raw):
    """Fill the standardised moments the regression fits (``standardise``: correlations of
    the concepts among themselves ``cov`` and with the signal ``cross``) and each concept's
    standard deviation ``sd``; return the signal's (0: no variance, nothing to fit). A fit w
    on these moments means weights w * sd_s / sd. ``mean`` (C,) and ``raw`` (C, C) are
    scratch."""


@trait
def memory_signal_agreement(memory, r, mc, out):
    """Per concept, the share of remembered steps on which it equals the signal (-1: none)."""


@trait
def memory_close(memory, r, mc):
    """Store the per-run state at the end of a kernel call."""


# ---- CodedMemory ------------------------------------------------------------------------------


@memory_open.register(CodedMemory)
def _coded_open(memory, r):
    return memory.pos[r], np.int64(0)  # (slot written next, codes with a pending delta)


@memory_remember.register(CodedMemory)
def _coded_remember(memory, r, mc, phi, sig):
    pos, n_dirty = mc
    # base-3 digits (Horner, from the signal down): 1 for a value of 1, 0 for 0, 2 undefined
    code = digit(sig)
    for c in range(len(phi) - 1, -1, -1):
        code = 3 * code + digit(phi[c])
    old = memory.codes[r, pos]
    memory.delta[r, code] += 1
    memory.delta[r, old] -= 1
    if not memory.mark[r, code]:
        memory.mark[r, code] = True
        memory.dirty[r, n_dirty] = code
        n_dirty += 1
    if not memory.mark[r, old]:
        memory.mark[r, old] = True
        memory.dirty[r, n_dirty] = old
        n_dirty += 1
    memory.codes[r, pos] = code
    pos += 1
    if pos == memory.codes.shape[1]:
        pos = np.int64(0)
    return pos, n_dirty


@memory_sync.register(CodedMemory)
def _coded_sync(memory, r, mc):
    for i in range(mc[1]):
        code = memory.dirty[r, i]
        d = memory.delta[r, code]
        if d != 0:
            for j in range(memory.stats.shape[1]):
                memory.stats[r, j] += d * memory.table[code, j]
            memory.delta[r, code] = 0
        memory.mark[r, code] = False
    return mc[0], np.int64(0)


@memory_evidence.register(CodedMemory)
def _coded_evidence(memory, r, mc, p):
    return memory.stats[r, memory.evid + p]


@memory_agreement.register(CodedMemory)
def _coded_agreement(memory, r, mc, p, i, j):
    return memory.stats[r, memory.agree + p]


@memory_signal_samples.register(CodedMemory)
def _coded_samples(memory, r, mc):
    return memory.stats[r, memory.n_s]


@memory_fit_moments.register(CodedMemory)
def _coded_moments(memory, r, mc, cov, cross, sd, mean, raw):
    n = coded_moments(memory.stats[r], memory.n_s, memory.sum_s, memory.sum_phi,
                      memory.sum_pp, memory.sum_ps, cov, cross)  # fmt: skip
    ms = memory.stats[r, memory.sum_s] / n if n > 0 else 0.0
    return standardise(cov, cross, ms - ms * ms, sd)  # the signal is 0/1: var = m(1 - m)


@memory_signal_agreement.register(CodedMemory)
def _coded_signal_agreement(memory, r, mc, out):
    stats = memory.stats
    for c in range(out.shape[0]):
        n = stats[r, memory.sevid + c]
        out[c] = stats[r, memory.sagree + c] / n if n > 0 else -1.0


@memory_close.register(CodedMemory)
def _coded_close(memory, r, mc):
    mc = memory_sync(memory, r, mc)
    memory.pos[r] = mc[0]


# ---- ValueMemory ------------------------------------------------------------------------------


@memory_open.register(ValueMemory)
def _value_open(memory, r):
    return memory.pos[r], memory.n[r]  # (slot written next, slots written)


@memory_remember.register(ValueMemory)
def _value_remember(memory, r, mc, phi, sig):
    pos, n = mc
    for c in range(len(phi)):
        memory.values[r, pos, c] = phi[c]
    pos += 1
    if pos == memory.values.shape[1]:
        pos = np.int64(0)
    if n < memory.values.shape[1]:
        n += 1
    return pos, n


@memory_sync.register(ValueMemory)
def _value_sync(memory, r, mc):
    return mc


@memory_evidence.register(ValueMemory)
def _value_evidence(memory, r, mc, p):
    return mc[1]


@memory_agreement.register(ValueMemory)
def _value_agreement(memory, r, mc, p, i, j):
    values = memory.values
    agree = 0
    for m in range(mc[1]):
        if values[r, m, i] == values[r, m, j]:
            agree += 1
    return agree


@memory_signal_samples.register(ValueMemory)
def _value_samples(memory, r, mc):
    return mc[1]


@memory_fit_moments.register(ValueMemory)
def _value_moments(memory, r, mc, cov, cross, sd, mean, raw):
    # correlations over the first n slots (two-pass, float64); 0 rows for constant concepts
    mem = memory.values[r]
    n = mc[1]
    sig = memory.signal
    c_n = cross.shape[0]
    for c in range(c_n):
        mean[c] = 0.0
    for m in range(n):
        for c in range(c_n):
            mean[c] += mem[m, c]
    for c in range(c_n):
        mean[c] /= n
    raw[:] = 0.0
    for m in range(n):
        for i in range(c_n):
            di = mem[m, i] - mean[i]
            for j in range(i, c_n):
                raw[i, j] += di * (mem[m, j] - mean[j])
    for i in range(c_n):
        for j in range(i, c_n):
            raw[i, j] /= n
            raw[j, i] = raw[i, j]
    for i in range(c_n):
        cross[i] = raw[i, sig]
        for j in range(c_n):
            cov[i, j] = raw[i, j]
    return standardise(cov, cross, raw[sig, sig], sd)


@memory_signal_agreement.register(ValueMemory)
def _value_signal_agreement(memory, r, mc, out):
    mem = memory.values[r]
    n = mc[1]
    sig = memory.signal
    for c in range(out.shape[0]):
        out[c] = 0.0
    for m in range(n):
        for c in range(out.shape[0]):
            if mem[m, c] == mem[m, sig]:
                out[c] += 1.0
    for c in range(out.shape[0]):
        out[c] = out[c] / n if n > 0 else -1.0


@memory_close.register(ValueMemory)
def _value_close(memory, r, mc):
    memory.pos[r] = mc[0]
    memory.n[r] = mc[1]
