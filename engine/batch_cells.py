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


@dataclass
class ForwardCache:
    """What the backward pass needs. h : (T + 1, B, n) the hidden states h_0..h_T; x the inputs
    (T, B, d); ``saved`` the cell's per-step arrays (see each forward)."""

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


def forward(cell: str, w: dict[str, np.ndarray], x: np.ndarray, nonlinearity: str = "tanh"):
    """Run ``cell`` (rnn | lstm | gru) with weights w over x : (T, B, d) from zero states."""
    if cell == "rnn":
        return _rnn_forward(w, x, nonlinearity)
    if cell == "lstm":
        return _lstm_forward(w, x)
    if cell == "gru":
        return _gru_forward(w, x)
    raise ValueError(f"unknown cell {cell!r}")


def backward(
    cache: ForwardCache, w: dict[str, np.ndarray], direct: dict[int, np.ndarray],
    nonlinearity: str = "tanh",
) -> tuple[dict[str, np.ndarray], np.ndarray]:  # fmt: skip
    """(gradients of the four weights, ||dL/dh_t||_F over the batch for t = 0..T : (T + 1,)).

    direct : {t: dL/dh_t (B, n)} the loss's explicit gradients, t in 1..T.
    """
    if cache.cell == "rnn":
        return _rnn_backward(cache, w, direct, nonlinearity)
    if cache.cell == "lstm":
        return _lstm_backward(cache, w, direct)
    return _gru_backward(cache, w, direct)


def _weight_grads(d_in, d_hid, x, h_prev) -> dict[str, np.ndarray]:
    """Sums over steps and sequences: dW_ih = sum d_in x^T, dW_hh = sum d_hid h_{t-1}^T, the
    biases the sums of d_in and d_hid. d_in, d_hid : (T, B, G n); x : (T, B, d);
    h_prev : (T, B, n). One matmul over all T B rows each."""
    rows = d_in.shape[-1]
    di = d_in.reshape(-1, rows)
    dh = d_hid.reshape(-1, rows)
    return {
        "weight_ih": di.T @ x.reshape(len(di), -1),
        "weight_hh": dh.T @ h_prev.reshape(len(dh), -1),
        "bias_ih": di.sum(axis=0),
        "bias_hh": dh.sum(axis=0),
    }


def _norms(g_h: np.ndarray) -> float:
    return float(np.sqrt(np.einsum("ij,ij->", g_h, g_h)))


# ---------------------------------------------------------------- RNN: h_t = phi(a_t)


def _rnn_forward(w, x, nonlinearity):
    phi = get_nonlinearity(nonlinearity)
    t_len, b = x.shape[:2]
    n = w["weight_hh"].shape[0]
    drive = x @ w["weight_ih"].T + (w["bias_ih"] + w["bias_hh"])  # (T, B, n)
    h = np.zeros((t_len + 1, b, n))
    w_hh_t = w["weight_hh"].T
    for t in range(t_len):
        a = h[t] @ w_hh_t
        a += drive[t]
        drive[t] = a  # drive now holds the pre-activations a_t
        h[t + 1] = phi.forward(a)
    return ForwardCache("rnn", x, h, {"a": drive})


def _rnn_backward(cache, w, direct, nonlinearity):
    phi = get_nonlinearity(nonlinearity)
    h, a = cache.h, cache.saved["a"]
    t_len, b, n = a.shape
    slope = 1.0 - h[1:] ** 2 if nonlinearity == "tanh" else phi.derivative(a)
    delta = np.empty_like(a)
    norms = np.zeros(t_len + 1)
    g = direct.get(t_len, np.zeros((b, n))).copy()
    norms[t_len] = _norms(g)
    w_hh = w["weight_hh"]
    for t in range(t_len, 0, -1):
        d = np.multiply(g, slope[t - 1], out=delta[t - 1])
        g = d @ w_hh
        if t - 1 in direct:
            g += direct[t - 1]
        norms[t - 1] = _norms(g)
    return _weight_grads(delta, delta, cache.x, h[:-1]), norms


# ---------------------------------------------------------------- LSTM: rows i | f | g | o


