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

from ..products import View
from .base import BackwardStep, BackwardSteps, Options, RowsStep, RowsVJP, draw_weights, in_dtype
from .gated import SIGMOID as _SIG
from .gated import TANH as _TANH
from .gated import gated_parameter_gradients, one_row, scaled_step

GRU_FORMS = ("pytorch", "lecture")


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


@dataclass(frozen=True)
class _Slopes:
    """Per-step vectors of the Jacobians, each (T, n), computed once for all steps.

    With the gate rows of a weight matrix w = [w_r; w_z; w_n] (weight_hh for dh_t/dh_{t-1},
    weight_ih for dh_t/dx_t), the PyTorch form's Jacobian is
        diag(a) w_r + diag(b) w_z + diag(c) w_n  (+ diag(z) for h),
    with a = (1 - z) tanh'(a_n) m sigma'(a_r), b = (h_{t-1} - n) sigma'(a_z) and
    c = (1 - z) tanh'(a_n) (times r for h, whose w_n sits inside the reset). The lecture
    form's is diag(g) W_hn diag(h_{t-1} sigma'(a_r)) w_r + diag(b) w_z + diag(g) W_hn diag(r)
    (+ diag(1 - u) for h) or diag(g) w_n for x, with g = u tanh'(a_n), b = (n - h) sigma'(a_u).
    """

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    r: np.ndarray
    z: np.ndarray


def _slopes(p: GRUParams, tr: GRUTrace) -> _Slopes:
    hp, z, r, nn = tr.h[:-1], _SIG.forward(tr.a_z), _SIG.forward(tr.a_r), np.tanh(tr.a_n)
    sr, sz, tn = _SIG.derivative(tr.a_r), _SIG.derivative(tr.a_z), _TANH.derivative(tr.a_n)
    if p.form == "pytorch":
        c = (1.0 - z) * tn
        return _Slopes(a=c * tr.m * sr, b=(hp - nn) * sz, c=c, r=r, z=z)
    return _Slopes(a=hp * sr, b=(nn - hp) * sz, c=z * tn, r=r, z=z)


def _jacobian(
    p: GRUParams, s: _Slopes, k: int, w: np.ndarray, wrt_h: bool, out: np.ndarray | None = None
) -> np.ndarray:
    """dh_t / d(h_{t-1} or x_t) for t = k + 1, with w the matching weights (weight_hh or
    weight_ih), from the step's row scalings (see _Slopes); written into out if given."""
    n = p.hidden_size
    out = np.empty((n, w.shape[1])) if out is None else out
    if p.form == "pytorch":
        np.multiply(w[:n], s.a[k][:, None], out=out)
        out += s.b[k][:, None] * w[n : 2 * n]
        out += (s.c[k] * s.r[k] if wrt_h else s.c[k])[:, None] * w[2 * n :]
        if wrt_h:
            out.flat[:: n + 1] += s.z[k]
        return out
    # lecture: a_n = W_in x + b_in + W_hn (r * h) + b_hn, through r and (for h) through h
    w_hn = p.weight_hh[2 * n :]
    np.matmul(w_hn, s.a[k][:, None] * w[:n], out=out)
    out += w_hn * s.r[k] if wrt_h else w[2 * n :]
    out *= s.c[k][:, None]
    out += s.b[k][:, None] * w[n : 2 * n]
    if wrt_h:
        out.flat[:: n + 1] += 1.0 - s.z[k]
    return out


def gru_step_jacobian(p: GRUParams, tr: GRUTrace, t: int) -> np.ndarray:
    """dh_t / dh_{t-1} : (n, n)."""
    return _jacobian(p, _slopes(p, tr), t - 1, p.weight_hh, wrt_h=True)


def gru_input_jacobian(p: GRUParams, tr: GRUTrace, t: int) -> np.ndarray:
    """dh_t / dx_t : (n, d)."""
    return _jacobian(p, _slopes(p, tr), t - 1, p.weight_ih, wrt_h=False)


def gru_step_factors(p: GRUParams, tr: GRUTrace):
    """Yield J_T, ..., J_1 (dh_t/dh_{t-1} : (n, n)) for product_norm_profile."""
    s = _slopes(p, tr)
    for t in range(tr.a_r.shape[0], 0, -1):
        yield _jacobian(p, s, t - 1, p.weight_hh, wrt_h=True), 0.0


def gru_views(p: GRUParams, tr: GRUTrace) -> dict[str, View]:
    """``input``: dh_T/dx_{T-l} = P_l B_{T-l}, l = 0..T-1."""
    t_len = tr.a_r.shape[0]
    s = _slopes(p, tr)

    def input_view(m: np.ndarray, l: int) -> tuple[np.ndarray, float]:
        return m @ _jacobian(p, s, t_len - l - 1, p.weight_ih, wrt_h=False), 0.0

    return {"input": View(input_view, t_len - 1)}


