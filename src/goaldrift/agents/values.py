"""Concept values as the run kernel passes them: a tuple with one entry per concept (its
length is part of its type, so every per-concept loop of the step has a trip count known
when the kernel compiles), of small integers on a coded world (0, 1, or 2 for undefined:
Register QA) or of float32 on a real-valued one (NaN for undefined: the gridworlds).
Integers keep the step in registers; Register QA's step runs about 18% faster with them than
with float32 values in an array.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload


def value(x):  # type: ignore[no-untyped-def]
    """The value planning and learning count: undefined counts as 0 (docs/model.md §3)."""


def defined(x):  # type: ignore[no-untyped-def]
    """Whether a concept value is defined (code 2 and NaN are undefined)."""


def digit(x):  # type: ignore[no-untyped-def]
    """The replay memory's base-3 digit: 0, 1, or 2 for undefined (a coded world's value)."""


@overload(value, inline="always", jit_options={"cache": True})  # type: ignore[typeddict-unknown-key]
def _value(x):  # type: ignore[no-untyped-def]
    if isinstance(x, types.Integer):

        def coded(x):  # type: ignore[no-untyped-def]
            if x == 1:
                return np.float32(1.0)
            return np.float32(0.0)

        return coded

    # statements, not conditional expressions: numba's IR checks warn on those when they are
    # inlined into the parallel loop
    def real(x):  # type: ignore[no-untyped-def]
        if x != x:
            return np.float32(0.0)
        return np.float32(x)

    return real


@overload(digit, inline="always", jit_options={"cache": True})  # type: ignore[typeddict-unknown-key]
def _digit(x):  # type: ignore[no-untyped-def]
    if isinstance(x, types.Integer):
        return lambda x: np.int64(x)
    return lambda x: np.int64(x > 0.5) + 2 * np.int64(x != x)


@overload(defined, inline="always", jit_options={"cache": True})  # type: ignore[typeddict-unknown-key]
def _defined(x):  # type: ignore[no-untyped-def]
    if isinstance(x, types.Integer):
        return lambda x: x != 2
    return lambda x: x == x
