"""Truncated BPTT against a naive truncated backward pass; randomized truncation's mean."""

from dataclasses import replace

import numpy as np
import pytest

from bpttlab.engine import GradientFlowConfig, gradient_flow, truncation
from bpttlab.engine.bptt import bptt
from bpttlab.engine.cells.rnn import RNN, rnn_forward
from bpttlab.engine.logdomain import StepTerms
from bpttlab.engine.nonlinearity import get_nonlinearity
from bpttlab.engine.problem import draw_problem
from bpttlab.engine.truncation import randomized_truncation, truncated_gradients


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


def bptt_gradient(problem, trace):
    return bptt(RNN, problem.params, trace, problem.inputs, target=problem.target)


def _terms(problem, trace):
    return bptt_gradient(problem, trace).terms


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
    res = truncated_gradients(_terms(problem, trace))
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
    res = truncated_gradients(_terms(problem, trace))
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
    every = truncated_gradients(_terms(problem, trace))
    some = truncated_gradients(_terms(problem, trace), taus=[12, 3, 1])
    np.testing.assert_array_equal(some.relative_error, every.relative_error[[11, 2, 0]])
    with pytest.raises(ValueError):
        truncated_gradients(_terms(problem, trace), taus=[0])
    with pytest.raises(ValueError):
        truncated_gradients(_terms(problem, trace), taus=[13])


@pytest.mark.parametrize(
    "nl,init,scale", [("identity", "orthogonal", 3.0), ("sigmoid", "gaussian", 1.0)]
)
def test_log_domain_at_t_1000(nl, init, scale):
    # identity x 3.0: terms up to ~10^477; sigmoid: terms down to ~10^-600
    problem, trace = _run(nl, n=16, t=1000, init=init, scale=scale)
    res = truncated_gradients(_terms(problem, trace))
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
    r = randomized_truncation(_terms(problem, trace), p=1.0, draws=5, seed=0)
    np.testing.assert_array_equal(r.draw_error, 0.0)
    np.testing.assert_array_equal(r.mean_error, 0.0)
    np.testing.assert_array_equal(r.kept_fraction, 1.0)


def test_randomized_truncation_mean_converges_like_one_over_sqrt_m():
    problem, trace = _run(n=8, t=40, scale=1.5)
    draws = 400
    r = randomized_truncation(_terms(problem, trace), p=0.3, draws=draws, seed=7)
    assert r.draw_error.shape == r.mean_error.shape == r.kept_fraction.shape == (draws,)
    assert np.all(np.isfinite(r.draw_error)) and np.all(r.draw_error > 0)
    assert abs(r.kept_fraction.mean() - 0.3) < 0.02
    np.testing.assert_array_equal(r.mean_error[0], r.draw_error[0])
    rms = np.sqrt(np.mean(r.draw_error**2))  # E||G~ - G||^2 = m E||mean_m - G||^2
    assert r.mean_error[-1] < np.mean(r.draw_error)
    for m in (25, 100, 400):
        assert r.mean_error[m - 1] < 3.0 * rms / np.sqrt(m)
    assert r.mean_error[-1] < r.mean_error[24]  # 16 times the draws: about 4 times smaller
    again = randomized_truncation(_terms(problem, trace), p=0.3, draws=draws, seed=7)
    np.testing.assert_array_equal(again.mean_error, r.mean_error)


def test_randomized_validation():
    problem, trace = _run()
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError):
            randomized_truncation(_terms(problem, trace), p=bad, draws=3, seed=0)
    with pytest.raises(ValueError):
        randomized_truncation(_terms(problem, trace), p=0.5, draws=0, seed=0)


def _weight_hh_gradient(result):
    g = result.gradient.grads
    return g.mantissa["weight_hh"] * 10**g.log10_scale


def _suffix(result, tau):
    """The last tau steps of result's problem, run from its state at step T - tau."""
    k, tr, pr = result.config.seq_len - tau, result.trace, result.problem
    if result.config.cell == "rnn":
        start = {"h0": tr.states[k] * 10 ** tr.state_log10[k]}
    elif result.config.cell == "lstm":
        start = {"h0": tr.h[k], "c0": tr.c[k]}
    else:
        start = {"h0": tr.h[k]}
    problem = replace(pr, inputs=pr.inputs[k:], **start)
    return gradient_flow(replace(result.config, seq_len=tau), problem=problem)


CELLS = [
    {"cell": "rnn", "nonlinearity": "tanh", "scale": 1.3},
    {"cell": "rnn", "nonlinearity": "relu", "init": "orthogonal", "scale": 1.1},
    {"cell": "lstm"},
    {"cell": "lstm", "peephole": True, "forget_bias": 1.0},
    {"cell": "gru"},
    {"cell": "gru", "gru_form": "lecture"},
]


