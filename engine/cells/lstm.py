"""The LSTM cell, exactly as torch.nn.LSTMCell computes it, with optional peepholes.

Gate rows of ``weight_ih`` (4n, d), ``weight_hh`` (4n, n), ``bias_ih``, ``bias_hh`` (4n,)
are stacked ``i | f | g | o`` as in PyTorch:

    A = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh           (split into A_i, A_f, A_g, A_o)
    i = sigma(A_i + p_i * c_{t-1})    f = sigma(A_f + p_f * c_{t-1})    g = tanh(A_g)
    c_t = f * c_{t-1} + i * g
    o = sigma(A_o + p_o * c_t)        h_t = o * tanh(c_t)

``peephole`` (3, n) holds the diagonal peephole weights p_i, p_f, p_o (Gers and
Schmidhuber's connections, not part of PyTorch); None is PyTorch's plain cell.
The state is the pair (h, c); step Jacobians are (2n, 2n) with blocks ordered h, c.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..products import View
from .base import BackwardStep, BackwardSteps, Options, RowsStep, RowsVJP, draw_weights, in_dtype
from .gated import SIGMOID as _SIG
from .gated import TANH as _TANH
from .gated import gated_parameter_gradients, one_row, scaled_step


@dataclass(frozen=True)
class LSTMParams:
    """weight_ih : (4n, d)  weight_hh : (4n, n)  bias_ih, bias_hh : (4n,)  peephole : (3, n)|None"""

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray
    peephole: np.ndarray | None = None

    @property
    def hidden_size(self) -> int:
        return self.weight_hh.shape[1]


@dataclass(frozen=True)
class LSTMTrace:
    """h, c : (T + 1, n) states h_0..h_T, c_0..c_T.
    pre : (T, 4n) gate pre-activations including peephole terms, rows i | f | g | o.
    gates : dict of (T, n) arrays ``i``, ``f``, ``g``, ``o``."""

    h: np.ndarray
    c: np.ndarray
    pre: np.ndarray
    gates: dict[str, np.ndarray]


def lstm_forward(p: LSTMParams, inputs: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> LSTMTrace:
    """Run the cell over inputs : (T, d) from (h0, c0)."""
    t_len, n = inputs.shape[0], p.hidden_size
    drive = inputs @ p.weight_ih.T + p.bias_ih + p.bias_hh  # (T, 4n)
    peep = np.zeros((3, n)) if p.peephole is None else p.peephole
    h = np.empty((t_len + 1, n))
    c = np.empty((t_len + 1, n))
    pre = np.empty((t_len, 4 * n))
    gates = {k: np.empty((t_len, n)) for k in "ifgo"}
    h[0], c[0] = h0, c0
    for t in range(t_len):
        a = drive[t] + p.weight_hh @ h[t]
        a[:n] += peep[0] * c[t]
        a[n : 2 * n] += peep[1] * c[t]
        i, f, g = _SIG.forward(a[:n]), _SIG.forward(a[n : 2 * n]), np.tanh(a[2 * n : 3 * n])
        c[t + 1] = f * c[t] + i * g
        a[3 * n :] += peep[2] * c[t + 1]
        o = _SIG.forward(a[3 * n :])
        h[t + 1] = o * np.tanh(c[t + 1])
        pre[t] = a
        for k, v in zip("ifgo", (i, f, g, o), strict=True):
            gates[k][t] = v
    return LSTMTrace(h=h, c=c, pre=pre, gates=gates)


def lstm_gate_activations(tr: LSTMTrace) -> dict[str, np.ndarray]:
    """Gate activations over steps t = 1..T, each (T, n): ``i``, ``f``, ``g``, ``o`` and the
    cell state ``c`` (c_1..c_T)."""
    return {**{k: tr.gates[k] for k in "ifgo"}, "c": tr.c[1:]}


def _step_parts(p: LSTMParams, tr: LSTMTrace, t: int):
    """Shared pieces of step t's Jacobians (t = 1..T)."""
    n = p.hidden_size
    a = tr.pre[t - 1]
    ds = {k: _SIG.derivative(a[j * n : (j + 1) * n]) for j, k in enumerate("if")}
    ds["o"] = _SIG.derivative(a[3 * n :])
    dg = _TANH.derivative(a[2 * n : 3 * n])
    i, f, g, o = (tr.gates[k][t - 1] for k in "ifgo")
    c_prev, c_new = tr.c[t - 1], tr.c[t]
    tanh_c = np.tanh(c_new)
    peep = np.zeros((3, n)) if p.peephole is None else p.peephole
    # dc_t / d(gate pre-activation) for i, f, g rows
    dc_da = np.concatenate([g * ds["i"], c_prev * ds["f"], i * dg])  # (3n,)
    return n, ds, i, f, g, o, c_prev, tanh_c, peep, dc_da


