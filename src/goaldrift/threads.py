"""Kernel thread count: numba's pool, set per command, never at import."""

from __future__ import annotations

import numba

from goaldrift.errors import ConfigError


def max_threads() -> int:
    """Threads numba may use on this machine (NUMBA_NUM_THREADS)."""
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


def set_threads(n: int | None) -> None:
    """Use ``n`` kernel threads (None: all); results do not depend on it."""
    if n is None:
        return
    if not 1 <= n <= max_threads():
        raise ConfigError("--threads", f"between 1 and {max_threads()}", n)
    numba.set_num_threads(n)
