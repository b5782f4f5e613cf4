"""Products far below float64's squares: a norm of 1e-300 is not zero.

The sum of squares behind a Frobenius norm underflows to exactly 0 once the entries fall below
~1e-162, long before the entries themselves do. With W_hh = 1e-300 Q (Q orthogonal) and the
identity nonlinearity, dh_T/dh_(T-l) = (1e-300 Q)^l exactly, so the profile is -300 l
(spectral) and log10 sqrt(n) - 300 l (Frobenius), and dh_T/dx_(T-l) = (1e-300 Q)^l W_ih has the
singular values of W_ih times 1e-300^l: closed forms, on both the batched exact path (n <= 64)
and the Lanczos path.
"""

import numpy as np
import pytest

from bpttlab.engine import GradientFlowConfig, gradient_flow
from bpttlab.engine.gradient_flow import given_problem
from bpttlab.engine.init import haar_orthogonal


@pytest.mark.parametrize("n", [8, 70])
@pytest.mark.parametrize("ih_scale", [1.0, 1e-300])
def test_a_product_of_norm_1e_minus_300_per_step_is_exact_not_zero(n, ih_scale):
    config = GradientFlowConfig(nonlinearity="identity", hidden_size=n, seq_len=5)
    drawn = given_problem(config, {}).params
    tensors = {
        "weight_ih": ih_scale * drawn.weight_ih,
        "weight_hh": 1e-300 * haar_orthogonal(n, np.random.default_rng(1)),
        "bias_ih": drawn.bias_ih,
        "bias_hh": drawn.bias_hh,
    }
    r = gradient_flow(config, problem=given_problem(config, tensors))
    l = np.arange(6)
    np.testing.assert_allclose(r.profile.spectral, -300.0 * l, atol=1e-9)
    np.testing.assert_allclose(r.profile.frobenius, 0.5 * np.log10(n) - 300.0 * l, atol=1e-9)
    w_ih = tensors["weight_ih"]
    top = np.max(np.abs(w_ih))
    log_sigma = np.log10(top) + np.log10(np.linalg.svd(w_ih / top, compute_uv=False)[0])
    np.testing.assert_allclose(r.input_sensitivity.spectral, log_sigma - 300.0 * l[:5], atol=1e-9)


@pytest.mark.parametrize("n,method", [(2, "auto"), (2, "power"), (3, "exact")])
def test_subnormal_recurrent_weights_give_their_exact_norm_and_stay_under_the_bound(n, method):
    """A hypothesis example: scale 5e-324 makes W_hh's entries the smallest subnormal (a
    quantum of 4.9e-324). Folding 1/||P||_F = 1/sqrt(n) into such a factor rounded it away
    (the profile came out sqrt(2) too large, above Pascanu's bound); and sigma_max itself,
    as a subnormal float, is too coarse for the bound. Both now come from W_hh scaled by a
    power of 2. Reference: the SVD of W_hh scaled here, l * log10 ||W_hh||_2 for an identity
    RNN (phi' = 1)."""
    config = GradientFlowConfig(
        nonlinearity="identity", init="gaussian", scale=5e-324, hidden_size=n, seq_len=3
    )
    r = gradient_flow(config, method=method)
    w = r.problem.params.weight_hh
    assert 0.0 < np.max(np.abs(w)) < 1e-320
    e = int(np.frexp(np.max(np.abs(w)))[1])
    scaled = np.ldexp(w, -e)
    l = np.arange(4)
    p = np.eye(n)
    for k in range(1, 4):  # the exact products of the scaled matrix
        p = p @ scaled
        np.testing.assert_allclose(
            r.profile.spectral[k], k * e * np.log10(2) + np.log10(np.linalg.norm(p, 2)), atol=1e-9
        )
    b = r.bound_factors
    np.testing.assert_allclose(
        b.weight, l * (e * np.log10(2) + np.log10(np.linalg.norm(scaled, 2))), atol=1e-9
    )
    assert np.all(r.profile.spectral <= b.weight + b.slope + 1e-9)
