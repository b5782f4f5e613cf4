"""Every registered cell's derivatives against centred finite differences of its forward step.

In the style of autograd's check_vjp: random directions v and random covectors u, and
<u, J v> from the forward step's centred differences against the cell's own Jacobian factors,
views, backward step (VJP) and parameter gradients; then the generic BPTT, with a gradient
injected at every step, against finite differences of the sequence loss. The checker is shown
to fail on a derivative that is off by 0.1%.
"""

from dataclasses import replace

import numpy as np
import pytest

from bpttlab.engine import GradientFlowConfig
from bpttlab.engine.bptt import bptt
from bpttlab.engine.cells import BackwardSteps, cell_names, cell_options, get_cell, profiles
from bpttlab.engine.cells.rnn import RNN, RNNParams
from bpttlab.engine.logdomain import log10_norm
from bpttlab.engine.problem import draw_problem

from .gradcheck import check_grad, check_vjp

N, D, T = 3, 2, 5
# option variants per cell; a cell not listed here is checked with its defaults
VARIANTS = {
    "rnn": [{"nonlinearity": nl} for nl in ("tanh", "sigmoid", "identity")],
    "lstm": [{"peephole": False}, {"peephole": True, "forget_bias": 1.0}],
    "gru": [{"gru_form": "pytorch"}, {"gru_form": "lecture", "update_bias": -1.0}],
}
CASES = [(name, v) for name in cell_names() for v in VARIANTS.get(name, [{}])]


def _setup(name, variant, seed=0, t_len=T):
    cell = get_cell(name)
    options = cell_options(cell, GradientFlowConfig(cell=name, **variant))
    prob = draw_problem(
        seed=seed,
        hidden_size=N,
        input_size=D,
        seq_len=t_len,
        init="gaussian",
        scale=1.2,
        input="random",
        input_scale=1.0,
        h0="random",
        cell=name,
        **options,
    )
    trace = cell.forward(prob.params, prob.inputs, prob.h0, prob.c0, options)
    return cell, options, prob, trace


def _split(cell, z):
    """(h0, c0) from a state vector z : (S,)."""
    return z[:N], (z[N:] if cell.state_factor > 1 else None)


def _run(cell, params, options, inputs, z):
    """The states z_0..z_T : (T + 1, S) of a run from z."""
    return cell.state_vectors(cell.forward(params, inputs, *_split(cell, z), options))


def _step(cell, params, options, x, z):
    """F(z, x): one step of the cell."""
    return _run(cell, params, options, x[None], z)[-1]


def _dense(factor, size):
    """A step factor, in any form product_norm_profile takes, as a matrix."""
    m, scale = factor
    if m is None:
        return np.zeros((size, size))
    if callable(m):
        m = m(np.eye(size), 1.0)
    elif isinstance(m, tuple):
        m = m[0][:, None] * m[1]
    return m * 10.0**scale


def _parts(cell):
    """The state's parts by name ("h", "c"), each n wide."""
    names = cell.state_label.strip("()").split(", ")
    return {p: slice(i * N, (i + 1) * N) for i, p in enumerate(names)}


