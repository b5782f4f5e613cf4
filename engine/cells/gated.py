"""What the gated cells (LSTM, GRU) share: the log-domain step wrapper and the sums of their
per-step parameter gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..logdomain import ScaledTensors, StepTerms
from ..nonlinearity import get_nonlinearity
from .base import BackwardStep, BackwardSteps, RowsStep, StepVJP

SIGMOID = get_nonlinearity("sigmoid")
TANH = get_nonlinearity("tanh")


def scaled_step(unit_step: Callable[[int, np.ndarray], tuple]) -> BackwardStep:
    """The log-domain backward step of a gated cell from its plain one.

    unit_step(t, g) -> (g_prev, delta_in, delta_hid, right, extras) for a g of largest
    entry 1; g is divided by its largest |entry| first, whose log10 joins the scale (the
    step itself has no factor to pull out: the gates' slopes are at most 1).
    """

    def step(t: int, g: np.ndarray, scale: float) -> StepVJP | None:
        size = float(np.max(np.abs(g)))
        if size == 0.0:  # zero from here back
            return None
        scale = scale + np.log10(size)
        return StepVJP(*unit_step(t, g / size), scale)

    return step


def one_row(rows_step: RowsStep) -> Callable[[int, np.ndarray], tuple]:
    """The plain one-covector step that scaled_step takes, from a gated cell's batched step
    (whose scale is 0): (g_prev, delta_in, delta_hid, right, extras) of g as one row."""

    def unit_step(t: int, g: np.ndarray) -> tuple:
        out = rows_step(t, g[None])
        extras = None if out.extras is None else out.extras[0]
        return out.g_prev[0], out.delta_in[0], out.delta_hid[0], out.right, extras

    return unit_step


def gated_parameter_gradients(
    h_states: np.ndarray, inputs: np.ndarray, steps: BackwardSteps, *, peephole: bool = False
) -> tuple[ScaledTensors, np.ndarray, StepTerms]:
    """The gradient sums of a gated cell: rows of W_hh but the last n are
    sum_t outer(delta_hid_t, h_{t-1}), the last n rows sum_t outer(delta_n_t, right_t);
    W_ih and b_ih take delta_in, b_hh delta_hid; extras sum into ``peephole`` (3, n).
    h_states : (T + 1, n). Returns (grads, log10 ||k-th W_hh term||_F by l = T - k, terms).
    """
    n = h_states.shape[1]
    d_in, d_hid, right, s = steps.delta_in, steps.delta_hid, steps.right, steps.scale
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
        extras = np.zeros((len(s), 3, n)) if steps.extras is None else steps.extras
        mantissa["peephole"] = np.einsum("t,tkn->kn", weight, extras)
    terms = StepTerms(((d_hid[:, :-n], h_prev), (d_hid[:, -n:], right)), s)
    return ScaledTensors(mantissa, top), contribution, terms
