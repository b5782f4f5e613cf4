"""Centred finite differences along random directions (after autograd's check_grads)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def directional_fd(f: Callable[[np.ndarray], float], x: np.ndarray, v: np.ndarray, eps=1e-6):
    """(f(x + eps v) - f(x - eps v)) / (2 eps)."""
    return (f(x + eps * v) - f(x - eps * v)) / (2 * eps)


def fd_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, eps=1e-6) -> np.ndarray:
    """Full Jacobian df/dx : (m, n) by centred differences, one column per coordinate."""
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        cols.append((f(x + e) - f(x - e)) / (2 * eps))
    return np.stack(cols, axis=1)


def check_grad(f, grad, x, rng, *, directions=3, eps=1e-6, rtol=1e-6, atol=1e-9):
    """Assert <grad, v> matches the directional finite difference for random unit v."""
    for _ in range(directions):
        v = rng.standard_normal(x.shape)
        v /= np.linalg.norm(v)
        fd = directional_fd(f, x, v, eps)
        an = float(np.sum(grad * v))
        assert abs(fd - an) <= atol + rtol * max(abs(fd), abs(an)), (fd, an)


def check_vjp(f, x, vjp, rng, *, directions=3, eps=1e-6, rtol=1e-6, atol=1e-9):
    """Assert <u, J v> = <J^T u, v> for the Jacobian J of f at x (after autograd's check_vjp).

    f : x -> y (arrays); vjp : u -> J^T u, shaped like x. For random directions v and random
    covectors u, <u, J v> comes from the centred difference of f along v, <J^T u, v> from vjp.
    A Jacobian given as a matrix J is checked with vjp = lambda u: J.T @ u.
    """
    y = np.asarray(f(x))
    for _ in range(directions):
        v = rng.standard_normal(np.shape(x))
        v /= np.linalg.norm(v)
        u = rng.standard_normal(y.shape)
        fd = float(np.sum(u * directional_fd(f, x, v, eps)))
        an = float(np.sum(np.asarray(vjp(u)) * v))
        assert abs(fd - an) <= atol + rtol * max(abs(fd), abs(an)), (fd, an)