def check_cell_derivatives(cell, options, prob, trace, rng):
    """Assert the cell's factors, views, backward step and parameter gradients at every step
    of ``trace`` against centred differences of its forward step."""
    params, x = prob.params, prob.inputs
    z = cell.state_vectors(trace)
    size, t_len = z.shape[1], x.shape[0]
    factors = list(cell.step_factors(params, trace))  # J_T, ..., J_1
    step = cell.backward(params, trace)
    views = cell.views(params, trace)
    assert len(factors) == t_len and "input" in views
    for t in range(1, t_len + 1):
        l = t_len - t

        def f(zz, t=t):
            return _step(cell, params, options, x[t - 1], zz)

        jac = _dense(factors[l], size)
        check_vjp(f, z[t - 1], lambda u, jac=jac: jac.T @ u, rng)

        def vjp(u, t=t):
            out = step(t, u, 0.0)
            return np.zeros(size) if out is None else out.g_prev * 10.0**out.log10_scale

        check_vjp(f, z[t - 1], vjp, rng)
        _check_rows_step(cell.backward_rows(params, trace), step, t, f, z[t - 1], rng)
        # input view of a random product P: [P B_t]_h, B_t = dz_t/dx_t
        p = rng.standard_normal((size, size))
        m, s = views["input"].matrix(p, l)
        check_vjp(
            lambda xx, t=t, p=p: (p @ _step(cell, params, options, xx, z[t - 1]))[:N],
            x[t - 1],
            lambda u, m=m, s=s: (m * 10.0**s).T @ u,
            rng,
        )
        # blocks "<out><in>" of the one-step product: the Jacobian of one part by another
        parts = _parts(cell)
        for name, view in views.items():
            if name == "input":
                continue
            rows, cols = parts[name[0]], parts[name[1]]
            m, s = view.matrix(jac, l)

            def f_block(v, t=t, cols=cols, rows=rows):
                zz = z[t - 1].copy()
                zz[cols] = v
                return _step(cell, params, options, x[t - 1], zz)[rows]

            check_vjp(f_block, z[t - 1][cols], lambda u, m=m, s=s: (m * 10.0**s).T @ u, rng)
        _check_step_parameter_gradients(cell, options, params, x[t - 1], z[t - 1], rng)


def _check_rows_step(rows_step, step, t, f, z, rng):
    """The batched VJP of step t: every row of a block of covectors by finite differences of
    the step (g_prev) and by the one-covector VJP (delta_in, delta_hid, right, extras)."""
    g = rng.standard_normal((3, z.size))
    out = rows_step(t, g)
    if out is None:  # a step whose Jacobian is exactly zero
        assert all(step(t, u, 0.0) is None for u in g)
        return
    assert out.g_prev.shape == g.shape
    w = rng.standard_normal(z.size)  # another row: each row's VJP is its own

    def second_row(u):
        pair = rows_step(t, np.stack([w, u]))
        return pair.g_prev[1] * 10.0**pair.log10_scale

    check_vjp(f, z, second_row, rng)
    for i, u in enumerate(g):
        one = step(t, u, 0.0)
        factor = 10.0 ** (out.log10_scale - one.log10_scale)
        for name in ("g_prev", "delta_in", "delta_hid"):
            np.testing.assert_allclose(
                getattr(out, name)[i] * factor, getattr(one, name), rtol=1e-12, atol=1e-14
            )
        np.testing.assert_array_equal(out.right, one.right)
        if one.extras is not None:
            np.testing.assert_allclose(out.extras[i] * factor, one.extras, rtol=1e-12, atol=1e-14)


def _check_step_parameter_gradients(cell, options, params, x, z, rng):
    """The parameter part of one step's VJP: the gradient of <u, F(z, x)> by each tensor."""
    tr = cell.forward(params, x[None], *_split(cell, z), options)
    u = rng.standard_normal(z.size)
    out = cell.backward(params, tr)(1, u, 0.0)
    extras = None if out.extras is None else out.extras[None]
    steps = BackwardSteps(
        out.delta_in[None], out.delta_hid[None], out.right[None], extras, np.array([0.0])
    )
    steps = replace(steps, scale=np.array([out.log10_scale]))
    grads, _, _ = cell.parameter_gradients(params, tr, x[None], steps)
    for name, m in grads.mantissa.items():

        def loss(w, name=name):
            return float(u @ _step(cell, replace(params, **{name: w}), options, x, z))

        check_grad(loss, m * 10.0**grads.log10_scale, getattr(params, name), rng)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name, variant", CASES)
def test_factors_views_and_vjps_match_finite_differences(name, variant, seed):
    cell, options, prob, trace = _setup(name, variant, seed)
    check_cell_derivatives(cell, options, prob, trace, np.random.default_rng(seed))


def _sequence_loss(cell, options, params, inputs, z0, target, w):
    """1/2 ||h_T - y||^2 + sum_t <w_t, h_t>, t = 0..T, for the run from z0."""
    h = _run(cell, params, options, inputs, z0)[:, :N]
    e = h[-1] - target
    return 0.5 * float(e @ e) + float(np.sum(w * h))


