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


def _lstm_forward(w, x):
    t_len, b = x.shape[:2]
    n = w["weight_hh"].shape[1]
    drive = x @ w["weight_ih"].T + (w["bias_ih"] + w["bias_hh"])  # (T, B, 4n)
    h = np.zeros((t_len + 1, b, n))
    c = np.zeros((t_len + 1, b, n))
    w_hh_t = w["weight_hh"].T
    for t in range(t_len):
        a = drive[t]
        a += h[t] @ w_hh_t
        # gates in place: i, f, o squashed by sigmoid, g by tanh
        a[:, : 2 * n] = sigmoid(a[:, : 2 * n])
        a[:, 3 * n :] = sigmoid(a[:, 3 * n :])
        np.tanh(a[:, 2 * n : 3 * n], out=a[:, 2 * n : 3 * n])
        c[t + 1] = a[:, n : 2 * n] * c[t] + a[:, :n] * a[:, 2 * n : 3 * n]
        h[t + 1] = a[:, 3 * n :] * np.tanh(c[t + 1])
    return ForwardCache("lstm", x, h, {"gates": drive, "c": c})


def _lstm_backward(cache, w, direct):
    h, c, gates = cache.h, cache.saved["c"], cache.saved["gates"]
    t_len, b, rows = gates.shape
    n = rows // 4
    delta = np.empty_like(gates)
    norms = np.zeros(t_len + 1)
    g_h = direct.get(t_len, np.zeros((b, n))).copy()
    g_c = np.zeros((b, n))
    norms[t_len] = _norms(g_h)
    w_hh = w["weight_hh"]
    tanh_c = np.tanh(c[1:])
    for t in range(t_len, 0, -1):
        k = t - 1
        i, f, gg, o = (gates[k, :, j * n : (j + 1) * n] for j in range(4))
        tc = tanh_c[k]
        d = delta[k]
        d[:, 3 * n :] = g_h * tc * o * (1.0 - o)
        dc = g_c + g_h * o * (1.0 - tc * tc)
        d[:, :n] = dc * gg * i * (1.0 - i)
        d[:, n : 2 * n] = dc * c[k] * f * (1.0 - f)
        d[:, 2 * n : 3 * n] = dc * i * (1.0 - gg * gg)
        g_h = d @ w_hh
        if k in direct:
            g_h += direct[k]
        g_c = dc * f
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
    for t in range(t_len):
        hp = h[t] @ w_hh_t
        hp += b_hh
        a = xp[t]
        a[:, : 2 * n] += hp[:, : 2 * n]
        a[:, : 2 * n] = sigmoid(a[:, : 2 * n])
        m[t] = hp[:, 2 * n :]
        a[:, 2 * n :] += a[:, :n] * m[t]
        np.tanh(a[:, 2 * n :], out=a[:, 2 * n :])
        z, cand = a[:, n : 2 * n], a[:, 2 * n :]
        h[t + 1] = cand + z * (h[t] - cand)  # (1 - z) n + z h
    return ForwardCache("gru", x, h, {"gates": xp, "m": m})


def _gru_backward(cache, w, direct):
    h, gates, m = cache.h, cache.saved["gates"], cache.saved["m"]
    t_len, b, rows = gates.shape
    n = rows // 3
    d_in = np.empty_like(gates)
    d_hid = np.empty_like(gates)
    norms = np.zeros(t_len + 1)
    g = direct.get(t_len, np.zeros((b, n))).copy()
    norms[t_len] = _norms(g)
    w_hh = w["weight_hh"]
    for t in range(t_len, 0, -1):
        k = t - 1
        r, z, cand = (gates[k, :, j * n : (j + 1) * n] for j in range(3))
        hp = h[k]
        da_n = g * (1.0 - z) * (1.0 - cand * cand)
        dz = g * (hp - cand) * z * (1.0 - z)
        dr = da_n * m[k] * r * (1.0 - r)
        d_in[k, :, :n] = dr
        d_in[k, :, n : 2 * n] = dz
        d_in[k, :, 2 * n :] = da_n
        d_hid[k, :, : 2 * n] = d_in[k, :, : 2 * n]
        d_hid[k, :, 2 * n :] = da_n * r
        g = g * z + d_hid[k] @ w_hh
        if k in direct:
            g += direct[k]
        norms[k] = _norms(g)
    return _weight_grads(d_in, d_hid, cache.x, h[:-1]), norms
