"""Reductions of large arrays for display: a heatmap of 1000 steps x 256 units is more
numbers than a screen has pixels, so figures show bin means over time and the first units."""

from __future__ import annotations

import numpy as np


def bin_steps(values: np.ndarray, max_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``values`` : (T, ...) over consecutive, equal bins of steps.

    Returns (steps, binned): steps (B,) the first step t (1-based) of each bin and
    binned (B, ...) the bin means; B = T when T <= max_bins (nothing is averaged).
    """
    t_len = values.shape[0]
    width = max(1, -(-t_len // max_bins))  # ceil(T / max_bins)
    starts = np.arange(0, t_len, width)
    sums = np.add.reduceat(values, starts, axis=0)
    counts = np.diff(np.append(starts, t_len)).reshape((-1,) + (1,) * (values.ndim - 1))
    return starts + 1, sums / counts
