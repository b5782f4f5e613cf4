"""The vanilla RNN cell, exactly as torch.nn.RNNCell computes it.

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        h_t = phi(a_t)

and its step Jacobian ``dh_t/dh_{t-1} = diag(phi'(a_t)) W_hh``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .init import RNNParams
from .nonlinearity import Nonlinearity, slope_weights
from .products import (
    EXACT_MAX_SIZE,
    NormProfile,
    NormSeries,
    View,
    diagonal_norm_profile,
    product_norm_profile,
)
from .stacked import diag_factor_profiles

_LN10 = float(np.log(10.0))


@dataclass(frozen=True)
class RNNTrace:
    """A forward run.

    preact : (T, n) mantissas of a_1..a_T (a_t = preact[t - 1] * 10**state_log10[t - 1])
    states : (T + 1, n) mantissas of h_0..h_T; the state is ``states[t] * 10**state_log10[t]``
    state_log10 : (T + 1,) log10 scales, all 0 unless an unbounded phi (identity, ReLU)
        carried the states past 1e100, where they are renormalised instead of overflowing
    log_dphi : (T, n) natural log of phi'(a_t) (-inf where phi' is exactly 0)
    """

    preact: np.ndarray
    states: np.ndarray
    state_log10: np.ndarray
    log_dphi: np.ndarray

    def state(self, t: int) -> np.ndarray:
        """h_t as plain floats (inf where it exceeds float64)."""
        with np.errstate(over="ignore"):
            return self.states[t] * 10.0 ** self.state_log10[t]


_RESCALE_ABOVE = 1e100


def rnn_forward(
    params: RNNParams, phi: Nonlinearity, inputs: np.ndarray, h0: np.ndarray
) -> RNNTrace:
    """Run the cell over inputs : (T, d) from h0 : (n,).

    For a positively homogeneous phi, a state of size 10**s is carried as mantissa and s:
    a_t = 10**s (10**-s drive_t + W_hh h~_{t-1}) and phi(10**s a~) = 10**s phi(a~).
    """
    t_len, n = inputs.shape[0], params.hidden_size
    drive = inputs @ params.weight_ih.T + (params.bias_ih + params.bias_hh)  # (T, n)
    preact = np.empty((t_len, n))
    states = np.empty((t_len + 1, n))
    scale = np.zeros(t_len + 1)
    states[0] = h0
    w_hh = params.weight_hh
    if phi.homogeneous:
        _rescaled_steps(w_hh, phi, drive, preact, states, scale)
    else:  # a bounded phi (tanh, sigmoid): the states are never rescaled, scale stays 0
        for t in range(t_len):
            a = np.dot(w_hh, states[t], out=preact[t])
            a += drive[t]
            states[t + 1] = phi.forward(a)
    return RNNTrace(
        preact=preact, states=states, state_log10=scale, log_dphi=phi.log_derivative(preact)
    )


def _rescaled_steps(w_hh, phi, drive, preact, states, scale) -> None:
    """The steps of rnn_forward for a homogeneous phi, into preact, states and scale."""
    for t in range(len(preact)):
        shrink = 10.0 ** -scale[t] if scale[t] else 1.0
        preact[t] = drive[t] * shrink + w_hh @ states[t]
        states[t + 1] = phi.forward(preact[t])
        scale[t + 1] = scale[t]
        top = float(np.max(np.abs(states[t + 1])))
        if top > _RESCALE_ABOVE:
            states[t + 1] /= top
            scale[t + 1] += np.log10(top)


def scaled_step_jacobians(weight_hh: np.ndarray, log_dphi: np.ndarray) -> Iterator[tuple]:
    """Yield J_T, J_{T-1}, ..., J_1 (J_t = diag(phi'(a_t)) W_hh) as ((d, W_hh), log10 scale).

    ``J_t = 10**scale * diag(d) W_hh`` with the largest |phi'| of the step factored out, so a
    derivative far below float64's range is still exact relative to the others. A step
    whose derivative is zero everywhere yields (None, -inf).
    """
    weights, tops = slope_weights(log_dphi)
    for d, top in zip(weights[::-1], tops[::-1].tolist(), strict=True):
        yield (None, -np.inf) if top == -np.inf else ((d, weight_hh), top)


def rnn_jacobian_profile(weight_hh: np.ndarray, log_dphi: np.ndarray, *, method: str = "auto"):
    """log10 ||dh_T/dh_{T-l}|| for l = 0..T (spectral and Frobenius), as a NormProfile.

    dh_T/dh_{T-l} = J_T J_{T-1} ... J_{T-l+1} with J_t = diag(phi'(a_t)) W_hh.
    A diagonal W_hh makes every product diagonal; that case is done in closed form.
    """
    if _is_diagonal(weight_hh):
        return diagonal_norm_profile(_diagonal_logs(weight_hh, log_dphi))
    n = weight_hh.shape[0]
    if _stacked(method, n):
        weights, tops = slope_weights(log_dphi)
        return diag_factor_profiles(weights[::-1], tops[::-1], weight_hh)[0]
    return product_norm_profile(scaled_step_jacobians(weight_hh, log_dphi), n, method=method)


def rnn_profiles(
    weight_hh: np.ndarray, weight_ih: np.ndarray, log_dphi: np.ndarray, *, method: str = "auto"
) -> tuple[NormProfile, NormProfile]:
    """The state profile (as rnn_jacobian_profile) and the input sensitivity
    log10 ||dh_T/dx_{T-l}|| for l = 0..T-1, with dh_T/dx_{T-l} = (dh_T/dh_{T-l}) B_{T-l}
    and B_t = diag(phi'(a_t)) W_ih : (n, d). Both from one pass over the products.
    """
    t_len, n = log_dphi.shape
    weights, tops = slope_weights(log_dphi)

    def input_jacobian(t: int) -> tuple[np.ndarray | None, float]:
        """B_t as (row weights phi' / its largest, log10 of that largest)."""
        if tops[t - 1] == -np.inf:
            return None, 0.0
        return weights[t - 1], float(tops[t - 1])

    if _is_diagonal(weight_hh):
        logs = _diagonal_logs(weight_hh, log_dphi)
        cum = np.vstack([np.zeros((1, n)), np.cumsum(logs, axis=0)])  # log |diag of P_l|
        series = NormSeries("exact")
        for l in range(t_len):
            with np.errstate(invalid="ignore"):  # -inf - -inf where a row is all zero
                row = cum[l] + log_dphi[t_len - l - 1]
            top = np.max(row)
            if top == -np.inf:
                series.add(None, 0.0)
            else:
                series.add(np.exp(row - top)[:, None] * weight_ih, top / _LN10)
        return diagonal_norm_profile(logs), series.result()

    if _stacked(method, n):
        return diag_factor_profiles(weights[::-1], tops[::-1], weight_hh, weight_ih)

    def input_view(p: np.ndarray, l: int) -> tuple[np.ndarray, float]:
        d, scale = input_jacobian(t_len - l)
        if d is None:
            return np.zeros((n, weight_ih.shape[1])), 0.0
        return (p * d) @ weight_ih, scale

    state, views = product_norm_profile(
        scaled_step_jacobians(weight_hh, log_dphi),
        n,
        method=method,
        views={"input": View(input_view, t_len - 1)},
    )
    return state, views["input"]


def _stacked(method: str, n: int) -> bool:
    """Whether the profile is exact at this size (see product_norm_profile's ``method``), and
    so computed a stack of products at a time (engine.stacked), the same numbers."""
    if method not in ("power", "exact", "auto"):
        raise ValueError(f"unknown method {method!r}")
    return method == "exact" or (method == "auto" and n <= EXACT_MAX_SIZE)


def _is_diagonal(w: np.ndarray) -> bool:
    return bool(np.array_equal(w, np.diag(np.diag(w))))


def _diagonal_logs(w: np.ndarray, log_dphi: np.ndarray) -> np.ndarray:
    """(T, n) log |diagonal of J_T|, ..., log |diagonal of J_1| for a diagonal W_hh."""
    with np.errstate(divide="ignore"):
        return log_dphi[::-1] + np.log(np.abs(np.diag(w)))[None, :]