def lstm_step_jacobian(p: LSTMParams, tr: LSTMTrace, t: int) -> np.ndarray:
    """d(h_t, c_t) / d(h_{t-1}, c_{t-1}) : (2n, 2n), blocks [[hh, hc], [ch, cc]]."""
    n, ds, i, f, g, o, c_prev, tanh_c, peep, dc_da = _step_parts(p, tr, t)
    w = p.weight_hh
    dc_dh = (dc_da[:n, None] * w[:n]) + (dc_da[n : 2 * n, None] * w[n : 2 * n])
    dc_dh += dc_da[2 * n :, None] * w[2 * n : 3 * n]
    dc_dc = np.diag(f + g * ds["i"] * peep[0] + c_prev * ds["f"] * peep[1])
    do_dh = ds["o"][:, None] * (w[3 * n :] + peep[2][:, None] * dc_dh)
    do_dc = (ds["o"] * peep[2])[:, None] * dc_dc
    dtanh = o * (1.0 - tanh_c**2)
    dh_dh = tanh_c[:, None] * do_dh + dtanh[:, None] * dc_dh
    dh_dc = tanh_c[:, None] * do_dc + dtanh[:, None] * dc_dc
    return np.block([[dh_dh, dh_dc], [dc_dh, dc_dc]])


def lstm_input_jacobian(p: LSTMParams, tr: LSTMTrace, t: int) -> np.ndarray:
    """d(h_t, c_t) / dx_t : (2n, d)."""
    n, ds, i, f, g, o, c_prev, tanh_c, peep, dc_da = _step_parts(p, tr, t)
    w = p.weight_ih
    dc_dx = dc_da[:n, None] * w[:n] + dc_da[n : 2 * n, None] * w[n : 2 * n]
    dc_dx += dc_da[2 * n :, None] * w[2 * n : 3 * n]
    do_dx = ds["o"][:, None] * (w[3 * n :] + peep[2][:, None] * dc_dx)
    dh_dx = tanh_c[:, None] * do_dx + (o * (1.0 - tanh_c**2))[:, None] * dc_dx
    return np.vstack([dh_dx, dc_dx])


@dataclass(frozen=True)
class _StepVectors:
    """Every step's Jacobians as diagonals over the weight blocks, rows t - 1 for t = 1..T.

    With M_t = diag(di) W_i + diag(df) W_f + diag(dg) W_g (= dc_t/dh_{t-1}, n x n),
    d(h_t, c_t)/d(h_{t-1}, c_{t-1}) = [[diag(a) W_o + diag(b) M_t, diag(e)], [M_t, diag(f)]]
    and d(h_t, c_t)/dx_t the same with W_ih's blocks in place of W_hh's. All (T, n).
    """

    a: np.ndarray
    b: np.ndarray
    e: np.ndarray
    f: np.ndarray
    di: np.ndarray
    df: np.ndarray
    dg: np.ndarray


def _step_vectors(p: LSTMParams, tr: LSTMTrace) -> _StepVectors:
    n = p.hidden_size
    pre = tr.pre
    ds_i, ds_f = _SIG.derivative(pre[:, :n]), _SIG.derivative(pre[:, n : 2 * n])
    ds_o, d_g = _SIG.derivative(pre[:, 3 * n :]), _TANH.derivative(pre[:, 2 * n : 3 * n])
    i, g, o = tr.gates["i"], tr.gates["g"], tr.gates["o"]
    c_prev, tanh_c = tr.c[:-1], np.tanh(tr.c[1:])
    peep = np.zeros((3, n)) if p.peephole is None else p.peephole
    di, df, dg = g * ds_i, c_prev * ds_f, i * d_g  # dc_t / d(pre-activations i, f, g)
    a = tanh_c * ds_o
    b = a * peep[2] + o * (1.0 - tanh_c**2)
    f = tr.gates["f"] + di * peep[0] + df * peep[1]  # dc_t / dc_{t-1}, diagonal
    return _StepVectors(a=a, b=b, e=b * f, f=f, di=di, df=df, dg=dg)


