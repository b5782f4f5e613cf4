"""Spectra of W_hh and Pascanu et al.'s bound.

||dh_T/dh_{T-l}|| <= (gamma * sigma_max(W_hh))**l, so sigma_max < 1/gamma is
sufficient for vanishing gradients and sigma_max > 1/gamma necessary (not
sufficient) for exploding ones (Pascanu, Mikolov, Bengio 2013).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Spectrum:
    """eigenvalues : (n,) complex, sorted by decreasing modulus
    singular_values : (n,) decreasing
    spectral_radius = max |lambda|,  spectral_norm = sigma_max."""

    eigenvalues: np.ndarray
    singular_values: np.ndarray
    spectral_radius: float
    spectral_norm: float

    @property
    def outside_unit_circle(self) -> int:
        """How many eigenvalues lie outside the unit circle (|lambda| > 1)."""
        return count_outside_unit_circle(self.eigenvalues)


def spectrum(w: np.ndarray) -> Spectrum:
    """Eigen and singular values of w : (n, n)."""
    eig = np.linalg.eigvals(w)
    eig = eig[np.argsort(-np.abs(eig), kind="stable")]
    sv = np.linalg.svd(w, compute_uv=False)
    return Spectrum(eig, sv, float(np.abs(eig[0])), float(sv[0]))


def pascanu_log10_bound(gamma: float, sigma_max: float, seq_len: int) -> np.ndarray:
    """l * log10(gamma * sigma_max) for l = 0..T : (T + 1,); -inf for l > 0 if sigma_max = 0."""
    distance = np.arange(seq_len + 1, dtype=float)
    if sigma_max == 0.0:
        return np.where(distance == 0, 0.0, -np.inf)
    return distance * np.log10(gamma * sigma_max)


def count_outside_unit_circle(eigenvalues: np.ndarray) -> int:
    """How many of eigenvalues : (n,) have |lambda| > 1."""
    return int(np.count_nonzero(np.abs(eigenvalues) > 1.0))