def gru_backward_rows(p: GRUParams, tr: GRUTrace, dtype=np.float64) -> RowsStep:
    """One step of BPTT for the rows of G : (m, n), each dL/dh_t, at once: their dL/dh_{t-1},
    delta_in = dL/d(W_ih x + b_ih) : (m, 3n) and delta_hid = dL/d(W_hh-side pre-activation
    + b_hh) : (m, 3n); the W_hh gradient of this step is outer(delta_hid, h_{t-1}) except
    its n rows, which multiply ``right`` (h_{t-1} in PyTorch's form, r * h_{t-1} in the
    lecture form). Scale 0. In ``dtype`` (see base.in_dtype); ``right`` stays float64."""
    cast = in_dtype(dtype)
    n, w = p.hidden_size, cast(p.weight_hh)

    def rows_step(t: int, g: np.ndarray) -> RowsVJP:
        k = t - 1
        right = tr.h[k]
        r, z, nn = _SIG.forward(tr.a_r[k]), _SIG.forward(tr.a_z[k]), np.tanh(tr.a_n[k])
        if p.form != "pytorch":
            right = r * right
        hp, r, z, nn = cast(tr.h[k]), cast(r), cast(z), cast(nn)
        dz, dr = cast(_SIG.derivative(tr.a_z[k])), cast(_SIG.derivative(tr.a_r[k]))
        if p.form == "pytorch":
            da_n = g * (1.0 - z) * (1.0 - nn**2)
            d_z = g * (hp - nn) * dz
            d_r = da_n * cast(tr.m[k]) * dr
            d_m = da_n * r
            delta_in = np.concatenate([d_r, d_z, da_n], axis=1)
            delta_hid = np.concatenate([d_r, d_z, d_m], axis=1)
            return RowsVJP(g * z + delta_hid @ w, delta_in, delta_hid, right, None, 0.0)
        da_n = g * z * (1.0 - nn**2)
        d_z = g * (nn - hp) * dz
        d_rh = da_n @ w[2 * n :]
        d_r = d_rh * hp * dr
        delta = np.concatenate([d_r, d_z, da_n], axis=1)
        g_prev = g * (1.0 - z) + d_r @ w[:n] + d_z @ w[n : 2 * n] + d_rh * r
        return RowsVJP(g_prev, delta, delta, right, None, 0.0)

    return rows_step


class GRUCell:
    """The GRU behind the Cell protocol (engine.cells.base), in either form."""

    name = "gru"
    label = "GRU"
    torch_class = "nn.GRUCell"
    gate_rows = 3
    state_factor = 1
    state_label = "h"
    recurrent_block = "W_hn"
    options = ("update_bias", "gru_form")
    choices = {"gru_form": GRU_FORMS}
    gate_order = ("z", "u", "r")
    params_type = GRUParams
    compared = True

    def gamma(self, options: Options) -> None:
        return None

    def draw_params(self, streams, *, n, d, init, scale, options: Options) -> GRUParams:
        """update_bias is added to bias_ih's update rows (rows r | z | n, or r | u | n)."""
        weights = draw_weights(streams, 3, n=n, d=d, init=init, scale=scale)
        weights["bias_ih"][n : 2 * n] += options.get("update_bias", 0.0)
        return GRUParams(**weights, form=options.get("gru_form", "pytorch"))

    def tensor_shapes(self, n: int, options: Options) -> dict[str, tuple[int, ...]]:
        return {}

    def check_params(self, params: GRUParams, options: Options) -> None:
        if params.form != options["gru_form"]:
            raise ValueError(
                f"gru_form={options['gru_form']} but the parameters are of form {params.form}"
            )

    def forward(self, params, inputs, h0, c0, options: Options) -> GRUTrace:
        return gru_forward(params, inputs, h0)

    def hidden_states(self, trace: GRUTrace) -> tuple[np.ndarray, np.ndarray]:
        return trace.h, np.zeros(len(trace.h))

    def state_vectors(self, trace: GRUTrace) -> np.ndarray:
        return trace.h

    def step_factors(self, params: GRUParams, trace: GRUTrace):
        return gru_step_factors(params, trace)

    def views(self, params: GRUParams, trace: GRUTrace) -> dict[str, View]:
        return gru_views(params, trace)

    def fast_profiles(self, params, trace, method: str) -> None:
        return None

    def backward(self, params: GRUParams, trace: GRUTrace) -> BackwardStep:
        return scaled_step(one_row(gru_backward_rows(params, trace)))

    def backward_rows(self, params: GRUParams, trace: GRUTrace, dtype=np.float64) -> RowsStep:
        return gru_backward_rows(params, trace, dtype)

    def parameter_gradients(self, params: GRUParams, trace, inputs, steps: BackwardSteps):
        return gated_parameter_gradients(trace.h, inputs, steps)

    def gate_activations(self, trace: GRUTrace) -> dict[str, np.ndarray]:
        return gru_gate_activations(trace)

    def recurrent_weight(self, params: GRUParams) -> np.ndarray:
        return params.weight_hh[2 * params.hidden_size :]  # rows r | z | n: W_hn


GRU = GRUCell()
