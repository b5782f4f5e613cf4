"""The vanilla RNN cell, exactly as torch.nn.RNNCell computes it.

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        h_t = phi(a_t)

and its step Jacobian ``dh_t/dh_{t-1} = diag(phi'(a_t)) W_hh``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..batched import diag_factor_profiles
from ..logdomain import (
    ScaledTensors,
    StepTerms,
    log10_row_norms,
    normal_range,
    slope_weights,
)
from ..nonlinearity import NONLINEARITIES, Nonlinearity, get_nonlinearity
from ..products import (
    EXACT_MAX_SIZE,
    NormProfile,
    NormSeries,
    View,
    diagonal_norm_profile,
    product_norm_profile,
)
from .base import (
    BackwardStep,
    BackwardSteps,
    Options,
    Profiles,
    RowsStep,
    RowsVJP,
    StepVJP,
    draw_weights,
    in_dtype,
)

_LN10 = float(np.log(10.0))
_RESCALE_ABOVE = 1e100


@dataclass(frozen=True)
class RNNParams:
    """One nn.RNNCell in PyTorch's layout.

    weight_ih : (n, d)   weight_hh : (n, n)   bias_ih : (n,)   bias_hh : (n,)
    """

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray

    @property
    def hidden_size(self) -> int:
        return self.weight_hh.shape[0]


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
    weight_hh, shift = normal_range(weight_hh)
    for d, top in zip(weights[::-1], _shifted(tops[::-1], shift).tolist(), strict=True):
        yield (None, -np.inf) if top == -np.inf else ((d, weight_hh), top)


def _shifted(tops: np.ndarray, shift: float) -> np.ndarray:
    """Each step's log10 scale with the weights' shift (untouched when there is none)."""
    return tops + shift if shift else tops


def rnn_jacobian_profile(weight_hh: np.ndarray, log_dphi: np.ndarray, *, method: str = "auto"):
    """log10 ||dh_T/dh_{T-l}|| for l = 0..T (spectral and Frobenius), as a NormProfile.

    dh_T/dh_{T-l} = J_T J_{T-1} ... J_{T-l+1} with J_t = diag(phi'(a_t)) W_hh.
    A diagonal W_hh makes every product diagonal; that case is done in closed form.
    """
    if _is_diagonal(weight_hh):
        return diagonal_norm_profile(_diagonal_logs(weight_hh, log_dphi))
    n = weight_hh.shape[0]
    if _batched(method, n):
        weights, tops = slope_weights(log_dphi)
        w, shift = normal_range(weight_hh)
        return diag_factor_profiles(weights[::-1], _shifted(tops[::-1], shift), w)[0]
    return product_norm_profile(scaled_step_jacobians(weight_hh, log_dphi), n, method=method)


def _input_view(weight_ih: np.ndarray, log_dphi: np.ndarray) -> View:
    """dh_T/dx_{T-l} = P_l B_{T-l} with B_t = diag(phi'(a_t)) W_ih : (n, d), l = 0..T-1."""
    t_len, n = log_dphi.shape
    weights, tops = slope_weights(log_dphi)

    def input_view(p: np.ndarray, l: int) -> tuple[np.ndarray, float]:
        t = t_len - l  # B_t as (row weights phi' / its largest, log10 of that largest)
        if tops[t - 1] == -np.inf:
            return np.zeros((n, weight_ih.shape[1])), 0.0
        return (p * weights[t - 1]) @ weight_ih, float(tops[t - 1])

    return View(input_view, t_len - 1)


def _fast_profiles(
    weight_hh: np.ndarray, weight_ih: np.ndarray, log_dphi: np.ndarray, method: str
) -> tuple[NormProfile, NormProfile] | None:
    """The state profile and the input sensitivity in closed form (a diagonal W_hh) or a
    stack of products at a time (exact sizes, engine.batched); None otherwise."""
    t_len, n = log_dphi.shape
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
    if _batched(method, n) and normal_range(weight_hh)[1] == 0.0:  # else the running product
        weights, tops = slope_weights(log_dphi)
        return diag_factor_profiles(weights[::-1], tops[::-1], weight_hh, weight_ih)
    return None


def _batched(method: str, n: int) -> bool:
    """Whether the profile is exact at this size (see product_norm_profile's ``method``), and
    so computed a stack of products at a time (engine.batched), the same numbers."""
    if method not in ("power", "exact", "auto"):
        raise ValueError(f"unknown method {method!r}")
    return method == "exact" or (method == "auto" and n <= EXACT_MAX_SIZE)


def _is_diagonal(w: np.ndarray) -> bool:
    return bool(np.array_equal(w, np.diag(np.diag(w))))


def _diagonal_logs(w: np.ndarray, log_dphi: np.ndarray) -> np.ndarray:
    """(T, n) log |diagonal of J_T|, ..., log |diagonal of J_1| for a diagonal W_hh."""
    with np.errstate(divide="ignore"):
        return log_dphi[::-1] + np.log(np.abs(np.diag(w)))[None, :]


def rnn_backward(params: RNNParams, trace: RNNTrace) -> BackwardStep:
    """The RNN's backward step, delta_t = phi'(a_t) * g_t and g_{t-1} = W_hh^T delta_t, with
    phi'(a_t) = 10**top_t weights_t (engine.logdomain.slope_weights): g is divided by its
    largest |entry|, and both logs join the scale, so no slope underflows."""
    weights, tops = slope_weights(trace.log_dphi)
    top_log10 = tops.tolist()  # Python floats: the same sums, without NumPy scalars
    w_hh_t, states = params.weight_hh.T, trace.states

    def step(t: int, g: np.ndarray, g_scale: float) -> StepVJP | None:
        size = float(np.abs(g).max())
        if size == 0.0 or top_log10[t - 1] == -math.inf:  # exactly zero from here back
            return None
        d = np.multiply(weights[t - 1], g / size)
        scale = g_scale + math.log10(size) + top_log10[t - 1]
        return StepVJP(np.dot(w_hh_t, d), d, d, states[t - 1], None, scale)

    return step


def rnn_backward_rows(params: RNNParams, trace: RNNTrace, dtype=np.float64) -> RowsStep:
    """rnn_backward for the rows of G at once: delta = G diag(weights_t), g_prev = delta W_hh,
    at the step's largest slope 10**top_t (in ``dtype``: see base.in_dtype)."""
    weights, tops = slope_weights(trace.log_dphi)
    top_log10 = tops.tolist()
    cast = in_dtype(dtype)
    weights, w_hh, states = cast(weights), cast(params.weight_hh), trace.states

    def rows_step(t: int, g: np.ndarray) -> RowsVJP | None:
        if top_log10[t - 1] == -math.inf:
            return None
        d = g * weights[t - 1]
        return RowsVJP(d @ w_hh, d, d, states[t - 1], None, top_log10[t - 1])

    return rows_step


def rnn_parameter_gradients(
    trace: RNNTrace, inputs: np.ndarray, steps: BackwardSteps
) -> tuple[ScaledTensors, np.ndarray, StepTerms]:
    """dL/dW_hh = sum_k delta_k h_{k-1}^T, dL/dW_ih = sum_k delta_k x_k^T,
    dL/db_ih = dL/db_hh = sum_k delta_k, with h_{k-1} carried at its own scale."""
    states, state_log10 = trace.states, trace.state_log10
    delta, delta_scale = steps.delta_hid, steps.scale
    h_prev_norm = log10_row_norms(states[:-1]) + state_log10[:-1]
    delta_norm = log10_row_norms(delta) + delta_scale
    contribution = (delta_norm + h_prev_norm)[::-1]  # norms add: the term has rank one

    # align every term to one scale S: terms far below the largest underflow to 0, as they
    # would in the exact sum
    hh_scale = delta_scale + state_log10[:-1]  # the k-th dW_hh term is delta_k h_{k-1}^T
    top_scale = max(float(np.max(delta_scale)), float(np.max(hh_scale)))
    if top_scale == -np.inf:
        top_scale = 0.0
    weights = 10.0 ** (delta_scale - top_scale)[:, None] * delta  # (T, n)
    hh_weights = 10.0 ** (hh_scale - top_scale)[:, None] * delta
    total_bias = weights.sum(axis=0)
    grads = ScaledTensors(
        mantissa={
            "weight_ih": weights.T @ inputs,
            "weight_hh": hh_weights.T @ states[:-1],
            "bias_ih": total_bias,
            "bias_hh": total_bias.copy(),
        },
        log10_scale=top_scale,
    )
    return grads, contribution, StepTerms(((delta, states[:-1]),), hh_scale)


class RNNCell:
    """The vanilla RNN behind the Cell protocol (engine.cells.base)."""

    name = "rnn"
    label = "RNN"
    torch_class = "nn.RNNCell"
    gate_rows = 1
    state_factor = 1
    state_label = "h"
    recurrent_block = "W_hh"
    options = ("nonlinearity",)
    choices = {"nonlinearity": tuple(NONLINEARITIES)}
    gate_order: tuple[str, ...] = ()
    params_type = RNNParams
    compared = True

    def gamma(self, options: Options) -> float:
        return get_nonlinearity(options["nonlinearity"]).gamma

    def draw_params(self, streams, *, n, d, init, scale, options: Options) -> RNNParams:
        return RNNParams(**draw_weights(streams, 1, n=n, d=d, init=init, scale=scale))

    def tensor_shapes(self, n: int, options: Options) -> dict[str, tuple[int, ...]]:
        return {}

    def check_params(self, params: RNNParams, options: Options) -> None:
        return None

    def forward(self, params, inputs, h0, c0, options: Options) -> RNNTrace:
        return rnn_forward(params, get_nonlinearity(options["nonlinearity"]), inputs, h0)

    def hidden_states(self, trace: RNNTrace) -> tuple[np.ndarray, np.ndarray]:
        return trace.states, trace.state_log10

    def state_vectors(self, trace: RNNTrace) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.array([trace.state(t) for t in range(len(trace.states))])

    def step_factors(self, params: RNNParams, trace: RNNTrace) -> Iterator[tuple]:
        return scaled_step_jacobians(params.weight_hh, trace.log_dphi)

    def views(self, params: RNNParams, trace: RNNTrace) -> dict[str, View]:
        return {"input": _input_view(params.weight_ih, trace.log_dphi)}

    def fast_profiles(self, params: RNNParams, trace: RNNTrace, method: str) -> Profiles | None:
        fast = _fast_profiles(params.weight_hh, params.weight_ih, trace.log_dphi, method)
        return None if fast is None else Profiles(*fast, {})

    def backward(self, params: RNNParams, trace: RNNTrace) -> BackwardStep:
        return rnn_backward(params, trace)

    def backward_rows(self, params: RNNParams, trace: RNNTrace, dtype=np.float64) -> RowsStep:
        return rnn_backward_rows(params, trace, dtype)

    def parameter_gradients(self, params, trace: RNNTrace, inputs, steps: BackwardSteps):
        return rnn_parameter_gradients(trace, inputs, steps)

    def gate_activations(self, trace: RNNTrace) -> dict[str, np.ndarray]:
        return {}

    def recurrent_weight(self, params: RNNParams) -> np.ndarray:
        return params.weight_hh


RNN = RNNCell()
