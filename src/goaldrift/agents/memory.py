"""Replay memory of world-recorded concept values, kept as per-run sufficient statistics.

Each memory slot holds one code: a base-3 digit per concept (0, 1, or 2 = undefined) and one
for the signal (0, 1, or 2 = absent). A table maps each code to its contribution to every
statistic the agent needs (pairwise agreement and evidence, signal moments for the lasso).
The kernel counts per code how many slots were added and evicted, and applies
count x table row to the statistics just before it reads them (relation updates, refits,
window ends), so a step costs two increments instead of two table-row additions. The memory
records every concept, known or not, so a concept the agent becomes aware of later is read
back from memory.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

UNDEFINED = 2


def pairs(n_concepts: int) -> list[tuple[int, int]]:
    """Concept pairs in a fixed order: (0,1), (0,2), ..."""
    return list(combinations(range(n_concepts), 2))


class StatLayout:
    """Offsets of each statistic in a row of the code table (for ``c`` concepts)."""

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
    lay = StatLayout(c)
    table = np.zeros((lay.n_codes + 1, lay.width), np.int32)
    for code in range(lay.n_codes):
        digits = [(code // 3**k) % 3 for k in range(c + 1)]
        phi, s = digits[:c], digits[c]
        val = [d if d != UNDEFINED else 0 for d in phi]  # undefined counts as 0 in fits
        row = table[code]
        if s != UNDEFINED:
            row[lay.N_S] = 1
            row[lay.SUM_S] = s
            for i in range(c):
                row[lay.SUM_PHI + i] = val[i]
                row[lay.SUM_PS + i] = val[i] * s
            for k, (i, j) in enumerate(lay.sq):
                row[lay.SUM_PP + k] = val[i] * val[j]
            for i in range(c):
                if phi[i] != UNDEFINED:
                    row[lay.SEVID + i] = 1
                    row[lay.SAGREE + i] = int(phi[i] == s)
        for k, (i, j) in enumerate(lay.pairs):
            if phi[i] != UNDEFINED and phi[j] != UNDEFINED:
                row[lay.EVID + k] = 1
                row[lay.AGREE + k] = int(phi[i] == phi[j])
    return table
