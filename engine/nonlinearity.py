"""Elementwise nonlinearities phi, their derivatives, and their slope bounds.

Each nonlinearity carries ``gamma = sup |phi'|``, the constant in Pascanu et al.'s
bound ``||dh_t/dh_{t-1}|| <= gamma * sigma_max(W_hh)``.

Derivatives are also given as natural logarithms, computed without forming the
derivative first, so that ``sigmoid'(-800) ~ 1e-348`` is a finite log and not a
zero. ``log phi'(a) = -inf`` only where the derivative is exactly zero (ReLU for
``a <= 0``; PyTorch also uses 0 at ``a = 0``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_LOG4 = float(np.log(4.0))


@dataclass(frozen=True)
class Nonlinearity:
    """phi : R -> R applied elementwise, with phi' and log phi'.

    All three callables take and return float arrays of the same shape.
    """

    name: str
    gamma: float
    homogeneous: bool  # phi(c a) = c phi(a) for c > 0: states may grow without bound
    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    log_derivative: Callable[[np.ndarray], np.ndarray]


def _sigmoid(a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(a))  # in (0, 1]: never overflows
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _log_dsigmoid(a: np.ndarray) -> np.ndarray:
    # sigma'(a) = e^{-|a|} / (1 + e^{-|a|})^2
    x = np.abs(a)
    return -x - 2.0 * np.log1p(np.exp(-x))


def _log_dtanh(a: np.ndarray) -> np.ndarray:
    # tanh'(a) = 4 e^{-2|a|} / (1 + e^{-2|a|})^2
    x = 2.0 * np.abs(a)
    return _LOG4 - x - 2.0 * np.log1p(np.exp(-x))


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def _drelu(a: np.ndarray) -> np.ndarray:
    return (a > 0).astype(float)


def _log_drelu(a: np.ndarray) -> np.ndarray:
    return np.where(a > 0, 0.0, -np.inf)


NONLINEARITIES: dict[str, Nonlinearity] = {
    "tanh": Nonlinearity("tanh", 1.0, False, np.tanh, lambda a: np.exp(_log_dtanh(a)), _log_dtanh),
    "sigmoid": Nonlinearity(
        "sigmoid", 0.25, False, _sigmoid, lambda a: np.exp(_log_dsigmoid(a)), _log_dsigmoid
    ),
    "relu": Nonlinearity("relu", 1.0, True, _relu, _drelu, _log_drelu),
    "identity": Nonlinearity(
        "identity",
        1.0,
        True,
        lambda a: np.array(a, dtype=float, copy=True),
        np.ones_like,
        np.zeros_like,
    ),
}


def get_nonlinearity(name: str) -> Nonlinearity:
    try:
        return NONLINEARITIES[name]
    except KeyError:
        raise ValueError(
            f"unknown nonlinearity {name!r}; choose from {sorted(NONLINEARITIES)}"
        ) from None
