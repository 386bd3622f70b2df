"""The replay memory's codes and code table (``goaldrift.agents.memory``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goaldrift.agents.memory import UNDEFINED, StatColumns, code_of, code_table, pairs


def decode(code: int, c: int) -> tuple[list[int], int]:
    digits = [(code // 3**k) % 3 for k in range(c + 1)]
    return digits[:c], digits[c]


def direct_stats(samples: list[tuple[list[int], int]], c: int) -> np.ndarray:
    """Every statistic of the layout, computed straight from decoded samples."""
    lay = StatColumns(c)
    out = np.zeros(lay.width, np.int64)
    for phi, s in samples:
        val = [0 if d == UNDEFINED else d for d in phi]
        if s != UNDEFINED:
            out[lay.N_S] += 1
            out[lay.SUM_S] += s
            for i in range(c):
                out[lay.SUM_PHI + i] += val[i]
                out[lay.SUM_PS + i] += val[i] * s
                if phi[i] != UNDEFINED:
                    out[lay.SEVID + i] += 1
                    out[lay.SAGREE + i] += phi[i] == s
            for k, (i, j) in enumerate(lay.sq):
                out[lay.SUM_PP + k] += val[i] * val[j]
        for k, (i, j) in enumerate(lay.pairs):
            if phi[i] != UNDEFINED and phi[j] != UNDEFINED:
                out[lay.EVID + k] += 1
                out[lay.AGREE + k] += phi[i] == phi[j]
    return out


def test_pairs_order() -> None:
    assert pairs(4) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert pairs(1) == []


@pytest.mark.parametrize("c", [1, 2, 3, 4])
def test_layout_blocks_tile_the_row(c: int) -> None:
    lay = StatColumns(c)
    n_sq = c * (c + 1) // 2
    blocks = [
        (lay.N_S, 1),
        (lay.SUM_S, 1),
        (lay.SUM_PHI, c),
        (lay.SUM_PP, n_sq),
        (lay.SUM_PS, c),
        (lay.EVID, lay.n_pairs),
        (lay.AGREE, lay.n_pairs),
        (lay.SEVID, c),
        (lay.SAGREE, c),
    ]
    pos = 0
    for start, size in blocks:
        assert start == pos
        pos += size
    assert pos == lay.width
    assert lay.n_codes == 3 ** (c + 1)
    assert lay.empty == lay.n_codes


@pytest.mark.parametrize("c", [1, 2, 4])
def test_code_of_round_trips_every_code(c: int) -> None:
    for code in range(3 ** (c + 1)):
        phi, s = decode(code, c)
        assert code_of(phi, s) == code


@given(st.lists(st.integers(0, 2), min_size=1, max_size=6), st.integers(0, 2))
def test_code_of_then_decode(values: list[int], signal: int) -> None:
    code = code_of(values, signal)
    assert 0 <= code < 3 ** (len(values) + 1)
    assert decode(code, len(values)) == (values, signal)


def test_kernel_encoding_matches_code_of() -> None:
    # the QA kernel writes sig*81 + t*27 + p*9 + y*3 + x for concepts (x, y, p, t)
    for x, y, p, t, s in np.ndindex(2, 3, 2, 2, 3):
        assert code_of([x, y, p, t], s) == s * 81 + t * 27 + p * 9 + y * 3 + x


def test_empty_slot_row_is_zero() -> None:
    for c in (1, 3, 4):
        table = code_table(c)
        lay = StatColumns(c)
        assert table.shape == (lay.n_codes + 1, lay.width)
        assert not table[lay.empty].any()


def test_hand_made_memory() -> None:
    # c = 3 concepts (a, b, d); each line: values, signal
    mem = [
        ([1, 1, 0], 1),
        ([1, 0, 2], 1),  # d undefined
        ([0, 0, 0], 0),
        ([1, 2, 1], 2),  # b undefined, signal absent
        ([2, 2, 2], 0),  # all undefined
    ]
    c = 3
    lay = StatColumns(c)
    table = code_table(c)
    stats = sum(table[code_of(v, s)].astype(np.int64) for v, s in mem)
    p = {pr: k for k, pr in enumerate(lay.pairs)}
    # pair evidence skips undefined values; agreement counts equal values among them
    # (a,b): rows 0,1,2 co-defined -> agree on 0 and 2
    assert stats[lay.EVID + p[0, 1]] == 3 and stats[lay.AGREE + p[0, 1]] == 2
    # (a,d): rows 0,2,3 -> agree on 2 and 3
    assert stats[lay.EVID + p[0, 2]] == 3 and stats[lay.AGREE + p[0, 2]] == 2
    # (b,d): rows 0,2 -> agree on 2 only
    assert stats[lay.EVID + p[1, 2]] == 2 and stats[lay.AGREE + p[1, 2]] == 1
    # signal present in rows 0,1,2,4
    assert stats[lay.N_S] == 4
    assert stats[lay.SUM_S] == 2
    # concept-signal agreement: a defined with signal in rows 0,1,2 and agrees in all three
    assert stats[lay.SEVID + 0] == 3 and stats[lay.SAGREE + 0] == 3
    # b: rows 0,1,2 -> agrees on 0 and 2
    assert stats[lay.SEVID + 1] == 3 and stats[lay.SAGREE + 1] == 2
    # d: rows 0,2 (row 1 undefined) -> agrees on row 2 only
    assert stats[lay.SEVID + 2] == 2 and stats[lay.SAGREE + 2] == 1
    # moments count undefined as 0 and use only samples with a signal
    np.testing.assert_array_equal(stats[lay.SUM_PHI : lay.SUM_PHI + c], [2, 1, 0])
    np.testing.assert_array_equal(stats[lay.SUM_PS : lay.SUM_PS + c], [2, 1, 0])
    sq = {pr: k for k, pr in enumerate(lay.sq)}
    assert stats[lay.SUM_PP + sq[0, 0]] == 2
    assert stats[lay.SUM_PP + sq[0, 1]] == 1
    assert stats[lay.SUM_PP + sq[2, 2]] == 0
    np.testing.assert_array_equal(stats, direct_stats(mem, c))


def test_undefined_counts_as_zero_in_moments_only() -> None:
    lay = StatColumns(2)
    table = code_table(2)
    undef = table[code_of([2, 1], 1)]
    zero = table[code_of([0, 1], 1)]
    moment_cols = np.r_[lay.N_S, lay.SUM_S, lay.SUM_PHI : lay.EVID]
    np.testing.assert_array_equal(undef[moment_cols], zero[moment_cols])
    assert undef[lay.EVID] == 0 and zero[lay.EVID] == 1
    assert undef[lay.SEVID] == 0 and zero[lay.SEVID] == 1
    assert zero[lay.AGREE] == 0 and zero[lay.SAGREE] == 0


def test_absent_signal_rows_hold_only_pair_statistics() -> None:
    c = 3
    lay = StatColumns(c)
    table = code_table(c)
    for code in range(lay.n_codes):
        _, s = decode(code, c)
        if s == UNDEFINED:
            assert not table[code, : lay.EVID].any()
            assert not table[code, lay.SEVID :].any()


@given(
    st.integers(1, 4).flatmap(
        lambda c: st.tuples(
            st.just(c),
            st.lists(st.integers(0, 3 ** (c + 1) - 1), min_size=0, max_size=60),
        )
    )
)
@settings(max_examples=60, deadline=None)
def test_summed_rows_equal_direct_statistics(c_codes: tuple[int, list[int]]) -> None:
    c, codes = c_codes
    table = code_table(c)
    got = table[np.array(codes, np.int64)].astype(np.int64).sum(axis=0)
    if not codes:
        got = np.zeros(table.shape[1], np.int64)
    want = direct_stats([decode(code, c) for code in codes], c)
    np.testing.assert_array_equal(got, want)


@given(st.lists(st.integers(0, 3**5 - 1), min_size=1, max_size=40), st.integers(1, 10))
@settings(max_examples=40, deadline=None)
def test_ring_buffer_add_and_evict_keeps_the_window_statistics(codes: list[int], size: int) -> None:
    # The kernel adds the new row and subtracts the evicted one; the result is always the
    # statistics of the last `size` codes (empty slots contribute nothing).
    c = 4
    lay = StatColumns(c)
    table = code_table(c).astype(np.int64)
    mem = np.full(size, lay.empty)
    stats = np.zeros(lay.width, np.int64)
    pos = 0
    for t, code in enumerate(codes):
        stats += table[code] - table[mem[pos]]
        mem[pos] = code
        pos = (pos + 1) % size
        window = codes[max(0, t + 1 - size) : t + 1]
        np.testing.assert_array_equal(stats, direct_stats([decode(x, c) for x in window], c))
