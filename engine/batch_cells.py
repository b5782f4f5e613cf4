"""Batched forward and backward passes of one recurrent layer, B sequences at a time, for training.

The cells are those of engine.cells, in PyTorch's layouts and formulas (RNNParams, LSTMParams
without peepholes, GRUParams of the ``pytorch`` form), run here on a batch in plain float64 as
PyTorch runs them. The cells' own one-step VJPs take one vector at a time in the log domain,
which is exact but costs a Python step per sequence; training needs the batch at once. The two
agree: tests/engine/test_batch_cells.py checks this module against the cells' forward and
engine.bptt on every sequence of a batch, and against finite differences.

Arrays are time-major: x : (T, B, d), states h : (T + 1, B, n) with h[0] = 0 (and c for the
LSTM). The backward pass takes the gradients of the loss with respect to the hidden states it
reads directly, ``direct[t] = dL/dh_t`` (its explicit part, (T + 1, B, n), zero where the loss
does not read h_t), and returns every parameter's gradient and the total gradients
dL/dh_t (through all later steps) whose norms are the ||dL/dh_t|| profile:

    g_T = direct_T,      g_{t-1} = (dh_t/dh_{t-1})^T g_t + direct_{t-1}

(for the LSTM the running gradient is the pair (dL/dh_t, dL/dc_t); the profile is its h part,
as engine.bptt reports it.)

Speed (benchmarks/train_speed.py): the time goes into the per-step products and a few
element-wise passes over (B, rows) arrays, so the backward pass works step by step on arrays
that are still in cache rather than on whole (T, B, rows) arrays, writes each step's gradients
over that step's saved gates (the cache is spent), and a trainer passes a ``Workspace`` so that
the large arrays are reused from one training step to the next instead of being allocated (and
faulted in page by page) every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .cells import GRUParams, LSTMParams, RNNParams
from .nonlinearity import get_nonlinearity

CELL_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-a) as 0.5 + 0.5 tanh(a / 2): one ufunc call, never overflows."""
    return 0.5 + 0.5 * np.tanh(0.5 * a)


class Workspace:
    """Named float64 buffers kept from one call to the next: ``empty(name, shape)`` returns the
    buffer of that name, reallocated only when the shape changes. A ForwardCache built in a
    workspace is valid until the next forward pass in the same workspace."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def empty(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape:
            buf = self._buffers[name] = np.empty(shape)
        return buf

    def zeros(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        buf = self.empty(name, shape)
        buf.fill(0.0)
        return buf


@dataclass
class ForwardCache:
    """What the backward pass needs. h : (T + 1, B, n) the hidden states h_0..h_T (a view
    into saved["xh"], see _rows); x the inputs (T, B, d); ``saved`` the cell's per-step
    arrays (see each forward)."""

    cell: str
    x: np.ndarray
    h: np.ndarray
    saved: dict[str, np.ndarray]


def cell_weights(params: Any) -> dict[str, np.ndarray]:
    """The four weights of a cell's parameter dataclass as a dict (weight_ih, ...)."""
    return {k: getattr(params, k) for k in CELL_PARAMS}


def as_params(cell: str, weights: dict[str, np.ndarray]) -> Any:
    """The engine.cells parameter dataclass of ``cell`` for a dict of the four weights."""
    w = {k: weights[k] for k in CELL_PARAMS}
    if cell == "rnn":
        return RNNParams(**w)
    if cell == "lstm":
        return LSTMParams(**w)
    if cell == "gru":
        return GRUParams(**w, form="pytorch")
    raise ValueError(f"unknown cell {cell!r}")