@pytest.mark.parametrize("cfg", CELLS, ids=lambda c: "-".join(map(str, c.values())))
def test_truncated_gradient_is_the_full_gradient_of_the_last_tau_steps(cfg):
    # G_tau, the sum of the terms with l < tau, is what BPTT gives when the run starts at
    # T - tau from the state reached there: checked against that independent computation
    config = GradientFlowConfig(hidden_size=4, input_size=3, seq_len=14, seed=3, **cfg)
    result = gradient_flow(config)
    full = _weight_hh_gradient(result)
    res = truncated_gradients(result.gradient.terms)
    expected = [
        np.linalg.norm(full - _weight_hh_gradient(_suffix(result, tau))) / np.linalg.norm(full)
        for tau in res.taus
    ]
    np.testing.assert_allclose(res.relative_error, expected, rtol=1e-8, atol=1e-13)
    assert res.relative_error[-1] == 0.0  # tau = T is full BPTT, exactly
    assert res.relative_error[0] > 1e-3  # one step is not enough here: the test has teeth


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_randomized_truncation_of_gated_cells_is_unbiased(cell):
    config = GradientFlowConfig(cell=cell, hidden_size=4, input_size=3, seq_len=20, seed=1)
    terms = gradient_flow(config).gradient.terms
    r = randomized_truncation(terms, p=0.25, draws=400, seed=5)
    rms = np.sqrt(np.mean(r.draw_error**2))
    assert rms > 0.1  # one draw is far off ...
    assert r.mean_error[-1] < 3.0 * rms / np.sqrt(400)  # ... the mean of 400 is not


def test_gradient_flow_reports_truncation_only_when_asked():
    base = dict(hidden_size=6, input_size=3, seq_len=30, seed=2)
    plain = gradient_flow(GradientFlowConfig(**base))
    assert plain.truncation is None and plain.randomized is None
    r = gradient_flow(GradientFlowConfig(truncation=7, **base))
    again = truncated_gradients(r.gradient.terms)
    np.testing.assert_array_equal(r.truncation.relative_error, again.relative_error)
    assert r.truncation.error_at(7) == again.relative_error[6]
    assert r.randomized is None
    both = gradient_flow(GradientFlowConfig(keep_prob=0.5, draws=3, **base))
    assert both.truncation is not None and both.randomized.draws == 3
    assert GradientFlowConfig(truncation=7, **base).window == 7
    assert GradientFlowConfig(truncation=31, **base).window == 30  # a window beyond T: all
    assert GradientFlowConfig(**base).window is None
    for bad in ({"truncation": -1}, {"keep_prob": 0.0}, {"keep_prob": 1.5}, {"draws": 0}):
        with pytest.raises(ValueError):
            GradientFlowConfig(**(base | bad))


def _synthetic_terms(cancel: bool):
    rng = np.random.default_rng(11)
    t_len = 75  # three chunks, the last one short
    left = [rng.normal(size=(t_len, 3)), rng.normal(size=(t_len, 2))]
    right = [rng.normal(size=(t_len, 4)), rng.normal(size=(t_len, 4))]
    scale = rng.uniform(-3.0, 3.0, size=t_len)
    scale[[5, 6]] = -np.inf  # two exactly zero terms
    if cancel:  # terms 41..45 undo the sum of terms 1..40 up to a 1e-6 remainder
        first = 10 ** np.where(scale[:40] > -np.inf, scale[:40], -np.inf)[:, None]
        total = [(first * a[:40]).T @ b[:40] for a, b in zip(left, right, strict=True)]
        k = 40
        for block, rows in enumerate(total):
            for i, row in enumerate(rows):  # the term -e_i row_i, in this block only
                for other in left:
                    other[k] = 0.0
                left[block][k, i] = -1.0
                right[block][k] = row * (1 + 1e-6 * rng.normal(size=row.shape))
                scale[k] = 0.0
                k += 1
    return StepTerms(tuple(zip(left, right, strict=True)), scale)


def _brute_tails(terms):
    t_len = terms.scale.shape[0]
    sums = [np.zeros((a.shape[1], b.shape[1])) for a, b in terms.blocks]
    tails = np.full(t_len + 1, -np.inf)
    for k in range(1, t_len + 1):
        if terms.scale[k - 1] > -np.inf:
            for acc, (a, b) in zip(sums, terms.blocks, strict=True):
                acc += 10 ** terms.scale[k - 1] * np.outer(a[k - 1], b[k - 1])
        norm = np.sqrt(sum(np.sum(acc**2) for acc in sums))
        tails[t_len - k] = np.log10(norm) if norm > 0 else -np.inf
    return tails


@pytest.mark.parametrize("cancel", [False, True])
def test_chunked_tails_against_term_by_term_sums(cancel, monkeypatch):
    terms = _synthetic_terms(cancel)
    exact_calls = []
    original = truncation._TailSums.add_exactly

    def spy(self, start, stop, tails):
        exact_calls.append(start)
        original(self, start, stop, tails)

    monkeypatch.setattr(truncation._TailSums, "add_exactly", spy)
    tails = truncation._log10_tails(terms)
    brute = _brute_tails(terms)
    assert np.all(np.isfinite(brute[:-1]))
    np.testing.assert_allclose(10 ** (tails - brute[0]), 10 ** (brute - brute[0]), rtol=1e-7)
    # the cancelling chunk is summed term by term, the others with matrix products
    assert exact_calls == ([32] if cancel else [])


def test_randomized_rms_and_kept_fraction_are_those_of_the_draws():
    problem, trace = _run(n=4, t=30, scale=1.3)
    r = randomized_truncation(_terms(problem, trace), p=0.5, draws=16, seed=3)
    assert r.rms_draw_error == pytest.approx(np.sqrt(np.sum(r.draw_error**2) / 16))
    assert r.mean_kept_fraction == pytest.approx(np.sum(r.kept_fraction) / 16)
    # 1/sqrt(m): the reference at m = 4 is half and at m = 16 a quarter of the rms
    line = r.rms_over_sqrt_draws
    assert line.shape == (16,)
    assert line[0] == pytest.approx(r.rms_draw_error)
    assert line[3] == pytest.approx(r.rms_draw_error / 2)
    assert line[15] == pytest.approx(r.rms_draw_error / 4)
