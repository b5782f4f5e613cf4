"""The Jacobian profile against finite differences, direct products and closed forms."""

import numpy as np
import pytest

from bpttlab.engine.cells import RNN, profiles
from bpttlab.engine.cells.rnn import RNNParams, rnn_forward, rnn_jacobian_profile
from bpttlab.engine.init import haar_orthogonal
from bpttlab.engine.logdomain import log10_norm
from bpttlab.engine.nonlinearity import NONLINEARITIES, get_nonlinearity
from bpttlab.engine.problem import draw_problem
from bpttlab.engine.products import diagonal_norm_profile, product_norm_profile

from .gradcheck import fd_jacobian

LN10 = np.log(10.0)


def _problem(nl, init="gaussian", n=5, d=3, t=12, scale=1.2, seed=0):
    p = draw_problem(
        seed=seed,
        hidden_size=n,
        input_size=d,
        seq_len=t,
        init=init,
        scale=scale,
        input="random",
        input_scale=1.0,
        h0="random",
    )
    return p, get_nonlinearity(nl)


def _run_from(params, phi, inputs, h):
    for x in inputs:
        h = phi.forward(
            params.weight_ih @ x + params.bias_ih + params.weight_hh @ h + params.bias_hh
        )
    return h


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("nl", sorted(NONLINEARITIES))
def test_profile_matches_finite_difference_jacobians(nl, seed):
    p, phi = _problem(nl, seed=seed)
    trace = rnn_forward(p.params, phi, p.inputs, p.h0)
    if nl == "relu":  # finite differences need every pre-activation away from the kink
        assert np.min(np.abs(trace.preact)) > 1e-4
    prof = rnn_jacobian_profile(p.params.weight_hh, trace.log_dphi)
    t_len = p.inputs.shape[0]
    for l in range(t_len + 1):
        k = t_len - l

        def h_t(h, k=k):
            return _run_from(p.params, phi, p.inputs[k:], h)

        jac = fd_jacobian(h_t, trace.states[k], eps=1e-6)
        spec, frob = np.linalg.norm(jac, 2), np.linalg.norm(jac)
        np.testing.assert_allclose(10 ** prof.spectral[l], spec, rtol=2e-6, atol=1e-9)
        np.testing.assert_allclose(10 ** prof.frobenius[l], frob, rtol=2e-6, atol=1e-9)


def test_forward_is_pytorch_rnncell():
    p, phi = _problem("tanh")
    trace = rnn_forward(p.params, phi, p.inputs, p.h0)
    h = p.h0
    for t, x in enumerate(p.inputs):  # h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
        h = np.tanh(x @ p.params.weight_ih.T + p.params.bias_ih + h @ p.params.weight_hh.T)
        h = np.tanh(np.arctanh(h) + p.params.bias_hh)
        np.testing.assert_allclose(trace.states[t + 1], h, rtol=1e-12, atol=1e-14)


def _direct_log10_norms(w, log_dphi):
    """Products formed directly in float64 (only for sizes that cannot overflow)."""
    prod = np.eye(w.shape[0])
    spec, frob = [0.0], [np.log10(np.linalg.norm(prod))]
    for row in log_dphi[::-1]:
        prod = prod @ (np.exp(row)[:, None] * w)
        spec.append(np.log10(np.linalg.norm(prod, 2)))
        frob.append(np.log10(np.linalg.norm(prod)))
    return np.array(spec), np.array(frob)


@pytest.mark.parametrize("method", ["power", "exact", "auto"])
@pytest.mark.parametrize("init", ["gaussian", "orthogonal", "pytorch"])
@pytest.mark.parametrize("nl", sorted(NONLINEARITIES))
@pytest.mark.parametrize("n", [3, 24, 80])
def test_power_iteration_is_exact_to_1e9(n, nl, init, method):
    p, phi = _problem(nl, init=init, n=n, t=60, scale=1.0, seed=n)
    trace = rnn_forward(p.params, phi, p.inputs, p.h0)
    prof = rnn_jacobian_profile(p.params.weight_hh, trace.log_dphi, method=method)
    spec, frob = _direct_log10_norms(p.params.weight_hh, trace.log_dphi)
    # relative 1e-9 on the norm is 1e-9 / ln(10) on its log10
    np.testing.assert_allclose(prof.spectral, spec, rtol=0, atol=1e-9 / LN10)
    np.testing.assert_allclose(prof.frobenius, frob, rtol=0, atol=1e-9 / LN10)


