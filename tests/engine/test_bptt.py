"""The BPTT gradient against finite differences of the loss, and its log-domain form."""

import numpy as np
import pytest

from bpttlab.engine.bptt import PARAM_NAMES, bptt
from bpttlab.engine.cells.rnn import RNN, RNNParams, rnn_forward
from bpttlab.engine.logdomain import log10_norm
from bpttlab.engine.nonlinearity import NONLINEARITIES, get_nonlinearity
from bpttlab.engine.problem import Problem, draw_problem

from .gradcheck import check_grad


def _problem(n=4, d=3, t=10, seed=0, scale=1.1):
    return draw_problem(
        seed=seed,
        hidden_size=n,
        input_size=d,
        seq_len=t,
        init="gaussian",
        scale=scale,
        input="random",
        input_scale=1.0,
        h0="random",
    )


def bptt_gradient(problem, trace):
    """The last-step loss's gradient by the generic BPTT."""
    return bptt(RNN, problem.params, trace, problem.inputs, target=problem.target)


def _loss(problem, phi, params=None, h0=None):
    params = params or problem.params
    h = problem.h0 if h0 is None else h0
    trace = rnn_forward(params, phi, problem.inputs, h)
    e = trace.states[-1] - problem.target
    return 0.5 * float(e @ e)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("nl", sorted(NONLINEARITIES))
def test_parameter_gradients_match_finite_differences(nl, seed):
    p, phi = _problem(seed=seed), get_nonlinearity(nl)
    trace = rnn_forward(p.params, phi, p.inputs, p.h0)
    g = bptt_gradient(p, trace)
    assert 10**g.log10_loss == pytest.approx(_loss(p, phi), rel=1e-12)
    rng = np.random.default_rng(seed)
    for name in PARAM_NAMES:
        grad = g.grads.mantissa[name] * 10**g.grads.log10_scale

        def f(x, name=name):
            fields = {k: getattr(p.params, k) for k in PARAM_NAMES}
            fields[name] = x
            return _loss(p, phi, params=RNNParams(**fields))

        check_grad(f, grad, getattr(p.params, name), rng)


@pytest.mark.parametrize("nl", sorted(NONLINEARITIES))
def test_hidden_state_gradient_norms_match_finite_differences(nl):
    p, phi = _problem(t=8), get_nonlinearity(nl)
    trace = rnn_forward(p.params, phi, p.inputs, p.h0)
    g = bptt_gradient(p, trace)
    t_len = p.inputs.shape[0]
    for l in range(t_len + 1):
        k = t_len - l
        tail = Problem(p.params, p.inputs[k:], trace.states[k], p.target)
        fd = [
            (_loss(tail, phi, h0=tail.h0 + e) - _loss(tail, phi, h0=tail.h0 - e)) / 2e-6
            for e in 1e-6 * np.eye(p.h0.size)
        ]
        assert 10 ** g.log10_dh[l] == pytest.approx(np.linalg.norm(fd), rel=1e-6, abs=1e-9)


def test_contributions_are_the_terms_of_the_sum():
    p, phi = _problem(t=15), get_nonlinearity("tanh")
    trace = rnn_forward(p.params, phi, p.inputs, p.h0)
    g = bptt_gradient(p, trace)
    # rebuild each term delta_k h_{k-1}^T directly and compare norms and their sum
    w, t_len = p.params.weight_hh, p.inputs.shape[0]
    gk = trace.states[-1] - p.target
    total = np.zeros_like(w)
    for k in range(t_len, 0, -1):
        delta = np.exp(trace.log_dphi[k - 1]) * gk
        term = np.outer(delta, trace.states[k - 1])
        total += term
        assert g.log10_contribution[t_len - k] == pytest.approx(np.log10(np.linalg.norm(term)))
        gk = w.T @ delta
    np.testing.assert_allclose(g.grads.mantissa["weight_hh"] * 10**g.grads.log10_scale, total)


def test_exploding_gradient_is_carried_exactly_in_logs():
    # identity nonlinearity and W = 3 I: dL/dh_{T-l} = 3^l (h_T - y); 3^1000 ~ 1e477
    n, t_len = 3, 1000
    p = _problem(n=n, t=t_len)
    p = Problem(
        RNNParams(p.params.weight_ih, 3.0 * np.eye(n), 0 * p.params.bias_ih, 0),
        0 * p.inputs,
        np.ones(n) * 1e-300,
        p.target,
    )
    phi = get_nonlinearity("identity")
    trace = rnn_forward(p.params, phi, p.inputs, p.h0)
    g = bptt_gradient(p, trace)
    err = log10_norm(trace.states[-1] - p.target * 10.0 ** -trace.state_log10[-1])
    err += trace.state_log10[-1]
    np.testing.assert_allclose(g.log10_dh, err + np.arange(t_len + 1) * np.log10(3), rtol=1e-12)
    assert np.all(np.isfinite(g.log10_dh)) and g.grads.log10_scale > 400


def test_log10_norm_handles_extremes():
    assert log10_norm(np.zeros(3)) == -np.inf
    assert log10_norm(np.array([3e-320, 4e-320])) == pytest.approx(np.log10(5e-320), rel=1e-3)
    assert log10_norm(np.array([1e300, 1e300])) == pytest.approx(300 + 0.5 * np.log10(2))
