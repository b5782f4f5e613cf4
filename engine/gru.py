"""The GRU cell in two forms.

``pytorch`` (torch.nn.GRUCell exactly; rows of the weights stacked ``r | z | n``):

    r = sigma(W_ir x + b_ir + W_hr h + b_hr)     z = sigma(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

``lecture`` (the update gate u weighs the *new* content, reset applied before the
matmul; same parameter layout, rows ``r | u | n``):

    r = sigma(W_ir x + b_ir + W_hr h + b_hr)     u = sigma(W_iu x + b_iu + W_hu h + b_hu)
    n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)
    h' = (1 - u) * h + u * n

So z of PyTorch plays the role of 1 - u: a large positive update bias keeps the
state in PyTorch's form, a large negative one does in the lecture form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bptt import gated_bptt
from .nonlinearity import get_nonlinearity
from .products import NormProfile, View, product_norm_profile

GRU_FORMS = ("pytorch", "lecture")
_SIG = get_nonlinearity("sigmoid")
_TANH = get_nonlinearity("tanh")


@dataclass(frozen=True)
class GRUParams:
    """weight_ih : (3n, d)  weight_hh : (3n, n)  bias_ih, bias_hh : (3n,)  form : pytorch|lecture"""

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray
    form: str = "pytorch"

    @property
    def hidden_size(self) -> int:
        return self.weight_hh.shape[1]


@dataclass(frozen=True)
class GRUTrace:
    """h : (T + 1, n).  a_r, a_z, a_n : (T, n) pre-activations of r, z (or u) and n.
    m : (T, n) W_hn h + b_hn (pytorch form) or W_hn (r * h) + b_hn (lecture form).
    gates : dict of (T, n) arrays ``r``, ``z`` (``u`` in the lecture form), ``n``."""

    h: np.ndarray
    a_r: np.ndarray
    a_z: np.ndarray
    a_n: np.ndarray
    m: np.ndarray
    gates: dict[str, np.ndarray]


def gru_forward(p: GRUParams, inputs: np.ndarray, h0: np.ndarray) -> GRUTrace:
    if p.form not in GRU_FORMS:
        raise ValueError(f"unknown GRU form {p.form!r}; choose from {list(GRU_FORMS)}")
    t_len, n = inputs.shape[0], p.hidden_size
    x_part = inputs @ p.weight_ih.T + p.bias_ih  # (T, 3n)
    w, b = p.weight_hh, p.bias_hh
    h = np.empty((t_len + 1, n))
    a_r, a_z, a_n, m = (np.empty((t_len, n)) for _ in range(4))
    h[0] = h0
    for t in range(t_len):
        hp = h[t]
        a_r[t] = x_part[t, :n] + w[:n] @ hp + b[:n]
        a_z[t] = x_part[t, n : 2 * n] + w[n : 2 * n] @ hp + b[n : 2 * n]
        r, z = _SIG.forward(a_r[t]), _SIG.forward(a_z[t])
        if p.form == "pytorch":
            m[t] = w[2 * n :] @ hp + b[2 * n :]
            a_n[t] = x_part[t, 2 * n :] + r * m[t]
            h[t + 1] = (1.0 - z) * np.tanh(a_n[t]) + z * hp
        else:
            m[t] = w[2 * n :] @ (r * hp) + b[2 * n :]
            a_n[t] = x_part[t, 2 * n :] + m[t]
            h[t + 1] = (1.0 - z) * hp + z * np.tanh(a_n[t])
    gates = {"r": _SIG.forward(a_r), "n": np.tanh(a_n)}
    gates["z" if p.form == "pytorch" else "u"] = _SIG.forward(a_z)
    return GRUTrace(h=h, a_r=a_r, a_z=a_z, a_n=a_n, m=m, gates=gates)


def gru_gate_activations(tr: GRUTrace) -> dict[str, np.ndarray]:
    """Gate activations over steps t = 1..T, each (T, n): the reset gate ``r`` and the update
    gate, ``z`` (pytorch form) or ``u`` (lecture form). The candidate is in ``tr.gates["n"]``."""
    return {k: v for k, v in tr.gates.items() if k != "n"}


def _jacobian(p: GRUParams, tr: GRUTrace, t: int, w: np.ndarray, wrt_h: bool) -> np.ndarray:
    """dh_t / d(h_{t-1} or x_t), with w the matching weights (weight_hh or weight_ih)."""
    n = p.hidden_size
    k = t - 1
    hp = tr.h[k]
    r, z = _SIG.forward(tr.a_r[k]), _SIG.forward(tr.a_z[k])
    nn = np.tanh(tr.a_n[k])
    dr = _SIG.derivative(tr.a_r[k])[:, None] * w[:n]
    dz = _SIG.derivative(tr.a_z[k])[:, None] * w[n : 2 * n]
    dtanh = _TANH.derivative(tr.a_n[k])[:, None]
    if p.form == "pytorch":
        # a_n = W_in x + b_in + r * (W_hn h + b_hn): through r, and through W_hn h (for h)
        da_n = tr.m[k][:, None] * dr + (r[:, None] * w[2 * n :] if wrt_h else w[2 * n :])
        jac = (1.0 - z)[:, None] * dtanh * da_n + (hp - nn)[:, None] * dz
        if wrt_h:
            jac += np.diag(z)
        return jac
    # lecture: a_n = W_in x + b_in + W_hn (r * h) + b_hn
    w_hn = p.weight_hh[2 * n :]
    da_n = w_hn @ (hp[:, None] * dr)
    da_n += w_hn * r[None, :] if wrt_h else w[2 * n :]
    jac = z[:, None] * dtanh * da_n + (nn - hp)[:, None] * dz
    if wrt_h:
        jac += np.diag(1.0 - z)
    return jac


def gru_step_jacobian(p: GRUParams, tr: GRUTrace, t: int) -> np.ndarray:
    """dh_t / dh_{t-1} : (n, n)."""
    return _jacobian(p, tr, t, p.weight_hh, wrt_h=True)


def gru_input_jacobian(p: GRUParams, tr: GRUTrace, t: int) -> np.ndarray:
    """dh_t / dx_t : (n, d)."""
    return _jacobian(p, tr, t, p.weight_ih, wrt_h=False)


def gru_profiles(p: GRUParams, tr: GRUTrace, *, method: str = "auto") -> dict[str, NormProfile]:
    """``state``: dh_T/dh_{T-l}, l = 0..T;  ``input``: dh_T/dx_{T-l}, l = 0..T-1."""
    t_len, n = tr.a_r.shape[0], p.hidden_size
    factors = ((gru_step_jacobian(p, tr, t), 0.0) for t in range(t_len, 0, -1))
    views = {"input": View(lambda m, l: (m @ gru_input_jacobian(p, tr, t_len - l), 0.0), t_len - 1)}
    state, parts = product_norm_profile(factors, n, method=method, views=views)
    return {"state": state, **parts}


def gru_backward_step(p: GRUParams, tr: GRUTrace, t: int, g: np.ndarray):
    """One step of BPTT: g = dL/dh_t : (n,) to dL/dh_{t-1}.

    Returns (g_prev, delta_in, delta_hid, right_n): delta_in = dL/d(W_ih x + b_ih) : (3n,),
    delta_hid = dL/d(W_hh-side pre-activation + b_hh) : (3n,); the W_hh gradient of this
    step is outer(delta_hid, h_{t-1}) except its n rows, which multiply ``right_n``
    (h_{t-1} in PyTorch's form, r * h_{t-1} in the lecture form).
    """
    n = p.hidden_size
    k = t - 1
    hp = tr.h[k]
    r, z, nn = _SIG.forward(tr.a_r[k]), _SIG.forward(tr.a_z[k]), np.tanh(tr.a_n[k])
    w = p.weight_hh
    if p.form == "pytorch":
        da_n = g * (1.0 - z) * (1.0 - nn**2)
        d_z = g * (hp - nn) * _SIG.derivative(tr.a_z[k])
        d_r = da_n * tr.m[k] * _SIG.derivative(tr.a_r[k])
        d_m = da_n * r
        delta_in = np.concatenate([d_r, d_z, da_n])
        delta_hid = np.concatenate([d_r, d_z, d_m])
        return g * z + w.T @ delta_hid, delta_in, delta_hid, hp
    da_n = g * z * (1.0 - nn**2)
    d_z = g * (nn - hp) * _SIG.derivative(tr.a_z[k])
    d_rh = w[2 * n :].T @ da_n
    d_r = d_rh * hp * _SIG.derivative(tr.a_r[k])
    delta = np.concatenate([d_r, d_z, da_n])
    g_prev = g * (1.0 - z) + w[:n].T @ d_r + w[n : 2 * n].T @ d_z + d_rh * r
    return g_prev, delta, delta, r * hp


def gru_bptt(p: GRUParams, tr: GRUTrace, inputs: np.ndarray, target: np.ndarray):
    """BPTTGradient of L = 1/2 ||h_T - y||^2."""
    n = p.hidden_size
    return gated_bptt(
        lambda t, g: (*gru_backward_step(p, tr, t, g), None),
        h_states=tr.h,
        state_size=n,
        gate_rows=3 * n,
        inputs=inputs,
        target=target,
    )
