"""The counter-based per-run random stream (``goaldrift.rng``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from goaldrift.rng import (
    GOLDEN,
    draw_below,
    draw_u64,
    draw_unit,
    mix64,
    run_generator,
    run_keys,
    run_seed_sequence,
    split_below,
    split_hit,
    split_unit,
    threshold32,
)

MASK64 = (1 << 64) - 1


def splitmix64_reference(state: int, n: int) -> list[int]:
    """Steele et al. 2014's SplitMix64 in plain Python integers: ``n`` outputs from ``state``."""
    out = []
    for _ in range(n):
        state = (state + int(GOLDEN)) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        out.append(z ^ (z >> 31))
    return out


# Wrappers that call the inline numba functions from compiled code over many counters, the
# way the kernel does (one draw per counter; split_* read the high and low halves of it).
@njit(cache=False)
def _draws(key, start, n):
    out = np.empty(n, np.uint64)
    for i in range(n):
        out[i] = draw_u64(key, start + i)
    return out


@njit(cache=False)
def _units(key, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = draw_unit(key, i)
    return out


@njit(cache=False)
def _belows(key, n, m):
    out = np.empty(n, np.int64)
    for i in range(n):
        out[i] = draw_below(key, i, m)
    return out


@njit(cache=False)
def _split_pairs(key, n, m, threshold):
    """(split_below(x, m), split_hit(x, threshold)) for the draws x of counters 0..n-1."""
    below = np.empty(n, np.int64)
    hit = np.empty(n, np.bool_)
    unit = np.empty(n)
    for i in range(n):
        x = draw_u64(key, i)
        below[i] = split_below(x, m)
        hit[i] = split_hit(x, threshold)
        unit[i] = split_unit(x)
    return below, hit, unit


def chi_square(observed: np.ndarray, expected: np.ndarray) -> float:
    return float(((observed - expected) ** 2 / expected).sum())


def test_draw_u64_is_splitmix64_of_key_plus_counter_steps() -> None:
    # draw n of stream `key` is SplitMix64's output n from state `key` (a reference test).
    key = 1234567
    ref = splitmix64_reference(key, 5)
    assert ref[0] == 6457827717110365317  # the published first output for seed 1234567
    got = _draws(np.uint64(key), 0, 5)
    assert [int(v) for v in got] == ref


@given(st.integers(0, MASK64), st.integers(0, 2**40))
@settings(max_examples=50, deadline=None)
def test_same_key_and_counter_give_the_same_draw(key: int, counter: int) -> None:
    k = np.uint64(key)
    a = draw_u64(k, counter)
    b = draw_u64(k, counter)
    assert a == b
    # the batch wrapper (compiled caller, inlined) agrees with the direct call
    assert _draws(k, counter, 1)[0] == a
    assert int(a) == splitmix64_reference((key + counter * int(GOLDEN)) & MASK64, 1)[0]


def test_draw_depends_on_counter_and_key() -> None:
    a = _draws(np.uint64(7), 0, 10_000)
    assert len(np.unique(a)) == len(a)
    b = _draws(np.uint64(8), 0, 10_000)
    assert not np.any(a == b)
    # a window of the stream is the same stream, shifted (no hidden state)
    np.testing.assert_array_equal(_draws(np.uint64(7), 100, 50), a[100:150])


def test_mix64_direct_call_matches_reference() -> None:
    z = 0xDEADBEEFCAFEBABE
    ref = splitmix64_reference((z - int(GOLDEN)) & MASK64, 1)[0]
    assert int(mix64(np.uint64(z))) == ref


def test_split_below_in_range_and_close_to_uniform() -> None:
    n, m = 70_000, 7
    below, _, _ = _split_pairs(np.uint64(2024), n, m, np.uint64(threshold32(0.5)))
    assert below.min() >= 0 and below.max() < m
    obs = np.bincount(below, minlength=m).astype(float)
    # chi-square, 6 degrees of freedom: P(X > 35) is about 4e-6
    assert chi_square(obs, np.full(m, n / m)) < 35.0


@pytest.mark.parametrize("m", [1, 2, 3, 64, 1000])
def test_split_below_never_leaves_range(m: int) -> None:
    below, _, _ = _split_pairs(np.uint64(99), 5_000, m, np.uint64(0))
    assert below.min() >= 0 and below.max() <= m - 1
    if m <= 64:
        assert len(np.unique(below)) == m  # every value shows up


def test_split_below_at_extreme_draws() -> None:
    # the low 32 bits all ones must still land below n
    assert split_below(np.uint64(MASK64), 5) == 4
    assert split_below(np.uint64(0), 5) == 0
    assert split_below(np.uint64(0xFFFFFFFF00000000), 5) == 0  # high bits do not matter


@pytest.mark.parametrize("p", [0.0, 0.01, 0.1, 0.5, 0.9, 1.0])
def test_split_hit_fires_with_probability_p(p: float) -> None:
    n = 100_000
    _, hit, _ = _split_pairs(np.uint64(31337), n, 3, np.uint64(threshold32(p)))
    k = int(hit.sum())
    if p == 0.0:
        assert k == 0
    elif p == 1.0:
        assert k == n
    else:
        sd = np.sqrt(n * p * (1 - p))
        assert abs(k - n * p) < 5 * sd


def test_threshold32_values() -> None:
    assert threshold32(0.0) == 0
    assert threshold32(0.5) == 2**31
    assert threshold32(1.0) == 2**32
    assert threshold32(0.25) == 2**30
    ps = np.linspace(0, 1, 101)
    ts = [threshold32(float(p)) for p in ps]
    assert ts == sorted(ts)
    assert all(0 <= t <= 2**32 for t in ts)


def test_split_hit_and_split_below_of_one_draw_are_independent() -> None:
    # The kernel takes hard-or-easy (high bits) and the type (low bits) from one draw.
    n, m, p = 80_000, 4, 0.3
    below, hit, _ = _split_pairs(np.uint64(5), n, m, np.uint64(threshold32(p)))
    table = np.zeros((2, m))
    np.add.at(table, (hit.astype(int), below), 1)
    expected = np.outer(table.sum(1), table.sum(0)) / n
    # chi-square, (2-1)(4-1) = 3 degrees of freedom: P(X > 30) is about 1.4e-6
    assert chi_square(table, expected) < 30.0


def test_draw_unit_and_split_unit_in_unit_interval_with_mean_half() -> None:
    u = _units(np.uint64(11), 50_000)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / len(u))
    _, _, su = _split_pairs(np.uint64(11), 50_000, 2, np.uint64(0))
    assert su.min() >= 0.0 and su.max() < 1.0
    assert abs(su.mean() - 0.5) < 5 * np.sqrt(1 / 12 / len(su))


