"""Backpropagation through time for the loss at the last step, in the log domain.

    L = 1/2 ||h_T - y||^2,   g_T = dL/dh_T = h_T - y,
    delta_t = dL/da_t = phi'(a_t) * g_t,     g_{t-1} = W_hh^T delta_t,
    dL/dW_hh = sum_k delta_k h_{k-1}^T,  dL/dW_ih = sum_k delta_k x_k^T,
    dL/db_ih = dL/db_hh = sum_k delta_k.

Every vector is carried as a mantissa and a log10 scale, so a gradient of
1e477 or 1e-1000 is represented exactly; totals are returned as a ScaledTensors
(mantissas sharing one log10 scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .nonlinearity import slope_weights

if TYPE_CHECKING:  # problem imports the cells, which import this module
    from .problem import Problem
    from .rnn import RNNTrace

PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


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
    that read h_{t-1}, and the last n rows, which read ``right_n`` (see gated_bptt).
    left : (T, rows of the block), right : (T, n) mantissas; scale : (T,) log10, -inf for
    a term that is exactly zero.
    """

    blocks: tuple[tuple[np.ndarray, np.ndarray], ...]
    scale: np.ndarray


@dataclass(frozen=True)
class BPTTGradient:
    """The gradient of L = 1/2 ||h_T - y||^2.

    log10_dh : (T + 1,) log10 ||dL/dh_{T-l}|| for l = 0..T
    log10_contribution : (T,) log10 ||delta_k h_{k-1}^T||_F, the k-th term of dL/dW_hh,
        indexed by distance l = T - k = 0..T-1
    log10_loss : float, log10 of L (-inf when h_T = y)
    grads : ScaledTensors of dL/dweight_ih, dL/dweight_hh, dL/dbias_ih, dL/dbias_hh
    terms : the per-step terms of dL/dW_hh themselves (truncated BPTT drops some of them)
    """

    log10_dh: np.ndarray
    log10_contribution: np.ndarray
    log10_loss: float
    grads: ScaledTensors
    terms: StepTerms


@dataclass(frozen=True)
class BackwardPass:
    """The backward recursion of the vanilla RNN, as mantissas and log10 scales.

    delta : (T, n) mantissas of delta_t = dL/da_t, row t - 1; delta_scale : (T,) (-inf
        where the gradient is exactly zero from there back)
    dh : (T + 1, n) mantissas of dL/dh_{T-l}, row l; dh_scale : (T + 1,)
    """

    delta: np.ndarray
    delta_scale: np.ndarray
    dh: np.ndarray
    dh_scale: np.ndarray


def backward_pass(problem: Problem, trace: RNNTrace) -> BackwardPass:
    """delta_t and dL/dh_t for the last-step loss, t = T..1 (the loop of bptt_gradient)."""
    w_hh = problem.params.weight_hh
    states, state_log10, log_dphi = trace.states, trace.state_log10, trace.log_dphi
    t_len, n = log_dphi.shape
    g_scale = float(state_log10[-1])  # g_t = g * 10**g_scale
    g = states[-1] - problem.target * 10.0**-g_scale
    dh = np.zeros((t_len + 1, n))  # mantissas of dL/dh_{T-l}, row l
    dh_scale = np.full(t_len + 1, -np.inf)
    dh[0], dh_scale[0] = g, g_scale
    delta = np.zeros((t_len, n))  # mantissas of delta_t, row t - 1
    delta_scale = np.full(t_len, -np.inf)
    weights, tops = slope_weights(log_dphi)  # phi'(a_t) = 10**tops[t - 1] weights[t - 1]
    top_log10 = tops.tolist()  # Python floats: the same sums, without NumPy scalars
    w_hh_t = w_hh.T
    for t in range(t_len, 0, -1):
        size = float(np.abs(g).max())
        if size == 0.0 or top_log10[t - 1] == -math.inf:  # exactly zero from here back
            break
        d = np.multiply(weights[t - 1], g / size, out=delta[t - 1])
        g_scale = delta_scale[t - 1] = g_scale + math.log10(size) + top_log10[t - 1]
        g = np.dot(w_hh_t, d, out=dh[t_len - t + 1])
        dh_scale[t_len - t + 1] = g_scale
    return BackwardPass(delta, delta_scale, dh, dh_scale)


