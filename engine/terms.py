"""The double sum of the BPTT deck for a network (engine.network), exact and in the log domain.

The deck writes the gradient of the total loss by the recurrent weights as a double sum over
the loss step t and the source step k (its equations 3 and 4):

    dL/dW_hh = sum_t dL_t/dW_hh = sum_t sum_{k <= t} (dL_t/dh_t) (dh_t/dh_k) (dh_k/dW_hh)^+

with (dh_k/dW_hh)^+ the immediate part at step k (W_hh's use at step k alone, h_{k-1} held).
Here, for the first layer's W_hh of each direction, term(t, k) is the part of dL_t/dW_hh that
enters at step k: (dL_t/dz_k) (dz_k/dW_hh)^+, with dL_t/dz_k the total derivative of the loss
at step t by the first layer's state at position k through every path of the network (the
layers above, both directions). For one layer and one direction L_t reads z_t only, so this is
the deck's product (dL_t/dh_t)(dh_t/dh_k)(dh_k/dW_hh)^+ exactly, zero for k > t. The backward
direction's map is the mirror, zero for k < t in one layer; in a stacked bidirectional
network every L_t reaches every position through the other direction below the top.

Summing term(t, k) over k gives dL_t/dW_hh (a row's contribution), and over t and k the
whole gradient; the map reports log10 ||term(t, k)||_F. Each term is one outer product per
block of W_hh's rows (engine.logdomain.StepTerms), so its norm is exact without forming it.

Every loss step's backward pass runs at once: the network's backward pass for a block of m
covectors (one per loss step), through each cell's batched one-step VJP (cell.backward_rows),
each covector with its own log10 scale at every step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .cells import BackwardSteps, Cell, get_cell
from .logdomain import StepTerms
from .network import (
    DIRECTION_NAMES,
    NetworkConfig,
    NetworkTrace,
    ScaledRows,
    add_rows,
    cell_params,
    logit_errors,
    loss_steps,
)


def terms_map(
    config: NetworkConfig, weights: dict[str, np.ndarray], trace: NetworkTrace,
    targets: np.ndarray, each: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:  # fmt: skip
    """log10 ||term(t, k)||_F of the first layer's W_hh (see the module), for every loss step t
    (rows, by position 1..T) and source position k (columns), per direction ("forward",
    "backward"): (T, T) each, -inf where the term is exactly zero (every row but the last
    for loss = "last", k > t in a one-layer forward direction, k < t in a one-layer backward
    one). each(done, total) is called before every chunk of loss steps (see layer0_terms)."""
    t_len = config.seq_len
    maps: dict[str, np.ndarray] = {}
    for d, per_loss in enumerate(layer0_terms(config, weights, trace, targets, each)):
        out = np.full((t_len, t_len), -np.inf)
        for t, terms in per_loss.items():
            out[t] = _log10_frobenius(terms)
        maps[DIRECTION_NAMES[d]] = out
    return maps


def layer0_terms(
    config: NetworkConfig, weights: dict[str, np.ndarray], trace: NetworkTrace,
    targets: np.ndarray, each: Callable[[int, int], None] | None = None,
) -> list[dict[int, StepTerms]]:  # fmt: skip
    """For each direction of the first layer: {loss step t (0-based position): StepTerms of
    the terms (dL_t/dz_k)(dz_k/dW_hh)^+, rows k by position (0-based)}. The terms of one t
    sum to dL_t/dW_hh of that direction's ``weight_hh_l0``."""
    cell = get_cell(config.cell)
    all_steps = loss_steps(config)
    err = logit_errors(config, trace, targets) @ np.asarray(weights["output.weight"], float)
    t_len, rows = config.seq_len, cell.gate_rows * config.hidden_size
    per_seed = 8 * t_len * (6 * config.output_size + 2 * rows)  # the blocks' bytes per covector
    chunk = int(max(1, CHUNK_BYTES // per_seed))
    out: list[dict[int, StepTerms]] = [{} for _ in range(config.directions)]
    for start in range(0, len(all_steps), chunk):
        if each is not None:  # a progress report (it may raise to stop)
            each(start // chunk, -(-len(all_steps) // chunk))
        steps = all_steps[start : start + chunk]
        m = len(steps)
        seed = np.zeros((m, t_len, config.output_size))
        seed[np.arange(m), steps] = err[steps]
        scale = np.full((m, t_len), -np.inf)
        scale[np.arange(m), steps] = 0.0
        records = _rows_backward(config, cell, weights, trace, ScaledRows(seed, scale))
        for d, (rec, right) in enumerate(records):
            params = cell_params(config, weights, 0, d)
            order = slice(None) if d == 0 else slice(None, None, -1)
            inputs = trace.layer_inputs[0][order]
            for i, t in enumerate(steps):
                own = BackwardSteps(rec.delta_in[i], rec.delta_hid[i], right, None, rec.scale[i])
                terms = cell.parameter_gradients(params, trace.traces[0][d], inputs, own)[2]
                out[d][int(t)] = _by_position(terms, order)
    return out


CHUNK_BYTES = 64 * 2**20  # the backward pass's blocks per chunk of loss steps


class _Records:
    """The first layer's per-step VJP results of one direction for m covectors, rows in the
    direction's own time order: delta_in, delta_hid (m, T, G n); scale (m, T)."""

    def __init__(self, m: int, t_len: int, rows: int):
        self.delta_in = np.zeros((m, t_len, rows))
        self.delta_hid = np.zeros((m, t_len, rows))
        self.scale = np.full((m, t_len), -np.inf)


def _rows_backward(
    config: NetworkConfig, cell: Cell, weights: dict[str, np.ndarray], trace: NetworkTrace,
    dy: ScaledRows,
) -> list[tuple[_Records, np.ndarray]]:  # fmt: skip
    """engine.network.backward_layers for m covectors at once: dy = dL/dy^(L-1) : mantissa
    (m, T, D n), scale (m, T). Returns, per direction of the first layer, its records and
    the ``right`` factors (T, n), both in the direction's own time order."""
    n, t_len = config.hidden_size, config.seq_len
    m = dy.mantissa.shape[0]
    first: list[tuple[_Records, np.ndarray]] = []
    for k in range(config.num_layers - 1, -1, -1):
        x = trace.layer_inputs[k]
        below = ScaledRows(np.zeros((m, *x.shape)), np.full((m, t_len), -np.inf))
        for d in range(config.directions):
            half = slice(d * n, (d + 1) * n)
            order = slice(None) if d == 0 else slice(None, None, -1)
            injected = ScaledRows(dy.mantissa[:, order, half], dy.scale[:, order])
            params = cell_params(config, weights, k, d)
            rec = _Records(m, t_len, cell.gate_rows * n) if k == 0 else None
            dx, right = _direction_rows(cell, params, trace.traces[k][d], injected, rec)
            if rec is not None:
                first.append((rec, right))
            below = add_rows(below, ScaledRows(dx.mantissa[:, order], dx.scale[:, order]))
        if config.skip == "residual" and k >= 1:
            below = add_rows(below, dy)
        dy = below
    return first


def _direction_rows(
    cell: Cell, params: Any, trace: Any, injected: ScaledRows, rec: _Records | None
) -> tuple[ScaledRows, np.ndarray]:
    """engine.network.direction_backward for m covectors at once, each row of the running
    dL/dz_t divided by its largest |entry| at every step, its log10 joining the row's scale.
    Returns dL/dx_t (m, T, d_k) and the right factors (T, n), own time order; fills ``rec``."""
    m, t_len, n = injected.mantissa.shape[0], injected.mantissa.shape[1], params.hidden_size
    w_ih = params.weight_ih
    g, gs = np.zeros((m, cell.state_factor * n)), np.full(m, -np.inf)
    dx = ScaledRows(np.zeros((m, t_len, w_ih.shape[1])), np.full((m, t_len), -np.inf))
    right = np.zeros((t_len, n))
    rows_step = cell.backward_rows(params, trace)
    for t in range(t_len, 0, -1):
        v_scale = injected.scale[:, t - 1]
        top = np.maximum(gs, v_scale)
        g = _rescale(g, gs, top)
        g[:, :n] += _rescale(injected.mantissa[:, t - 1], v_scale, top)
        g, gs = _normalised(g, top)
        if not np.any(gs > -np.inf):
            continue
        out = rows_step(t, g)
        if out is None:  # a step whose Jacobian is exactly zero: nothing reaches below it
            g, gs = np.zeros_like(g), np.full(m, -np.inf)
            continue
        gs = gs + out.log10_scale
        right[t - 1] = out.right
        dx.mantissa[:, t - 1], dx.scale[:, t - 1] = out.delta_in @ w_ih, gs
        if rec is not None:
            rec.delta_in[:, t - 1], rec.delta_hid[:, t - 1] = out.delta_in, out.delta_hid
            rec.scale[:, t - 1] = gs
        g = out.g_prev
    return dx, right


def _rescale(x: np.ndarray, scale: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Rows of x at ``scale`` brought to ``top`` (zero rows where the scale is -inf)."""
    safe = np.where(top > -np.inf, top, 0.0)
    with np.errstate(under="ignore"):
        return x * (10.0 ** (scale - safe))[:, None]  # 0 where the scale is -inf


def _normalised(g: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row divided by its largest |entry|, whose log10 joins its scale (-inf: zero)."""
    size = np.max(np.abs(g), axis=1)
    live = (size > 0.0) & (scale > -np.inf)
    safe = np.where(live, size, 1.0)
    with np.errstate(divide="ignore"):
        return np.where(live[:, None], g / safe[:, None], 0.0), np.where(
            live, scale + np.log10(safe), -np.inf
        )


def _by_position(terms: StepTerms, order: slice) -> StepTerms:
    """StepTerms in a direction's own time order, re-indexed by sequence position."""
    blocks = tuple((left[order], right[order]) for left, right in terms.blocks)
    return StepTerms(blocks, terms.scale[order])


def _log10_frobenius(terms: StepTerms) -> np.ndarray:
    """log10 ||A_k||_F of every term, exact: the blocks are outer products on disjoint rows,
    so ||A_k||_F^2 = sum over blocks of ||left_k||^2 ||right_k||^2 (mantissas O(1))."""
    sq = sum(
        (np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)) ** 2
        for left, right in terms.blocks
    )
    with np.errstate(divide="ignore"):
        return np.where(
            sq > 0.0, 0.5 * np.log10(np.where(sq > 0.0, sq, 1.0)) + terms.scale, -np.inf
        )