def test_draw_below_in_range_and_uniform() -> None:
    n, m = 60_000, 6
    b = _belows(np.uint64(77), n, m)
    assert b.min() >= 0 and b.max() < m
    obs = np.bincount(b, minlength=m).astype(float)
    assert chi_square(obs, np.full(m, n / m)) < 32.0  # 5 dof: P(X > 32) is about 6e-6


def test_run_keys_depend_only_on_seed_and_run() -> None:
    many = run_keys(3, np.arange(10))
    alone = run_keys(3, np.array([5]))
    assert many.dtype == np.uint64
    assert alone[0] == many[5]
    shuffled = np.array([9, 5, 0])
    np.testing.assert_array_equal(run_keys(3, shuffled), many[[9, 5, 0]])
    assert run_keys(3, np.array([5]))[0] == alone[0]  # deterministic across calls


def test_run_keys_differ_between_runs_and_seeds() -> None:
    keys = run_keys(0, np.arange(1000))
    assert len(np.unique(keys)) == 1000
    other = run_keys(1, np.arange(1000))
    assert not np.any(keys == other)


def test_run_keys_come_from_the_runs_seed_sequence() -> None:
    ss = run_seed_sequence(42, 7)
    assert ss.entropy == 42 and ss.spawn_key == (7,)
    # the same as the 7th child spawned from SeedSequence(42)
    child = np.random.SeedSequence(42).spawn(8)[7]
    assert run_keys(42, np.array([7]))[0] == child.generate_state(1, dtype=np.uint64)[0]


def test_run_generator_depends_on_seed_run_and_purpose() -> None:
    a = run_generator(1, 2, 0).integers(2**62, size=4)
    np.testing.assert_array_equal(a, run_generator(1, 2, 0).integers(2**62, size=4))
    for other in (run_generator(1, 2, 1), run_generator(1, 3, 0), run_generator(2, 2, 0)):
        assert not np.array_equal(a, other.integers(2**62, size=4))
