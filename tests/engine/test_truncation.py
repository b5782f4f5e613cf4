"""Truncated BPTT against a naive truncated backward pass; randomized truncation's mean."""

import numpy as np
import pytest

from engine.bptt import bptt_gradient
from engine.nonlinearity import get_nonlinearity
from engine.problem import draw_problem
from engine.rnn import rnn_forward
from engine.truncation import randomized_truncation, truncated_gradients


def _run(nl="tanh", n=5, t=12, seed=0, scale=1.2, init="gaussian"):
    p = draw_problem(
        seed=seed,
        hidden_size=n,
        input_size=3,
        seq_len=t,
        init=init,
        scale=scale,
        input="random",
        input_scale=1.0,
        h0="random",
    )
    return p, rnn_forward(p.params, get_nonlinearity(nl), p.inputs, p.h0)


def _full(problem, trace):
    g = bptt_gradient(problem, trace).grads
    return g.mantissa["weight_hh"] * 10**g.log10_scale


def _naive_truncated(problem, trace, tau):
    """Standard TBPTT: run the backward recursion for tau steps only, in plain floats."""
    w = problem.params.weight_hh
    states = trace.states  # scales are 0 for tanh/sigmoid
    dphi = np.exp(trace.log_dphi)
    t_len = dphi.shape[0]
    g = states[-1] - problem.target
    grad = np.zeros_like(w)
    for t in range(t_len, max(t_len - tau, 0), -1):
        delta = dphi[t - 1] * g
        grad += np.outer(delta, states[t - 1])
        g = w.T @ delta
    return grad


@pytest.mark.parametrize("nl", ["tanh", "sigmoid"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_errors_match_a_naive_truncated_backward_pass(nl, seed):
    problem, trace = _run(nl, seed=seed)
    full = _full(problem, trace)
    res = truncated_gradients(problem, trace)
    t_len = trace.log_dphi.shape[0]
    np.testing.assert_array_equal(res.taus, np.arange(1, t_len + 1))
    expected = [
        np.linalg.norm(full - _naive_truncated(problem, trace, tau)) / np.linalg.norm(full)
        for tau in res.taus
    ]
    np.testing.assert_allclose(res.relative_error, expected, rtol=1e-8, atol=1e-14)
    assert res.log10_full_norm == pytest.approx(np.log10(np.linalg.norm(full)), abs=1e-12)


def test_tau_t_is_full_bptt_and_tau_1_keeps_the_last_term_only():
    problem, trace = _run()
    full = _full(problem, trace)
    res = truncated_gradients(problem, trace)
    assert res.relative_error[-1] == 0.0 and res.log10_relative_error[-1] == -np.inf
    np.testing.assert_array_equal(
        _naive_truncated(problem, trace, 12), _naive_truncated(problem, trace, 100)
    )
    # tau = 1: only delta_T h_{T-1}^T
    delta_t = np.exp(trace.log_dphi[-1]) * (trace.states[-1] - problem.target)
    last = np.outer(delta_t, trace.states[-2])
    direct = np.linalg.norm(full - last) / np.linalg.norm(full)
    assert res.relative_error[0] == pytest.approx(direct, rel=1e-10)


def test_chosen_taus_and_validation():
    problem, trace = _run()
    every = truncated_gradients(problem, trace)
    some = truncated_gradients(problem, trace, taus=[12, 3, 1])
    np.testing.assert_array_equal(some.relative_error, every.relative_error[[11, 2, 0]])
    with pytest.raises(ValueError):
        truncated_gradients(problem, trace, taus=[0])
    with pytest.raises(ValueError):
        truncated_gradients(problem, trace, taus=[13])


@pytest.mark.parametrize(
    "nl,init,scale", [("identity", "orthogonal", 3.0), ("sigmoid", "gaussian", 1.0)]
)
def test_log_domain_at_t_1000(nl, init, scale):
    # identity x 3.0: terms up to ~10^477; sigmoid: terms down to ~10^-600
    problem, trace = _run(nl, n=16, t=1000, init=init, scale=scale)
    res = truncated_gradients(problem, trace)
    contribution = bptt_gradient(problem, trace).log10_contribution  # log10 ||A_{T-l}||
    assert np.all(np.isfinite(res.relative_error))
    assert np.all(np.isfinite(res.log10_relative_error[:-1]))
    assert res.relative_error[-1] == 0.0
    assert np.isfinite(res.log10_full_norm)
    # triangle inequality, tail by tail: ||sum_{l >= tau} A|| <= sum_{l >= tau} ||A||
    tail_bound = np.logaddexp.accumulate((contribution * np.log(10))[::-1])[::-1] / np.log(10)
    assert np.all(res.log10_relative_error[:-1] <= tail_bound[1:] - res.log10_full_norm + 1e-9)
    if nl == "identity":  # ||A_k|| ~ 3^(T-k) 3^k: every step matters as much as the last
        assert res.relative_error[:100].min() > 0.8
        assert res.log10_full_norm > 400
    else:  # vanishing: a short window is exact far below float64's epsilon
        assert res.log10_relative_error[99] < -30
        assert res.first_tau_below(1e-3) is not None


def test_randomized_truncation_with_p_1_is_full_bptt():
    problem, trace = _run()
    r = randomized_truncation(problem, trace, p=1.0, draws=5, seed=0)
    np.testing.assert_array_equal(r.draw_error, 0.0)
    np.testing.assert_array_equal(r.mean_error, 0.0)
    np.testing.assert_array_equal(r.kept_fraction, 1.0)


def test_randomized_truncation_mean_converges_like_one_over_sqrt_m():
    problem, trace = _run(n=8, t=40, scale=1.5)
    draws = 400
    r = randomized_truncation(problem, trace, p=0.3, draws=draws, seed=7)
    assert r.draw_error.shape == r.mean_error.shape == r.kept_fraction.shape == (draws,)
    assert np.all(np.isfinite(r.draw_error)) and np.all(r.draw_error > 0)
    assert abs(r.kept_fraction.mean() - 0.3) < 0.02
    np.testing.assert_array_equal(r.mean_error[0], r.draw_error[0])
    rms = np.sqrt(np.mean(r.draw_error**2))  # E||G~ - G||^2 = m E||mean_m - G||^2
    assert r.mean_error[-1] < np.mean(r.draw_error)
    for m in (25, 100, 400):
        assert r.mean_error[m - 1] < 3.0 * rms / np.sqrt(m)
    assert r.mean_error[-1] < r.mean_error[24]  # 16 times the draws: about 4 times smaller
    again = randomized_truncation(problem, trace, p=0.3, draws=draws, seed=7)
    np.testing.assert_array_equal(again.mean_error, r.mean_error)


def test_randomized_validation():
    problem, trace = _run()
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError):
            randomized_truncation(problem, trace, p=bad, draws=3, seed=0)
    with pytest.raises(ValueError):
        randomized_truncation(problem, trace, p=0.5, draws=0, seed=0)
