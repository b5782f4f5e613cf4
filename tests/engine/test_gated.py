"""LSTM and GRU step Jacobians against finite differences, and the gating closed forms."""

import numpy as np
import pytest

from bpttlab.engine.bptt import bptt
from bpttlab.engine.cells import GRU, LSTM, profiles
from bpttlab.engine.cells.gru import (
    GRUParams,
    gru_forward,
    gru_input_jacobian,
    gru_step_jacobian,
)
from bpttlab.engine.cells.lstm import (
    LSTMParams,
    lstm_forward,
    lstm_input_jacobian,
    lstm_step_factors,
    lstm_step_jacobian,
)

from .gradcheck import check_grad, fd_jacobian

N, D, T = 4, 3, 6


def lstm_profiles(p, tr, *, method="auto"):
    """The generic profiles of the LSTM by the names of its products."""
    prof = profiles(LSTM, p, tr, method=method)
    return {"joint": prof.state, **prof.blocks, "input": prof.input}


def gru_profiles(p, tr):
    prof = profiles(GRU, p, tr)
    return {"state": prof.state, **prof.blocks, "input": prof.input}


def _lstm(seed, peephole, forget=0.0, input_gate=0.0):
    rng = np.random.default_rng(seed)
    b = rng.normal(size=4 * N) * 0.5
    b[N : 2 * N] += forget
    b[:N] += input_gate
    return LSTMParams(
        rng.normal(size=(4 * N, D)) * 0.7,
        rng.normal(size=(4 * N, N)) * 0.7,
        b,
        rng.normal(size=4 * N) * 0.5,
        rng.normal(size=(3, N)) if peephole else None,
    )


def _gru(seed, form, update=0.0):
    rng = np.random.default_rng(seed)
    b = rng.normal(size=3 * N) * 0.2
    b[N : 2 * N] += update
    return GRUParams(
        rng.normal(size=(3 * N, D)) * 0.7,
        rng.normal(size=(3 * N, N)) * 0.7,
        b,
        rng.normal(size=3 * N) * 0.2,
        form,
    )


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lstm_step_and_input_jacobians(seed, peephole):
    p = _lstm(seed, peephole)
    rng = np.random.default_rng(10 + seed)
    x, h0, c0 = rng.normal(size=(T, D)), rng.normal(size=N), rng.normal(size=N)
    tr = lstm_forward(p, x, h0, c0)
    for t in range(1, T + 1):

        def step(state, t=t):
            one = lstm_forward(p, x[t - 1 : t], state[:N], state[N:])
            return np.concatenate([one.h[1], one.c[1]])

        def step_x(xt, t=t):
            one = lstm_forward(p, xt[None, :], tr.h[t - 1], tr.c[t - 1])
            return np.concatenate([one.h[1], one.c[1]])

        state = np.concatenate([tr.h[t - 1], tr.c[t - 1]])
        np.testing.assert_allclose(
            lstm_step_jacobian(p, tr, t), fd_jacobian(step, state), atol=1e-8
        )
        np.testing.assert_allclose(
            lstm_input_jacobian(p, tr, t), fd_jacobian(step_x, x[t - 1]), atol=1e-8
        )


