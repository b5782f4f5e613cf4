"""Recurrent weight initialisations and the choices of inputs and initial states."""

from __future__ import annotations

import numpy as np

INITS = ("gaussian", "orthogonal", "identity", "pytorch")
INPUTS = ("random", "zeros")
H0S = ("zeros", "random")


def spectral_radius(w: np.ndarray) -> float:
    """max |lambda_i(w)| for a square matrix w : (n, n)."""
    return float(np.max(np.abs(np.linalg.eigvals(w)))) if w.size else 0.0


def haar_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed orthogonal (n, n) matrix: QR of a Gaussian with sign fix."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign(diag R) is never 0 for a Gaussian draw


def init_recurrent(init: str, n: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """W_hh : (n, n).

    - ``gaussian``: iid N(0, 1), rescaled so that its spectral radius is ``scale``.
    - ``orthogonal``: Haar orthogonal times ``scale`` (every singular value = scale).
    - ``identity``: ``scale * I``.
    - ``pytorch``: U(-1/sqrt(n), 1/sqrt(n)) times ``scale``, as nn.RNNCell draws it.
    """
    if init == "gaussian":
        w = rng.standard_normal((n, n))
        return w * (scale / spectral_radius(w))
    if init == "orthogonal":
        return scale * haar_orthogonal(n, rng)
    if init == "identity":
        return scale * np.eye(n)
    if init == "pytorch":
        k = 1.0 / np.sqrt(n)
        return scale * rng.uniform(-k, k, size=(n, n))
    raise ValueError(f"unknown init {init!r}; choose from {list(INITS)}")