@pytest.mark.parametrize("method", ["power", "exact"])
def test_half_identity_gives_exactly_half_to_the_l(method):
    n, t_len = 70, 1000
    factors = ((0.5 * np.eye(n), 0.0) for _ in range(t_len))
    prof = product_norm_profile(factors, n, method=method)
    l = np.arange(t_len + 1)
    np.testing.assert_allclose(prof.spectral, l * np.log10(0.5), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(prof.frobenius, l * np.log10(0.5) + 0.5 * np.log10(n), rtol=1e-12)


def test_diagonal_weights_take_the_closed_form_path():
    # W = 0.5 I with the identity nonlinearity: ||dh_T/dh_{T-l}|| = 0.5**l exactly
    n, t_len = 6, 1000
    w = 0.5 * np.eye(n)
    prof = rnn_jacobian_profile(w, np.zeros((t_len, n)))
    np.testing.assert_allclose(prof.spectral, np.arange(t_len + 1) * np.log10(0.5), rtol=1e-13)


def test_diagonal_profile_against_direct_products():
    rng = np.random.default_rng(4)
    logs = rng.normal(size=(40, 9))
    logs[5, 3] = -np.inf
    prof = diagonal_norm_profile(logs)
    spec, frob = _direct_log10_norms(np.eye(9), logs[::-1])
    np.testing.assert_allclose(prof.spectral, spec, atol=1e-12)
    np.testing.assert_allclose(prof.frobenius, frob, atol=1e-12)


@pytest.mark.parametrize("n", [64, 100])
@pytest.mark.parametrize("rho", [3.0, 1.0, 0.1])
def test_orthogonal_times_rho_at_t_1000_in_the_log_domain(rho, n):
    # identity nonlinearity, W = rho Q: every product is rho^l times orthogonal
    w = rho * haar_orthogonal(n, np.random.default_rng(7))
    prof = rnn_jacobian_profile(w, np.zeros((1000, n)))
    l = np.arange(1001)
    np.testing.assert_allclose(prof.spectral, l * np.log10(rho), rtol=0, atol=1e-9)
    np.testing.assert_allclose(prof.frobenius, l * np.log10(rho) + 0.5 * np.log10(n), atol=1e-9)
    assert np.all(np.isfinite(prof.spectral))


def test_non_normal_closed_form():
    # W = [[0.5, 10], [0, 0.5]]: ||W^l|| = 0.5^l (10 l + sqrt(100 l^2 + 1))
    w = np.array([[0.5, 10.0], [0.0, 0.5]])
    prof = rnn_jacobian_profile(w, np.zeros((1000, 2)))
    l = np.arange(1001.0)
    expected = l * np.log10(0.5) + np.log10(10 * l + np.sqrt(100 * l**2 + 1))
    np.testing.assert_allclose(prof.spectral, expected, rtol=0, atol=1e-11)
    assert prof.spectral[1] > 0  # transient growth while the spectral radius is 0.5


def test_a_dead_relu_gives_an_exact_zero():
    w = np.array([[0.0, 1.0], [1.0, 0.0]])
    log_dphi = np.zeros((5, 2))
    log_dphi[2] = -np.inf  # every unit of step 3 is off: the product is zero from l = 3 on
    for method in ("power", "exact"):
        prof = rnn_jacobian_profile(w, log_dphi, method=method)
        assert np.all(np.isfinite(prof.spectral[:3]))
        assert np.all(prof.spectral[3:] == -np.inf) and np.all(prof.frobenius[3:] == -np.inf)


def test_sigmoid_far_below_float_range_stays_finite():
    # pre-activations of -800 make sigmoid' ~ 1e-348 per step: the profile reaches ~ -3.5e5
    n, t_len = 3, 1000
    w = RNNParams(np.zeros((n, 1)), haar_orthogonal(n, np.random.default_rng(0)), 0, 0).weight_hh
    log_dphi = get_nonlinearity("sigmoid").log_derivative(np.full((t_len, n), -800.0))
    prof = rnn_jacobian_profile(w, log_dphi)
    np.testing.assert_allclose(prof.spectral[-1], t_len * -800 / LN10, rtol=1e-12)


@pytest.mark.parametrize("nl", ["identity", "relu"])
def test_unbounded_states_are_carried_in_the_log_domain(nl):
    # W = 3 Q, no input or bias, h0 > 0 in the direction Q keeps positive: ||h_T|| = 3^T ||h0||
    n, t_len = 4, 1000
    perm = np.eye(n)[[1, 2, 3, 0]]  # a permutation is orthogonal and keeps signs
    params = RNNParams(np.zeros((n, 1)), 3.0 * perm, np.zeros(n), np.zeros(n))
    h0 = np.array([0.5, 1.0, 2.0, 0.25])
    trace = rnn_forward(params, get_nonlinearity(nl), np.zeros((t_len, 1)), h0)

    got = log10_norm(trace.states[-1]) + trace.state_log10[-1]
    assert got == pytest.approx(t_len * np.log10(3.0) + log10_norm(h0), rel=1e-13)
    assert np.all(np.isfinite(trace.states)) and trace.state_log10[-1] > 300
    # below the rescaling threshold nothing is rescaled: the plain run is reproduced
    short = rnn_forward(params, get_nonlinearity(nl), np.zeros((50, 1)), h0)
    assert np.all(short.state_log10 == 0.0)
    np.testing.assert_allclose(short.states[-1], np.linalg.matrix_power(3.0 * perm, 50) @ h0)


@pytest.mark.parametrize("method", ["exact", "power"])
@pytest.mark.parametrize("init", ["gaussian", "identity"])
@pytest.mark.parametrize("nl", sorted(NONLINEARITIES))
def test_input_sensitivity_matches_finite_differences(nl, init, method):
    p, phi = _problem(nl, init=init, n=5, d=3, t=10, scale=0.9, seed=3)
    trace = rnn_forward(p.params, phi, p.inputs, p.h0)
    prof = profiles(RNN, p.params, trace, method=method)
    state, sens = prof.state, prof.input
    np.testing.assert_array_equal(
        state.spectral,
        rnn_jacobian_profile(p.params.weight_hh, trace.log_dphi, method=method).spectral,
    )
    t_len = p.inputs.shape[0]
    assert sens.spectral.shape == (t_len,)
    for l in range(t_len):
        k = t_len - l  # x_k, row k - 1

        def h_t(x, k=k):
            xs = p.inputs.copy()
            xs[k - 1] = x
            return _run_from(p.params, phi, xs[k - 1 :], trace.states[k - 1])

        jac = fd_jacobian(h_t, p.inputs[k - 1])
        np.testing.assert_allclose(
            10 ** sens.spectral[l], np.linalg.norm(jac, 2), rtol=2e-6, atol=1e-9
        )
        np.testing.assert_allclose(
            10 ** sens.frobenius[l], np.linalg.norm(jac), rtol=2e-6, atol=1e-9
        )