def check_bptt(cell, options, prob, trace, rng):
    """Assert the generic BPTT with a gradient injected at every step against centred
    differences of the sequence loss: every parameter, and ||dL/dh_{T-l}|| for every l."""
    params, x, y = prob.params, prob.inputs, prob.target
    t_len = x.shape[0]
    w = rng.standard_normal((t_len + 1, N))
    z = cell.state_vectors(trace)
    g = bptt(cell, params, trace, x, target=y, injected=w)
    for name, m in g.grads.mantissa.items():

        def loss(v, name=name):
            p = replace(params, **{name: v})
            return _sequence_loss(cell, options, p, x, z[0], y, w)

        check_grad(loss, m * 10.0**g.grads.log10_scale, getattr(params, name), rng)
    for l in range(t_len + 1):
        k = t_len - l

        def tail(h, k=k):
            zz = z[k].copy()
            zz[:N] = h
            return _sequence_loss(cell, options, params, x[k:], zz, y, w[k:])

        fd = [(tail(z[k][:N] + e) - tail(z[k][:N] - e)) / 2e-6 for e in 1e-6 * np.eye(N)]
        assert 10 ** g.log10_dh[l] == pytest.approx(np.linalg.norm(fd), rel=1e-6, abs=1e-9)
    e = z[-1][:N] - y
    assert 10**g.log10_loss == pytest.approx(0.5 * float(e @ e), rel=1e-12)


@pytest.mark.parametrize("name, variant", CASES)
def test_bptt_with_gradients_injected_at_every_step(name, variant):
    cell, options, prob, trace = _setup(name, variant, seed=2)
    check_bptt(cell, options, prob, trace, np.random.default_rng(2))


@pytest.mark.parametrize("name", cell_names())
def test_injecting_nothing_changes_no_bit_and_sparse_equals_dense(name):
    cell, options, prob, trace = _setup(name, {}, seed=3)
    args = (cell, prob.params, trace, prob.inputs)
    alone = bptt(*args, target=prob.target)
    zeros = bptt(*args, target=prob.target, injected=np.zeros((T + 1, N)))
    v = np.random.default_rng(3).standard_normal(N)
    dense = np.zeros((T + 1, N))
    dense[2] = v
    pairs = [(alone, zeros), (bptt(*args, injected=dense), bptt(*args, injected={2: v}))]
    for a, b in pairs:
        np.testing.assert_array_equal(a.log10_dh, b.log10_dh)
        np.testing.assert_array_equal(a.log10_contribution, b.log10_contribution)
        assert a.grads.log10_scale == b.grads.log10_scale and a.log10_loss == b.log10_loss
        for k, m in a.grads.mantissa.items():
            np.testing.assert_array_equal(m, b.grads.mantissa[k])
    only = bptt(*args, injected={2: v})
    assert only.log10_loss == -np.inf and np.all(only.log10_dh[: T - 2] == -np.inf)


@pytest.mark.parametrize("a, log10_v", [(3.0, 300.0), (3.0, -300.0), (0.5, -300.0)])
def test_injected_gradients_are_carried_at_their_own_scale(a, log10_v):
    # identity phi, W_hh = a I, no inputs: dL/dh_j = a^(T-j) r + a^(k-j) v for j <= k, with
    # r = h_T - y and v injected at step k, parallel to r: the norms add
    n, t_len, k = 3, 1000, 990
    p = _setup("rnn", {"nonlinearity": "identity"}, t_len=t_len)[2]
    params = RNNParams(p.params.weight_ih, a * np.eye(n), 0 * p.params.bias_ih, 0)
    h0 = np.full(n, 1e-300 if a > 1 else 1.0)
    options = {"nonlinearity": "identity"}
    trace = RNN.forward(params, 0 * p.inputs, h0, None, options)
    r = trace.states[-1] - p.target * 10.0 ** -trace.state_log10[-1]
    log_r = log10_norm(r) + trace.state_log10[-1]
    v = r / np.linalg.norm(r) * 10.0**log10_v
    g = bptt(RNN, params, trace, 0 * p.inputs, target=p.target, injected={k: v})
    j = np.arange(t_len, -1, -1)  # the step of row l = T - j
    ln10 = np.log(10.0)
    from_r = ((t_len - j) * np.log10(a) + log_r) * ln10
    from_v = np.where(j <= k, ((k - j) * np.log10(a) + log10_v) * ln10, -np.inf)
    np.testing.assert_allclose(g.log10_dh, np.logaddexp(from_r, from_v) / ln10, rtol=1e-12)
    assert np.all(np.isfinite(g.log10_dh))


