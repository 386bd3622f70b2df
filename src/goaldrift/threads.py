"""Kernel thread count: numba's pool, set per command, never at import."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from contextlib import contextmanager

import numba

from goaldrift.errors import ConfigError


def max_threads() -> int:
    """Threads numba may use on this machine (NUMBA_NUM_THREADS)."""
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


def check_threads(n: object, key: str = "--threads") -> int:
    """``n`` as a thread count numba can use, else a ``ConfigError`` naming ``key``."""
    try:
        k = operator.index(n)  # type: ignore[arg-type]
    except TypeError:
        k = 0
    if isinstance(n, bool) or not 1 <= k <= max_threads():
        raise ConfigError(key, f"an integer between 1 and {max_threads()}", n)
    return k


def set_threads(n: int | None) -> None:
    """Use ``n`` kernel threads (None: all); results do not depend on it."""
    if n is None:
        return
    numba.set_num_threads(check_threads(n))


@contextmanager
def using_threads(n: int | None) -> Iterator[None]:
    """Run the block's kernels on ``n`` threads (None: as set), then restore the count. numba's
    count belongs to the calling thread, so other threads are not affected."""
    if n is None:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)