def _weight_mix(
    v: _StepVectors,
    k: int,
    w: np.ndarray,
    n: int,
    scale: float = 1.0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """scale * [dh; dc] : (2n, m) of step k + 1 through the gate rows of w : (4n, m), the
    derivatives of (h_t, c_t) by z = h_{t-1} (w = weight_hh) or z = x_t (w = weight_ih)."""
    m = w.shape[1]
    out = np.empty((2 * n, m)) if out is None else out
    dh, dc = out[:n], out[n:]
    np.multiply(w[:n], (v.di[k] * scale)[:, None], out=dc)
    dc += (v.df[k] * scale)[:, None] * w[n : 2 * n]
    dc += (v.dg[k] * scale)[:, None] * w[2 * n : 3 * n]
    np.multiply(w[3 * n :], (v.a[k] * scale)[:, None], out=dh)
    dh += v.b[k][:, None] * dc
    return out


def lstm_step_factors(p: LSTMParams, tr: LSTMTrace):
    """Yield J_T, ..., J_1 for product_norm_profile as (apply, 0.0), where apply(P, s)
    returns s * P @ J_t without forming J_t: with P = [P_1 P_2] split by columns,
    P J_t = [P @ [diag(a) W_o + diag(b) M_t; M_t],  P_1 diag(e) + P_2 diag(f)],
    one (2n x 2n) @ (2n x n) product, half the cost of a dense one."""
    t_len, n = tr.pre.shape[0], p.hidden_size
    v = _step_vectors(p, tr)
    w = p.weight_hh
    right = np.empty((2 * n, n))  # scratch: [dh_t/dh_{t-1}; dc_t/dh_{t-1}], rewritten each step

    def factor(k: int):
        def apply(prod: np.ndarray, scale: float) -> np.ndarray:
            out = np.empty((2 * n, 2 * n))
            np.matmul(prod, _weight_mix(v, k, w, n, scale, right), out=out[:, :n])
            out[:, n:] = prod[:, :n] * (v.e[k] * scale) + prod[:, n:] * (v.f[k] * scale)
            return out

        return apply

    for t in range(t_len, 0, -1):
        yield factor(t - 1), 0.0


def lstm_views(p: LSTMParams, tr: LSTMTrace) -> dict[str, View]:
    """Views of the joint product P_l = d(h_T, c_T)/d(h_{T-l}, c_{T-l}) (2n x 2n):

    ``hh``: dh_T/dh_{T-l} with c_{T-l} held fixed (the hh block of P_l), l = 0..T
    ``cc``: dc_T/dc_{T-l} (the cc block), l = 0..T
    ``input``: dh_T/dx_{T-l} = [P_l]_{h rows} B_{T-l}, l = 0..T-1
    """
    t_len, n = tr.pre.shape[0], p.hidden_size
    v = _step_vectors(p, tr)

    def input_view(m: np.ndarray, l: int) -> tuple[np.ndarray, float]:
        return m[:n] @ _weight_mix(v, t_len - l - 1, p.weight_ih, n), 0.0  # B_{T-l} : (2n, d)

    return {
        "hh": View(lambda m, l: (m[:n, :n], 0.0), t_len),
        "cc": View(lambda m, l: (m[n:, n:], 0.0), t_len),
        "input": View(input_view, t_len - 1),
    }


def lstm_backward_rows(p: LSTMParams, tr: LSTMTrace, dtype=np.float64) -> RowsStep:
    """One step of BPTT for the rows of G : (m, 2n), each dL/d(h_t, c_t), at once: their
    dL/d(h_{t-1}, c_{t-1}) and delta = dL/dA_t : (m, 4n), the gradient of the gate
    pre-activations (rows i | f | g | o), which W_ih, W_hh and both biases share; extras =
    the peephole gradients (m, 3, n) (None without peepholes). Scale 0: no factor to pull
    out, the gates' slopes are at most 1. In ``dtype`` (see base.in_dtype)."""
    cast = in_dtype(dtype)
    w_hh = cast(p.weight_hh)

    def rows_step(t: int, g: np.ndarray) -> RowsVJP:
        n, ds, *parts, _ = _step_parts(p, tr, t)
        i, f, gg, o, c_prev, tanh_c, peep = map(cast, parts)
        ds = {k: cast(v) for k, v in ds.items()}
        g_h, g_c = g[:, :n], g[:, n:]
        d_o = g_h * tanh_c * ds["o"]
        d_c = g_c + g_h * o * (1.0 - tanh_c**2) + d_o * peep[2]
        d_i = d_c * gg * ds["i"]
        d_f = d_c * c_prev * ds["f"]
        d_g = d_c * i * cast(_TANH.derivative(tr.pre[t - 1][2 * n : 3 * n]))
        delta = np.concatenate([d_i, d_f, d_g, d_o], axis=1)
        g_prev = np.concatenate([delta @ w_hh, d_c * f + d_i * peep[0] + d_f * peep[1]], axis=1)
        extras = None
        if p.peephole is not None:
            extras = np.stack([d_i * c_prev, d_f * c_prev, d_o * cast(tr.c[t])], axis=1)
        return RowsVJP(g_prev, delta, delta, tr.h[t - 1], extras, 0.0)

    return rows_step


class LSTMCell:
    """The LSTM behind the Cell protocol (engine.cells.base); the state is (h, c)."""

    name = "lstm"
    label = "LSTM"
    torch_class = "nn.LSTMCell"
    gate_rows = 4
    state_factor = 2
    state_label = "(h, c)"
    recurrent_block = "W_hg"
    options = ("forget_bias", "peephole")
    choices: dict[str, tuple] = {}
    gate_order = ("f", "i", "o", "c")
    params_type = LSTMParams
    compared = True

    def gamma(self, options: Options) -> None:
        return None

    def draw_params(self, streams, *, n, d, init, scale, options: Options) -> LSTMParams:
        """forget_bias is added to bias_ih's f rows (rows i | f | g | o); the peepholes come
        from U(-1/sqrt(n), 1/sqrt(n)) of their own stream."""
        weights = draw_weights(streams, 4, n=n, d=d, init=init, scale=scale)
        weights["bias_ih"][n : 2 * n] += options.get("forget_bias", 0.0)
        k = 1.0 / np.sqrt(n)
        peep = streams["peep"].uniform(-k, k, size=(3, n)) if options.get("peephole") else None
        return LSTMParams(**weights, peephole=peep)

    def tensor_shapes(self, n: int, options: Options) -> dict[str, tuple[int, ...]]:
        return {"c0": (n,), **({"peephole": (3, n)} if options.get("peephole") else {})}

    def check_params(self, params: LSTMParams, options: Options) -> None:
        return None

    def forward(self, params, inputs, h0, c0, options: Options) -> LSTMTrace:
        return lstm_forward(params, inputs, h0, c0)

    def hidden_states(self, trace: LSTMTrace) -> tuple[np.ndarray, np.ndarray]:
        return trace.h, np.zeros(len(trace.h))

    def state_vectors(self, trace: LSTMTrace) -> np.ndarray:
        return np.hstack([trace.h, trace.c])

    def step_factors(self, params: LSTMParams, trace: LSTMTrace):
        return lstm_step_factors(params, trace)

    def views(self, params: LSTMParams, trace: LSTMTrace) -> dict[str, View]:
        return lstm_views(params, trace)

    def fast_profiles(self, params, trace, method: str) -> None:
        return None

    def backward(self, params: LSTMParams, trace: LSTMTrace) -> BackwardStep:
        return scaled_step(one_row(lstm_backward_rows(params, trace)))

    def backward_rows(self, params: LSTMParams, trace: LSTMTrace, dtype=np.float64) -> RowsStep:
        return lstm_backward_rows(params, trace, dtype)

    def parameter_gradients(self, params: LSTMParams, trace, inputs, steps: BackwardSteps):
        """Grads include ``peephole`` for a peephole LSTM."""
        peephole = params.peephole is not None
        return gated_parameter_gradients(trace.h, inputs, steps, peephole=peephole)

    def gate_activations(self, trace: LSTMTrace) -> dict[str, np.ndarray]:
        return lstm_gate_activations(trace)

    def recurrent_weight(self, params: LSTMParams) -> np.ndarray:
        n = params.hidden_size
        return params.weight_hh[2 * n : 3 * n]  # rows i | f | g | o: W_hg


LSTM = LSTMCell()
