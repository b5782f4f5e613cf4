"""The matrix-free analysis of a large network (engine.network): exact gradients dL/dh_t
from one backward pass, and the Jacobian norms ||dh_T/dh_{T-l}|| estimated by random
probes, never forming an n x n product.

For one (layer, direction) with its inputs held fixed, P_l = dz_T/dz_{T-l} = J_T ... J_{T-l+1}
(z the cell's state: h, or (h, c) for the LSTM; T the direction's last step in its own
time order, so the reverse direction's T is the sequence's position 1). k probes
v_i ~ N(0, I_n) placed on h_T are carried backward by the cells' one-step VJPs,
u_i <- J_t^T u_i, all k as one (k, S) block per step: cost O(T n^2 k), memory O(S k).
After l steps, the h part of u_i is [P_l]_hh^T v_i and the whole of it is [P_l]_h^T v_i
([P_l]_h the rows of h_T), so for M = [P_l]_hh (``"h"``: dh_T/dh_{T-l}, the LSTM's c_{T-l}
held fixed) or M = [P_l]_h (``"h_state"``, LSTM only: dh_T/d(h, c)_{T-l}):

    E ||M^T v||^2 = ||M||_F^2            (Hutchinson: v ~ N(0, I))
    estimate     ||M||_F ~ sqrt(mean_i ||M^T v_i||^2)
    lower bound  ||M||_2 >= max_i ||M^T v_i|| / ||v_i||     (always, for any v_i)

Standard error: with A = M M^T, Var ||M^T v||^2 = 2 ||A||_F^2 <= 2 ||M||_F^4 (equality when
M has rank one), so the mean of k squares has a relative standard deviation of at most
sqrt(2 / k), and log10 of the estimated ||M||_F one of at most sqrt(2 / k) / (2 ln 10)
(0.054 for k = 32, 12.5% on ||M||_F). That bound is the standard error reported: true
for every M (to first order), reached by the nearly rank-one products of long sequences,
and larger than the actual error when M has many comparable singular values. (The sample
standard deviation of the k squares understates the error of a rank-one M: the squares are
chi^2_1, so a low mean comes with a low spread.)

Everything is carried in the log domain: each probe row is divided by its largest |entry|
at every step and the log10 of that joins the row's scale, so a norm of 1e-900 is carried
without underflow.
Every number says how it was obtained: ``method`` is "exact", "estimate" (with
``log10_se``) or "lower_bound".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cells import Cell, get_cell
from .logdomain import log10_row_norms
from .network import (
    DIRECTION_NAMES,
    NetworkConfig,
    NetworkTrace,
    ScaledRows,
    backward_layers,
    cell_params,
    check_weights,
    logit_errors,
    network_forward,
)

_LN10 = math.log(10.0)
PRECISIONS = ("float64", "float32")


@dataclass(frozen=True)
class Series:
    """Numbers and how they were obtained. log10 : values (-inf where exactly zero);
    method : "exact" | "estimate" | "lower_bound"; log10_se : the standard error of each
    log10 value for an estimate (see the module), None otherwise."""

    log10: np.ndarray
    method: str
    log10_se: np.ndarray | None = None


@dataclass(frozen=True)
class JacobianEstimate:
    """Norms of one Jacobian of one (layer, direction) over l = 0..T (distance in the
    direction's own time order). frobenius : the estimate; spectral : the lower bound;
    probes : k; precision : the sweep's arithmetic (float32: the bound holds to float32
    rounding, ~1e-7 relative per step)."""

    frobenius: Series
    spectral: Series
    probes: int
    precision: str = "float64"


def probe_standard_error(probes: int) -> float:
    """The standard error of log10 of a k-probe estimate of ||M||_F (see the module)."""
    return math.sqrt(2.0 / probes) / (2.0 * _LN10)


# ------------------------------------------------------------------ one step, k rows


def rows_step(cell: Cell, params: Any, trace: Any, dtype: Any = np.float64):
    """step(t, G) -> (J_t^T applied to the rows of G : (m, S), log10 scale) or None when
    J_t is exactly zero: the cell's batched one-step VJP (``cell.backward_rows``) in the
    row layout (m, S) @ (S, n) that BLAS runs fastest. dtype : float64, or float32 to run
    the step in single precision (the rows and the step's vectors are cast; the scale stays
    float64)."""
    step = cell.backward_rows(params, trace, np.dtype(dtype))

    def by_cell(t: int, g: np.ndarray):
        vjp = step(t, g)
        return None if vjp is None else (vjp.g_prev, vjp.log10_scale)

    return by_cell


# ------------------------------------------------------------------------ the probes


def probe_sweep(
    cell: Cell, params: Any, trace: Any, probes: np.ndarray, *, precision: str = "float64"
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Carry the probes v : (k, n), placed on h_T, back through every step of one run.

    Returns (h, state), each (T + 1, k): log10 ||[P_l]_hh^T v_i|| and log10
    ||[P_l]_h^T v_i|| (the whole state's part; the same as h for cells whose state is h),
    l = 0..T, -inf where exactly zero. precision : "float64", or "float32" for the steps'
    products (about twice as fast; each step's rounding, ~1e-7 relative, is far below the
    estimate's standard error; the log10 scales are kept in float64)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}")
    dtype = np.dtype(precision)
    n = params.hidden_size
    size = cell.state_factor * n
    k = probes.shape[0]
    t_len = len(cell.hidden_states(trace)[0]) - 1
    step = rows_step(cell, params, trace, dtype)
    top = np.max(np.abs(probes), axis=1)
    scale = np.log10(top)
    u = np.zeros((k, size), dtype=dtype)
    u[:, :n] = probes / top[:, None]
    h_norms = np.full((t_len + 1, k), -np.inf)
    s_norms = np.full((t_len + 1, k), -np.inf)
    h_norms[0] = s_norms[0] = log10_row_norms(probes)
    for t in range(t_len, 0, -1):
        out = step(t, u)
        if out is None:  # J_t = 0: zero from here back
            break
        u, step_scale = out
        top = np.max(np.abs(u), axis=1)
        live = top > 0.0
        safe = np.where(live, top, 1.0)
        with np.errstate(divide="ignore"):
            grow = np.log10(safe.astype(np.float64))
            scale = np.where(live, scale + step_scale + grow, -np.inf)
        u = u / safe[:, None]
        wide = u.astype(np.float64, copy=False)
        l = t_len - t + 1
        h_norms[l] = log10_row_norms(wide[:, :n]) + scale
        s_norms[l] = log10_row_norms(wide) + scale if size > n else h_norms[l]
    return h_norms, s_norms


def estimates(
    norms: np.ndarray, probe_log10: np.ndarray, precision: str = "float64"
) -> JacobianEstimate:
    """The Frobenius estimate and spectral lower bound from k probes' log10 norms
    ``norms`` : (..., T + 1, k) (rows l, columns probes) and the probes' own log10 ||v_i||
    : (..., k); leading axes are independent sets of probes."""
    k = norms.shape[-1]
    twice = 2.0 * norms
    top = np.max(twice, axis=-1)
    safe = np.where(top > -np.inf, top, 0.0)
    with np.errstate(divide="ignore", under="ignore"):
        mean = np.mean(10.0 ** (twice - safe[..., None]), axis=-1)
        frob = np.where(top > -np.inf, 0.5 * (safe + np.log10(mean)), -np.inf)
    lower = np.max(norms - probe_log10[..., None, :], axis=-1)
    se = np.full(frob.shape, probe_standard_error(k))
    return JacobianEstimate(
        frobenius=Series(frob, "estimate", se), spectral=Series(lower, "lower_bound"), probes=k,
        precision=precision,
    )  # fmt: skip


def jacobian_estimates(
    config: NetworkConfig, weights: dict[str, np.ndarray], trace: NetworkTrace, *,
    probes: int = 32, seed: int = 0, precision: str = "float64",
    each: Callable[[int, int], None] | None = None,
) -> dict[str, list[dict[str, JacobianEstimate]]]:  # fmt: skip
    """{direction name: per layer {"h": dh_T/dh_{T-l}, and for the LSTM "h_state":
    dh_T/d(h, c)_{T-l}}} estimated by ``probes`` Gaussian probes (see the module), each
    (layer, direction) from its own child stream of default_rng(seed). each(done, total) is
    called before every (layer, direction)'s sweep (a progress report; it may raise to
    stop)."""
    if probes < 2:
        raise ValueError("probes must be >= 2")
    cell = get_cell(config.cell)
    n = config.hidden_size
    streams = np.random.default_rng(seed).spawn(config.num_layers * config.directions)
    out: dict[str, list[dict[str, JacobianEstimate]]] = {
        DIRECTION_NAMES[d]: [] for d in range(config.directions)
    }
    for k in range(config.num_layers):
        for d in range(config.directions):
            if each is not None:
                each(k * config.directions + d, len(streams))
            v = streams[k * config.directions + d].standard_normal((probes, n))
            params = cell_params(config, weights, k, d)
            h, state = probe_sweep(cell, params, trace.traces[k][d], v, precision=precision)
            v_log10 = log10_row_norms(v)
            entry = {"h": estimates(h, v_log10, precision)}
            if cell.state_factor == 2:
                entry["h_state"] = estimates(state, v_log10, precision)
            out[DIRECTION_NAMES[d]].append(entry)
    return out


@dataclass(frozen=True)
class MatrixFreeResult:
    """loss : float; layer_time : {direction: Series of (L, T) log10 ||dL/dh_t||, exact};
    jacobians : see jacobian_estimates; probes, seed : the probes' count and seed."""

    loss: float
    layer_time: dict[str, Series]
    jacobians: dict[str, list[dict[str, JacobianEstimate]]]
    probes: int
    seed: int


