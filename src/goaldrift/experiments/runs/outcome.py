"""The outcome classes of docs/model.md §5 (decided in ``verdicts``) and the Wilson interval."""

from __future__ import annotations

import numpy as np

OUTCOMES = ("aligned", "proxy", "wirehead", "mixed")


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a proportion k/n (Wilson 1927); (0, 1) when n is 0."""
    lo, hi = wilson_bounds(np.array([k]), np.array([n]), z)
    return (float(lo[0]), float(hi[0]))


def wilson_bounds(
    k: np.ndarray, n: np.ndarray, z: float = 1.959964
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score intervals elementwise over arrays of counts; (0, 1) where n is 0."""
    k = np.asarray(k, np.int64)
    n = np.asarray(n, np.int64)
    m = np.maximum(n, 1)
    p = k / m
    den = 1 + z * z / m
    mid = (p + z * z / (2 * m)) / den
    half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / den
    lo = np.where(k == 0, 0.0, np.maximum(0.0, mid - half))
    hi = np.where(k == n, 1.0, np.minimum(1.0, mid + half))
    return np.where(n == 0, 0.0, lo), np.where(n == 0, 1.0, hi)
