"""Spectra of W_hh and Pascanu et al.'s bound.

||dh_T/dh_{T-l}|| <= (gamma * sigma_max(W_hh))**l, so sigma_max < 1/gamma is
sufficient for vanishing gradients and sigma_max > 1/gamma necessary (not
sufficient) for exploding ones (Pascanu, Mikolov, Bengio 2013).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .logdomain import normal_range


@dataclass(frozen=True)
class Spectrum:
    """eigenvalues : (n,) complex, sorted by decreasing modulus
    singular_values : (n,) decreasing
    spectral_radius = max |lambda|,  spectral_norm = sigma_max."""

    eigenvalues: np.ndarray
    singular_values: np.ndarray
    spectral_radius: float
    spectral_norm: float
    # log10 sigma_max, exact to rounding even where sigma_max itself is subnormal (a float
    # there has a few bits: 1e-323 is 2 x 4.9e-324) -- what the bounds use
    log10_spectral_norm: float = 0.0

    @property
    def outside_unit_circle(self) -> int:
        """How many eigenvalues lie outside the unit circle (|lambda| > 1)."""
        return count_outside_unit_circle(self.eigenvalues)


def spectrum(w: np.ndarray) -> Spectrum:
    """Eigen and singular values of w : (n, n)."""
    eig = np.linalg.eigvals(w)
    eig = eig[np.argsort(-np.abs(eig), kind="stable")]
    sv = np.linalg.svd(w, compute_uv=False)
    scaled, shift = normal_range(w)
    if shift:  # tiny entries: sigma_max of w scaled by a power of 2 (exact)
        log_sigma = shift + float(np.log10(np.linalg.svd(scaled, compute_uv=False)[0]))
    else:
        with np.errstate(divide="ignore"):
            log_sigma = float(np.log10(sv[0])) if sv.size else -np.inf
    return Spectrum(eig, sv, float(np.abs(eig[0])), float(sv[0]), log_sigma)


def pascanu_log10_bound(
    gamma: float, sigma_max: float, seq_len: int, log10_sigma: float | None = None
) -> np.ndarray:
    """l * log10(gamma * sigma_max) for l = 0..T : (T + 1,); -inf for l > 0 if sigma_max = 0.
    log10_sigma : Spectrum.log10_spectral_norm, used where sigma_max is below the normal range
    (a subnormal float is too coarse for the bound)."""
    distance = np.arange(seq_len + 1, dtype=float)
    if sigma_max == 0.0 and (log10_sigma is None or log10_sigma == -np.inf):
        return np.where(distance == 0, 0.0, -np.inf)
    product = gamma * sigma_max
    if product < np.finfo(float).tiny:  # below the normal range: apart, so it cannot underflow
        log_sigma = np.log10(sigma_max) if log10_sigma is None else log10_sigma
        return distance * (np.log10(gamma) + log_sigma)
    return distance * np.log10(product)


@dataclass(frozen=True)
class BoundFactors:
    """The vanilla RNN's bound as the lecture writes it (Pascanu et al.), factor by factor:

        ||dh_T/dh_{T-l}|| <= ||W_hh||^l prod_{t=T-l+1..T} ||diag(phi'(a_t))||

    weight : (T + 1,) l log10 ||W_hh||_2 (-inf for l > 0 if W_hh = 0)
    slope : (T + 1,) sum over the last l steps of log10 max_i |phi'(a_t,i)| (-inf from the
        first step back whose slope is exactly 0 everywhere)
    median_slope : the median of |phi'(a_t,i)| over every step and unit; far below the
        largest slope of each step when most units are saturated, which the bound ignores
    ``weight + slope`` is the bound, log10 of its right-hand side, for l = 0..T.
    """

    weight: np.ndarray
    slope: np.ndarray
    median_slope: float

    @property
    def bound(self) -> np.ndarray:
        return self.weight + self.slope

    @property
    def mean_top_slope(self) -> float | None:
        """The geometric mean over the T steps of each step's largest slope max_i |phi'(a_t,i)|,
        10**(slope[T] / T); None when a step's slope is exactly 0 (or T = 0)."""
        t_len = len(self.slope) - 1
        if t_len == 0 or not np.isfinite(self.slope[-1]):
            return None
        return float(10.0 ** (self.slope[-1] / t_len))


def bound_factors(
    sigma_max: float, log_dphi: np.ndarray, log10_sigma: float | None = None
) -> BoundFactors:
    """The factors of the bound from sigma_max(W_hh) (and its accurate log10, see
    pascanu_log10_bound) and log_dphi : (T, n), the natural log of phi'(a_t) for t = 1..T
    (-inf where phi' is exactly 0)."""
    t_len = log_dphi.shape[0]
    weight = pascanu_log10_bound(1.0, sigma_max, t_len, log10_sigma)
    tops = np.max(log_dphi, axis=1) / np.log(10.0) if log_dphi.shape[1] else np.zeros(t_len)
    slope = np.concatenate([[0.0], np.cumsum(tops[::-1])])
    median = float(np.exp(np.median(log_dphi))) if log_dphi.size else 1.0
    return BoundFactors(weight=weight, slope=slope, median_slope=median)


ON_CIRCLE = 1e-9  # |lambda| within this of 1 is on the unit circle: rounding decides no side


def count_outside_unit_circle(eigenvalues: np.ndarray) -> int:
    """How many of eigenvalues : (n,) have |lambda| > 1 + ON_CIRCLE (an eigenvalue set on the
    circle, |lambda| = 1, computed as 1 + 4e-16, is not outside it)."""
    return int(np.count_nonzero(np.abs(eigenvalues) > 1.0 + ON_CIRCLE))