def matrix_free(
    config: NetworkConfig, weights: dict[str, np.ndarray], inputs: np.ndarray,
    targets: np.ndarray, *, probes: int = 32, seed: int = 0, precision: str = "float64",
) -> MatrixFreeResult:  # fmt: skip
    """One forward pass, one exact backward pass (the layer-time map: the same numbers as
    engine.network.network_backward's, without the parameter gradients) and the probes'
    estimates of every (layer, direction)'s Jacobian norms (``precision`` of their sweep:
    see probe_sweep)."""
    check_weights(config, weights)
    trace = network_forward(config, weights, inputs, targets)
    layer_time = {
        name: Series(m, "exact")
        for name, m in exact_layer_time(config, weights, trace, targets).items()
    }
    jac = jacobian_estimates(config, weights, trace, probes=probes, seed=seed, precision=precision)
    return MatrixFreeResult(trace.loss, layer_time, jac, probes, seed)


def exact_layer_time(
    config: NetworkConfig, weights: dict[str, np.ndarray], trace: NetworkTrace,
    targets: np.ndarray,
) -> dict[str, np.ndarray]:  # fmt: skip
    """{direction: (L, T) log10 ||dL/dh_t||}, exact: network_backward's layer_time by the
    same backward pass (engine.network.backward_layers) with no parameter gradient."""
    err = logit_errors(config, trace, targets)  # as network_backward forms dL/dlogits
    w_out = np.asarray(weights["output.weight"], dtype=float)
    dy = ScaledRows(err @ w_out, np.where(np.any(err != 0.0, axis=1), 0.0, -np.inf))
    per_layer, _ = backward_layers(config, weights, trace, dy, parameters=False)
    return {
        DIRECTION_NAMES[d]: np.array([row[d].dh.log10_norms() for row in per_layer])
        for d in range(config.directions)
    }
