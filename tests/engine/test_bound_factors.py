"""Pascanu's bound as the lecture writes it, factor by factor, and the regime by the rate.

The factors are checked against a plain NumPy run of the drawn weights (the forward pass, the
step Jacobians diag(phi'(a_t)) W_hh and their products), and the measured spectral profile
against their sum on random configurations of every nonlinearity.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpttlab.engine.gradient_flow import (
    REGIME_RATE,
    GradientFlowConfig,
    gradient_flow,
    rate_per_step,
    regime_of,
)

PHI = {
    "tanh": (np.tanh, lambda a: 1.0 - np.tanh(a) ** 2),
    "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), lambda a: np.exp(-a) / (1 + np.exp(-a)) ** 2),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a: (a > 0).astype(float)),
    "identity": (lambda a: a, np.ones_like),
}


def numpy_run(r):
    """(slopes (T, n) phi'(a_t), products [dh_T/dh_{T-l} for l = 0..T]) in plain NumPy."""
    p, x = r.problem.params, r.problem.inputs
    phi, dphi = PHI[r.config.nonlinearity]
    h, slopes = r.problem.h0, []
    for t in range(len(x)):
        a = p.weight_ih @ x[t] + p.bias_ih + p.weight_hh @ h + p.bias_hh
        slopes.append(dphi(a))
        h = phi(a)
    n = p.weight_hh.shape[0]
    products, prod = [np.eye(n)], np.eye(n)
    for d in slopes[::-1]:
        prod = prod @ (d[:, None] * p.weight_hh)
        products.append(prod)
    return np.array(slopes), products


configs = st.builds(
    GradientFlowConfig,
    nonlinearity=st.sampled_from(sorted(PHI)),
    init=st.sampled_from(["gaussian", "orthogonal", "identity"]),
    scale=st.floats(0.0, 3.0),
    hidden_size=st.integers(1, 6),
    input_size=st.integers(1, 3),
    seq_len=st.integers(1, 25),
    seed=st.integers(0, 2**16),
    h0=st.sampled_from(["zeros", "random"]),
)


@settings(max_examples=120, deadline=None)
@given(configs)
def test_measured_profile_never_exceeds_weight_plus_slope(config):
    r = gradient_flow(config)
    b = r.bound_factors
    slopes, products = numpy_run(r)
    t_len = config.seq_len
    sigma = np.linalg.norm(r.problem.params.weight_hh, 2)
    with np.errstate(divide="ignore"):
        weight = np.arange(t_len + 1) * np.log10(sigma) if sigma > 0 else None
        tops = np.log10(np.max(np.abs(slopes), axis=1))
    slope = np.concatenate([[0.0], np.cumsum(tops[::-1])])
    np.testing.assert_allclose(b.slope, slope, rtol=1e-9, atol=1e-9)
    if weight is not None:
        np.testing.assert_allclose(b.weight, weight, rtol=1e-9, atol=1e-9)
    bound = b.weight + b.slope
    for l, prod in enumerate(products):
        measured = np.linalg.norm(prod, 2)
        assert measured <= 10.0 ** bound[l] * (1 + 1e-9) + 1e-300, (l, measured, bound[l])
        if bound[l] == -np.inf:  # a zero slope factor or W_hh = 0: the product is 0
            assert measured == 0.0 and r.profile.spectral[l] == -np.inf
        else:
            assert r.profile.spectral[l] <= bound[l] + 1e-9 * max(1.0, abs(bound[l]))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_have_no_bound_factors(cell):
    assert gradient_flow(GradientFlowConfig(cell=cell, seq_len=10)).bound_factors is None


def test_rate_is_the_least_squares_slope_through_the_origin():
    p = np.array([0.0, -0.5, -0.7, -np.inf, -2.0])  # l = 1..4, the -inf left out
    assert rate_per_step(p) == pytest.approx((1 * -0.5 + 2 * -0.7 + 4 * -2.0) / (1 + 4 + 16))
    assert rate_per_step(np.array([0.0, -np.inf])) is None
    assert rate_per_step(np.array([0.0])) is None


def test_regime_thresholds():
    assert regime_of(-REGIME_RATE * 1.01) == "vanishing"
    assert regime_of(REGIME_RATE * 1.01) == "exploding"
    assert regime_of(REGIME_RATE * 0.99) == regime_of(-REGIME_RATE * 0.99) == "neither"
    assert regime_of(None) == "vanishing"  # exactly 0 from l = 1 on


@pytest.mark.parametrize("nonlinearity", ["identity", "relu"])
@pytest.mark.parametrize("scale", [0.9, 0.995, 1.0, 1.005, 1.03])
def test_regime_is_the_same_at_t_and_2t_for_the_same_rate(nonlinearity, scale):
    """Identity W_hh = scale I with an identity phi, or ReLU from zero inputs and h0 (a_t is
    the bias, then scale times the state plus the bias: a unit on stays on, and at least one
    is on): every step multiplies the gradient's norm by scale, so the profile is
    l log10(scale) and the rate log10(scale) exactly, at any length."""
    words = set()
    for t_len in (60, 120):
        r = gradient_flow(
            GradientFlowConfig(
                nonlinearity=nonlinearity,
                init="identity",
                scale=scale,
                seq_len=t_len,
                input="zeros",
                h0="random" if nonlinearity == "identity" else "zeros",
            )
        )
        rate = np.log10(scale)
        np.testing.assert_allclose(r.profile.spectral, np.arange(t_len + 1) * rate, atol=1e-9)
        assert r.summary.log10_rate_per_step == pytest.approx(rate, abs=1e-12)
        words.add(r.summary.regime)
    expected = "vanishing" if rate < -0.01 else "exploding" if rate > 0.01 else "neither"
    assert words == {expected}


def test_mean_top_slope_is_the_geometric_mean_of_each_steps_largest_slope():
    from bpttlab.engine.spectrum import BoundFactors

    slope = np.array([0.0, np.log10(0.5), np.log10(0.5) + np.log10(0.25)])
    b = BoundFactors(weight=np.zeros(3), slope=slope, median_slope=0.3)
    assert b.mean_top_slope == pytest.approx(np.sqrt(0.5 * 0.25), rel=1e-12)
    zero = BoundFactors(weight=np.zeros(3), slope=np.array([0.0, -np.inf, -np.inf]), median_slope=0)
    assert zero.mean_top_slope is None


def test_pascanu_bound_of_a_subnormal_spectral_norm_is_finite():
    """gamma * sigma_max underflows to 0 for sigma_max = 5e-324 (found by hypothesis): the
    bound is l (log10 gamma + log10 sigma_max), not -inf and not a warning."""
    from bpttlab.engine.spectrum import pascanu_log10_bound

    out = pascanu_log10_bound(0.25, 5e-324, 2)
    want = np.log10(0.25) + np.log10(5e-324)
    np.testing.assert_allclose(out, [0.0, want, 2 * want], rtol=1e-15)