class _Off:
    """A registered cell with one derivative off by a factor ``by``."""

    def __init__(self, cell, what, by=1.001):
        self._cell, self._what, self._by = cell, what, by

    def __getattr__(self, name):
        return getattr(self._cell, name)

    def step_factors(self, params, trace):
        for m, s in self._cell.step_factors(params, trace):
            yield (m, s + np.log10(self._by)) if self._what == "factor" else (m, s)

    def backward(self, params, trace):
        step = self._cell.backward(params, trace)

        def off(t, g, scale):
            out = step(t, g, scale)
            if out is None or self._what == "factor":
                return out
            if self._what == "state":
                return replace(out, g_prev=out.g_prev * self._by)
            return replace(out, delta_hid=out.delta_hid * self._by)

        return off


@pytest.mark.parametrize("what", ["factor", "state", "parameter"])
@pytest.mark.parametrize("name", cell_names())
def test_the_checker_fails_on_a_derivative_off_by_a_tenth_of_a_percent(name, what):
    cell, options, prob, trace = _setup(name, VARIANTS.get(name, [{}])[0])
    off = _Off(cell, what)
    with pytest.raises(AssertionError):
        check_cell_derivatives(off, options, prob, trace, np.random.default_rng(0))
    if what != "factor":  # BPTT does not use the factors
        with pytest.raises(AssertionError):
            check_bptt(off, options, prob, trace, np.random.default_rng(0))
    check_cell_derivatives(cell, options, prob, trace, np.random.default_rng(0))


@pytest.mark.parametrize("name, variant", CASES)
def test_every_cell_describes_itself_consistently(name, variant):
    cell, options, prob, trace = _setup(name, variant)
    p = prob.params
    assert cell.name == name and isinstance(p, cell.params_type)
    assert p.weight_hh.shape == (cell.gate_rows * N, N) and p.weight_ih.shape[0] == p.bias_ih.size
    assert cell.recurrent_weight(p).shape == (N, N)
    assert cell.state_vectors(trace).shape == (T + 1, cell.state_factor * N)
    assert len(_parts(cell)) == cell.state_factor
    assert set(cell.options) <= set(GradientFlowConfig.field_names())
    assert set(cell.choices) <= set(cell.options)
    gates = cell.gate_activations(trace)
    shown = [k for k in cell.gate_order if k in gates]  # the server's filter by presence
    assert bool(shown) == bool(gates) and len(set(cell.gate_order)) == len(cell.gate_order)
    for v in gates.values():
        assert v.shape == (T, N)
    prof = profiles(cell, p, trace)
    assert prof.state.spectral.shape == (T + 1,) and prof.input.spectral.shape == (T,)
    gamma = cell.gamma(options)
    assert gamma is None or gamma > 0


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_the_batched_step_in_single_precision_stays_single_and_close(name, variant):
    """backward_rows(dtype=float32) (engine.probes' fast sweeps) computes in float32, not
    silently in float64, and agrees with the double-precision step to single precision."""
    cell, _, prob, trace = _setup(name, variant)
    g = np.random.default_rng(2).standard_normal((4, cell.state_factor * N))
    wide = cell.backward_rows(prob.params, trace)
    narrow = cell.backward_rows(prob.params, trace, np.float32)
    for t in range(1, T + 1):
        a, b = wide(t, g), narrow(t, g.astype(np.float32))
        if a is None:
            assert b is None
            continue
        assert b.g_prev.dtype == b.delta_in.dtype == b.delta_hid.dtype == np.float32
        assert b.log10_scale == a.log10_scale
        np.testing.assert_allclose(b.g_prev, a.g_prev, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b.delta_hid, a.delta_hid, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(b.right, a.right)