def bptt_gradient(problem: Problem, trace: RNNTrace) -> BPTTGradient:
    """The gradient of the last-step loss for the forward run ``trace`` of ``problem``."""
    states, state_log10 = trace.states, trace.state_log10
    back = backward_pass(problem, trace)
    delta, delta_scale, dh, dh_scale = back.delta, back.delta_scale, back.dh, back.dh_scale
    log10_dh = log10_row_norms(dh) + dh_scale
    log10_loss = 2.0 * log10_dh[0] - float(np.log10(2.0))

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
            "weight_ih": weights.T @ problem.inputs,
            "weight_hh": hh_weights.T @ states[:-1],
            "bias_ih": total_bias,
            "bias_hh": total_bias.copy(),
        },
        log10_scale=top_scale,
    )
    terms = StepTerms(((delta, states[:-1]),), hh_scale)
    return BPTTGradient(log10_dh, contribution, log10_loss, grads, terms)


def gated_bptt(
    step,
    *,
    h_states: np.ndarray,
    state_size: int,
    gate_rows: int,
    inputs: np.ndarray,
    target: np.ndarray,
    peephole: bool = False,
) -> BPTTGradient:
    """BPTT for a gated cell from its one-step backward function, in the log domain.

    step(t, g) -> (g_prev, delta_in, delta_hid, right_n, extras) maps g = dL/dstate_t
    (mantissa, (state_size,)) to dL/dstate_{t-1}, with the gate pre-activation gradients
    delta_in (rows of W_ih, b_ih) and delta_hid (rows of W_hh, b_hh), both (gate_rows,);
    the last n rows of W_hh multiply ``right_n``, the others h_{t-1}; extras are peephole
    gradients (3, n) or None. h_states : (T + 1, n); the state vector starts with h.
    """
    t_len, n = inputs.shape[0], h_states.shape[1]
    g = np.zeros(state_size)
    g[:n] = h_states[-1] - target
    dh = np.zeros((t_len + 1, n))
    dh_scale = np.full(t_len + 1, -np.inf)
    dh[0], dh_scale[0] = g[:n], 0.0
    d_in, d_hid = np.zeros((t_len, gate_rows)), np.zeros((t_len, gate_rows))
    right, peep = np.zeros((t_len, n)), np.zeros((t_len, 3, n))
    s = np.full(t_len, -np.inf)  # log10 scale of step t's mantissas, row t - 1
    scale = 0.0
    for t in range(t_len, 0, -1):
        size = float(np.max(np.abs(g)))
        if size == 0.0:  # zero from here back
            break
        scale += np.log10(size)
        g, d_in[t - 1], d_hid[t - 1], right[t - 1], extras = step(t, g / size)
        if extras is not None:
            peep[t - 1] = extras
        s[t - 1] = scale
        dh[t_len - t + 1], dh_scale[t_len - t + 1] = g[:n], scale
    log10_dh = log10_row_norms(dh) + dh_scale
    h_prev = h_states[:-1]

    def norms(x):
        return np.linalg.norm(x, axis=1)

    # the step's W_hh term: rows but the last n are outer(delta, h_{t-1}), the last n rows
    # outer(delta_n, right_n); mantissas are O(1), so the squares are formed directly
    sq = (norms(d_hid[:, :-n]) * norms(h_prev)) ** 2 + (norms(d_hid[:, -n:]) * norms(right)) ** 2
    with np.errstate(divide="ignore"):
        contribution = (0.5 * np.log10(sq) + s)[::-1]
    top = float(np.max(s)) if np.max(s) > -np.inf else 0.0
    weight = 10.0 ** (s - top)
    w_in, w_hid = weight[:, None] * d_in, weight[:, None] * d_hid
    mantissa = {
        "weight_ih": w_in.T @ inputs,
        "weight_hh": np.vstack([w_hid[:, :-n].T @ h_prev, w_hid[:, -n:].T @ right]),
        "bias_ih": w_in.sum(axis=0),
        "bias_hh": w_hid.sum(axis=0),
    }
    if peephole:
        mantissa["peephole"] = np.einsum("t,tkn->kn", weight, peep)
    log10_loss = 2.0 * log10_dh[0] - float(np.log10(2.0))
    terms = StepTerms(((d_hid[:, :-n], h_prev), (d_hid[:, -n:], right)), s)
    return BPTTGradient(log10_dh, contribution, log10_loss, ScaledTensors(mantissa, top), terms)
