"""Norms of long products of matrices, in the log domain.

For factors J_1, J_2, ..., J_L (each given as a mantissa and a log10 scale) this
computes, for every l = 0..L, ``log10 ||J_1 J_2 ... J_l||`` in the spectral and
the Frobenius norm (l = 0 is the identity). Only the running product is held in
memory, renormalised at every step, so ``3**1000`` or ``0.1**1000`` stay finite
in log10 form.

The spectral norm of each running product is found by a block power iteration
on ``P P^T``, warm-started from the previous product's top left singular
vectors. Appending factors on the right leaves the left singular vectors of the
product nearly unchanged, so one iteration usually certifies the value. The
certificate: for the top Ritz pair (theta, u) of ``P P^T`` on the current block,
``r = P P^T u - theta u``; some eigenvalue of ``P P^T`` lies within ``||r||`` of
``theta``. A step is accepted when ``||r|| <= rtol * theta``, so that
singular value is within ``rtol / 2`` relative. If a step does not certify within
``max_iter`` iterations, it falls back to an exact SVD. Products whose top singular
values stay clustered (an orthogonal W_hh with a slope near 1) fall back at most
steps: exact, but about 20 times slower than the bare chain of products.

That the certified value is the *largest* one rests on the warm start: the block
tracks the top ``k`` left singular directions, which move continuously for dense
factors. Factors with exactly invariant coordinate subspaces (diagonal ones) can
hide a new top direction from the block, so callers with diagonal factors use
``diagonal_norm_profile``, which is exact in closed form, and small sizes
(``size <= EXACT_MAX_SIZE``, where an SVD per step is cheap) use exact SVDs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

_RTOL = 1e-10  # on sigma^2, so sigma is within 5e-11 relative
_MAX_ITER = 40  # ~60 us an iteration at n = 256, against ~10 ms for an exact SVD
_BLOCK = 6
EXACT_MAX_SIZE = 64


@dataclass(frozen=True)
class NormProfile:
    """log10 norms of the running products, l = 0..L.

    spectral, frobenius : (L + 1,) float, -inf where the product is exactly zero.
    svd_fallbacks : number of steps that needed an exact SVD (diagnostics).
    """

    spectral: np.ndarray
    frobenius: np.ndarray
    svd_fallbacks: int


def _top_left_block(p: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """Exact top-k left singular vectors (n, k) and sigma_max of p."""
    try:
        u, s, _ = np.linalg.svd(p)
        return u[:, :k], float(s[0])
    except np.linalg.LinAlgError:  # gesdd rarely fails to converge; eigh on p p^T does not
        lam, vec = np.linalg.eigh(p @ p.T)
        return vec[:, ::-1][:, :k], float(np.sqrt(max(lam[-1], 0.0)))


def product_norm_profile(
    factors: Iterable[tuple[np.ndarray | None, float]],
    size: int,
    *,
    method: str = "auto",
) -> NormProfile:
    """log10 spectral and Frobenius norms of J_1 ... J_l for l = 0..L.

    factors : iterable of (mantissa : (size, size) or None, log10 scale); None means zero.
    method : ``power`` (certified warm-started block power iteration), ``exact`` (SVD at
             every step) or ``auto`` (``exact`` up to EXACT_MAX_SIZE, else ``power``).
    """
    if method == "auto":
        method = "exact" if size <= EXACT_MAX_SIZE else "power"
    if method not in ("power", "exact"):
        raise ValueError(f"unknown method {method!r}")
    spectral = [0.0]
    frobenius = [0.5 * np.log10(size)]
    k = min(_BLOCK, size)
    p = None  # running product mantissa; true product = 10**log_scale * p
    log_scale = 0.0
    inv_norm = 1.0  # 1 / ||p||_F, folded into the next factor instead of dividing p
    u = None
    fallbacks = 0
    zero = False
    for mantissa, scale in factors:
        if zero or mantissa is None:
            zero = True
            spectral.append(-np.inf)
            frobenius.append(-np.inf)
            continue
        log_scale += scale - np.log10(inv_norm) if p is not None else scale
        p = mantissa if p is None else (p * inv_norm) @ mantissa
        fro = float(np.linalg.norm(p))
        if fro == 0.0:
            zero = True
            spectral.append(-np.inf)
            frobenius.append(-np.inf)
            continue
        if method == "exact" or u is None:  # u is None: first factor, start the warm chain
            u, sigma = _top_left_block(p, k)
        else:
            sigma, u, ok = _certified_top(p, u)
            if not ok:
                fallbacks += 1
                u, sigma = _top_left_block(p, k)
        spectral.append(log_scale + np.log10(sigma))
        frobenius.append(log_scale + np.log10(fro))
        inv_norm = 1.0 / fro
    return NormProfile(np.array(spectral), np.array(frobenius), fallbacks)


def _certified_top(p: np.ndarray, u: np.ndarray) -> tuple[float, np.ndarray, bool]:
    """Block power iteration on A = p p^T from the orthonormal block u : (n, k).

    Returns (sigma_max, next block, certified).
    """
    for _ in range(_MAX_ITER):
        v = p.T @ u  # (n, k)
        z = p @ v  # A u
        theta, x = np.linalg.eigh(v.T @ v)  # Ritz values of A on span(u), ascending
        top, x1 = theta[-1], x[:, -1]
        residual = z @ x1 - top * (u @ x1)
        try:  # Cholesky QR of z: the next orthonormal block
            u = z @ np.linalg.inv(np.linalg.cholesky(z.T @ z)).T
        except np.linalg.LinAlgError:  # z rank-deficient: fall back to Householder QR
            u = np.linalg.qr(z)[0]
        if top > 0.0 and np.linalg.norm(residual) <= _RTOL * top:
            return float(np.sqrt(top)), u, True
    return float(np.sqrt(max(top, 0.0))), u, False


def diagonal_norm_profile(log_abs_diagonals: np.ndarray) -> NormProfile:
    """Closed-form profile for diagonal factors J_l = diag(exp(log_abs_diagonals[l - 1])).

    log_abs_diagonals : (L, n) natural logs of |diagonal entries| (-inf for zeros).
    The product is diagonal with log|entries| the cumulative sums, so the spectral norm
    is the largest entry and the Frobenius norm a log-sum-exp, both exact.
    """
    n = log_abs_diagonals.shape[1]
    cum = np.vstack([np.zeros((1, n)), np.cumsum(log_abs_diagonals, axis=0)])
    top = np.max(cum, axis=1)
    safe_top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        frob_ln = safe_top + 0.5 * np.log(np.sum(np.exp(2.0 * (cum - safe_top[:, None])), axis=1))
    ln10 = np.log(10.0)
    frob = np.where(np.isfinite(top), frob_ln / ln10, -np.inf)
    return NormProfile(top / ln10, frob, 0)