def forward(
    cell: str, w: dict[str, np.ndarray], x: np.ndarray, nonlinearity: str = "tanh",
    workspace: Workspace | None = None,
) -> ForwardCache:  # fmt: skip
    """Run ``cell`` (rnn | lstm | gru) with weights w over x : (T, B, d) from zero states
    (in ``workspace``'s buffers when given, else in fresh arrays)."""
    ws = Workspace() if workspace is None else workspace
    if cell == "rnn":
        return _rnn_forward(w, x, nonlinearity, ws)
    if cell == "lstm":
        return _lstm_forward(w, x, ws)
    if cell == "gru":
        return _gru_forward(w, x, ws)
    raise ValueError(f"unknown cell {cell!r}")


def backward(
    cache: ForwardCache, w: dict[str, np.ndarray], direct: dict[int, np.ndarray],
    nonlinearity: str = "tanh", workspace: Workspace | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:  # fmt: skip
    """(gradients of the four weights, ||dL/dh_t||_F over the batch for t = 0..T : (T + 1,)).

    direct : {t: dL/dh_t (B, n)} the loss's explicit gradients, t in 1..T.
    The cache is spent: its saved per-step arrays are overwritten by the step's gradients
    (one backward pass per forward pass; ``cache.h`` is kept).
    """
    ws = Workspace() if workspace is None else workspace
    if cache.cell == "rnn":
        return _rnn_backward(cache, w, direct, nonlinearity, ws)
    if cache.cell == "lstm":
        return _lstm_backward(cache, w, direct, ws)
    return _gru_backward(cache, w, direct, ws)


def _rows(x: np.ndarray, n: int, ws: Workspace) -> tuple[np.ndarray, np.ndarray]:
    """(xh, h): xh (T + 1, B, d + 1 + n) holds [x_{t+1} | 1 | h_t] for t = 0..T (row T's x
    part zero), h = its (T + 1, B, n) view of the states with h_0 = 0. The input
    projections with their bias are then one product with its [x | 1] columns (exactly
    x W^T + b for the tasks' one-hot inputs)."""
    t_len, b, d = x.shape
    xh = ws.empty("xh", (t_len + 1, b, d + 1 + n))
    xh[:-1, :, :d] = x
    xh[-1, :, :d] = 0.0
    xh[:, :, d] = 1.0
    xh[0, :, d + 1 :] = 0.0
    return xh, xh[:, :, d + 1 :]


def _weight_grads(d_in, d_hid, x, h_prev) -> dict[str, np.ndarray]:
    """Sums over steps and sequences: dW_ih = sum d_in x^T, dW_hh = sum d_hid h_{t-1}^T, the
    biases the sums of d_in and d_hid. d_in, d_hid : (T, B, G n); x : (T, B, d);
    h_prev : (T, B, n). One matmul over all T B rows each. (Folding these into one product
    with [x | 1 | h] is faster but rounds differently, and long training runs amplify any
    rounding difference into different outcomes: kept as the claims were measured.)"""
    rows = d_in.shape[-1]
    di = d_in.reshape(-1, rows)
    dh = d_hid.reshape(-1, rows)
    return {
        "weight_ih": di.T @ x.reshape(len(di), -1),
        "weight_hh": dh.T @ h_prev.reshape(len(dh), -1),
        "bias_ih": di.sum(axis=0),
        "bias_hh": dh.sum(axis=0),
    }


def _input_drive(xh, w_ih, bias, ws: Workspace) -> np.ndarray:
    """x W_ih^T + bias for every step and sequence at once, (T, B, rows): one 2-D product of
    xh's [x | 1] columns (a 3-D matmul against the transposed weight is several times slower
    in NumPy)."""
    t_len, b = xh.shape[0] - 1, xh.shape[1]
    d1 = w_ih.shape[1] + 1
    wb = np.concatenate([w_ih, bias[:, None]], axis=1)  # (rows, d + 1)
    drive = ws.empty("drive", (t_len * b, w_ih.shape[0]))
    np.matmul(xh[:-1, :, :d1].reshape(t_len * b, d1), wb.T, out=drive)
    return drive.reshape(t_len, b, -1)


def _running_gradient(direct, t_len: int, b: int, n: int, ws: Workspace) -> np.ndarray:
    """(T + 1, B, n) filled with the loss's explicit gradients dL/dh_t (zero elsewhere): the
    backward pass adds the gradient through later steps into it, step by step, so that it
    ends holding the total dL/dh_t, whose norms are taken at once at the end."""
    g = ws.zeros("g", (t_len + 1, b, n))
    for t, v in direct.items():
        g[t] = v
    return g


def _norms(g: np.ndarray) -> np.ndarray:
    """||g_t||_F over the batch for every t: g : (T + 1, B, n) -> (T + 1,)."""
    return np.sqrt(np.einsum("tbn,tbn->t", g, g))


# ---------------------------------------------------------------- RNN: h_t = phi(a_t)


def _rnn_forward(w, x, nonlinearity, ws):
    phi = get_nonlinearity(nonlinearity)
    t_len, b = x.shape[:2]
    n = w["weight_hh"].shape[0]
    xh, h = _rows(x, n, ws)
    drive = _input_drive(xh, w["weight_ih"], w["bias_ih"] + w["bias_hh"], ws)  # (T, B, n)
    w_hh_t = w["weight_hh"].T
    rec = ws.empty("rec", (b, n))
    tanh = nonlinearity == "tanh"
    for t in range(t_len):
        a = drive[t]
        a += np.matmul(h[t], w_hh_t, out=rec)  # drive now holds the pre-activations a_t
        if tanh:
            np.tanh(a, out=h[t + 1])
        else:
            h[t + 1] = phi.forward(a)
    return ForwardCache("rnn", x, h, {"a": drive, "xh": xh})


def _rnn_backward(cache, w, direct, nonlinearity, ws):
    """The saved pre-activations become the deltas dL/da_t in place (the cache is spent)."""
    phi = get_nonlinearity(nonlinearity)
    h, a = cache.h, cache.saved["a"]
    t_len, b, n = a.shape
    if nonlinearity == "tanh":
        slope = np.multiply(h[1:], h[1:], out=ws.empty("slope", a.shape))
        np.subtract(1.0, slope, out=slope)
    else:
        slope = phi.derivative(a)
    delta = a  # overwritten step by step from the end: a_t is not read again
    g = _running_gradient(direct, t_len, b, n, ws)
    w_hh = w["weight_hh"]
    tmp = ws.empty("tmp", (b, n))
    for t in range(t_len, 0, -1):
        d = np.multiply(g[t], slope[t - 1], out=delta[t - 1])
        g[t - 1] += np.matmul(d, w_hh, out=tmp)
    return _weight_grads(delta, delta, cache.x, h[:-1]), _norms(g)


# ---------------------------------------------------------------- LSTM: rows i | f | g | o


def _gate_affine(n: int, blocks: str) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) of length len(blocks) n such that gates = v + u tanh(u' a) squashes every block
    of a at once: sigmoid(a) = 1/2 + 1/2 tanh(a/2) for an ``s`` block, tanh for a ``t`` block
    (u holds 1/2 or 1, u' = u, v 1/2 or 0). Scaling by 1/2 is exact in floating point, so the
    weights' rows are scaled once instead of the pre-activations at every step."""
    u = np.concatenate([np.full(n, 0.5 if k == "s" else 1.0) for k in blocks])
    return u, np.where(u == 0.5, 0.5, 0.0)


def _lstm_forward(w, x, ws):
    """Saves the gates i, f, g, o (T, B, 4n), the cells c_0..c_T and tanh(c_1..c_T)."""
    t_len, b = x.shape[:2]
    n = w["weight_hh"].shape[1]
    u, v = _gate_affine(n, "ssts")
    xh, h = _rows(x, n, ws)
    drive = _input_drive(xh, w["weight_ih"] * u[:, None], (w["bias_ih"] + w["bias_hh"]) * u, ws)
    c = ws.empty("c", (t_len + 1, b, n))
    c[0] = 0.0
    tanh_c = ws.empty("tanh_c", (t_len, b, n))
    w_hh_t = (w["weight_hh"] * u[:, None]).T
    rec = ws.empty("rec", (b, 4 * n))
    ig = ws.empty("tmp", (b, n))
    for t in range(t_len):
        a = drive[t]
        a += np.matmul(h[t], w_hh_t, out=rec)
        np.tanh(a, out=a)  # then a becomes the gates i, f, g, o in place
        a *= u
        a += v
        np.multiply(a[:, n : 2 * n], c[t], out=c[t + 1])
        c[t + 1] += np.multiply(a[:, :n], a[:, 2 * n : 3 * n], out=ig)
        np.tanh(c[t + 1], out=tanh_c[t])
        np.multiply(a[:, 3 * n :], tanh_c[t], out=h[t + 1])
    return ForwardCache("lstm", x, h, {"gates": drive, "c": c, "tanh_c": tanh_c, "xh": xh})


def _lstm_backward(cache, w, direct, ws):
    """Step by step from the end, with dh = dL/dh_t and dc = dL/dc_t (through h_t and
    c_{t+1}): dc = dh o (1 - tanh^2 c_t) + dc_next, and the pre-activation gradients
    g i (1 - i) dc, c_{t-1} f (1 - f) dc, i (1 - g^2) dc, tanh(c_t) o (1 - o) dh for i, f, g, o
    (each product in this order, as the whole-sequence version formed them: the same bits),
    written over that step's saved gates (the cache is spent)."""
    c, gates, tanh_c = cache.saved["c"], cache.saved["gates"], cache.saved["tanh_c"]
    t_len, b, rows = gates.shape
    n = rows // 4
    g = _running_gradient(direct, t_len, b, n, ws)
    g_c = ws.zeros("g_c", (b, n))
    dc = ws.empty("dc", (b, n))
    k_i, k_f, k_g, k_o, tmp = (ws.empty(name, (b, n)) for name in ("ki", "kf", "kg", "ko", "tmp"))
    rec = ws.empty("rec_back", (b, n))
    w_hh = w["weight_hh"]
    for k in range(t_len - 1, -1, -1):
        a = gates[k]  # i | f | g | o at step k + 1, then dL/d(pre-activations)
        i, f, gg, o = a[:, :n], a[:, n : 2 * n], a[:, 2 * n : 3 * n], a[:, 3 * n :]
        dh, tc = g[k + 1], tanh_c[k]
        np.multiply(tc, tc, out=dc)
        np.subtract(1.0, dc, out=dc)
        np.multiply(o, dc, out=dc)  # o (1 - tanh^2 c_t)
        np.multiply(dh, dc, out=dc)
        dc += g_c
        np.multiply(gg, i, out=k_i)
        k_i *= np.subtract(1.0, i, out=tmp)  # g i (1 - i)
        np.multiply(c[k], f, out=k_f)
        k_f *= np.subtract(1.0, f, out=tmp)  # c_{t-1} f (1 - f)
        np.multiply(gg, gg, out=k_g)
        np.subtract(1.0, k_g, out=k_g)
        np.multiply(i, k_g, out=k_g)  # i (1 - g^2)
        np.multiply(tc, o, out=k_o)
        k_o *= np.subtract(1.0, o, out=tmp)  # tanh(c_t) o (1 - o)
        np.multiply(dc, f, out=g_c)  # dL/dc_{t-1} through c_t
        np.multiply(k_i, dc, out=i)
        np.multiply(k_f, dc, out=f)
        np.multiply(k_g, dc, out=gg)
        np.multiply(k_o, dh, out=o)
        g[k] += np.matmul(a, w_hh, out=rec)
    return _weight_grads(gates, gates, cache.x, cache.h[:-1]), _norms(g)


# ---------------------------------------------------------------- GRU (PyTorch's): rows r | z | n


def _gru_forward(w, x, ws):
    """Saves r | z | n (T, B, 3n) and m = W_hn h_{t-1} + b_hn (T, B, n)."""
    t_len, b = x.shape[:2]
    n = w["weight_hh"].shape[1]
    u, v = _gate_affine(n, "sst")
    xh, h = _rows(x, n, ws)
    xp = _input_drive(xh, w["weight_ih"] * u[:, None], w["bias_ih"] * u, ws)  # r | z | n
    m = ws.empty("m", (t_len, b, n))
    w_hh_t, b_hh = (w["weight_hh"] * u[:, None]).T, w["bias_hh"] * u
    hp = ws.empty("rec", (b, 3 * n))
    tmp = ws.empty("tmp", (b, n))
    for t in range(t_len):
        np.matmul(h[t], w_hh_t, out=hp)
        hp += b_hh
        a = xp[t]
        rz = a[:, : 2 * n]
        rz += hp[:, : 2 * n]
        np.tanh(rz, out=rz)
        rz *= u[: 2 * n]
        rz += v[: 2 * n]
        m[t] = hp[:, 2 * n :]
        cand = a[:, 2 * n :]
        cand += np.multiply(a[:, :n], m[t], out=tmp)
        np.tanh(cand, out=cand)
        np.subtract(h[t], cand, out=tmp)
        tmp *= a[:, n : 2 * n]
        np.add(cand, tmp, out=h[t + 1])  # (1 - z) n + z h
    return ForwardCache("gru", x, h, {"gates": xp, "m": m, "xh": xh})


def _gru_backward(cache, w, direct, ws):
    """Step by step from the end, with g = dL/dh_t: the factors (1 - z) (1 - n^2) for a_n,
    ((1 - z) (1 - n^2)) m r (1 - r) for r, (h_{t-1} - n) z (1 - z) for z and
    ((1 - z) (1 - n^2)) r for m = W_hn h + b_hn, each times g (each product in this order, as
    the whole-sequence version formed them: the same bits); the input-side gradients are
    written over that step's saved gates (the cache is spent), the hidden-side ones into their
    own array; then dL/dh_{t-1} = g z + d_hid W_hh (+ the loss's own)."""
    h, gates, m = cache.h, cache.saved["gates"], cache.saved["m"]
    t_len, b, rows = gates.shape
    n = rows // 3
    g = _running_gradient(direct, t_len, b, n, ws)
    d_hid = ws.empty("d_hid", gates.shape)
    k_n, k_r, k_z, k_m, tmp = (ws.empty(name, (b, n)) for name in ("kn", "kr", "kz", "km", "tmp"))
    rec = ws.empty("rec_back", (b, n))
    w_hh = w["weight_hh"]
    for k in range(t_len - 1, -1, -1):
        a, dh, gk = gates[k], d_hid[k], g[k + 1]
        r, z, cand = a[:, :n], a[:, n : 2 * n], a[:, 2 * n :]
        np.subtract(1.0, z, out=k_n)
        k_n *= np.subtract(1.0, np.multiply(cand, cand, out=tmp), out=tmp)  # (1 - z)(1 - n^2)
        np.multiply(k_n, m[k], out=k_r)
        k_r *= r
        k_r *= np.subtract(1.0, r, out=tmp)
        np.subtract(h[k], cand, out=k_z)
        k_z *= z
        k_z *= np.subtract(1.0, z, out=tmp)
        np.multiply(k_n, r, out=k_m)
        np.multiply(gk, z, out=tmp)  # g z: through h_t = (1 - z) n + z h_{t-1}
        np.multiply(k_r, gk, out=dh[:, :n])
        np.multiply(k_z, gk, out=dh[:, n : 2 * n])
        np.multiply(k_m, gk, out=dh[:, 2 * n :])
        np.multiply(k_n, gk, out=cand)
        a[:, : 2 * n] = dh[:, : 2 * n]
        tmp += np.matmul(dh, w_hh, out=rec)
        g[k] += tmp
    return _weight_grads(gates, d_hid, cache.x, h[:-1]), _norms(g)
