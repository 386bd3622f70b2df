"""Counter-based per-run random numbers.

Each run owns a 64-bit key (from its own ``numpy.random.SeedSequence``) and a counter, both kept
in arrays. Draw ``n`` of a run is ``splitmix64(key + n * golden)``: it depends only on the run's
key and how many draws it has made, never on batch size, thread or machine (Salmon et al. 2011,
"Parallel random numbers: as easy as 1, 2, 3", make the case for counter-based generators;
the mixer is Steele et al. 2014's SplitMix64 finalizer).
"""

from __future__ import annotations

import numpy as np
from numba import int64, njit, uint64

U64 = np.uint64

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(inline="always")
def mix64(z: U64) -> U64:
    """SplitMix64 finalizer: a bijective avalanche of 64 bits."""
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(inline="always")
def draw_u64(key: U64, counter: int) -> U64:
    """The ``counter``-th 64-bit draw of the stream ``key`` (counter is a signed int64)."""
    return mix64(key + uint64(counter + 1) * GOLDEN)


@njit(inline="always")
def draw_unit(key: U64, counter: int) -> float:
    """A uniform float in [0, 1) with 53 random bits."""
    return float(draw_u64(key, counter) >> uint64(11)) * _TO_UNIT


@njit(inline="always")
def draw_below(key: U64, counter: int, n: int) -> np.int64:
    """A uniform integer in [0, n) (Lemire's multiply-shift; bias below 2**-32 for small n)."""
    return int64(((draw_u64(key, counter) >> uint64(32)) * uint64(n)) >> uint64(32))


@njit(inline="always")
def split_unit(x: U64) -> float:
    """A uniform float in [0, 1) from the high 32 bits of a draw."""
    return float(x >> uint64(32)) * 2.3283064365386963e-10


@njit(inline="always")
def split_below(x: U64, n: int) -> np.int64:
    """A uniform integer in [0, n) from the low 32 bits of the same draw (independent bits)."""
    return int64(((x & uint64(0xFFFFFFFF)) * uint64(n)) >> uint64(32))


@njit(inline="always")
def split_hit(x: U64, threshold: U64) -> np.bool_:
    """True with probability threshold / 2**32, from the high 32 bits (see ``threshold32``)."""
    return (x >> uint64(32)) < threshold


def threshold32(p: float) -> int:
    """The integer threshold for ``split_hit`` that fires with probability ``p`` (to 2**-32)."""
    return min(round(p * 2.0**32), 2**32)


def run_seed_sequence(seed: int, run: int) -> np.random.SeedSequence:
    """The SeedSequence of run ``run``: the ``run``-th child of ``SeedSequence(seed)``."""
    return np.random.SeedSequence(seed, spawn_key=(run,))


def run_keys(seed: int, runs: np.ndarray) -> np.ndarray:
    """One uint64 stream key per run index, derived only from (seed, run)."""
    out = np.empty(len(runs), dtype=np.uint64)
    for i, r in enumerate(runs):
        out[i] = run_seed_sequence(seed, int(r)).generate_state(1, dtype=np.uint64)[0]
    return out


def run_generator(seed: int, run: int, purpose: int) -> np.random.Generator:
    """A numpy Generator for set-up draws of one run (``purpose`` separates independent uses)."""
    ss = np.random.SeedSequence(seed, spawn_key=(run, 1_000_000 + purpose))
    return np.random.Generator(np.random.PCG64(ss))