def _gate_affine(n: int, blocks: str) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) of length len(blocks) n such that gates = v + u tanh(u' a) squashes every block
    of a at once: sigmoid(a) = 1/2 + 1/2 tanh(a/2) for an ``s`` block, tanh for a ``t`` block
    (u holds 1/2 or 1, u' = u, v 1/2 or 0)."""
    u = np.concatenate([np.full(n, 0.5 if k == "s" else 1.0) for k in blocks])
    return u, np.where(u == 0.5, 0.5, 0.0)


def _lstm_forward(w, x):
    t_len, b = x.shape[:2]
    n = w["weight_hh"].shape[1]
    drive = x @ w["weight_ih"].T + (w["bias_ih"] + w["bias_hh"])  # (T, B, 4n)
    h = np.zeros((t_len + 1, b, n))
    c = np.zeros((t_len + 1, b, n))
    w_hh_t = w["weight_hh"].T
    u, v = _gate_affine(n, "ssts")
    for t in range(t_len):
        a = drive[t]
        a += h[t] @ w_hh_t
        a *= u  # then a becomes the gates i, f, g, o in place
        np.tanh(a, out=a)
        a *= u
        a += v
        c[t + 1] = a[:, n : 2 * n] * c[t] + a[:, :n] * a[:, 2 * n : 3 * n]
        h[t + 1] = a[:, 3 * n :] * np.tanh(c[t + 1])
    return ForwardCache("lstm", x, h, {"gates": drive, "c": c})


def _lstm_backward(cache, w, direct):
    """With dc = dL/dc_t (through h_t and c_{t+1}), the pre-activation gradients are
    dc * (g i', c_{t-1} f', i g') for i, f, g and dL/dh_t tanh(c_t) o' for o: the factors
    multiplying dc and dL/dh_t are formed for all steps at once (``coef``)."""
    h, c, gates = cache.h, cache.saved["c"], cache.saved["gates"]
    t_len, b, rows = gates.shape
    n = rows // 4
    g4 = gates.reshape(t_len, b, 4, n)
    i, f, gg, o = (g4[:, :, j] for j in range(4))
    tanh_c = np.tanh(c[1:])
    coef = np.empty_like(g4)
    coef[:, :, 0] = gg * i * (1.0 - i)
    coef[:, :, 1] = c[:-1] * f * (1.0 - f)
    coef[:, :, 2] = i * (1.0 - gg * gg)
    coef[:, :, 3] = tanh_c * o * (1.0 - o)
    through_h = o * (1.0 - tanh_c * tanh_c)  # dc_t/dh_t's share: o tanh'(c_t)
    delta = np.empty_like(gates)
    d4 = delta.reshape(t_len, b, 4, n)
    norms = np.zeros(t_len + 1)
    g_h = direct.get(t_len, np.zeros((b, n))).copy()
    g_c = np.zeros((b, n))
    norms[t_len] = _norms(g_h)
    w_hh = w["weight_hh"]
    for k in range(t_len - 1, -1, -1):
        dc = g_h * through_h[k]
        dc += g_c
        np.multiply(coef[k, :, :3], dc[:, None, :], out=d4[k, :, :3])
        np.multiply(coef[k, :, 3], g_h, out=d4[k, :, 3])
        g_h = delta[k] @ w_hh
        if k in direct:
            g_h += direct[k]
        g_c = np.multiply(dc, f[k], out=dc)
        norms[k] = _norms(g_h)
    return _weight_grads(delta, delta, cache.x, h[:-1]), norms


# ---------------------------------------------------------------- GRU (PyTorch's): rows r | z | n


def _gru_forward(w, x):
    t_len, b = x.shape[:2]
    n = w["weight_hh"].shape[1]
    xp = x @ w["weight_ih"].T + w["bias_ih"]  # (T, B, 3n); becomes r | z | tanh(a_n)
    m = np.empty((t_len, b, n))  # W_hn h_{t-1} + b_hn
    h = np.zeros((t_len + 1, b, n))
    w_hh_t, b_hh = w["weight_hh"].T, w["bias_hh"]
    u, v = _gate_affine(n, "ss")
    for t in range(t_len):
        hp = h[t] @ w_hh_t
        hp += b_hh
        a = xp[t]
        rz = a[:, : 2 * n]
        rz += hp[:, : 2 * n]
        rz *= u
        np.tanh(rz, out=rz)
        rz *= u
        rz += v
        m[t] = hp[:, 2 * n :]
        cand = a[:, 2 * n :]
        cand += a[:, :n] * m[t]
        np.tanh(cand, out=cand)
        h[t + 1] = cand + a[:, n : 2 * n] * (h[t] - cand)  # (1 - z) n + z h
    return ForwardCache("gru", x, h, {"gates": xp, "m": m})


def _gru_backward(cache, w, direct):
    """With g = dL/dh_t, the pre-activation gradients are g times factors formed for all steps
    at once: (1 - z) tanh'(a_n) for a_n (and r times it for W_hn h + b_hn, m sigma'(a_r)
    times it for r), (h_{t-1} - n) sigma'(a_z) for z."""
    h, gates, m = cache.h, cache.saved["gates"], cache.saved["m"]
    t_len, b, rows = gates.shape
    n = rows // 3
    g3 = gates.reshape(t_len, b, 3, n)
    r, z, cand = (g3[:, :, j] for j in range(3))
    coef_in = np.empty_like(g3)
    coef_in[:, :, 2] = (1.0 - z) * (1.0 - cand * cand)
    coef_in[:, :, 0] = coef_in[:, :, 2] * m * r * (1.0 - r)
    coef_in[:, :, 1] = (h[:-1] - cand) * z * (1.0 - z)
    coef_hid = coef_in.copy()
    coef_hid[:, :, 2] *= r
    d_in = np.empty_like(g3)
    d_hid = np.empty_like(g3)
    norms = np.zeros(t_len + 1)
    g = direct.get(t_len, np.zeros((b, n))).copy()
    norms[t_len] = _norms(g)
    w_hh = w["weight_hh"]
    for k in range(t_len - 1, -1, -1):
        np.multiply(coef_in[k], g[:, None, :], out=d_in[k])
        np.multiply(coef_hid[k], g[:, None, :], out=d_hid[k])
        g = g * z[k]
        g += d_hid[k].reshape(b, rows) @ w_hh
        if k in direct:
            g += direct[k]
        norms[k] = _norms(g)
    shape = (t_len, b, rows)
    return _weight_grads(d_in.reshape(shape), d_hid.reshape(shape), cache.x, h[:-1]), norms
