"""The influence map of a network (engine.network): log10 ||dy_t / dx_k||_2 for every output
step t and input step k, per direction, exact and in the log domain.

y_t^(d) is direction d's half of the top layer's output y^(L-1)_t, rows d n..(d+1) n (with
``skip = "residual"`` that half includes the same half of the layer's input). The map is
exactly zero (-inf) for k > t in the forward direction of a unidirectional or one-layer
network and for k < t in the backward direction of a one-layer network; above one layer,
each half of a bidirectional network sees the whole sequence through the other half below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .cells import Cell, get_cell
from .network import (
    DIRECTION_NAMES,
    NetworkConfig,
    NetworkTrace,
    ScaledRows,
    backward_layers,
    cell_params,
)


def influence_by_vectors(
    config: NetworkConfig, weights: dict[str, np.ndarray], trace: NetworkTrace
) -> dict[str, np.ndarray]:
    """influence_map's numbers by one covector at a time (the slow reference).

    log10 ||dy_t^(d) / dx_k||_2 (spectral norm), exact, for every output step t (rows) and
    input step k (columns), t, k = 1..T, per direction d ("forward", "backward").

    y_t^(d) is direction d's half of the top layer's output y^(L-1)_t, rows d n..(d+1) n
    (with ``skip = "residual"`` that half includes the same half of the layer's input). -inf
    where the Jacobian is exactly zero: k > t for the forward direction of a unidirectional
    network, and k < t for the backward direction of a one-layer network, while above one
    layer each half sees the whole sequence through the other half below it.

    Reverse mode, by Jacobian products: for each t and each unit covector e_i of y_t^(d),
    backward_layers gives row i of dy_t^(d)/dx_k for every k at once, each row at its own
    log10 scale; a (t, k) block is rescaled to its largest row before its norm is taken.
    Cost: D n T backward passes of the network (no parameter gradients)."""
    n, t_len, width = config.hidden_size, config.seq_len, config.output_size
    d_in = config.input_size
    maps: dict[str, np.ndarray] = {}
    for d in range(config.directions):
        out = np.full((t_len, t_len), -np.inf)
        for t in range(t_len):
            rows = np.zeros((n, t_len, d_in))  # rows[i, k] = row i of dy_t/dx_k (mantissa)
            scales = np.full((n, t_len), -np.inf)
            for i in range(n):
                seed = np.zeros((t_len, width))
                seed[t, d * n + i] = 1.0
                dy = ScaledRows(seed, np.where(np.arange(t_len) == t, 0.0, -np.inf))
                _, dx = backward_layers(config, weights, trace, dy, parameters=False)
                rows[i], scales[i] = dx.mantissa, dx.scale
            out[t] = _log10_spectral(rows.transpose(1, 0, 2), scales.T)
        maps[DIRECTION_NAMES[d]] = out
    return maps


def influence_map(
    config: NetworkConfig, weights: dict[str, np.ndarray], trace: NetworkTrace,
    each: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:  # fmt: skip
    """log10 ||dy_t^(d) / dx_k||_2 (spectral norm), exact, for every output step t (rows) and
    input step k (columns), t, k = 1..T, per direction d ("forward", "backward").

    y_t^(d) is direction d's half of the top layer's output y^(L-1)_t, rows d n..(d+1) n
    (with ``skip = "residual"`` that half includes the same half of the layer's input). -inf
    where the Jacobian is exactly zero: k > t for the forward direction of a unidirectional
    network or of a one-layer one, and k < t for the backward direction of a one-layer
    network, while above one layer each half of a bidirectional network sees the whole
    sequence through the other half below it.

    Forward mode by Jacobian products: every step's J_t = dz_t/dz_{t-1} : (S, S) and
    B_t = dz_t/dx_t : (S, d_k) are read from the cell's batched one-step VJP (one call per
    step), then the tangents of the inputs go up the network together, as one (S, M) block
    per step with one log10 scale per column (a column is one input coordinate at one step).
    The sources are taken in chunks of at most CHUNK_BYTES of tangents, so memory stays
    bounded at any T; a step where no column is alive yet is skipped. Cost: T L D VJPs of
    S covectors per chunk, then L D T products (S, S)(S, T d). each(done, total) is called
    before every (chunk, layer, direction) sweep (a progress report; it may raise to stop)."""
    cell = get_cell(config.cell)
    n, t_len, d_in = config.hidden_size, config.seq_len, config.input_size
    width = max(config.output_size, d_in)
    most = int(max(1, min(t_len, CHUNK_BYTES // (8 * t_len * width * d_in))))
    chunk = -(-t_len // -(-t_len // most))  # chunks of equal size, at most ``most`` sources
    maps = {DIRECTION_NAMES[d]: np.full((t_len, t_len), -np.inf) for d in range(config.directions)}
    sweeps = -(-t_len // chunk) * config.num_layers * config.directions
    done = 0
    for k0 in range(0, t_len, chunk):
        k1 = min(t_len, k0 + chunk)
        x, xs = _source_tangents(t_len, d_in, k0, k1)
        for k in range(config.num_layers):
            y = np.zeros((t_len, config.output_size, x.shape[2]))
            scales = []
            for d in range(config.directions):
                if each is not None:
                    each(done, sweeps)
                done += 1
                params = cell_params(config, weights, k, d)
                steps = _step_matrices(cell, params, trace.traces[k][d], t_len)
                scales.append(_tangent_sweep(*steps, x, xs, y[:, d * n : (d + 1) * n], d))
            top = np.max(scales, axis=0)
            for d, hs in enumerate(scales):
                _rescale_columns(y[:, d * n : (d + 1) * n], hs, top)
            if config.skip == "residual" and k >= 1:
                top, old = np.maximum(top, xs), top
                _rescale_columns(y, old, top)
                y += _at(x, xs, top)
            x, xs = y, top
        for d in range(config.directions):
            out = maps[DIRECTION_NAMES[d]]
            for t in range(t_len):
                # the blocks dy_t/dx_k, k in the chunk, as (k1 - k0, d, n): rows are inputs
                rows = x[t, d * n : (d + 1) * n].T.reshape(k1 - k0, d_in, n)
                out[t, k0:k1] = _log10_spectral(rows, xs[t].reshape(k1 - k0, d_in))
    return maps


CHUNK_BYTES = 64 * 2**20  # tangents of one layer's output per chunk of sources


def _source_tangents(t_len: int, d_in: int, k0: int, k1: int):
    """The inputs' tangents by column for sources k0..k1 - 1 (0-based): x : (T, d, M) with
    x[k, :, cols of source k] = I, and their log10 scales (T, M)."""
    cols = (k1 - k0) * d_in
    x = np.zeros((t_len, d_in, cols))
    xs = np.full((t_len, cols), -np.inf)
    for j, k in enumerate(range(k0, k1)):
        x[k, :, j * d_in : (j + 1) * d_in] = np.eye(d_in)
        xs[k, j * d_in : (j + 1) * d_in] = 0.0
    return x, xs


def _at(m: np.ndarray, scale: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Mantissas m : (T, r, M) with per-(row t, column) scales (T, M) brought to ``top``."""
    safe_top = np.where(top > -np.inf, top, 0.0)
    with np.errstate(under="ignore"):
        f = 10.0 ** (scale - safe_top)  # 0 where the scale is -inf (a zero column)
    return m * f[:, None, :]


def _rescale_columns(m: np.ndarray, scale: np.ndarray, top: np.ndarray) -> None:
    """_at in place."""
    safe_top = np.where(top > -np.inf, top, 0.0)
    with np.errstate(under="ignore"):
        m *= (10.0 ** (scale - safe_top))[:, None, :]


def _tangent_sweep(a, c, step_scale, x, xs, h, direction: int):
    """One direction's tangents dh_t/d(columns) written into h : (T, n, M) by sequence
    position, from its input's tangents x : (T, d_k, M) with scales xs; returns their
    per-(position, column) log10 scales (T, M)."""
    t_len, size = a.shape[0], a.shape[1]
    n, m = h.shape[1], x.shape[2]
    g, gs = np.zeros((size, m)), np.full(m, -np.inf)
    hs = np.full((t_len, m), -np.inf)
    alive = False  # whether g has a live column
    for t in range(1, t_len + 1):
        pos = t - 1 if direction == 0 else t_len - t
        fed = bool(np.any(xs[pos] > -np.inf))
        if step_scale[t - 1] == -np.inf or not (alive or fed):  # nothing reaches this step
            if alive:
                g, gs, alive = np.zeros((size, m)), np.full(m, -np.inf), False
            continue
        top = np.maximum(gs, xs[pos])
        u = a[t - 1].T @ _at(g[None], gs[None], top[None])[0]
        if fed:
            u += c[t - 1].T @ _at(x[pos][None], xs[pos][None], top[None])[0]
        size_u = np.max(np.abs(u), axis=0)
        live = (size_u > 0.0) & (top > -np.inf)
        safe = np.where(live, size_u, 1.0)
        g = np.where(live[None], u / safe, 0.0)
        with np.errstate(divide="ignore"):
            gs = np.where(live, top + step_scale[t - 1] + np.log10(safe), -np.inf)
        alive = bool(np.any(live))
        h[pos], hs[pos] = g[:n], gs
    return hs


def _step_matrices(cell: Cell, params: Any, trace: Any, t_len: int):
    """(A, C, scale): A[t - 1] = J_t^T : (S, S) and C[t - 1] = B_t^T : (d_k, S) mantissas at
    scale[t - 1] (log10, -inf for a zero step), read from the cell's batched one-step VJP of
    the S unit covectors (row j of G = I gives row j of J_t and of B_t)."""
    size = cell.state_factor * params.hidden_size
    rows_step = cell.backward_rows(params, trace)
    w_ih = params.weight_ih
    a = np.zeros((t_len, size, size))
    c = np.zeros((t_len, w_ih.shape[1], size))
    scale = np.full(t_len, -np.inf)
    unit = np.eye(size)
    for t in range(1, t_len + 1):
        out = rows_step(t, unit)
        if out is None:
            continue
        a[t - 1], c[t - 1] = out.g_prev.T, (out.delta_in @ w_ih).T
        scale[t - 1] = out.log10_scale
    return a, c, scale


def _log10_spectral(rows: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """log10 of the spectral norm of each matrix b whose row i is rows[b, i] * 10**scales[b, i]
    (rows : (B, r, c), scales : (B, r)); -inf for a zero matrix."""
    live = (scales > -np.inf) & np.any(rows != 0.0, axis=2)
    top = np.max(np.where(live, scales, -np.inf), axis=1)
    safe_top = np.where(top > -np.inf, top, 0.0)
    with np.errstate(under="ignore"):
        f = np.where(live, 10.0 ** (np.where(live, scales, 0.0) - safe_top[:, None]), 0.0)
    m = rows * f[:, :, None]
    size = np.max(np.abs(m), axis=(1, 2))
    nonzero = size > 0.0
    safe = np.where(nonzero, size, 1.0)
    norms = np.linalg.norm(m / safe[:, None, None], ord=2, axis=(1, 2))
    with np.errstate(divide="ignore"):
        return np.where(nonzero, safe_top + np.log10(safe) + np.log10(norms), -np.inf)