@pytest.mark.parametrize("form", ["pytorch", "lecture"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gru_step_and_input_jacobians(seed, form):
    p = _gru(seed, form)
    rng = np.random.default_rng(20 + seed)
    x, h0 = rng.normal(size=(T, D)), rng.normal(size=N)
    tr = gru_forward(p, x, h0)
    for t in range(1, T + 1):

        def step(h, t=t):
            return gru_forward(p, x[t - 1 : t], h).h[1]

        def step_x(xt, t=t):
            return gru_forward(p, xt[None, :], tr.h[t - 1]).h[1]

        np.testing.assert_allclose(
            gru_step_jacobian(p, tr, t), fd_jacobian(step, tr.h[t - 1]), atol=1e-8
        )
        np.testing.assert_allclose(
            gru_input_jacobian(p, tr, t), fd_jacobian(step_x, x[t - 1]), atol=1e-8
        )


def test_pytorch_gru_matches_the_written_out_equations():
    p = _gru(3, "pytorch")
    rng = np.random.default_rng(3)
    x, h = rng.normal(size=(1, D)), rng.normal(size=N)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    gi, gh = p.weight_ih @ x[0] + p.bias_ih, p.weight_hh @ h + p.bias_hh
    r, z = sig(gi[:N] + gh[:N]), sig(gi[N : 2 * N] + gh[N : 2 * N])
    n = np.tanh(gi[2 * N :] + r * gh[2 * N :])
    np.testing.assert_allclose(gru_forward(p, x, h).h[1], (1 - z) * n + z * h, rtol=1e-14)


def _product(jacs):
    prod = np.eye(jacs[0].shape[0])
    for j in reversed(jacs):  # dh_T/dh_0 = J_T ... J_1
        prod = prod @ j
    return prod


def test_lstm_with_open_forget_and_shut_input_keeps_the_cell_state():
    p = _lstm(5, False, forget=20.0, input_gate=-20.0)
    x = np.random.default_rng(5).normal(size=(50, D))
    tr = lstm_forward(p, x, np.zeros(N), np.ones(N))
    prod = _product([lstm_step_jacobian(p, tr, t) for t in range(1, 51)])
    np.testing.assert_allclose(prod[N:, N:], np.eye(N), atol=1e-6)  # dc_50 / dc_0


@pytest.mark.parametrize("form,bias", [("pytorch", 20.0), ("lecture", -20.0)])
def test_gru_update_bias_that_keeps_the_state(form, bias):
    p = _gru(6, form, update=bias)
    x = np.random.default_rng(6).normal(size=(50, D))
    tr = gru_forward(p, x, np.zeros(N))
    prod = _product([gru_step_jacobian(p, tr, t) for t in range(1, 51)])
    np.testing.assert_allclose(prod, np.eye(N), atol=1e-6)


@pytest.mark.parametrize("form,bias", [("pytorch", -20.0), ("lecture", 20.0)])
def test_the_opposite_sign_overwrites_the_state(form, bias):
    # the same bias with the other form's sign forgets: the product is far from the identity
    p = _gru(6, form, update=bias)
    x = np.random.default_rng(6).normal(size=(50, D))
    tr = gru_forward(p, x, np.zeros(N))
    prod = _product([gru_step_jacobian(p, tr, t) for t in range(1, 51)])
    assert np.linalg.norm(prod - np.eye(N)) > 0.5


def _direct(jacs, view=lambda m, l: m):
    """log10 norms of view(J_T ... J_{T-l+1}) formed directly."""
    prod = np.eye(jacs[0].shape[0])
    out = [view(prod, 0)]
    for l, j in enumerate(reversed(jacs), start=1):
        prod = prod @ j
        out.append(view(prod, l))
    return out


@pytest.mark.parametrize("method", ["exact", "power"])
@pytest.mark.parametrize("peephole", [False, True])
def test_lstm_profiles_against_direct_products(peephole, method):
    p = _lstm(7, peephole)
    x = np.random.default_rng(7).normal(size=(30, D))
    tr = lstm_forward(p, x, np.zeros(N), np.zeros(N))
    jacs = [lstm_step_jacobian(p, tr, t) for t in range(1, 31)]
    prof = lstm_profiles(p, tr, method=method)
    for name, view in (
        ("joint", lambda m, l: m),
        ("hh", lambda m, l: m[:N, :N]),
        ("cc", lambda m, l: m[N:, N:]),
    ):
        mats = _direct(jacs, view)
        np.testing.assert_allclose(
            prof[name].spectral, [np.log10(np.linalg.norm(m, 2)) for m in mats], atol=1e-10
        )
        np.testing.assert_allclose(
            prof[name].frobenius, [np.log10(np.linalg.norm(m)) for m in mats], atol=1e-10
        )
    mats = _direct(
        jacs, lambda m, l: m[:N] @ lstm_input_jacobian(p, tr, 30 - l) if l < 30 else None
    )
    expected = [np.log10(np.linalg.norm(m, 2)) for m in mats[:30]]
    np.testing.assert_allclose(prof["input"].spectral, expected, atol=1e-10)


@pytest.mark.parametrize("form", ["pytorch", "lecture"])
def test_gru_profiles_against_direct_products(form):
    p = _gru(8, form)
    x = np.random.default_rng(8).normal(size=(30, D))
    tr = gru_forward(p, x, np.zeros(N))
    jacs = [gru_step_jacobian(p, tr, t) for t in range(1, 31)]
    prof = gru_profiles(p, tr)
    mats = _direct(jacs)
    np.testing.assert_allclose(
        prof["state"].spectral, [np.log10(np.linalg.norm(m, 2)) for m in mats], atol=1e-10
    )
    sens = [
        np.log10(np.linalg.norm(m @ gru_input_jacobian(p, tr, 30 - l), 2))
        for l, m in enumerate(mats[:30])
    ]
    np.testing.assert_allclose(prof["input"].spectral, sens, atol=1e-10)


def _loss_lstm(p, x, h0, c0, y):
    e = lstm_forward(p, x, h0, c0).h[-1] - y
    return 0.5 * e @ e


@pytest.mark.parametrize("peephole", [False, True])
def test_lstm_bptt_matches_finite_differences(peephole):
    p = _lstm(11, peephole)
    rng = np.random.default_rng(11)
    x, h0, c0, y = (
        rng.normal(size=(8, D)),
        rng.normal(size=N),
        rng.normal(size=N),
        rng.normal(size=N),
    )
    tr = lstm_forward(p, x, h0, c0)
    grad = bptt(LSTM, p, tr, x, target=y)
    assert 10**grad.log10_loss == pytest.approx(_loss_lstm(p, x, h0, c0, y), rel=1e-12)
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] + (["peephole"] if peephole else [])
    for name in names:
        full = grad.grads.mantissa[name] * 10**grad.grads.log10_scale

        def f(v, name=name):
            fields = {
                k: getattr(p, k)
                for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "peephole")
            }
            fields[name] = v
            return _loss_lstm(LSTMParams(**fields), x, h0, c0, y)

        check_grad(f, full, getattr(p, name), rng)


