"""Reductions of large arrays for display: a heatmap of 1000 steps x 256 units is more
numbers than a screen has pixels, so figures show bin means over time and the first units."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


def bin_steps(values: np.ndarray, max_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``values`` : (T, ...) over consecutive, equal bins of steps.

    Returns (steps, binned): steps (B,) the first step t (1-based) of each bin and
    binned (B, ...) the bin means; B = T when T <= max_bins (nothing is averaged).
    """
    t_len = values.shape[0]
    width = bin_width(t_len, max_bins)
    starts = np.arange(0, t_len, width)
    sums = np.add.reduceat(values, starts, axis=0)
    counts = np.diff(np.append(starts, t_len)).reshape((-1,) + (1,) * (values.ndim - 1))
    return starts + 1, sums / counts


def bin_width(t_len: int, max_bins: int) -> int:
    """Steps per bin of ``bin_steps`` for T = t_len: ceil(T / max_bins), at least 1."""
    return max(1, -(-t_len // max_bins))


@dataclass(frozen=True)
class Heatmap:
    """steps : (B,) the first step t (1-based) of each bin
    values : (B, units) the bin means of the first ``units`` columns
    width : steps per bin (1: nothing averaged)"""

    steps: np.ndarray
    values: np.ndarray
    width: int


def heatmap(values: np.ndarray, units: int, max_bins: int) -> Heatmap:
    """The first ``units`` columns of ``values`` : (T, n), in at most ``max_bins`` time bins."""
    steps, binned = bin_steps(values[:, :units], max_bins)
    return Heatmap(steps, binned, bin_width(values.shape[0], max_bins))


def means(arrays: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The mean of every entry of each array, by name."""
    return {name: float(np.mean(a)) for name, a in arrays.items()}


def extents(arrays: Mapping[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """(min, max) of each array, by name."""
    return {name: (float(np.min(a)), float(np.max(a))) for name, a in arrays.items()}


def finite_peak(values: np.ndarray) -> tuple[int, int] | None:
    """For values : (m,) with -inf for exact zeros: (the index of the largest finite value, the
    last index whose value is finite); None when no value is finite."""
    finite = np.flatnonzero(np.isfinite(values))
    if not finite.size:
        return None
    return int(finite[np.argmax(values[finite])]), int(finite[-1])


def window_split(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """values : (m,) over distances l = 0..m-1 as (kept, dropped): the entries with l < window
    and those with l >= window, each NaN elsewhere."""
    distance = np.arange(len(values))
    return (
        np.where(distance < window, values, np.nan),
        np.where(distance >= window, values, np.nan),
    )
