"""Exact norm profiles of products of diagonally weighted factors, a stack of products at a time.

For factors ``J_l = 10**scale[l - 1] diag(d[l - 1]) W`` (the vanilla RNN's step Jacobians,
``diag(phi'(a_t)) W_hh``), this gives ``log10 ||J_1 ... J_l||`` for l = 0..L in the spectral
and the Frobenius norm, as ``product_norm_profile`` does with ``method="exact"``, and the same
for the views ``V_l = (J_1 ... J_l) 10**scale[l] diag(d[l]) B``, l = 0..L-1, which share the
next factor's weights (the RNN's input Jacobians, B = W_ih).

The running product is formed exactly as product_norm_profile forms it (the same operations
in the same order: its mantissa is renormalised by its Frobenius norm, which is folded into the
next factor's weights), but the products are written into a stack of ``CHUNK`` of them, and
their norms and views are taken a stack at a time in batched calls, so each step costs two
NumPy calls and a dot product instead of a few dozen calls. Exact means an eigenvalue
computation per product (``products._exact_sigma_max``), so this is for small sizes
(``products.EXACT_MAX_SIZE``); the memory held is the stack, CHUNK x n x n.
"""

from __future__ import annotations

import math

import numpy as np

from .logdomain import log10_norm
from .products import _TINY_NORM, NormProfile, _exact_sigma_max, _rescued

CHUNK = 64  # products per stack (at n = 64, 2 MB)


def diag_factor_profiles(
    d: np.ndarray, scale: np.ndarray, w: np.ndarray, b: np.ndarray | None = None
) -> tuple[NormProfile, NormProfile | None]:
    """The profile of the products P_l = J_1 ... J_l, l = 0..L, and of the views V_l, l = 0..L-1
    (None when b is None).

    d : (L, n) the factors' row weights; scale : (L,) their log10 scales, -inf for a factor that
    is exactly zero (its row of d is then ignored); w : (n, n); b : (n, m) or None.
    A product that is exactly zero makes every later one zero: -inf from there on, in both.
    """
    t_len, n = d.shape
    spectral, frobenius = np.full(t_len + 1, -np.inf), np.full(t_len + 1, -np.inf)
    view_spectral, view_frobenius = np.full(t_len, -np.inf), np.full(t_len, -np.inf)
    size = min(CHUNK, t_len + 1)
    stack = np.empty((size, n, n))
    flat = stack.reshape(size, n * n)  # the same memory, each product as one row
    log_scales, norms = [0.0] * size, [0.0] * size
    weights, scaled = np.empty(n), np.empty((n, n))
    scales = scale.tolist()  # Python floats: the same arithmetic, without NumPy scalars

    def flush(first: int, k: int) -> None:
        """The norms of the products first..first+k-1, held in stack[:k], and of their views."""
        if k == 0:
            return
        rows = slice(first, first + k)
        logs = np.array(log_scales[:k])
        frobenius[rows] = logs + np.log10(norms[:k])
        spectral[rows] = logs + np.log10(_exact_sigma_max(stack[:k]))
        k = min(k, t_len - first)  # views exist for l <= L - 1
        if b is None or k <= 0:
            return
        rows = slice(first, first + k)
        views = np.matmul(stack[:k], d[rows, :, None] * b)  # P_l (diag(d_l) B)
        view_norms = np.sqrt(np.einsum("kij,kij->k", views, views))
        with np.errstate(divide="ignore"):
            log_norms = np.log10(view_norms)
        for j in np.flatnonzero(view_norms < _TINY_NORM):  # squares that underflow
            log_norms[j] = log10_norm(views[j])
        shift = logs[:k] + scale[rows]  # -inf where the next factor is zero
        nonzero = (log_norms > -np.inf) & (shift > -np.inf)
        with np.errstate(divide="ignore"):
            view_frobenius[rows] = np.where(nonzero, shift + log_norms, -np.inf)
            view_spectral[rows] = np.where(
                nonzero, shift + np.log10(_exact_sigma_max(views)), -np.inf
            )

    first, k = 0, 0  # the distance of stack[0], and how many products the stack holds
    log_scale, inv_norm = 0.0, 1.0  # the product is 10**log_scale * its mantissa
    p = None
    for l in range(t_len + 1):
        if l == 0:
            stack[k] = np.eye(n)
        elif scales[l - 1] == -math.inf:
            break  # a zero factor: the product is zero from here on
        else:  # as product_norm_profile: p diag(d) w with 1 / ||p||_F folded into d
            log_scale += scales[l - 1] - math.log10(inv_norm)
            np.multiply(d[l - 1], inv_norm, out=weights)
            np.multiply(p, weights, out=scaled)
            np.matmul(scaled, w, out=stack[k])
        row = flat[k]
        fro = math.sqrt(row @ row)  # products._frobenius
        if fro < _TINY_NORM:  # the squares underflow: rescale the product (or it is zero)
            fro, shift = _rescued(stack[k], fro)
            log_scale += shift
        if fro == 0.0:
            break
        inv_norm = 1.0 / fro
        log_scales[k], norms[k] = log_scale, fro
        p, k = stack[k], k + 1
        if k == size:
            flush(first, k)
            first, k = first + k, 0
    flush(first, k)
    profile = NormProfile(spectral, frobenius, 0)
    if b is None:
        return profile, None
    return profile, NormProfile(view_spectral, view_frobenius, 0)
