"""Numbers carried as a mantissa and a log10 scale, so that 1e477 and 1e-1000 stay exact.

The lowest layer of the engine's arithmetic: it imports NumPy only, and every other module
(cells, BPTT, clipping, truncation) may import it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def log10_norm(x: np.ndarray) -> float:
    """log10 of the 2-norm (Frobenius for matrices); -inf for a zero array."""
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top == 0.0:
        return -np.inf
    return float(np.log10(top) + np.log10(np.linalg.norm(x / top)))


def log10_row_norms(x: np.ndarray) -> np.ndarray:
    """log10 of the 2-norm of every row of x : (m, n); -inf for zero rows."""
    top = np.max(np.abs(x), axis=1)
    safe = np.where(top > 0, top, 1.0)
    with np.errstate(divide="ignore"):
        return np.log10(top) + np.log10(np.linalg.norm(x / safe[:, None], axis=1) + (top == 0))


TINY_ENTRIES = 1e-290  # a matrix whose largest |entry| is below this is scaled up first


def normal_range(w: np.ndarray) -> tuple[np.ndarray, float]:
    """(w, 0.0) or, when w's largest |entry| is below TINY_ENTRIES, (w 2^-e, log10 2^e) with
    the power of 2 (an exact scaling) that brings that entry to [0.5, 1). Products and norms of
    a matrix of subnormal entries (a quantum of 4.9e-324) lose their digits: the running
    product folds 1/||P||_F into each factor, which such a factor rounds away, and sigma_max as
    a subnormal float is too coarse for a bound."""
    top = float(np.max(np.abs(w))) if w.size else 0.0
    if not 0.0 < top < TINY_ENTRIES:
        return w, 0.0
    e = int(np.frexp(top)[1])
    return np.ldexp(w, -e), e * float(np.log10(2.0))


def slope_weights(log_dphi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each step's slopes with its largest factored out: (weights, log10 tops) where
    phi'(a_t) = 10**tops[t] * weights[t], so a slope far below float64's range stays exact
    relative to the others. log_dphi : (T, n) natural logs; weights (T, n) in [0, 1];
    tops (T,), -inf for a step whose slopes are all zero (its weights are then not used)."""
    tops = np.max(log_dphi, axis=1)
    safe = np.where(tops > -np.inf, tops, 0.0)
    return np.exp(log_dphi - safe[:, None]), tops / np.log(10.0)


@dataclass(frozen=True)
class ScaledTensors:
    """Named arrays that share one scale: value = mantissa * 10**log10_scale."""

    mantissa: dict[str, np.ndarray]
    log10_scale: float

    def log10_norms(self) -> dict[str, float]:
        return {k: log10_norm(v) + self.log10_scale for k, v in self.mantissa.items()}

    def log10_total_norm(self) -> float:
        """log10 of the 2-norm over all tensors together (PyTorch's total_norm)."""
        return log10_norm(np.concatenate([v.ravel() for v in self.mantissa.values()])) + (
            self.log10_scale
        )


@dataclass(frozen=True)
class StepTerms:
    """The per-step terms of dL/dW_hh = sum_k A_k (k = 1..T), as factors:

        A_k = 10**scale[k - 1] * [outer(left[k - 1], right[k - 1]) for each block], the
        blocks' rows stacked in weight_hh's row order.

    The vanilla RNN has one block (delta_k, h_{k-1}); the gated cells two: the gate rows
    that read h_{t-1}, and the last n rows, which read ``right_n`` (see
    cells.gated.gated_parameter_gradients).
    left : (T, rows of the block), right : (T, n) mantissas; scale : (T,) log10, -inf for
    a term that is exactly zero.
    """

    blocks: tuple[tuple[np.ndarray, np.ndarray], ...]
    scale: np.ndarray


def add_scaled(g: np.ndarray, scale: float, v: np.ndarray, rows: slice) -> tuple[np.ndarray, float]:
    """g * 10**scale + v (v added into g[rows]) as a new (mantissa, log10 scale).

    g : (m,) a mantissa, scale its log10 scale (-inf for a zero g); v : plain floats, the
    size of g[rows]. The sum is carried at the larger of the two scales, each side divided
    by its own largest entry first, so neither overflows nor underflows needlessly. A zero v
    returns g and scale unchanged (nothing is added).
    """
    top_v = float(np.max(np.abs(v))) if v.size else 0.0
    if top_v == 0.0:
        return g, scale
    top_g = float(np.max(np.abs(g))) if scale > -np.inf else 0.0
    log_v = float(np.log10(top_v))
    if top_g == 0.0:
        out = np.zeros_like(g, dtype=float)
        out[rows] = v / top_v
        return out, log_v
    log_g = scale + float(np.log10(top_g))
    top = max(log_g, log_v)
    out = (g / top_g) * 10.0 ** (log_g - top)
    out[rows] += (v / top_v) * 10.0 ** (log_v - top)
    return out, top
