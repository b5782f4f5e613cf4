"""Backpropagation through time for any cell, in the log domain, with a gradient injected at
every step.

With z_t the cell's state (h_t, or (h_t, c_t)) and a sequence loss L whose direct gradients
are v_t = dL/dh_t (the gradient of the terms that read h_t itself, t = 0..T):

    g_T = v_T,     g_{t-1} = (dz_t/dz_{t-1})^T g_t + v_{t-1}     (g_t = dL/dz_t)

and every parameter gradient is a sum over steps of the one-step VJPs (the cell's
``backward``). The last-step loss L = 1/2 ||h_T - y||^2 is the case v_T = h_T - y, others 0.

Every vector is carried as a mantissa and a log10 scale, so a gradient of 1e477 or
1e-1000 is represented exactly; totals are returned as a ScaledTensors (mantissas sharing
one log10 scale).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cells.base import Cell, StepRecorder
from .logdomain import ScaledTensors, StepTerms, add_scaled, log10_norm, log10_row_norms

PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

Injected = np.ndarray | Mapping[int, np.ndarray]


@dataclass(frozen=True)
class BPTTGradient:
    """The gradient of a loss over the sequence (see ``bptt``).

    log10_dh : (T + 1,) log10 ||dL/dh_{T-l}|| for l = 0..T
    log10_contribution : (T,) log10 ||k-th term of dL/dW_hh||_F (delta_k h_{k-1}^T for the
        RNN), indexed by distance l = T - k = 0..T-1
    log10_loss : float, log10 of the last-step loss 1/2 ||h_T - y||^2 (-inf when h_T = y or
        when there is no target)
    grads : ScaledTensors of dL/dweight_ih, dL/dweight_hh, dL/dbias_ih, dL/dbias_hh (and
        dL/dpeephole for a peephole LSTM)
    terms : the per-step terms of dL/dW_hh themselves (truncated BPTT drops some of them)
    """

    log10_dh: np.ndarray
    log10_contribution: np.ndarray
    log10_loss: float
    grads: ScaledTensors
    terms: StepTerms


def bptt(
    cell: Cell,
    params: Any,
    trace: Any,
    inputs: np.ndarray,
    *,
    target: np.ndarray | None = None,
    injected: Injected | None = None,
) -> BPTTGradient:
    """The gradient of L = 1/2 ||h_T - y||^2 (when ``target`` y : (n,) is given) plus the
    terms whose gradients dL/dh_t are ``injected``, for the forward run ``trace``.

    inputs : (T, d). injected : (T + 1, n) rows v_0..v_T, or a mapping {t: v_t (n,)} for
    some t in 0..T. A step given no v_t (or a zero one) adds nothing: the arithmetic of the
    last-step loss alone is that of no injection at all. The h part of the running gradient
    receives v_t (an LSTM's c part receives nothing).
    """
    h, h_scale = cell.hidden_states(trace)
    t_len, n = inputs.shape[0], h.shape[1]
    extra = _injections(injected, t_len)
    g, scale = np.zeros(cell.state_factor * n), -np.inf
    log10_loss = -np.inf
    if target is not None:
        scale = float(h_scale[-1])  # g_T = g * 10**scale
        g[:n] = h[-1] - target * 10.0**-scale
        if t_len in extra:
            log10_loss = 2.0 * (log10_norm(g[:n]) + scale) - float(np.log10(2.0))
    hid = slice(0, n)
    if t_len in extra:
        g, scale = add_scaled(g, scale, extra[t_len], hid)
    dh = np.zeros((t_len + 1, n))  # mantissas of dL/dh_{T-l}, row l
    dh_scale = np.full(t_len + 1, -np.inf)
    dh[0], dh_scale[0] = g[:n], scale
    record = StepRecorder(t_len, cell.gate_rows * n, n)
    step = cell.backward(params, trace)
    for t in range(t_len, 0, -1):
        vjp = step(t, g, scale)
        if vjp is None:  # exactly zero from here back, until an injection
            g, scale = np.zeros_like(g), -np.inf
        else:
            record.record(t, vjp)
            g, scale = vjp.g_prev, vjp.log10_scale
        if t - 1 in extra:
            g, scale = add_scaled(g, scale, extra[t - 1], hid)
        dh[t_len - t + 1], dh_scale[t_len - t + 1] = g[:n], scale
    log10_dh = log10_row_norms(dh) + dh_scale
    if target is not None and t_len not in extra:
        log10_loss = 2.0 * log10_dh[0] - float(np.log10(2.0))
    grads, contribution, terms = cell.parameter_gradients(params, trace, inputs, record.steps())
    return BPTTGradient(log10_dh, contribution, log10_loss, grads, terms)


def _injections(injected: Injected | None, t_len: int) -> dict[int, np.ndarray]:
    """The nonzero injected gradients by step t = 0..T."""
    if injected is None:
        return {}
    if isinstance(injected, Mapping):
        items = injected.items()
    else:
        rows = np.asarray(injected, dtype=float)
        if rows.shape[0] != t_len + 1:
            raise ValueError(f"injected gradients need T + 1 = {t_len + 1} rows")
        items = enumerate(rows)
    out = {}
    for t, v in items:
        if not 0 <= t <= t_len:
            raise ValueError(f"an injected gradient at t={t} lies outside 0..{t_len}")
        v = np.asarray(v, dtype=float)
        if np.any(v != 0.0):
            out[int(t)] = v
    return out