@pytest.mark.parametrize("form", ["pytorch", "lecture"])
def test_gru_bptt_matches_finite_differences(form):
    p = _gru(12, form)
    rng = np.random.default_rng(12)
    x, h0, y = rng.normal(size=(8, D)), rng.normal(size=N), rng.normal(size=N)
    tr = gru_forward(p, x, h0)
    grad = bptt(GRU, p, tr, x, target=y)

    def loss(q):
        e = gru_forward(q, x, h0).h[-1] - y
        return 0.5 * e @ e

    assert 10**grad.log10_loss == pytest.approx(loss(p), rel=1e-12)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        full = grad.grads.mantissa[name] * 10**grad.grads.log10_scale

        def f(v, name=name):
            fields = {
                k: getattr(p, k) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "form")
            }
            fields[name] = v
            return loss(GRUParams(**fields))

        check_grad(f, full, getattr(p, name), rng)
    # dL/dh_{T-l} norms against the state Jacobians: g_{T-l} = (dh_T/dh_{T-l})^T (h_T - y)
    prod, e = np.eye(N), tr.h[-1] - y
    for l in range(1, 9):
        prod = prod @ gru_step_jacobian(p, tr, 9 - l)
        assert 10 ** grad.log10_dh[l] == pytest.approx(np.linalg.norm(prod.T @ e), rel=1e-10)


@pytest.mark.parametrize("peephole", [False, True])
def test_lstm_structured_factors_are_the_step_jacobians(peephole):
    p = _lstm(9, peephole)
    x = np.random.default_rng(9).normal(size=(12, D))
    tr = lstm_forward(p, x, np.zeros(N), np.ones(N))
    prod = np.random.default_rng(1).normal(size=(2 * N, 2 * N))
    factors = list(lstm_step_factors(p, tr))
    for t, (apply, scale) in zip(range(12, 0, -1), factors, strict=True):
        assert scale == 0.0
        np.testing.assert_allclose(
            apply(prod, 0.25), 0.25 * prod @ lstm_step_jacobian(p, tr, t), rtol=1e-13, atol=1e-13
        )


@pytest.mark.parametrize("peephole", [False, True])
def test_lstm_profiles_at_power_sizes_are_exact_to_1e9(peephole):
    # n = 40: the joint 80 x 80 products take the certified Lanczos path ("auto"), the
    # 40 x 40 blocks the exact one; all against products formed directly
    n, t_len, ln10 = 40, 60, np.log(10.0)
    rng = np.random.default_rng(21)
    p = LSTMParams(
        rng.normal(size=(4 * n, D)) * 0.5,
        rng.normal(size=(4 * n, n)) * 1.5 / np.sqrt(n),
        rng.normal(size=4 * n) * 0.5,
        rng.normal(size=4 * n) * 0.5,
        rng.normal(size=(3, n)) if peephole else None,
    )
    x = rng.normal(size=(t_len, D))
    tr = lstm_forward(p, x, np.zeros(n), np.zeros(n))
    jacs = [lstm_step_jacobian(p, tr, t) for t in range(1, t_len + 1)]
    prof = lstm_profiles(p, tr)
    assert prof["joint"].svd_fallbacks < t_len
    for name, view in (
        ("joint", lambda m, l: m),
        ("hh", lambda m, l: m[:n, :n]),
        ("cc", lambda m, l: m[n:, n:]),
    ):
        mats = _direct(jacs, view)
        spec = [np.log10(np.linalg.norm(m, 2)) for m in mats]
        frob = [np.log10(np.linalg.norm(m)) for m in mats]
        np.testing.assert_allclose(prof[name].spectral, spec, rtol=0, atol=1e-9 / ln10)
        np.testing.assert_allclose(prof[name].frobenius, frob, rtol=0, atol=1e-9 / ln10)
    mats = _direct(
        jacs, lambda m, l: m[:n] @ lstm_input_jacobian(p, tr, t_len - l) if l < t_len else None
    )
    sens = [np.log10(np.linalg.norm(m, 2)) for m in mats[:t_len]]
    np.testing.assert_allclose(prof["input"].spectral, sens, rtol=0, atol=1e-9 / ln10)
